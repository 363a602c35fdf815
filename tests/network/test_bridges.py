"""bridge_mappings parsing and resolution, and the planner's view of real bridge documents."""

from __future__ import annotations

import pytest
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import bridges, vlan_plan
from powervm_openstack.network.exceptions import BridgeMappingError
from powervm_openstack.simulator.topology import loader as topology
from tests.fixtures.wrappers import FakeAdapter


def _host(name: str) -> tuple[list[pvm_net.NetBridge], list[pvm_vios.VIOS]]:
    adapter = FakeAdapter(topology.load(name))
    found = pvm_net.NetBridge.wrap(adapter.feed("NetworkBridge"))
    vioses = pvm_vios.VIOS.wrap(adapter.feed("VirtualIOServer"))
    return found, vioses


def test_parse_keeps_networking_powervm_format():
    entries = bridges.parse_mappings(" default:ent5:vios1 , prod:ent9:vios2,")
    assert [(e.physnet, e.sea, e.vios) for e in entries] == [("default", "ent5", "vios1"), ("prod", "ent9", "vios2")]
    assert bridges.parse_mappings("") == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("default:ent5", "'default:ent5' is malformed"),
        ("default::vios1", "'default::vios1' is malformed"),
        ("a:ent5:vios1,a:ent9:vios1", "maps physical network 'a' more than once"),
    ],
)
def test_parse_refuses_malformed_entries(value, message):
    with pytest.raises(BridgeMappingError, match=message):
        bridges.parse_mappings(value)


def test_empty_mapping_serves_default_with_a_single_bridge():
    found, vioses = _host("default")
    assert bridges.resolve_mappings([], found, vioses) == {"default": found[0].uuid}


def test_empty_mapping_with_two_bridges_names_them():
    found, vioses = _host("two-bridges")
    with pytest.raises(
        BridgeMappingError, match=r"2 network bridges \(ent5@vios1\+ent5@vios2, ent9@vios1\+ent9@vios2\)"
    ):
        bridges.resolve_mappings([], found, vioses)


def test_either_sea_of_a_pair_names_the_bridge():
    found, vioses = _host("default")
    for vios in ("vios1", "vios2"):
        entries = bridges.parse_mappings(f"default:ent5:{vios}")
        assert bridges.resolve_mappings(entries, found, vioses) == {"default": found[0].uuid}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("default:ent5:vios9", r"VIOS 'vios9' .* the VIOSes on this host are: vios1, vios2\."),
        ("default:ent7:vios1", r"SEA 'ent7' on VIOS 'vios1' .* the SEAs on that VIOS are: ent5\."),
    ],
)
def test_unknown_vios_or_sea_is_named(value, message):
    found, vioses = _host("default")
    with pytest.raises(BridgeMappingError, match=message):
        bridges.resolve_mappings(bridges.parse_mappings(value), found, vioses)


def test_no_bridge_at_all():
    with pytest.raises(BridgeMappingError, match="no network bridge"):
        bridges.resolve_mappings([], [], [])


def test_state_of_a_failover_pair_mirrors_trunks():
    (bridge,), _ = _host("default")
    state = bridges.state_of(bridge)
    assert state.pvid == 1 and len(state.seas) == 2
    assert vlan_plan.bridge_vlans(state) == {1, 100, 200}
    assert [t.pvid for t in state.seas[0].trunks] == [t.pvid for t in state.seas[1].trunks]


def test_orphan_vlans_come_from_trunks_outside_any_sea():
    found, _ = _host("two-bridges")
    adapter = FakeAdapter(topology.load("two-bridges"))
    vioses = pvm_vios.VIOS.wrap(adapter.feed("VirtualIOServer"))
    default = next(b for b in found if int(b.vswitch_id) == 0)
    prod = next(b for b in found if int(b.vswitch_id) != 0)
    assert bridges.orphan_vlans(default, vioses) == {3000}
    assert bridges.orphan_vlans(prod, vioses) == set()
