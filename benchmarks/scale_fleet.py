"""Figure 2, many agents on one neutron: RPC load per agent and the neutron server's CPU.

One real neutron server (API under gunicorn + ``neutron-rpc-server``, ML2 with ``pvm_sea``, on
MariaDB and RabbitMQ, one worker each), ``agents`` simulated hosts (one ``powervm-sim`` process
each, default topology) and on each its real ``powervm-sea-agent`` process. Once every agent is
alive in neutron and has finished its start-up heal, a window of ``window_s`` seconds is
measured while each host gets a light load: every ``cycle_s`` seconds (hosts staggered) the port
plugged the cycle before is checked ACTIVE, unplugged (adapter deleted, unplug event, port
deleted) and a new port is created in neutron, bound to the host, its adapter created and the
plug event posted, as nova would. Measured over the window: each agent's RPC messages (from its
log, see ``scale_fleet_load``), its CPU and RSS, and the CPU of the neutron server's processes
(API, RPC server and their workers) from ``/proc``. Everything started is stopped, and the
database and vhost dropped, also on error.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from pathlib import Path

from benchmarks.scale_common import cpu_seconds, rss_mb
from benchmarks.scale_fleet_load import RpcCount, SimHost
from powervm_openstack.deploy.child import stop_children
from powervm_openstack.deploy.neutron_client import NeutronClient
from powervm_openstack.deploy.neutron_server import NeutronServer
from powervm_openstack.deploy.services import ServiceRun

LOG = logging.getLogger(__name__)
AGENT_TYPE = "PowerVM Shared Ethernet agent"


@dataclasses.dataclass(frozen=True)
class FleetParams:
    work_root: Path
    agents: int = 20
    window_s: float = 180.0
    report_interval: int = 30
    cycle_s: float = 20.0
    networks: int = 10
    first_vlan: int = 1100
    start_timeout: float = 900.0


@dataclasses.dataclass(frozen=True)
class AgentFigures:
    host: str
    rpc: RpcCount
    cpu_s: float
    rss_mb: float


@dataclasses.dataclass(frozen=True)
class FleetResult:
    params: FleetParams
    window_s: float
    agents: list[AgentFigures]
    api_cpu_s: float
    rpc_cpu_s: float
    start_s: float
    cycles: int
    checked: int
    active_in_time: int
    never_active: int
    alive_at_end: int


def run(params: FleetParams) -> FleetResult:
    """Start everything, measure one window, stop everything (also on error)."""
    service_run = ServiceRun(params.work_root)
    hosts: list[SimHost] = []
    ok = False
    try:
        service_run.mariadb.check()
        service_run.rabbitmq.check()
        neutron = service_run.neutron_server(mechanism_drivers=("pvm_sea",))
        client = NeutronClient(neutron.url)
        networks = [_vlan_network(client, params.first_vlan + i) for i in range(params.networks)]
        started = time.monotonic()
        _start_hosts(params, service_run.work_dir / "fleet", neutron, client, hosts)
        _wait_ready(params, client, hosts)
        result = _window(params, neutron, client, hosts, networks, time.monotonic() - started)
        ok = True
        return result
    finally:
        _stop(hosts)
        problems = service_run.close(keep_work_dir=not ok)
        for problem in problems:
            LOG.warning("Clean-up: %s", problem)
        if not ok:
            LOG.warning("Configurations and logs kept in %s", service_run.work_dir)


def _vlan_network(neutron: NeutronClient, vlan: int) -> str:
    body = {"name": f"scale-{vlan}", "provider:network_type": "vlan", "provider:physical_network": "default",
            "provider:segmentation_id": vlan}  # fmt: skip
    net = neutron.post("/v2.0/networks", {"network": body})["network"]
    subnet = {"network_id": net["id"], "cidr": f"10.{vlan // 250}.{vlan % 250}.0/24", "ip_version": 4}
    neutron.post("/v2.0/subnets", {"subnet": subnet})
    return net["id"]


def _start_hosts(params: FleetParams, work: Path, neutron: NeutronServer, client: NeutronClient,
                 hosts: list[SimHost]) -> None:  # fmt: skip
    """Simulators first (each answers before the next starts), then all agents at once; each host
    goes into ``hosts`` before it starts, so that a failure part-way stops what did start.

    Started from this (the main) thread: the children get SIGTERM when the starting thread ends.
    """
    options = {"AGENT": {"report_interval": params.report_interval, "heal_and_optimize_interval": 1800,
                         "batch_window": 0.3}}  # fmt: skip
    for index in range(params.agents):
        hosts.append(SimHost(index, work, neutron.config_files, client, options))
        hosts[-1].start_sim()
    for host in hosts:
        host.agent.start()


def _wait_ready(params: FleetParams, neutron: NeutronClient, hosts: list[SimHost]) -> None:
    """Until every agent is alive in neutron and logged its first heal; raise on timeout or a dead agent."""
    deadline = time.monotonic() + params.start_timeout
    while time.monotonic() < deadline:
        dead = [h.name for h in hosts if not h.agent.alive()]
        if dead:
            raise RuntimeError(
                f"agent(s) exited during start-up: {', '.join(dead)}; see {hosts[0].agent.log_path.parent}"
            )
        if _alive(neutron, hosts) == len(hosts) and all(h.heal_done() for h in hosts):
            return
        time.sleep(2.0)
    raise TimeoutError(f"not every agent was alive and healed within {params.start_timeout:g} s")


def _alive(neutron: NeutronClient, hosts: list[SimHost]) -> int:
    names = {h.name for h in hosts}
    agents = neutron.get("/v2.0/agents", params={"agent_type": AGENT_TYPE})["agents"]
    return sum(1 for a in agents if a["host"] in names and a["alive"])


def _server_pids(neutron: NeutronServer) -> dict[str, int]:
    # NeutronServer keeps its two child processes private; their workers are found as descendants.
    return {"api": neutron._api.pid, "rpc": neutron._rpc.pid}


def _server_cpu(neutron: NeutronServer) -> dict[str, float]:
    return {name: cpu_seconds([pid]) for name, pid in _server_pids(neutron).items()}


def _window(params: FleetParams, neutron: NeutronServer, client: NeutronClient, hosts: list[SimHost],
            networks: list[str], start_s: float) -> FleetResult:  # fmt: skip
    logs = [h.log_size() for h in hosts]
    agent_cpu = [cpu_seconds([h.agent.child.pid]) for h in hosts]
    server_cpu, start = _server_cpu(neutron), time.monotonic()
    _load(params, hosts, networks, start)
    window = time.monotonic() - start
    server_cpu = {name: cpu - server_cpu[name] for name, cpu in _server_cpu(neutron).items()}
    figures = [AgentFigures(h.name, h.rpc_between(logs[i], h.log_size()), cpu_seconds([h.agent.child.pid]) - agent_cpu[i],
                            rss_mb(h.agent.child.pid)) for i, h in enumerate(hosts)]  # fmt: skip
    return FleetResult(params, window, figures, server_cpu["api"], server_cpu["rpc"], start_s,
                       sum(h.cycles for h in hosts), sum(h.checked for h in hosts),
                       sum(h.active_in_time for h in hosts), sum(h.never_active for h in hosts),
                       _alive(client, hosts))  # fmt: skip


def _load(params: FleetParams, hosts: list[SimHost], networks: list[str], start: float) -> None:
    """Each host's cycle every ``cycle_s``, hosts staggered evenly; late cycles run at once."""
    due = [start + i * params.cycle_s / len(hosts) for i in range(len(hosts))]
    end = start + params.window_s
    while True:
        index = min(range(len(hosts)), key=due.__getitem__)
        if due[index] >= end:
            break
        time.sleep(max(0.0, due[index] - time.monotonic()))
        host = hosts[index]
        host.cycle(networks[(index + host.cycles) % len(networks)])
        due[index] += params.cycle_s
    time.sleep(max(0.0, end - time.monotonic()))


