"""The system under test for the resilience suite: real neutron, the SEA agent and the simulator,
each its own process, plus the pypowervm client and neutron REST calls that play nova's part.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import power as pvm_power
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.deploy.neutron_server import NeutronServer
from powervm_openstack.deploy.processes import AgentProcess, SimulatorProcess
from powervm_openstack.deploy.services import ServiceRun
from powervm_openstack.pvm import inventory, vif_event
from powervm_openstack.simulator.topology import loader as topology
from tests.fixtures.simulator import connect, disconnect

AGENT = "powervm_openstack.network.agent.sea"


def topology_file(work_dir: Path, vms: int) -> Path:
    """The default host plus ``vms`` powered-off client partitions that get RMC when started."""
    data = yaml.safe_load((Path(topology.TOPOLOGIES) / "default.yaml").read_text())
    first = max(p["id"] for p in data["lpars"]) + 1
    # Each VM reports an RMC address, so it has RMC once booted and takes adapters live (firmware
    # refuses a live add without RMC).
    data["lpars"] += [
        {
            "name": f"vm-{i:02d}",
            "id": first + i,
            "state": "not activated",
            "rmc_ip": f"192.168.{20 + i // 250}.{i % 250 + 2}",
        }
        for i in range(vms)
    ]
    path = work_dir / "resilience-host.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class World:
    """Start, break and repair the services; act as nova on the simulated host."""

    def __init__(
        self, neutron: NeutronServer, run: ServiceRun, vlans: list[int], vms: int, heal: int = 30, seed: int = 0
    ) -> None:
        self.neutron = neutron
        self.run = run
        self.work = run.work_dir / f"resilience-{uuid.uuid4().hex[:6]}"
        self.work.mkdir(parents=True)
        self.host = f"novalink-res-{uuid.uuid4().hex[:6]}"
        # A password that cannot appear in a log by accident: the suite greps every log for it.
        self.password = f"pw-{uuid.uuid4().hex}"
        topo = str(topology_file(self.work, vms))
        sim_args = ("--topology", topo, "--fault-seed", str(seed))
        self.sim = SimulatorProcess(self.work, *sim_args, name="sim", password=self.password).start()
        options = {"AGENT": {"heal_and_optimize_interval": str(heal), "exception_interval": "1"}}
        rest = dict(self.sim.rest_options(), retry_interval="1", timeout="30")
        self.agent = AgentProcess(AGENT, self.work, neutron.config_files, self.host, rest, options).start()
        self.pvm = connect(self.sim.url, timeout=30, password=self.password)
        self.networks = {vlan: self._network(vlan) for vlan in vlans}
        self.vms = [p for p in pvm_lpar.LPAR.get(self.pvm) if p.name.startswith("vm-")]

    # -- nova's part -----------------------------------------------------------------------
    def _network(self, vlan: int) -> str:
        body = {"name": f"res{vlan}", "provider:network_type": "vlan", "provider:physical_network": "default",
                "provider:segmentation_id": vlan}  # fmt: skip
        net = self.neutron.post("/v2.0/networks", {"network": body})["network"]
        subnet = {"network_id": net["id"], "cidr": f"10.{vlan // 250}.{vlan % 250}.0/24", "ip_version": 4}
        self.neutron.post("/v2.0/subnets", {"subnet": subnet})
        return net["id"]

    def create_port(self, vm: pvm_lpar.LPAR, vlan: int) -> dict:
        body = {"network_id": self.networks[vlan], "binding:host_id": self.host, "device_owner": "compute:nova",
                "device_id": vm.uuid}  # fmt: skip
        return self.neutron.post("/v2.0/ports", {"port": body})["port"]

    def create_adapter(self, vm: pvm_lpar.LPAR, port: dict, vlan: int) -> pvm_net.CNA:
        cna = pvm_cna.crt_cna(self.pvm, None, vm.uuid, vlan, mac_addr=vif_event.pvm_mac(port["mac_address"]))
        vif_event.post(self.pvm, cna.href, "plug", port["mac_address"], "pvm_sea")
        return cna

    def find_adapter(self, vm: pvm_lpar.LPAR, port: dict) -> pvm_net.CNA | None:
        """The VM's adapter with the port's MAC, if its creation was committed after all."""
        try:
            cnas = pvm_net.CNA.get(self.pvm, parent_type=pvm_lpar.LPAR, parent_uuid=vm.uuid)
        except pvm_exc.Error:
            return None
        mac = vif_event.pvm_mac(port["mac_address"]).upper()
        return next((c for c in cnas if c.mac.upper() == mac), None)

    def port_statuses(self) -> dict[str, str]:
        """Status of every port bound to this host, by port id (one neutron call)."""
        ports = self.neutron.get("/v2.0/ports", params={"binding:host_id": self.host, "fields": ["id", "status"]})
        return {p["id"]: p["status"] for p in ports["ports"]}

    def duplicates(self) -> list[str]:
        """Two trunks of one SEA carrying the same VLAN, or two client adapters with one MAC."""
        found = []
        for bridge in self.bridges():
            for sea in bridge.seas:
                seen: dict[int, int] = {}
                for trunk in [sea.primary_adpt, *sea.addl_adpts]:
                    for vlan in {trunk.pvid, *trunk.tagged_vlans}:
                        seen[vlan] = seen.get(vlan, 0) + 1
                found += [f"VLAN {v} on {n} trunks of SEA {sea.dev_name}" for v, n in seen.items() if n > 1]
        macs: dict[str, int] = {}
        for cna in self.adapters():
            macs[cna.mac] = macs.get(cna.mac, 0) + 1
        found += [f"MAC {mac} on {n} client adapters" for mac, n in macs.items() if n > 1]
        return found

    def remove_adapter(self, port: dict, cna: pvm_net.CNA) -> None:
        with contextlib.suppress(pvm_exc.HttpNotFound):
            cna.delete()
        vif_event.post(self.pvm, cna.href, "unplug", port["mac_address"], "pvm_sea")

    def port_status(self, port_id: str) -> str | None:
        try:
            return self.neutron.get(f"/v2.0/ports/{port_id}")["port"]["status"]
        except Exception:  # the port may be gone; the caller decides
            return None

    def power(self, vm: pvm_lpar.LPAR, on: bool) -> None:
        current = pvm_lpar.LPAR.get(self.pvm, uuid=vm.uuid)
        if on:
            pvm_power.power_on(current, None)
        else:
            pvm_power.power_off(current, None, force_immediate=pvm_power.Force.TRUE)

    # -- what PowerVM has --------------------------------------------------------------------
    def bridges(self) -> list[pvm_net.NetBridge]:
        return pvm_net.NetBridge.get(self.pvm, parent_type=pvm_ms.System, parent_uuid=self.pvm.sys_uuid)

    def sea_vlans(self) -> list[set[int]]:
        return [
            {sea.pvid, *(v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans)}
            for bridge in self.bridges()
            for sea in bridge.seas
        ]

    def adapters(self) -> list[inventory.ClientAdapter]:
        return inventory.client_adapters(self.pvm)

    def partitions(self) -> list[Any]:
        return [p.wrapper for p in inventory.partitions(self.pvm)]

    # -- breaking and repairing ------------------------------------------------------------
    def restart_simulator(self) -> None:
        self.sim.kill()
        time.sleep(0.2)
        self.sim.start()

    def restart_agent(self) -> None:
        self.agent.kill()
        self.agent.start()

    def heal_count(self) -> int:
        return self.agent.log_path.read_text(errors="replace").count("Heal done:")

    def logs(self) -> list[Path]:
        return [self.sim.log_path, self.agent.log_path, *self.neutron.log_files.values()]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            disconnect(self.pvm)
        self.agent.stop()
        self.sim.stop()
