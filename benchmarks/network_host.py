"""What the network benchmark's arms share: the simulated host as nova drives it, neutron, the meters.

- :func:`topology`: the default host plus empty client LPARs the plugs go on;
- :class:`Compute`: the compute driver's side, through its own VIF plug code
  (``SeaVifDriver.plug``: the client adapter really created on the partition, then the plug event);
- :class:`StandIn` and :class:`RealNeutron`: neutron. The stand-in answers device details from a
  dict and delivers the binding's ``port_update`` straight to the agent's RPC intake (no latency);
  the real one is neutron 29 (API + RPC server, ML2 ``pvm_sea``): ports are created, bound to the
  host through the API (``pvm_sea`` then casts ``port_update``), and the agent talks to it over RPC;
- :class:`RequestCounter`: a pypowervm adapter helper counting the REST calls one thread makes
  (the serving thread; not the event listener's polls, not the compute side's own calls).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from oslo_config import cfg
from pypowervm.wrappers import logical_partition as pvm_lpar

from powervm_openstack.simulator.topology import loader as sim_topology

PHYSNET = "default"
_UUID = re.compile(r"^[0-9a-fA-F-]{36}$")


def topology(path: Path, lpars: int) -> Path:
    """The default topology plus ``lpars`` client LPARs without adapters, written to ``path``."""
    data = yaml.safe_load(sim_topology.DEFAULT.read_text())
    first = max(p["id"] for p in data["lpars"]) + 1
    data["lpars"] += [{"name": f"bench-{i:03d}", "id": first + i, "cnas": []} for i in range(lpars)]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclasses.dataclass(frozen=True)
class Plug:
    at: float
    mac: str
    vlan: int
    lpar: int
    port_id: str


class RequestCounter:
    """Counts ``<METHOD> <kind>`` of the requests the watched thread sends through an adapter."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.thread: threading.Thread | None = None

    def helper(self, func):  # noqa: ANN001, ANN201 - pypowervm's helper protocol
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is self.thread:
                method, path = args[0], args[1]
                self.calls[f"{method} {_kind(path)}"] += 1
            return func(*args, **kwargs)

        return wrapper

    def snapshot(self) -> Counter[str]:
        return Counter(self.calls)


def _kind(path: str) -> str:
    segments = [s for s in path.split("?")[0].split("/") if s and not _UUID.match(s)]
    return segments[-1] if segments else path


class Compute:
    """The compute driver's VIF plug, on its own REST session (as nova-compute has)."""

    def __init__(self, adapter: Any) -> None:
        from powervm_openstack.compute.vif.sea import SeaVifDriver  # nova: only where the benchmark plugs

        self.driver = SeaVifDriver(adapter, None)
        names = sorted(p.name for p in pvm_lpar.LPAR.get(adapter) if p.name.startswith("bench-"))
        by_name = {p.name: p.uuid for p in pvm_lpar.LPAR.get(adapter)}
        self.lpars = [by_name[n] for n in names]

    def plug(self, plug: Plug) -> float:
        """Create the adapter and post the plug event; returns when the event was posted."""
        vif = {"id": plug.port_id, "address": plug.mac, "details": {"vlan": str(plug.vlan)}}
        self.driver.plug(self.lpars[plug.lpar % len(self.lpars)], vif)
        return time.monotonic()


class StandIn:
    """Neutron without latency: details from a dict, ACTIVE times recorded, bindings delivered in-process."""

    name = "stand-in"

    def __init__(self, plugs: list[Plug]) -> None:
        self.details = {p.mac: {"device": p.mac, "mac_address": p.mac, "port_id": p.port_id, "network_type": "vlan",
                                "physical_network": PHYSNET, "segmentation_id": p.vlan} for p in plugs}  # fmt: skip
        self.active: dict[str, float] = {}
        self.on_bound: Any = None
        self._lock = threading.Lock()

    def device_details(self, macs: list[str]) -> list[dict[str, Any]]:
        return [self.details.get(m, {"device": m}) for m in macs]

    def set_status(self, up: list[str], down: list[str]) -> dict[str, list[str]]:
        now = time.monotonic()
        with self._lock:
            for mac in up:
                self.active.setdefault(mac, now)
        return {}

    def report_state(self, state: dict[str, Any]) -> str:
        return "alive"

    def bind(self, plug: Plug) -> None:
        """What ``pvm_sea`` casts once the binding is committed (the retired agent only logged it)."""
        if self.on_bound is not None:
            port = {"id": plug.port_id, "mac_address": plug.mac, "binding:host_id": "bench"}
            self.on_bound(port, {"network_type": "vlan", "segmentation_id": plug.vlan, "physical_network": PHYSNET})

    def rpc(self, agent_id: str, host: str) -> StandIn:
        return self


class ActiveClock:
    """Wraps a real ``NeutronRpc``: the time each port's ``update_device_list`` (up) returned, and how long
    each device RPC took (``calls``: RPC name -> durations in s)."""

    def __init__(self, rpc: Any) -> None:
        self._rpc = rpc
        self.active: dict[str, float] = {}
        self.calls: dict[str, list[float]] = {"update_device_list": [], "get_devices_details_list": []}

    def set_status(self, up: list[str], down: list[str]) -> Any:
        started = time.monotonic()
        result = self._rpc.set_status(up, down)
        now = time.monotonic()
        self.calls["update_device_list"].append(now - started)
        for mac in up:
            self.active.setdefault(mac, now)
        return result

    def device_details(self, macs: list[str]) -> Any:
        started = time.monotonic()
        try:
            return self._rpc.device_details(macs)
        finally:
            self.calls["get_devices_details_list"].append(time.monotonic() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rpc, name)


