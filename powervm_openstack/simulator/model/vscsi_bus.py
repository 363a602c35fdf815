"""A vSCSI adapter pair without storage: pypowervm ``scsi_mapper.detach_storage``.

``detach_storage`` sends a VIOS's mapping back without ``Storage`` and ``TargetDevice``
(``VSCSIMapping.bld_from_existing(match, None)``); nova-powervm ran it on the optical media
before a migration, keeping the client slot. pypowervm's test data (``fake_vios_mappings.txt``)
lists such storage-less mappings for a ``vhostN`` without devices. The simulator's choices:
- a mapping without Storage whose server adapter slot is one the VIOS already has stays as the
  adapter pair alone: its target device goes, the adapters and the client slot stay, the storage
  stays in its volume group (nothing is deleted, no adapter changes, so no RMC is needed);
  removing the pair later removes its client adapter, a DLPAR change that needs RMC on a running
  partition like any other (``vscsi``);
- a new adapter pair without Storage is refused (400), since pypowervm never builds one;
- a storage-less mapping is listed only while its server adapter has no device: adding storage to
  the pair again (``add_vscsi_mapping`` reuses the pair) leaves one mapping, with the storage.
"""

from __future__ import annotations

from lxml import etree

from powervm_openstack.simulator.errors import bad_request
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

_MAPS = "VirtualSCSIMappings/VirtualSCSIMapping"


def has_storage(mapping: etree._Element) -> bool:
    holder = xml.find(mapping, "Storage")
    return holder is not None and len(holder) > 0


def detached(server_slots: set[str | None], mapping: etree._Element) -> None:
    """Keep ``mapping`` (sent without Storage) as its existing adapter pair, or refuse it."""
    slot = xml.text(mapping, "ServerAdapter/VirtualSlotNumber")
    if not slot or slot not in server_slots:
        raise bad_request("A new vSCSI mapping needs Storage (a VirtualDisk, VirtualOpticalMedia, LogicalUnit or "
                          "PhysicalVolume); only an existing adapter pair may be left without storage.")  # fmt: skip
    holder = xml.find(mapping, "TargetDevice")
    if holder is not None:
        mapping.remove(holder)


def drop_empty_twins(vios: Record) -> None:
    """List a storage-less mapping only while its server adapter has no device, and once."""
    maps = xml.findall(vios.element, _MAPS)
    with_storage = {xml.text(m, "ServerAdapter/VirtualSlotNumber") for m in maps if has_storage(m)}
    seen: set[str | None] = set()
    for mapping in (m for m in maps if not has_storage(m)):
        slot = xml.text(mapping, "ServerAdapter/VirtualSlotNumber")
        if slot in with_storage or slot in seen:
            mapping.getparent().remove(mapping)
        seen.add(slot)
