"""Virtual Ethernet adapters: client network adapters, and what trunk adapters share with them.

The server assigns a new adapter's slot, location code, MAC and switch id, and refuses a VLAN
outside 1-4094, an unknown virtual switch, a malformed or duplicate MAC, and a slot that is in use,
below 2 or not below the partition's ``MaximumVirtualIOSlots``. A trunk adapter created on a VIOS gets
its ``entN`` device name and is listed in the VIOS document's ``TrunkAdapters`` (with its changes,
until it is deleted).

Adding an adapter to, or removing one from, a running partition is a DLPAR operation: pypowervm's
``crt_cna`` says "If the LPAR is active can only perform if there is an active RMC connection", and
nova-powervm checked the partition's RMC state and I/O DLPAR capability before a live plug or
unplug. The simulator refuses either with 409 and the same HSCL294C line it gives a live
memory/processor change without RMC (neither pypowervm's code and test data nor IBM's NovaLink REST
documentation give the exact code NovaLink answers); ``check_live_change`` is that one rule, also
used for vNICs, SR-IOV logical ports and the client side of vSCSI mappings. A stopped partition
takes the change offline, whatever its RMC state.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Sequence

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model import vnets
from powervm_openstack.simulator.model.lpar_resources import DOWN_STATES
from powervm_openstack.simulator.model.ordering import CNA_ORDER, TRUNK_ORDER, set_child
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

_MAC = re.compile(r"^[0-9A-F]{12}$")
_FIRST_SLOT = 2


def href_uuid(href: str) -> str:
    """The last path segment of a link (query dropped)."""
    return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def int_text(elem: etree._Element, tag: str, default: int = 0) -> int:
    value = xml.text(elem, tag)
    try:
        return int(value) if value else default
    except ValueError:
        raise bad_request(f"{tag} {value!r} is not a whole number.") from None


def check_vlan(vlan: int, where: str) -> None:
    if not 1 <= vlan <= 4094:
        raise bad_request(f"VLAN {vlan} of {where} is outside 1-4094.")


def switch_href(adapter: etree._Element) -> str | None:
    """The AssociatedVirtualSwitch link, written inline or as a child ``link``."""
    elem = xml.find(adapter, "AssociatedVirtualSwitch")
    if elem is None:
        return None
    if elem.get("href"):
        return elem.get("href")
    child = xml.find(elem, "link")
    return child.get("href") if child is not None else None


def resolve_vswitch(txn: Transaction, adapter: etree._Element, order: Sequence[str]) -> Record | None:
    """Set ``VirtualSwitchID`` from the adapter's switch link; refuse an unknown switch.

    Returns the switch (None for an adapter that names only a switch id, as partial captures do).
    """
    href = switch_href(adapter)
    if not href:
        if xml.text(adapter, "VirtualSwitchID") is None:
            raise bad_request("The adapter names no virtual switch (AssociatedVirtualSwitch).")
        return None
    vswitch = txn.get("VirtualSwitch", href_uuid(href))
    if vswitch is None:
        raise bad_request(f"The virtual switch {href} does not exist.")
    set_child(adapter, "VirtualSwitchID", xml.text(vswitch.element, "SwitchID", "0"), order)
    return vswitch


def partition_id(part: Record) -> int:
    return int_text(part.element, "PartitionID")


def used_slots(txn: Transaction, part: Record) -> set[int]:
    """Virtual slots in use on ``part``: its document's adapters, its adapter children, and the client
    vSCSI/vFC adapters of VIOS mappings to it (firmware has one slot space per partition)."""
    used = {int(s.text) for s in part.element.iter(xml.q("VirtualSlotNumber")) if (s.text or "").isdigit()}
    for child_kind in ("ClientNetworkAdapter", "VirtualNICDedicated"):
        for child in txn.find(child_kind, part.uuid):
            used.add(int_text(child.element, "VirtualSlotNumber"))
    if part.kind == "LogicalPartition":
        used |= _mapped_client_slots(txn, part)
    return used


def _mapped_client_slots(txn: Transaction, part: Record) -> set[int]:
    used = set()
    for vios in txn.find_containing("VirtualIOServer", part.uuid):
        for path in (
            "VirtualSCSIMappings/VirtualSCSIMapping",
            "VirtualFibreChannelMappings/VirtualFibreChannelMapping",
        ):
            for mapping in xml.findall(vios.element, path):
                link = xml.find(mapping, "AssociatedLogicalPartition")
                slot = xml.text(mapping, "ClientAdapter/VirtualSlotNumber")
                if link is not None and href_uuid(link.get("href") or "").upper() == part.uuid.upper() and slot:
                    used.add(int(slot))
    return used


def next_slot(txn: Transaction, part: Record, extra: set[int] = frozenset()) -> int:
    """The lowest free virtual slot above every slot in use on ``part``."""
    return max(set(extra) | used_slots(txn, part) | {_FIRST_SLOT - 1}) + 1


def check_slot(txn: Transaction, part: Record, slot: int) -> None:
    """Refuse a slot firmware refuses: 0 and 1 (the serial adapters), in use, or past the partition's maximum."""
    name = f"{xml.text(part.element, 'PartitionName')} ({part.uuid})"
    limit = int_text(part.element, "PartitionIOConfiguration/MaximumVirtualIOSlots", 64)
    if not _FIRST_SLOT <= slot < limit:
        raise bad_request(
            f"HSCL294E Virtual slot {slot} of partition {name} is outside {_FIRST_SLOT}-{limit - 1} "
            f"(slots 0 and 1 hold the serial adapters; MaximumVirtualIOSlots is {limit})."
        )
    if slot in used_slots(txn, part):
        raise bad_request(f"HSCL294D Virtual slot {slot} of partition {name} is already in use.")


