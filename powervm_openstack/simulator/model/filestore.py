"""FileIO and Ceph RBD vSCSI storage, served by a NovaLink partition that is an I/O server.

On NovaLink with software-defined I/O the management partition is itself a VirtualIOServer
(``IsManagementPartition`` true; topology ``management_partition: {io_server: true}``) whose Linux
SCSI target serves files and RBD images through vSCSI. pypowervm builds both as a ``VirtualDisk``
storage element of a new vSCSI mapping (``FileIO.bld_ref``: ``VirtualDiskType`` ``File``,
``DiskName``/``DiskLabel`` the path, ``BackStoreType`` ``fileio``/``loop``/``user:qcow``;
``RBD.bld_ref``: ``RBD``, the ``pool/image`` name, ``user:rbd``, ``RbdUser``). No pypowervm
test data shows what the server answers, so the simulator's choices, written down here:
- only the NovaLink I/O server maps them; an AIX VIOS has no such backstore (400 naming it);
- a file must be an absolute path of an existing regular file on the partition (NovaLink's REST
  server runs there, so the simulator checks its own file system); anything else is refused
  (400 naming the path) rather than creating an empty backstore;
- an RBD image must exist in the Ceph cluster (the topology's ``storage.rbd_images``, or
  ``add_rbd`` for an image Cinder created), else 400 naming it; a backstore type that does not
  fit the storage type is refused;
- the stored element gets ``DiskCapacity`` (GB: the file's size, the image's capacity) and a
  ``UniqueDeviceID`` derived from the path or name, so one file or image maps to one partition;
- ``VirtualIOServer/<u>/do/RBDExists`` (pypowervm ``hdisk.rbd_exists``, parameter ``name``)
  answers ``exists`` ``true``/``false``; it fails on a VIOS that is not the NovaLink I/O server.
"""

from __future__ import annotations

import copy
import os

from lxml import etree

from powervm_openstack.simulator.build import derive_uuid
from powervm_openstack.simulator.errors import bad_request
from powervm_openstack.simulator.model import fc
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store, Transaction

KINDS = ("File", "RBD")
_BACKSTORES = {"File": ("fileio", "loop", "user:qcow"), "RBD": ("user:rbd",)}
_ORDER = (
    "Metadata", "ReadIOPS", "WriteIOPS", "EncryptionState", "EncryptionKey", "EncryptionAgent", "Tag", "EmulateModel",
    "DiskCapacity", "DiskLabel", "DiskName", "MaxLogicalVolumes", "PartitionSize", "VolumeGroup", "BaseImage",
    "UniqueDeviceID", "VirtualDiskType", "BackStoreType", "FileFormat", "RbdUser", "OptionalParameters",
)  # fmt: skip
_GB = 1024**3


def install() -> None:
    register_job("VirtualIOServer", "RBDExists", rbd_exists)


def handles(dev: etree._Element) -> bool:
    """Whether a mapping's VirtualDisk is FileIO or RBD storage (this module's), not a logical volume."""
    return xml.text(dev, "VirtualDiskType") in KINDS


def is_novalink_io(vios: Record) -> bool:
    return (xml.text(vios.element, "IsManagementPartition") or "").lower() == "true"


def resolve(txn: Transaction, vios: Record, dev: etree._Element) -> etree._Element:
    """The stored element of a new mapping's FileIO or RBD storage (see the module docstring)."""
    kind, name = xml.text(dev, "VirtualDiskType") or "", xml.text(dev, "DiskName") or ""
    if not is_novalink_io(vios):
        raise bad_request(f"VIOS {xml.text(vios.element, 'PartitionName')} cannot serve {kind} storage {name}: "
                          "FileIO and RBD storage is served by the NovaLink partition (an I/O server) only.")  # fmt: skip
    backstore = xml.text(dev, "BackStoreType")
    if backstore and backstore not in _BACKSTORES[kind]:
        raise bad_request(f"BackStoreType {backstore} does not fit {kind} storage {name}; use one of "
                          f"{', '.join(_BACKSTORES[kind])}.")  # fmt: skip
    size = _file_gb(name) if kind == "File" else _rbd_gb(txn, name)
    stored = copy.deepcopy(dev)
    set_child(stored, "DiskCapacity", f"{size:.6f}", _ORDER)
    set_child(stored, "DiskLabel", xml.text(dev, "DiskLabel") or name, _ORDER)
    set_child(stored, "UniqueDeviceID", udid(kind, name), _ORDER)
    return stored


def udid(kind: str, name: str) -> str:
    """The UDID the simulator gives a file or RBD image (stable per path/name)."""
    return ("0FILEIO" if kind == "File" else "0RBD") + derive_uuid(kind, name).replace("-", "").upper()


def _file_gb(path: str) -> float:
    if not os.path.isabs(path):
        raise bad_request(f"FileIO path {path!r} is not absolute; give the file's full path on the NovaLink partition.")
    if not os.path.isfile(path):
        raise bad_request(f"FileIO path {path} is not an existing file on the NovaLink partition.")
    return os.path.getsize(path) / _GB


def _rbd_gb(txn: Transaction, name: str) -> float:
    image = _image(txn, name)
    if image is None:
        raise bad_request(f"RBD image {name} does not exist in the Ceph cluster of the NovaLink partition.")
    return float(image.get("capacity_gb", "1"))


def _image(txn: Transaction, name: str) -> etree._Element | None:
    return next((r for r in fc.san(txn).element.iterfind("Rbd") if r.get("name") == name), None)


def rbd_exists(txn: Transaction, vios: Record | None, params: dict[str, str]) -> dict[str, str]:
    """``RBDExists``: whether the Ceph image ``name`` exists (only on the NovaLink I/O server)."""
    assert vios is not None
    if not is_novalink_io(vios):
        raise JobFailed(f"RBDExists runs on the NovaLink partition only; {xml.text(vios.element, 'PartitionName')} "
                        "is not it.")  # fmt: skip
    name = params.get("name", "")
    if not name:
        raise JobFailed("RBDExists needs the parameter name (pool/image).")
    return {"exists": "true" if _image(txn, name) is not None else "false"}


# -- the Ceph cluster's side (tests create and delete images with these) ------------------------
def add_rbd(store: Store, name: str, capacity_gb: int) -> None:
    """Create (or resize) the Ceph image ``name`` (``pool/image``)."""
    with store.transaction() as txn:
        rec = fc.san(txn)
        image = next((r for r in rec.element.iterfind("Rbd") if r.get("name") == name), None)
        if image is None:
            image = etree.SubElement(rec.element, "Rbd", name=name)
        image.set("capacity_gb", str(capacity_gb))
        txn.put(rec, event=False)
