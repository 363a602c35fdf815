"""The SEA agent end to end: real neutron (API + RPC server, MariaDB, RabbitMQ), the agent as its
own process, and the simulator driven by pypowervm as the compute side will drive it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pypowervm.tasks import cna as pvm_cna
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.deploy.processes import AgentProcess, SimulatorProcess
from powervm_openstack.pvm import vif_event
from tests.fixtures.hosts import AgentHost
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration

AGENT_TYPE = "PowerVM Shared Ethernet agent"


class Host(AgentHost):
    """A simulated NovaLink host with its SEA agent, attached to a real neutron."""

    agent_module = "powervm_openstack.network.agent.sea"
    agent_type = AGENT_TYPE

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


@pytest.fixture(scope="module")
def neutron(neutron_server):
    vlan_ranges = {"ml2_type_vlan": {"network_vlan_ranges": "default:1:4094,prod:1:4094"}}
    return neutron_server(mechanism_drivers=("pvm_sea",), extra_ml2=vlan_ranges)


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
    # web-01 runs with RMC (a live add); db-01 is stopped (an offline add). aix-batch runs without
    # RMC, so the simulator refuses adding an adapter to it, as firmware does.
    web, batch = host.lpar("web-01"), host.lpar("db-01")
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


def bridge_vlans_by_switch(host: Host) -> dict[int, set[int]]:
    found = pvm_net.NetBridge.get(host.pvm, parent_type="ManagedSystem", parent_uuid=host.pvm.sys_uuid)
    return {int(b.vswitch_id): set(b.list_vlans()) for b in found}


def test_two_physical_networks_on_two_bridges(neutron, service_run):
    mappings = {"AGENT": {"bridge_mappings": "default:ent5:vios1,prod:ent9:vios1"}}
    host = Host(neutron, service_run.work_dir / "sea-two", topology="two-bridges", options=mappings)
    try:
        record = wait_for(host.agent_record, "the SEA agent to report alive", timeout=90)
        assert set(record["configurations"]["bridge_mappings"]) == {"default", "prod"}
        default_net, prod_net = vlan_network(neutron, 1300, "default"), vlan_network(neutron, 1301, "prod")
        web = host.lpar("app-default-01")
        ports = [host.port(default_net["id"], web), host.port(prod_net["id"], web)]
        for port in ports:
            host.plug(port, web)
        wait_for(lambda: all(host.port_status(p) == "ACTIVE" for p in ports), "both ports ACTIVE")
        by_switch = bridge_vlans_by_switch(host)
        assert 1300 in by_switch[0] and 1300 not in by_switch[3]
        assert 1301 in by_switch[3] and 1301 not in by_switch[0]
    finally:
        host.close()


def test_a_refused_vlan_does_not_block_the_others(neutron, service_run):
    # two-bridges: vios2 has a trunk outside any SEA carrying VLAN 3000 (an "orphan").
    host = Host(neutron, service_run.work_dir / "sea-orphan", topology="two-bridges",
                options={"AGENT": {"bridge_mappings": "default:ent5:vios1,prod:ent9:vios1"}})  # fmt: skip
    try:
        wait_for(host.agent_record, "the SEA agent to report alive", timeout=90)
        orphan_net, good_net = vlan_network(neutron, 3000), vlan_network(neutron, 1302)
        web = host.lpar("app-default-01")
        bad, good = host.port(orphan_net["id"], web), host.port(good_net["id"], web)
        host.plug(bad, web)
        host.plug(good, web)
        wait_for(lambda: host.port_status(good) == "ACTIVE", "the good port ACTIVE")
        assert host.port_status(bad) != "ACTIVE"
        assert 3000 not in bridge_vlans_by_switch(host)[0]
        wait_for(lambda: "VLAN 3000 cannot go on bridge" in host.agent.log_path.read_text(), "the refusal logged")
    finally:
        host.close()


def test_agent_killed_mid_batch_converges_after_restart(host):
    net = vlan_network(host.neutron, 1400)
    vms = [host.lpar(name) for name in ("web-01", "db-01", "web-01")]  # not aix-batch: it has no RMC
    ports = [host.port(net["id"], vm) for vm in vms]
    host.plug(ports[0], vms[0])
    host.agent.kill()
    for port, vm in zip(ports[1:], vms[1:], strict=True):
        host.plug(port, vm)  # the agent is down: these events are only in the simulator's feed
    host.agent.start()
    wait_for(lambda: all(host.port_status(p) == "ACTIVE" for p in ports), "all ports ACTIVE after restart", timeout=90)
    assert all(1400 in vlans for vlans in host.sea_vlans())


def test_bad_bridge_mappings_stop_the_agent_with_a_clear_error(neutron, service_run):
    work = service_run.work_dir / "sea-badmap"
    sim = SimulatorProcess(work, "--topology", "default", name="sim-badmap").start()
    try:
        for mapping, message in [
            ("default:ent5", "is malformed: expected <physical network>:<SEA device>:<VIOS name>"),
            ("default:ent5:vios9", "names VIOS 'vios9' for physical network 'default'; the VIOSes on this host are: vios1, vios2"),
            ("default:ent7:vios1", "names SEA 'ent7' on VIOS 'vios1'"),
        ]:  # fmt: skip
            agent = AgentProcess("powervm_openstack.network.agent.sea", work, neutron.config_files, "badmap",
                                 sim.rest_options(), options={"AGENT": {"bridge_mappings": mapping}}).start()  # fmt: skip
            assert agent.child.popen.wait(timeout=60) == 2
            assert message in agent.log_path.read_text()
    finally:
        sim.stop()


def test_agent_waits_for_the_rest_api(neutron, service_run):
    work = service_run.work_dir / "sea-late"
    sim = SimulatorProcess(work, "--topology", "default", name="sim-late")
    rest = dict(sim.rest_options(), retry_interval="1")
    agent = AgentProcess("powervm_openstack.network.agent.sea", work, neutron.config_files, "late-host", rest).start()
    try:
        wait_for(lambda: "(attempt 2); next attempt in 1s" in agent.log_path.read_text(), "the agent to report waiting")
        assert agent.alive()
        sim.start()
        agents = lambda: neutron.get("/v2.0/agents", params={"host": "late-host"})["agents"]  # noqa: E731
        wait_for(lambda: any(a["alive"] for a in agents()), "the agent alive once the REST API is up", timeout=90)
    finally:
        agent.stop()
        sim.stop()