def check_live_change(part: Record, what: str, verb: str = "added to") -> None:
    """Refuse a DLPAR change (``what`` ``verb`` the partition) of a running partition without active RMC.

    The one rule for every live adapter change: an add or a removal of a client adapter (virtual
    Ethernet, vNIC, SR-IOV logical port, the client side of a vSCSI mapping) needs the OS's RMC
    connection while the partition runs; a stopped partition changes offline.
    """
    state = xml.text(part.element, "PartitionState", "") or ""
    rmc = xml.text(part.element, "ResourceMonitoringControlState", "inactive") or "inactive"
    if state not in DOWN_STATES and rmc != "active":
        raise ApiError(
            409,
            f"HSCL294C Partition {xml.text(part.element, 'PartitionName')} ({part.uuid}) is {state} and its RMC "
            f"connection is {rmc}: {what} is {verb} a running partition only through an active RMC "
            "connection (DLPAR); power the partition off or wait for RMC.",
        )


def check_live_add(part: Record, what: str) -> None:
    """Refuse a DLPAR add (``what``) to a running partition whose RMC connection is not active."""
    check_live_change(part, what, "added to")


def check_live_remove(part: Record, what: str) -> None:
    """Refuse a DLPAR removal (``what``) from a running partition whose RMC connection is not active."""
    check_live_change(part, what, "removed from")


def system_of(txn: Transaction, part: Record) -> Record | None:
    """The ManagedSystem a partition belongs to: its parent, else its AssociatedManagedSystem link."""
    if part.parent_kind == "ManagedSystem" and part.parent_uuid:
        found = txn.get("ManagedSystem", part.parent_uuid)
        if found is not None:
            return found
    link = xml.find(part.element, "AssociatedManagedSystem")
    if link is not None and link.get("href"):
        found = txn.get("ManagedSystem", href_uuid(link.get("href") or ""))
        if found is not None:
            return found
    systems = txn.find("ManagedSystem")  # a partial capture: the one system a NovaLink manages
    return systems[0] if systems else None


def location_code(txn: Transaction, part: Record, slot: int) -> str:
    """``U<type>.<model>.<serial>-V<partition id>-C<slot>`` as firmware writes it, of the partition's system."""
    system = system_of(txn, part)
    mtms = "U9009.22A.0000000"
    if system is not None:
        sysel = system.element
        mtype = xml.text(sysel, "MachineTypeModelAndSerialNumber/MachineType", "9009")
        model = xml.text(sysel, "MachineTypeModelAndSerialNumber/Model", "22A")
        serial = xml.text(sysel, "MachineTypeModelAndSerialNumber/SerialNumber", "0000000")
        mtms = f"U{mtype}.{model}.{serial}"
    return f"{mtms}-V{partition_id(part)}-C{slot}"


def new_mac() -> str:
    """A locally administered unicast MAC in PowerVM's format (upper case, no colons)."""
    return "FA" + secrets.token_hex(5).upper()


def next_device(part: Record, extra: set[str] = frozenset()) -> str:
    """The next free ``entN`` device name on a VIOS."""
    return next_name(set(extra) | {d.text for d in part.element.iter(xml.q("DeviceName")) if d.text})


def next_name(names: set[str]) -> str:
    """``entN`` above every ``entM`` in ``names``."""
    numbers = [int(n[3:]) for n in names if n.startswith("ent") and n[3:].isdigit()]
    return f"ent{max(numbers, default=-1) + 1}"


