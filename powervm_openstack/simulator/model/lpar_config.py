"""Checks of a LogicalPartition document as firmware makes them on create and update.

What real PowerVM refuses, and so ``check_config`` refuses (HTTP 400 naming the value and the rule):
- a partition name outside 1-31 printable ASCII characters, with one of ``()\\<>*$&?|[]'"```, or
  already used by another partition;
- memory that is not a multiple of the system's memory region size, or minimum > desired > maximum,
  or a maximum above the system's configurable memory;
- processors outside the per-partition limits, shared processing units below 0.05 per virtual
  processor or above 1.0 per virtual processor, an unknown shared processor pool, an uncapped
  weight or availability priority outside 0-255, an unsupported processor compatibility mode;
- maximum virtual I/O slots outside 2-65535;
- what ``ibmi`` refuses of an IBM i (OS400) partition, or of tagged I/O on any other.
"""

from __future__ import annotations

import re

from lxml import etree

from powervm_openstack.simulator.errors import bad_request
from powervm_openstack.simulator.model import ibmi
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

MAX_NAME = 31
_BAD_NAME = re.compile(r"[()\\<>*$&?|\[\]'\"`]|[^\x20-\x7e]")
MAX_WEIGHT = 255


def num(elem: etree._Element, path: str, default: float = 0.0) -> float:
    """The number at ``path`` under ``elem`` (``default`` when absent or empty); 400 when it is not a number."""
    value = xml.text(elem, path)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError:
        raise bad_request(f"{path.rsplit('/', 1)[-1]} {value!r} is not a number.") from None


def check_config(txn: Transaction, elem: etree._Element, system: Record | None, uuid: str) -> None:
    """Refuse a partition definition firmware would refuse (name, memory, processors, priorities)."""
    _check_name(txn, xml.text(elem, "PartitionName") or "", uuid)
    for tag in ("AvailabilityPriority",):
        value = num(elem, tag, 127)
        if not 0 <= value <= MAX_WEIGHT:
            raise bad_request(f"{tag} {value:g} is outside 0-{MAX_WEIGHT}.")
    slots = num(elem, "PartitionIOConfiguration/MaximumVirtualIOSlots", 64)
    if not 2 <= slots <= 65535:
        raise bad_request(f"MaximumVirtualIOSlots {slots:g} is outside 2-65535.")
    ibmi.check_definition(elem, system)
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
    region = int(num(system.element, "AssociatedSystemMemoryConfiguration/MemoryRegionSize", 256))
    total = num(system.element, "AssociatedSystemMemoryConfiguration/ConfigurableSystemMemory", 0)
    base = "PartitionMemoryConfiguration/"
    values = {tag: num(elem, base + tag) for tag in ("MinimumMemory", "DesiredMemory", "MaximumMemory")}
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
    limit = int(num(system.element, "AssociatedSystemProcessorConfiguration/"
                     "CurrentMaximumVirtualProcessorsPerAIXOrLinuxPartition", 64))  # fmt: skip
    if (xml.text(elem, proc + "HasDedicatedProcessors") or "false").lower() == "true":
        ded = proc + "DedicatedProcessorConfiguration/"
        counts = [num(elem, ded + f"{k}Processors") for k in ("Minimum", "Desired", "Maximum")]
        _check_range("dedicated processors", counts, 1, limit)
        mode = xml.text(elem, proc + "SharingMode") or "sre idle proces"
        allowed = ("keep idle procs", "sre idle proces", "sre idle procs active", "sre idle procs always")
        if mode not in allowed:
            raise bad_request(f"Dedicated SharingMode {mode!r} is not valid; allowed: {', '.join(allowed)}.")
        return
    shr = proc + "SharedProcessorConfiguration/"
    vps = [num(elem, shr + f"{k}VirtualProcessors") for k in ("Minimum", "Desired", "Maximum")]
    units = [num(elem, shr + f"{k}ProcessingUnits") for k in ("Minimum", "Desired", "Maximum")]
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
    weight = num(elem, shr + "UncappedWeight", 128)
    if not 0 <= weight <= MAX_WEIGHT:
        raise bad_request(f"UncappedWeight {weight:g} is outside 0-{MAX_WEIGHT}.")
    _check_pool(txn, int(num(elem, shr + "SharedProcessorPoolID", 0)))


def _check_range(what: str, values: list[float], low: float, high: float) -> None:
    if not low <= values[0] <= values[1] <= values[2] <= high:
        raise bad_request(
            f"The {what} must satisfy {low:g} <= minimum <= desired <= maximum <= {high:g}; got "
            f"{values[0]:g} / {values[1]:g} / {values[2]:g}."
        )


def _check_pool(txn: Transaction, pool_id: int) -> None:
    if pool_id == 0:
        return
    known = {int(num(p.element, "PoolID", -1)) for p in txn.find("SharedProcessorPool")}
    if pool_id not in known:
        raise bad_request(f"Shared processor pool {pool_id} does not exist; known pools: 0, {sorted(known)}.")
