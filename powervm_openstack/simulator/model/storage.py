"""Volume groups on the VIOSes: virtual disks (logical volumes) and the virtual media repository.

A client changes a volume group by POSTing it back with virtual disks or optical media added or
removed (pypowervm ``crt_vdisk``, ``rm_vg_storage``, ``validate_vopt_repo_exists``). Inside that
one transaction the server:
- gives a new virtual disk its UniqueDeviceID and volume group link, and copies the bytes of
  ``BaseImage`` (a source disk's UDID on the same VIOS) into it, as ``crt_copy_vdisk`` asks;
- creates a new media repository (one per VIOS) and blank optical media;
- refuses what the VIOS refuses: a disk name longer than 15 characters or with characters LVM does
  not take, a name already used in the volume group or by another volume group of the same VIOS
  (LVM logical volume names are unique on the VIOS), a size that does not fit the free space, a
  shrinking disk, removing a disk or medium that a vSCSI mapping still uses, a second repository,
  removing a repository that still holds media;
- recomputes FreeSpace/AvailableSize.
The bytes behind a device live in the store's blobs, keyed by the device UDID.
"""

from __future__ import annotations

import re

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

MAX_VDISK_NAME = 15
MAX_VOPT_NAME = 37
_VDISK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_VOPT_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")

VDISK_ORDER = (
    "Metadata", "DiskCapacity", "DiskLabel", "DiskName", "MaxLogicalVolumes", "PartitionSize", "VolumeGroup",
    "BaseImage", "UniqueDeviceID", "VirtualDiskType", "BackStoreType", "FileFormat",
)  # fmt: skip
VOPT_ORDER = ("Metadata", "MediaName", "MediaUDID", "MountType", "Size")
_DISKS = "VirtualDisks/VirtualDisk"
_REPOS = "MediaRepositories/VirtualMediaRepository"
_MEDIA = "OpticalMedia/VirtualOpticalMedia"


def install() -> None:
    kinds.register("VolumeGroup", VolumeGroupRules())


def gb(elem: etree._Element, tag: str) -> float:
    value = xml.text(elem, tag)
    try:
        return float(value) if value else 0.0
    except ValueError:
        raise bad_request(f"{tag} {value!r} is not a number of GB.") from None


def vopt_udid(name: str) -> str:
    """Optical media UDIDs are ``0e`` + the media name, as the VIOS reports them."""
    return f"0e{name}"


def mapped_storage(vios: Record) -> dict[str, str]:
    """``{storage UDID or name: client partition href}`` of the VIOS's vSCSI mappings."""
    found: dict[str, str] = {}
    for mapping in xml.findall(vios.element, "VirtualSCSIMappings/VirtualSCSIMapping"):
        storage = xml.find(mapping, "Storage")
        if storage is None or not len(storage):
            continue
        link = xml.find(mapping, "AssociatedLogicalPartition")
        href = (link.get("href") if link is not None else None) or "(orphan mapping)"
        for tag in ("UniqueDeviceID", "MediaUDID", "DiskName", "MediaName"):
            value = xml.text(storage[0], tag)
            if value:
                found[value] = href
    return found


class VolumeGroupRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        raise ApiError(405, "Volume groups are created on the VIOS (mkvg), not through this API.")

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        raise ApiError(405, "Volume groups are removed on the VIOS (reducevg), not through this API.")

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        for tag in ("GroupName", "GroupCapacity", "UniqueDeviceID", "GroupSerialID"):
            if xml.text(old.element, tag) != xml.text(new.element, tag):
                raise bad_request(f"{tag} of volume group {xml.text(old.element, 'GroupName')} cannot change.")
        vios = txn.get("VirtualIOServer", new.parent_uuid or "")
        in_use = mapped_storage(vios) if vios is not None else {}
        _update_disks(txn, old, new, in_use)
        _update_repositories(txn, old, new, in_use)
        free = round(gb(new.element, "GroupCapacity") - used_gb(new.element), 4)
        if free < 0:
            raise bad_request(
                f"Volume group {xml.text(new.element, 'GroupName')} has {gb(old.element, 'FreeSpace'):g} GB free; "
                f"the change needs {-free + gb(old.element, 'FreeSpace'):g} GB."
            )
        for tag in ("AvailableSize", "FreeSpace"):
            xml.set_text(new.element, tag, f"{free:g}")


def used_gb(vg: etree._Element) -> float:
    """GB taken by the volume group's virtual disks and media repository."""
    disks = sum(gb(d, "DiskCapacity") for d in xml.findall(vg, _DISKS))
    return disks + sum(gb(r, "RepositorySize") for r in xml.findall(vg, _REPOS))


