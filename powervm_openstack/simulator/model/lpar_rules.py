"""LogicalPartition create, update and delete as firmware checks them; registers the power jobs.

What real PowerVM refuses, and so this module refuses (HTTP 400 naming the value and the rule, 409
for a partition in the wrong state):
- a partition definition firmware refuses (name, memory, processors, priorities: ``lpar_config``);
- a PartitionUUID whose first bit is set (PowerVM UUIDs clear it) or that is already used;
- changing the id, UUID or type of a partition, or the memory and processors of a running partition
  without an active RMC connection; with one, the change is a DLPAR (``dlpar``): within the current
  minimum and maximum, and moving the current values and the system's available resources;
- deleting a partition that is not powered off; powering on without enough free memory or
  processing units on the system (``lpar_resources``).

The server fills in what it assigns: the partition id (lowest free), state ``not activated``,
RMC ``inactive``, and the read-only current-value fields. Deleting a partition removes its client
network adapters and vNICs; vSCSI and virtual FC mappings on the VIOSes lose their client side
(``AssociatedLogicalPartition``, ``ClientAdapter``) and stay behind as orphans whose server adapter
still names the partition id, as on a real system: the VIOS's ``vhostN``/``vfchostN`` outlive the
client (the driver removes them first, or pypowervm's ``tasks.storage`` scrubbers do later).
"""

from __future__ import annotations

import uuid as uuidlib

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model import dlpar, ibmi
from powervm_openstack.simulator.model.lpar_config import check_config, num
from powervm_openstack.simulator.model.lpar_resources import (
    DOWN_STATES,
    managed_system,
    power_off,
    power_on,
    resources,
    set_current,
)
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.runtime import jobs
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

#: LogicalPartition children in schema order (base partition fields, then the LPAR tail).
LPAR_ORDER = (
    "Metadata", "AllowPerformanceDataCollection", "AssociatedPartitionProfile", "AvailabilityPriority",
    "CurrentProcessorCompatibilityMode", "IsVirtualServiceAttentionLEDOn", "KeylockPosition",
    "OperatingSystemVersion", "PartitionCapabilities", "PartitionID", "PartitionIOConfiguration",
    "PartitionMemoryConfiguration", "PartitionName", "PartitionProcessorConfiguration", "PartitionState",
    "PartitionType", "PartitionUUID", "PendingProcessorCompatibilityMode", "ProcessorPool",
    "ResourceMonitoringControlState", "ResourceMonitoringIPAddress", "AssociatedManagedSystem",
    "ClientNetworkAdapters", "MACAddressPrefix", "IsServicePartition", "ReferenceCode", "IsManagementPartition",
    "AutoStart", "BootMode", "Uptime", "PendingSecureBoot", "CurrentSecureBoot", "RemoteRestartCapable",
    "SimplifiedRemoteRestartCapable", "HasDedicatedProcessorsForMigration", "SuspendCapable", "MigrationState",
    "RemoteRestartState", "PowerManagementMode",
)  # fmt: skip
_CREATE_DEFAULTS = (
    ("CurrentProcessorCompatibilityMode", "default"), ("IsVirtualServiceAttentionLEDOn", False),
    ("KeylockPosition", "normal"), ("OperatingSystemVersion", "Unknown"), ("PartitionState", "not activated"),
    ("ResourceMonitoringControlState", "inactive"), ("IsServicePartition", False), ("ReferenceCode", "00000000"),
    ("IsManagementPartition", False), ("AutoStart", False), ("BootMode", "Normal"), ("Uptime", 0),
    ("MigrationState", "Not_Migrating"),
)  # fmt: skip


def install() -> None:
    """Register the LogicalPartition rules and the PowerOn/PowerOff jobs of partitions and VIOSes."""
    kinds.register("LogicalPartition", PartitionRules())
    for group in ("LogicalPartition", "VirtualIOServer"):
        jobs.register_job(group, "PowerOn", ibmi.checked_power_on(power_on))
        jobs.register_job(group, "PowerOff", power_off)


