"""Live partition mobility (LPM) for nova: the checks on both hosts, the move, abort and rollback.

The destination describes itself in ``PowerVMLiveMigrateData`` (its managed system's name and the
address of its NovaLink REST endpoint, ``[powervm_rest] host:port`` as the driver connected); the source refuses, with the
reason, what PowerVM cannot move: a boot disk in a local volume group (``disk_driver = localdisk``:
only SSP disks are shared), an instance with Cinder volumes (moving their hdisks and virtual FC
mappings is not done yet), block migration, a partition that is not running or
whose RMC connection is not active, then anything the platform's ``MigrateValidate`` job refuses
(capacity, switches, VLANs, processor compatibility mode). ``pre_live_migration`` puts the SEA VLANs
of the instance's ``pvm_sea`` ports on the destination's network bridge, because the adapters arrive
with the partition and no plug event makes the SEA agent do it there; it records the VLANs it added
(``dest_vlans``), and ``rollback_live_migration_at_destination`` removes those again unless a client
adapter on the destination uses them by then.

``live_migration`` runs the ``Migrate`` job with nova's ``[libvirt] live_migration_completion_timeout``
(seconds per GiB of the partition's memory, at least 2 GiB, as nova counts it; the disks are shared
and do not move; 0: no limit but pypowervm's job timeout). When it expires and
``live_migration_timeout_action`` is ``abort`` the job is aborted (``MigrateAbort``): the partition
stays on the source. PowerVM has neither post-copy nor a pause of the partition, so
``force_complete`` cannot shorten the move: the driver logs that and lets the job run to its end, and
``live_migration_force_complete`` is not implemented (nova gets ``NotImplementedError``). Failure or
abort calls nova's recover method (the partition is still on the source), success the post method.
Nothing is destroyed on rollback: the disks are shared. nova cleans up no disks for this migrate
data type.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from nova.objects import base as obj_base
from nova.objects import fields as obj_fields
from nova.objects import migrate_data
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import migration as pvm_mig
from pypowervm.tasks import network_bridger
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute import live_migration_media as lpm_media
from powervm_openstack.compute import vm
from powervm_openstack.compute.vif import sea
from powervm_openstack.network import constants

LOG = logging.getLogger(__name__)


class PowerVMLiveMigrateData(migrate_data.HyperVLiveMigrateData):
    """What the destination tells the source: where to move the partition.

    nova calls ``rollback_live_migration_at_destination`` (and ``cleanup`` on the source after a
    move) only for libvirt's and Hyper-V's migrate data (``ComputeManager._live_migration_cleanup_flags``);
    this class extends the Hyper-V one so the destination is called back to undo its VLANs, with
    ``is_shared_instance_path`` true: the disks are shared, nova asks nobody to destroy them.
    """

    # 1.0: the destination's system, REST endpoint and VLANs; 1.1: a Hyper-V migrate data (cleanup calls)
    VERSION = "1.1"
    fields = {
        "dest_sys_name": obj_fields.StringField(),
        "dest_rest": obj_fields.StringField(),
        "dest_vlans": obj_fields.ListOfIntegersField(default=[]),
    }


def register_objects() -> None:
    """Register ``PowerVMLiveMigrateData`` with nova's object registry (idempotent).

    Called by every driver start rather than at import: nova's test base restores the registry it
    saved before this module was imported, between tests.
    """
    classes = obj_base.NovaObjectRegistry.obj_classes().get(PowerVMLiveMigrateData.obj_name(), [])
    if PowerVMLiveMigrateData not in classes:
        obj_base.NovaObjectRegistry.register(PowerVMLiveMigrateData)


def destination_data(driver: Any, conf: Any, block_migration: bool) -> PowerVMLiveMigrateData:
    """The destination's check: refuse block migration, local disks here, then describe this host."""
    if block_migration:
        raise nova_exc.MigrationPreCheckError(
            reason="PowerVM live migration moves partitions on shared storage; block migration is not supported."
        )
    if conf.powervm.disk_driver.lower() == "localdisk":
        raise nova_exc.MigrationPreCheckError(
            reason=f"The destination {driver.host_name} keeps boot disks in a local volume group (disk_driver localdisk); "
            "PowerVM live migration needs SSP disks or boot from volume."
        )
    data = PowerVMLiveMigrateData()
    data.dest_sys_name = driver.host_wrapper().system_name
    data.dest_rest = driver.rest_endpoint
    data.is_shared_instance_path = True
    return data


