"""LogicalPartition create, update and delete as firmware checks them, and power-on accounting.

What real PowerVM refuses, and so this module refuses (HTTP 400 naming the value and the rule):
- a partition name outside 1-31 printable ASCII characters, with one of ``()\\<>*$&?|[]'"```, or
  already used by another partition;
- a PartitionUUID whose first bit is set (PowerVM UUIDs clear it) or that is already used;
- memory that is not a multiple of the system's memory region size, or minimum > desired > maximum,
  or a maximum above the system's configurable memory;
- processors outside the per-partition limits, shared processing units below 0.05 per virtual
  processor or above 1.0 per virtual processor, an unknown shared processor pool, an uncapped
  weight or availability priority outside 0-255, an unsupported processor compatibility mode;
- deleting a partition that is not powered off; powering on without enough free memory or
  processing units on the system.

The server fills in what it assigns: the partition id (lowest free), state ``not activated``,
RMC ``inactive``, and the read-only current-value fields. Deleting a partition removes its client
network adapters and vNICs; vSCSI mappings on the VIOSes lose their client side and stay behind as
orphans, as on a real system (the driver must remove them first).
"""

from __future__ import annotations

import re
import uuid as uuidlib

from lxml import etree

from powervm_openstack.simulator import jobs, kinds, xml
from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model import partition
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.record import Record
from powervm_openstack.simulator.store import Transaction

MAX_NAME = 31
_BAD_NAME = re.compile(r"[()\\<>*$&?|\[\]'\"`]|[^\x20-\x7e]")
_DOWN = ("not activated", "error", "not available")
_MAX_WEIGHT = 255

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
    kinds.register("LogicalPartition", PartitionRules())
    for group in ("LogicalPartition", "VirtualIOServer"):
        jobs.register_job(group, "PowerOn", power_on)
        jobs.register_job(group, "PowerOff", power_off)


def _num(elem: etree._Element, path: str, default: float = 0.0) -> float:
    value = xml.text(elem, path)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError:
        raise bad_request(f"{path.rsplit('/', 1)[-1]} {value!r} is not a number.") from None


class PartitionRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        elem = rec.element
        ptype = xml.text(elem, "PartitionType") or "AIX/Linux"
        if ptype not in ("AIX/Linux", "OS400"):
            raise bad_request(f"PartitionType {ptype!r} cannot be created here; allowed: AIX/Linux, OS400.")
        rec.uuid = _partition_uuid(txn, xml.text(elem, "PartitionUUID") or rec.uuid)
        xml.set_text(elem, "Metadata/Atom/AtomID", rec.uuid)
        set_child(elem, "PartitionUUID", rec.uuid, LPAR_ORDER)
        rec.title = "LogicalPartition"
        system = _system(txn)
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
        _set_current(elem, active=False)

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        for tag in ("PartitionID", "PartitionUUID", "PartitionType"):
            if xml.text(old.element, tag) != xml.text(new.element, tag):
                raise bad_request(
                    f"{tag} of partition {old.uuid} cannot change ({xml.text(old.element, tag)!r} -> "
                    f"{xml.text(new.element, tag)!r})."
                )
        for tag in ("PartitionState", "ResourceMonitoringControlState", "ReferenceCode"):
            set_child(new.element, tag, xml.text(old.element, tag, "") or "", LPAR_ORDER)
        check_config(txn, new.element, _system(txn), new.uuid)
        state = xml.text(old.element, "PartitionState", "")
        if state not in _DOWN and _resources(old.element) != _resources(new.element):
            rmc = xml.text(old.element, "ResourceMonitoringControlState", "inactive")
            if rmc != "active":
                raise ApiError(
                    409,
                    f"HSCL294C Partition {old.uuid} is {state} and its RMC connection is {rmc}: memory and "
                    "processors of a running partition change only through an active RMC connection (DLPAR).",
                )

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        state = xml.text(rec.element, "PartitionState", "")
        if state not in _DOWN:
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
        _orphan_vscsi_maps(txn, rec)


def _insert(elem: etree._Element, child: etree._Element) -> None:
    tag = xml.local(child)
    rank = LPAR_ORDER.index(tag)
    for index, existing in enumerate(elem):
        name = xml.local(existing)
        if name in LPAR_ORDER and LPAR_ORDER.index(name) > rank:
            elem.insert(index, child)
            return
    elem.append(child)


def _system(txn: Transaction) -> Record | None:
    systems = txn.find("ManagedSystem")
    return systems[0] if systems else None


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
    limit = int(_num(system.element, "MaximumPartitions", 1000)) if system is not None else 1000
    for candidate in range(1, limit + 1):
        if candidate not in used:
            return candidate
    raise bad_request(f"HSCL0DB1 The managed system already has its maximum of {limit} partitions.")