class PartitionRules(kinds.Behaviour):
    """The LogicalPartition behaviour: server-assigned values on create, firmware checks on update and delete."""

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        elem = rec.element
        ptype = xml.text(elem, "PartitionType") or "AIX/Linux"
        if ptype not in ("AIX/Linux", "OS400"):
            raise bad_request(f"PartitionType {ptype!r} cannot be created here; allowed: AIX/Linux, OS400.")
        rec.uuid = _partition_uuid(txn, xml.text(elem, "PartitionUUID") or rec.uuid)
        xml.set_text(elem, "Metadata/Atom/AtomID", rec.uuid)
        set_child(elem, "PartitionUUID", rec.uuid, LPAR_ORDER)
        rec.title = "LogicalPartition"
        system = managed_system(txn)
        check_config(txn, elem, system, rec.uuid)
        set_child(elem, "PartitionID", _free_partition_id(txn, system), LPAR_ORDER)
        set_child(elem, "PartitionType", ptype, LPAR_ORDER)
        for tag, value in _CREATE_DEFAULTS:
            if xml.find(elem, tag) is None:
                set_child(elem, tag, value, LPAR_ORDER)
        if xml.find(elem, "ClientNetworkAdapters") is None:
            holder = etree.Element(xml.q("ClientNetworkAdapters"), attrib={"kb": "CUR", "kxe": "false"})
            _insert(elem, holder)
        if system is not None and xml.find(elem, "AssociatedManagedSystem") is None:
            link = etree.Element(
                xml.q("AssociatedManagedSystem"),
                attrib={"kb": "CUD", "kxe": "false", "href": f"/rest/api/uom/ManagedSystem/{system.uuid}",
                        "rel": "related"},
            )  # fmt: skip
            _insert(elem, link)
        set_current(elem, active=False)

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        for tag in ("PartitionID", "PartitionUUID", "PartitionType"):
            if xml.text(old.element, tag) != xml.text(new.element, tag):
                raise bad_request(
                    f"{tag} of partition {old.uuid} cannot change ({xml.text(old.element, tag)!r} -> "
                    f"{xml.text(new.element, tag)!r})."
                )
        for tag in ("PartitionState", "ResourceMonitoringControlState", "ReferenceCode"):
            set_child(new.element, tag, xml.text(old.element, tag, "") or "", LPAR_ORDER)
        check_config(txn, new.element, managed_system(txn), new.uuid)
        state = xml.text(old.element, "PartitionState", "")
        if state not in DOWN_STATES and resources(old.element) != resources(new.element):
            rmc = xml.text(old.element, "ResourceMonitoringControlState", "inactive")
            if rmc != "active":
                raise ApiError(
                    409,
                    f"HSCL294C Partition {old.uuid} is {state} and its RMC connection is {rmc}: memory and "
                    "processors of a running partition change only through an active RMC connection (DLPAR).",
                )
            dlpar.apply(txn, managed_system(txn), old, new)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        state = xml.text(rec.element, "PartitionState", "")
        if state not in DOWN_STATES:
            raise ApiError(
                409,
                f"HSCL1B9D Partition {xml.text(rec.element, 'PartitionName')} ({rec.uuid}) is {state}; "
                "power it off before deleting it.",
            )
        for kind in ("ClientNetworkAdapter", "VirtualNICDedicated", "SRIOVEthernetLogicalPort"):
            for child in txn.find(kind, rec.uuid):
                if kind != "ClientNetworkAdapter":  # SR-IOV: frees port capacity and the VIOS-side VFs
                    kinds.behaviour(kind).on_delete(txn, child)
                txn.delete(child, detail="PartitionDeleted")
        _orphan_storage_maps(txn, rec)


def _insert(elem: etree._Element, child: etree._Element) -> None:
    tag = xml.local(child)
    rank = LPAR_ORDER.index(tag)
    for index, existing in enumerate(elem):
        name = xml.local(existing)
        if name in LPAR_ORDER and LPAR_ORDER.index(name) > rank:
            elem.insert(index, child)
            return
    elem.append(child)


def _partition_uuid(txn: Transaction, given: str) -> str:
    try:
        parsed = uuidlib.UUID(given)
    except ValueError:
        raise bad_request(f"PartitionUUID {given!r} is not a UUID.") from None
    text = str(parsed).upper()
    if int(text[0], 16) & 8:
        raise bad_request(
            f"PartitionUUID {text} is not valid for PowerVM: the first bit must be 0 (first hex digit 0-7)."
        )
    if txn.get(None, text) is not None:
        raise bad_request(f"PartitionUUID {text} is already used by another object.")
    return text


def _free_partition_id(txn: Transaction, system: Record | None) -> int:
    used = {
        int(xml.text(p.element, "PartitionID", "0") or 0)
        for kind in ("LogicalPartition", "VirtualIOServer")
        for p in txn.find(kind)
    }
    limit = int(num(system.element, "MaximumPartitions", 1000)) if system is not None else 1000
    for candidate in range(1, limit + 1):
        if candidate not in used:
            return candidate
    raise bad_request(f"HSCL0DB1 The managed system already has its maximum of {limit} partitions.")


def _orphan_storage_maps(txn: Transaction, rec: Record) -> None:
    for vios in txn.find_containing("VirtualIOServer", rec.uuid):
        changed = False
        maps = [*xml.findall(vios.element, "VirtualSCSIMappings/VirtualSCSIMapping"),
                *xml.findall(vios.element, "VirtualFibreChannelMappings/VirtualFibreChannelMapping")]  # fmt: skip
        for mapping in maps:
            link = xml.find(mapping, "AssociatedLogicalPartition")
            if link is None or not (link.get("href") or "").upper().endswith(rec.uuid.upper()):
                continue
            for tag in ("AssociatedLogicalPartition", "ClientAdapter"):
                node = xml.find(mapping, tag)
                if node is not None:
                    mapping.remove(node)
            changed = True
        if changed:
            txn.put(vios, detail="StorageMappings")
