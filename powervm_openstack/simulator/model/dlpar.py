"""Live (DLPAR) resource changes and the RMC state that follows a partition's power state.

RMC (Resource Monitoring and Control) is the OS-side daemon the hypervisor talks to for DLPAR and
OS shutdown. The simulator's choices, from pypowervm's docs (``crt_cna``: "If the LPAR is active can
only perform if there is an active RMC connection"; ``power.PowerOp``: OS shutdown needs RMC) and
the captures (a running partition with RMC ``active`` reports DLPAR capabilities, an inactive one
does not):

- a partition that stops (PowerOff, any operation) has RMC ``inactive``, no DLPAR capabilities,
  reference code ``00000000`` and uptime 0 - a powered-off VIOS too;
- a partition that starts gets RMC ``active`` when its OS can reach NovaLink's RMC: a VIOS, the
  management partition, a partition that has reported an RMC IP address
  (``ResourceMonitoringIPAddress``), or one with a client adapter on the ``MGMTSWITCH`` virtual
  switch (the RMC network nova-powervm's ``use_rmc_mgmt_vif`` plugs every instance into); any other
  partition (a new one without that adapter) stays ``inactive``.
  A restart keeps the RMC state the partition had (the OS comes back with its daemon);
- a running partition's memory and processors change only with RMC ``active`` (else 409, in
  ``lpar_rules``), and only within its current minimum and maximum (the values it was started
  with; new minimum/maximum values take effect at the next start). The change moves the current
  values at once (the simulator's DLPAR finishes within the request) and takes the difference from,
  or gives it back to, the system's available memory and processing units; an increase the system
  cannot cover is refused with 409 naming what is missing.
"""

from __future__ import annotations

from lxml import etree

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.model.lpar_config import num
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

_MEM = "PartitionMemoryConfiguration/"
_PROC = "PartitionProcessorConfiguration/"
_SHARED = _PROC + "SharedProcessorConfiguration/"
_CURSHR = _PROC + "CurrentSharedProcessorConfiguration/"
_DED = _PROC + "DedicatedProcessorConfiguration/"
_CURDED = _PROC + "CurrentDedicatedProcessorConfiguration/"
_SYS_MEM = "AssociatedSystemMemoryConfiguration/CurrentAvailableSystemMemory"
_SYS_UNITS = "AssociatedSystemProcessorConfiguration/CurrentAvailableSystemProcessorUnits"
_SYS_PENDING = "AssociatedSystemProcessorConfiguration/PendingAvailableSystemProcessorUnits"
RMC_SWITCH = "MGMTSWITCH"
_CAPS = (
    "DynamicLogicalPartitionIOCapable",
    "DynamicLogicalPartitionMemoryCapable",
    "DynamicLogicalPartitionProcessorCapable",
    "ResourceMonitoringControlOperatingSystemShutdownCapable",
)


def rmc_after_start(txn: Transaction, part: Record) -> str:
    """The RMC state a partition reaches once started (see the module docstring)."""
    elem = part.element
    if part.kind == "VirtualIOServer" or xml.text(elem, "IsManagementPartition") == "true":
        return "active"
    if xml.text(elem, "ResourceMonitoringIPAddress"):
        return "active"
    rmc_switches = {
        xml.text(s.element, "SwitchID")
        for s in txn.find("VirtualSwitch")
        if xml.text(s.element, "SwitchName") == RMC_SWITCH
    }
    on_rmc_switch = any(
        xml.text(c.element, "VirtualSwitchID") in rmc_switches for c in txn.find("ClientNetworkAdapter", part.uuid)
    )
    return "active" if on_rmc_switch else "inactive"


def set_rmc(elem: etree._Element, state: str) -> None:
    """Set the RMC state and the DLPAR capabilities that go with it."""
    xml.set_text(elem, "ResourceMonitoringControlState", state)
    for tag in _CAPS:
        _set(elem, f"PartitionCapabilities/{tag}", state == "active")


def _dedicated(elem: etree._Element) -> bool:
    return (xml.text(elem, _PROC + "HasDedicatedProcessors") or "false").lower() == "true"


def _set(elem: etree._Element, path: str, value: object) -> None:
    """Set a read-only current value, creating it (and its holder) when the document lacks it."""
    if xml.set_text(elem, path, value):
        return
    holder_path, _, tag = path.rpartition("/")
    holder = xml.find(elem, holder_path) if holder_path else elem
    if holder is None:
        parent_path, _, holder_tag = holder_path.rpartition("/")
        parent = xml.find(elem, parent_path) if parent_path else elem
        if parent is None:
            return
        holder = xml.complex_el(parent, holder_tag, kb="ROR")
    node = etree.SubElement(holder, xml.q(tag), attrib={"kb": "ROR", "kxe": "false"})
    node.text = str(value).lower() if isinstance(value, bool) else str(value)


def start_processors(elem: etree._Element) -> None:
    """Current processor values of a partition that starts: its desired ones, its min/max range."""
    if _dedicated(elem):
        for cur, prof in (("CurrentProcessors", "DesiredProcessors"), ("CurrentMinimumProcessors", "MinimumProcessors"),
                          ("CurrentMaximumProcessors", "MaximumProcessors")):  # fmt: skip
            _set(elem, _CURDED + cur, int(num(elem, _DED + prof)))
        return
    for cur, prof, kind in (
        ("CurrentProcessingUnits", "DesiredProcessingUnits", float), ("RuntimeProcessingUnits", "DesiredProcessingUnits", float),
        ("CurrentMinimumProcessingUnits", "MinimumProcessingUnits", float),
        ("CurrentMaximumProcessingUnits", "MaximumProcessingUnits", float),
        ("AllocatedVirtualProcessors", "DesiredVirtualProcessors", int),
        ("CurrentMinimumVirtualProcessors", "MinimumVirtualProcessors", int),
        ("CurrentMaximumVirtualProcessors", "MaximumVirtualProcessors", int),
    ):  # fmt: skip
        _set(elem, _CURSHR + cur, kind(num(elem, _SHARED + prof)))


