"""The two sides of the network benchmark, each serving one burst of port plugs on a simulated host.

*ours*: the real :class:`~powervm_openstack.network.agent.sea.SeaAgent` in-process (event intake,
batching, planning, one bridge update), with neutron replaced by :class:`FakeNeutron`.
*reference*: the retired agent's way: per batch, the VLANs grouped by bridge and one
``pypowervm.tasks.network_bridger.ensure_vlans_on_nb`` per bridge, then the ports marked ACTIVE.
Both take batches with the same :class:`PendingChanges` and window, and count the REST calls each
batch made on the simulator's side.
"""

from __future__ import annotations

import dataclasses
import json
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

from benchmarks.common import SimulatedHost, diff
from powervm_openstack.network.agent import config as agent_config
from powervm_openstack.network.agent.pending import PLUG, Batch, PendingChanges
from powervm_openstack.network.agent.sea import SeaAgent
from powervm_openstack.pvm import vif_event

LOG = logging.getLogger(__name__)

PHYSNET = "default"
_BENCH_LPAR = "4C0C2A4E-0000-4000-8000-000000000001"


@dataclasses.dataclass(frozen=True)
class Plug:
    at: float
    mac: str
    vlan: int


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A burst of ``plugs`` port plugs over ``vlans`` VLANs, arriving at random within ``burst_s``."""

    plugs: int
    vlans: int
    burst_s: float
    batch_window: float
    seed: int
    topology: str = "default"
    first_vlan: int = 1100

    def schedule(self) -> list[Plug]:
        """The same plugs, times and VLANs for both sides (seeded)."""
        rng = random.Random(self.seed)
        vlans = [self.first_vlan + i % self.vlans for i in range(self.plugs)]
        rng.shuffle(vlans)
        times = sorted(rng.uniform(0, self.burst_s) for _ in range(self.plugs))
        return [Plug(at, vif_event.norm_mac(f"fa163e{i:06x}"), vlan) for i, (at, vlan) in enumerate(zip(times, vlans))]


@dataclasses.dataclass(frozen=True)
class BatchRecord:
    plugs: int
    bridges: int
    calls: Counter[str]

    @property
    def calls_per_bridge(self) -> float:
        return sum(self.calls.values()) / max(1, self.bridges)


@dataclasses.dataclass(frozen=True)
class Result:
    name: str
    batches: list[BatchRecord]
    latencies: list[float]
    total_s: float
    not_active: int
    missing_vlans: int = 0


class FakeNeutron:
    """Stands in for ``NeutronRpc``: port details from a dict; records when each port went ACTIVE."""

    def __init__(self, plugs: list[Plug]) -> None:
        self.details = {p.mac: {"device": p.mac, "mac_address": p.mac, "port_id": f"port-{i}", "network_type": "vlan",
                                "physical_network": PHYSNET, "segmentation_id": p.vlan}
                        for i, p in enumerate(plugs)}  # fmt: skip
        self.active: dict[str, float] = {}
        self.all_active = threading.Event()
        self._lock = threading.Lock()

    def device_details(self, macs: list[str]) -> list[dict[str, Any]]:
        return [self.details[m] if m in self.details else {"device": m} for m in macs]

    def set_status(self, up: list[str], down: list[str]) -> dict[str, list[str]]:
        now = time.monotonic()
        with self._lock:
            for mac in up:
                self.active.setdefault(mac, now)
            if len(self.active) >= len(self.details):
                self.all_active.set()
        return {"devices_up": list(up), "devices_down": list(down)}

    def bridges_of(self, macs: list[str]) -> int:
        return len({self.details[m]["physical_network"] for m in macs if m in self.details}) or 1


class BatchMeter:
    """Snapshots the simulator's request counts around each batch."""

    def __init__(self, host: SimulatedHost) -> None:
        self.host = host
        self.records: list[BatchRecord] = []

    def measure(self, plugs: int, bridges: int, serve: Callable[[], None]) -> None:
        before = self.host.requests_served()
        try:
            serve()
        finally:
            self.records.append(BatchRecord(plugs, bridges, diff(self.host.requests_served(), before)))


class _MeasuredSeaAgent(SeaAgent):
    meter: BatchMeter | None = None
    neutron: FakeNeutron | None = None

    def serve(self, batch: Batch) -> None:
        if self.meter is None or self.neutron is None:
            return super().serve(batch)
        macs = [c.mac for c in batch.plugs()]
        self.meter.measure(len(macs), self.neutron.bridges_of(macs), lambda: SeaAgent.serve(self, batch))


def _agent_conf(window: float) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default="bench-novalink"))
    agent_config.register_opts(conf)
    conf([], project="powervm-benchmark", default_config_files=[])
    conf.set_override("batch_window", window, group=agent_config.GROUP)
    return conf


