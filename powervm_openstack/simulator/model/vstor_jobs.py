"""VIOS jobs that re-read storage: ``RescanVirtualDisk`` and ``LUARecovery`` ``QUERY_INVENTORY``.

``VirtualIOServer/<u>/do/RescanVirtualDisk`` is pypowervm's ``tasks.storage.rescan_vstor``: one
parameter ``VirtualDiskUDID``; "no news is good news", and a job that fails with ``RETURN_CODE``
``-1`` is ``VstorNotFound``. nova-powervm ran it after Cinder grew an iSCSI volume (an hdisk) or a
FileIO volume, so the VIOS sees the new size. The simulator's choices, written down here:
- the UDID may name an hdisk of this VIOS (its ``VolumeCapacity`` is re-read from the SAN LUN or
  iSCSI target, as a device rescan does; ``LUARecovery``/``ISCSIDiscovery`` do the same), a File or
  RBD disk that this VIOS maps (``DiskCapacity`` re-read from the file's size or the image's
  capacity), a virtual disk of one of its volume groups, or a logical unit it maps; the copies in
  the VIOS's vSCSI mappings take the current size;
- any other UDID fails the job with ``RETURN_CODE`` ``-1`` (the VIOS has no such device) and
  changes nothing.
``LUARecovery`` with an ``inputXML`` whose ``Request`` has ``action_str="QUERY_INVENTORY"`` is
pypowervm's ``hdisk.get_pg83_via_job`` (what ``PV.pg83`` runs when the PhysicalVolume carries no
``DescriptorPage83``, as the simulator's discovered hdisks do not, like VIOS levels whose events
lack it). It answers ``OutputXML`` in the form pypowervm's test data shows: ``VIO/Response/
InventoryResponse/PhysicalVolume/PhysicalVolume_base`` with ``desType="NAA"`` and the base64
page-83 ``descriptor`` of the hdisk with that UDID (``build.san.pg83_descriptor``); an unknown
UDID gives an empty ``InventoryResponse``. Any other ``LUARecovery`` is ``fc.lua_recovery``.
"""

from __future__ import annotations

import logging
import os

from lxml import etree

from powervm_openstack.simulator.build.san import pg83_descriptor
from powervm_openstack.simulator.model import fc, filestore
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

LOG = logging.getLogger(__name__)

VOLUME_NOT_FOUND = "-1"
_MAPS = "VirtualSCSIMappings/VirtualSCSIMapping"
_GB = 1024**3


def install() -> None:
    """Register the jobs (after ``fc``, whose ``LUARecovery`` this one extends)."""
    register_job("VirtualIOServer", "RescanVirtualDisk", rescan_virtual_disk)
    register_job("VirtualIOServer", "LUARecovery", lua_recovery)


