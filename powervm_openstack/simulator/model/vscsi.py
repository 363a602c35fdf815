"""vSCSI mappings: a client POSTs its VIOS with mappings added or removed (pypowervm ``scsi_mapper``).

For a new mapping the server, inside the VIOS update's transaction:
- resolves the storage on this VIOS: a virtual disk (by UDID or name) of one of its volume groups,
  a file or Ceph RBD image served by the NovaLink partition (``model.filestore``),
  optical media of its repository, a physical volume (hdisk) the VIOS has discovered (``model.fc``,
  ``model.iscsi``), or a logical unit of a Shared Storage Pool whose cluster has this
  VIOS as a node; anything else is refused (400 naming the storage);
- refuses a virtual disk, hdisk or optical media that this VIOS already maps to a partition (a logical
  unit of a Shared Storage Pool may be mapped to several), and a client partition that does not exist;
- assigns the server adapter (slot, ``vhostN``) and client adapter (the client slot asked for,
  refused when in use or out of range, else the first free one) unless the mapping reuses an
  existing adapter pair, the target device (``vtscsiN``/``vtoptN``,
  LUA), and writes the full storage element;
- marks a mapped logical unit InUse;
- keeps a mapping sent back without Storage as its adapter pair alone (``model.vscsi_bus``);
- refuses (409, HSCL294C) a new client adapter on, or the removal of the last mapping of a client
  adapter (which removes that adapter) from, a running partition without active RMC: both are DLPAR
  changes (``adapters.check_live_change``); a mapping that reuses an existing adapter pair is not.
A mapping to the management partition surfaces the device's bytes as a file under the directory
set with ``set_mgmt_device_dir`` (``<dir>/disk/by-id/scsi-<udid>``), the way the NovaLink kernel sees a
newly mapped disk; removing the mapping removes the file.
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
from pathlib import Path

from lxml import etree

from powervm_openstack.simulator.errors import bad_request
from powervm_openstack.simulator.model import adapters, filestore, storage, vscsi_bus
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store, Transaction

LOG = logging.getLogger(__name__)

_MAPS = "VirtualSCSIMappings/VirtualSCSIMapping"
_VFC_MAPS = "VirtualFibreChannelMappings/VirtualFibreChannelMapping"
_DEVICE_DIR_KEY = "mgmt_device_dir"
ADAPTER_ORDER = (
    "Metadata", "AdapterType", "DynamicReconfigurationConnectorName", "LocationCode", "LocalPartitionID",
    "RequiredAdapter", "VariedOn", "UseNextAvailableSlotID", "UseNextAvailableHighSlotID", "VirtualSlotNumber",
    "Enabled", "AdapterName", "BackingDeviceName", "RemoteBackingDeviceName", "RemoteLogicalPartitionID",
    "RemoteSlotNumber", "ServerLocationCode", "UniqueDeviceID",
)  # fmt: skip
_TARGET = {
    "VirtualDisk": ("LogicalVolumeVirtualTargetDevice", "vtscsi"),
    "LogicalUnit": ("SharedStoragePoolLogicalUnitVirtualTargetDevice", "vtscsi"),
    "VirtualOpticalMedia": ("VirtualOpticalTargetDevice", "vtopt"),
    "PhysicalVolume": ("PhysicalVolumeVirtualTargetDevice", "vtscsi"),
}


def install() -> None:
    kinds.register("VirtualIOServer", VscsiRules())


def set_mgmt_device_dir(store: Store, path: str | None) -> None:
    """Surface devices mapped to the management partition as files under ``path`` (None: stop)."""
    with store.transaction() as txn:
        txn.set_meta(_DEVICE_DIR_KEY, path or "")


def _key(mapping: etree._Element) -> tuple[str | None, str | None]:
    server = xml.find(mapping, "ServerAdapter")
    slot = xml.text(server, "VirtualSlotNumber") if server is not None else None
    return slot, _storage_key(xml.find(mapping, "Storage"))


def _storage_key(holder: etree._Element | None) -> str | None:
    if holder is None or not len(holder):
        return None
    dev = holder[0]
    for tag in ("UniqueDeviceID", "MediaUDID"):
        if xml.text(dev, tag):
            return xml.text(dev, tag)
    media = xml.text(dev, "MediaName")
    if media:
        return storage.vopt_udid(media)
    return xml.text(dev, "DiskName") or xml.text(dev, "UnitName")


class VscsiRules(kinds.Behaviour):
    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        before = {_key(m): m for m in xml.findall(old.element, _MAPS)}
        kept: set[tuple[str | None, str | None]] = set()
        for mapping in xml.findall(new.element, _MAPS):
            key = _key(mapping)
            if key in before and key not in kept:
                kept.add(key)  # an existing mapping sent back: the server's copy stays authoritative
                mapping.getparent().replace(mapping, copy.deepcopy(before[key]))
            elif not vscsi_bus.has_storage(mapping):
                vscsi_bus.detached({slot for slot, _ in before}, mapping)
            else:
                _new_mapping(txn, new, mapping)
        for key, mapping in before.items():
            if key not in kept:
                _removed_mapping(txn, new, mapping)
        vscsi_bus.drop_empty_twins(new)


def _client(txn: Transaction, mapping: etree._Element) -> Record:
    link = xml.find(mapping, "AssociatedLogicalPartition")
    href = link.get("href") if link is not None else None
    if not href:
        raise bad_request("A new vSCSI mapping needs AssociatedLogicalPartition (the client partition).")
    client = txn.get("LogicalPartition", adapters.href_uuid(href))
    if client is None:
        raise bad_request(f"The client partition {adapters.href_uuid(href)} of the vSCSI mapping does not exist.")
    link.set("href", f"/rest/api/uom/ManagedSystem/{client.parent_uuid}/LogicalPartition/{client.uuid}")
    return client


def _resolve_storage(txn: Transaction, vios: Record, holder: etree._Element | None) -> etree._Element:
    """The stored element of the storage a new mapping names, refused when this VIOS cannot reach it."""
    if holder is None or not len(holder):
        raise bad_request("A new vSCSI mapping needs Storage (a VirtualDisk, VirtualOpticalMedia or LogicalUnit).")
    dev = holder[0]
    kind = xml.local(dev)
    udid = xml.text(dev, "UniqueDeviceID")
    if kind == "VirtualDisk":
        return _virtual_disk(txn, vios, dev, udid)
    if kind == "VirtualOpticalMedia":
        name = xml.text(dev, "MediaName")
        for vg in txn.find("VolumeGroup", vios.uuid):
            for medium in xml.findall(vg.element, "MediaRepositories/VirtualMediaRepository/OpticalMedia/"
                                                  "VirtualOpticalMedia"):  # fmt: skip
                if xml.text(medium, "MediaName") == name:
                    return copy.deepcopy(medium)
        raise bad_request(f"Optical media {name} is not in the media repository of VIOS {vios.uuid}.")
    if kind == "LogicalUnit":
        return _logical_unit(txn, vios, udid or "")
    if kind == "PhysicalVolume":
        return _physical_volume(vios, xml.text(dev, "VolumeName"), udid)
    raise bad_request(f"vSCSI storage of type {kind} is not supported by this system; use VirtualDisk, "
                      "VirtualOpticalMedia, LogicalUnit or PhysicalVolume.")  # fmt: skip


def _virtual_disk(txn: Transaction, vios: Record, dev: etree._Element, udid: str | None) -> etree._Element:
    if filestore.handles(dev):
        return filestore.resolve(txn, vios, dev)
    name = xml.text(dev, "DiskName")
    for vg in txn.find("VolumeGroup", vios.uuid):
        for disk in xml.findall(vg.element, "VirtualDisks/VirtualDisk"):
            if (udid and xml.text(disk, "UniqueDeviceID") == udid) or (not udid and xml.text(disk, "DiskName") == name):
                return copy.deepcopy(disk)
    raise bad_request(f"Virtual disk {udid or name} is not in a volume group of VIOS {vios.uuid}.")


def _physical_volume(vios: Record, name: str | None, udid: str | None) -> etree._Element:
    for pv in xml.findall(vios.element, "PhysicalVolumes/PhysicalVolume"):
        if xml.text(pv, "VolumeName") == name or (udid and xml.text(pv, "UniqueDeviceID") == udid):
            return copy.deepcopy(pv)
    raise bad_request(f"Physical volume {name or udid} is not a device of VIOS {vios.uuid}; discover it first.")


def _logical_unit(txn: Transaction, vios: Record, udid: str) -> etree._Element:
    for lu in txn.find_containing("LogicalUnit", udid):
        if xml.text(lu.element, "UniqueDeviceID") != udid:
            continue
        if not _vios_in_cluster_of(txn, vios, lu):
            raise bad_request(f"Logical unit {udid} is in a pool whose cluster does not include VIOS {vios.uuid}.")
        elem = etree.Element(xml.q("LogicalUnit"), attrib={"schemaVersion": xml.SCHEMA_VERSION})
        for child in lu.element:
            if xml.local(child) != "Metadata":
                elem.append(copy.deepcopy(child))
        elem.insert(0, xml.metadata())
        return elem
    raise bad_request(f"Logical unit {udid} does not exist.")


def _vios_in_cluster_of(txn: Transaction, vios: Record, lu: Record) -> bool:
    for cluster in txn.find("Cluster"):
        nodes = [n.get("href") or "" for n in cluster.element.iter(xml.q("VirtualIOServer"))]
        if any(adapters.href_uuid(h).upper() == vios.uuid.upper() for h in nodes):
            return True
    return False


def _new_mapping(txn: Transaction, vios: Record, mapping: etree._Element) -> None:
    client = _client(txn, mapping)
    holder = xml.find(mapping, "Storage")
    dev = _resolve_storage(txn, vios, holder)
    key = _storage_key(_wrap(dev))
    shareable = xml.local(dev) == "LogicalUnit"  # shared storage may serve several partitions; LVs and media not
    for other in xml.findall(vios.element, _MAPS):
        if not shareable and other is not mapping and _storage_key(xml.find(other, "Storage")) == key:
            user = xml.find(other, "AssociatedLogicalPartition")
            raise bad_request(
                f"Storage {key} is already mapped on VIOS {vios.uuid} to "
                f"{adapters.href_uuid(user.get('href')) if user is not None else 'an orphan adapter'}."
            )
    holder.replace(holder[0], dev)
    server, client_adpt = _adapters(txn, vios, client, mapping)
    set_child(server, "BackingDeviceName", _device_name(dev), ADAPTER_ORDER)
    _target_device(vios, mapping, dev, server)
    if xml.local(dev) == "LogicalUnit":
        _set_in_use(txn, key or "", True)
    _surface(txn, client, dev, add=True)
    LOG.info(
        "vSCSI mapping on VIOS %s: %s %s -> partition %s (client slot %s)",
        vios.uuid, xml.local(dev), key, client.uuid, xml.text(client_adpt, "VirtualSlotNumber"),
    )  # fmt: skip


def _wrap(dev: etree._Element) -> etree._Element:
    holder = etree.Element(xml.q("Storage"))
    holder.append(copy.deepcopy(dev))
    return holder


def _device_name(dev: etree._Element) -> str:
    for tag in ("DiskName", "MediaName", "UnitName", "VolumeName"):
        if xml.text(dev, tag):
            return xml.text(dev, tag) or ""
    return ""


def _adapters(txn: Transaction, vios: Record, client: Record, mapping: etree._Element) -> tuple:
    server = xml.find(mapping, "ServerAdapter")
    client_adpt = xml.find(mapping, "ClientAdapter")
    if server is None or client_adpt is None:
        raise bad_request("A new vSCSI mapping needs a ClientAdapter and a ServerAdapter.")
    if xml.text(server, "VirtualSlotNumber") and xml.text(server, "AdapterName"):
        return server, client_adpt  # an existing adapter pair (bld_from_existing)
    adapters.check_live_add(client, "a virtual SCSI client adapter")
    vios_id, client_id = adapters.partition_id(vios), adapters.partition_id(client)
    s_slot = _free_slot(vios, _server_slots(txn, vios))
    c_slot = int(xml.text(client_adpt, "VirtualSlotNumber") or 0)
    if c_slot:  # asked for (a rebuild keeps the source's slots): firmware refuses one in use or out of range
        adapters.check_slot(txn, client, c_slot)
    c_slot = c_slot or _free_slot(client, _client_slots(txn, client))
    s_loc, c_loc = adapters.location_code(txn, vios, s_slot), adapters.location_code(txn, client, c_slot)
    names = {xml.text(m, "ServerAdapter/AdapterName") for m in xml.findall(vios.element, _MAPS)}
    vhost = next(f"vhost{n}" for n in range(10_000) if f"vhost{n}" not in names)
    for adpt, kind, loc, local, remote, slot, rslot in (
        (server, "Server", s_loc, vios_id, client_id, s_slot, c_slot),
        (client_adpt, "Client", c_loc, client_id, vios_id, c_slot, s_slot),
    ):
        for tag, value in (
            ("AdapterType", kind), ("DynamicReconfigurationConnectorName", loc), ("LocationCode", loc),
            ("LocalPartitionID", local), ("RequiredAdapter", False), ("VariedOn", True),
            ("UseNextAvailableSlotID", False), ("VirtualSlotNumber", slot), ("RemoteLogicalPartitionID", remote),
            ("RemoteSlotNumber", rslot), ("ServerLocationCode", s_loc),
        ):  # fmt: skip
            set_child(adpt, tag, value, ADAPTER_ORDER)
    set_child(server, "AdapterName", vhost, ADAPTER_ORDER)
    set_child(server, "UniqueDeviceID", f"1e{s_loc}", ADAPTER_ORDER)
    return server, client_adpt


def _free_slot(part: Record, used: set[int]) -> int:
    limit = int(xml.text(part.element, "PartitionIOConfiguration/MaximumVirtualIOSlots", "64") or 64)
    slot = next((s for s in range(2, limit) if s not in used), None)
    if slot is None:
        raise bad_request(
            f"HSCL294E Partition {xml.text(part.element, 'PartitionName')} has no free virtual slot "
            f"(MaximumVirtualIOSlots {limit})."
        )
    return slot


def _server_slots(txn: Transaction, vios: Record) -> set[int]:
    used = {int(s) for s in (xml.text(t, "VirtualSlotNumber") for t in
                             xml.findall(vios.element, "TrunkAdapters/TrunkAdapter")) if s}  # fmt: skip
    used |= {int(s) for s in (xml.text(m, "ServerAdapter/VirtualSlotNumber") for m in
                              xml.findall(vios.element, _MAPS)) if s}  # fmt: skip
    used |= {adapters.int_text(c.element, "VirtualSlotNumber") for c in txn.find("ClientNetworkAdapter", vios.uuid)}
    used |= {int(s) for s in (xml.text(m, "ServerAdapter/VirtualSlotNumber") for m in xml.findall(vios.element,
             _VFC_MAPS)) if s}  # fmt: skip
    return used


def _client_slots(txn: Transaction, client: Record) -> set[int]:
    used = {adapters.int_text(c.element, "VirtualSlotNumber") for kind in ("ClientNetworkAdapter",
            "VirtualNICDedicated") for c in txn.find(kind, client.uuid)}  # fmt: skip
    for vios in txn.find_containing("VirtualIOServer", client.uuid):
        for mapping in [*xml.findall(vios.element, _MAPS), *xml.findall(vios.element, _VFC_MAPS)]:
            link = xml.find(mapping, "AssociatedLogicalPartition")
            if link is not None and adapters.href_uuid(link.get("href") or "").upper() == client.uuid.upper():
                slot = xml.text(mapping, "ClientAdapter/VirtualSlotNumber")
                if slot:
                    used.add(int(slot))
    return used


def _target_device(vios: Record, mapping: etree._Element, dev: etree._Element, server: etree._Element) -> None:
    tag, prefix = _TARGET[xml.local(dev)]
    names = {t.text for t in vios.element.iter(xml.q("TargetName")) if t.text}
    name = next(f"{prefix}{n}" for n in range(10_000) if f"{prefix}{n}" not in names)
    slot = xml.text(server, "VirtualSlotNumber")
    lun = sum(1 for m in xml.findall(vios.element, _MAPS) if xml.text(m, "ServerAdapter/VirtualSlotNumber") == slot
              and xml.find(m, "TargetDevice") is not None) + 1  # fmt: skip
    holder = xml.find(mapping, "TargetDevice")
    if holder is not None:
        mapping.remove(holder)
    holder = etree.SubElement(mapping, xml.q("TargetDevice"), attrib={"kb": "CUR", "kxe": "false"})
    target = xml.complex_el(holder, tag)
    xml.leaf(target, "LogicalUnitAddress", f"0x{0x80 + lun:02x}00000000000000", kb="CUR")
    xml.leaf(target, "TargetName", name, kb="CUR")
    xml.leaf(target, "UniqueDeviceID", secrets.token_hex(9), kb="ROR")


def _removed_mapping(txn: Transaction, vios: Record, mapping: etree._Element) -> None:
    link = xml.find(mapping, "AssociatedLogicalPartition")
    client = txn.get("LogicalPartition", adapters.href_uuid(link.get("href") or "")) if link is not None else None
    if client is not None and _last_on_its_adapter(vios, mapping):
        adapters.check_live_remove(client, "a virtual SCSI client adapter")
    holder = xml.find(mapping, "Storage")
    if holder is None or not len(holder):
        return  # an adapter pair without storage (detach_storage): nothing else to release
    dev = holder[0]
    key = _storage_key(holder) or ""
    if xml.local(dev) == "LogicalUnit":
        others = [v.element for v in txn.find_containing("VirtualIOServer", key) if v.uuid != vios.uuid]
        still = any(_storage_key(xml.find(m, "Storage")) == key for v in [*others, vios.element]
                    for m in xml.findall(v, _MAPS))  # fmt: skip
        if not still:
            _set_in_use(txn, key, False)
    if client is not None:
        _surface(txn, client, dev, add=False)


def _last_on_its_adapter(vios: Record, mapping: etree._Element) -> bool:
    """True when no mapping left on ``vios`` shares the removed one's client adapter (so it goes too)."""
    slot = xml.text(mapping, "ClientAdapter/VirtualSlotNumber")
    if not slot:
        return False  # an orphan: no client adapter to remove
    client = adapters.href_uuid(xml.find(mapping, "AssociatedLogicalPartition").get("href") or "").upper()
    for other in xml.findall(vios.element, _MAPS):
        link = xml.find(other, "AssociatedLogicalPartition")
        if (link is not None and adapters.href_uuid(link.get("href") or "").upper() == client
                and xml.text(other, "ClientAdapter/VirtualSlotNumber") == slot):  # fmt: skip
            return False
    return True


def _set_in_use(txn: Transaction, udid: str, in_use: bool) -> None:
    for lu in txn.find_containing("LogicalUnit", udid):
        if xml.text(lu.element, "UniqueDeviceID") == udid:
            xml.set_text(lu.element, "InUse", in_use)
            txn.put(lu, detail="InUse")


def _surface(txn: Transaction, client: Record, dev: etree._Element, add: bool) -> None:
    root = txn.meta(_DEVICE_DIR_KEY) or ""
    mgmt = (xml.text(client.element, "IsManagementPartition") or "false").lower() == "true"
    if not root or not mgmt:
        return
    udid = _storage_key(_wrap(dev)) or ""
    path = Path(root) / "disk" / "by-id" / f"scsi-{udid}"
    if add:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(txn.blob(udid) or b"")
        os.chmod(path, 0o600)
    elif path.exists():
        path.unlink()