def check_source(driver: Any, conf: Any, instance: Any, data: Any, block_device_info: Any) -> Any:
    """The source's check: shared storage, no Cinder volume, a running partition with RMC, then the platform's.

    :raises MigrationPreCheckError: with the reason; nothing is changed then.
    """
    volumes = [b.get("mount_device") or "?" for b in (block_device_info or {}).get("block_device_mapping") or []]
    if volumes:
        raise nova_exc.MigrationPreCheckError(
            reason=f"Instance {instance.uuid} has Cinder volumes ({', '.join(volumes)}); this driver does not "
            "live-migrate volumes yet (the destination's hdisks or virtual FC mappings would not be prepared); "
            "detach data volumes first, a boot-from-volume instance cannot live-migrate."
        )
    if conf.powervm.disk_driver.lower() == "localdisk":
        raise nova_exc.MigrationPreCheckError(
            reason=f"Instance {instance.uuid} boots from a disk in a local volume group on {driver.host_name}, "
            "which is not shared storage; PowerVM live migration needs an SSP disk."
        )
    if not isinstance(data, PowerVMLiveMigrateData):
        raise nova_exc.MigrationPreCheckError(reason="The destination is not a PowerVM host.")
    lpar = vm.get(driver.adapter, instance)
    if lpar.state != "running":
        raise nova_exc.MigrationPreCheckError(
            reason=f"Partition of instance {instance.uuid} is {lpar.state}; live migration needs it running."
        )
    if lpar.env != "OS400" and not vm.is_rmc_active(lpar):  # IBM i: restricted I/O instead, checked by PowerVM
        raise nova_exc.MigrationPreCheckError(
            reason=f"Partition of instance {instance.uuid} has RMC {lpar.rmc_state}; "
            "live migration needs an active RMC connection (the partition's management VIF)."
        )
    unloaded = lpm_media.unload(driver, instance)  # loaded optical media cannot move
    try:
        pvm_mig.migrate_lpar(lpar, data.dest_sys_name, validate_only=True, tgt_mgmt_svr=data.dest_rest,
                             vlan_check_override=True)  # fmt: skip
    except pvm_exc.Error as err:
        if unloaded:
            lpm_media.reload(driver, instance)
        raise nova_exc.MigrationPreCheckError(reason=f"PowerVM refused the migration: {err}") from err
    data.is_volume_backed = False
    return data


def prepare_destination(driver: Any, conf: Any, network_info: Any, data: Any) -> Any:
    """Put the instance's SEA VLANs on the destination's bridge (network_bridger, as the SEA agent does).

    ``data.dest_vlans``: the VLANs this call added (those already bridged are not listed).
    """
    vlans = sorted({sea.vlan_of(v) for v in network_info or [] if v.get("type") == constants.VIF_TYPE_SEA})
    added = []
    if vlans:
        bridge = _bridge(driver)
        present = set(bridge.list_vlans())
        for vlan in vlans:
            network_bridger.ensure_vlan_on_nb(driver.adapter, driver.host_uuid, bridge.uuid, vlan)
            if vlan not in present:
                added.append(vlan)
    data.dest_vlans = added
    LOG.info("Destination %s ready for the partition: VLANs %s bridged (added %s)", driver.host_name,
             vlans or "none", added or "none")  # fmt: skip
    return data


