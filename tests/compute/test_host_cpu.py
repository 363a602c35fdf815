"""get_host_cpu_stats from the simulator's PCM data (issue 17 item 20).

Before the fix the driver built a new pypowervm HostCPUMetricCache per call and turned every
exception into zero counters; against the simulator it always answered zeros. Now one set of
counters lives as long as the driver, accumulates across samples, and errors are raised.
"""

from __future__ import annotations

import time

import pytest
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import managed_system as pvm_ms

from powervm_openstack.telemetry.host_cpu import HostCpuCounters
from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration


def test_counters_accumulate_over_samples_and_errors_surface() -> None:
    with running_simulator() as server:
        with server.app.store.transaction() as txn:
            txn.set_meta("pcm.interval", "1")
        adapter = connect(server)
        try:
            host = pvm_ms.System.get(adapter)[0].uuid
            cpu = HostCpuCounters(adapter, host)
            first = cpu.stats()  # switches monitoring on; no sample yet
            time.sleep(2.2)
            cpu.stats()
            time.sleep(1.1)
            second = cpu.stats()
            assert second["user"] > first["user"] >= 0
            assert second["kernel"] > 0 and second["idle"] > 0 and second["frequency"] > 0
            time.sleep(1.1)
            third = cpu.stats()
            assert third["user"] > second["user"]  # same object, so the counters only grow
            cpu.ltm.host_uuid = "00000000-0000-0000-0000-00000000dead"
            time.sleep(1.1)
            with pytest.raises(pvm_exc.HttpError):
                cpu.stats()
        finally:
            disconnect(adapter)
