"""SR-IOV backed vNICs and logical ports, as firmware creates and removes them.

- a ``VirtualNICDedicated`` created under a LogicalPartition names 1-6 backing devices, each an
  SR-IOV adapter id, a physical port id, a hosting VIOS and optionally a capacity; each gets one
  logical port (a VF) on its physical port, hosted by its VIOS (an ``SRIOVEthernetLogicalPort``
  under the VIOS), which takes capacity and a logical port from the physical port
  (see :mod:`.sriov_system` for those rules);
- refused (400, naming the value): no or too many backing devices, two on one physical port, a
  hosting VIOS that is unknown, not running, not vNIC capable (or not failover capable when there
  are several), a PVID outside 0-4094, a malformed or already used MAC, a slot in use;
- the server fills in the slot, location code, MAC (when absent), and the backing devices' status,
  priority, capacities and logical-port links; deleting the vNIC frees all of it;
- a logical port created directly under a partition (a VF given to it) takes from its port the
  same way; one that backs a vNIC cannot be deleted on its own;
- adding or removing a vNIC or a logical port of a running partition is a DLPAR change: refused
  (409, HSCL294C) unless its RMC connection is active (``adapters.check_live_change``).
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model import adapters
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.model.sriov_system import (
    FULL,
    SystemRules,
    find_port,
    format_percent,
    give_back,
    num,
    percent,
    system_of,
    take,
)
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction, new_uuid

MAX_BACKING_DEVICES = 6
_CENT = Decimal("0.01")
_LPORT_ID_BASE = 0x27004000
_BACKING = "AssociatedBackingDevices/VirtualNICBackingDeviceChoice/VirtualNICSRIOVBackingDevice"

VNIC_ORDER = (
    "Metadata", "AdapterType", "DynamicReconfigurationConnectorName", "LocationCode", "LocalPartitionID",
    "RequiredAdapter", "VariedOn", "UseNextAvailableSlotID", "UseNextAvailableHighSlotID", "VirtualSlotNumber",
    "Enabled", "Details", "AssociatedBackingDevices",
)  # fmt: skip
DETAILS_ORDER = (
    "Metadata", "PortVLANID", "PortVLANIDPriority", "AllowedVLANIDs", "MACAddress", "IPAddress", "SubnetMask",
    "Gateway", "AllowedOperatingSystemMACAddresses", "OSDeviceName", "DesiredMode", "DesiredCapacityPercentage",
)  # fmt: skip
BACKING_ORDER = (
    "Metadata", "DeviceType", "AssociatedVirtualIOServer", "AssociatedVirtualNICSwitch",
    "AssociatedVirtualNICDedicated", "IsActive", "Status", "FailOverPriority", "BackingDeviceAction",
    "RelatedSRIOVAdapterID", "CurrentCapacityPercentage", "MaxCapacityPercentage", "RelatedSRIOVPhysicalPortID",
    "RelatedSRIOVLogicalPort", "DesiredCapacityPercentage", "DesiredMaxCapacityPercentage",
)  # fmt: skip
LPORT_ORDER = (
    "Metadata", "ConfigurationID", "LogicalPortID", "AdapterID", "DynamicReconfigurationConnectorName",
    "IsFunctional", "IsPromiscous", "IsDiagnostic", "IsDebug", "IsHugeDMA", "DeviceName", "ConfiguredCapacity",
)  # fmt: skip


def install() -> None:
    kinds.register("VirtualNICDedicated", VnicRules())
    kinds.register("SRIOVEthernetLogicalPort", LogicalPortRules())
    kinds.register("ManagedSystem", SystemRules())


# -- vNICs -----------------------------------------------------------------------------------
class VnicRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        if parent is None or parent.kind != "LogicalPartition":
            raise bad_request("A VirtualNICDedicated is created under its LogicalPartition.")
        adapters.check_live_add(parent, "a vNIC")
        system = system_of(txn)
        devices = xml.findall(rec.element, _BACKING)
        _check_system(system.element, len(devices), rec.uuid)
        pvid, mac = _fill_vnic(txn, rec, parent)
        used: set[tuple[int, int]] = set()
        for index, device in enumerate(devices):
            where = f"vNIC {mac} backing device {index + 1}"
            key = (num(device, "RelatedSRIOVAdapterID", -1), num(device, "RelatedSRIOVPhysicalPortID", -1))
            if key in used:
                raise bad_request(f"{where}: adapter {key[0]} port {key[1]} already backs this vNIC; use another port.")
            used.add(key)
            vios = _hosting_vios(txn, device, len(devices) > 1, where)
            adapter, port = find_port(system.element, *key, where)
            capacity = take(adapter, port, _capacity(device, "Current", where), where)
            maximum = _max_capacity(device, capacity, where)
            lport = _logical_port(txn, vios, port, key, capacity, maximum, pvid, mac)
            _fill_backing(device, lport, port, index, capacity, maximum)
        details = xml.find(rec.element, "Details")
        set_child(details, "DesiredCapacityPercentage", xml.text(devices[0], "CurrentCapacityPercentage"),
                  DETAILS_ORDER, kb="ROO")  # fmt: skip
        txn.put(system, detail="SRIOVAdapters")

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        def identity(rec: Record) -> list[tuple[str | None, ...]]:
            return [(xml.text(d, "RelatedSRIOVAdapterID"), xml.text(d, "RelatedSRIOVPhysicalPortID"))
                    for d in xml.findall(rec.element, _BACKING)]  # fmt: skip

        if identity(new) and identity(new) != identity(old):
            raise bad_request(f"The backing devices of vNIC {old.uuid} cannot change by an update; delete and "
                              "re-create the vNIC.")  # fmt: skip
        for tag in ("DynamicReconfigurationConnectorName", "LocationCode", "LocalPartitionID", "VirtualSlotNumber"):
            if xml.text(old.element, tag) is not None:
                set_child(new.element, tag, xml.text(old.element, tag), VNIC_ORDER)
        sent = xml.find(new.element, "AssociatedBackingDevices")
        if sent is not None:
            new.element.remove(sent)
        kept = xml.find(old.element, "AssociatedBackingDevices")
        if kept is not None:
            new.element.append(copy.deepcopy(kept))
        if xml.text(new.element, "Details/MACAddress") != xml.text(old.element, "Details/MACAddress"):
            raise bad_request(f"The MAC address of vNIC {old.uuid} cannot change.")
        _pvid(new.element)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        _check_live(txn, rec, "a vNIC", adapters.check_live_remove)
        system = system_of(txn)
        for device in xml.findall(rec.element, _BACKING):
            capacity = percent(xml.text(device, "CurrentCapacityPercentage"), "capacity") or Decimal(0)
            give_back(system.element, num(device, "RelatedSRIOVAdapterID"),
                      num(device, "RelatedSRIOVPhysicalPortID"), capacity)  # fmt: skip
            link = xml.find(device, "RelatedSRIOVLogicalPort")
            href = link.get("href", "") if link is not None else ""
            lport = txn.get("SRIOVEthernetLogicalPort", adapters.href_uuid(href)) if href else None
            if lport is not None:
                txn.delete(lport, detail="VirtualNICDedicated")
        txn.put(system, detail="SRIOVAdapters")


def _check_live(txn: Transaction, rec: Record, what: str, check) -> None:  # noqa: ANN001 - one of adapters' checks
    """Apply a DLPAR rule of ``adapters`` to the partition ``rec`` belongs to (if it still exists)."""
    parent = txn.get(rec.parent_kind, rec.parent_uuid or "") if rec.parent_kind else None
    if parent is not None:
        check(parent, what)


def _check_system(system: etree._Element, count: int, uuid: str) -> None:
    if count == 0:
        raise bad_request(f"vNIC {uuid} names no backing device (AssociatedBackingDevices); at least one is needed.")
    if count > MAX_BACKING_DEVICES:
        raise bad_request(f"vNIC {uuid} names {count} backing devices; at most {MAX_BACKING_DEVICES} are allowed.")
    caps = "AssociatedSystemCapabilities/"
    if xml.text(system, caps + "VirtualNICDedicatedSRIOVCapable") != "true":
        raise bad_request("The managed system is not capable of SR-IOV backed vNICs.")
    if count > 1 and xml.text(system, caps + "VirtualNICFailOverCapable") != "true":
        raise bad_request(f"The managed system cannot fail a vNIC over; {count} backing devices need that.")


def _pvid(elem: etree._Element) -> int:
    details = xml.find(elem, "Details")
    pvid = 0 if details is None else num(details, "PortVLANID")
    if not 0 <= pvid <= 4094:
        raise bad_request(f"vNIC PortVLANID {pvid} is outside 0-4094 (0: untagged).")
    return pvid


def _fill_vnic(txn: Transaction, rec: Record, parent: Record) -> tuple[int, str]:
    """Slot, location, partition id and MAC of a new vNIC; returns its PVID and MAC."""
    elem = rec.element
    details = xml.find(elem, "Details")
    if details is None:
        raise bad_request(f"vNIC {rec.uuid} has no Details (PortVLANID, MACAddress).")
    pvid = _pvid(elem)
    mac = (xml.text(details, "MACAddress") or adapters.new_mac()).upper()
    _check_mac(txn, mac)
    taken = {num(c.element, "VirtualSlotNumber") for k in ("ClientNetworkAdapter", "VirtualNICDedicated")
             for c in txn.find(k, parent.uuid)}  # fmt: skip
    slot = num(elem, "VirtualSlotNumber") if xml.text(elem, "VirtualSlotNumber") else adapters.next_slot(txn, parent)
    if slot in taken:
        raise bad_request(f"Virtual slot {slot} of partition {parent.uuid} is in use; leave it out to get a free one.")
    loc = adapters.location_code(txn, parent, slot)
    for tag in ("UseNextAvailableSlotID", "UseNextAvailableHighSlotID"):
        found = xml.find(elem, tag)
        if found is not None:
            elem.remove(found)
    for tag, value in (("DynamicReconfigurationConnectorName", loc), ("LocationCode", loc),
                       ("LocalPartitionID", adapters.partition_id(parent)), ("VirtualSlotNumber", slot)):  # fmt: skip
        set_child(elem, tag, value, VNIC_ORDER)
    for tag, value in (("PortVLANID", pvid), ("PortVLANIDPriority", 0), ("MACAddress", mac),
                       ("OSDeviceName", "unavailable"), ("DesiredMode", "DEDICATED")):  # fmt: skip
        if xml.find(details, tag) is None or tag in ("PortVLANID", "MACAddress"):
            set_child(details, tag, value, DETAILS_ORDER)
    return pvid, mac


def _check_mac(txn: Transaction, mac: str) -> None:
    if not re.fullmatch(r"[0-9A-F]{12}", mac):
        raise bad_request(f"MAC address {mac!r} is not 12 hexadecimal digits (e.g. FA16E3A4B5C6).")
    for kind in ("VirtualNICDedicated", "ClientNetworkAdapter"):
        for other in txn.find_containing(kind, f">{mac}<"):
            if mac in ((xml.text(other.element, p) or "").upper() for p in ("MACAddress", "Details/MACAddress")):
                raise bad_request(f"MAC address {mac} is already used by {kind} {other.uuid}.")


def _hosting_vios(txn: Transaction, device: etree._Element, failover: bool, where: str) -> Record:
    link = xml.find(device, "AssociatedVirtualIOServer")
    href = link.get("href", "") if link is not None else ""
    vios = txn.get("VirtualIOServer", adapters.href_uuid(href)) if href else None
    if vios is None:
        raise bad_request(f"{where}: the hosting VIOS {href or '(none given)'} does not exist.")
    name, state = xml.text(vios.element, "PartitionName"), xml.text(vios.element, "PartitionState")
    if state != "running":
        raise bad_request(f"{where}: VIOS {name} is {state}; a vNIC server needs a running VIOS.")
    if xml.text(vios.element, "IsVNICCapable") == "false":
        raise bad_request(f"{where}: VIOS {name} is not vNIC capable.")
    if failover and xml.text(vios.element, "VNICFailOverCapable") == "false":
        raise bad_request(f"{where}: VIOS {name} is not vNIC failover capable; a vNIC with several backing devices "
                          "needs that.")  # fmt: skip
    return vios


def _capacity(device: etree._Element, kind: str, where: str) -> Decimal | None:
    return percent(xml.text(device, f"{kind}CapacityPercentage"), f"{where} capacity")


def _max_capacity(device: etree._Element, capacity: Decimal, where: str) -> Decimal:
    maximum = _capacity(device, "Max", where) or FULL
    if not capacity <= maximum <= FULL or maximum != maximum.quantize(_CENT):
        raise bad_request(f"{where}: maximum capacity {format_percent(maximum)} must be from "
                          f"{format_percent(capacity)} to 100.0%, with 2 decimals.")  # fmt: skip
    return maximum


def _fill_backing(device: etree._Element, lport: Record, port: etree._Element, index: int, capacity: Decimal,
                  maximum: Decimal) -> None:  # fmt: skip
    link_up = xml.text(port, "LinkStatus") == "true"
    for tag, value, kb in (
        ("DeviceType", "SRIOV", "COR"), ("IsActive", index == 0, "ROR"),
        ("Status", "OPERATIONAL" if link_up else "LINK_DOWN", "ROR"),
        ("FailOverPriority", xml.text(device, "FailOverPriority") or 50, "CUD"),
        ("CurrentCapacityPercentage", format_percent(capacity), "COD"),
        ("MaxCapacityPercentage", format_percent(maximum), "COD"), ("RelatedSRIOVLogicalPort", "", "ROR"),
        ("DesiredCapacityPercentage", format_percent(capacity), "ROR"),
        ("DesiredMaxCapacityPercentage", format_percent(maximum), "ROR"),
    ):  # fmt: skip
        set_child(device, tag, value, BACKING_ORDER, kb=kb)
    link = xml.find(device, "RelatedSRIOVLogicalPort")
    link.text = None
    link.set("href", f"/rest/api/uom/VirtualIOServer/{lport.parent_uuid}/SRIOVEthernetLogicalPort/{lport.uuid}")
    link.set("rel", "related")


def _logical_port(txn: Transaction, vios: Record, port: etree._Element, key: tuple[int, int], capacity: Decimal,
                  maximum: Decimal, pvid: int, mac: str) -> Record:  # fmt: skip
    """The VF on ``port`` that the vNIC server on ``vios`` drives, as an SRIOVEthernetLogicalPort record."""
    existing = txn.find("SRIOVEthernetLogicalPort")
    port_loc = xml.text(port, "LocationCode", "")
    taken = [int(loc.rsplit("-S", 1)[1]) for r in existing
             if (loc := xml.text(r.element, "LocationCode", "")).startswith(port_loc + "-S") and loc.rsplit("-S", 1)[1].isdigit()]  # fmt: skip
    number = max(taken, default=0) + 1
    lport_id = max([num(r.element, "LogicalPortID") for r in existing] + [_LPORT_ID_BASE]) + 1
    uuid = new_uuid()
    elem = xml.root("SRIOVEthernetLogicalPort", uuid)
    for tag, value, kb in (
        ("ConfigurationID", 0, "COD"), ("LogicalPortID", lport_id, "COD"), ("AdapterID", key[0], "COR"),
        ("DynamicReconfigurationConnectorName", f"PHB {lport_id & 0xFFFF}", "ROR"), ("IsFunctional", True, "ROR"),
        ("IsPromiscous", False, "CUR"), ("IsDiagnostic", False, "CUR"), ("IsHugeDMA", False, "CUR"),
        ("DeviceName", "unavailable", "ROR"), ("ConfiguredCapacity", format_percent(capacity), "CUR"),
        ("ConfiguredMaxCapacity", format_percent(maximum), "CUR"), ("PhysicalPortID", key[1], "COR"),
        ("PortVLANID", pvid, "CUR"), ("LocationCode", f"{port_loc}-S{number}", "ROR"), ("TuningBufferID", 0, "CUR"),
        ("VNICPortUsage", "DEDICATED_VNIC", "ROR"), ("AllowedMACAddresses", "ALL", "CUD"), ("MACAddress", mac, "CUD"),
        ("CurrentMACAddress", mac, "ROR"), ("IEEE8021QAllowablePriorities", 0, "CUD"),
        ("IEEE8021QPriority", 0, "CUD"), ("AllowedVLANs", "ALL", "CUD"),
    ):  # fmt: skip
        xml.leaf(elem, tag, value, kb=kb)
    rec = Record("SRIOVEthernetLogicalPort", uuid, elem, "VirtualIOServer", vios.uuid, title="SRIOVEthernetLogicalPort")
    return txn.put(rec)


# -- logical ports created directly (VFs assigned to a partition) -----------------------------
class LogicalPortRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        if parent is not None:
            adapters.check_live_add(parent, "an SR-IOV logical port")
        system = system_of(txn)
        where = f"logical port {rec.uuid}"
        key = (num(rec.element, "AdapterID", -1), num(rec.element, "PhysicalPortID", -1))
        adapter, port = find_port(system.element, *key, where)
        capacity = take(adapter, port, percent(xml.text(rec.element, "ConfiguredCapacity"), where), where)
        set_child(rec.element, "ConfiguredCapacity", format_percent(capacity), LPORT_ORDER, kb="CUR")
        txn.put(system, detail="SRIOVAdapters")

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        if xml.text(rec.element, "VNICPortUsage") in ("DEDICATED_VNIC", "SHARED_VNIC"):
            raise ApiError(409, f"Logical port {rec.uuid} backs a vNIC; delete the vNIC instead.")
        _check_live(txn, rec, "an SR-IOV logical port", adapters.check_live_remove)
        system = system_of(txn)
        capacity = percent(xml.text(rec.element, "ConfiguredCapacity"), "capacity") or Decimal(0)
        give_back(system.element, num(rec.element, "AdapterID"), num(rec.element, "PhysicalPortID"), capacity)
        txn.put(system, detail="SRIOVAdapters")