def rollback_destination(driver: Any, instance: Any, data: Any) -> None:
    """Remove from the destination's bridge the VLANs ``prepare_destination`` added, unless now in use here."""
    added = list(data.dest_vlans) if data is not None and data.obj_attr_is_set("dest_vlans") else []
    if not added:
        return
    used = {int(c.pvid) for p in pvm_lpar.LPAR.get(driver.adapter) for c in pvm_net.CNA.get(driver.adapter, parent=p)}
    bridge = _bridge(driver)
    for vlan in added:
        if vlan in used:
            LOG.info("Instance %s rollback: VLAN %s stays on %s, a client adapter there uses it", instance.uuid,
                     vlan, driver.host_name)  # fmt: skip
            continue
        network_bridger.remove_vlan_from_nb(driver.adapter, driver.host_uuid, bridge.uuid, vlan)
        LOG.info("Instance %s rollback: VLAN %s removed from %s's bridge %s", instance.uuid, vlan, driver.host_name,
                 bridge.uuid)  # fmt: skip


def rollback_source(driver: Any, instance: Any) -> None:
    """The move did not happen: map the config drive again (``live_migration_media``)."""
    try:
        lpm_media.reload(driver, instance)
    except nova_exc.InstanceNotFound:
        LOG.warning("Instance %s: no partition on %s to map the config drive to", instance.uuid, driver.host_name)


def finish_destination(driver: Any, context: Any, instance: Any, network_info: Any) -> None:
    """The partition arrived: adopt it and build its config drive here."""
    driver.known_instance(instance)
    lpm_media.rebuild(driver, context, instance, network_info)


def cleanup_source(driver: Any, instance: Any) -> None:
    """The partition left with its adapters; the disks are shared: only the config drive's copy goes."""
    lpm_media.drop(driver, instance)


def _bridge(driver: Any) -> pvm_net.NetBridge:
    return pvm_net.NetBridge.get(driver.adapter, parent_type="ManagedSystem", parent_uuid=driver.host_uuid)[0]


def completion_timeout(conf: Any, instance: Any) -> int | None:
    """Seconds the Migrate job may take before nova's timeout action, or None for no limit of nova's."""
    per_gib = int(conf.libvirt.live_migration_completion_timeout or 0)
    if per_gib <= 0 or conf.libvirt.live_migration_timeout_action != "abort":
        return None
    return per_gib * max(2, -(-int(instance.flavor.memory_mb) // 1024))


def migrate(driver: Any, conf: Any, context: Any, instance: Any, dest: str, post: Any, recover: Any,
            data: Any) -> None:  # fmt: skip
    """Run the Migrate job; nova's post method on success, its recover method on failure or timeout (aborted)."""
    lpar = vm.get(driver.adapter, instance)
    limit = completion_timeout(conf, instance)
    if limit is None and int(conf.libvirt.live_migration_completion_timeout or 0) > 0:
        LOG.info("Instance %s: live_migration_timeout_action force_complete cannot apply to PowerVM (no post-copy, "
                 "no pause); the move runs to its end", instance.uuid)  # fmt: skip
    try:
        if limit is None:
            pvm_mig.migrate_lpar(lpar, data.dest_sys_name, tgt_mgmt_svr=data.dest_rest)
        else:
            pvm_mig.migrate_lpar(lpar, data.dest_sys_name, tgt_mgmt_svr=data.dest_rest, timeout=limit)
    except pvm_exc.JobRequestTimedOut:
        LOG.error("Live migration of instance %s to %s exceeded live_migration_completion_timeout (%s s): aborting",
                  instance.uuid, dest, limit)  # fmt: skip
        abort(driver, instance)
        recover(context, instance, dest, migrate_data=data)
        return
    except Exception as err:
        LOG.error("Live migration of instance %s to %s failed: %s", instance.uuid, dest, err)
        recover(context, instance, dest, migrate_data=data)
        return
    LOG.info("Instance %s: partition %s moved to %s (%s)", instance.uuid, lpar.uuid, dest, data.dest_sys_name)
    post(context, instance, dest, False, data)


def abort(driver: Any, instance: Any) -> None:
    """Abort the running Migrate job of the instance's partition; with none running there is nothing to do.

    The failed Migrate job then reaches ``migrate``, which calls nova's recover method.
    """
    try:
        pvm_mig.migrate_abort(vm.get(driver.adapter, instance))
    except pvm_exc.JobRequestFailed as err:
        LOG.warning("Instance %s: nothing to abort (%s)", instance.uuid, err)
