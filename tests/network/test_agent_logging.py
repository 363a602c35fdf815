"""What the SEA agent says: a port that cannot be bound once, and decision lines naming the port."""

from __future__ import annotations

import logging

import pytest
from pypowervm.tasks import cna as pvm_cna
from pypowervm.wrappers import logical_partition as pvm_lpar

from powervm_openstack.pvm import vif_event
from tests.fixtures.agents import StubNeutron, sea_agent
from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration


@pytest.fixture
def host():
    with running_simulator() as sim:
        adapter = connect(sim)
        try:
            part = next(p for p in pvm_lpar.LPAR.get(adapter) if p.state != "running")
            yield adapter, part
        finally:
            disconnect(adapter)


def _plug(adapter, part, mac: str, vlan: int):
    return pvm_cna.crt_cna(adapter, None, part.uuid, vlan, mac_addr=vif_event.pvm_mac(mac))


def test_a_port_without_a_usable_binding_is_logged_once(host, caplog):
    adapter, part = host
    caplog.set_level(logging.INFO)
    neutron = StubNeutron()  # knows no port: answers as neutron does for a failed binding
    agent = sea_agent(adapter, neutron)
    mac = "fa:16:3e:00:11:01"
    cna = _plug(adapter, part, mac, 1101)
    for _ in range(3):
        agent.pending.port(mac, "plug", cna.href)
        agent.run_once(timeout=0.1)
    lines = [r.getMessage() for r in caplog.records if "no usable binding" in r.getMessage()]
    assert len(lines) == 1, lines
    assert mac in lines[0] and f"partition {part.name}" in lines[0] and "left DOWN" in lines[0]
    assert neutron.up == []


def test_decision_lines_name_the_port_partition_and_vlan(host, caplog):
    adapter, part = host
    caplog.set_level(logging.INFO)
    neutron = StubNeutron()
    agent = sea_agent(adapter, neutron)
    mac = "fa:16:3e:00:11:02"
    neutron.ports[mac] = 1102
    cna = _plug(adapter, part, mac, 1102)
    agent.pending.port(mac, "plug", cna.href)
    agent.run_once(timeout=0.1)
    agent.pending.port(mac, "unplug", cna.href)
    agent.run_once(timeout=0.1)
    decisions = [r.getMessage() for r in caplog.records if f"port port-{mac}" in r.getMessage()]
    assert any("VLAN 1102 is on bridge" in line for line in decisions), decisions
    assert any("unplugged from VLAN 1102" in line for line in decisions), decisions
    assert all(f"partition {part.name}" in line for line in decisions), decisions
    assert neutron.requests >= 2  # a new request context per batch
