"""A partition deleted outside OpenStack: its VLANs come off the bridge at its delete event, not at the next heal.

Through the simulator over HTTP with the agent's pypowervm event listener subscribed; the same safety
as a heal: a VLAN another partition's adapter still uses, or one kept for a port bound here and not
plugged yet, stays.
"""

from __future__ import annotations

import logging
import time

import pytest
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import network_bridger as bridger
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.network.agent import base as agent_base
from tests.fixtures.agents import StubNeutron, sea_agent
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration

OURS, SHARED, KEPT = 2300, 2301, 2302  # an OpenStack port's; also used elsewhere; bound here, not plugged
MAC = "fa:16:3e:00:23:00"


def _vlans(adapter) -> set[int]:  # noqa: ANN001
    return set(
        pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0].list_vlans()
    )


def _serve_until(agent, done, timeout: float = 15.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        agent.run_once(timeout=0.2)
        if done():
            return True
    return False


def test_a_partition_deleted_outside_openstack_has_its_unused_vlans_removed_at_once(caplog):
    caplog.set_level(logging.INFO, logger="powervm_openstack.network.agent")
    with running_simulator() as sim:
        adapter = connect(sim)
        try:
            neutron = StubNeutron()
            agent = sea_agent(adapter, neutron)
            agent.heal("agent start")
            agent._next_heal = time.monotonic() + 3600  # no periodic heal: the view knows only what events said
            adapter.session.get_event_listener().subscribe(agent_base._EventHandler(agent))
            doomed = new_lpar(adapter, "doomed")
            neutron.ports[MAC] = OURS
            cna = pvm_cna.crt_cna(adapter, None, doomed.uuid, OURS, mac_addr=MAC.replace(":", "").upper())
            agent.pending.port(MAC, "plug", cna.href)
            for vlan in (SHARED, KEPT):  # made outside OpenStack on the same partition
                pvm_cna.crt_cna(adapter, None, doomed.uuid, vlan)
            pvm_cna.crt_cna(adapter, None, new_lpar(adapter, "other").uuid, SHARED)
            bridge = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            bridger.ensure_vlans_on_nb(adapter, adapter.sys_uuid, bridge.uuid, [SHARED, KEPT])
            agent.on_port_update({"id": "port-kept", "mac_address": "fa:16:3e:00:23:02"},
                                 {"network_type": "vlan", "segmentation_id": KEPT, "physical_network": "default"})  # fmt: skip
            assert _serve_until(agent, lambda: MAC in neutron.up and not agent.pending.take_now())
            assert {OURS, SHARED, KEPT} <= _vlans(adapter)

            caplog.clear()
            pvm_lpar.LPAR.get(adapter, uuid=doomed.uuid).delete()  # outside OpenStack: no unplug event
            assert _serve_until(agent, lambda: OURS not in _vlans(adapter)), "VLAN 2300 stayed after the delete"
            assert {SHARED, KEPT} <= _vlans(adapter)
            assert MAC in neutron.down
            assert "Heal of host" not in caplog.text  # the delete event decided it, not a heal
        finally:
            disconnect(adapter)
