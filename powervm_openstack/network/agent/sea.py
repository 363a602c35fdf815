"""The PowerVM Shared Ethernet agent: VLANs on VIOS network bridges for ports bound to this host.

Per batch of port changes:
- plugs: ask neutron for the ports' segments (with this host), put every new VLAN of a bridge
  on it in one update, then mark ACTIVE the ports whose VLAN is on their bridge;
- unplugs and removed adapters: mark the ports DOWN; when cleanup is enabled and a VLAN may have
  lost its last user, re-scan the host and take it off (never one any partition still uses);
- bridge changed by someone else: put back what this agent's ports need.
A heal (at start, on lost events, periodically) re-derives everything from the host's adapters.
"""

from __future__ import annotations

import logging
import re
import sys
from collections import defaultdict
from typing import Any

from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import bridges, constants
from powervm_openstack.network.agent import config
from powervm_openstack.network.agent.base import PowerVMAgent
from powervm_openstack.network.agent.bridge_updater import BridgeUpdater, Outcome
from powervm_openstack.network.agent.pending import PLUG, UNPLUG, Batch, PortChange
from powervm_openstack.pvm import inventory
from powervm_openstack.pvm.vif_event import norm_mac

LOG = logging.getLogger(__name__)
_PARTITION_URI = re.compile(r"/(?:LogicalPartition|VirtualIOServer)/([^/]+)/")