# -- RescanVirtualDisk --------------------------------------------------------------------------
def rescan_virtual_disk(txn: Transaction, vios: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Re-read the size of the device ``VirtualDiskUDID`` (see the module docstring)."""
    assert vios is not None
    udid = params.get("VirtualDiskUDID", "")
    size = _hdisk_size(txn, vios, udid) or _mapped_size(txn, vios, udid) or _vdisk_size(txn, vios, udid)
    if size is None:
        raise JobFailed(f"RescanVirtualDisk: VIOS {xml.text(vios.element, 'PartitionName')} has no virtual disk, "
                        f"hdisk or mapped logical unit with UDID {udid!r}.",
                        results={"RETURN_CODE": VOLUME_NOT_FOUND})  # fmt: skip
    tag, value = size
    for mapping in xml.findall(vios.element, _MAPS):
        holder = xml.find(mapping, "Storage")
        if holder is not None and len(holder) and xml.text(holder[0], "UniqueDeviceID") == udid:
            xml.set_text(holder[0], tag, value)
    txn.put(vios, detail="RescanVirtualDisk")
    LOG.info("RescanVirtualDisk on VIOS %s: %s is %s %s", vios.uuid, udid, tag, value)
    return {"RETURN_CODE": "0"}


def _hdisk_size(txn: Transaction, vios: Record, udid: str) -> tuple[str, str] | None:
    pv = next((p for p in fc.hdisks(vios) if xml.text(p, "UniqueDeviceID") == udid), None)
    if pv is None:
        return None
    source = next((e for e in fc.san(txn).element if e.tag in ("Lun", "IscsiTarget") and e.get("udid") == udid), None)
    if source is not None:
        xml.set_text(pv, "VolumeCapacity", str(int(source.get("capacity_gb", "1")) * 1024))
    return "VolumeCapacity", xml.text(pv, "VolumeCapacity") or "0"


def _mapped_size(txn: Transaction, vios: Record, udid: str) -> tuple[str, str] | None:
    """The current size of a File, RBD or logical unit that a mapping of this VIOS holds."""
    for mapping in xml.findall(vios.element, _MAPS):
        holder = xml.find(mapping, "Storage")
        if holder is None or not len(holder) or xml.text(holder[0], "UniqueDeviceID") != udid:
            continue
        dev = holder[0]
        if xml.local(dev) == "LogicalUnit":
            lu = next((r for r in txn.find_containing("LogicalUnit", udid)
                       if xml.text(r.element, "UniqueDeviceID") == udid), None)  # fmt: skip
            return "UnitCapacity", xml.text((lu.element if lu is not None else dev), "UnitCapacity") or "0"
        if filestore.handles(dev):
            return "DiskCapacity", f"{_backing_gb(txn, dev):.6f}"
    return None


def _backing_gb(txn: Transaction, dev: etree._Element) -> float:
    name = xml.text(dev, "DiskName") or ""
    if xml.text(dev, "VirtualDiskType") == "File":
        if not os.path.isfile(name):
            raise JobFailed(f"RescanVirtualDisk: the file {name} behind the mapping is gone.")
        return os.path.getsize(name) / _GB
    image = next((r for r in fc.san(txn).element.iterfind("Rbd") if r.get("name") == name), None)
    if image is None:
        raise JobFailed(f"RescanVirtualDisk: the RBD image {name} behind the mapping is gone.")
    return float(image.get("capacity_gb", "1"))


def _vdisk_size(txn: Transaction, vios: Record, udid: str) -> tuple[str, str] | None:
    for vg in txn.find("VolumeGroup", vios.uuid):
        for disk in xml.findall(vg.element, "VirtualDisks/VirtualDisk"):
            if xml.text(disk, "UniqueDeviceID") == udid:
                return "DiskCapacity", xml.text(disk, "DiskCapacity") or "0"
    return None


# -- LUARecovery QUERY_INVENTORY ----------------------------------------------------------------
def lua_recovery(txn: Transaction, vios: Record | None, params: dict[str, str]) -> dict[str, str]:
    """``QUERY_INVENTORY`` of one hdisk by UDID; any other request is ``fc.lua_recovery``."""
    udid = _inventory_udid(params.get("inputXML", ""))
    if udid is None:
        return fc.lua_recovery(txn, vios, params)
    assert vios is not None
    root = etree.Element("VIO", version="1.21", nsmap={None: "http://ausgsa.austin.ibm"})
    inventory = etree.SubElement(etree.SubElement(root, "Response"), "InventoryResponse", inventoryType="base",
                                 viosId=vios.uuid)  # fmt: skip
    pv = next((p for p in fc.hdisks(vios) if xml.text(p, "UniqueDeviceID") == udid), None)
    descriptor = pg83_descriptor(udid) if pv is not None else None
    if pv is not None:
        disk = etree.SubElement(inventory, "PhysicalVolume", udid=udid, name=xml.text(pv, "VolumeName") or "",
                                description=xml.text(pv, "Description") or "")  # fmt: skip
        base = etree.SubElement(disk, "PhysicalVolume_base", capacity=xml.text(pv, "VolumeCapacity") or "0",
                                locationCode=xml.text(pv, "LocationCode") or "")  # fmt: skip
        if descriptor:
            base.set("descriptor", descriptor)
            base.set("desType", "NAA")
    LOG.info("LUARecovery QUERY_INVENTORY on VIOS %s: %s %s", vios.uuid, udid, "found" if pv is not None else "absent")
    return {"OutputXML": etree.tostring(root, encoding="unicode")}


def _inventory_udid(text: str) -> str | None:
    """The UDID filter of a ``QUERY_INVENTORY`` request, or None for another request."""
    try:
        root = etree.fromstring(text.encode())
    except etree.XMLSyntaxError:
        return None
    request = next(root.iter("{*}Request"), None)
    if request is None or request.get("action_str") != "QUERY_INVENTORY":
        return None
    found = next(root.iter("{*}VioUdidFilter"), None)
    if found is None or not found.get("udid"):
        raise JobFailed("LUARecovery QUERY_INVENTORY needs a VioUdidFilter with the udid of a physical volume.")
    return found.get("udid")
