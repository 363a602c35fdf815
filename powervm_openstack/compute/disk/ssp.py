"""Boot disks as linked clones in a Shared Storage Pool (``[powervm] disk_driver = ssp``).

Each image is uploaded once per pool into an image logical unit ``image_<image id>``; pypowervm's
marker-LU protocol makes concurrent uploads of the same image (from this host or others sharing
the pool) wait for one upload. A boot disk ``boot_<instance uuid>`` is a thin linked clone of it
(a rescue disk ``rescue_<instance uuid>`` likewise, of the rescue image), mapped through every VIOS
of the cluster on this host. Deleting the last clone also deletes the
image LU, so the pool keeps no unused images.
"""

from __future__ import annotations

import logging
from typing import Any

from pypowervm.tasks import cluster_ssp as pvm_cssp
from pypowervm.tasks import storage as pvm_stg
from pypowervm.wrappers import cluster as pvm_clust
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import images
from powervm_openstack.compute.conf import PowerVMConfigError
from powervm_openstack.compute.disk.base import BootDisk, DiskAdapter

LOG = logging.getLogger(__name__)


def boot_disk_name(instance: Any) -> str:
    return "boot_" + instance.uuid.replace("-", "")


def rescue_disk_name(instance: Any) -> str:
    return "rescue_" + instance.uuid.replace("-", "")


def image_lu_name(image_id: str) -> str:
    return "image_" + str(image_id).replace("-", "")


class SharedStoragePoolDisk(DiskAdapter):
    has_imagecache = False
    shared_storage = True

    def __init__(self, adapter: Any, host_uuid: str, conf: Any) -> None:
        super().__init__(adapter, host_uuid, conf)
        self.cluster_name = conf.powervm.cluster_name
        self.ssp_uuid = ""
        self.tier: pvm_stor.Tier | None = None
        self.vioses: tuple[str, ...] = ()

    def check(self) -> None:
        clusters = pvm_clust.Cluster.get(self.adapter)
        if self.cluster_name:
            clusters = [c for c in clusters if c.name == self.cluster_name]
        if len(clusters) != 1:
            found = ", ".join(c.name for c in pvm_clust.Cluster.get(self.adapter)) or "none"
            wanted = f"cluster_name = {self.cluster_name!r}" if self.cluster_name else "an empty cluster_name"
            raise PowerVMConfigError(f"[powervm] {wanted} must name exactly one cluster; this host sees: {found}.")
        cluster = clusters[0]
        ssp = pvm_stor.SSP.get(self.adapter, uuid=cluster.ssp_uuid)
        self.ssp_uuid, self.tier = ssp.uuid, pvm_stg.default_tier_for_ssp(ssp)
        here = {v.uuid.upper() for v in pvm_vios.VIOS.get(self.adapter)}
        self.vioses = tuple(n.vios_uuid for n in cluster.nodes if n.vios_uuid and n.vios_uuid.upper() in here)
        if not self.vioses:
            raise PowerVMConfigError(f"[powervm] cluster {cluster.name}: none of its VIOS nodes is on this host.")
        LOG.info("Boot disks: pool %s of cluster %s through VIOS(es) %s", ssp.name, cluster.name,
                 ", ".join(self.vioses))  # fmt: skip

    def capacity_gb(self) -> tuple[float, float]:
        ssp = pvm_stor.SSP.get(self.adapter, uuid=self.ssp_uuid)
        return ssp.capacity, ssp.capacity - ssp.free_space

    def _lus(self) -> list[pvm_stor.LUEnt]:
        return pvm_stor.LUEnt.get(self.adapter, parent=self.tier)

    def _image_lu(self, context: Any, image_id: str) -> pvm_stor.LUEnt:
        name = image_lu_name(image_id)
        existing = [lu for lu in self._lus() if lu.name == name and lu.lu_type == pvm_stor.LUType.IMAGE]
        if existing:
            LOG.info("Image %s is already in the pool as %s", image_id, name)
            return existing[0]
        with images.downloaded(context, image_id, self.conf.instances_path) as (path, size):
            lu = pvm_cssp.get_or_upload_image_lu(self.tier, name, self.vioses[0], lambda: open(path, "rb"), size)
        LOG.info("Image %s is in the pool as %s (%s)", image_id, lu.name, lu.udid)
        return lu

    def create_boot_disk(self, context: Any, instance: Any, image_meta: Any, size_gb: int) -> BootDisk:
        return self._clone(context, instance, image_meta, size_gb, boot_disk_name(instance))

    def create_rescue_disk(self, context: Any, instance: Any, image_meta: Any, size_gb: int) -> BootDisk:
        return self._clone(context, instance, image_meta, size_gb, rescue_disk_name(instance))

    def _clone(self, context: Any, instance: Any, image_meta: Any, size_gb: int, name: str) -> BootDisk:
        image = self._image_lu(context, image_meta.id)
        _, lu = pvm_stg.crt_lu(self.tier, name, max(int(size_gb), 1), thin=True, typ=pvm_stor.LUType.DISK,
                               clone=image)  # fmt: skip
        LOG.info("Created disk %s (%s, linked clone of %s) for instance %s", name, lu.udid, image.name,
                 instance.uuid)  # fmt: skip
        return self._boot(lu)

    def _boot(self, lu: Any) -> BootDisk:
        ref = pvm_stor.LU.bld_ref(self.adapter, lu.name, lu.udid)
        return BootDisk(lu.name, lu.udid, self.vioses, ref, lu.capacity)

    def find_boot_disk(self, instance: Any) -> BootDisk | None:
        return self._find(boot_disk_name(instance))

    def find_rescue_disk(self, instance: Any) -> BootDisk | None:
        return self._find(rescue_disk_name(instance))

    def _find(self, name: str) -> BootDisk | None:
        lu = next((lu for lu in self._lus() if lu.name == name), None)
        return self._boot(lu) if lu is not None else None

    def delete_boot_disk(self, instance: Any) -> bool:
        return self._delete(instance, boot_disk_name(instance))

    def delete_rescue_disk(self, instance: Any) -> bool:
        return self._delete(instance, rescue_disk_name(instance))

    def _delete(self, instance: Any, name: str) -> bool:
        lus = self._lus()
        doomed = [lu for lu in lus if lu.name == name]
        if not doomed:
            return False
        pvm_stg.rm_tier_storage(doomed, lufeed=lus)
        LOG.info("Deleted disk %s of instance %s (and its image LU if no clone uses it)", name, instance.uuid)
        return True
