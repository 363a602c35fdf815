"""The cold migration part of ``python -m benchmarks compute``: REST calls, time and downtime of one move.

The same two simulated hosts as the live migration part (``compute_migration.two_hosts``: one SSP
cluster ``cluster1`` seen from both, the compute benchmark's REST latency on both) and a driver on
each (``disk_driver = ssp``). The drivers run the steps nova's compute managers call for a cold
migration to another host, in nova's order: ``migrate_disk_and_power_off`` on the source (stop the
partition, disconnect its volumes), ``finish_migration`` on the destination (a partition of the
same UUID built over the shared logical unit, its VIFs plugged, started), then
``confirm_migration`` on the source (the stopped partition and its mappings removed, the disk
kept). nova's migration record is built in memory (no database): only its source and destination
compute names are read. Each step's REST calls are the driver's on the calling thread, as in the
live migration part.

Downtime is measured from the simulators' state history, not from the drivers' clocks: the
timestamp of the change in the source simulator's change log (``GET /sim/changes``) that first
shows the partition ``not activated`` to that of the change in the destination's that first shows
it ``running``. Both simulators run in this process, so their timestamps share one clock. The
figure is the real elapsed time between those two state changes, REST latency included; the
simulator models no boot time, so on real hosts the OS boot comes on top.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests

from benchmarks.common import percentile
from benchmarks.compute_migration import step_rows, two_hosts

STEPS = ("migrate_disk_and_power_off (source)", "finish_migration (destination)", "confirm_migration (source)")
_STATE = re.compile(r"<PartitionState[^>]*>([^<]*)</PartitionState>")


def run(make_driver: Callable[[int, str, str], Any], spawn: Callable[[Any, int], tuple[Any, Any, Counter]],
        measure: Callable[[], Any], latency_rules: list[dict[str, object]], moves: int = 3) -> list[dict[str, Any]]:  # fmt: skip
    """``moves`` cold migrations of one partition back and forth; per move the steps' Counters and the downtime.

    ``make_driver`` and ``spawn`` as for ``compute_migration.run``.
    """
    from nova import context as nova_context

    ctx = nova_context.get_admin_context()
    results = []
    with two_hosts(make_driver, latency_rules, "bench-cold-") as (servers, drivers):
        inst, nw, _ = spawn(drivers[0], 800)
        # no database to load nova's migration context from: the source then reads the destination
        # from ``dest`` (here the destination's host name), as without a migration record
        inst.migration_context = None
        for move in range(moves):
            src, dst = (0, 1) if move % 2 == 0 else (1, 0)
            results.append(_move(ctx, drivers[src], drivers[dst], servers[src].url, servers[dst].url, inst, nw,
                                 measure))  # fmt: skip
        drivers[moves % 2].destroy(None, inst, nw)
    return results


def _move(ctx: Any, src: Any, dst: Any, src_url: str, dst_url: str, inst: Any, nw: Any,
          measure: Callable[[], Any]) -> dict[str, Any]:  # fmt: skip
    from nova import objects

    migration = objects.Migration(source_compute=src.host_name, dest_compute=dst.host_name,
                                  migration_type="migration")  # fmt: skip
    since = {url: _last_change(url) for url in (src_url, dst_url)}
    steps: dict[str, Counter] = {}
    with measure() as steps[STEPS[0]]:
        disk_info = src.migrate_disk_and_power_off(ctx, inst, dst.host_name, inst.flavor, nw, None, timeout=0)
    with measure() as steps[STEPS[1]]:
        dst.finish_migration(ctx, migration, inst, disk_info, nw, None, False, {}, None, power_on=True)
    with measure() as steps[STEPS[2]]:
        src.confirm_migration(ctx, migration, inst, nw)
    stopped = _first_state(src_url, since[src_url], inst, "not activated")
    started = _first_state(dst_url, since[dst_url], inst, "running")
    return {"steps": steps, "downtime_ms": (started - stopped) * 1000, "finished": time.time()}


def _last_change(url: str) -> int:
    return int(requests.get(f"{url}/sim/health", timeout=30).json()["last_change"])


def _first_state(url: str, since: int, inst: Any, state: str) -> float:
    """The timestamp of the first change after ``since`` showing the instance's partition in ``state``."""
    from powervm_openstack.compute import vm

    wanted = vm.pvm_uuid_of(inst).upper()
    while True:
        changes = requests.get(f"{url}/sim/changes", params={"since": since, "limit": 1000}, timeout=30).json()
        for change in changes:
            found = _STATE.search(change.get("body") or "")
            if (change["kind"] == "LogicalPartition" and (change["uuid"] or "").upper() == wanted and found
                    and found.group(1) == state):  # fmt: skip
                return float(change["ts"])
        if len(changes) < 1000:
            raise RuntimeError(f"the simulator at {url} logged no change showing partition {wanted} {state}")
        since = changes[-1]["id"]


def report(results: list[dict[str, Any]], row: Callable[[str, list[Counter]], list[object]],
           table: Callable[[list[str], list[list[object]]], str]) -> str:  # fmt: skip
    """The steps' table (one row per step over all moves, then the whole move) and the downtime line."""
    headers = ["cold migration step", "n", "REST calls/op", "p50 ms", "p95 ms", "driver-own p50 ms", "driver-own share"]
    rows = step_rows(results, STEPS, "whole cold migration", row)
    downtime = [r["downtime_ms"] for r in results]
    return (f"Cold migration between the same two simulated hosts, {len(results)} moves of a 1 GB partition on an "
            f"SSP logical unit with one pvm_sea VIF, back and forth\n{table(headers, rows)}\n"
            f"downtime per move, source partition stopped to destination partition running (the simulators' "
            f"change logs): p50 {percentile(downtime, 50):.0f} ms, p95 {percentile(downtime, 95):.0f} ms, "
            f"all {sorted(round(d) for d in downtime)} ms")  # fmt: skip
