"""``python -m benchmarks network``: a burst of SEA port plugs, the agent against pypowervm's reference.

Scenario (full size): 200 port plugs over 50 VLANs, arriving at random within 10 s, on the default
topology's redundant (failover) SEA pair, with the simulator adding 300 ms to every write and
50 ms to every read. The same burst is served twice, each on a fresh simulator: by the SEA agent
("ours") and the retired agent's way with ``network_bridger.ensure_vlans_on_nb`` ("reference").
Printed: REST calls per bridge per batch (mean, max), plug -> ACTIVE (p50, p95), total time, and
ours/reference ratios. Targets: <= 2 REST calls per bridge per batch, p95 below the reference's.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from collections import Counter

from benchmarks import common
from benchmarks.network_runs import Result, Scenario, run_ours, run_reference

FULL = {"plugs": 200, "vlans": 50, "burst": 10.0, "write_ms": 300.0, "read_ms": 50.0}
QUICK = {"plugs": 40, "vlans": 10, "burst": 2.0, "write_ms": 30.0, "read_ms": 5.0}
TARGET_CALLS_PER_BRIDGE = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks network", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"a fast sanity run: {_describe(QUICK)}")
    parser.add_argument("--plugs", type=int, help=f"port plugs in the burst (full: {FULL['plugs']})")
    parser.add_argument("--vlans", type=int, help=f"distinct VLANs (full: {FULL['vlans']})")
    parser.add_argument("--burst", type=float, help=f"seconds the plugs arrive within (full: {FULL['burst']})")
    parser.add_argument("--write-ms", type=float, help=f"latency per PUT/POST/DELETE (full: {FULL['write_ms']})")
    parser.add_argument("--read-ms", type=float, help=f"latency per GET (full: {FULL['read_ms']})")
    parser.add_argument("--batch-window", type=float, default=0.3, help="seconds a batch gathers plugs (0.3)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the arrival times and VLAN order (42)")
    parser.add_argument("--verbose", action="store_true", help="log the agent's decisions to stderr")
    args = parser.parse_args(argv)
    common.fill_defaults(args, QUICK, FULL)
    _check(parser, args)
    return args


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.plugs < 1 or args.vlans < 1:
        parser.error(f"--plugs {args.plugs} and --vlans {args.vlans} must both be at least 1")
    if args.vlans > 200:
        parser.error(f"--vlans {args.vlans} is more than 200, which would not fit one SEA pair with the VLANs it has")
    if args.burst < 0 or args.write_ms < 0 or args.read_ms < 0 or args.batch_window < 0:
        parser.error("--burst, --write-ms, --read-ms and --batch-window must not be negative")


def _describe(params: dict[str, float]) -> str:
    return (f"{params['plugs']} plugs over {params['vlans']} VLANs in {params['burst']:g} s, "
            f"{params['write_ms']:g} ms per write, {params['read_ms']:g} ms per read")  # fmt: skip


def run(args: argparse.Namespace) -> tuple[Result, Result]:
    """Serve the burst both ways, each on a fresh simulator with the same latency."""
    scenario = Scenario(args.plugs, args.vlans, args.burst, args.batch_window, args.seed)
    latency = common.Latency(args.write_ms, args.read_ms)
    with common.simulated_host(scenario.topology, latency, name="sim-ours") as host:
        ours = run_ours(scenario, host)
    with common.simulated_host(scenario.topology, latency, name="sim-reference") as host:
        reference = run_reference(scenario, host)
    return ours, reference


@dataclasses.dataclass(frozen=True)
class Summary:
    """One row of the comparison table."""

    name: str
    batches: int
    calls_mean: float
    calls_max: float
    p50_s: float
    p95_s: float
    total_s: float
    not_active: int
    missing_vlans: int

    @classmethod
    def of(cls, result: Result) -> Summary:
        per_bridge = [b.calls_per_bridge for b in result.batches if b.plugs] or [math.nan]
        return cls(result.name, len(result.batches), sum(per_bridge) / len(per_bridge), max(per_bridge),
                   common.percentile(result.latencies, 50), common.percentile(result.latencies, 95),
                   result.total_s, result.not_active, result.missing_vlans)  # fmt: skip

    def cells(self) -> list[object]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]


HEADERS = ("", "batches", "calls/bridge/batch mean", "max", "p50 plug->ACTIVE s", "p95 s", "total s", "not ACTIVE",
           "VLANs missing")  # fmt: skip
_RATIO_FIELDS = ("calls_mean", "calls_max", "p50_s", "p95_s", "total_s")


def report(args: argparse.Namespace, ours: Result, reference: Result) -> str:
    """The scenario, the comparison table with ours/reference ratios, the REST calls by kind, the verdict."""
    mine, ref = Summary.of(ours), Summary.of(reference)
    ratios = [common.ratio(getattr(mine, f.name), getattr(ref, f.name)) if f.name in _RATIO_FIELDS else None
              for f in dataclasses.fields(Summary)]  # fmt: skip
    totals = {r.name: _calls_by_kind(r) for r in (ours, reference)}
    kinds = sorted(set().union(*totals.values()))
    return "\n".join([
        f"Scenario: {_describe(vars(args))}; redundant SEA pair (failover, default topology); "
        f"batch window {args.batch_window:g} s; seed {args.seed}",
        "",
        common.table(HEADERS, [mine.cells(), ref.cells(), ["ours / reference", *ratios[1:]]]),
        "",
        "REST calls by kind (all batches):",
        common.table(("", *kinds), [[name, *(counts[k] for k in kinds)] for name, counts in totals.items()]),
        "",
        _verdict(mine, ref),
    ])  # fmt: skip


def _calls_by_kind(result: Result) -> Counter[str]:
    totals: Counter[str] = Counter()
    for batch in result.batches:
        totals.update(batch.calls)
    return totals


def _verdict(ours: Summary, reference: Summary) -> str:
    calls_ok = "met" if ours.calls_max <= TARGET_CALLS_PER_BRIDGE else "MISSED"
    p95_ok = "met" if ours.p95_s < reference.p95_s else "MISSED"
    return (f"Targets: <= {TARGET_CALLS_PER_BRIDGE} REST calls per bridge per batch: {calls_ok} "
            f"(max {ours.calls_max:g}); p95 below the reference's: {p95_ok} "
            f"({ours.p95_s:.2f} s vs {reference.p95_s:.2f} s)")  # fmt: skip


def main(argv: list[str]) -> int:
    """Run the benchmark and print its tables; 0 when both sides made every port ACTIVE and left every
    VLAN on both SEAs, else 1."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")  # fmt: skip
    if not args.verbose:  # pypowervm warns on every http logon; the agent on its empty bridge_mappings
        for name in ("pypowervm", "powervm_openstack.network.bridges"):
            logging.getLogger(name).setLevel(logging.ERROR)
    ours, reference = run(args)
    print(report(args, ours, reference))
    failed = any(r.not_active or r.missing_vlans for r in (ours, reference))
    return 1 if failed else 0
