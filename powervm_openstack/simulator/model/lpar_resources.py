"""Power jobs with the managed system's memory and processor accounting.

A partition that powers on takes its desired memory and entitled processing units (or dedicated
processors) from the ManagedSystem's available values and reports its current memory; PowerOn is
refused (the job fails naming the partition and what is missing) when the system has too little.
A partition that stops (PowerOff, not restart) gives them back and reports zero current memory and
processors; one that starts reports its desired values as current, its min/max as the DLPAR range.
"""

from __future__ import annotations

from lxml import etree

from powervm_openstack.simulator.model import dlpar, partition
from powervm_openstack.simulator.model.lpar_config import num
from powervm_openstack.simulator.runtime import jobs
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

#: Partition states in which a partition holds none of the system's memory or processors.
DOWN_STATES = ("not activated", "error", "not available")


def managed_system(txn: Transaction) -> Record | None:
    """The store's ManagedSystem (None when there is none)."""
    systems = txn.find("ManagedSystem")
    return systems[0] if systems else None


def power_on(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """PowerOn, refused when the system lacks the partition's memory or processing units."""
    assert part is not None
    if xml.text(part.element, "PartitionState", "") in DOWN_STATES:
        system = managed_system(txn)
        if system is not None:
            reserve(txn, system, part, sign=-1)
        set_current(part.element, active=True)  # stored with the state change: one event, not two
        dlpar.start_processors(part.element)
        dlpar.start_memory_range(part.element, active=True)
    return partition.power_on(txn, part, params)


def power_off(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """PowerOff (or restart); a partition that stops gives its memory and processing units back."""
    assert part is not None
    stopping = params.get("restart", "false").lower() != "true"
    if stopping and xml.text(part.element, "PartitionState", "") not in DOWN_STATES:
        system = managed_system(txn)
        if system is not None:
            reserve(txn, system, part, sign=+1)
        set_current(part.element, active=False)
        dlpar.stop_processors(part.element)
        dlpar.start_memory_range(part.element, active=False)
    return partition.power_off(txn, part, params)


def reserve(txn: Transaction, system: Record, part: Record, sign: int) -> None:
    """Take (``sign`` -1, refused when short) or give back (+1) the partition's memory and units."""
    mem_path = "AssociatedSystemMemoryConfiguration/CurrentAvailableSystemMemory"
    proc_path = "AssociatedSystemProcessorConfiguration/CurrentAvailableSystemProcessorUnits"
    memory, units, _ = resources(part.element)
    free_mem, free_units = num(system.element, mem_path), num(system.element, proc_path)
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


def resources(elem: etree._Element) -> tuple[float, float, float]:
    """(desired memory MB, desired processing units or dedicated processors, desired virtual processors)."""
    return (
        num(elem, "PartitionMemoryConfiguration/DesiredMemory"),
        _entitled_units(elem),
        num(elem, "PartitionProcessorConfiguration/SharedProcessorConfiguration/DesiredVirtualProcessors"),
    )


def _entitled_units(elem: etree._Element) -> float:
    proc = "PartitionProcessorConfiguration/"
    if (xml.text(elem, proc + "HasDedicatedProcessors") or "false").lower() == "true":
        return num(elem, proc + "DedicatedProcessorConfiguration/DesiredProcessors")
    return num(elem, proc + "SharedProcessorConfiguration/DesiredProcessingUnits")


def set_current(elem: etree._Element, active: bool) -> None:
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