def _stop(hosts: list[SimHost]) -> None:
    for host in hosts:
        host.close()
    stop_children([h.agent.child for h in hosts if h.agent.child is not None], timeout=30)
    stop_children([h.sim.child for h in hosts if h.sim.child is not None], timeout=15)


HEADERS = ("agents", "window s", "report s", "plug cycles", "ACTIVE by next cycle", "msgs/min/agent mean", "min",
           "max", "sent/min", "received/min", "RPC server CPU %", "API CPU %", "agent CPU %", "agent RSS MiB mean",
           "max")  # fmt: skip


def rows(result: FleetResult) -> list[list[object]]:
    minutes = result.window_s / 60
    per_min = [a.rpc.total / minutes for a in result.agents]
    sent = sum(sum(a.rpc.sent.values()) for a in result.agents) / len(result.agents) / minutes
    received = sum(a.rpc.replies + a.rpc.received for a in result.agents) / len(result.agents) / minutes
    cpu = sum(a.cpu_s for a in result.agents) / len(result.agents) / result.window_s * 100
    rss = [a.rss_mb for a in result.agents]
    return [[len(result.agents), result.window_s, result.params.report_interval, result.cycles,
             f"{result.active_in_time}/{result.checked}", sum(per_min) / len(per_min), min(per_min), max(per_min),
             sent, received, 100 * result.rpc_cpu_s / result.window_s, 100 * result.api_cpu_s / result.window_s, cpu,
             sum(rss) / len(rss), max(rss)]]  # fmt: skip


def by_method(result: FleetResult) -> tuple[list[str], list[list[object]]]:
    """Messages per minute per agent (mean) by kind: each method sent, replies, casts received."""
    minutes, n = result.window_s / 60, len(result.agents)
    sent: Counter[str] = Counter()
    for a in result.agents:
        sent.update(a.rpc.sent)
    methods = sorted(sent)
    replies = sum(a.rpc.replies for a in result.agents)
    casts = sum(a.rpc.received for a in result.agents)
    headers = [*(f"sent {m}" for m in methods), "replies received", "casts received"]
    return headers, [[*(sent[m] / n / minutes for m in methods), replies / n / minutes, casts / n / minutes]]
