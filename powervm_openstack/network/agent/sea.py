"""The PowerVM Shared Ethernet agent: VLANs on VIOS network bridges for ports bound to this host.

Per batch of port changes:
- bindings (neutron's ``port_update`` when it binds a port here): the port's VLAN goes on its
  bridge now, before nova creates the client adapter; the port is marked ACTIVE at its plug;
- plugs: a port whose VLAN is on its bridge already is marked ACTIVE with no REST call, from the
  listener's decision by :class:`ReadyReporter` (not behind the worker's current update); others are
  looked up in neutron, their new VLANs go on the bridge in one update, then they are marked ACTIVE;
- a VLAN the bridge refuses is kept apart (``refusals``): its ports are marked DOWN, the rest go on;
- unplugs, removed adapters and deleted partitions: the ports are marked DOWN; when cleanup is enabled and a VLAN may
  have lost its last user, the host's adapters are re-read and it is taken off if nobody uses it;
- bridge changed by someone else: put back what this agent's ports need.
The host is seen through :class:`HostView`, kept from the event feed. A heal re-derives the ports
from the view (re-reading only what events named); a cold scan (start, lost events, the backstop
every ``full_scan_interval``) re-reads everything.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import time
from collections import defaultdict
from typing import Any

from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import bridges, constants
from powervm_openstack.network.agent import config
from powervm_openstack.network.agent.base import PERIODIC_HEAL, PowerVMAgent
from powervm_openstack.network.agent.bridge_updater import BridgeUpdater, Outcome
from powervm_openstack.network.agent.host_view import HostView
from powervm_openstack.network.agent.pending import PLUG, UNPLUG, Batch, PortChange
from powervm_openstack.network.agent.ready import ReadyReporter
from powervm_openstack.network.agent.refusals import RefusedVlans
from powervm_openstack.pvm import inventory, vif_event
from powervm_openstack.pvm.vif_event import norm_mac

LOG = logging.getLogger(__name__)
_PARTITION_URI = re.compile(r"/(?:LogicalPartition|VirtualIOServer)/([^/]+)/")
_CNA_URI = re.compile(r"/(LogicalPartition|VirtualIOServer)/[^/]+/ClientNetworkAdapter/([^/?]+)")
_LPAR_URI = re.compile(r"/LogicalPartition/([0-9A-Fa-f-]{36})/?$")
BACKSTOP = "backstop full scan"


@dataclasses.dataclass(frozen=True)
class Bound:
    """A port neutron bound here whose adapter is not plugged yet: its VLAN is kept on the bridge."""

    bridge: str
    vlan: int
    port_id: str
    since: float


class SeaAgent(PowerVMAgent):
    agent_type = constants.AGENT_TYPE_SEA
    binary = constants.AGENT_BINARY_SEA
    vif_type = constants.VIF_TYPE_SEA

    def setup(self) -> None:
        agent_conf = self.conf[config.GROUP]
        self.view = HostView(self.adapter, self.host_uuid, agent_conf.rest_workers)
        self.updater = BridgeUpdater(self.adapter, self.host_uuid, self.view)
        found = self.updater.read_all()
        vioses = pvm_vios.VIOS.get(self.adapter)
        self.mappings = bridges.resolve_mappings(bridges.parse_mappings(agent_conf.bridge_mappings), found, vioses)
        self.bridge_switch = {b.uuid: int(b.vswitch_id) for b in found if b.uuid in self.mappings.values()}
        for physnet, uuid in sorted(self.mappings.items()):
            bridge = next(b for b in found if b.uuid == uuid)
            LOG.info("Physical network %r -> network bridge %s (%s, PVID %s, vswitch %s)", physnet, uuid,
                     bridges.describe(bridge, vioses), bridge.pvid, bridge.vswitch_id)  # fmt: skip
        self.cleanup = agent_conf.automated_powervm_vlan_cleanup
        self.ports: dict[str, tuple[str, int]] = {}  # mac -> (bridge uuid, vlan) of ports plugged and served here
        self.port_uris: dict[str, str] = {}  # mac -> its adapter's URI (lower case): deletes name adapters
        self.bound: dict[str, Bound] = {}  # mac -> binding of a port not plugged yet
        self.present: dict[str, frozenset[int]] = {}
        self.refused = RefusedVlans()
        self.names: dict[str, str] = {}  # mac -> "port <id> (MAC, partition)" for decision lines
        self._unbound_logged: set[str] = set()
        self._next_full_scan = time.monotonic() + agent_conf.full_scan_interval
        self._deleted_ports: set[str] = set()  # port_delete seen: a binding served late must not bring it back
        self.ready = ReadyReporter(self._report_ready)

    def stop(self) -> None:
        super().stop()
        if hasattr(self, "ready"):
            self.ready.stop()

    @property
    def adapters(self) -> dict[str, inventory.ClientAdapter]:
        return self.view.adapters

    def configurations(self) -> dict[str, Any]:
        return {constants.CONF_BRIDGE_MAPPINGS: dict(self.mappings)}

    def describe(self, mac: str) -> str:
        if mac in self.ports:
            return f"{self.names.get(mac, mac)} VLAN {self.ports[mac][1]}"
        return self.names.get(mac, mac)

    # -- intake (listener and RPC threads: record only) --------------------------------------
    def on_uri_event(self, etype: str, data: str, detail: str) -> None:
        if self.view.note(etype, data, detail):
            bridge = next((b for b in self.bridge_switch if b.lower() in data.lower()), None)
            if bridge:
                self.pending.bridge_changed(bridge)
        cna = _CNA_URI.search(data)
        if cna and etype == "DELETE_URI":
            self.pending.adapter_deleted(cna.group(2))
        lpar = _LPAR_URI.search(data.split("?")[0])
        if lpar and etype == "DELETE_URI":  # deleted outside OpenStack too: no unplug event comes
            self.pending.partition_deleted(lpar.group(1))

    def on_vif(self, vif: vif_event.VifEvent) -> None:
        self.view.adapter_named(vif.uri)
        bound = self.bound.get(vif.mac)
        if vif.action == "plug" and bound is not None and bound.vlan in self.present.get(bound.bridge, ()):
            self.ready.offer(vif.mac)  # ACTIVE now, off the worker; the worker only books the plug
        self.pending.port(vif.mac, PLUG if vif.action == "plug" else UNPLUG, vif.uri)

    def _report_ready(self, macs: list[str]) -> None:
        self.rpc.set_status(macs, [])
        LOG.info("Ports plugged with their VLAN on the bridge already, marked up at once: %s",
                 [self.names.get(m, m) for m in macs])  # fmt: skip

    def on_port_update(self, port: dict[str, Any], segment: dict[str, Any]) -> None:
        self.pending.bound(norm_mac(port["mac_address"]), {"port_id": port.get("id"), **segment})

    def on_port_delete(self, port_id: str) -> None:
        self.pending.port_deleted(port_id)

    # -- batches ---------------------------------------------------------------------------
    def serve(self, batch: Batch) -> None:
        deleted = self._deleted(batch.deleted_adapters | batch.deleted_partitions)
        changes = list(batch.changes.values()) + deleted
        self._deleted_ports |= batch.deleted_ports
        self._forget_bindings([m for m, b in self.bound.items() if b.port_id in batch.deleted_ports], "was deleted")
        self._bind({m: b for m, b in batch.bindings.items() if str(b.get("port_id")) not in self._deleted_ports})
        plugs = [c for c in changes if c.action == PLUG]
        late = [m for m in batch.bindings if m in self._unbound_logged and m in self.bound and m not in batch.changes]
        self._plug(plugs + [PortChange(m, PLUG) for m in late])  # plugged before neutron had bound it
        self._unplug([c for c in changes if c.action == UNPLUG])
        if self.cleanup and not deleted and (batch.deleted_adapters or batch.deleted_partitions):
            self._cleanup(set(self.bridge_switch))  # adapters not in the view yet: their VLANs may be unused now
        for uuid in batch.bridges:
            bridge = self._bridge(uuid)
            if bridge:
                self._converge(bridge, self._wanted(bridge))

    def _deleted(self, uuids: set[str]) -> list[PortChange]:
        """Unplugs for the adapters deleted (by adapter or partition uuid), known from the view or their plug."""
        if not uuids:
            return []
        gone = {a.mac: a.href for u, a in self.adapters.items() if u in uuids or a.partition_uuid.lower() in uuids}
        pattern = re.compile("|".join(re.escape(u) for u in sorted(uuids)))
        gone.update({m: u for m, u in self.port_uris.items() if m not in gone and pattern.search(u)})
        for mac in gone:
            LOG.info("%s: its adapter or partition was deleted; handled as an unplug", self.describe(mac))
        return [PortChange(mac, UNPLUG, uri) for mac, uri in gone.items()]

    def _bind(self, bindings: dict[str, dict]) -> None:
        """Put the VLANs of ports neutron has just bound here on their bridges, before their adapters exist."""
        touched = set()
        for mac, binding in bindings.items():
            detail = {"mac_address": mac, "device": mac, **binding}
            bridge = self._bridge_for(detail)
            if bridge is None or mac in self.ports:
                continue
            self.bound[mac] = Bound(
                bridge, int(binding["segmentation_id"]), str(binding.get("port_id")), time.monotonic()
            )
            self.names.setdefault(mac, f"port {binding.get('port_id')} (MAC {mac}, not plugged yet)")
            touched.add(bridge)
        for bridge in touched:
            outcome = self._converge(bridge, self._wanted(bridge))
            for mac, bound in self.bound.items():
                if bound.bridge == bridge and mac in bindings:
                    LOG.info("%s bound here: VLAN %d %s bridge %s before its adapter is plugged", self.names[mac],
                             bound.vlan, "is on" if bound.vlan in outcome.present else "could not go on", bridge)  # fmt: skip

    def _plug(self, changes: list[PortChange]) -> None:
        if not changes:
            return
        new: dict[str, dict[str, int]] = defaultdict(dict)
        uris = {c.mac: c.uri for c in changes}
        known = [c.mac for c in changes if c.mac in self.bound]  # bound here: no need to ask neutron
        for mac in known:
            bound = self.bound.pop(mac)
            new[bound.bridge][mac] = bound.vlan
            self.names[mac] = f"port {bound.port_id} (MAC {mac}, {self._partition(mac, uris.get(mac))})"
        for detail in self.device_details([c.mac for c in changes if c.mac not in known]):
            if "mac_address" not in detail:
                self._not_bound(norm_mac(detail.get("device", "")), uris.get(norm_mac(detail.get("device", ""))))
                continue
            bridge = self._bridge_for(detail)
            if bridge:
                mac = norm_mac(detail["mac_address"])
                new[bridge][mac] = int(detail["segmentation_id"])
                self.names[mac] = f"port {detail.get('port_id')} (MAC {mac}, {self._partition(mac, uris.get(mac))})"
        up, down = [], []
        for bridge, ports in new.items():
            self.ports.update({mac: (bridge, vlan) for mac, vlan in ports.items()})
            self.port_uris.update({mac: uris[mac].lower() for mac in ports if uris.get(mac)})
            if set(ports.values()) - self.present.get(bridge, frozenset()) - self.refused.blocked(bridge):
                self._converge(bridge, self._wanted(bridge))
            for mac, vlan in ports.items():
                self._unbound_logged.discard(mac)
                if vlan in self.present.get(bridge, ()):
                    LOG.info("%s: VLAN %d is on bridge %s", self.names.get(mac, mac), vlan, bridge)
                    up.append(mac)
                else:
                    refusal = self.refused.get(bridge, vlan)
                    LOG.info("%s: VLAN %d is not on bridge %s (%s); left DOWN until it is", self.names.get(mac, mac),
                             vlan, bridge, refusal.message if refusal else "not placed")  # fmt: skip
                    down.append(mac)
        self.set_status([m for m in up if not self.ready.reported(m)], down)

    def _not_bound(self, mac: str, uri: str | None) -> None:
        """A plugged port neutron has no usable binding for here: said once, until it is served or unplugged."""
        if mac in self._unbound_logged:
            return
        self._unbound_logged.add(mac)
        LOG.warning("Port with MAC %s (%s) is plugged but neutron has no usable binding for it on host %s "
                    "(binding failed, bound to another host, or no such port): not provisioned, left DOWN; "
                    "see its binding:vif_type in neutron", mac, self._partition(mac, uri), self.host)  # fmt: skip

    def _partition(self, mac: str, uri: str | None) -> str:
        known = next((a for a in self.adapters.values() if a.mac == mac), None)
        if known is not None:
            return f"partition {known.partition_name}"
        match = _PARTITION_URI.search(uri or "")
        return f"partition {match.group(1)}" if match else "partition not known yet"

    def _unplug(self, changes: list[PortChange]) -> None:
        if not changes:
            return
        macs = [c.mac for c in changes]
        self._unbound_logged.difference_update(macs)
        for mac in macs:
            self.ready.forget(mac)
        for mac in macs:
            if mac in self.ports:
                LOG.info("%s unplugged from VLAN %d: marked DOWN", self.names.get(mac, mac), self.ports[mac][1])
        touched = {self.ports.pop(mac)[0] for mac in macs if mac in self.ports}
        self.set_status([], macs)
        for mac in macs:
            self.names.pop(mac, None)
            self.port_uris.pop(mac, None)
        if self.cleanup:
            self._cleanup(touched or set(self.bridge_switch))

    # -- cleanup and heal ------------------------------------------------------------------
    def _cleanup(self, bridge_uuids: set[str]) -> None:
        """Remove VLANs that lost their last user; re-scan the host first (only if any may have)."""
        self.view.refresh_adapters()
        candidates = {b for b in bridge_uuids if self.present.get(b, frozenset()) - self._in_use(b) - self._wanted(b)}
        for bridge in candidates:  # the host is re-scanned only once a removal is decided (_rescan_in_use)
            self._remove_unused(bridge)

    def heal(self, reason: str) -> None:
        """Converge every bridge to the ports on the host; a cold scan first unless this is a periodic heal."""
        cold = reason != PERIODIC_HEAL or time.monotonic() >= self._next_full_scan
        LOG.info("Heal of host %s started (%s; %s)", self.host_uuid, reason,
                 "full scan" if cold else f"re-reading {self.view.stale_partitions()} partition(s) events named")  # fmt: skip
        if cold:
            self._full_scan(reason)
        else:
            self.view.refresh_adapters()
        served = [a for a in self.adapters.values() if a.vswitch_id in self.bridge_switch.values()]
        self.ports = {}
        waiting = [m for m in self.bound if m not in {a.mac for a in served}]
        details = self.device_details([a.mac for a in served] + waiting)
        for detail in details:
            if norm_mac(detail.get("device", "")) in waiting:
                continue  # bound here and not plugged yet: kept until its plug or its lifetime
            bridge = self._bridge_for(detail)
            if bridge:
                mac = norm_mac(detail["mac_address"])
                self.ports[mac] = (bridge, int(detail["segmentation_id"]))
                self.bound.pop(mac, None)
                self.names[mac] = f"port {detail.get('port_id')} (MAC {mac}, {self._partition(mac, None)})"
        self.port_uris = {a.mac: a.href.lower() for a in served if a.mac in self.ports and a.href}
        gone = {norm_mac(d.get("device", "")) for d in details if "mac_address" not in d}
        self._forget_bindings([m for m in waiting if m in gone], "is no longer bound here")
        self._deleted_ports.clear()
        for bridge in self.bridge_switch:
            self._converge(bridge, self._wanted(bridge))
            if self.cleanup:
                self._remove_unused(bridge)
        up = [mac for mac, (bridge, vlan) in self.ports.items() if vlan in self.present.get(bridge, ())]
        down = [mac for mac, (bridge, vlan) in self.ports.items() if vlan in self.refused.blocked(bridge)]
        self.set_status(up, down)
        self.device_count = len(self.ports)
        LOG.info("Heal done: %d adapter(s) on the host, %d port(s) served, %d marked up",
                 len(self.adapters), len(self.ports), len(up))  # fmt: skip

    def _full_scan(self, reason: str) -> None:
        missed = self.view.cold_scan()
        self._next_full_scan = time.monotonic() + self.conf[config.GROUP].full_scan_interval
        if reason == BACKSTOP and missed:
            LOG.warning("Backstop full scan found what the PowerVM events had missed: %s", missed.describe())
        elif reason == BACKSTOP:
            LOG.info("Backstop full scan: the view kept from events was complete")

    def _remove_unused(self, bridge: str) -> None:
        """Take unused VLANs off, a few per update; serve waiting plugs between updates."""
        max_removals = self.conf[config.GROUP].max_vlan_removals_per_update
        while True:
            outcome = self._converge(bridge, self._wanted(bridge), self._in_use(bridge), True, max_removals,
                                     recheck=lambda: self._rescan_in_use(bridge))  # fmt: skip
            if not outcome.deferred:
                return
            if self.pending.has_plugs():
                self.serve(self.pending.take_now())

    def _rescan_in_use(self, bridge: str) -> set[int]:
        """The VLANs the host's adapters use now: a fresh scan, taken after a removal was decided."""
        self._scan()
        return self._in_use(bridge)

    def _scan(self) -> None:
        workers = self.conf[config.GROUP].rest_workers
        self.view.adapters = {a.uuid.lower(): a for a in inventory.client_adapters(self.adapter, workers)}

    # -- timed work: refused VLANs, unused bindings, the backstop ----------------------------
    def housekeeping(self) -> None:
        for refused in self.refused.due():
            self._retry(refused.bridge, refused.vlan)
        lifetime = self.conf[config.GROUP].binding_provision_lifetime
        expired = [m for m, b in self.bound.items() if time.monotonic() - b.since > lifetime]
        self._forget_bindings(expired, f"was bound here more than {lifetime}s ago and never plugged")
        if time.monotonic() >= self._next_full_scan:
            self._next_full_scan = time.monotonic() + self.conf[config.GROUP].full_scan_interval
            self.pending.resync(BACKSTOP)

    def _retry(self, bridge: str, vlan: int) -> None:
        """Try a refused VLAN again, alone (the bridge's other refused VLANs stay out)."""
        wanted = self._wanted(bridge) - (self.refused.blocked(bridge) - {vlan})
        outcome = self.updater.converge(bridge, wanted)
        self.present[bridge] = outcome.present
        refusal = next((r for r in outcome.refused if r.vlan == vlan), None)
        if refusal is not None or vlan not in outcome.present:
            self.refused.refuse(bridge, vlan, str(refusal.reason) if refusal else "", refusal.detail if refusal else "")
            known = self.refused.get(bridge, vlan)
            LOG.debug("VLAN %d still refused on bridge %s (try %d); next try in %.0fs", vlan, bridge, known.tries,
                      known.delay)  # fmt: skip
            return
        cleared = self.refused.clear(bridge, vlan)
        ports = [m for m, (b, v) in self.ports.items() if b == bridge and v == vlan]
        LOG.info("VLAN %d is on bridge %s now, after %d refused tries; ports %s", vlan, bridge,
                 cleared.tries if cleared else 0, [self.describe(m) for m in ports])  # fmt: skip
        self.set_status(ports, [])

    def _forget_bindings(self, macs: list[str], why: str) -> None:
        touched = set()
        for mac in macs:
            bound = self.bound.pop(mac)
            LOG.info("%s %s: VLAN %d is no longer kept on bridge %s for it", self.names.pop(mac, mac), why,
                     bound.vlan, bound.bridge)  # fmt: skip
            touched.add(bound.bridge)
        if touched and self.cleanup:
            self._cleanup(touched)

    # -- helpers ---------------------------------------------------------------------------
    def _converge(self, bridge: str, wanted: set[int], in_use: set[int] = frozenset(), cleanup: bool = False,
                  max_removals: int | None = None, recheck: Any = None) -> Outcome:  # fmt: skip
        """Converge with the refused VLANs left out; a new refusal is logged once and its ports marked DOWN."""
        wanted = set(wanted) - self.refused.blocked(bridge)
        outcome = self.updater.converge(bridge, wanted, in_use, cleanup, max_removals, recheck)
        self.present[bridge] = outcome.present
        for refusal in outcome.refused:
            if self.refused.refuse(bridge, refusal.vlan, str(refusal.reason), refusal.detail):
                ports = [self.describe(m) for m, (b, v) in self.ports.items() if b == bridge and v == refusal.vlan]
                ports += [
                    self.names.get(m, m) for m, b in self.bound.items() if b.bridge == bridge and b.vlan == refusal.vlan
                ]
                LOG.error("VLAN %d cannot go on bridge %s: %s (%s); its ports %s stay DOWN; retried alone with a "
                          "growing delay", refusal.vlan, bridge, refusal.reason, refusal.detail, ports)  # fmt: skip
        return outcome

    def _wanted(self, bridge: str) -> set[int]:
        wanted = {vlan for b, vlan in self.ports.values() if b == bridge}
        return wanted | {b.vlan for b in self.bound.values() if b.bridge == bridge}

    def _in_use(self, bridge: str) -> set[int]:
        switch = self.bridge_switch.get(bridge)
        return {v for a in self.adapters.values() if a.vswitch_id == switch for v in a.vlans}

    def _bridge(self, uuid: str) -> str | None:
        return next((b for b in self.bridge_switch if b.lower() == uuid.lower()), None)

    def _bridge_for(self, detail: dict[str, Any]) -> str | None:
        """The bridge serving a port's segment; None (logged) when it is not ours to serve."""
        if "mac_address" not in detail or detail.get("network_type") != "vlan":
            LOG.debug("Device %s is not a VLAN port bound to %s: %s", detail.get("device"), self.host, detail)
            return None
        physnet = detail.get("physical_network")
        bridge = self.mappings.get(physnet)
        if bridge is None:
            LOG.warning("Port %s is on physical network %r, which bridge_mappings does not map (mapped: %s); "
                        "not provisioned", detail.get("port_id"), physnet, ", ".join(sorted(self.mappings)))  # fmt: skip
        return bridge


def main(argv: list[str] | None = None) -> int:
    """Console script ``powervm-sea-agent``."""
    from powervm_openstack.network.agent import service

    return service.run(SeaAgent, sys.argv[1:] if argv is None else argv)
