"""``python -m benchmarks scale``: the SEA agent at scale, three figures, one table each.

1. heal: one agent's full heal on a host with 1,000 partitions and 2,000 client adapters
   (wall time, CPU of the agent and of the simulator, REST calls per heal);
2. fleet: 20 agents, one per simulated host, on one real neutron server (RPC messages per minute
   per agent, neutron server CPU, agent RSS) under a light plug/unplug load;
3. memory: one agent's memory over 10,000 plug/unplug cycles (growth after the warm-up).

``--only`` picks figures; ``--quick`` is a small sanity run. Figure 2 needs MariaDB and RabbitMQ
running (``./run`` starts them). The exit status is 1 when a figure's run was not correct (ports
not up, VLANs missing, an agent dead, a cycle not served), not for a slow or growing figure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from benchmarks import common
from powervm_openstack.deploy.child import ServiceUnavailable

FIGURES = ("heal", "fleet", "memory")
FULL = {"partitions": 1000, "ports": 2000, "vlans": 100, "latency": "0/0,50/300", "agents": 20, "window": 180.0,
        "report_interval": 30, "cycle": 20.0, "cycles": 10_000, "sample_every": 1000, "trace_last": 1000}  # fmt: skip
QUICK = {"partitions": 40, "ports": 80, "vlans": 10, "latency": "0/0,5/30", "agents": 2, "window": 30.0,
         "report_interval": 10, "cycle": 10.0, "cycles": 200, "sample_every": 50, "trace_last": 50}  # fmt: skip
WORK_ROOT = Path(__file__).resolve().parents[1] / ".work"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale", description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add(
        "--quick",
        action="store_true",
        help="a small sanity run (" + ", ".join(f"{k} {v}" for k, v in QUICK.items()) + ")",
    )
    add("--only", default=",".join(FIGURES), help=f"comma-separated figures to run, of {', '.join(FIGURES)} (all)")
    add("--partitions", type=int, help=f"heal: partitions on the host, at most 1000 (full: {FULL['partitions']})")
    add("--ports", type=int, help=f"heal: client adapters on ETHERNET0 (full: {FULL['ports']})")
    add("--vlans", type=int, help=f"heal: VLANs the adapters are spread over (full: {FULL['vlans']})")
    add("--managed", type=float, default=0.75, help="heal: fraction of the adapters that are neutron ports (0.75)")
    add("--latency", help=f"heal: REST latencies to run, read/write ms, comma-separated (full: {FULL['latency']})")
    add("--rest-workers", type=int, default=8, help="heal: the agent's rest_workers (8, its default)")
    add("--agents", type=int, help=f"fleet: simulated hosts, one agent each (full: {FULL['agents']})")
    add("--window", type=float, help=f"fleet: seconds measured (full: {FULL['window']:g})")
    add("--report-interval", type=int, help=f"fleet: agents' report_interval s (full: {FULL['report_interval']})")
    add(
        "--cycle", type=float, help=f"fleet: seconds between two plug/unplug cycles of a host (full: {FULL['cycle']:g})"
    )
    add("--work-dir", type=Path, default=WORK_ROOT, help="fleet: where configurations and logs go (.work)")
    add("--cycles", type=int, help=f"memory: plug/unplug cycles (full: {FULL['cycles']})")
    add("--sample-every", type=int, help=f"memory: cycles between two samples (full: {FULL['sample_every']})")
    add("--trace-last", type=int, help=f"memory: cycles traced after the sampled ones (full: {FULL['trace_last']})")
    add("--verbose", action="store_true", help="log the agents' decisions to stderr")
    args = parser.parse_args(argv)
    common.fill_defaults(args, QUICK, FULL)
    _check(parser, args)
    return args


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    args.figures = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = [f for f in args.figures if f not in FIGURES]
    if unknown or not args.figures:
        parser.error(f"--only {args.only!r}: pick from {', '.join(FIGURES)}")
    try:
        args.latencies = tuple(_latency(text) for text in args.latency.split(","))
    except ValueError:
        parser.error(f"--latency {args.latency!r}: expected read/write milliseconds, e.g. 0/0,50/300")
    if not 7 <= args.partitions <= 1000 or args.ports < 1 or args.vlans < 1 or not 0 <= args.managed <= 1:
        parser.error("--partitions must be 7-1000, --ports and --vlans at least 1, --managed within 0-1")
    if args.vlans > 280:
        parser.error(f"--vlans {args.vlans}: one SEA pair carries at most 15 trunks of 20 VLANs, minus room")
    if args.agents < 1 or args.window <= 0 or args.cycle <= 0 or args.report_interval < 1:
        parser.error("--agents, --window, --cycle and --report-interval must be positive")
    if args.cycles < 1 or args.sample_every < 1 or args.trace_last < 0:
        parser.error("--cycles and --sample-every must be at least 1, --trace-last not negative")


def _latency(text: str) -> common.Latency:
    read, write = (float(part) for part in text.split("/"))
    if read < 0 or write < 0:
        raise ValueError(text)
    return common.Latency(write_ms=write, read_ms=read)


def heal_report(args: argparse.Namespace) -> tuple[str, bool]:
    from benchmarks import scale_heal
    from benchmarks.scale_topology import LargeHost

    host = LargeHost(args.partitions, args.ports, args.vlans, args.managed)
    result = scale_heal.run(scale_heal.HealParams(host, args.latencies, args.rest_workers))
    headers, by_kind = scale_heal.calls_by_kind(result)
    lines = [
        f"Figure 1, heal at scale: {args.partitions} partitions (NovaLink, 2 VIOSes, {host.client_partitions()} client "
        f"LPARs), {args.ports} client adapters on ETHERNET0 over {args.vlans} VLANs, {result.managed} of them neutron "
        f"ports ({result.wanted_vlans} VLANs wanted), {result.unmanaged} not OpenStack's; failover SEA pair; "
        f"rest_workers {args.rest_workers}; the simulator is its own process",
        "",
        common.table(scale_heal.HEADERS, scale_heal.rows(result)),
        "",
        "REST calls by kind:",
        common.table(headers, by_kind),
        "",
        "agent CPU: this process (agent + pypowervm), summed over its threads; sim CPU: the powervm-sim process; "
        "% of the heal's wall time",
        *scale_heal.notes(result),
    ]
    ok = all(r.not_up == 0 and r.vlans_missing == 0 for r in result.runs)
    return "\n".join(lines), ok


def fleet_report(args: argparse.Namespace) -> tuple[str, bool]:
    from benchmarks import scale_fleet

    params = scale_fleet.FleetParams(args.work_dir, args.agents, args.window, args.report_interval, args.cycle)
    try:
        result = scale_fleet.run(params)
    except ServiceUnavailable as exc:
        return f"Figure 2 not measured: {exc}", False
    headers, by_kind = scale_fleet.by_method(result)
    lines = [
        f"Figure 2, agents on one neutron: {args.agents} simulated hosts (default topology), each with its own "
        "powervm-sea-agent process, on one neutron server (API: gunicorn, 1 worker; neutron-rpc-server: 1 RPC worker "
        f"+ 1 state-report worker; MariaDB, RabbitMQ); report_interval {args.report_interval} s; load per host: one "
        f"plug + one unplug every {args.cycle:g} s; measured over {result.window_s:.0f} s once every agent was alive "
        f"and had healed (start-up took {result.start_s:.0f} s)",
        "",
        common.table(scale_fleet.HEADERS, scale_fleet.rows(result)),
        "",
        "Messages per minute per agent, by kind (mean over the agents):",
        common.table(headers, by_kind),
        "",
        "Messages counted agent-side from oslo.messaging's DEBUG log lines (every message sent, reply received, cast "
        "received). CPU: utime+stime over the window as % of one core; RPC server: neutron-rpc-server and its workers "
        "(what the agents cost); API: gunicorn and its worker, serving the load's port create/show/delete (nova's "
        "part); MariaDB and RabbitMQ not included.",
    ]
    # correct: every agent alive and every port served; how many were served by the next cycle is a figure
    ok = result.alive_at_end == args.agents and result.never_active == 0
    return "\n".join(lines), ok


def memory_report(args: argparse.Namespace) -> tuple[str, bool]:
    from benchmarks import scale_memory

    params = scale_memory.MemoryParams(args.cycles, args.sample_every, args.trace_last)
    result = scale_memory.run(params)
    lines = [
        f"Figure 3, agent memory: {args.cycles} plug/unplug cycles of new ports (a new MAC each) over "
        f"{params.vlans} VLANs, each VLAN added at plug and removed at unplug; the agent in-process with a stub "
        "neutron, events through pypowervm's listener; default topology, no added latency",
        "",
        common.table(scale_memory.HEADERS, scale_memory.rows(result)),
        "",
        *scale_memory.verdict(result),
        "RSS is this process: the agent, its pypowervm client and the driver's (sampled after a garbage collection).",
    ]
    return "\n".join(lines), result.failed_cycles == 0 and bool(result.samples)


REPORTS = {"heal": heal_report, "fleet": fleet_report, "memory": memory_report}


def main(argv: list[str]) -> int:
    """Run the chosen figures and print their tables; 0 when every run was correct, else 1."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")  # fmt: skip
    if not args.verbose:  # pypowervm warns on every http logon; the agent on its empty bridge_mappings
        for name in ("pypowervm", "powervm_openstack.network.bridges"):
            logging.getLogger(name).setLevel(logging.ERROR)
    ok = True
    for figure in args.figures:
        text, correct = REPORTS[figure](args)
        print(text + "\n", flush=True)
        ok = ok and correct
    return 0 if ok else 1