def check_config(txn: Transaction, elem: etree._Element, system: Record | None, uuid: str) -> None:
    """Refuse a partition definition firmware would refuse (name, memory, processors, priorities)."""
    _check_name(txn, xml.text(elem, "PartitionName") or "", uuid)
    for tag in ("AvailabilityPriority",):
        value = _num(elem, tag, 127)
        if not 0 <= value <= _MAX_WEIGHT:
            raise bad_request(f"{tag} {value:g} is outside 0-{_MAX_WEIGHT}.")
    slots = _num(elem, "PartitionIOConfiguration/MaximumVirtualIOSlots", 64)
    if not 2 <= slots <= 65535:
        raise bad_request(f"MaximumVirtualIOSlots {slots:g} is outside 2-65535.")
    if system is None:
        return
    _check_memory(elem, system)
    _check_processors(txn, elem, system)
    mode = xml.text(elem, "PendingProcessorCompatibilityMode")
    modes = [m.text for m in system.element.iter(xml.q("SupportedPartitionProcessorCompatibilityModes"))]
    if mode and modes and mode not in modes:
        raise bad_request(f"Processor compatibility mode {mode!r} is not supported; allowed: {', '.join(modes)}.")


def _check_name(txn: Transaction, name: str, uuid: str) -> None:
    if not 1 <= len(name) <= MAX_NAME:
        raise bad_request(f"Partition name {name!r} must be 1-{MAX_NAME} characters long.")
    bad = _BAD_NAME.search(name)
    if bad:
        raise bad_request(
            f"Partition name {name!r} contains {bad.group()!r}; allowed are printable ASCII characters "
            "except ()\\<>*$&?|[]'\"`."
        )
    for kind in ("LogicalPartition", "VirtualIOServer"):
        for other in txn.find_containing(kind, f">{name}<"):
            if xml.text(other.element, "PartitionName") == name and other.uuid.upper() != uuid.upper():
                raise bad_request(f"Partition name {name!r} is already used by partition {other.uuid}.")


def _check_memory(elem: etree._Element, system: Record) -> None:
    region = int(_num(system.element, "AssociatedSystemMemoryConfiguration/MemoryRegionSize", 256))
    total = _num(system.element, "AssociatedSystemMemoryConfiguration/ConfigurableSystemMemory", 0)
    base = "PartitionMemoryConfiguration/"
    values = {tag: _num(elem, base + tag) for tag in ("MinimumMemory", "DesiredMemory", "MaximumMemory")}
    for tag, value in values.items():
        if value < region or value % region:
            raise bad_request(f"{tag} {value:g} MB is not a positive multiple of the memory region size {region} MB.")
    if not values["MinimumMemory"] <= values["DesiredMemory"] <= values["MaximumMemory"]:
        raise bad_request(
            "Memory must satisfy minimum <= desired <= maximum; got "
            f"{values['MinimumMemory']:g} / {values['DesiredMemory']:g} / {values['MaximumMemory']:g} MB."
        )
    if total and values["MaximumMemory"] > total:
        raise bad_request(f"MaximumMemory {values['MaximumMemory']:g} MB exceeds the system's {total:g} MB.")


def _check_processors(txn: Transaction, elem: etree._Element, system: Record) -> None:
    proc = "PartitionProcessorConfiguration/"
    limit = int(_num(system.element, "AssociatedSystemProcessorConfiguration/"
                     "CurrentMaximumVirtualProcessorsPerAIXOrLinuxPartition", 64))  # fmt: skip
    if (xml.text(elem, proc + "HasDedicatedProcessors") or "false").lower() == "true":
        ded = proc + "DedicatedProcessorConfiguration/"
        counts = [_num(elem, ded + f"{k}Processors") for k in ("Minimum", "Desired", "Maximum")]
        _check_range("dedicated processors", counts, 1, limit)
        mode = xml.text(elem, proc + "SharingMode") or "sre idle proces"
        allowed = ("keep idle procs", "sre idle proces", "sre idle procs active", "sre idle procs always")
        if mode not in allowed:
            raise bad_request(f"Dedicated SharingMode {mode!r} is not valid; allowed: {', '.join(allowed)}.")
        return
    shr = proc + "SharedProcessorConfiguration/"
    vps = [_num(elem, shr + f"{k}VirtualProcessors") for k in ("Minimum", "Desired", "Maximum")]
    units = [_num(elem, shr + f"{k}ProcessingUnits") for k in ("Minimum", "Desired", "Maximum")]
    _check_range("virtual processors", vps, 1, limit)
    _check_range("processing units", units, 0.05, float(limit))
    for vp, unit, which in zip(vps, units, ("minimum", "desired", "maximum"), strict=True):
        if unit < round(0.05 * vp, 2) - 1e-9 or unit > vp + 1e-9:
            raise bad_request(
                f"The {which} of {unit:g} processing units for {vp:g} virtual processors is outside "
                f"0.05-1.0 units per virtual processor ({0.05 * vp:g}-{vp:g})."
            )
    mode = xml.text(elem, proc + "SharingMode") or "uncapped"
    if mode not in ("capped", "uncapped"):
        raise bad_request(f"Shared SharingMode {mode!r} is not valid; allowed: capped, uncapped.")
    weight = _num(elem, shr + "UncappedWeight", 128)
    if not 0 <= weight <= _MAX_WEIGHT:
        raise bad_request(f"UncappedWeight {weight:g} is outside 0-{_MAX_WEIGHT}.")
    _check_pool(txn, int(_num(elem, shr + "SharedProcessorPoolID", 0)))


