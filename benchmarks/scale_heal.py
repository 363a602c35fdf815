"""Figure 1, heal at scale: one SEA agent's full heal on a host with ~1,000 partitions.

A :class:`~benchmarks.scale_topology.LargeHost` is served by a ``powervm-sim`` process (with the
given REST latency); the real ``SeaAgent`` runs in this process with :class:`StubNeutron`
answering the managed ports as bound VLAN ports on physnet ``default``. Two heals are measured
one after the other: the first converges the bridge (adds the wanted VLANs), the next finds
nothing to change. The agent's event listener is subscribed: the first heal is the cold scan of a
starting agent, the next one a periodic heal from the event-fed view. Per heal: wall time, this process's CPU time (the agent and its pypowervm
client: the simulator is another process), the simulator's CPU time, REST calls by kind (the
simulator's ``/sim/stats``), neutron RPCs, ports marked up; after both, the VLANs missing on
either SEA.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from pypowervm import adapter as pvm_adapter
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from benchmarks import common
from benchmarks.scale_common import StubNeutron, agent_conf, cpu_seconds, in_process_agent, logoff
from benchmarks.scale_topology import LargeHost, managed_ports
from powervm_openstack.network.agent import base as agent_base


@dataclasses.dataclass(frozen=True)
class HealParams:
    host: LargeHost
    latencies: tuple[common.Latency, ...]
    rest_workers: int = 8


@dataclasses.dataclass(frozen=True)
class HealRun:
    """One measured heal."""

    name: str
    latency: common.Latency
    wall_s: float
    agent_cpu_s: float
    sim_cpu_s: float
    calls: Counter[str]
    rpcs: int
    marked_up: int
    not_up: int
    vlans_missing: int = 0

    @property
    def rest_calls(self) -> int:
        return sum(self.calls.values())


@dataclasses.dataclass(frozen=True)
class HealResult:
    params: HealParams
    managed: int
    unmanaged: int
    wanted_vlans: int
    runs: list[HealRun]


def run(params: HealParams) -> HealResult:
    """Both heals at each latency, each latency on a fresh simulator."""
    ports = params.host.ports()
    managed = managed_ports(ports)
    runs: list[HealRun] = []
    with tempfile.TemporaryDirectory(prefix="pvm-scale-heal-") as tmp:
        path = params.host.write(Path(tmp) / "large-host.yaml")
        for latency in params.latencies:
            runs += _heals(params, str(path), latency, managed)
    return HealResult(params, len(managed), len(ports) - len(managed), len(set(managed.values())), runs)


def _heals(params: HealParams, topology: str, latency: common.Latency, managed: dict[str, int]) -> list[HealRun]:
    with common.simulated_host(topology, latency, name="sim-heal") as host:
        adapter = host.connect()
        try:
            neutron = StubNeutron(managed)
            agent = in_process_agent(agent_conf(rest_workers=params.rest_workers), adapter, neutron)
            # As on a host: the agent's event listener keeps its view; the next heal re-reads what events named.
            adapter.session.get_event_listener().subscribe(agent_base._EventHandler(agent))
            first = _measure("first heal", latency, host, neutron, lambda: agent.heal("agent start"))
            time.sleep(2)  # the first heal's own bridge update comes back as events (its echo) meanwhile
            following = _measure("next heal", latency, host, neutron, lambda: agent.heal(agent_base.PERIODIC_HEAL))
            missing = vlans_missing(adapter, set(managed.values()))
        finally:
            logoff(adapter)
    return [dataclasses.replace(r, vlans_missing=missing) for r in (first, following)]


def _measure(
    name: str, latency: common.Latency, host: common.SimulatedHost, neutron: StubNeutron, heal: Callable[[], None]
) -> HealRun:
    """Run ``heal`` once and take its figures from the simulator's counts, the CPU clocks and the stub."""
    sim_pid = host.process.child.pid
    before, rpcs, marked = host.requests_served(), sum(neutron.calls.values()), neutron.marked["up"]
    sim_cpu, cpu, start = cpu_seconds([sim_pid], children=False), time.process_time(), time.monotonic()
    heal()
    wall, cpu = time.monotonic() - start, time.process_time() - cpu
    sim_cpu = cpu_seconds([sim_pid], children=False) - sim_cpu
    calls = common.diff(host.requests_served(), before)
    not_up = len(set(neutron.ports) - neutron.up())
    return HealRun(name, latency, wall, cpu, sim_cpu, calls, sum(neutron.calls.values()) - rpcs,
                   neutron.marked["up"] - marked, not_up)  # fmt: skip


def vlans_missing(adapter: pvm_adapter.Adapter, wanted: set[int]) -> int:
    """How many ``wanted`` VLANs are not on every SEA of the host's first bridge (0 when correct)."""
    bridge = pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=adapter.sys_uuid)[0]
    carried = [{v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans} for sea in bridge.seas]
    return len(wanted - set.intersection(*carried)) if carried else len(wanted)


HEADERS = ("heal", "latency r/w ms", "wall s", "agent CPU s", "agent CPU %", "sim CPU s", "sim CPU %",
           "REST calls", "GET CNA", "other GET", "POST", "neutron RPCs", "marked up", "not up",
           "VLANs missing")  # fmt: skip


def rows(result: HealResult) -> list[list[object]]:
    """One table row per measured heal."""
    out = []
    for r in result.runs:
        cna = r.calls.get("GET ClientNetworkAdapter", 0)
        gets = sum(n for k, n in r.calls.items() if k.startswith("GET "))
        posts = sum(n for k, n in r.calls.items() if not k.startswith("GET "))
        out.append([r.name, f"{r.latency.read_ms:g}/{r.latency.write_ms:g}", r.wall_s, r.agent_cpu_s,
                    100 * r.agent_cpu_s / r.wall_s, r.sim_cpu_s, 100 * r.sim_cpu_s / r.wall_s, r.rest_calls, cna,
                    gets - cna, posts, r.rpcs, r.marked_up, r.not_up, r.vlans_missing])  # fmt: skip
    return out


def calls_by_kind(result: HealResult) -> tuple[list[str], list[list[object]]]:
    """Headers and rows of the REST calls of each heal, by kind."""
    kinds = sorted(set().union(*(r.calls for r in result.runs)))
    data = [[f"{r.name} ({r.latency.read_ms:g}/{r.latency.write_ms:g})", *(r.calls.get(k, 0) for k in kinds)]
            for r in result.runs]  # fmt: skip
    return ["", *kinds], data


def notes(result: HealResult) -> list[str]:
    """Where the time goes, derived from the CPU columns."""
    lines = []
    for r in result.runs:
        if r.latency.read_ms == 0 and r.sim_cpu_s > 0.8 * r.wall_s:
            lines.append(f"{r.name} without latency: the simulator was busy {100 * r.sim_cpu_s / r.wall_s:.0f} % "
                         "of the wall time: it, not the agent, bounds this heal.")  # fmt: skip
    return lines
