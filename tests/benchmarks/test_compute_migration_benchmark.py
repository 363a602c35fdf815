"""The migration parts of ``python -m benchmarks compute`` run end to end with two moves each.

Live and cold migration between two in-process simulators on one SSP cluster, through the same
functions the command calls, with 1-2 ms of REST latency. Only the structure is asserted (every
step measured on every move with REST calls counted, the tables' rows, the downtime figures
present and the partition stopped before it started again); timings are never asserted here:
``benchmarks/README.md`` records measured numbers.
"""

from __future__ import annotations

from benchmarks import compute, compute_cold_migration, compute_migration
from benchmarks.common import Latency, table

LATENCY = Latency(write_ms=2, read_ms=1).rules()


def _check_steps(results: list[dict], steps: tuple[str, ...]) -> None:
    assert len(results) == 2
    for result in results:
        assert set(result["steps"]) == set(steps)
        for stats in result["steps"].values():
            assert stats["calls"] >= 1 and stats["wall_s"] >= stats["rest_s"] > 0


def _rows(text: str, steps: tuple[str, ...], whole: str) -> list[str]:
    lines = text.splitlines()
    names = [line.split("  ")[0] for line in lines[3 : 3 + len(steps) + 1]]
    assert names == [*steps, whole], names
    return lines


def test_live_migration_part() -> None:
    compute._timed_requests()
    results = compute_migration.run(compute._ssp_driver, compute._spawn, compute._measure, LATENCY, moves=2)
    _check_steps(results, compute_migration.STEPS)
    assert all(r["downtime_ms"] > 0 for r in results)
    lines = _rows(compute_migration.report(results, compute._row, table), compute_migration.STEPS,
                  "whole live migration")  # fmt: skip
    assert lines[0].startswith("Live migration between two simulated hosts on one SSP") and "2 moves" in lines[0]
    assert lines[-1].startswith("downtime the source simulator reports per move (DowntimeMilliseconds): [")


def test_cold_migration_part() -> None:
    compute._timed_requests()
    results = compute_cold_migration.run(compute._ssp_driver, compute._spawn, compute._measure, LATENCY, moves=2)
    _check_steps(results, compute_cold_migration.STEPS)
    assert all(r["downtime_ms"] > 0 for r in results)  # the destination started after the source stopped
    lines = _rows(compute_cold_migration.report(results, compute._row, table), compute_cold_migration.STEPS,
                  "whole cold migration")  # fmt: skip
    assert lines[0].startswith("Cold migration between the same two simulated hosts, 2 moves")
    assert lines[-1].startswith("downtime per move, source partition stopped to destination partition running")
    assert " p50 " in lines[-1] and " p95 " in lines[-1]
