"""The SEA agent end to end: real neutron (API + RPC server, MariaDB, RabbitMQ), the agent as its
own process, and the simulator driven by pypowervm as the compute side will drive it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pypowervm.tasks import cna as pvm_cna
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.deploy.processes import AgentProcess, SimulatorProcess
from powervm_openstack.pvm import vif_event
from tests.fixtures.simulator import connect, disconnect

pytestmark = pytest.mark.integration

AGENT_TYPE = "PowerVM Shared Ethernet agent"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Host:
    """A simulated NovaLink host with its SEA agent, attached to a real neutron."""

    def __init__(self, neutron: Any, work_dir: Any, topology: str = "default", options: dict | None = None) -> None:
        self.neutron = neutron
        self.name = f"novalink-{uuid.uuid4().hex[:8]}"
        self.sim = SimulatorProcess(work_dir, "--topology", topology, name=f"sim-{self.name}").start()
        self.agent = AgentProcess(
            "powervm_openstack.network.agent.sea", work_dir, neutron.config_files, self.name,
            self.sim.rest_options(), options=options or {}, name=f"agent-{self.name}",
        ).start()  # fmt: skip
        self.pvm = connect(self.sim.url)

    def agent_record(self) -> dict | None:
        agents = self.neutron.get("/v2.0/agents", params={"host": self.name})["agents"]
        return next((a for a in agents if a["agent_type"] == AGENT_TYPE and a["alive"]), None)

    def lpar(self, name: str) -> pvm_lpar.LPAR:
        return next(p for p in pvm_lpar.LPAR.get(self.pvm) if p.name == name)

    def port(self, network_id: str, lpar: pvm_lpar.LPAR) -> dict:
        body = {"network_id": network_id, "binding:host_id": self.name, "device_owner": "compute:nova",
                "device_id": lpar.uuid}  # fmt: skip
        return self.neutron.post("/v2.0/ports", {"port": body})["port"]

    def plug(self, port: dict, lpar: pvm_lpar.LPAR) -> pvm_net.CNA:
        """What the compute driver does: the client adapter on the port's VLAN, then the event."""
        vlan = int(port["binding:vif_details"]["vlan"])
        adapter = pvm_cna.crt_cna(self.pvm, None, lpar.uuid, vlan, mac_addr=vif_event.pvm_mac(port["mac_address"]))
        vif_event.post(self.pvm, adapter.href, "plug", port["mac_address"], "pvm_sea")
        return adapter

    def unplug(self, port: dict, adapter: pvm_net.CNA) -> None:
        adapter.delete()
        vif_event.post(self.pvm, adapter.href, "unplug", port["mac_address"], "pvm_sea")

    def sea_vlans(self) -> list[set[int]]:
        """The VLANs each SEA of the (first) bridge carries."""
        bridge = pvm_net.NetBridge.get(self.pvm, parent_type="ManagedSystem", parent_uuid=self.pvm.sys_uuid)[0]
        return [{t.pvid if t is sea.primary_adpt else None for t in [sea.primary_adpt]} - {None}
                | {v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans} for sea in bridge.seas]  # fmt: skip

    def port_status(self, port: dict) -> str:
        return self.neutron.get(f"/v2.0/ports/{port['id']}")["port"]["status"]

    def close(self) -> None:
        disconnect(self.pvm)
        self.agent.stop()
        self.sim.stop()


@pytest.fixture(scope="module")
def neutron(neutron_server):
    return neutron_server(mechanism_drivers=("pvm_sea",))


@pytest.fixture
def host(neutron, service_run) -> Iterator[Host]:
    node = Host(neutron, service_run.work_dir / "sea-e2e")
    try:
        wait_for(node.agent_record, "the SEA agent to report alive", timeout=90)
        yield node
    finally:
        node.close()


def vlan_network(neutron: Any, vlan: int, physnet: str = "default") -> dict:
    body = {"name": f"vlan{vlan}", "provider:network_type": "vlan", "provider:physical_network": physnet,
            "provider:segmentation_id": vlan}  # fmt: skip
    net = neutron.post("/v2.0/networks", {"network": body})["network"]
    neutron.post(
        "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": f"10.{vlan % 250}.0.0/24", "ip_version": 4}}
    )
    return net


def test_vlan_follows_its_ports_on_both_seas(host):
    record = host.agent_record()
    assert set(record["configurations"]["bridge_mappings"]) == {"default"}
    net = vlan_network(host.neutron, 1100)
    web, batch = host.lpar("web-01"), host.lpar("aix-batch")
    first, second = host.port(net["id"], web), host.port(net["id"], batch)
    assert first["binding:vif_type"] == "pvm_sea" and first["binding:vif_details"]["vlan"] == "1100"

    adapters = [host.plug(first, web), host.plug(second, batch)]
    wait_for(lambda: host.port_status(first) == "ACTIVE" and host.port_status(second) == "ACTIVE", "ports ACTIVE")
    seas = host.sea_vlans()
    assert len(seas) == 2 and all(1100 in vlans for vlans in seas)

    host.unplug(first, adapters[0])
    wait_for(lambda: host.port_status(first) == "DOWN", "first port DOWN")
    assert all(1100 in vlans for vlans in host.sea_vlans()), "VLAN removed while another VM uses it"

    host.unplug(second, adapters[1])
    wait_for(lambda: all(1100 not in vlans for vlans in host.sea_vlans()), "VLAN 1100 removed from both SEAs")
    assert host.port_status(second) == "DOWN"
    assert wait_for(host.agent_record, "heartbeat")["configurations"]["devices"] >= 0


def test_vlan_used_outside_openstack_is_never_removed(host):
    # web-01 (not an OpenStack VM) already uses tagged VLAN 100 in the default topology.
    assert all(100 in vlans for vlans in host.sea_vlans())
    net = vlan_network(host.neutron, 100)
    port = host.port(net["id"], host.lpar("db-01"))
    adapter = host.plug(port, host.lpar("db-01"))
    wait_for(lambda: host.port_status(port) == "ACTIVE", "port ACTIVE")
    host.unplug(port, adapter)
    wait_for(lambda: host.port_status(port) == "DOWN", "port DOWN")
    time.sleep(2)
    assert all(100 in vlans for vlans in host.sea_vlans())
