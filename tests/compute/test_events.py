"""Partition state changes in the simulator's event feed become nova lifecycle events."""

from __future__ import annotations

import time

import pytest
from nova.virt import event as virtevent
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import power_opts as pvm_popts
from pypowervm.wrappers import logical_partition as pvm_lpar

from powervm_openstack.compute import events
from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration


def _wait(got: list, count: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def watched():
    with running_simulator(event_wait=0.5) as sim:
        adapter = connect(sim)
        lpar = next(p for p in pvm_lpar.LPAR.get(adapter) if p.name == "web-01")
        got: list[virtevent.LifecycleEvent] = []
        handler = events.PartitionEvents(adapter, got.append, lambda u: "inst-1" if u == lpar.uuid else None,
                                         stop_delay=1.0)  # fmt: skip
        adapter.session.get_event_listener().subscribe(handler)
        time.sleep(1.0)  # the listener's first poll registers it (NEW_CLIENT)
        yield adapter, lpar, got
        handler.stop()
        disconnect(adapter)


def test_stop_and_start_become_stopped_and_started(watched):
    adapter, lpar, got = watched
    pvm_power.PowerOp.stop(lpar, opts=pvm_popts.PowerOffOpts().vsp_hard())
    _wait(got, 1)
    assert [(e.uuid, e.transition) for e in got] == [("inst-1", virtevent.EVENT_LIFECYCLE_STOPPED)]
    pvm_power.PowerOp.start(lpar.refresh())
    _wait(got, 2)
    assert got[-1].transition == virtevent.EVENT_LIFECYCLE_STARTED


def test_a_quick_restart_is_not_reported_as_a_stop(watched):
    adapter, lpar, got = watched
    pvm_power.PowerOp.stop(lpar, opts=pvm_popts.PowerOffOpts().vsp_hard())
    pvm_power.PowerOp.start(lpar.refresh())
    _wait(got, 1)
    time.sleep(1.5)  # past the stop delay
    assert [e.transition for e in got] == [virtevent.EVENT_LIFECYCLE_STARTED]


def test_partitions_of_no_instance_are_ignored(watched):
    adapter, _, got = watched
    other = next(p for p in pvm_lpar.LPAR.get(adapter) if p.name == "aix-batch")
    pvm_power.PowerOp.stop(other, opts=pvm_popts.PowerOffOpts().vsp_hard())
    time.sleep(2.0)
    assert got == []
