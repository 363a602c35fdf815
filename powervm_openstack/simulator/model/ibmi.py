"""IBM i (OS400) partitions: the tagged I/O and IPL settings firmware checks, and the load source at power-on.

What the REST API carries (pypowervm's ``TaggedIO`` wrapper and its ``lpar_ibmi.txt`` capture):
``PartitionIOConfiguration/TaggedIO`` with ``LoadSource``, ``AlternateLoadSource`` and ``Console``
(a virtual slot number, ``NONE``, ``0`` as the builder's placeholder, or ``HMC`` for the console),
``DesignatedIPLSource`` (a-d) and ``KeylockPosition`` (normal, manual). Refused on create and update
(HTTP 400 naming the value and what is allowed):
- an OS400 partition on a system whose ``IBMiCapable`` is false;
- tagged I/O on a partition that is not OS400 (the simulator's choice: IBM documents tagged I/O for
  IBM i only, and a silently ignored tag would hide a driver bug);
- a tagged value that is neither a slot within ``MaximumVirtualIOSlots`` nor one of its keywords, or an
  IPL source outside a-d;
- secure boot on OS400 (pypowervm: "blocked at the schema level for IBMi", LP 1805610).
At PowerOn (the partition's first IPL) an OS400 partition's load source must be a slot of one of its
client vSCSI or vFC adapters (a mapping on a VIOS names it). Real firmware starts the IPL and stops
it with a B2xx system reference code when the load source is missing; the simulator ends the PowerOn
job with that reason instead, so the caller sees the failure rather than a hung partition.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from powervm_openstack.simulator.errors import bad_request
from powervm_openstack.simulator.runtime.jobs import JobFailed
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

OS400 = "OS400"
_TIO = "PartitionIOConfiguration/TaggedIO"
_KEYWORDS = {"LoadSource": ("0", "NONE"), "AlternateLoadSource": ("0", "NONE"), "Console": ("0", "NONE", "HMC")}
_IPL = ("a", "b", "c", "d")
_MAPS = ("VirtualSCSIMappings/VirtualSCSIMapping", "VirtualFibreChannelMappings/VirtualFibreChannelMapping")


def check_definition(elem: etree._Element, system: Record | None) -> None:
    """Refuse an IBM i definition firmware refuses (see the module docstring); others pass untouched."""
    ptype = xml.text(elem, "PartitionType") or "AIX/Linux"
    tagged = xml.find(elem, _TIO)
    if ptype != OS400:
        if tagged is not None and len([c for c in tagged if xml.local(c) != "Metadata"]):
            raise bad_request(f"TaggedIO applies to IBM i (OS400) partitions only; this one is {ptype}.")
        return
    if system is not None and xml.text(system.element, "AssociatedSystemCapabilities/IBMiCapable") == "false":
        raise bad_request(f"Managed system {xml.text(system.element, 'SystemName')} is not IBM i capable.")
    slots = int(float(xml.text(elem, "PartitionIOConfiguration/MaximumVirtualIOSlots", "64") or 64))
    for tag, words in _KEYWORDS.items():
        value = (xml.text(elem, f"{_TIO}/{tag}", "") or "").strip()
        if value and value not in words and not (value.isdigit() and 2 <= int(value) < slots):
            raise bad_request(f"TaggedIO {tag} {value!r} is not valid: allowed {', '.join(words)} or a virtual "
                              f"slot 2-{slots - 1}.")  # fmt: skip
    ipl = xml.text(elem, "DesignatedIPLSource", "")
    if ipl and ipl.lower() not in _IPL:
        raise bad_request(f"DesignatedIPLSource {ipl!r} is not valid; allowed: {', '.join(_IPL)}.")
    secure = xml.text(elem, "PendingSecureBoot", "0") or "0"
    if secure != "0":
        raise bad_request(f"PendingSecureBoot {secure} is not allowed on an IBM i partition; secure boot is for "
                          "AIX/Linux partitions only.")  # fmt: skip


def client_slots(txn: Transaction, part: Record) -> set[int]:
    """The slots of the partition's client vSCSI and vFC adapters that some VIOS mapping names."""
    lpar_id = xml.text(part.element, "PartitionID")
    found = set()
    for vios in txn.find("VirtualIOServer"):
        for path in _MAPS:
            for mapping in xml.findall(vios.element, path):
                if xml.text(mapping, "ClientAdapter/LocalPartitionID") == lpar_id:
                    slot = xml.text(mapping, "ClientAdapter/VirtualSlotNumber", "")
                    if slot and slot.isdigit():
                        found.add(int(slot))
    return found


def checked_power_on(power_on: Callable) -> Callable:
    """Wrap a PowerOn job: an OS400 partition must have its load source tagged on a mapped client slot."""

    def job(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
        if part is not None and xml.text(part.element, "PartitionType") == OS400:
            _check_load_source(txn, part)
        return power_on(txn, part, params)

    return job


def _check_load_source(txn: Transaction, part: Record) -> None:
    name = f"{xml.text(part.element, 'PartitionName')} ({part.uuid})"
    load = (xml.text(part.element, f"{_TIO}/LoadSource", "") or "").strip()
    if not load.isdigit() or load == "0":
        raise JobFailed(f"IBM i partition {name} has no load source tagged (LoadSource {load or 'unset'}); "
                        "the IPL would stop with a B2xx reference code. Tag the boot disk's client slot.")  # fmt: skip
    slots = client_slots(txn, part)
    if int(load) not in slots:
        raise JobFailed(f"IBM i partition {name} has load source slot {load}, which is no client vSCSI or vFC "
                        f"adapter of the partition (mapped slots: {sorted(slots) or 'none'}).")  # fmt: skip