def _by_name(elems: list[etree._Element], tag: str) -> dict[str, etree._Element]:
    return {xml.text(e, tag) or "": e for e in elems}


def _check_unique_names(txn: Transaction, old: Record, new: Record) -> None:
    """Refuse a disk name twice in the group, or a new one another group of the same VIOS uses.

    A virtual disk is an LVM logical volume of the VIOS, whose names are unique system-wide
    (``/dev/<name>``), not only within their volume group.
    """
    names = [xml.text(d, "DiskName") or "" for d in xml.findall(new.element, _DISKS)]
    vg_name = xml.text(old.element, "GroupName")
    for name in {n for n in names if names.count(n) > 1}:
        raise bad_request(f"Virtual disk name {name!r} is already used in volume group {vg_name}.")
    before = {xml.text(d, "DiskName") for d in xml.findall(old.element, _DISKS)}
    added = {n.rsplit("/", 1)[-1] for n in names if n not in before}
    for other in txn.find("VolumeGroup", old.parent_uuid) if old.parent_uuid else []:
        if other.uuid == old.uuid:
            continue
        taken = {(xml.text(d, "DiskName") or "").rsplit("/", 1)[-1] for d in xml.findall(other.element, _DISKS)}
        for name in sorted(added & taken):
            raise bad_request(
                f"Virtual disk name {name!r} is already used by volume group {xml.text(other.element, 'GroupName')} "
                "of this VIOS (logical volume names are unique on a VIOS)."
            )


def _update_disks(txn: Transaction, old: Record, new: Record, in_use: dict[str, str]) -> None:
    _check_unique_names(txn, old, new)
    before = _by_name(xml.findall(old.element, _DISKS), "DiskName")
    after = _by_name(xml.findall(new.element, _DISKS), "DiskName")
    vg_name = xml.text(old.element, "GroupName")
    for name, disk in before.items():
        udid = xml.text(disk, "UniqueDeviceID") or ""
        if name not in after:
            user = in_use.get(udid) or in_use.get(name)
            if user:
                raise bad_request(f"Virtual disk {name} of {vg_name} is mapped to {user}; remove the mapping first.")
            txn.delete_blob(udid)
            continue
        kept = after[name]
        if gb(kept, "DiskCapacity") < gb(disk, "DiskCapacity"):
            raise bad_request(
                f"Virtual disk {name} cannot shrink from {gb(disk, 'DiskCapacity'):g} to "
                f"{gb(kept, 'DiskCapacity'):g} GB."
            )
        set_child(kept, "UniqueDeviceID", udid, VDISK_ORDER, kb="ROR")
    for name, disk in after.items():
        if name not in before:
            _new_vdisk(txn, new, disk, name)


def _new_vdisk(txn: Transaction, vg: Record, disk: etree._Element, name: str) -> None:
    short = name.rsplit("/", 1)[-1]
    if len(short) > MAX_VDISK_NAME or not _VDISK_NAME.fullmatch(short):
        raise bad_request(
            f"Virtual disk name {short!r} is not valid: 1-{MAX_VDISK_NAME} characters, letters, digits, '_' and "
            "'.', not starting with a digit."
        )
    if gb(disk, "DiskCapacity") <= 0:
        raise bad_request(f"Virtual disk {short} needs a DiskCapacity above 0 GB.")
    seq = int(txn.meta(f"vdisk-seq:{vg.uuid}", "0") or 0) + 1
    txn.set_meta(f"vdisk-seq:{vg.uuid}", str(seq))
    udid = f"03{xml.text(vg.element, 'GroupSerialID', '')}.{seq}"
    base = xml.text(disk, "BaseImage")
    data = b""
    if base:
        source = txn.blob(base)
        if source is None:
            raise bad_request(f"BaseImage {base} of new virtual disk {short} is not a device on this VIOS.")
        data = source
        disk.remove(xml.find(disk, "BaseImage"))
    txn.put_blob(udid, data)
    for tag, value, kb in (("DiskLabel", "None", "CUR"), ("UniqueDeviceID", udid, "ROR")):
        set_child(disk, tag, value, VDISK_ORDER, kb=kb)
    link = xml.find(disk, "VolumeGroup")
    if link is None:
        link = etree.Element(xml.q("VolumeGroup"), attrib={"kb": "ROR", "kxe": "false", "rel": "related"})
        disk.insert(VDISK_ORDER.index("VolumeGroup"), link)
    link.set("href", f"/rest/api/uom/VirtualIOServer/{vg.parent_uuid}/VolumeGroup/{vg.uuid}")


