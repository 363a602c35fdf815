"""Network rules: NetworkBridge updates (SEAs, trunk adapters, load groups) and client adapters.

What real NovaLink does, and so this module does, inside the update's transaction:
- the SEAs' ``TrunkAdapters`` are the truth for a bridge's VLANs (PVM mode); load groups are
  rebuilt from them, whatever the client sent in ``LoadGroups``;
- a change made to one SEA of a redundant (failover or load-sharing) pair reaches every SEA;
- new trunk adapters get their slot, location code (of their VIOS's own system), device name and
  MAC on their VIOS; each VLAN they bridge gets its VirtualNetwork (``vnets``);
- each VIOS document's SEAs and trunk adapters follow the bridge;
- firmware limits are enforced: at most 20 tagged VLANs per trunk, 16 trunks per SEA, no VLAN
  twice on one SEA, no VLAN already bridged by a trunk outside any SEA on that VIOS and switch.
"""

from __future__ import annotations

import copy
import re

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model import adapters, vnets
from powervm_openstack.simulator.model.ordering import TRUNK_ORDER, set_child
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

MAX_VLANS_PER_TRUNK = 20
MAX_TRUNKS_PER_SEA = 16
_SEA = "SharedEthernetAdapters/SharedEthernetAdapter"


def install() -> None:
    kinds.register("NetworkBridge", NetworkBridgeRules())
    kinds.register("ClientNetworkAdapter", adapters.ClientAdapterRules())


def sea_trunks(sea: etree._Element) -> list[etree._Element]:
    return xml.findall(sea, "TrunkAdapters/TrunkAdapter")


class NetworkBridgeRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        raise ApiError(405, "Network bridges are created on the VIOS (mkvdev -sea), not through this API.")

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        seas = xml.findall(new.element, _SEA)
        if not seas:
            raise bad_request(f"NetworkBridge {new.uuid} must keep at least one SharedEthernetAdapter.")
        source = _changed_sea(xml.findall(old.element, _SEA), seas)
        if source is not None:
            for index, sea in enumerate(seas):
                if index != source:
                    _mirror_trunks(seas[source], sea)
        old_trunk_locs = {xml.text(t, "LocationCode") for s in xml.findall(old.element, _SEA) for t in sea_trunks(s)}
        for sea in seas:
            vios = _vios_of(txn, sea)
            for trunk in sea_trunks(sea):
                _complete_trunk(txn, trunk, vios, sea)
            _check_sea(txn, sea, vios)
        _rebuild_load_groups(new.element, seas)
        for vios_uuid in {adapters.href_uuid(_vios_href(s)) for s in seas}:
            _sync_vios(txn, vios_uuid, seas, old_trunk_locs)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        raise ApiError(405, "Network bridges are removed on the VIOS (rmdev), not through this API.")


def _changed_sea(old_seas: list[etree._Element], seas: list[etree._Element]) -> int | None:
    """Index of the first SEA whose trunk layout differs from before, or None."""
    before = {xml.text(s, "DeviceName"): _layout(s) for s in old_seas}
    for index, sea in enumerate(seas):
        if before.get(xml.text(sea, "DeviceName")) != _layout(sea):
            return index
    return None


def _layout(sea: etree._Element) -> list[tuple[int, list[int]]]:
    return [(adapters.int_text(t, "PortVLANID"), xml.vlan_list(xml.text(t, "TaggedVLANIDs"))) for t in sea_trunks(sea)]


def _mirror_trunks(source: etree._Element, target: etree._Element) -> None:
    """Give ``target`` the same trunk PVIDs and tagged VLANs as ``source`` (its own slots stay)."""
    holder = xml.find(target, "TrunkAdapters")
    if holder is None:
        return
    by_pvid = {adapters.int_text(t, "PortVLANID"): t for t in sea_trunks(target)}
    priority = xml.text(sea_trunks(target)[0], "TrunkPriority", "2") if by_pvid else "2"
    wanted = set()
    for trunk in sea_trunks(source):
        pvid = adapters.int_text(trunk, "PortVLANID")
        wanted.add(pvid)
        mine = by_pvid.get(pvid)
        if mine is None:
            mine = _fresh_copy(trunk, priority)
            holder.append(mine)
        tagged = xml.text(trunk, "TaggedVLANIDs", "") or ""
        set_child(mine, "TaggedVLANIDs", tagged, TRUNK_ORDER)
        set_child(mine, "TaggedVLANSupported", bool(tagged.strip()), TRUNK_ORDER)
    for pvid, trunk in by_pvid.items():
        if pvid not in wanted:
            holder.remove(trunk)


