"""The cloud benchmark's reading of nova-compute's log (the boot itself needs the cloud: see benchmarks/README.md).

Performance is never asserted here.
"""

from __future__ import annotations

import logging

import pytest

from benchmarks import cloud
from powervm_openstack.compute import timing

SERVER = "0b6f3a52-6d0e-4c55-9a2e-0d3f1c2b4a10"


def _timing_line(caplog: pytest.LogCaptureFixture) -> str:
    caplog.set_level(logging.INFO, logger=timing.__name__)
    with timing.measure(f"spawn of instance {SERVER}"):
        timing.add_wait(1.0)
    return caplog.records[-1].getMessage()


def test_phases_come_from_the_build_and_timing_lines(caplog: pytest.LogCaptureFixture) -> None:
    message = _timing_line(caplog)
    log = "\n".join([
        f"2026-12-02 05:00:01.000 42 INFO powervm_openstack.compute.timing [req-1 - - - - -] {message}",
        f"2026-12-02 05:00:03.000 42 INFO nova.compute.manager [None req-1 admin admin] [instance: {SERVER}] "
        "Took 4.00 seconds to build instance.",
    ])  # fmt: skip
    boot = cloud.Boot(server_id=SERVER, sent=cloud._log_time("2026-12-02 04:59:57.500"))
    boot.accepted = boot.sent + 0.5
    boot.active = boot.sent + 6.0
    cloud.parse_compute_log(log, [boot])
    phases = boot.phases()
    assert phases["API"] == pytest.approx(0.5)
    assert phases["scheduling"] == pytest.approx(1.0)  # 202 at 04:59:58, build start 05:00:03 - 4 s
    assert phases["port ACTIVE wait"] == 1.0
    assert phases["compute: nova"] == pytest.approx(4.0 - boot.spawn["wall"])
    assert phases["compute: port allocation"] == 0.0  # no async wrapper in the measured block
    assert phases["reporting"] == pytest.approx(0.5)
    assert sum(phases.values()) == pytest.approx(boot.total)


def test_in_flight_counts_overlapping_spans() -> None:
    assert cloud._in_flight([(0, 2), (1, 3), (2.5, 4), (5, 6)]) == 2
