"""The ready-plug reporter: ports marked ACTIVE off the worker, counted only once neutron answered."""

from __future__ import annotations

import threading

from powervm_openstack.network.agent.ready import ReadyReporter
from tests.fixtures.waiting import wait_for


def test_a_report_counts_once_and_a_failed_one_is_left_to_the_worker():
    sent, fail = [], threading.Event()

    def report(macs: list[str]) -> None:
        if fail.is_set():
            raise RuntimeError("neutron is away")
        sent.append(macs)

    ready = ReadyReporter(report)
    try:
        ready.offer("fa:16:3e:00:00:01")
        wait_for(lambda: ready.reported("fa:16:3e:00:00:01"), "the port reported", timeout=5)
        assert sent == [["fa:16:3e:00:00:01"]]
        assert not ready.reported("fa:16:3e:00:00:01")  # once: the worker books it, a re-plug reports again
        fail.set()
        ready.offer("fa:16:3e:00:00:02")
        ready.offer("fa:16:3e:00:00:03")
        ready.offer("fa:16:3e:00:00:03")
        wait_for(lambda: ready._queue.empty(), "the offers taken", timeout=5)
        assert not ready.reported("fa:16:3e:00:00:02")  # failed: the worker reports it with its batch
        fail.clear()
        ready.offer("fa:16:3e:00:00:04")
        wait_for(lambda: sent[-1] == ["fa:16:3e:00:00:04"], "the next report", timeout=5)
        ready.forget("fa:16:3e:00:00:04")  # unplugged meanwhile
        assert not ready.reported("fa:16:3e:00:00:04")
    finally:
        ready.stop()
