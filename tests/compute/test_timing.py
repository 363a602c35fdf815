"""The driver's timing: REST requests on the measured thread are counted, others are not; one line per operation."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from powervm_openstack.compute import timing


def test_rest_time_counts_only_the_measured_thread(caplog: pytest.LogCaptureFixture) -> None:
    request = timing.rest_helper(lambda method, path: time.sleep(0.05) or f"{method} {path}")
    caplog.set_level(logging.INFO, logger=timing.__name__)
    with timing.measure("spawn of instance X") as measured:
        assert request("GET", "/a") == "GET /a"
        other = threading.Thread(target=request, args=("GET", "/b"))  # another thread: not this operation's
        other.start()
        other.join()
        sum(range(200_000))  # a little CPU of the driver's own
        timing.add_wait(0.5)
        timing.wait_for_network(_Allocating())
        timing.wait_for_network([])  # a plain list: nothing to wait for
    assert measured.calls == 1 and measured.rest_s >= 0.05 and measured.wait_s == 0.5
    assert measured.rest_cpu_s < measured.rest_s  # sleeping is not CPU
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Timing of spawn of instance X")]
    assert measured.network_s >= 0.05
    rest = re.search(r"REST (\d+\.\d+)", line)  # a sleep of 0.05 s can last longer on a loaded host
    assert rest and float(rest.group(1)) >= 0.05 and "in 1 calls" in line, line
    assert "network-vif-plugged wait 0.500 s" in line, line
    assert request("GET", "/c") == "GET /c"  # outside a measurement: passed through
    timing.add_wait(1.0)  # and ignored


class _Allocating:
    """Stands in for nova's NetworkInfoAsyncWrapper: ``wait`` blocks until the ports are allocated."""

    def wait(self, do_raise: bool = True) -> None:
        assert do_raise
        time.sleep(0.05)
