"""The network-only demo (``./run demo --network-only``): a simulated PowerVM host, real neutron, the SEA agent.

1. start the NovaLink simulator on a realistic host (two VIOSes, a failover SEA pair) and read it
   with pypowervm, as any PowerVM client would;
2. start a real neutron 29 (API under gunicorn + RPC server, on MariaDB and RabbitMQ) with the
   ``pvm_sea`` mechanism driver, and the SEA agent as its own process on the "NovaLink partition";
3. create a VLAN network and ports for two VMs, plug them the way the compute driver does (a client
   adapter on the VLAN, then the plug notification), and show the ports ACTIVE and the VLAN on both
   SEAs;
4. unplug them, show the VLAN cleaned up and the ports DOWN; stop everything.
Every service uses private names (database, vhost, ports), so the demo never disturbs anything else.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

# A dependency (futurist) probes whether eventlet is installed, which prints a deprecation notice;
# nothing here uses eventlet, so keep the demo's output to what the demo does.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from pypowervm import adapter as pvm_adapter  # noqa: E402
from pypowervm import const as pvm_const  # noqa: E402
from pypowervm.tasks import cna as pvm_cna  # noqa: E402
from pypowervm.wrappers import logical_partition as pvm_lpar  # noqa: E402
from pypowervm.wrappers import managed_system as pvm_ms  # noqa: E402
from pypowervm.wrappers import network as pvm_net  # noqa: E402
from pypowervm.wrappers import virtual_io_server as pvm_vios  # noqa: E402

from powervm_openstack.deploy.neutron_server import NeutronServer  # noqa: E402
from powervm_openstack.deploy.processes import SIM_PASSWORD, SIM_USER, AgentProcess, SimulatorProcess  # noqa: E402
from powervm_openstack.deploy.services import ServiceRun  # noqa: E402
from powervm_openstack.pvm import vif_event  # noqa: E402

AGENT = "powervm_openstack.network.agent.sea"
HOST = "novalink-demo"
VLAN = 1234


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def say(text: str) -> None:
    print(f"   {text}", flush=True)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def connect(sim: SimulatorProcess) -> pvm_adapter.Adapter:
    session = pvm_adapter.Session(host="127.0.0.1", port=sim.port, protocol="http",
                                  username=SIM_USER, password=SIM_PASSWORD, timeout=60)  # fmt: skip
    return pvm_adapter.Adapter(session)


def bridge_vlans(pvm: pvm_adapter.Adapter) -> list[tuple[str, list[int]]]:
    """``[(SEA@VIOS, VLANs)]`` for every SEA of the host's bridges, read from the VIOS documents."""
    rows = []
    for vios in pvm_vios.VIOS.get(pvm, xag=[pvm_const.XAG.VIO_NET]):
        for sea in vios.seas:
            vlans = {sea.primary_adpt.pvid, *(v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans)}
            rows.append((f"{sea.dev_name}@{vios.name}", sorted(vlans)))
    return rows


def show_host(pvm: pvm_adapter.Adapter) -> None:
    system = pvm_ms.System.get(pvm)[0]
    say(f"managed system {system.system_name} ({system.mtms.mtms_str}), {system.memory_total} MB")
    for part in pvm_lpar.LPAR.get(pvm):
        say(
            f"partition {part.name:<20} id {part.id:<3} {part.state}{'  (management)' if part.is_mgmt_partition else ''}"
        )
    for vios in pvm_vios.VIOS.get(pvm):
        say(f"VIOS      {vios.name:<20} id {vios.id:<3} {vios.state}, RMC {vios.rmc_state}")
    for bridge in pvm_net.NetBridge.get(pvm, parent_type=pvm_ms.System, parent_uuid=pvm.sys_uuid):
        mode = "failover pair" if len(bridge.seas) > 1 else "single SEA"
        say(f"network bridge {bridge.uuid}: PVID {bridge.pvid}, {mode}, VLANs {bridge.list_vlans()}")


def show_vlans(pvm: pvm_adapter.Adapter) -> None:
    for sea, vlans in bridge_vlans(pvm):
        say(f"SEA {sea:<12} carries VLANs {vlans}")


def port_status(neutron: NeutronServer, port: dict) -> str:
    return neutron.get(f"/v2.0/ports/{port['id']}")["port"]["status"]


