"""pypowervm's own tasks against the simulator on realistic hosts (the default topology's failover
SEA pair, two bridges, peers on one vswitch): a sample of the scenarios pypowervm's
network_bridger tests cover, plus client adapters, power jobs and the event listener.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from pypowervm import adapter as pvm_adapter
from pypowervm import const as pvm_const
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import network_bridger as bridger
from pypowervm.tasks import partition as pvm_partition
from pypowervm.tasks import power as pvm_power
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.topology import loader as topology
from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration


def _records(name: str, change=None) -> list:  # noqa: ANN001 - a small test hook
    data = yaml.safe_load((Path(topology.TOPOLOGIES) / f"{name}.yaml").read_text())
    if change:
        change(data)
    return topology.records(topology.parse(data))


@pytest.fixture
def host(request):
    records = _records(getattr(request, "param", "default"))
    with running_simulator(records) as sim:
        adapter = connect(sim)
        try:
            yield adapter
        finally:
            disconnect(adapter)


def bridges(adapter: pvm_adapter.Adapter) -> list[pvm_net.NetBridge]:
    return pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=adapter.sys_uuid)


def sea_vlans(sea: pvm_net.SEA) -> set[int]:
    return {v for trunk in [sea.primary_adpt, *sea.addl_adpts] for v in trunk.tagged_vlans}


def vios_sea_vlans(adapter: pvm_adapter.Adapter) -> dict[str, set[int]]:
    """VLANs of each VIOS's SEAs, read from the VIOS documents (not the bridge)."""
    vioses = pvm_vios.VIOS.get(adapter, xag=[pvm_const.XAG.VIO_NET])
    return {v.name: set().union(*(sea_vlans(s) for s in v.seas)) for v in vioses if v.seas}


def test_wrappers_read_the_topology(host):
    system = pvm_ms.System.get(host)[0]
    assert system.system_name == "Server-9009-22A-SN7831C1A" or system.system_name.startswith("Server-")
    vioses = pvm_vios.VIOS.get(host, xag=[pvm_const.XAG.VIO_NET, pvm_const.XAG.VIO_STOR])
    assert sorted(v.name for v in vioses) == ["vios1", "vios2"]
    assert all(v.rmc_state == "active" and v.state == "running" for v in vioses)
    assert all(len(v.seas) == 1 and v.seas[0].dev_name == "ent5" for v in vioses)
    (bridge,) = bridges(host)
    assert len(bridge.seas) == 2 and bridge.pvid == 1 and bridge.list_vlans() == [1, 100, 200]
    switches = {vs.name for vs in pvm_net.VSwitch.get(host, parent_type=pvm_ms.System, parent_uuid=host.sys_uuid)}
    assert {"ETHERNET0", "MGMTSWITCH", "NovaLinkVEABridge"} <= switches
    mgmt = pvm_partition.get_mgmt_partition(host)
    assert mgmt.is_mgmt_partition and mgmt.name.startswith("novalink")
    assert len(pvm_partition.get_active_vioses(host)) == 2


def test_ensure_and_remove_vlans_reach_both_seas_and_both_vioses(host):
    bridge = bridges(host)[0]
    bridger.ensure_vlans_on_nb(host, host.sys_uuid, bridge.uuid, [300, 301])
    assert all({300, 301} <= sea_vlans(sea) for sea in bridges(host)[0].seas)
    assert all({300, 301} <= vlans for vlans in vios_sea_vlans(host).values())
    bridger.remove_vlan_from_nb(host, host.sys_uuid, bridge.uuid, 300)
    assert all(300 not in sea_vlans(sea) and 301 in sea_vlans(sea) for sea in bridges(host)[0].seas)
    assert all(300 not in vlans for vlans in vios_sea_vlans(host).values())


def test_a_full_trunk_gets_a_new_trunk_on_every_sea(host):
    bridge = bridges(host)[0]
    bridger.ensure_vlans_on_nb(host, host.sys_uuid, bridge.uuid, list(range(2000, 2030)))
    after = bridges(host)[0]
    for sea in after.seas:
        assert len(sea.addl_adpts) == 2 and all(len(t.tagged_vlans) <= 20 for t in sea.addl_adpts)
        assert set(range(2000, 2030)) <= sea_vlans(sea)
    assert [t.pvid for t in after.seas[0].addl_adpts] == [t.pvid for t in after.seas[1].addl_adpts]
    # The VIOS documents list the new trunks, so pypowervm does not take them for orphans.
    bridger.ensure_vlan_on_nb(host, host.sys_uuid, bridge.uuid, 2100)
    assert 2100 in bridges(host)[0].list_vlans()


