"""The two sides of the network benchmark, each serving one burst of plugs on a simulated host as it runs
on a NovaLink host.

Both sides get the same schedule: each port is bound in neutron (``lead_s`` before its plug; 0:
at its plug), then the compute side creates its client adapter through ``SeaVifDriver.plug`` and
posts the plug event. Each side has its own pypowervm session with its event listener subscribed,
so it sees every event the host makes: the adapters' creation, the plug events and the echoes of
its own bridge updates.

*ours*: the real :class:`~powervm_openstack.network.agent.sea.SeaAgent`: its event intake, its
``port_update`` intake, its ``run_once`` batches.
*reference*: the retired agent's way: plug events from its listener, batched with the same
:class:`PendingChanges` and window, then ``network_bridger.ensure_vlans_on_nb`` once per bridge
and the batch's ports ACTIVE. It ignores ``port_update`` (as networking-powervm did).
REST calls are counted per batch on the serving thread (:class:`RequestCounter`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from oslo_config import cfg
from pypowervm import adapter as pvm_adapter
from pypowervm.tasks import network_bridger
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from benchmarks.common import SimulatedHost
from benchmarks.network_host import Compute, Plug, RequestCounter
from benchmarks.scale_common import logoff
from powervm_openstack.network.agent import base as agent_base
from powervm_openstack.network.agent import config as agent_config
from powervm_openstack.network.agent.pending import PLUG, Batch, PendingChanges
from powervm_openstack.network.agent.sea import SeaAgent
from powervm_openstack.pvm import vif_event

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """``plugs`` plugs over ``vlans`` VLANs at random within ``burst_s``; each bound ``lead_s`` before."""

    plugs: int
    vlans: int
    burst_s: float
    batch_window: float
    seed: int
    lead_s: float = 0.0
    lpars: int = 20
    first_vlan: int = 1100

    def schedule(self, run: int = 0) -> list[Plug]:
        """The same times and VLANs for every side (seeded); MACs differ per ``run`` (one neutron serves all)."""
        rng = random.Random(self.seed)
        vlans = [self.first_vlan + i % self.vlans for i in range(self.plugs)]
        rng.shuffle(vlans)
        times = sorted(self.lead_s + rng.uniform(0, self.burst_s) for _ in range(self.plugs))
        return [Plug(at, vif_event.norm_mac(f"fa16{run:02x}{i:06x}"), vlan, i, f"port-{run}-{i}")
                for i, (at, vlan) in enumerate(zip(times, vlans, strict=True))]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class BatchRecord:
    plugs: int
    bindings: int
    calls: Counter[str]

    @property
    def calls_per_bridge(self) -> float:
        return float(sum(self.calls.values()))  # one bridge in this scenario


@dataclasses.dataclass(frozen=True)
class Result:
    name: str
    batches: list[BatchRecord]
    latencies: list[float]
    total_s: float
    not_active: int
    missing_vlans: int = 0
    deliveries: list[float] = dataclasses.field(default_factory=list)  # plug posted -> the side's listener has it
    rpc_calls: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # real neutron: RPC -> durations


class BatchMeter:
    """The REST calls of each batch, counted on the serving thread."""

    def __init__(self, counter: RequestCounter) -> None:
        self.counter = counter
        self.records: list[BatchRecord] = []

    def measure(self, plugs: int, bindings: int, serve: Callable[[], None]) -> None:
        before = self.counter.snapshot()
        try:
            serve()
        finally:
            calls = self.counter.snapshot()
            calls.subtract(before)
            self.records.append(BatchRecord(plugs, bindings, +calls))


class _MeasuredSeaAgent(SeaAgent):
    meter: BatchMeter | None = None

    def serve(self, batch: Batch) -> None:
        if self.meter is None:
            return super().serve(batch)
        self.meter.measure(len(batch.plugs()), len(batch.bindings), lambda: SeaAgent.serve(self, batch))


class DeliveryClock(pvm_adapter.RawEventHandler):
    """When a side's event listener got each plug event; then hands the events to the side's own handler.

    One handler per listener: pypowervm's ``shutdown`` unsubscribes only every other handler of a list,
    so a second one would keep the listener's (non-daemon) thread alive.
    """

    def __init__(self, side: pvm_adapter.RawEventHandler) -> None:
        self.side = side
        self.seen: dict[str, float] = {}

    def process(self, events: list[dict[str, str]]) -> None:
        now = time.monotonic()
        for event in events:
            vif = vif_event.parse(event.get("EventType", ""), event.get("EventData", ""), event.get("EventDetail", ""))
            if vif is not None and vif.action == "plug":
                self.seen.setdefault(vif.mac, now)
        self.side.process(events)


def agent_conf(window: float, host: str) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default=host))
    agent_config.register_opts(conf)
    conf([], project="powervm-benchmark", default_config_files=[])
    conf.set_override("batch_window", window, group=agent_config.GROUP)
    return conf


def counted_adapter(host: SimulatedHost) -> tuple[pvm_adapter.Adapter, RequestCounter]:
    counter = RequestCounter()
    return pvm_adapter.Adapter(host.connect().session, helpers=[counter.helper]), counter


def run_ours(scenario: Scenario, host: SimulatedHost, neutron: Any, run: int) -> Result:
    """The SEA agent with its listener subscribed and its port_update intake fed; start-up heal not measured."""
    plugs = neutron.prepare(scenario.schedule(run))
    adapter, counter = counted_adapter(host)
    agent = _MeasuredSeaAgent(agent_conf(scenario.batch_window, neutron.host), adapter)
    agent.host_uuid = adapter.sys_uuid
    agent.setup()
    agent.rpc = neutron.rpc(agent)
    clock = DeliveryClock(agent_base._EventHandler(agent))
    adapter.session.get_event_listener().subscribe(clock)
    agent.pending.resync("benchmark start")
    counter.thread = threading.current_thread()
    agent.run_once(timeout=1.0)
    neutron.started(agent.state(True))
    agent.meter = BatchMeter(counter)
    try:
        return _run("ours", scenario, plugs, neutron, host, agent.run_once, agent.meter, counter, adapter, clock)
    finally:
        neutron.stop(agent)
        agent.stop()
        logoff(adapter)


class _ReferenceEvents(pvm_adapter.RawEventHandler):
    """networking-powervm's VIF event handler: a plug event of type pvm_sea becomes a request."""

    def __init__(self, pending: PendingChanges) -> None:
        self.pending = pending

    def process(self, events: list[dict[str, str]]) -> None:
        for event in events:
            vif = vif_event.parse(event.get("EventType", ""), event.get("EventData", ""), event.get("EventDetail", ""))
            if vif is not None and vif.vif_type == "pvm_sea" and vif.action == "plug":
                self.pending.port(vif.mac, PLUG, vif.uri)


