"""What the scale figures share: a stub of the agent's neutron RPC, an in-process SEA agent, and
process measurements (CPU time, RSS) from ``/proc`` through psutil.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

import psutil
from oslo_config import cfg
from pypowervm import adapter as pvm_adapter

from powervm_openstack.deploy.processes import SIM_PASSWORD, SIM_USER
from powervm_openstack.network.agent import config as agent_config
from powervm_openstack.network.agent.sea import SeaAgent

PHYSNET = "default"


class StubNeutron:
    """Stands in for ``NeutronRpc``: details of the registered ports, the latest status of each.

    ``ports`` maps a MAC (neutron's form) to its VLAN; a MAC not registered is answered as neutron
    answers a port not bound to this host (no ``mac_address``). The stub keeps no per-port state
    beyond ``ports`` and ``status``, which the caller prunes (``forget``), so it cannot hide or
    cause memory growth. ``calls`` counts calls by method, ``marked`` ports marked up / down.
    """

    def __init__(self, ports: dict[str, int] | None = None) -> None:
        self.ports: dict[str, int] = dict(ports or {})
        self.status: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.marked: Counter[str] = Counter()
        self.changed = threading.Condition()

    def device_details(self, macs: list[str]) -> list[dict[str, Any]]:
        self.calls["get_devices_details_list"] += 1
        return [self._detail(mac) for mac in macs]

    def set_status(self, up: list[str], down: list[str]) -> dict[str, list[str]]:
        self.calls["update_device_list"] += 1
        with self.changed:
            for mac, state in [*((m, "up") for m in up), *((m, "down") for m in down)]:
                self.marked[state] += 1
                if mac in self.ports:  # a late report of a forgotten port must not grow the stub
                    self.status[mac] = state
            self.changed.notify_all()
        return {"devices_up": list(up), "devices_down": list(down)}

    def wait_for(self, mac: str, state: str, timeout: float) -> bool:
        """Wait until ``mac`` was last marked ``state`` ("up" or "down"); False on timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: self.status.get(mac) == state, timeout)

    def forget(self, mac: str) -> None:
        self.ports.pop(mac, None)
        with self.changed:
            self.status.pop(mac, None)

    def up(self) -> set[str]:
        return {mac for mac, state in self.status.items() if state == "up"}

    def _detail(self, mac: str) -> dict[str, Any]:
        vlan = self.ports.get(mac)
        if vlan is None:
            return {"device": mac}
        return {"device": mac, "mac_address": mac, "port_id": f"port-{mac}", "network_type": "vlan",
                "physical_network": PHYSNET, "segmentation_id": vlan}  # fmt: skip


def agent_conf(host: str = "scale-novalink", batch_window: float = 0.0, rest_workers: int = 8) -> cfg.ConfigOpts:
    """The agent's options as a deployment sets them (cleanup on); ``batch_window`` 0 serves at once."""
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default=host))
    agent_config.register_opts(conf)
    conf([], project="powervm-benchmark", default_config_files=[])
    conf.set_override("batch_window", batch_window, group=agent_config.GROUP)
    conf.set_override("rest_workers", rest_workers, group=agent_config.GROUP)
    return conf


def in_process_agent(conf: cfg.ConfigOpts, adapter: pvm_adapter.Adapter, rpc: StubNeutron) -> SeaAgent:
    """A set-up ``SeaAgent`` (bridges read, mappings resolved) using ``rpc`` for neutron; no heal yet."""
    agent = SeaAgent(conf, adapter)
    agent.host_uuid = adapter.sys_uuid
    agent.setup()
    agent.rpc = rpc  # type: ignore[assignment]
    return agent


def connect(port: int, password: str = SIM_PASSWORD) -> pvm_adapter.Adapter:
    """A pypowervm adapter logged on to the simulator on ``port`` with a password."""
    session = pvm_adapter.Session(host="127.0.0.1", port=port, protocol="http", username=SIM_USER,
                                  password=password, timeout=120)  # fmt: skip
    return pvm_adapter.Adapter(session)


def logoff(adapter: pvm_adapter.Adapter) -> None:
    """Stop the event listener and log off while the simulator still answers (never raises).

    pypowervm logs off when the session is garbage collected; with the simulator gone by then it
    logs a long traceback.
    """
    session = adapter.session
    with contextlib.suppress(Exception):
        if session.has_event_listener:
            session.get_event_listener().shutdown()
            session._eventlistener = None
    with contextlib.suppress(Exception):
        session._logoff()
    session._logged_in = False  # nothing left for the garbage collector to log off


def cpu_seconds(pids: Iterable[int], children: bool = True) -> float:
    """User + system CPU seconds used so far by ``pids`` (and, with ``children``, their live
    descendants, e.g. gunicorn and neutron workers); processes that are gone count 0."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            procs = [proc, *(proc.children(recursive=True) if children else [])]
            for each in procs:
                with contextlib.suppress(psutil.Error):
                    times = each.cpu_times()
                    total += times.user + times.system
    return total


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of ``pid`` (this process when None) in MiB; NaN when it is gone."""
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return float("nan")
