"""Resize and cold migration: nova's migrate_disk_and_power_off, finish, confirm and revert.

Same host (nova's ``allow_resize_to_same_host``): the partition stays; it is stopped, its volumes
are disconnected (nova re-connects them with fresh connection info), and ``finish_migration``
applies the new flavor's processors, memory and ``powervm:`` specs to the powered-off partition
(pypowervm ``LPARBuilder.rebuild``) and grows the boot disk. Revert applies the old flavor again;
the boot disk keeps its grown size (disks never shrink). Confirm has nothing left to do.

Across hosts the boot disk must be shared: an SSP logical unit (``disk_driver = ssp``, both hosts'
VIOSes in the cluster) or a Cinder boot volume. A boot disk in a local volume group is refused in
``migrate_disk_and_power_off`` before anything changes (``InstanceFaultRollback`` around
``MigrationPreCheckError``: the server stays ACTIVE on the source and the reason is in the instance
action). The source partition is only stopped (kept with its adapters, config drive and mapping for
a revert); the destination creates a partition of the new flavor with the same UUID, maps the same
logical unit, builds its own config drive (virtual optical media is per host), plugs the VIFs (the
SEA agent there bridges the VLAN on the plug event, as for any new adapter) and the RMC adapter.
Confirm destroys the source partition keeping the shared disk; revert destroys the destination's
(same rule) and starts the source partition again.

Which case applies comes from the migration record (source and destination compute), not from
``dest`` (nova passes the destination's IP, which two hosts behind one address would share).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from nova import exception as nova_exc
from nova import objects
from nova.compute import task_states
from nova.virt import configdrive
from pypowervm import exceptions as pvm_exc
from pypowervm.utils import lpar_builder as pvm_lb

from powervm_openstack.compute import exception as exc
from powervm_openstack.compute import partition_spec, vm
from powervm_openstack.compute.disk import grow, mapping
from powervm_openstack.compute.rollback import rollback_on_error
from powervm_openstack.compute.vif import mgmt as mgmt_vif
from powervm_openstack.compute.volume import flows as volume_flows

LOG = logging.getLogger(__name__)
MAX_SLOTS = 64  # as vm.create


def _migration_of(context: Any, instance: Any) -> Any:
    """The instance's migration record (nova sets the migration context before a move starts)."""
    mig_ctx = instance.migration_context
    if mig_ctx is None:
        return None
    return objects.Migration.get_by_id(context, mig_ctx.migration_id)


def _same_host(migration: Any) -> bool:
    return migration is not None and migration.source_compute == migration.dest_compute


def _volume_backed(block_device_info: Any) -> bool:
    return volume_flows.boots_from_volume(block_device_info)


# -- source: migrate_disk_and_power_off ---------------------------------------------------------
def migrate_disk_and_power_off(d: Any, context: Any, instance: Any, dest: str, flavor: Any, block_device_info: Any,
                               timeout: int) -> str:  # fmt: skip
    """Check the move, stop the partition and disconnect its volumes; the ``disk_info`` for the destination.

    :raises nova.exception.InstanceFaultRollback: a move nothing was changed for (a smaller root disk,
        or a local-volume-group boot disk leaving this host), wrapping the reason.
    """
    migration = _migration_of(context, instance)
    # without a migration record (never in nova's own flow) ``dest``, the destination's IP, decides
    same_host = _same_host(migration) if migration is not None else dest in (d.conf.my_ip, d.host_name)
    bfv = _volume_backed(block_device_info)
    if not bfv and int(flavor.root_gb or 0) < int(instance.flavor.root_gb or 0):
        raise nova_exc.InstanceFaultRollback(inner_exception=nova_exc.FlavorDiskSmallerThanCurrent(
            flavor_size=int(flavor.root_gb or 0), image_size=int(instance.flavor.root_gb or 0)))  # fmt: skip
    if not same_host and not bfv and not d.disk.shared_storage:
        dest = migration.dest_compute if migration is not None else dest
        raise nova_exc.InstanceFaultRollback(inner_exception=nova_exc.MigrationPreCheckError(
            reason=f"Instance {instance.uuid} boots from a disk in a local volume group on {d.host_name}, which is "
            f"not shared storage; it cannot move to {dest} (PowerVM cold migration needs an SSP disk or boot "
            "from volume)."))  # fmt: skip
    lpar = vm.get(d.adapter, instance)
    vm.power_off(d.adapter, instance, timeout=timeout)
    d.flows._detach_all(instance, lpar, block_device_info)
    boot = None if bfv else d.disk.find_boot_disk(instance)
    info = {"same_host": same_host, "boot_disk": boot.name if boot else None,
            "ssp_uuid": getattr(d.disk, "ssp_uuid", None)}  # fmt: skip
    LOG.info("Instance %s: partition %s stopped for a %s to %s (boot disk %s)", instance.uuid, lpar.uuid,
             "resize on this host" if same_host else "move", migration.dest_compute if migration else "?",
             info["boot_disk"] or "a volume")  # fmt: skip
    return json.dumps(info)