def test_vlan_already_present_changes_nothing(host):
    bridge = bridges(host)[0]
    bridger.ensure_vlan_on_nb(host, host.sys_uuid, bridge.uuid, 100)
    assert bridges(host)[0].etag == bridge.etag


def test_removing_the_pvid_fails_when_asked_to(host):
    bridge = bridges(host)[0]
    with pytest.raises(pvm_exc.PvidOfNetworkBridgeError):
        bridger.remove_vlan_from_nb(host, host.sys_uuid, bridge.uuid, 1, fail_if_pvid=True)


@pytest.mark.parametrize("host", ["two-bridges"], indirect=True)
def test_orphan_vlan_is_refused_and_two_bridges_are_independent(host):
    default, prod = sorted(bridges(host), key=lambda b: b.vswitch_id)
    with pytest.raises(pvm_exc.OrphanVLANFoundOnProvision):
        bridger.ensure_vlan_on_nb(host, host.sys_uuid, default.uuid, 3000)
    bridger.ensure_vlan_on_nb(host, host.sys_uuid, prod.uuid, 1000)  # same id, other vswitch
    assert 1000 in bridges(host)[0].list_vlans() and 1000 in bridges(host)[1].list_vlans()


def _peers(data: dict) -> None:
    data["network_bridges"][1].update(vswitch="ETHERNET0", pvid=2828)
    for trunk, pvid in zip(data["network_bridges"][1]["additional_trunks"], (4090, 4089), strict=True):
        trunk["pvid"] = pvid
    data["vioses"][1].pop("orphan_trunks")


def test_a_vlan_moves_between_peer_bridges_on_one_vswitch():
    with running_simulator(_records("two-bridges", _peers)) as sim:
        adapter = connect(sim)
        try:
            first, second = sorted(bridges(adapter), key=lambda b: b.pvid)
            assert 1000 in first.list_vlans()
            bridger.ensure_vlan_on_nb(adapter, adapter.sys_uuid, second.uuid, 1000)
            first, second = sorted(bridges(adapter), key=lambda b: b.pvid)
            assert 1000 in second.list_vlans() and 1000 not in first.list_vlans()
        finally:
            disconnect(adapter)


def test_client_adapter_power_and_events(host):
    events: list[dict] = []

    class Handler(pvm_adapter.RawEventHandler):
        def process(self, batch: list[dict]) -> None:
            events.extend(batch)

    host.session.get_event_listener().subscribe(Handler())
    lpar = next(p for p in pvm_lpar.LPAR.get(host) if p.name == "db-01")
    adapter = pvm_cna.crt_cna(host, None, lpar.uuid, 300, mac_addr="FA163E000001")
    assert (adapter.pvid, adapter.mac, adapter.vswitch_id) == (300, "FA163E000001", 0)
    assert adapter.uuid in [c.uuid for c in pvm_net.CNA.get(host, parent=lpar)]
    pvm_power.power_on(lpar, None)
    assert pvm_lpar.LPAR.get(host, uuid=lpar.uuid).state == "running"
    bridger.ensure_vlan_on_nb(host, host.sys_uuid, bridges(host)[0].uuid, 300)
    pvm_power.power_off(pvm_lpar.LPAR.get(host, uuid=lpar.uuid), None, force_immediate=pvm_power.Force.TRUE)
    assert pvm_lpar.LPAR.get(host, uuid=lpar.uuid).state == "not activated"
    deadline = time.monotonic() + 10
    wanted = {("ADD_URI", adapter.uuid), ("MODIFY_URI", lpar.uuid), ("MODIFY_URI", bridges(host)[0].uuid)}
    while time.monotonic() < deadline and not wanted <= {
        (e["EventType"], e["EventData"].rsplit("/", 1)[-1]) for e in events
    }:
        time.sleep(0.1)
    assert wanted <= {(e["EventType"], e["EventData"].rsplit("/", 1)[-1]) for e in events}