def run_demo(work_root: Path) -> None:
    services = ServiceRun(work_root)
    sim = agent = pvm = None
    try:
        step("1. NovaLink simulator on a realistic host, read with pypowervm")
        sim = SimulatorProcess(services.work_dir, "--topology", "default").start()
        pvm = connect(sim)
        say(f"simulator at {sim.url} (log {sim.log_path})")
        show_host(pvm)

        step("2. Real neutron 29 (API + RPC server, MariaDB, RabbitMQ) with pvm_sea, and the SEA agent")
        neutron = services.neutron_server(mechanism_drivers=("pvm_sea",))
        say(f"neutron API at {neutron.url} (logs in {neutron.work_dir / 'log'})")
        agent = AgentProcess(AGENT, services.work_dir, neutron.config_files, HOST, sim.rest_options()).start()
        record = wait_for(lambda: _alive_agent(neutron), "the SEA agent to report to neutron")
        say(f"agent {record['binary']} on {record['host']} alive, bridge_mappings "
            f"{record['configurations']['bridge_mappings']} (log {agent.log_path})")  # fmt: skip

        step(f"3. A VLAN {VLAN} network and two VM ports, plugged as the compute driver does")
        net = neutron.post("/v2.0/networks", {"network": {"name": "demo", "provider:network_type": "vlan",
                           "provider:physical_network": "default", "provider:segmentation_id": VLAN}})["network"]  # fmt: skip
        neutron.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.12.34.0/24", "ip_version": 4}})
        vms = [p for p in pvm_lpar.LPAR.get(pvm) if not p.is_mgmt_partition][:2]
        plugged = []
        for vm in vms:
            port = neutron.post("/v2.0/ports", {"port": {"network_id": net["id"], "binding:host_id": HOST,
                                "device_owner": "compute:nova", "device_id": vm.uuid}})["port"]  # fmt: skip
            say(f"port {port['id']} for {vm.name}: vif_type {port['binding:vif_type']}, "
                f"VLAN {port['binding:vif_details']['vlan']}")  # fmt: skip
            cna = pvm_cna.crt_cna(pvm, None, vm.uuid, VLAN, mac_addr=vif_event.pvm_mac(port["mac_address"]))
            vif_event.post(pvm, cna.href, "plug", port["mac_address"], "pvm_sea")
            say(f"client adapter {cna.loc_code} (MAC {cna.mac}) created on {vm.name}, plug event posted")
            plugged.append((port, cna, vm))
        wait_for(lambda: all(port_status(neutron, p) == "ACTIVE" for p, _, _ in plugged), "ports ACTIVE")
        for port, _, vm in plugged:
            say(f"port {port['id']} ({vm.name}) is {port_status(neutron, port)}")
        show_vlans(pvm)

        step("4. Unplug both VMs: ports DOWN, VLAN cleaned up from both SEAs")
        for port, cna, vm in plugged:
            cna.delete()
            vif_event.post(pvm, cna.href, "unplug", port["mac_address"], "pvm_sea")
            say(f"client adapter of {vm.name} deleted, unplug event posted")
        wait_for(lambda: all(VLAN not in vlans for _, vlans in bridge_vlans(pvm)), f"VLAN {VLAN} removed")
        wait_for(lambda: all(port_status(neutron, p) == "DOWN" for p, _, _ in plugged), "ports DOWN")
        for port, _, vm in plugged:
            say(f"port {port['id']} ({vm.name}) is {port_status(neutron, port)}")
        show_vlans(pvm)
        step("Demo finished: stopping the agent, neutron and the simulator")
    finally:
        _stop(pvm, agent, sim, services)


def _alive_agent(neutron: NeutronServer) -> dict | None:
    agents = neutron.get("/v2.0/agents", params={"host": HOST})["agents"]
    return next((a for a in agents if a["alive"]), None)


def _stop(pvm: pvm_adapter.Adapter | None, agent: AgentProcess | None, sim: SimulatorProcess | None,
          services: ServiceRun) -> None:  # fmt: skip
    if pvm is not None:
        pvm.session._logoff()  # while the simulator still answers
    for proc in (agent, sim):
        if proc is not None:
            proc.stop()
    services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", default=".work/demo", help="where logs and configuration go")
    args = parser.parse_args(argv)
    try:
        run_demo(Path(args.work_dir).resolve())
    except (TimeoutError, RuntimeError) as exc:
        print(f"\nDemo FAILED: {exc}\nLogs are under {args.work_dir}.", file=sys.stderr)
        return 1
    print("\nDemo OK.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