def _fresh_copy(trunk: etree._Element, priority: str) -> etree._Element:
    clone = copy.deepcopy(trunk)
    for tag in (
        "LocationCode",
        "DynamicReconfigurationConnectorName",
        "VirtualSlotNumber",
        "DeviceName",
        "MACAddress",
    ):
        found = xml.find(clone, tag)
        if found is not None:
            clone.remove(found)
    set_child(clone, "TrunkPriority", priority, TRUNK_ORDER)
    return clone


def _vios_href(sea: etree._Element) -> str:
    elem = xml.find(sea, "AssignedVirtualIOServer")
    return (elem.get("href") if elem is not None else None) or ""


def _vios_of(txn: Transaction, sea: etree._Element) -> Record | None:
    """The SEA's VIOS; None when the state does not hold it (a partial capture)."""
    href = _vios_href(sea)
    if not href:
        raise bad_request(f"SEA {xml.text(sea, 'DeviceName')} names no VIOS (AssignedVirtualIOServer).")
    return txn.get("VirtualIOServer", adapters.href_uuid(href))


def _complete_trunk(txn: Transaction, trunk: etree._Element, vios: Record | None, sea: etree._Element) -> None:
    """Assign what the server assigns to a new trunk adapter: slot, location, device, MAC, switch.

    Every VLAN the trunk bridges gets its VirtualNetwork on the trunk's switch (see ``vnets``).
    """
    switch = adapters.resolve_vswitch(txn, trunk, TRUNK_ORDER)
    if switch is not None:
        tagged = xml.vlan_list(xml.text(trunk, "TaggedVLANIDs"))
        vnets.adapter_vnets(txn, switch, adapters.int_text(trunk, "PortVLANID"), tagged)
    if xml.text(trunk, "VirtualSlotNumber"):
        return
    if vios is not None:
        slot = adapters.next_slot(txn, vios, extra=_slots_in(sea))
        loc = adapters.location_code(txn, vios, slot)
        device = adapters.next_device(vios, extra=_devices_in(sea))
    else:  # the VIOS is not in the state (partial capture): derive from the SEA's own trunks
        slot = max(_slots_in(sea) | {1}) + 1
        loc = re.sub(r"-C\d+$", f"-C{slot}", xml.text(sea_trunks(sea)[0], "LocationCode", "") or f"-C{slot}")
        device = adapters.next_name(_devices_in(sea))
    for tag, value in (
        ("DynamicReconfigurationConnectorName", loc), ("LocationCode", loc), ("RequiredAdapter", False),
        ("VariedOn", True), ("UseNextAvailableSlotID", False), ("UseNextAvailableHighSlotID", False),
        ("VirtualSlotNumber", slot), ("MACAddress", adapters.new_mac()), ("DeviceName", device),
    ):  # fmt: skip
        set_child(trunk, tag, value, TRUNK_ORDER)
    tagged = xml.text(trunk, "TaggedVLANIDs", "") or ""
    set_child(trunk, "TaggedVLANSupported", bool(tagged.strip()), TRUNK_ORDER)


def _slots_in(sea: etree._Element) -> set[int]:
    return {adapters.int_text(t, "VirtualSlotNumber") for t in sea_trunks(sea) if xml.text(t, "VirtualSlotNumber")}


def _devices_in(sea: etree._Element) -> set[str]:
    return {d.text for d in sea.iter(xml.q("DeviceName")) if d.text}


