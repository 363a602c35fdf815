"""Boot disks: one small interface (``base.DiskAdapter``), two drivers (``localdisk``, ``ssp``)."""

from __future__ import annotations

from typing import Any

from powervm_openstack.compute.disk.base import DiskAdapter


def load(name: str, adapter: Any, host_uuid: str, conf: Any) -> DiskAdapter:
    """The disk driver named by ``[powervm] disk_driver``.

    :raises PowerVMConfigError: the name is unknown (conf validation normally catches it first).
    """
    from powervm_openstack.compute.conf import PowerVMConfigError

    if name.lower() == "localdisk":
        from powervm_openstack.compute.disk.localdisk import LocalDisk

        return LocalDisk(adapter, host_uuid, conf)
    if name.lower() == "ssp":
        from powervm_openstack.compute.disk.ssp import SharedStoragePoolDisk

        return SharedStoragePoolDisk(adapter, host_uuid, conf)
    raise PowerVMConfigError(f"[powervm] disk_driver = {name!r} is not known; allowed: localdisk, ssp.")