class SeaAgent(PowerVMAgent):
    agent_type = constants.AGENT_TYPE_SEA
    binary = constants.AGENT_BINARY_SEA
    vif_type = constants.VIF_TYPE_SEA

    def setup(self) -> None:
        agent_conf = self.conf[config.GROUP]
        self.updater = BridgeUpdater(self.adapter, self.host_uuid)
        found = self.updater.read_all()
        vioses = pvm_vios.VIOS.get(self.adapter)
        self.mappings = bridges.resolve_mappings(bridges.parse_mappings(agent_conf.bridge_mappings), found, vioses)
        self.bridge_switch = {b.uuid: int(b.vswitch_id) for b in found if b.uuid in self.mappings.values()}
        for physnet, uuid in sorted(self.mappings.items()):
            bridge = next(b for b in found if b.uuid == uuid)
            LOG.info("Physical network %r -> network bridge %s (%s, PVID %s, vswitch %s)", physnet, uuid,
                     bridges.describe(bridge, vioses), bridge.pvid, bridge.vswitch_id)  # fmt: skip
        self.cleanup = agent_conf.automated_powervm_vlan_cleanup
        self.adapters: dict[str, inventory.ClientAdapter] = {}
        self.ports: dict[str, tuple[str, int]] = {}  # mac -> (bridge uuid, vlan) of ports served here
        self.present: dict[str, frozenset[int]] = {}
        self.names: dict[str, str] = {}  # mac -> "port <id> (MAC, partition)" for decision lines
        self._unbound_logged: set[str] = set()

    def configurations(self) -> dict[str, Any]:
        return {constants.CONF_BRIDGE_MAPPINGS: dict(self.mappings)}

    def describe(self, mac: str) -> str:
        if mac in self.ports:
            return f"{self.names.get(mac, mac)} VLAN {self.ports[mac][1]}"
        return self.names.get(mac, mac)

    # -- batches ---------------------------------------------------------------------------
    def serve(self, batch: Batch) -> None:
        changes = list(batch.changes.values())
        changes += self._added(batch.added_uris - {c.uri for c in changes if c.uri})
        changes += self._deleted(batch.deleted_adapters)
        self._plug([c for c in changes if c.action == PLUG])
        self._unplug([c for c in changes if c.action == UNPLUG])
        for uuid in batch.bridges:
            bridge = self._bridge(uuid)
            if bridge:
                self._converge(bridge, self._wanted(bridge))

    def _added(self, uris: set[str]) -> list[PortChange]:
        changes = []
        for uri in uris:
            try:
                cna = pvm_net.CNA.wrap(self.adapter.read_by_href(uri))
            except pvm_exc.HttpNotFound:
                continue
            if not cna.is_trunk:
                changes.append(PortChange(norm_mac(cna.mac), PLUG, uri))
        return changes

    def _deleted(self, uuids: set[str]) -> list[PortChange]:
        gone = [self.adapters.pop(u) for u in list(self.adapters) if u.lower() in uuids]
        return [PortChange(a.mac, UNPLUG, a.href) for a in gone]

    def _plug(self, changes: list[PortChange]) -> None:
        if not changes:
            return
        wanted: dict[str, dict[str, int]] = defaultdict(dict)
        uris = {c.mac: c.uri for c in changes}
        for detail in self.device_details([c.mac for c in changes]):
            if "mac_address" not in detail:
                self._not_bound(norm_mac(detail.get("device", "")), uris.get(norm_mac(detail.get("device", ""))))
                continue
            bridge = self._bridge_for(detail)
            if bridge:
                mac = norm_mac(detail["mac_address"])
                wanted[bridge][mac] = int(detail["segmentation_id"])
                self.names[mac] = f"port {detail.get('port_id')} (MAC {mac}, {self._partition(mac, uris.get(mac))})"
        up = []
        for bridge, ports in wanted.items():
            try:
                outcome = self._converge(bridge, set(ports.values()) | self._wanted(bridge))
            except Exception:
                LOG.exception(
                    "Could not provision VLANs %s on bridge %s; will retry", sorted(set(ports.values())), bridge
                )
                for mac in ports:
                    self.pending.port(mac, PLUG)
                continue
            for mac, vlan in ports.items():
                self.ports[mac] = (bridge, vlan)
                self._unbound_logged.discard(mac)
                ready = vlan in outcome.present
                LOG.info("%s: VLAN %d %s bridge %s", self.names.get(mac, mac), vlan,
                         "is on" if ready else "could not be put on", bridge)  # fmt: skip
                if ready:
                    up.append(mac)
        self.set_status(up, [])

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
            if mac in self.ports:
                LOG.info("%s unplugged from VLAN %d: marked DOWN", self.names.get(mac, mac), self.ports[mac][1])
        touched = {self.ports.pop(mac)[0] for mac in macs if mac in self.ports}
        self.set_status([], macs)
        for mac in macs:
            self.names.pop(mac, None)
        if self.cleanup:
            self._cleanup(touched or set(self.bridge_switch))

    # -- cleanup and heal ------------------------------------------------------------------
    def _cleanup(self, bridge_uuids: set[str]) -> None:
        """Remove VLANs that lost their last user; re-scan the host first (only if any may have)."""
        candidates = {b for b in bridge_uuids if self.present.get(b, frozenset()) - self._in_use(b) - self._wanted(b)}
        for bridge in candidates:  # the host is re-scanned only once a removal is decided (_rescan_in_use)
            self._remove_unused(bridge)

    def heal(self, reason: str) -> None:
        LOG.info("Heal of host %s started (%s)", self.host_uuid, reason)
        self._scan()
        self.updater.refresh_orphans(self.updater.read_all())
        self.updater.refresh_vswitches()
        served = [a for a in self.adapters.values() if a.vswitch_id in self.bridge_switch.values()]
        self.ports = {}
        for detail in self.device_details([a.mac for a in served]):
            bridge = self._bridge_for(detail)
            if bridge:
                mac = norm_mac(detail["mac_address"])
                self.ports[mac] = (bridge, int(detail["segmentation_id"]))
                self.names[mac] = f"port {detail.get('port_id')} (MAC {mac}, {self._partition(mac, None)})"
        for bridge in self.bridge_switch:
            self._converge(bridge, self._wanted(bridge))
            if self.cleanup:
                self._remove_unused(bridge)
        up = [mac for mac, (bridge, vlan) in self.ports.items() if vlan in self.present.get(bridge, ())]
        self.set_status(up, [])
        self.device_count = len(self.ports)
        LOG.info("Heal done: %d adapter(s) on the host, %d port(s) served, %d marked up",
                 len(self.adapters), len(self.ports), len(up))  # fmt: skip

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
        self.adapters = {a.uuid.lower(): a for a in inventory.client_adapters(self.adapter, workers)}

    # -- helpers ---------------------------------------------------------------------------
    def _converge(self, bridge: str, wanted: set[int], in_use: set[int] = frozenset(), cleanup: bool = False,
                  max_removals: int | None = None, recheck: Any = None) -> Outcome:  # fmt: skip
        outcome = self.updater.converge(bridge, wanted, in_use, cleanup, max_removals, recheck)
        self.present[bridge] = outcome.present
        for refusal in outcome.refused:
            LOG.error("VLAN %d cannot go on bridge %s: %s (%s)", refusal.vlan, bridge, refusal.reason, refusal.detail)
        return outcome

    def _wanted(self, bridge: str) -> set[int]:
        return {vlan for b, vlan in self.ports.values() if b == bridge}

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