def neutron_conf(host: str) -> cfg.ConfigOpts:
    """A private configuration with what ``NeutronRpc`` and the heartbeat read."""
    from neutron.conf.agent import common as agent_conf

    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default=host))
    agent_conf.register_agent_state_opts_helper(conf)
    conf([], project="powervm-benchmark", default_config_files=[])
    return conf


class StandInArm(StandIn):
    """The stand-in as an arm of the benchmark (one per run)."""

    host = "bench"

    def prepare(self, plugs: list[Plug]) -> list[Plug]:
        StandIn.__init__(self, plugs)
        return plugs

    def rpc(self, agent: Any) -> StandIn:  # type: ignore[override]
        self.on_bound = agent.on_port_update if agent is not None else None
        return self

    def started(self, state: dict[str, Any]) -> None:
        """Nothing to register: the stand-in binds whatever it is told."""

    def active_of(self, plugged: dict[str, float]) -> dict[str, float]:
        return dict(self.active)

    def stop(self, agent: Any = None) -> None:
        self.on_bound = None


class RealNeutron:
    """Neutron 29 (API + RPC server, ML2 ``pvm_sea``): ports created unbound, bound on schedule through the API."""

    name = "neutron 29"

    def __init__(self, server: Any, client: Any, vlans: list[int]) -> None:
        self.server, self.client = server, client
        from powervm_openstack.network.agent import service

        service.register(cfg.CONF)  # neutron's RPC clients and oslo.messaging read the global configuration
        cfg.CONF([], project="powervm-benchmark", default_config_files=[])
        self.networks = {vlan: self._network(vlan) for vlan in vlans}
        self.host = ""
        self._rpc: Any = None
        self._clock: ActiveClock | None = None
        self._stop = threading.Event()

    def _network(self, vlan: int) -> str:
        body = {"name": f"bench-{vlan}", "provider:network_type": "vlan", "provider:physical_network": PHYSNET,
                "provider:segmentation_id": vlan}  # fmt: skip
        net = self.client.post("/v2.0/networks", {"network": body})["network"]
        subnet = {"network_id": net["id"], "cidr": f"10.{vlan // 250}.{vlan % 250}.0/24", "ip_version": 4}
        self.client.post("/v2.0/subnets", {"subnet": subnet})
        return net["id"]

    def prepare(self, plugs: list[Plug]) -> list[Plug]:
        """A fresh host name and the burst's ports (bulk created, not bound yet)."""
        self.host = f"bench-{time.monotonic_ns() % 10**9}"
        bodies = [{"network_id": self.networks[p.vlan], "mac_address": p.mac, "device_owner": "compute:nova",
                   "device_id": f"vm-{p.port_id}"} for p in plugs]  # fmt: skip
        made = self.client.post("/v2.0/ports", {"ports": bodies})["ports"]
        by_mac = {m["mac_address"]: m["id"] for m in made}
        return [dataclasses.replace(p, port_id=by_mac[p.mac]) for p in plugs]

    def rpc(self, agent: Any) -> ActiveClock:
        import oslo_messaging

        from powervm_openstack.network.agent.neutron_rpc import NeutronRpc, PortEvents

        cfg.CONF.set_override("host", self.host)
        conf = cfg.CONF  # oslo.messaging and neutron's RPC clients read the global configuration
        oslo_messaging.TransportURL.parse(conf)  # registers transport_url
        conf.set_override("transport_url", self.server.transport_url)
        agent_id = getattr(agent, "agent_id", f"reference-{self.host}")
        self._rpc = NeutronRpc(conf, agent_id, self.host)
        if agent is not None:
            self._rpc.consume_port_events(PortEvents(self.host, agent.on_port_update, agent.on_port_delete))
        self._clock = ActiveClock(self._rpc)
        return self._clock

    def started(self, state: dict[str, Any]) -> None:
        """Report the agent to neutron (so that ``pvm_sea`` binds here), then keep it alive."""
        self._stop.clear()
        self._rpc.report_state(state)
        beat = dict(state)
        beat.pop("start_flag", None)
        threading.Thread(target=self._beat, args=(beat,), daemon=True, name="bench-heartbeat").start()

    def _beat(self, state: dict[str, Any]) -> None:
        while not self._stop.wait(20):
            self._rpc.report_state(state)

    def bind(self, plug: Plug) -> None:
        self.client.put(f"/v2.0/ports/{plug.port_id}", {"port": {"binding:host_id": self.host}})

    def active_of(self, plugged: dict[str, float]) -> dict[str, float]:
        return dict(self._clock.active) if self._clock else {}

    def rpc_calls(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self._clock.calls.items()} if self._clock else {}

    def stop(self, agent: Any = None) -> None:
        self._stop.set()
        if self._rpc is not None:
            self._rpc.stop()
        # The ports stay (bound to a host name no later run uses) in the arm's private database, dropped at
        # the end: deleting them one by one took longer than the run on a busy machine.
