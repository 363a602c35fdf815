"""Invariants of the network agents, checked from the simulator's own change log.

The checker replays ``/sim/changes`` (every committed change, with the object's body) on top of
a snapshot taken before the run, so it judges what PowerVM actually did, not what the agent says:

1. safety: a VLAN used by any existing client adapter, whatever its partition's state, is never
   removed from the bridge serving that adapter's switch (``checks`` counts the VLAN removals
   judged).
2. liveness: once faults stop, every bound port whose adapter exists has its VLAN on every SEA of
   its bridge and is ACTIVE within the stated bound (checked by the driver, see ``final_checks``).
   At every transition, too: each time the driver sees a port newly ACTIVE it calls
   ``check_active``, which judges the change log as of a moment after that sighting; a VLAN
   missing from an SEA then is a violation (an ACTIVE port whose VLAN arrives a few
   milliseconds late is not caught; one whose VLAN is still absent is).
3. no stale VLAN: with cleanup enabled, no VLAN without any user survives two heal passes.
4. nothing lost: no port stays BUILD or DOWN while its adapter exists.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

import requests
from lxml import etree

from powervm_openstack.simulator.state import xml

_PART = re.compile(r"/(LogicalPartition|VirtualIOServer)/([^/]+)/ClientNetworkAdapter/([^/?]+)$")


@dataclasses.dataclass
class Adapter:
    partition: str
    vswitch: int
    vlans: frozenset[int]


@dataclasses.dataclass
class Violation:
    change_id: int
    invariant: str
    detail: str


@dataclasses.dataclass
class ChangeLogChecker:
    """Replays the change log and checks invariant 1 at every bridge change."""

    url: str
    bridges: dict[str, dict[str, frozenset[int]]] = dataclasses.field(default_factory=dict)  # uuid -> sea -> vlans
    bridge_switch: dict[str, int] = dataclasses.field(default_factory=dict)
    adapters: dict[str, Adapter] = dataclasses.field(default_factory=dict)
    running: dict[str, bool] = dataclasses.field(default_factory=dict)
    last_id: int = 0
    checks: int = 0
    active_checks: int = 0
    violations: list[Violation] = dataclasses.field(default_factory=list)

    def snapshot(self, adapters: Iterable, bridges: Iterable, partitions: Iterable) -> None:
        """The state before the run: pypowervm ClientAdapter rows, NetBridge wrappers, partition wrappers."""
        for cna in adapters:
            self.adapters[cna.uuid.lower()] = Adapter(cna.partition_uuid.upper(), cna.vswitch_id, frozenset(cna.vlans))
        for bridge in bridges:
            self.bridge_switch[bridge.uuid] = int(bridge.vswitch_id)
            self.bridges[bridge.uuid] = {
                _strip_base(sea.dev_name + sea.vio_uri): frozenset(
                    {sea.primary_adpt.pvid, *(v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans)}
                )
                for sea in bridge.seas
            }
        for part in partitions:
            self.running[part.uuid.upper()] = part.state == "running"
        self.last_id = requests.get(f"{self.url}/sim/health", timeout=10).json()["last_change"]

    def poll(self) -> list[Violation]:
        """Apply the changes logged since the last poll; return new violations."""
        before = len(self.violations)
        while True:
            rows = requests.get(f"{self.url}/sim/changes", params={"since": self.last_id, "limit": 500}, timeout=30)
            changes = rows.json()
            for change in changes:
                self._apply(change)
                self.last_id = change["id"]
            if len(changes) < 500:
                return self.violations[before:]

    def _apply(self, change: dict) -> None:
        kind, etype, body = change["kind"], change["event_type"], change["body"]
        if kind == "NetworkBridge" and etype == "MODIFY_URI" and body:
            self._bridge_changed(change["id"], change["uuid"], xml.parse(body))
        elif kind == "ClientNetworkAdapter":
            self._adapter_changed(change["path"] or "", etype, body)
        elif kind in ("LogicalPartition", "VirtualIOServer") and body:
            self.running[change["uuid"].upper()] = xml.text(xml.parse(body), "PartitionState") == "running"

    def _adapter_changed(self, path: str, etype: str, body: str | None) -> None:
        match = _PART.search(path)
        if not match:
            return
        uuid = match.group(3).lower()
        if etype == "DELETE_URI":
            self.adapters.pop(uuid, None)
            return
        elem = xml.parse(body)
        if xml.text(elem, "TrunkPriority"):
            return
        vlans = {int(xml.text(elem, "PortVLANID") or 0), *xml.vlan_list(xml.text(elem, "TaggedVLANIDs"))}
        switch = int(xml.text(elem, "VirtualSwitchID") or 0)
        self.adapters[uuid] = Adapter(match.group(2).upper(), switch, frozenset(vlans))

    def _bridge_changed(self, change_id: int, uuid: str, elem: etree._Element) -> None:
        new = _sea_vlans(elem)
        old = self.bridges.get(uuid, {})
        self.bridges[uuid] = new
        switch = self.bridge_switch.get(
            uuid,
            int(
                xml.text(
                    elem, "SharedEthernetAdapters/SharedEthernetAdapter/TrunkAdapters/TrunkAdapter/VirtualSwitchID"
                )
                or 0
            ),
        )
        self.bridge_switch[uuid] = switch
        for sea, vlans in new.items():
            for vlan in sorted(old.get(sea, frozenset()) - vlans):
                self._check_removal(change_id, uuid, switch, vlan)

    def _check_removal(self, change_id: int, bridge: str, switch: int, vlan: int) -> None:
        self.checks += 1
        users = sorted({a.partition for a in self.adapters.values() if a.vswitch == switch and vlan in a.vlans})
        if users:
            states = ", ".join(f"{p} ({'running' if self.running.get(p) else 'not running'})" for p in users)
            detail = f"VLAN {vlan} removed from bridge {bridge} while adapters of partition(s) {states} use it"
            self.violations.append(Violation(change_id, "safety", detail))

    def check_active(self, port: str, adapter_uuid: str, vlan: int) -> list[Violation]:
        """Invariant 2 at a transition: ``port`` was just seen ACTIVE; its VLAN must be on every SEA.

        Call it after the sighting: the change log is read up to now, so a VLAN still missing from
        any SEA of the bridge on the adapter's switch was missing when neutron showed the port ACTIVE.
        """
        before = len(self.violations)
        self.poll()
        self.active_checks += 1
        cna = self.adapters.get(adapter_uuid.lower())
        switch = cna.vswitch if cna else None
        for uuid, seas in self.bridges.items():
            if switch is not None and self.bridge_switch.get(uuid) != switch:
                continue
            missing = sorted(sea for sea, vlans in seas.items() if vlan not in vlans)
            if missing:
                detail = f"VLAN {vlan} not on SEA(s) {missing} of bridge {uuid} when port {port} was ACTIVE"
                self.violations.append(Violation(self.last_id, "active-early", detail))
        return self.violations[before:]

    def unused_vlans(self, static: dict[str, frozenset[int]]) -> dict[str, set[int]]:
        """Per bridge, VLANs no adapter on its switch uses, beyond the ``static`` ones it had before."""
        stale = {}
        for uuid, seas in self.bridges.items():
            on_bridge = set().union(*seas.values())
            used = {v for a in self.adapters.values() if a.vswitch == self.bridge_switch.get(uuid) for v in a.vlans}
            stale[uuid] = on_bridge - used - static.get(uuid, frozenset())
        return stale


def _sea_vlans(elem: etree._Element) -> dict[str, frozenset[int]]:
    seas = {}
    for sea in xml.findall(elem, "SharedEthernetAdapters/SharedEthernetAdapter"):
        vios = xml.find(sea, "AssignedVirtualIOServer")
        key = (xml.text(sea, "DeviceName") or "") + (vios.get("href", "") if vios is not None else "")
        vlans = {int(xml.text(sea, "PortVLANID") or 0)}
        for trunk in xml.findall(sea, "TrunkAdapters/TrunkAdapter"):
            vlans.update(xml.vlan_list(xml.text(trunk, "TaggedVLANIDs")))
        seas[_strip_base(key)] = frozenset(vlans)
    return seas


def _strip_base(key: str) -> str:
    return re.sub(r"https?://[^/]+", "", key)
