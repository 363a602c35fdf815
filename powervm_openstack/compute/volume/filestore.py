"""``local``, ``nfs``, ``gpfs`` (files) and ``rbd`` (Ceph images) volumes, served by the NovaLink partition.

A VIOS cannot serve a file or an RBD image; NovaLink with software-defined I/O can: there the
management partition is itself a VirtualIOServer (pypowervm ``get_mgmt_partition`` answers a
``VIOS``) whose SCSI target serves them through vSCSI. Attach adds one vSCSI mapping to the
partition on that VIOS only (pypowervm's ``WrapperTask``: a 412 re-reads the VIOS and applies the
change again), whose storage is
- a ``FileIO`` (``BackStoreType`` ``fileio``, the kernel backstore that honours SCSI persistent
  reserve) of the volume's file: ``device_path`` for ``local`` and ``gpfs``; for ``nfs``
  ``<[powervm] nfs_mount_point_base>/<md5 of export>/<name>``, the layout of os-brick and nova's
  libvirt driver (the driver does not mount: the export must be mounted there);
- an ``RBD`` of ``name`` (``pool/image``) with ``RbdUser`` ``[powervm] rbd_user`` (when set),
  after ``RBDExists`` confirmed the image.
One REST update, so a failed attach leaves nothing. Detach removes the partition's mappings of that
file or image (matched as the ``VirtualDisk`` the REST API answers, by name); none left is no error.
Extend changes nothing on the host: no REST operation resizes a FileIO or RBD backstore.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from nova import exception as nova_exc
from nova import utils as nova_utils
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import hdisk as pvm_hdisk
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.utils import transaction as pvm_tx
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

LOG = logging.getLogger(__name__)
SMAP = [pvm_vios.VIOS.xags.SCSI_MAPPING]


class NovaLinkVolume:
    """One file-backed or RBD volume of one instance (see the module docstring)."""

    kind = "file"

    def __init__(self, adapter: Any, conf: Any, lpar_uuid: str, lpar_id: int, connection_info: dict,
                 **_unused: Any) -> None:  # fmt: skip
        self.adapter, self.conf, self.lpar_uuid = adapter, conf, lpar_uuid
        self.info = connection_info
        self.data: dict[str, Any] = connection_info.setdefault("data", {})
        self.volume_id = self.data.get("volume_id") or connection_info.get("serial") or "?"
        self.kind = connection_info.get("driver_volume_type") or self.kind

    # -- per storage type ----------------------------------------------------------------------
    def name(self) -> str:
        """The file's path (the storage's ``DiskName``)."""
        if self.kind == "nfs":
            export, name = self.data.get("export"), self.data.get("name")
            if not export or not name:
                raise self._failed(f"nfs connection data needs export and name; got {sorted(self.data)}")
            return os.path.join(self._mount_point(export), name)
        path = self.data.get("device_path")
        if not path:
            raise self._failed(f"{self.kind} connection data needs device_path; got {sorted(self.data)}")
        return path

    def storage(self) -> Any:
        return pvm_stor.FileIO.bld_ref(self.adapter, self.name(), backstore_type=pvm_stor.BackStoreType.FILE_IO,
                                       tag=self.volume_id)  # fmt: skip

    def check(self, novalink: Any) -> None:
        """Refuse before any change what the REST API would refuse less clearly."""

    def hint(self) -> str:
        if self.kind != "nfs":
            return ""
        return f" (the export {self.data.get('export')} must be mounted at {self._mount_point(self.data['export'])})"

    def _mount_point(self, export: str) -> str:
        return os.path.join(self.conf.powervm.nfs_mount_point_base, nova_utils.get_hash_str(export))

    # -- shared --------------------------------------------------------------------------------
    def _failed(self, reason: str) -> nova_exc.VolumeAttachFailed:
        return nova_exc.VolumeAttachFailed(volume_id=self.volume_id, reason=reason)

    def novalink(self) -> Any:
        """The NovaLink partition as the VIOS that serves the volume.

        :raises nova.exception.VolumeAttachFailed: NovaLink is not an I/O server here.
        """
        mgmt = pvm_par.get_mgmt_partition(self.adapter)
        if not isinstance(mgmt, pvm_vios.VIOS):
            raise self._failed(f"{self.kind} volumes are served by the NovaLink partition, and {mgmt.name} is not an "
                               "I/O server on this host (a VirtualIOServer with IsManagementPartition); use "
                               "fibre_channel or iscsi volumes")  # fmt: skip
        return mgmt

    def _task(self, what: str, novalink: Any) -> pvm_tx.WrapperTask:
        getter = pvm_vios.VIOS.getter(self.adapter, entry_uuid=novalink.uuid, xag=SMAP)
        return pvm_tx.WrapperTask(f"{what}-{self.volume_id}-{novalink.uuid}", getter)

    def attach(self) -> None:
        novalink = self.novalink()
        name = self.name()
        self.check(novalink)
        task = self._task("map", novalink)
        task.add_functor_subtask(lambda vios_w: pvm_smap.add_map(vios_w, pvm_smap.build_vscsi_mapping(
            None, vios_w, self.lpar_uuid, self.storage())) is not None)  # fmt: skip
        try:
            task.execute()
        except pvm_exc.Error as err:
            raise self._failed(f"mapping {name} on {novalink.name} failed: {err}{self.hint()}") from err
        LOG.info("Attached %s volume %s (%s) to partition %s through NovaLink partition %s", self.kind,
                 self.volume_id, name, self.lpar_uuid, novalink.name)  # fmt: skip

    def detach(self) -> None:
        mgmt = pvm_par.get_mgmt_partition(self.adapter)
        if not isinstance(mgmt, pvm_vios.VIOS):
            LOG.warning(
                "Volume %s: NovaLink partition %s is no I/O server; nothing to unmap", self.volume_id, mgmt.name
            )
            return
        name, removed = self.name(), []
        task = self._task("unmap", mgmt)

        def _remove(vios_w: Any) -> bool:
            match = pvm_smap.gen_match_func(pvm_stor.VDisk, names=[name])
            removed.append(len(pvm_smap.remove_maps(vios_w, self.lpar_uuid, match_func=match)))
            return bool(removed[-1])

        task.add_functor_subtask(_remove)
        task.execute()
        LOG.info("Detached %s volume %s (%s) from partition %s: %d mapping(s) removed", self.kind, self.volume_id,
                 name, self.lpar_uuid, removed[-1] if removed else 0)  # fmt: skip

    def extend(self) -> None:
        LOG.info("Volume %s (%s): no host-side change for an extend of a %s volume", self.volume_id, self.name(),
                 self.kind)  # fmt: skip


class RbdVolume(NovaLinkVolume):
    kind = "rbd"

    def name(self) -> str:
        name = self.data.get("name")
        if not name or "/" not in name:
            raise self._failed(f"rbd connection data needs name as pool/image; got {name!r}")
        return name

    def storage(self) -> Any:
        return pvm_stor.RBD.bld_ref(self.adapter, self.name(), tag=self.volume_id,
                                    user=self.conf.powervm.rbd_user or None)  # fmt: skip

    def check(self, novalink: Any) -> None:
        if not pvm_hdisk.rbd_exists(self.adapter, novalink.uuid, self.name()):
            raise self._failed(f"RBD image {self.name()} does not exist (RBDExists on NovaLink partition "
                               f"{novalink.name})")  # fmt: skip
