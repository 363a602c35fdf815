"""The live migration part of ``python -m benchmarks compute``: REST calls, time and downtime of one LPM.

Two simulated hosts in this process, each the default topology's host with its own serial
(``deploy.aio.hosts.host_topology``, as the all-in-one cloud's hosts) and the same SSP cluster
``cluster1`` (the simulators linked as peers both ways, ``POST /sim/ssp/peers``, so that each sees
the logical units the other creates, as the cluster's nodes do), with the REST latency of the compute benchmark on both. Two drivers (``disk_driver =
ssp``), one per host, run the steps nova's compute managers call, in nova's order: the destination's
check, the source's check (the ``MigrateValidate`` job), the destination's ``pre_live_migration``
(the port's VLAN onto its SEAs), the source's ``live_migration`` (the ``Migrate`` job), then
``post_live_migration_at_source`` / ``_at_destination``. Each step's REST calls are those the driver
makes on the calling thread (pypowervm ``Session.request``, job polls included); the simulators'
calls to each other (``/sim/mobility/*``, standing in for the mover service partitions) are not
REST calls of the driver and are not counted. Downtime is what the source simulator reports for the
move (``DowntimeMilliseconds`` of the job, ``GET /sim/mobility``): its model of the switch-over pause.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import requests

STEPS = ("check destination", "check source (MigrateValidate)", "pre_live_migration (destination)",
         "live_migration (Migrate job)", "post_live_migration (both sides)")  # fmt: skip


def _servers(latency_rules: list[dict[str, object]], work: Path) -> list[Any]:
    from powervm_openstack.deploy.aio.hosts import host_topology
    from powervm_openstack.simulator.http.server import SimulatorServer
    from powervm_openstack.simulator.topology import loader

    servers = []
    for index in (1, 2):
        path = host_topology(Path(loader.DEFAULT), work / f"host-{index}", index)
        server = SimulatorServer(seed=loader.load(path), event_wait=1.0).start()
        server.app.faults.set_rules(latency_rules)
        servers.append(server)
    for here, there in ((servers[0], servers[1]), (servers[1], servers[0])):  # one cluster, seen from both hosts
        requests.post(f"{here.url}/sim/ssp/peers", json={"url": there.url}, timeout=30).raise_for_status()
    return servers


@contextlib.contextmanager
def two_hosts(make_driver: Callable[[int, str, str], Any], latency_rules: list[dict[str, object]],
              prefix: str) -> Iterator[tuple[list[Any], list[Any]]]:  # fmt: skip
    """Two simulators sharing the SSP cluster ``cluster1`` and a driver on each: ``(servers, drivers)``.

    ``make_driver(port, work, host)`` starts a driver with ``disk_driver = ssp`` on the simulator at
    ``port``; the drivers are named ``bench-1`` and ``bench-2``. Both stop on exit.
    """
    work = Path(tempfile.mkdtemp(prefix=prefix))
    servers = _servers(latency_rules, work)
    drivers = []
    try:
        drivers += [make_driver(s.port, str(work), f"bench-{i + 1}") for i, s in enumerate(servers)]
        yield servers, drivers
    finally:
        for drv in drivers:
            drv.cleanup_host(drv.host_name)
        for server in servers:
            server.stop()


def step_rows(results: list[dict[str, Any]], steps: tuple[str, ...], whole: str,
              row: Callable[[str, list[Counter]], list[object]]) -> list[list[object]]:  # fmt: skip
    """One row per step over all moves, then one for the whole move (its steps' counts added)."""
    rows = [row(step, [r["steps"][step] for r in results]) for step in steps]
    totals = []
    for r in results:
        total: Counter = Counter()
        for stats in r["steps"].values():
            total.update(stats)
        totals.append(total)
    return [*rows, row(whole, totals)]


def run(make_driver: Callable[[int, str, str], Any], spawn: Callable[[Any, int], tuple[Any, Any, Counter]],
        measure: Callable[[], Any], latency_rules: list[dict[str, object]], moves: int = 3) -> list[dict[str, Any]]:  # fmt: skip
    """``moves`` live migrations of one partition back and forth; per move the steps' Counters and the downtime.

    ``make_driver(port, work, host)`` starts a driver with ``disk_driver = ssp`` on the simulator at
    ``port``; ``spawn(driver, index)`` boots an instance, returning ``(instance, network_info, stats)``.
    """
    from nova import context as nova_context
    from nova import objects

    ctx = nova_context.get_admin_context()
    results = []
    objects.register_all()
    # No nova database here: the instance has no volumes, which is what nova's lookup would answer
    # (the source reads the destination's notes on each volume from it before the Migrate job).
    no_volumes = mock.patch.object(objects.BlockDeviceMappingList, "get_by_instance_uuid",
                                   return_value=objects.BlockDeviceMappingList(objects=[]))  # fmt: skip
    with no_volumes, two_hosts(make_driver, latency_rules, "bench-lpm-") as (servers, drivers):
        inst, nw, _ = spawn(drivers[0], 700)
        inst.info_cache = objects.InstanceInfoCache(network_info=nw)  # the source reads the VIFs there, as in nova
        for move in range(moves):
            src, dst = (0, 1) if move % 2 == 0 else (1, 0)
            results.append(_move(ctx, drivers[src], drivers[dst], servers[src].url, inst, nw, measure))
        drivers[moves % 2].destroy(None, inst, nw)
    return results


def _move(ctx: Any, src: Any, dst: Any, src_url: str, inst: Any, nw: Any, measure: Callable[[], Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = {}
    steps: dict[str, Counter] = {}
    with measure() as steps[STEPS[0]]:
        data = dst.check_can_live_migrate_destination(ctx, inst, None, None, block_migration=False)
    with measure() as steps[STEPS[1]]:
        data = src.check_can_live_migrate_source(ctx, inst, data, None)
    with measure() as steps[STEPS[2]]:
        data = dst.pre_live_migration(ctx, inst, None, nw, None, data)
    with measure() as steps[STEPS[3]]:
        src.live_migration(ctx, inst, dst.host_name, lambda *a, **k: outcome.setdefault("post", True),
                           lambda *a, **k: outcome.setdefault("recover", True), False, data)  # fmt: skip
    if not outcome.get("post"):
        raise RuntimeError(f"the live migration of {inst.uuid} to {dst.host_name} failed; see the driver's log")
    with measure() as steps[STEPS[4]]:
        src.post_live_migration_at_source(ctx, inst, nw)
        dst.post_live_migration_at_destination(ctx, inst, nw)
    moved = requests.get(f"{src_url}/sim/mobility", timeout=30).json()
    return {"steps": steps, "downtime_ms": moved.get("downtime_ms", 0), "finished": time.time()}


def report(results: list[dict[str, Any]], row: Callable[[str, list[Counter]], list[object]],
           table: Callable[[list[str], list[list[object]]], str]) -> str:  # fmt: skip
    """The steps' table (one row per step over all moves, then the whole move) and the downtime line."""
    headers = ["live migration step", "n", "REST calls/op", "p50 ms", "p95 ms", "driver-own p50 ms", "driver-own share"]
    rows = step_rows(results, STEPS, "whole live migration", row)
    downtime = sorted(r["downtime_ms"] for r in results)
    return (f"Live migration between two simulated hosts on one SSP (ssp1 of cluster1), {len(results)} moves of a "
            f"1 GB partition with one pvm_sea VIF, back and forth\n{table(headers, rows)}\n"
            f"downtime the source simulator reports per move (DowntimeMilliseconds): {downtime} ms")  # fmt: skip
