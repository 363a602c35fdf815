"""A VLAN the firmware refuses stays alone: the others go on at once, it is retried with growing delay."""

from __future__ import annotations

import logging
import time

import pytest
import requests
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network.agent import refusals
from tests.fixtures.agents import StubNeutron, sea_agent

pytestmark = pytest.mark.integration

BAD = 3100
GOOD = list(range(3101, 3110))


def orphan_trunk(adapter, vlan: int, vios_name: str = "vios2") -> pvm_net.CNA:
    """A trunk adapter outside any SEA on ``vios_name``, carrying ``vlan`` (what an admin's mkvdev leaves)."""
    vios = next(v for v in pvm_vios.VIOS.get(adapter) if v.name == vios_name)
    vswitch = next(s for s in pvm_net.VSwitch.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)
                   if int(s.switch_id) == 0)  # fmt: skip
    trunk = pvm_net.CNA.bld(adapter, 4000, vswitch.related_href, addl_tagged_vlans=[vlan], trunk_pri=1)
    return trunk.create(parent_type=pvm_vios.VIOS, parent_uuid=vios.uuid)


def _posts(url: str) -> int:
    return requests.get(f"{url}/sim/stats", timeout=10).json().get("POST NetworkBridge", 0)


@pytest.fixture
def host(sim_host):
    return sim_host


def test_a_refused_vlan_among_ten_stays_alone_and_is_retried_with_growing_delay(host, monkeypatch, caplog):
    sim, adapter = host
    neutron = StubNeutron()
    agent = sea_agent(adapter, neutron)
    agent.heal("test start")
    orphan_trunk(adapter, BAD)
    # The firmware refuses for a reason the agent's view cannot see: its orphan re-read finds nothing new.
    monkeypatch.setattr(agent.view, "_read_orphans", lambda: None)
    macs = [f"fa:16:3e:00:31:{i:02x}" for i in range(10)]
    for mac, vlan in zip(macs, [BAD, *GOOD], strict=True):
        neutron.ports[mac] = vlan
        agent.pending.port(mac, "plug")
    caplog.set_level(logging.INFO, logger="powervm_openstack")
    before = _posts(sim.url)
    agent.run_once(timeout=0.1)  # one batch
    assert set(neutron.up) == set(macs[1:])
    assert macs[0] in neutron.down and macs[0] not in neutron.up
    carried = set(agent.updater.view.reread_bridge(agent.updater.view.bridge_list()[0].uuid).list_vlans())
    assert set(GOOD) <= carried and BAD not in carried
    posts = _posts(sim.url) - before
    assert posts <= 9, f"{posts} bridge updates to single out one VLAN among 10"
    refusal_lines = [r for r in caplog.records if f"VLAN {BAD} cannot go on bridge" in r.getMessage()]
    assert len(refusal_lines) == 1
    assert "port-fa:16:3e:00:31:00" in refusal_lines[0].getMessage()
    assert "outside any SEA" in refusal_lines[0].getMessage()  # the firmware's own message

    tries = []
    retry = agent._retry
    monkeypatch.setattr(agent, "_retry", lambda b, v: (tries.append(time.monotonic()), retry(b, v)))
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        agent.run_once(timeout=0.2)
    gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
    assert 2 <= len(tries) <= 4, tries
    assert all(g >= refusals.FIRST_DELAY * 0.95 for g in gaps) and gaps == sorted(gaps), gaps
    assert len([r for r in caplog.records if f"VLAN {BAD} cannot go on bridge" in r.getMessage()]) == 1
    assert macs[0] not in neutron.up
