"""Cleanup by the SEA agent: stale VLANs go a few per update, and plugs are served in between."""

from __future__ import annotations

import pytest
import requests
from pypowervm.tasks import network_bridger as bridger
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.simulator.state import xml
from tests.fixtures.agents import StubNeutron, sea_agent
from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration

STALE = list(range(2000, 2024))  # nobody uses these


def _bridge_changes(url: str, since: int) -> list[set[int]]:
    """The VLANs of the first SEA after each bridge change, in order."""
    changes = requests.get(f"{url}/sim/changes", params={"since": since}, timeout=10).json()
    found = []
    for change in changes:
        if change["kind"] == "NetworkBridge" and change["body"]:
            sea = xml.findall(xml.parse(change["body"]), "SharedEthernetAdapters/SharedEthernetAdapter")[0]
            found.append(
                {
                    v
                    for t in xml.findall(sea, "TrunkAdapters/TrunkAdapter")
                    for v in xml.vlan_list(xml.text(t, "TaggedVLANIDs"))
                }
            )
    return found


def test_heal_removes_stale_vlans_a_few_at_a_time_and_serves_plugs_in_between():
    with running_simulator() as sim:
        adapter = connect(sim)
        try:
            bridge = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            bridger.ensure_vlans_on_nb(adapter, adapter.sys_uuid, bridge.uuid, STALE)
            neutron = StubNeutron()
            agent = sea_agent(adapter, neutron, max_vlan_removals_per_update=5)
            since = requests.get(f"{sim.url}/sim/health", timeout=10).json()["last_change"]
            neutron.ports["fa:16:3e:00:30:01"] = 3001
            agent.pending.port("fa:16:3e:00:30:01", "plug")  # a deploy arrives as the heal starts
            agent.heal("test")
            after = _bridge_changes(sim.url, since)
            removed_per_update = [len(a - b) for a, b in zip([set(STALE) | {100, 200}, *after], after, strict=False)]
            assert max(removed_per_update) <= 5
            plugged_at = next(i for i, vlans in enumerate(after) if 3001 in vlans)
            assert plugged_at < len(after) - 1, "the plug waited for the whole cleanup"
            assert set(neutron.up) == {"fa:16:3e:00:30:01"}
            final = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            assert not set(STALE) & set(final.list_vlans())
            assert 100 in final.list_vlans()  # web-01 (not OpenStack) uses it
        finally:
            disconnect(adapter)


def test_an_adapter_made_after_the_heal_scan_keeps_its_vlan():
    """Nova creates a VM's adapter on a stale VLAN while a heal runs: the removal re-checks first."""
    from pypowervm.tasks import cna as pvm_cna
    from pypowervm.wrappers import logical_partition as pvm_lpar

    with running_simulator() as sim:
        adapter = connect(sim)
        try:
            bridge = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            bridger.ensure_vlans_on_nb(adapter, adapter.sys_uuid, bridge.uuid, [2101])
            stopped = next(p for p in pvm_lpar.LPAR.get(adapter) if p.state != "running")
            agent = sea_agent(adapter, StubNeutron())
            real_scan, made = agent.view.cold_scan, []

            def scan_then_nova_creates_an_adapter():  # noqa: ANN202
                missed = real_scan()
                if not made:  # right after the heal's scan, before its cleanup
                    made.append(pvm_cna.crt_cna(adapter, None, stopped.uuid, 2101))
                return missed

            agent.view.cold_scan = scan_then_nova_creates_an_adapter
            agent.heal("test")
            final = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            assert made and 2101 in final.list_vlans(), "the VLAN of a new adapter was removed"
            made[0].delete()
            agent.heal("test")  # once its last user is gone, it goes
            final = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            assert 2101 not in final.list_vlans()
        finally:
            disconnect(adapter)