def _check_sea(txn: Transaction, sea: etree._Element, vios: Record | None) -> None:
    """Refuse what firmware refuses for one SEA's trunks."""
    vios_name = xml.text(vios.element, "PartitionName") if vios is not None else _vios_href(sea)
    name = f"SEA {xml.text(sea, 'DeviceName')} on VIOS {vios_name}"
    trunks = sea_trunks(sea)
    if len(trunks) > MAX_TRUNKS_PER_SEA:
        raise bad_request(f"{name} would have {len(trunks)} trunk adapters; at most {MAX_TRUNKS_PER_SEA} are allowed.")
    seen: dict[int, str] = {}
    for trunk in trunks:
        loc = xml.text(trunk, "LocationCode", "?")
        tagged = xml.vlan_list(xml.text(trunk, "TaggedVLANIDs"))
        if len(tagged) > MAX_VLANS_PER_TRUNK:
            raise bad_request(
                f"Trunk adapter {loc} of {name} would carry {len(tagged)} tagged VLANs; "
                f"at most {MAX_VLANS_PER_TRUNK} are allowed."
            )
        for vlan in [adapters.int_text(trunk, "PortVLANID"), *tagged]:
            adapters.check_vlan(vlan, f"trunk adapter {loc} of {name}")
            if vlan in seen:
                raise bad_request(
                    f"VLAN {vlan} is on trunk adapters {seen[vlan]} and {loc} of {name}; "
                    "a VLAN may be bridged by one trunk adapter only."
                )
            seen[vlan] = loc
    _check_orphans(vios, sea, set(seen) - {adapters.int_text(trunks[0], "PortVLANID")} if trunks else set(), name)


def _check_orphans(vios: Record | None, sea: etree._Element, vlans: set[int], name: str) -> None:
    if vios is None:
        return
    own = {xml.text(t, "LocationCode") for s in xml.findall(vios.element, _SEA) for t in sea_trunks(s)}
    own |= {xml.text(t, "LocationCode") for t in sea_trunks(sea)}
    for trunk in xml.findall(vios.element, "TrunkAdapters/TrunkAdapter"):
        if xml.text(trunk, "LocationCode") in own:
            continue
        clash = vlans & set(xml.vlan_list(xml.text(trunk, "TaggedVLANIDs")))
        if clash:
            raise bad_request(
                f"VLAN {min(clash)} is already bridged by trunk adapter "
                f"{xml.text(trunk, 'LocationCode')} outside any SEA on the VIOS of {name}."
            )


def _rebuild_load_groups(bridge: etree._Element, seas: list[etree._Element]) -> None:
    """One load group per trunk PVID of the first SEA, holding that trunk from every SEA."""
    holder = xml.find(bridge, "LoadGroups")
    if holder is None:
        return
    old_vnets = {
        adapters.int_text(g, "PortVLANID"): xml.find(g, "VirtualNetworks") for g in xml.findall(holder, "LoadGroup")
    }
    for group in xml.findall(holder, "LoadGroup"):
        holder.remove(group)
    for trunk in sea_trunks(seas[0]):
        pvid = adapters.int_text(trunk, "PortVLANID")
        group = xml.complex_el(holder, "LoadGroup")
        xml.leaf(group, "PortVLANID", pvid, kb="CUR")
        trunks = xml.complex_el(group, "TrunkAdapters")
        for sea in seas:
            for peer in sea_trunks(sea):
                if adapters.int_text(peer, "PortVLANID") == pvid:
                    trunks.append(copy.deepcopy(peer))
        vnets = old_vnets.get(pvid)
        if vnets is not None:
            group.append(copy.deepcopy(vnets))


def _sync_vios(txn: Transaction, vios_uuid: str, seas: list[etree._Element], old_locs: set[str | None]) -> None:
    """Make the VIOS document's SEAs and trunk adapters match the bridge."""
    vios = txn.get("VirtualIOServer", vios_uuid)
    if vios is None:
        return
    mine = [s for s in seas if adapters.href_uuid(_vios_href(s)).lower() == vios_uuid.lower()]
    sea_holder = xml.find(vios.element, "SharedEthernetAdapters")
    if sea_holder is not None:
        by_name = {xml.text(s, "DeviceName"): s for s in xml.findall(sea_holder, "SharedEthernetAdapter")}
        for sea in mine:
            current = by_name.get(xml.text(sea, "DeviceName"))
            if current is not None:
                sea_holder.replace(current, copy.deepcopy(sea))
            else:
                sea_holder.append(copy.deepcopy(sea))
    trunk_holder = xml.find(vios.element, "TrunkAdapters")
    if trunk_holder is not None:
        for trunk in xml.findall(trunk_holder, "TrunkAdapter"):
            if xml.text(trunk, "LocationCode") in old_locs:
                trunk_holder.remove(trunk)
        for sea in mine:
            for trunk in sea_trunks(sea):
                trunk_holder.append(copy.deepcopy(trunk))
    txn.put(vios, detail="SharedEthernetAdapters,TrunkAdapters")
