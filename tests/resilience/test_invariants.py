"""Each invariant checker of the resilience suite fails on a seeded violation (and passes without one)."""

from __future__ import annotations

import pytest
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import network_bridger as bridger
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.pvm import inventory
from tests.resilience.invariants import ChangeLogChecker

pytestmark = pytest.mark.integration


@pytest.fixture
def host(sim_host):
    return sim_host


def _bridge(adapter) -> pvm_net.NetBridge:
    return pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=adapter.sys_uuid)[0]


def _checker(sim, adapter) -> ChangeLogChecker:
    checker = ChangeLogChecker(sim.url)
    parts = [p.wrapper for p in inventory.partitions(adapter)]
    checker.snapshot(inventory.client_adapters(adapter), [_bridge(adapter)], parts)
    return checker


def _stopped(adapter) -> pvm_lpar.LPAR:
    return next(p for p in pvm_lpar.LPAR.get(adapter) if p.state != "running")


def test_safety_fails_when_the_vlan_of_a_stopped_partition_is_stripped(host):
    sim, adapter = host
    bridger.ensure_vlan_on_nb(adapter, adapter.sys_uuid, _bridge(adapter).uuid, 2201)
    pvm_cna.crt_cna(adapter, None, _stopped(adapter).uuid, 2201)
    checker = _checker(sim, adapter)
    assert checker.poll() == []
    bridger.remove_vlan_from_nb(adapter, adapter.sys_uuid, _bridge(adapter).uuid, 2201)
    violations = checker.poll()
    assert violations and {v.invariant for v in violations} == {"safety"}  # one per SEA of the pair
    assert "VLAN 2201" in violations[0].detail and "not running" in violations[0].detail
    assert checker.checks >= 1


def test_active_fails_when_a_port_is_active_before_its_vlan_is_on_every_sea(host):
    sim, adapter = host
    cna = pvm_cna.crt_cna(adapter, None, _stopped(adapter).uuid, 2202)
    checker = _checker(sim, adapter)
    early = checker.check_active("port-early", cna.uuid, 2202)
    assert [v.invariant for v in early] == ["active-early"] and "VLAN 2202" in early[0].detail
    bridger.ensure_vlan_on_nb(adapter, adapter.sys_uuid, _bridge(adapter).uuid, 2202)
    assert checker.check_active("port-early", cna.uuid, 2202) == []


def test_no_stale_fails_when_a_vlan_without_users_is_left(host):
    sim, adapter = host
    checker = _checker(sim, adapter)
    static = {b.uuid: frozenset(b.list_vlans()) for b in [_bridge(adapter)]}
    assert not any(checker.unused_vlans(static).values())
    bridger.ensure_vlan_on_nb(adapter, adapter.sys_uuid, _bridge(adapter).uuid, 2203)
    checker.poll()
    assert {2203} == set().union(*checker.unused_vlans(static).values())