class ClientAdapterRules(kinds.Behaviour):
    """ClientNetworkAdapter create/update/delete on a LogicalPartition or VirtualIOServer."""

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        if parent is None:
            raise bad_request("A ClientNetworkAdapter is created under its partition.")
        check_live_add(parent, "a virtual Ethernet adapter")
        elem = rec.element
        self._check(txn, elem, rec.uuid)
        slot = int_text(elem, "VirtualSlotNumber") if xml.text(elem, "VirtualSlotNumber") else next_slot(txn, parent)
        check_slot(txn, parent, slot)
        loc = location_code(txn, parent, slot)
        mac = (xml.text(elem, "MACAddress") or new_mac()).upper()
        if xml.text(elem, "TrunkPriority") is None:  # trunks carry no AdapterType (cna_feed1.txt)
            set_child(elem, "AdapterType", "Client", CNA_ORDER)
        elif parent.kind == "VirtualIOServer" and not xml.text(elem, "DeviceName"):
            set_child(elem, "DeviceName", next_device(parent), CNA_ORDER)  # the VIOS names its entN
        for tag, value in (
            ("DynamicReconfigurationConnectorName", loc), ("LocationCode", loc),
            ("LocalPartitionID", partition_id(parent)), ("RequiredAdapter", False), ("VariedOn", True),
            ("UseNextAvailableSlotID", False), ("UseNextAvailableHighSlotID", False),
            ("VirtualSlotNumber", slot), ("Enabled", True), ("MACAddress", mac),
        ):  # fmt: skip
            set_child(elem, tag, value, CNA_ORDER)
        _link_in_parent(txn, parent, rec, add=True)

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        self._check(txn, new.element, new.uuid)
        parent = txn.get(new.parent_kind, new.parent_uuid or "") if new.parent_kind else None
        if parent is not None and _vios_trunk(parent, new, add=True):
            txn.put(parent, detail="TrunkAdapters")

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        parent = txn.get(rec.parent_kind, rec.parent_uuid or "") if rec.parent_kind else None
        if parent is not None:
            check_live_remove(parent, "a virtual Ethernet adapter")
            _link_in_parent(txn, parent, rec, add=False)

    def _check(self, txn: Transaction, elem: etree._Element, uuid: str) -> None:
        pvid = xml.text(elem, "PortVLANID")
        if pvid is None:
            raise bad_request("A ClientNetworkAdapter needs a PortVLANID (1-4094).")
        check_vlan(int_text(elem, "PortVLANID"), f"client adapter {uuid}")
        for vlan in xml.vlan_list(xml.text(elem, "TaggedVLANIDs")):
            check_vlan(vlan, f"client adapter {uuid} (tagged)")
        vswitch = resolve_vswitch(txn, elem, CNA_ORDER)
        if vswitch is not None:
            pvid, tagged = int_text(elem, "PortVLANID"), xml.vlan_list(xml.text(elem, "TaggedVLANIDs"))
            links = vnets.adapter_vnets(txn, vswitch, pvid, tagged)
            vnets.set_links(elem, "VirtualNetworks", links, CNA_ORDER, kb="CUR")
        mac = xml.text(elem, "MACAddress")
        if mac is not None:
            _check_mac(txn, mac.upper(), uuid)


def _check_mac(txn: Transaction, mac: str, uuid: str) -> None:
    if not _MAC.match(mac):
        raise bad_request(f"MAC address {mac!r} is not 12 hexadecimal digits (e.g. FA16E3A4B5C6).")
    for other in txn.find_containing("ClientNetworkAdapter", f">{mac}<"):
        if other.uuid.lower() != uuid.lower() and (xml.text(other.element, "MACAddress") or "").upper() == mac:
            raise bad_request(f"MAC address {mac} is already used by client adapter {other.uuid}.")


def _link_in_parent(txn: Transaction, parent: Record, rec: Record, add: bool) -> None:
    """Keep the parent's adapter links (and a VIOS's list of trunk adapters) in step with ``rec``."""
    details = ["TrunkAdapters"] if _vios_trunk(parent, rec, add) else []
    holder = xml.find(parent.element, "ClientNetworkAdapters")
    if holder is not None:
        path = f"/rest/api/uom/{parent.kind}/{parent.uuid}/ClientNetworkAdapter/{rec.uuid}"
        for link in list(holder):
            if (link.get("href") or "").split("?")[0].lower().endswith(rec.uuid.lower()):
                holder.remove(link)
        if add:
            etree.SubElement(holder, xml.q("link"), attrib={"href": path, "rel": "related"})
        details.insert(0, "ClientNetworkAdapters")
    if details:
        txn.put(parent, detail=",".join(details))


def _vios_trunk(parent: Record, rec: Record, add: bool) -> bool:
    """List a trunk adapter of a VIOS in the VIOS document's ``TrunkAdapters``, as NovaLink does.

    pypowervm's network_bridger finds orphan VLANs (trunks outside any SEA) only there.
    """
    if parent.kind != "VirtualIOServer" or xml.text(rec.element, "TrunkPriority") is None:
        return False
    holder = xml.find(parent.element, "TrunkAdapters")
    if holder is None:
        return False
    loc = xml.text(rec.element, "LocationCode")
    for trunk in xml.findall(holder, "TrunkAdapter"):
        if xml.text(trunk, "LocationCode") == loc:
            holder.remove(trunk)
    if add:
        trunk = xml.complex_el(holder, "TrunkAdapter")
        for child in rec.element:
            if xml.local(child) in TRUNK_ORDER[1:]:
                trunk.append(copy.deepcopy(child))
    return True
