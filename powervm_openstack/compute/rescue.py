"""Rescue and unrescue: boot a partition from a disk made of the rescue image, with its own disk still mapped.

``rescue`` (nova has already stopped the instance) creates the rescue disk from the rescue image
through the boot-disk driver (``rescue_<uuid>`` in an SSP, ``r_<uuid>`` in a volume group), maps it
beside the boot disk, and starts the partition in SMS boot mode. PowerVM keeps an AIX/Linux
partition's boot list in its NVRAM, which the REST API cannot set: SMS (the firmware's menus, on
the console) is where the rescue disk is chosen, as with the retired nova-powervm driver; the
original disk stays mapped so the rescue system can repair it. ``unrescue`` stops the partition,
removes the rescue disk's mappings and the disk, and starts it normally (its NVRAM boot list is
unchanged, so it boots its own disk again). A failure during ``rescue`` removes what it added and
leaves the partition stopped. Boot-from-volume instances are not rescued (the capability
``supports_bfv_rescue`` stays False, so nova's API refuses them first).
"""

from __future__ import annotations

import logging
from typing import Any

from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import power_opts as pvm_popts

from powervm_openstack.compute import exception as exc
from powervm_openstack.compute import vm
from powervm_openstack.compute.disk import mapping

LOG = logging.getLogger(__name__)


def rescue(driver: Any, context: Any, instance: Any, image_meta: Any) -> None:
    """Boot the instance's partition (SMS) with a new disk from ``image_meta`` mapped.

    :raises PowerVMOperationFailed: PowerVM refused a step; what was added is removed again.
    """
    lpar = vm.get(driver.adapter, instance)
    vm.power_off(driver.adapter, instance, timeout=0)
    _remove_disk(driver, instance, "a previous rescue's disk")
    try:  # as large as the rescue image needs (size 0), not the flavor's root disk
        disk = driver.disk.create_rescue_disk(context, instance, image_meta, 0)
        for vios_uuid in disk.vioses:
            mapping.add(driver.adapter, vios_uuid, lpar.uuid, [disk.ref])
        vm.power_on(driver.adapter, instance, bootmode=pvm_popts.BootMode.SMS)
    except pvm_exc.Error as err:
        LOG.exception("Rescue of instance %s failed; removing its rescue disk", instance.uuid)
        vm.power_off(driver.adapter, instance, timeout=0)
        _remove_disk(driver, instance, "a failed rescue")
        raise exc.PowerVMOperationFailed(action="rescue", instance=instance.uuid, reason=str(err)) from err
    LOG.info("Rescued instance %s: partition %s started in SMS mode with rescue disk %s from image %s",
             instance.uuid, lpar.uuid, disk.name, image_meta.id)  # fmt: skip


def unrescue(driver: Any, instance: Any) -> None:
    """Stop the partition, remove its rescue disk, start it from its own disk."""
    vm.power_off(driver.adapter, instance, timeout=0)
    if not _remove_disk(driver, instance, "unrescue"):
        LOG.warning("Unrescue of instance %s: it had no rescue disk", instance.uuid)
    vm.power_on(driver.adapter, instance)
    LOG.info("Unrescued instance %s: started from its own disk", instance.uuid)


def _remove_disk(driver: Any, instance: Any, why: str) -> bool:
    """Unmap and delete the instance's rescue disk; False when it has none."""
    disk = driver.disk.find_rescue_disk(instance)
    if disk is None:
        return False
    mapping.remove(driver.adapter, driver.vios_uuids(), mapping.named(disk.name), f"rescue disk {disk.name} ({why})")
    driver.disk.delete_rescue_disk(instance)
    return True


def cleanup(driver: Any, instance: Any) -> None:
    """At destroy: the rescue disk of an instance deleted while rescued (its mappings are already gone)."""
    if _remove_disk(driver, instance, "destroy"):
        LOG.info("Destroy of instance %s: removed its rescue disk", instance.uuid)
