"""Boot disks as logical volumes in one VIOS volume group (``[powervm] volume_group_name``).

Each image is uploaded once into an image-cache volume ``i_<image id>`` (the first 13 hex digits);
a boot disk ``b_<instance uuid>`` (13 hex digits) is a server-side copy of it, grown to the flavor's
root disk (a rescue disk ``r_<instance uuid>`` likewise, from the rescue image).
``manage_image_cache`` removes cached images no instance on this host has used for nova's
``[image_cache]`` minimum age (and none when ``remove_unused_base_images`` is false). Names
respect the VIOS's 15-character limit for logical volumes.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from oslo_concurrency import lockutils
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import storage as pvm_stg
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import images
from powervm_openstack.compute.conf import PowerVMConfigError
from powervm_openstack.compute.disk.base import BootDisk, DiskAdapter

LOG = logging.getLogger(__name__)
GB = 1024**3


def boot_disk_name(instance: Any) -> str:
    return "b_" + instance.uuid.replace("-", "")[:13]


def rescue_disk_name(instance: Any) -> str:
    return "r_" + instance.uuid.replace("-", "")[:13]


def snapshot_disk_name(instance: Any) -> str:
    return "s_" + instance.uuid.replace("-", "")[:13]


def image_disk_name(image_id: str) -> str:
    return "i_" + str(image_id).replace("-", "")[:13]


class LocalDisk(DiskAdapter):
    has_imagecache = True
    shared_storage = False

    def __init__(self, adapter: Any, host_uuid: str, conf: Any) -> None:
        super().__init__(adapter, host_uuid, conf)
        self.vg_name = conf.powervm.volume_group_name
        self.vios_uuid = ""
        self.vg_uuid = ""
        self._unused_since: dict[str, float] = {}  # cached image disk -> when a pass first found it unused
        self._clock = time.monotonic

    def check(self) -> None:
        try:
            vios_w, vg_w = pvm_stg.find_vg(self.adapter, self.vg_name)
        except pvm_exc.VGNotFound:
            raise PowerVMConfigError(
                f"[powervm] volume_group_name = {self.vg_name!r}: no VIOS of this host has that volume group."
            ) from None
        self.vios_uuid, self.vg_uuid = vios_w.uuid, vg_w.uuid
        LOG.info("Boot disks: volume group %s (%s) on VIOS %s", self.vg_name, vg_w.uuid, vios_w.name)

    def _vg(self) -> pvm_stor.VG:
        return pvm_stor.VG.get(self.adapter, uuid=self.vg_uuid, parent_type=pvm_vios.VIOS, parent_uuid=self.vios_uuid)

    def capacity_gb(self) -> tuple[float, float]:
        vg = self._vg()
        return vg.capacity, vg.capacity - vg.available_size

    def _disk(self, vg: pvm_stor.VG, name: str) -> pvm_stor.VDisk | None:
        return next((d for d in vg.virtual_disks if d.name == name), None)

    def _cached_image(self, context: Any, image_id: str) -> tuple[pvm_stor.VDisk, int]:
        name = image_disk_name(image_id)
        with lockutils.lock(f"powervm-image-{image_id}"):
            cached = self._disk(self._vg(), name)
            if cached is not None:
                LOG.info("Image %s is cached as %s in %s", image_id, name, self.vg_name)
                return cached, int(cached.capacity * GB)
            with images.downloaded(context, image_id, self.conf.instances_path) as (path, size):
                with open(path, "rb") as data:
                    disk, _ = pvm_stg.upload_new_vdisk(self.adapter, self.vios_uuid, self.vg_uuid, data, name, size,
                                                       d_size=max(size, GB))  # fmt: skip
            LOG.info("Cached image %s as %s (%s) in %s", image_id, name, disk.udid, self.vg_name)
            return disk, size

    def create_boot_disk(self, context: Any, instance: Any, image_meta: Any, size_gb: int) -> BootDisk:
        return self._copy(context, instance, image_meta, size_gb, boot_disk_name(instance))

    def create_rescue_disk(self, context: Any, instance: Any, image_meta: Any, size_gb: int) -> BootDisk:
        return self._copy(context, instance, image_meta, size_gb, rescue_disk_name(instance))

    def _copy(self, context: Any, instance: Any, image_meta: Any, size_gb: int, name: str) -> BootDisk:
        image, size = self._cached_image(context, image_meta.id)
        wanted = max(int(size_gb), math.ceil(image.capacity), 1)
        disk = pvm_stg.crt_copy_vdisk(self.adapter, self.vios_uuid, self.vg_uuid, image.udid, max(size, 1), name,
                                      d_size=wanted * GB)  # fmt: skip
        LOG.info("Created disk %s (%s, %d GB) for instance %s from image %s", name, disk.udid, wanted,
                 instance.uuid, image_meta.id)  # fmt: skip
        return self._boot(disk)

    def _boot(self, disk: pvm_stor.VDisk) -> BootDisk:
        ref = pvm_stor.VDisk.bld_ref(self.adapter, disk.name)
        return BootDisk(disk.name, disk.udid, (self.vios_uuid,), ref, disk.capacity)

    def find_boot_disk(self, instance: Any) -> BootDisk | None:
        disk = self._disk(self._vg(), boot_disk_name(instance))
        return self._boot(disk) if disk is not None else None

    def find_rescue_disk(self, instance: Any) -> BootDisk | None:
        disk = self._disk(self._vg(), rescue_disk_name(instance))
        return self._boot(disk) if disk is not None else None

    def delete_boot_disk(self, instance: Any) -> bool:
        return self._delete(instance, boot_disk_name(instance))

    def delete_rescue_disk(self, instance: Any) -> bool:
        return self._delete(instance, rescue_disk_name(instance))

    def _delete(self, instance: Any, name: str) -> bool:
        vg = self._vg()
        disk = self._disk(vg, name)
        if disk is None:
            return False
        pvm_stg.rm_vg_storage(vg, vdisks=[disk])
        LOG.info("Deleted disk %s of instance %s from %s", name, instance.uuid, self.vg_name)
        return True

    def snapshot_source(self, instance: Any) -> tuple[BootDisk, Any]:
        """A server-side copy of the boot disk: a logical volume can be mapped to one partition only."""
        boot = self.find_boot_disk(instance)
        if boot is None:
            raise LookupError(f"instance {instance.uuid} has no boot disk")
        name = snapshot_disk_name(instance)
        stale = self._disk(self._vg(), name)
        if stale is not None:
            pvm_stg.rm_vg_storage(self._vg(), vdisks=[stale])
        copy = pvm_stg.crt_copy_vdisk(self.adapter, self.vios_uuid, self.vg_uuid, boot.udid, int(boot.size_gb * GB),
                                      name)  # fmt: skip
        LOG.info("Copied boot disk %s of instance %s to %s for a snapshot", boot.name, instance.uuid, name)

        def remove() -> None:
            vg = self._vg()
            pvm_stg.rm_vg_storage(vg, vdisks=[d for d in vg.virtual_disks if d.name == name])

        return self._boot(copy), remove

    def manage_image_cache(self, context: Any, all_instances: list[Any]) -> None:
        """Remove cached images unused for ``[image_cache] remove_unused_original_minimum_age_seconds``.

        Nothing is removed when ``[image_cache] remove_unused_base_images`` is false. A VIOS disk has
        no last-use time, so the age counts from the first pass that found the image unused; after
        a restart of nova-compute it starts again (an image is kept longer, never removed sooner).
        """
        cache_conf = self.conf.image_cache
        if not cache_conf.remove_unused_base_images:
            LOG.debug("Image cache: [image_cache] remove_unused_base_images is false; nothing removed")
            return
        used = {image_disk_name(i.image_ref) for i in all_instances if getattr(i, "image_ref", None)}
        vg = self._vg()
        unused = [d for d in vg.virtual_disks if d.name.startswith("i_") and d.name not in used]
        now = self._clock()
        self._unused_since = {d.name: self._unused_since.get(d.name, now) for d in unused}
        min_age = cache_conf.remove_unused_original_minimum_age_seconds
        due = [d for d in unused if now - self._unused_since[d.name] >= min_age]
        if due:
            pvm_stg.rm_vg_storage(vg, vdisks=due)
            for disk in due:
                self._unused_since.pop(disk.name, None)
            LOG.info("Image cache: removed %s (unused by this host's instances for at least %ss)",
                     ", ".join(d.name for d in due), min_age)  # fmt: skip
