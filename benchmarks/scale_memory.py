"""Figure 3, agent memory over many plug/unplug cycles.

The real ``SeaAgent`` runs in this process with :class:`StubNeutron`, on the default topology of
a ``powervm-sim`` process, and takes its work from pypowervm's event listener as in production.
One cycle, played by a second pypowervm client as the compute driver would: a new port (a MAC
never used before) on the next VLAN of a pool, its client adapter created on a partition and
the plug event posted; the agent's own ``run_once`` serves it until the port is marked up; then
the adapter deleted and the unplug event posted, served until the port is marked down. Every
VLAN of the pool is used by this port only, so each plug adds the VLAN to both SEAs and each
unplug removes it (a host re-scan, then a bridge update): the agent's every per-port structure
is exercised.

Every ``sample_every`` cycles (after a garbage collection): RSS, the blocks Python's allocator
holds (``sys.getallocatedblocks``: one leaked object per cycle shows as one block per cycle) and
the objects the collector tracks. The growth is taken from the first sample (the warm-up) on.
``tracemalloc`` slows the agent 2-3 times and its own tables would count in RSS, so it runs only
after the sampled cycles, over ``trace_last`` more: the first half warms it up, the second half
is compared with it, which gives the traced growth per cycle and the allocation sites that grew.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable

from pypowervm import adapter as pvm_adapter
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from benchmarks import common
from benchmarks.scale_common import StubNeutron, agent_conf, in_process_agent, logoff, rss_mb
from powervm_openstack.network.agent.sea import SeaAgent
from powervm_openstack.pvm import vif_event

_SERVE_TIMEOUT = 60.0
#: Cycles before RSS settles: it rises 2-2.5 MiB over the first 600-3,000 cycles, then stays flat.
_WARMUP = 1_000


@dataclasses.dataclass(frozen=True)
class MemoryParams:
    cycles: int = 10_000
    sample_every: int = 1_000
    trace_last: int = 1_000  # cycles run under tracemalloc after the sampled ones (0: none)
    vlans: int = 20
    first_vlan: int = 1500
    rss_tolerance_mb: float = 1.0  # RSS growth over the later half of the samples (after a one-off settling)
    blocks_tolerance: float = 0.1  # allocated blocks per cycle ...
    blocks_floor: int = 1_000  # ... but never less than this many in all (the count moves by a few hundred)
    traced_tolerance: float = 32.0  # traced bytes per cycle in the second half of the traced cycles


@dataclasses.dataclass(frozen=True)
class Sample:
    cycle: int
    elapsed_s: float
    rss_mb: float
    blocks: int
    gc_objects: int
    agent_ports: int
    agent_adapters: int


@dataclasses.dataclass(frozen=True)
class Traced:
    """What tracemalloc saw over the last cycles: growth in bytes and the sites that grew most."""

    cycles: int  # compared: the second half
    growth_bytes: int
    top: list[str]
    warmup: int = 0  # the first half

    @property
    def per_cycle(self) -> float:
        return self.growth_bytes / max(1, self.cycles)


@dataclasses.dataclass(frozen=True)
class MemoryResult:
    params: MemoryParams
    samples: list[Sample]
    traced: Traced | None
    failed_cycles: int

    @property
    def span(self) -> int:
        return max(1, self.samples[-1].cycle - self.samples[0].cycle)

    @property
    def rss_growth_mb(self) -> float:
        return self.samples[-1].rss_mb - self.samples[0].rss_mb

    @property
    def middle(self) -> Sample:
        """The first sample at or past half the sampled cycles: where the later half starts."""
        return next(s for s in self.samples if s.cycle >= self.samples[-1].cycle / 2)

    @property
    def rss_tail_mb(self) -> float:
        """RSS growth over the later half: a leak grows there as in the first, a one-off settling does not."""
        return self.samples[-1].rss_mb - self.middle.rss_mb

    @property
    def blocks_growth(self) -> int:
        return self.samples[-1].blocks - self.samples[0].blocks

    def over_tolerance(self) -> list[str]:
        """The measures that grew beyond their tolerance (empty: no growth)."""
        p, over = self.params, []
        if self.rss_tail_mb > p.rss_tolerance_mb:
            over.append(f"RSS {self.rss_tail_mb:+.2f} MiB over the later half > {p.rss_tolerance_mb:g} MiB")
        allowed = max(p.blocks_floor, p.blocks_tolerance * self.span)
        if self.blocks_growth > allowed:
            over.append(f"allocated blocks {self.blocks_growth:+d} > {allowed:.0f}")
        if self.traced and self.traced.per_cycle > p.traced_tolerance:
            over.append(f"traced heap {self.traced.per_cycle:+.1f} B/cycle > {p.traced_tolerance:g}")
        return over


class _Events(pvm_adapter.RawEventHandler):
    """Hands pypowervm's events to the agent (what the agent's own start-up subscribes)."""

    def __init__(self, agent: SeaAgent) -> None:
        self.agent = agent

    def process(self, events: list[dict[str, str]]) -> None:
        self.agent.on_events(events)


class Driver:
    """The compute side: creates and deletes client adapters, posts the VIF events."""

    def __init__(self, adapter: pvm_adapter.Adapter) -> None:
        self.adapter = adapter
        self.lpars = [
            p.uuid for p in pvm_lpar.LPAR.get(adapter) if not p.is_mgmt_partition and common.takes_adapters(p)
        ]
        switches = pvm_net.VSwitch.get(adapter, parent_type=pvm_ms.System, parent_uuid=adapter.sys_uuid)
        self.vswitch_href = next(s.related_href for s in switches if s.name == pvm_net.VSW_DEFAULT_VSWITCH)

    def plug(self, cycle: int, mac: str, vlan: int) -> pvm_net.CNA:
        cna = pvm_net.CNA.bld(self.adapter, vlan, self.vswitch_href, mac_addr=vif_event.pvm_mac(mac))
        cna = cna.create(parent_type=pvm_lpar.LPAR, parent_uuid=self.lpars[cycle % len(self.lpars)])
        vif_event.post(self.adapter, cna.href, "plug", mac, "pvm_sea")
        return cna

    def unplug(self, cna: pvm_net.CNA, mac: str) -> None:
        cna.delete()
        vif_event.post(self.adapter, cna.href, "unplug", mac, "pvm_sea")


def run(params: MemoryParams) -> MemoryResult:
    """The cycles on a fresh simulator with no added latency."""
    with common.simulated_host("default", common.Latency(0.0, 0.0), name="sim-memory") as host:
        agent_client, driver_client = host.connect(), host.connect()
        try:
            return _cycles(params, agent_client, Driver(driver_client))
        finally:
            logoff(driver_client)
            logoff(agent_client)


def _cycles(params: MemoryParams, client: pvm_adapter.Adapter, driver: Driver) -> MemoryResult:
    neutron = StubNeutron()
    agent = in_process_agent(agent_conf(), client, neutron)
    client.session.get_event_listener().subscribe(_Events(agent))
    agent.pending.resync("benchmark start")
    agent.run_once(timeout=1.0)
    samples: list[Sample] = []
    failed, start = 0, time.monotonic()
    for cycle in range(1, params.cycles + 1):
        failed += not _cycle(cycle, params, agent, neutron, driver)
        if cycle % params.sample_every == 0 or cycle == params.cycles:
            samples.append(_sample(cycle, start, agent))
    traced = None
    if params.trace_last > 0:
        serve = functools.partial(_cycle, params=params, agent=agent, neutron=neutron, driver=driver)
        traced, missed = _traced(serve, params.cycles + 1, params.trace_last)
        failed += missed
    return MemoryResult(params, samples, traced, failed)


def _cycle(cycle: int, params: MemoryParams, agent: SeaAgent, neutron: StubNeutron, driver: Driver) -> bool:
    """One plug and one unplug of a new port; False when the agent did not serve either in time."""
    mac = vif_event.norm_mac(f"fa16{cycle:08x}")
    neutron.ports[mac] = params.first_vlan + cycle % params.vlans
    cna = driver.plug(cycle, mac, neutron.ports[mac])
    plugged = _serve_until(agent, lambda: neutron.status.get(mac) == "up")
    driver.unplug(cna, mac)
    unplugged = _serve_until(agent, lambda: neutron.status.get(mac) == "down")
    neutron.forget(mac)
    return plugged and unplugged


def _serve_until(agent: SeaAgent, done: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + _SERVE_TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            return False
        agent.run_once(timeout=0.5)
    return True


def _sample(cycle: int, start: float, agent: SeaAgent) -> Sample:
    gc.collect()
    return Sample(cycle, time.monotonic() - start, rss_mb(), sys.getallocatedblocks(), len(gc.get_objects()),
                  len(agent.ports), len(agent.adapters))  # fmt: skip


def _traced(serve: Callable[[int], bool], first: int, cycles: int, limit: int = 5) -> tuple[Traced, int]:
    """Serve ``cycles`` more under tracemalloc; compare the end with the middle. Returns the growth
    and how many of these cycles were not served in time."""
    half = max(1, cycles // 2)
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    tracemalloc.start()
    try:
        missed = sum(not serve(cycle) for cycle in range(first, first + half))
        gc.collect()
        middle = tracemalloc.take_snapshot().filter_traces(ignore)
        missed += sum(not serve(cycle) for cycle in range(first + half, first + cycles))
        gc.collect()
        stats = tracemalloc.take_snapshot().filter_traces(ignore).compare_to(middle, "lineno")
    finally:
        tracemalloc.stop()
    top = [f"{s.size_diff / 1024:+.1f} KiB in {s.count_diff:+d} blocks: {s.traceback[0].filename}:"
           f"{s.traceback[0].lineno}" for s in stats[:limit] if s.size_diff > 0]  # fmt: skip
    return Traced(cycles - half, sum(s.size_diff for s in stats), top, half), missed


HEADERS = ("cycle", "elapsed s", "RSS MiB", "allocated blocks", "gc objects", "agent ports", "agent adapters")


def rows(result: MemoryResult) -> list[list[object]]:
    return [[s.cycle, s.elapsed_s, s.rss_mb, s.blocks, s.gc_objects, s.agent_ports, s.agent_adapters]
            for s in result.samples]  # fmt: skip


def verdict(result: MemoryResult) -> list[str]:
    """The growth lines and the verdict (with the allocation sites that grew most when it grew)."""
    p, first, middle, last = result.params, result.samples[0], result.middle, result.samples[-1]
    lines = [f"Growth from cycle {first.cycle} to {last.cycle} (the first sample is the warm-up): RSS "
             f"{result.rss_growth_mb:+.2f} MiB (from cycle {middle.cycle} on: {result.rss_tail_mb:+.2f} MiB), "
             f"allocated blocks {result.blocks_growth:+d} ({result.blocks_growth / result.span:+.3f} per cycle), "
             f"gc objects {last.gc_objects - first.gc_objects:+d}; cycles not served in time: {result.failed_cycles}"]  # fmt: skip
    if result.traced:
        t = result.traced
        lines.append(f"tracemalloc, {t.warmup + t.cycles} more cycles after the samples, second half vs first: "
                     f"{t.growth_bytes / 1024:+.1f} KiB ({t.per_cycle:+.1f} bytes per cycle)")  # fmt: skip
    tolerance = (f"tolerance: RSS {p.rss_tolerance_mb:g} MiB over the later half; allocated blocks "
                 f"{p.blocks_tolerance:g} per cycle, at least {p.blocks_floor}; traced heap {p.traced_tolerance:g} "
                 "bytes per cycle")  # fmt: skip
    over = result.over_tolerance()
    verdict = (
        "Verdict" if first.cycle >= _WARMUP else f"Verdict (indicative: the warm-up, {first.cycle} cycles, is short)"
    )
    if not over:
        lines.append(f"{verdict}: no growth ({tolerance})")
        return lines
    lines.append(f"{verdict}: GROWTH ({'; '.join(over)}); the allocation sites that grew most while traced:")
    lines += [f"  {site}" for site in (result.traced.top if result.traced else [])]
    return lines
