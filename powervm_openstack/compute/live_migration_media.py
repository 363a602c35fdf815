"""The config drive across a live migration: virtual optical media is not shared storage.

PowerVM moves a partition's virtual disks only when they are shared (SSP logical units, SAN LUNs);
a loaded virtual optical device makes the migration fail validation. As nova-powervm did, the media
is taken off the partition on the source before the platform validates the move and built again on
the destination afterwards:

- ``unload`` (source): the config drive's vSCSI mapping is removed, the media stays in the source's
  repository; for the platform's validation in ``check_can_live_migrate_source``, and again in
  ``live_migration`` just before the ``Migrate`` job;
- ``reload`` (source): maps it again, right after that validation whatever its answer (nova tells the
  source nothing when the scheduler or the destination's ``pre_live_migration`` fails later), and when
  the move fails or is aborted (``rollback_live_migration_at_source``);
- ``rebuild`` (destination, ``post_live_migration_at_destination``): a fresh config drive from the
  instance's metadata and network info, mapped to the arrived partition. Injected files and the
  admin password are not in it: nova hands them to spawn only;
- ``drop`` (source, nova's ``cleanup`` after the move): deletes the source's copy.
"""

from __future__ import annotations

import logging
from typing import Any

from nova.virt import configdrive
from pypowervm.wrappers import storage as pvm_stor

from powervm_openstack.compute import media as media_mod
from powervm_openstack.compute import vm
from powervm_openstack.compute.disk import mapping

LOG = logging.getLogger(__name__)


def unload(driver: Any, instance: Any) -> bool:
    """Unmap the instance's config drive on this host; True when it had one mapped."""
    if not configdrive.required_by(instance):
        return False
    repo = driver.media._existing_repository()
    name = media_mod.media_name(instance)
    if repo is None or not mapping.remove(driver.adapter, [repo[0]], mapping.named(name), f"config drive {name}"):
        return False
    LOG.info("Instance %s: config drive %s unmapped for the live migration (optical media cannot move)",
             instance.uuid, name)  # fmt: skip
    return True


def reload(driver: Any, instance: Any) -> None:
    """Map the instance's config drive media here again (after a refused or rolled-back migration)."""
    if not configdrive.required_by(instance):
        return
    repo = driver.media._existing_repository()
    if repo is None:
        return
    name = media_mod.media_name(instance)
    vg = pvm_stor.VG.get(driver.adapter, uuid=repo[1], parent_type="VirtualIOServer", parent_uuid=repo[0])
    found = [m for r in vg.vmedia_repos for m in r.optical_media if m.name == name]
    if not found:
        LOG.warning("Instance %s: config drive %s is gone from this host; not mapped again", instance.uuid, name)
        return
    mapping.add(driver.adapter, repo[0], vm.get(driver.adapter, instance).uuid, found[:1])
    LOG.info("Instance %s: config drive %s mapped again on %s", instance.uuid, name, driver.host_name)


def rebuild(driver: Any, context: Any, instance: Any, network_info: Any) -> None:
    """Build the instance's config drive on this (destination) host and map it to its partition."""
    if not configdrive.required_by(instance):
        return
    lpar = vm.get(driver.adapter, instance)
    vios_uuid, ref = driver.media.create(context, instance, None, network_info, None)
    mapping.add(driver.adapter, vios_uuid, lpar.uuid, [ref])
    LOG.info("Instance %s: config drive rebuilt and mapped on %s after the live migration", instance.uuid,
             driver.host_name)  # fmt: skip


def drop(driver: Any, instance: Any) -> None:
    """Delete this (source) host's copy of the config drive after the partition left."""
    if configdrive.required_by(instance) and driver.media.delete(instance):
        LOG.info("Instance %s: source copy of the config drive deleted on %s", instance.uuid, driver.host_name)