# -- the partition's flavor -----------------------------------------------------------------------
def apply_flavor(d: Any, instance: Any, flavor: Any) -> None:
    """Give the (powered-off) partition the processors, memory and ``powervm:`` specs of ``flavor``.

    :raises InvalidExtraSpec: the flavor asks for something invalid.
    :raises PowerVMOperationFailed: PowerVM refused the change (its message).
    """
    lpar = vm.get(d.adapter, instance)
    defaults = d.defaults()
    spec = partition_spec.Flavor(int(flavor.vcpus), int(flavor.memory_mb), dict(flavor.extra_specs or {}))
    attrs = partition_spec.build_attrs(vm.partition_name(instance), lpar.uuid, spec, defaults)
    attrs["max_io_slots"] = MAX_SLOTS
    host = d.host_wrapper()
    pool_name = attrs.pop("proc_pool_name", None)
    if pool_name:
        attrs["proc_pool"] = vm._pool_id(d.adapter, host, pool_name)
    try:
        std = pvm_lb.DefaultStandardize(host, proc_units_factor=defaults.proc_units_factor,
                                        uncapped_weight=defaults.uncapped_weight, max_slots=MAX_SLOTS)  # fmt: skip
        lpar = pvm_lb.LPARBuilder(d.adapter, attrs, std).rebuild(lpar)
        lpar.update()
    except (pvm_lb.LPARBuilderException, ValueError, pvm_exc.Error) as err:
        raise exc.PowerVMOperationFailed(action=f"apply flavor {flavor.name}", instance=instance.uuid,
                                         reason=str(err)) from err  # fmt: skip
    LOG.info("Instance %s: partition %s now has flavor %s (%s vCPU, %s MB)", instance.uuid, lpar.uuid, flavor.name,
             attrs["vcpu"], attrs["memory"])  # fmt: skip


def _reattach_and_start(d: Any, instance: Any, block_device_info: Any, power_on: bool) -> None:
    lpar = vm.get(d.adapter, instance)
    for bdm in volume_flows.volumes(block_device_info):
        d.flows.attach_volume(instance, lpar, bdm["connection_info"])
        volume_flows.save(bdm)
    if power_on:
        vm.power_on(d.adapter, instance)


# -- destination: finish_migration ----------------------------------------------------------------
def finish_migration(d: Any, context: Any, migration: Any, instance: Any, network_info: Any,
                     block_device_info: Any, power_on: bool) -> None:  # fmt: skip
    """Same host: new flavor and disk size in place. Another host: the partition built here on the shared disk."""
    if _same_host(migration):
        apply_flavor(d, instance, instance.flavor)
        if not _volume_backed(block_device_info):
            grow.grow_boot_disk(d.disk, instance, int(instance.flavor.root_gb or 0))
        _reattach_and_start(d, instance, block_device_info, power_on)
        LOG.info("Instance %s resized on this host to flavor %s", instance.uuid, instance.flavor.name)
        return
    _build_here(d, context, instance, network_info, block_device_info, power_on)