def run_ours(scenario: Scenario, host: SimulatedHost) -> Result:
    """The SEA agent serving the burst; its start-up heal is done first and not measured."""
    plugs = scenario.schedule()
    neutron = FakeNeutron(plugs)
    agent = _MeasuredSeaAgent(_agent_conf(scenario.batch_window), host.connect())
    agent.host_uuid = agent.adapter.sys_uuid
    agent.setup()
    agent.rpc = neutron  # type: ignore[assignment]
    agent.pending.resync("benchmark start")
    agent.run_once(timeout=1.0)
    agent.meter, agent.neutron = BatchMeter(host), neutron
    # The agent needs only the MAC of a plug event; the adapter URI it carries is made up and never read.
    lpar_href = f"{host.url}/rest/api/uom/LogicalPartition/{_BENCH_LPAR}/ClientNetworkAdapter/"

    def arrive(plug: Plug) -> None:
        detail = json.dumps({"provider": vif_event.PROVIDER, "action": "plug", "mac": plug.mac, "type": "pvm_sea"})
        agent.on_events(
            [{"EventType": "CUSTOM_CLIENT_EVENT", "EventData": lpar_href + plug.mac, "EventDetail": detail}]
        )

    result = _run("ours", scenario, plugs, neutron, arrive, lambda: agent.run_once(timeout=0.1), agent.meter)
    return dataclasses.replace(result, missing_vlans=missing_vlans(agent.adapter, agent.host_uuid, plugs))


def run_reference(scenario: Scenario, host: SimulatedHost) -> Result:
    """``ensure_vlans_on_nb`` once per bridge per batch, then the batch's ports ACTIVE."""
    plugs = scenario.schedule()
    neutron = FakeNeutron(plugs)
    adapter = host.connect()
    host_uuid = adapter.sys_uuid
    bridge_uuid = pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=host_uuid)[0].uuid
    pending, meter = PendingChanges(), BatchMeter(host)

    def serve(batch: Batch) -> None:
        macs = [c.mac for c in batch.plugs()]
        by_bridge: dict[str, set[int]] = defaultdict(set)
        for detail in neutron.device_details(macs):
            if detail.get("physical_network") == PHYSNET:
                by_bridge[bridge_uuid].add(int(detail["segmentation_id"]))
        for uuid, vlans in by_bridge.items():
            network_bridger.ensure_vlans_on_nb(adapter, host_uuid, uuid, vlans)
        neutron.set_status(macs, [])

    def step() -> None:
        batch = pending.take(timeout=0.1, window=scenario.batch_window)
        if not batch:
            return
        macs = [c.mac for c in batch.plugs()]
        try:
            meter.measure(len(macs), neutron.bridges_of(macs), lambda: serve(batch))
        except Exception:
            LOG.exception("Reference batch of %d plug(s) failed; retrying", len(macs))
            pending.put_back(batch)

    result = _run("reference", scenario, plugs, neutron, lambda p: pending.port(p.mac, PLUG), step, meter)
    return dataclasses.replace(result, missing_vlans=missing_vlans(adapter, host_uuid, plugs))


def missing_vlans(adapter: pvm_adapter.Adapter, host_uuid: str, plugs: list[Plug]) -> int:
    """How many of the plugs' VLANs are not on every SEA of the bridge after the run (0 when correct)."""
    bridge = pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=host_uuid)[0]
    wanted = {p.vlan for p in plugs}
    carried = [{v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans} for sea in bridge.seas]
    return len(wanted - set.intersection(*carried)) if carried else len(wanted)


def _run(
    name: str,
    scenario: Scenario,
    plugs: list[Plug],
    neutron: FakeNeutron,
    arrive: Callable[[Plug], None],
    step: Callable[[], None],
    meter: BatchMeter,
) -> Result:
    """Serve on a worker thread while the plugs arrive on schedule; wait until all are ACTIVE."""
    done = threading.Event()
    worker = threading.Thread(target=lambda: _loop(step, done), name=f"{name}-worker", daemon=True)
    worker.start()
    plugged: dict[str, float] = {}
    start = time.monotonic()
    for plug in plugs:
        time.sleep(max(0.0, start + plug.at - time.monotonic()))
        plugged[plug.mac] = time.monotonic()
        arrive(plug)
    neutron.all_active.wait(timeout=scenario.burst_s + 120 + 2 * scenario.plugs)
    done.set()
    worker.join(timeout=60)
    latencies = [neutron.active[m] - t for m, t in plugged.items() if m in neutron.active]
    end = max(neutron.active.values(), default=time.monotonic())
    return Result(name, meter.records, latencies, end - start, len(plugged) - len(latencies))


def _loop(step: Callable[[], None], done: threading.Event) -> None:
    while not done.is_set():
        step()