def run_reference(scenario: Scenario, host: SimulatedHost, neutron: Any, run: int) -> Result:
    """``ensure_vlans_on_nb`` once per bridge per batch, then the batch's ports ACTIVE."""
    plugs = neutron.prepare(scenario.schedule(run))
    adapter, counter = counted_adapter(host)
    host_uuid = adapter.sys_uuid
    bridge_uuid = pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=host_uuid)[0].uuid
    pending = PendingChanges()
    meter = BatchMeter(counter)
    rpc = neutron.rpc(None)
    clock = DeliveryClock(_ReferenceEvents(pending))
    adapter.session.get_event_listener().subscribe(clock)
    neutron.started({"binary": "networking-powervm-sharedethernet-agent", "host": neutron.host, "topic": "N/A",
                     "agent_type": "PowerVM Shared Ethernet agent", "start_flag": True,
                     "configurations": {"bridge_mappings": {"default": bridge_uuid}}})  # fmt: skip

    def serve(batch: Batch) -> None:
        macs = [c.mac for c in batch.plugs()]
        by_bridge: dict[str, set[int]] = defaultdict(set)
        for detail in rpc.device_details(macs):
            if detail.get("physical_network") == "default":
                by_bridge[bridge_uuid].add(int(detail["segmentation_id"]))
        for uuid, vlans in by_bridge.items():
            network_bridger.ensure_vlans_on_nb(adapter, host_uuid, uuid, vlans)
        rpc.set_status(macs, [])

    def step(timeout: float) -> None:
        batch = pending.take(timeout=timeout, window=scenario.batch_window)
        if not batch:
            return
        try:
            meter.measure(len(batch.plugs()), 0, lambda: serve(batch))
        except Exception:
            LOG.exception("Reference batch of %d plug(s) failed; retrying", len(batch.plugs()))
            pending.put_back(batch)

    try:
        return _run("reference", scenario, plugs, neutron, host, step, meter, counter, adapter, clock)
    finally:
        neutron.stop(None)
        logoff(adapter)