def _update_repositories(txn: Transaction, old: Record, new: Record, in_use: dict[str, str]) -> None:
    before = _by_name(xml.findall(old.element, _REPOS), "RepositoryName")
    after = _by_name(xml.findall(new.element, _REPOS), "RepositoryName")
    if len(after) > 1:
        raise bad_request("A VIOS has at most one virtual media repository.")
    for name, repo in before.items():
        media = xml.findall(repo, _MEDIA)
        if name not in after and media:
            raise bad_request(f"Media repository {name} still holds {len(media)} media; remove them first.")
    for name, repo in after.items():
        if name not in before:
            _check_first_repository(txn, new, name)
        _update_media(txn, before.get(name), repo, in_use)


def _check_first_repository(txn: Transaction, vg: Record, name: str) -> None:
    for other in txn.find("VolumeGroup", vg.parent_uuid):
        if other.uuid != vg.uuid and xml.findall(other.element, _REPOS):
            raise bad_request(
                f"Media repository {name} cannot be created: volume group {xml.text(other.element, 'GroupName')} "
                "of this VIOS already holds its repository."
            )


def _update_media(txn: Transaction, old_repo: etree._Element | None, repo: etree._Element, in_use: dict) -> None:
    before = _by_name(xml.findall(old_repo, _MEDIA) if old_repo is not None else [], "MediaName")
    after = _by_name(xml.findall(repo, _MEDIA), "MediaName")
    for name in before:
        if name not in after:
            if in_use.get(vopt_udid(name)) or in_use.get(name):
                raise bad_request(f"Optical media {name} is loaded in a vSCSI mapping; unload it first.")
            txn.delete_blob(vopt_udid(name))
    for name, medium in after.items():
        if name in before:
            continue
        check_vopt_name(name)
        for tag, value in (("MediaUDID", vopt_udid(name)), ("MountType", xml.text(medium, "MountType") or "rw"),
                           ("Size", xml.text(medium, "Size") or "0.0")):  # fmt: skip
            set_child(medium, tag, value, VOPT_ORDER)
        txn.put_blob(vopt_udid(name), b"")
    _check_repository_size(repo)


def _check_repository_size(repo: etree._Element) -> None:
    size = sum(gb(m, "Size") for m in xml.findall(repo, _MEDIA))
    if size > gb(repo, "RepositorySize") + 1e-9:
        raise bad_request(
            f"Media repository {xml.text(repo, 'RepositoryName')} of {gb(repo, 'RepositorySize'):g} GB cannot hold "
            f"{size:g} GB of media."
        )


def check_vopt_name(name: str) -> None:
    if not 1 <= len(name) <= MAX_VOPT_NAME or not _VOPT_NAME.fullmatch(name):
        raise bad_request(
            f"Optical media name {name!r} is not valid: 1-{MAX_VOPT_NAME} characters, letters, digits, '_', '.', '-'."
        )


def add_medium(txn: Transaction, vios_uuid: str, name: str, data: bytes) -> None:
    """Put uploaded media into the VIOS's media repository (the File API's MEDIA_ISO upload)."""
    check_vopt_name(name)
    for vg in txn.find("VolumeGroup", vios_uuid):
        repos = xml.findall(vg.element, _REPOS)
        if not repos:
            continue
        holder = xml.find(repos[0], "OpticalMedia")
        if holder is None:
            holder = xml.complex_el(repos[0], "OpticalMedia", kb="CUD", kxe="false")
            repos[0].insert(1, holder)
        if any(xml.text(m, "MediaName") == name for m in xml.findall(repos[0], _MEDIA)):
            raise bad_request(
                f"Optical media {name} already exists in repository {xml.text(repos[0], 'RepositoryName')}."
            )
        medium = xml.complex_el(holder, "VirtualOpticalMedia")
        for tag, value in (("MediaName", name), ("MediaUDID", vopt_udid(name)), ("MountType", "rw"),
                           ("Size", f"{len(data) / 1024**3:.6f}")):  # fmt: skip
            xml.leaf(medium, tag, value, kb="CUR")
        _check_repository_size(repos[0])
        txn.put_blob(vopt_udid(name), data)
        txn.put(vg, detail="MediaRepositories")
        return
    raise bad_request(f"VIOS {vios_uuid} has no virtual media repository to upload {name} into.")


def find_device(txn: Transaction, vios_uuid: str, udid: str) -> tuple[Record, etree._Element] | None:
    """The (volume group, virtual disk) with ``udid`` on the VIOS, or None."""
    for vg in txn.find("VolumeGroup", vios_uuid):
        for disk in xml.findall(vg.element, _DISKS):
            if xml.text(disk, "UniqueDeviceID") == udid:
                return vg, disk
    return None
