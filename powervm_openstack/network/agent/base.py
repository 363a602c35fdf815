"""The framework both PowerVM network agents run on: threads, heartbeat, event intake, heal loop.

Threads (no eventlet):
- the *worker* (the caller of ``run``): takes batches of port changes and serves them; runs a
  full heal at start, on a lost event queue, and every ``heal_and_optimize_interval``;
- the *heartbeat*: ``report_state`` every ``report_interval`` with the real device count;
- pypowervm's event listener thread, which only records changes (``on_events``);
- oslo.messaging's RPC server thread for ``port_update``.
Nothing is lost on an error: an unserved batch is put back and retried after
``exception_interval``; the agent never exits because of one.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from oslo_config import cfg
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc

from powervm_openstack.network.agent import config
from powervm_openstack.network.agent.neutron_rpc import NeutronRpc, PortEvents
from powervm_openstack.network.agent.pending import PLUG, UNPLUG, Batch, PendingChanges
from powervm_openstack.network.exceptions import PowerVMNetworkError
from powervm_openstack.pvm import connection, vif_event

LOG = logging.getLogger(__name__)

_CNA_URI = re.compile(r"/(LogicalPartition|VirtualIOServer)/[^/]+/ClientNetworkAdapter/([^/?]+)")
_BRIDGE_URI = re.compile(r"/NetworkBridge/([^/?]+)")
_RESYNC_EVENTS = ("CACHE_CLEARED", "MISSING_EVENTS", "NEW_CLIENT")
_DETAILS_CHUNK = 200
PERIODIC_HEAL = "periodic heal"


class PowerVMAgent:
    """Base of the SEA and SR-IOV agents. Subclasses set the class attributes and the hooks."""

    agent_type = ""
    binary = ""
    vif_type = ""

    def __init__(self, conf: cfg.ConfigOpts, adapter: pvm_adapter.Adapter | None = None) -> None:
        self.conf = conf
        self.host = conf.host
        self.agent_id = f"{self.vif_type}-agent-{self.host}"
        self.adapter = adapter
        self.host_uuid = ""
        self.pending = PendingChanges()
        self.rpc: NeutronRpc | None = None
        self.device_count = 0
        self._stop = threading.Event()
        self._started = False
        self._next_heal = 0.0
        self._heartbeat: threading.Thread | None = None

    # -- hooks -----------------------------------------------------------------------------
    @classmethod
    def extra_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        """Options of this agent beyond the common ones, checked at start."""
        return []

    def setup(self) -> None:
        """Read the host and validate the configuration; raise on a configuration error."""

    def configurations(self) -> dict[str, Any]:
        """The ``configurations`` reported to neutron (without ``devices``)."""
        return {}

    def serve(self, batch: Batch) -> None:
        """Serve one batch of port changes; raise to have it put back and retried."""
        raise NotImplementedError

    def heal(self, reason: str) -> None:
        """Re-check every port and VLAN on the host and converge."""
        raise NotImplementedError

    def housekeeping(self) -> None:
        """Called by the worker after every pass (at least once a second): timed work such as retries."""

    def on_port_update(self, port: dict[str, Any], segment: dict[str, Any]) -> None:
        """Neutron's ``port_update`` for a port bound to this host (RPC thread: record only)."""
        self.pending.port(vif_event.norm_mac(port["mac_address"]), PLUG)

    def on_port_delete(self, port_id: str) -> None:
        """Neutron's ``port_delete`` (RPC thread: record only); the adapter's removal drives the cleanup."""

    def on_vif(self, vif: vif_event.VifEvent) -> None:
        """A VIF plug/unplug event of this agent's type (listener thread: record only)."""
        self.pending.port(vif.mac, PLUG if vif.action == "plug" else UNPLUG, vif.uri)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (waiting for the REST API), set up, start heartbeat, events and RPC."""
        self.attach()
        self.rpc = NeutronRpc(self.conf, self.agent_id, self.host)
        self._heartbeat = threading.Thread(target=self._report_loop, name="heartbeat", daemon=True)
        self._heartbeat.start()
        self.adapter.session.get_event_listener().subscribe(_EventHandler(self))
        self.rpc.consume_port_events(PortEvents(self.host, self.on_port_update, self.on_port_delete))
        self.pending.resync("agent start")
        self._started = True
        LOG.info("%s started on host %s (system %s)", self.binary, self.host, self.host_uuid)

    def attach(self) -> None:
        """Log on and read the host, waiting out an unreachable, busy or failing (5xx) REST API.

        :raises pypowervm.exceptions.Error: the logon was refused (or another non-transient answer).
        :raises PowerVMNetworkError: the configuration does not fit the host.
        """
        if self.adapter is None:
            self.adapter = connection.connect(self.conf)
        self.host_uuid = self.adapter.sys_uuid
        connection.wait_out(self.setup, self.conf, "read the host")

    @property
    def started(self) -> bool:
        return self._started

    def run(self) -> None:
        """Start, then serve until ``stop``."""
        if not self._started:
            self.start()
        while not self._stop.is_set():
            self.run_once()

    def run_once(self, timeout: float = 1.0) -> None:
        """Serve one batch (or a due heal); errors are logged and the work is put back."""
        agent_conf = self.conf[config.GROUP]
        batch = self.pending.take(timeout=timeout, window=agent_conf.batch_window)
        if time.monotonic() >= self._next_heal and not batch.resync:
            batch.resync = PERIODIC_HEAL
        if not batch:
            self._housekeeping()
            return
        new_request = getattr(self.rpc, "new_request", None)
        if new_request is not None:
            new_request()  # one request id per batch, in neutron's log and ours
        try:
            if batch.resync:
                self._next_heal = time.monotonic() + agent_conf.heal_and_optimize_interval
                self.heal(batch.resync)
                batch.resync = None
            if batch:
                self.serve(batch)
            self.housekeeping()
        except (PowerVMNetworkError, pvm_exc.Error) as exc:  # understood: one line, no traceback
            LOG.error(
                "Serving port changes failed: %s; retrying in %ds", _first_line(exc), agent_conf.exception_interval
            )
            self._retry_later(batch)
        except Exception:
            LOG.exception("Serving port changes failed; retrying in %ds", agent_conf.exception_interval)
            self._retry_later(batch)

    def _housekeeping(self) -> None:
        try:
            self.housekeeping()
        except (PowerVMNetworkError, pvm_exc.Error) as exc:
            LOG.error("Timed work failed: %s; tried again on the next pass", _first_line(exc))
        except Exception:
            LOG.exception("Timed work failed; tried again on the next pass")

    def _retry_later(self, batch: Batch) -> None:
        self.pending.put_back(batch)
        self._stop.wait(self.conf[config.GROUP].exception_interval)

    def stop(self) -> None:
        self._stop.set()
        if self.rpc is not None:
            self.rpc.stop()
        if self.adapter is not None and self.adapter.session.has_event_listener:
            self.adapter.session.get_event_listener().shutdown()

    # -- neutron -------------------------------------------------------------------------
    def device_details(self, macs: list[str]) -> list[dict[str, Any]]:
        """Neutron's details of ports given by MAC, asked ``_DETAILS_CHUNK`` at a time."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(macs), _DETAILS_CHUNK):
            found.extend(self.rpc.device_details(macs[start : start + _DETAILS_CHUNK]))
        return found

    def set_status(self, up: list[str], down: list[str]) -> None:
        """Mark ports ACTIVE / DOWN in neutron, by MAC, and say so in one line."""
        if up or down:
            self.rpc.set_status(up, down)
            LOG.info("Ports marked up: %s; down: %s", [self.describe(m) for m in sorted(up)],
                     [self.describe(m) for m in sorted(down)])  # fmt: skip

    def describe(self, mac: str) -> str:
        """How a port is named in log lines (subclasses add port id, partition and VLAN)."""
        return mac

    # -- heartbeat -------------------------------------------------------------------------
    def state(self, start: bool) -> dict[str, Any]:
        configurations = dict(self.configurations(), devices=self.device_count)
        state = {
            "binary": self.binary,
            "host": self.host,
            "topic": "N/A",
            "agent_type": self.agent_type,
            "configurations": configurations,
        }
        if start:
            state["start_flag"] = True
        return state

    def _report_loop(self) -> None:
        interval = self.conf.AGENT.report_interval or 30
        first = True
        while not self._stop.is_set():
            try:
                self.rpc.report_state(self.state(first))
                first = False
            except Exception as exc:
                LOG.warning("Heartbeat to neutron failed (%s); next try in %ss", exc, interval)
            self._stop.wait(interval)

    # -- events ----------------------------------------------------------------------------
    def on_events(self, events: list[dict[str, str]]) -> None:
        """Record what the PowerVM events mean; called on pypowervm's listener thread."""
        for event in events:
            etype, data = event.get("EventType", ""), event.get("EventData", "")
            if etype in _RESYNC_EVENTS:
                LOG.warning("PowerVM event %s: the agent's view may be stale; full resync", etype)
                self.pending.resync(f"event {etype}")
                continue
            vif = vif_event.parse(etype, data, event.get("EventDetail", ""))
            if vif is not None:
                if vif.vif_type == self.vif_type:
                    self.on_vif(vif)
                continue
            self.on_uri_event(etype, data, event.get("EventDetail", "") or "")

    def on_uri_event(self, etype: str, data: str, detail: str) -> None:
        """An ADD_URI / MODIFY_URI / DELETE_URI event (listener thread: record only)."""
        self._on_uri_event(etype, data)

    def _on_uri_event(self, etype: str, data: str) -> None:
        cna = _CNA_URI.search(data)
        if cna and etype == "ADD_URI":
            self.pending.adapter_added(data)
        elif cna and etype == "DELETE_URI":
            self.pending.adapter_deleted(cna.group(2))
        bridge = _BRIDGE_URI.search(data)
        if bridge and etype == "MODIFY_URI":
            self.pending.bridge_changed(bridge.group(1))


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:500]


class _EventHandler(pvm_adapter.RawEventHandler):
    def __init__(self, agent: PowerVMAgent) -> None:
        self._agent = agent

    def process(self, events: list[dict[str, str]]) -> None:
        try:
            self._agent.on_events(events)
        except Exception:
            LOG.exception("Could not record %d PowerVM event(s); the next heal will catch up", len(events))
