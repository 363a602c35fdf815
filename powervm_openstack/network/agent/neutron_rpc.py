"""The agent's RPC with the neutron server: heartbeat, device details, port status, port events.

Every device call passes this agent's ``host``: without it neutron answers "no active binding"
for compute ports (the retired agent's heal ignored every VM port because of that).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import oslo_messaging
from neutron.agent import rpc as agent_rpc
from neutron_lib import context as n_context
from neutron_lib import rpc as n_rpc
from neutron_lib.agent import topics
from oslo_config import cfg

LOG = logging.getLogger(__name__)


class NeutronRpc:
    """Calls to the neutron server for one agent on one host."""

    def __init__(self, conf: cfg.ConfigOpts, agent_id: str, host: str) -> None:
        n_rpc.init(conf)
        self.agent_id = agent_id
        self.host = host
        self.context = n_context.get_admin_context_without_session()
        self._plugin = agent_rpc.PluginApi(topics.PLUGIN)
        self._state = agent_rpc.PluginReportStateAPI(topics.REPORTS)
        self._connection: Any = None

    def new_request(self) -> None:
        """A fresh context (new request id) for the calls of the next batch; it becomes the thread's log context."""
        self.context = n_context.get_admin_context_without_session()

    def report_state(self, state: dict[str, Any]) -> str:
        """Send one heartbeat; returns neutron's answer (``new``, ``alive`` or ``revived``)."""
        return self._state.report_state(self.context, state, use_call=True)

    def device_details(self, macs: Sequence[str]) -> list[dict[str, Any]]:
        """Details of ports given by MAC, in one call; those of ports not bound here lack ``mac_address``.

        ``get_devices_details_list`` looks each device up like ``get_device_details`` (by MAC too);
        the ``..._and_failed_devices`` variant only resolves port ids, so it cannot be used with MACs.
        """
        if not macs:
            return []
        return self._plugin.get_devices_details_list(self.context, list(macs), self.agent_id, host=self.host)

    def set_status(self, up: Sequence[str], down: Sequence[str]) -> dict[str, list[str]]:
        """Mark ports ACTIVE (``up``) or DOWN (``down``), by MAC."""
        if not up and not down:
            return {}
        return self._plugin.update_device_list(self.context, list(up), list(down), self.agent_id, self.host)

    def consume_port_events(self, endpoint: object) -> None:
        """Receive ``port_update`` / ``port_delete`` casts on ``endpoint`` (threaded server)."""
        details = [[topics.PORT, topics.UPDATE], [topics.PORT, topics.DELETE]]
        self._connection = agent_rpc.create_consumers([endpoint], topics.AGENT, details)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()


class PortEvents:
    """The RPC endpoint: forwards port updates (with their segment) for this host, and port deletions."""

    target = oslo_messaging.Target(version="1.4")

    def __init__(self, host: str, on_port: Any, on_delete: Any = None) -> None:
        self._host = host
        self._on_port = on_port
        self._on_delete = on_delete

    def port_update(self, context: Any, **kwargs: Any) -> None:
        port = kwargs.get("port") or {}
        if port.get("binding:host_id") == self._host and port.get("mac_address"):
            LOG.debug("port_update for port %s (%s) bound here", port.get("id"), port.get("mac_address"))
            segment = {k: kwargs.get(k) for k in ("network_type", "segmentation_id", "physical_network")}
            self._on_port(port, segment)

    def port_delete(self, context: Any, **kwargs: Any) -> None:
        LOG.debug("port_delete for port %s", kwargs.get("port_id"))
        if self._on_delete is not None and kwargs.get("port_id"):
            self._on_delete(kwargs["port_id"])