def _build_here(d: Any, context: Any, instance: Any, network_info: Any, block_device_info: Any,
                power_on: bool) -> None:  # fmt: skip
    with rollback_on_error(f"Cold migration of instance {instance.uuid} to {d.host_name}") as rb:
        lpar = vm.create(d.adapter, d.host_wrapper(), instance, instance.flavor, d.defaults())
        rb.add(f"partition {lpar.uuid}", lambda: vm.delete(d.adapter, instance))
        d.known_instance(instance)
        storage: dict[str, list] = {}
        if not _volume_backed(block_device_info):
            grow.grow_boot_disk(d.disk, instance, int(instance.flavor.root_gb or 0))
            disk = d.disk.find_boot_disk(instance)
            storage = {vios: [disk.ref] for vios in disk.vioses}
        for bdm in volume_flows.volumes(block_device_info):
            info = bdm["connection_info"]
            d.flows.attach_volume(instance, lpar, info)
            rb.add("volume", lambda i=info: d.flows.detach_volume(instance, lpar, i))
            volume_flows.save(bdm)
        if configdrive.required_by(instance):
            cfg_vios, ref = d.media.create(context, instance, None, network_info, None)
            rb.add("config drive media", lambda: d.media.delete(instance))
            storage.setdefault(cfg_vios, []).append(ref)
        for vios_uuid, elems in storage.items():
            rb.add(f"vSCSI mappings on VIOS {vios_uuid}", lambda v=vios_uuid: mapping.remove_for_partition(
                d.adapter, [v], lpar.id))  # fmt: skip
            mapping.add(d.adapter, vios_uuid, lpar.uuid, elems)
        d.flows.plug_vifs(instance, lpar.uuid, network_info or [], rb)
        if d.conf.powervm.use_rmc_mgmt_vif:
            mgmt_vif.plug(d.adapter, d.host_uuid, lpar.uuid)
        if power_on:
            vm.power_on(d.adapter, instance, remove_optical=d.remove_optical(instance))
    LOG.info("Instance %s: partition %s (id %s) built on %s from the shared boot disk", instance.uuid, lpar.uuid,
             lpar.id, d.host_name)  # fmt: skip


# -- confirm and revert ---------------------------------------------------------------------------
def confirm_migration(d: Any, migration: Any, instance: Any, network_info: Any) -> None:
    """On the source: nothing for a same-host resize; after a move, the old partition goes (the disk stays)."""
    if _same_host(migration):
        LOG.info("Instance %s: resize on this host confirmed; nothing to clean up", instance.uuid)
        return
    d.flows.destroy(instance, network_info, destroy_disks=False)
    LOG.info("Instance %s: move to %s confirmed; source partition removed, shared disk kept", instance.uuid,
             migration.dest_compute)  # fmt: skip


def destroy_on_revert(d: Any, context: Any, instance: Any, network_info: Any, block_device_info: Any) -> bool:
    """nova's destroy on the destination during a revert; True when it was handled here.

    Same host: the partition is the instance's only one, so it is kept (its volumes disconnected) for
    ``finish_revert_migration``. Another host: the partition here goes, a shared boot disk stays.
    """
    if instance.task_state != task_states.RESIZE_REVERTING:
        return False
    migration = _migration_of(context, instance)
    if _same_host(migration):
        lpar = vm.get(d.adapter, instance)
        vm.power_off(d.adapter, instance, timeout=0)
        d.flows._detach_all(instance, lpar, block_device_info)
        LOG.info("Instance %s: revert of a resize on this host; partition %s kept", instance.uuid, lpar.uuid)
        return True
    d.flows.destroy(instance, network_info, destroy_disks=not d.disk.shared_storage,
                    block_device_info=block_device_info)  # fmt: skip
    return True


def finish_revert_migration(d: Any, context: Any, instance: Any, migration: Any, block_device_info: Any,
                            power_on: bool) -> None:  # fmt: skip
    """On the source: the old flavor back on the partition (same host) or the kept partition, started again."""
    if _same_host(migration):
        apply_flavor(d, instance, instance.flavor)  # nova has put the old flavor back on the instance
    d.known_instance(instance)
    _reattach_and_start(d, instance, block_device_info, power_on)
    LOG.info("Instance %s: resize or move reverted; partition %s has flavor %s again", instance.uuid,
             vm.pvm_uuid_of(instance), instance.flavor.name)  # fmt: skip
