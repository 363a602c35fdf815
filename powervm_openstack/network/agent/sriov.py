"""The PowerVM SR-IOV agent: reports labelled SR-IOV ports, and marks vNIC ports up and down.

The agent configures no hardware: the compute driver builds each vNIC from the port's
``binding:vif_details``. The agent
- reports which physical ports serve which physical network (a port's label, ``default`` when
  unlabelled) with their free capacity and logical ports, and its redundancy and capacity defaults;
  it re-reads and re-reports at once when the managed system changes (a relabel, a vNIC taking or
  freeing capacity);
- marks a port ACTIVE only once its vNIC exists on the partition with the segment's PVID, and DOWN
  when the vNIC is removed; a vNIC announced by the compute side but never found is given up on
  after ``vnic_wait_timeout`` and its port marked DOWN;
- heals at start, on a lost event queue and periodically: every vNIC on the host is re-checked.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import threading
import time
from typing import Any

from oslo_config import cfg
from pypowervm.wrappers import managed_system as pvm_ms

from powervm_openstack.network import constants, sriov_ports
from powervm_openstack.network.agent import config, sriov_config
from powervm_openstack.network.agent.base import PowerVMAgent
from powervm_openstack.network.agent.pending import PLUG, UNPLUG, Batch, PortChange
from powervm_openstack.network.sriov_ports import Vnic
from powervm_openstack.pvm.vif_event import norm_mac

LOG = logging.getLogger(__name__)

#: Key of the physical network -> port location codes report (neutron's segments plugin reads it).
CONF_DEVICE_MAPPINGS = "device_mappings"

_SYSTEM_URI = re.compile(r"/ManagedSystem/[^/?]+/?$")
_VNIC_URI = re.compile(r"/LogicalPartition/[^/?]+/VirtualNICDedicated/([^/?]+)")
_PORT_CHANGE_DETAIL = "SRIOVPhysicalPort"
_RECHECK_SECONDS = 3.0


@dataclasses.dataclass(frozen=True)
class _Wait:
    """A vNIC announced for a port but not (yet) found."""

    uri: str
    since: float
    next_check: float


class SriovAgent(PowerVMAgent):
    agent_type = constants.AGENT_TYPE_SRIOV
    binary = constants.AGENT_BINARY_SRIOV
    vif_type = constants.VIF_TYPE_SRIOV

    @classmethod
    def extra_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return sriov_config.list_opts()

    def setup(self) -> None:
        agent_conf = self.conf[config.GROUP]
        self.capacity, self.max_capacity = sriov_config.default_capacities(self.conf)
        self.redundancy: int = agent_conf.vnic_required_vfs
        self.wait_timeout: int = agent_conf.vnic_wait_timeout
        self.ports: list[sriov_ports.PhysicalPort] = []
        self.served: dict[str, Vnic] = {}  # mac -> vNIC of the ports this agent marked up
        self.waiting: dict[str, _Wait] = {}
        self.ports_stale = threading.Event()
        self.refresh_ports("agent start")
        if not self.ports:
            LOG.warning("Host %s has no SR-IOV physical port on an adapter in shared mode; no physical network "
                        "is reported and no direct port can bind here", self.host_uuid)  # fmt: skip

    def configurations(self) -> dict[str, Any]:
        ports = self.ports
        return {
            CONF_DEVICE_MAPPINGS: sriov_ports.device_mappings(ports),
            constants.CONF_PHYSNET_PORTS: sriov_ports.physnet_ports(ports),
            constants.CONF_DEFAULT_REDUNDANCY: self.redundancy,
            constants.CONF_DEFAULT_CAPACITY: None if self.capacity is None else float(self.capacity),
            constants.CONF_DEFAULT_MAXCAPACITY: None if self.max_capacity is None else float(self.max_capacity),
        }

    # -- events (pypowervm's listener thread: only record) ---------------------------------
    def on_events(self, events: list[dict[str, str]]) -> None:
        if any(_PORT_CHANGE_DETAIL in (e.get("EventDetail") or "") for e in events):
            self.ports_stale.set()
        super().on_events(events)

    def _on_uri_event(self, etype: str, data: str) -> None:
        if etype == "MODIFY_URI" and _SYSTEM_URI.search(data):
            self.ports_stale.set()
            return
        vnic = _VNIC_URI.search(data)
        if vnic and etype == "ADD_URI":
            self.pending.adapter_added(data)
        elif vnic and etype == "DELETE_URI":
            self.pending.adapter_deleted(vnic.group(1))

    # -- worker ----------------------------------------------------------------------------
    def run_once(self, timeout: float = 1.0) -> None:
        """Re-read ports when the system changed and re-check late vNICs, then serve port changes."""
        try:
            if self.ports_stale.is_set():
                self.ports_stale.clear()
                self.refresh_ports("the managed system changed")
            self.recheck_waiting()
        except Exception:
            LOG.exception("Re-reading SR-IOV ports or late vNICs failed; retrying")
            self.ports_stale.set()
            self._stop.wait(self.conf[config.GROUP].exception_interval)
        super().run_once(timeout)

    def refresh_ports(self, reason: str) -> None:
        """Re-read the physical ports; report to neutron at once if what it sees changed."""
        system = pvm_ms.System.get(self.adapter)[0]
        old, self.ports = self.ports, sriov_ports.read_ports(system)
        old_map, new_map = sriov_ports.device_mappings(old), sriov_ports.device_mappings(self.ports)
        for line in sriov_ports.mapping_changes(old_map, new_map):
            LOG.info("SR-IOV %s (%s)", line, reason)
        if old_map != new_map:
            for warning in sriov_ports.capacity_warnings(self.ports, self.capacity):
                LOG.warning(warning)
        if self.rpc is not None and sriov_ports.physnet_ports(old) != sriov_ports.physnet_ports(self.ports):
            self.rpc.report_state(self.state(False))
            LOG.info("Reported SR-IOV ports to neutron at once (%s): %s", reason, new_map)

    def recheck_waiting(self) -> None:
        """Look again for announced vNICs that were missing; give up on those past the timeout."""
        now = time.monotonic()
        for mac, wait in list(self.waiting.items()):
            if now - wait.since >= self.wait_timeout:
                self.set_status([], [mac])
                del self.waiting[mac]
                LOG.error("Port with MAC %s: vNIC %s did not appear within %ds; giving up and marking the port "
                          "DOWN (a new plug or the next heal brings it up)", mac, wait.uri, self.wait_timeout)  # fmt: skip
            elif now >= wait.next_check:
                self.waiting[mac] = dataclasses.replace(wait, next_check=now + _RECHECK_SECONDS)
                self.pending.port(mac, PLUG, wait.uri)

    # -- batches ---------------------------------------------------------------------------
    def serve(self, batch: Batch) -> None:
        plugs = {c.mac: c for c in batch.plugs()}
        unplugs = {c.mac: c for c in batch.unplugs()}
        for uri in batch.added_uris:
            vnic = sriov_ports.read_vnic(self.adapter, uri)
            if vnic is not None and vnic.mac not in unplugs:
                plugs.setdefault(vnic.mac, PortChange(vnic.mac, PLUG, vnic.href))
        for uuid in batch.deleted_adapters:
            mac = next((m for m, v in self.served.items() if v.uuid.lower() == uuid), None)
            if mac is not None and mac not in plugs:
                unplugs.setdefault(mac, PortChange(mac, UNPLUG))
        self._unplug(list(unplugs.values()))
        found = {}
        for change in plugs.values():
            vnic = self._locate(change)
            if vnic is not None:
                found[change.mac] = vnic
            elif change.uri:
                self._wait(change)
            else:
                LOG.debug("Port with MAC %s: no vNIC of it on this host; not an SR-IOV port here", change.mac)
        self._activate(found)
        self.device_count = len(self.served)

    def _locate(self, change: PortChange) -> Vnic | None:
        uri = change.uri or (self.served[change.mac].href if change.mac in self.served else None)
        vnic = sriov_ports.read_vnic(self.adapter, uri) if uri else None
        if vnic is not None and vnic.mac != change.mac:
            LOG.warning("vNIC %s has MAC %s, not %s as announced; ignoring the announcement", vnic.uuid, vnic.mac,
                        change.mac)  # fmt: skip
            return None
        return vnic

    def _wait(self, change: PortChange) -> None:
        wait = self.waiting.get(change.mac)
        now = time.monotonic()
        if wait is None or wait.uri != change.uri:
            LOG.info("Port with MAC %s: vNIC %s is not on its partition yet; waiting up to %ds", change.mac,
                     change.uri, self.wait_timeout)  # fmt: skip
            wait = _Wait(change.uri, now, now)
        self.waiting[change.mac] = dataclasses.replace(wait, next_check=now + _RECHECK_SECONDS)

    def _activate(self, found: dict[str, Vnic]) -> None:
        """Mark up the ports of existing vNICs whose PVID matches their segment."""
        for mac in found:
            self.waiting.pop(mac, None)
        up, down = [], []
        for detail in self.device_details(list(found)):
            mac = norm_mac(detail["device"])
            vnic = found.get(mac)
            if vnic is None:
                continue
            if "mac_address" not in detail:
                LOG.debug("vNIC %s (MAC %s) on partition %s: no port with this MAC is bound to %s", vnic.uuid, mac,
                          vnic.partition_uuid, self.host)  # fmt: skip
                continue
            port_id = detail.get("port_id")
            problem, warnings = sriov_ports.check_vnic(vnic, detail, self.ports)
            for warning in warnings:
                LOG.warning("Port %s: %s", port_id, warning)
            if problem:
                LOG.error("Port %s (MAC %s) not marked up: %s", port_id, mac, problem)
                self.served.pop(mac, None)
                down.append(mac)
                continue
            if mac not in self.served:
                LOG.info("Port %s (MAC %s): vNIC %s is on partition %s (PVID %d, %d backing device(s)); marking up",
                         port_id, mac, vnic.uuid, vnic.partition_uuid, vnic.pvid, len(vnic.backing))  # fmt: skip
            self.served[mac] = vnic
            up.append(mac)
        self.set_status(up, down)

    def _unplug(self, changes: list[PortChange]) -> None:
        for change in changes:
            vnic = self.served.pop(change.mac, None)
            self.waiting.pop(change.mac, None)
            LOG.info("Port with MAC %s: vNIC %s removed%s; marking down", change.mac, vnic.uuid if vnic else change.uri,
                     f" from partition {vnic.partition_uuid}" if vnic else "")  # fmt: skip
        self.set_status([], [c.mac for c in changes])

    # -- heal ------------------------------------------------------------------------------
    def heal(self, reason: str) -> None:
        LOG.info("Heal of host %s started (%s)", self.host_uuid, reason)
        self.refresh_ports(reason)
        vnics = {v.mac: v for v in sriov_ports.scan_vnics(self.adapter, self.conf[config.GROUP].rest_workers)}
        gone = [mac for mac in self.served if mac not in vnics]
        for mac in gone:
            LOG.info("Port with MAC %s: vNIC %s is gone from partition %s; marking down", mac, self.served[mac].uuid,
                     self.served[mac].partition_uuid)  # fmt: skip
            del self.served[mac]
        self.set_status([], gone)
        self._activate(vnics)
        self.device_count = len(self.served)
        LOG.info("Heal done: %d vNIC(s) on the host, %d port(s) served", len(vnics), len(self.served))

    # -- helpers ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Console script ``powervm-sriov-agent``."""
    from powervm_openstack.network.agent import service

    sriov_config.register_opts(cfg.CONF)
    return service.run(SriovAgent, sys.argv[1:] if argv is None else argv)