def _check_range(what: str, values: list[float], low: float, high: float) -> None:
    if not low <= values[0] <= values[1] <= values[2] <= high:
        raise bad_request(
            f"The {what} must satisfy {low:g} <= minimum <= desired <= maximum <= {high:g}; got "
            f"{values[0]:g} / {values[1]:g} / {values[2]:g}."
        )


def _check_pool(txn: Transaction, pool_id: int) -> None:
    if pool_id == 0:
        return
    known = {int(_num(p.element, "PoolID", -1)) for p in txn.find("SharedProcessorPool")}
    if pool_id not in known:
        raise bad_request(f"Shared processor pool {pool_id} does not exist; known pools: 0, {sorted(known)}.")


def _resources(elem: etree._Element) -> tuple[float, float, float]:
    """(desired memory MB, desired processing units or dedicated processors, desired virtual processors)."""
    return (
        _num(elem, "PartitionMemoryConfiguration/DesiredMemory"),
        _entitled_units(elem),
        _num(elem, "PartitionProcessorConfiguration/SharedProcessorConfiguration/DesiredVirtualProcessors"),
    )


def _entitled_units(elem: etree._Element) -> float:
    proc = "PartitionProcessorConfiguration/"
    if (xml.text(elem, proc + "HasDedicatedProcessors") or "false").lower() == "true":
        return _num(elem, proc + "DedicatedProcessorConfiguration/DesiredProcessors")
    return _num(elem, proc + "SharedProcessorConfiguration/DesiredProcessingUnits")


def _set_current(elem: etree._Element, active: bool) -> None:
    """The read-only current memory values a partition reports (zero while it is down)."""
    mem = xml.find(elem, "PartitionMemoryConfiguration")
    if mem is None:
        return
    desired = xml.text(mem, "DesiredMemory", "0") if active else "0"
    for tag in ("CurrentMemory", "RuntimeMemory"):
        node = xml.find(mem, tag)
        if node is None:
            node = etree.SubElement(mem, xml.q(tag), attrib={"kb": "ROR", "kxe": "false"})
        node.text = desired


def _orphan_vscsi_maps(txn: Transaction, rec: Record) -> None:
    for vios in txn.find_containing("VirtualIOServer", rec.uuid):
        changed = False
        for mapping in xml.findall(vios.element, "VirtualSCSIMappings/VirtualSCSIMapping"):
            link = xml.find(mapping, "AssociatedLogicalPartition")
            if link is None or not (link.get("href") or "").upper().endswith(rec.uuid.upper()):
                continue
            for tag in ("AssociatedLogicalPartition", "ClientAdapter"):
                node = xml.find(mapping, tag)
                if node is not None:
                    mapping.remove(node)
            changed = True
        if changed:
            txn.put(vios, detail="VirtualSCSIMappings")


# --- power jobs with the system's memory and processor accounting ------------------------------


def power_on(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """PowerOn, refused when the system lacks the partition's memory or processing units."""
    assert part is not None
    if xml.text(part.element, "PartitionState", "") in _DOWN:
        system = _system(txn)
        if system is not None:
            _reserve(txn, system, part, sign=-1)
        _set_current(part.element, active=True)  # stored with the state change: one event, not two
    return partition.power_on(txn, part, params)


def power_off(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """PowerOff (or restart); a partition that stops gives its memory and processing units back."""
    assert part is not None
    stopping = params.get("restart", "false").lower() != "true"
    if stopping and xml.text(part.element, "PartitionState", "") not in _DOWN:
        system = _system(txn)
        if system is not None:
            _reserve(txn, system, part, sign=+1)
        _set_current(part.element, active=False)
    return partition.power_off(txn, part, params)


def _reserve(txn: Transaction, system: Record, part: Record, sign: int) -> None:
    mem_path = "AssociatedSystemMemoryConfiguration/CurrentAvailableSystemMemory"
    proc_path = "AssociatedSystemProcessorConfiguration/CurrentAvailableSystemProcessorUnits"
    memory, units, _ = _resources(part.element)
    free_mem, free_units = _num(system.element, mem_path), _num(system.element, proc_path)
    name = f"{xml.text(part.element, 'PartitionName')} ({part.uuid})"
    if sign < 0 and memory > free_mem:
        raise jobs.JobFailed(
            f"HSCL0DB6 Partition {name} needs {memory:g} MB of memory; the system has {free_mem:g} MB available."
        )
    if sign < 0 and units > free_units + 1e-9:
        raise jobs.JobFailed(
            f"HSCL0DB7 Partition {name} needs {units:g} processing units; the system has {free_units:g} available."
        )
    xml.set_text(system.element, mem_path, int(free_mem + sign * memory))
    xml.set_text(system.element, proc_path, round(free_units + sign * units, 2))
    pending = "AssociatedSystemProcessorConfiguration/PendingAvailableSystemProcessorUnits"
    xml.set_text(system.element, pending, round(free_units + sign * units, 2))
    txn.put(system, detail="AssociatedSystemMemoryConfiguration,AssociatedSystemProcessorConfiguration")