def stop_processors(elem: etree._Element) -> None:
    """A stopped partition holds no processors: its current values read zero."""
    if _dedicated(elem):
        for tag in ("CurrentProcessors", "CurrentMinimumProcessors", "CurrentMaximumProcessors"):
            _set(elem, _CURDED + tag, 0)
        return
    for tag in ("CurrentProcessingUnits", "RuntimeProcessingUnits", "CurrentMinimumProcessingUnits",
                "CurrentMaximumProcessingUnits"):  # fmt: skip
        _set(elem, _CURSHR + tag, 0.0)
    for tag in ("AllocatedVirtualProcessors", "CurrentMinimumVirtualProcessors", "CurrentMaximumVirtualProcessors"):
        _set(elem, _CURSHR + tag, 0)


def start_memory_range(elem: etree._Element, active: bool) -> None:
    """Current minimum/maximum memory: the profile's while running, zero while stopped."""
    for cur, prof in (("CurrentMinimumMemory", "MinimumMemory"), ("CurrentMaximumMemory", "MaximumMemory"),
                      ("RuntimeMinimumMemory", "MinimumMemory")):  # fmt: skip
        _set(elem, _MEM + cur, int(num(elem, _MEM + prof)) if active else 0)


def apply(txn: Transaction, system: Record | None, old: Record, new: Record) -> None:
    """Perform a DLPAR change of a running partition with active RMC (the caller checked both)."""
    name = f"{xml.text(old.element, 'PartitionName')} ({old.uuid})"
    elem = new.element
    memory = num(elem, _MEM + "DesiredMemory")
    _in_range(name, "memory", memory, num(old.element, _MEM + "CurrentMinimumMemory"),
              num(old.element, _MEM + "CurrentMaximumMemory"), "MB")  # fmt: skip
    if _dedicated(elem):
        units = num(elem, _DED + "DesiredProcessors")
        _in_range(name, "dedicated processors", units, num(old.element, _CURDED + "CurrentMinimumProcessors"),
                  num(old.element, _CURDED + "CurrentMaximumProcessors"), "")  # fmt: skip
        old_units = num(old.element, _CURDED + "CurrentProcessors")
    else:
        units = num(elem, _SHARED + "DesiredProcessingUnits")
        vps = num(elem, _SHARED + "DesiredVirtualProcessors")
        _in_range(name, "processing units", units, num(old.element, _CURSHR + "CurrentMinimumProcessingUnits"),
                  num(old.element, _CURSHR + "CurrentMaximumProcessingUnits"), "")  # fmt: skip
        _in_range(name, "virtual processors", vps, num(old.element, _CURSHR + "CurrentMinimumVirtualProcessors"),
                  num(old.element, _CURSHR + "CurrentMaximumVirtualProcessors"), "")  # fmt: skip
        old_units = num(old.element, _CURSHR + "CurrentProcessingUnits")
    mem_delta, unit_delta = memory - num(old.element, _MEM + "CurrentMemory"), units - old_units
    if system is not None:
        _take(txn, system, name, mem_delta, unit_delta)
    for tag in ("CurrentMemory", "RuntimeMemory"):
        _set(elem, _MEM + tag, int(memory))
    if _dedicated(elem):
        _set(elem, _CURDED + "CurrentProcessors", int(units))
    else:
        for tag in ("CurrentProcessingUnits", "RuntimeProcessingUnits"):
            _set(elem, _CURSHR + tag, round(units, 2))
        _set(elem, _CURSHR + "AllocatedVirtualProcessors", int(vps))


def _in_range(name: str, what: str, value: float, low: float, high: float, unit: str) -> None:
    if high and not low <= value <= high:
        raise ApiError(
            409,
            f"HSCL1566 Partition {name}: a live change to {value:g}{unit and ' ' + unit} of {what} is outside "
            f"its current minimum and maximum ({low:g}-{high:g}); change those with the partition shut down.",
        )


def _take(txn: Transaction, system: Record, name: str, mem_delta: float, unit_delta: float) -> None:
    free_mem, free_units = num(system.element, _SYS_MEM), num(system.element, _SYS_UNITS)
    if mem_delta > free_mem:
        raise ApiError(
            409,
            f"HSCL0DB6 Partition {name} needs {mem_delta:g} MB more memory; the system has {free_mem:g} MB available.",
        )
    if unit_delta > free_units + 1e-9:
        raise ApiError(
            409,
            f"HSCL0DB7 Partition {name} needs {unit_delta:g} more processing units; "
            f"the system has {free_units:g} available.",
        )
    if not mem_delta and not unit_delta:
        return
    xml.set_text(system.element, _SYS_MEM, int(free_mem - mem_delta))
    xml.set_text(system.element, _SYS_UNITS, round(free_units - unit_delta, 2))
    xml.set_text(system.element, _SYS_PENDING, round(free_units - unit_delta, 2))
    txn.put(system, detail="AssociatedSystemMemoryConfiguration,AssociatedSystemProcessorConfiguration")
