"""Grow an instance's boot disk to a larger flavor's root disk (resize); disks never shrink.

localdisk: the logical volume's ``DiskCapacity`` in its volume group document is raised (the VIOS
extends the LV). ssp: the logical unit's ``UnitCapacity`` is raised (thin LUs grow in place). Both
refuse a smaller size, as the VIOS does; the guest sees the new size at its next boot or rescan.
"""

from __future__ import annotations

import logging
from typing import Any

from pypowervm.wrappers import storage as pvm_stor

from powervm_openstack.compute import exception as exc

LOG = logging.getLogger(__name__)


def grow_boot_disk(disk_driver: Any, instance: Any, size_gb: int) -> bool:
    """Grow the instance's boot disk to ``size_gb``; False when it is already that large or larger.

    :raises DiskNotFound: the instance has no boot disk on this host's storage.
    """
    disk = disk_driver.find_boot_disk(instance)
    if disk is None:
        raise exc.DiskNotFound(name="boot disk", instance=instance.uuid, where="this host's storage")
    if size_gb <= disk.size_gb:
        return False
    if disk_driver.shared_storage:
        lu = next(lu for lu in pvm_stor.LUEnt.get(disk_driver.adapter, parent=disk_driver.tier) if lu.name == disk.name)
        lu._capacity(float(size_gb))
        lu.update()
    else:
        vg = disk_driver._vg()
        vdisk = next(d for d in vg.virtual_disks if d.name == disk.name)
        vdisk.capacity = float(size_gb)
        vg.update()
    LOG.info("Grew boot disk %s of instance %s from %g to %d GB", disk.name, instance.uuid, disk.size_gb, size_gb)
    return True