def missing_vlans(adapter: pvm_adapter.Adapter, plugs: list[Plug]) -> int:
    """How many of the plugs' VLANs are not on every SEA of the bridge after the run (0 when correct)."""
    bridge = pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=adapter.sys_uuid)[0]
    wanted = {p.vlan for p in plugs}
    carried = [{v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans} for sea in bridge.seas]
    return len(wanted - set.intersection(*carried)) if carried else len(wanted)


def _run(name: str, scenario: Scenario, plugs: list[Plug], neutron: Any, host: SimulatedHost,
         step: Callable[[float], None], meter: BatchMeter, counter: RequestCounter,
         adapter: pvm_adapter.Adapter, clock: DeliveryClock) -> Result:  # fmt: skip
    """Serve on a worker thread while bindings and plugs happen on schedule; wait until all are ACTIVE."""
    done = threading.Event()
    worker = threading.Thread(target=lambda: _loop(step, done), name=f"{name}-worker", daemon=True)
    counter.thread = worker
    worker.start()
    compute_adapter = host.connect()
    compute = Compute(compute_adapter)
    plugged: dict[str, float] = {}
    timeline = sorted([(p.at - scenario.lead_s, "bind", p) for p in plugs] + [(p.at, "plug", p) for p in plugs],
                      key=lambda item: (item[0], item[1]))  # fmt: skip
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix=f"{name}-nova") as pool:
        futures, bound = [], {}
        for at, what, plug in timeline:
            time.sleep(max(0.0, start + at - time.monotonic()))
            if what == "bind":
                futures.append(bound.setdefault(plug.mac, pool.submit(neutron.bind, plug)))
            else:  # nova binds a port before it plugs the VIF: the plug waits for its binding's answer
                futures.append(pool.submit(lambda p=plug: (bound[p.mac].result(),
                                                           plugged.__setitem__(p.mac, compute.plug(p)))))  # fmt: skip
        for future in futures:
            future.result()
    deadline = time.monotonic() + 120 + 2 * scenario.plugs
    while time.monotonic() < deadline and len(neutron.active_of(plugged)) < len(plugged):
        time.sleep(0.1)
    done.set()
    worker.join(timeout=60)
    active = neutron.active_of(plugged)
    latencies = [active[m] - t for m, t in plugged.items() if m in active]
    end = max(active.values(), default=time.monotonic())
    missing = missing_vlans(adapter, plugs)
    logoff(compute_adapter)
    deliveries = [clock.seen[m] - t for m, t in plugged.items() if m in clock.seen]
    rpc_calls = neutron.rpc_calls() if hasattr(neutron, "rpc_calls") else {}
    return Result(name, meter.records, latencies, end - start, len(plugged) - len(latencies), missing, deliveries,
                  rpc_calls)  # fmt: skip


def _loop(step: Callable[[float], None], done: threading.Event) -> None:
    while not done.is_set():
        step(0.1)
