"""Live partition mobility (LPM) for nova: the checks on both hosts, the move, abort and rollback.

The destination describes itself in the migrate data (its managed system's name and the address of
its NovaLink REST endpoint, ``[powervm_rest] host:port`` as the driver connected; carried in nova's
own ``VMwareLiveMigrateData``, see ``PowerVMLiveMigrateData``); the source refuses, with the
reason, what PowerVM cannot move: a boot disk in a local volume group (``disk_driver = localdisk``:
only SSP disks are shared), Cinder volumes the NovaLink partition serves (files, RBD; FC, iSCSI
and NPIV volumes move: ``live_migration_volumes``), an SR-IOV vNIC port (``live_migration_network``), block migration, a partition that is not running or
whose RMC connection is not active, then anything the platform's ``MigrateValidate`` job refuses
(capacity, switches, VLANs, processor compatibility mode; for an instance with hdisk volumes the
Migrate job itself validates, once ``pre_live_migration`` has discovered them on the destination).
``pre_live_migration`` puts the SEA VLANs of the instance's ``pvm_sea`` ports on the destination's
network bridge, because the adapters arrive with the partition and no plug event makes the SEA agent do it there; it records the VLANs it added
(in the driver, by instance), and ``rollback_live_migration_at_destination`` removes those again unless
a client adapter on the destination uses them by then. It also discovers the volumes' hdisks on the
destination's VIOSes (remembered the same way, released on rollback); the Migrate job then names the
destination VIOS (and FC port) of each client adapter, and ``post_live_migration`` removes the
source's hdisks. The ``ovs`` VIFs get their trunks on the
destination's NovaLink there, and the VLAN mappings the Migrate job needs travel back in the migrate
data (``live_migration_network``).

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
from nova.compute import rpcapi as compute_rpcapi
from nova.objects import migrate_data
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import migration as pvm_mig
from pypowervm.tasks import network_bridger
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute import live_migration_media as lpm_media
from powervm_openstack.compute import live_migration_network as lpm_net
from powervm_openstack.compute import live_migration_volumes as lpm_volumes
from powervm_openstack.compute import vm
from powervm_openstack.compute.vif import sea
from powervm_openstack.compute.vif.base import find_cna
from powervm_openstack.network import constants
from powervm_openstack.pvm import vif_event

LOG = logging.getLogger(__name__)


# nova 34 has no PowerVM migrate data object any more (it left with the in-tree driver), and
# nova-conductor, which relays the destination's answer to the source, loads no virt driver: a class
# of ours is "Unsupported object type" there. nova's registered VMwareLiveMigrateData has two plain
# string fields that neither nova's conductor nor its compute manager interpret: they carry ours.
# nova calls the destination back on rollback only for libvirt's and Hyper-V's data, so the source
# asks for that call itself (``rollback_source``); the destination remembers what it added.
PowerVMLiveMigrateData = migrate_data.VMwareLiveMigrateData


def _target(data: Any) -> tuple[str, str]:
    """The destination's managed system name and NovaLink REST ``host:port`` from the migrate data."""
    return data.cluster_name, lpm_net.rest_endpoint(data)


def register_objects() -> None:
    """Nothing to register: the migrate data is nova's own (see ``PowerVMLiveMigrateData``)."""


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
    data.cluster_name = driver.host_wrapper().system_name  # the destination's managed system
    data.datastore_regex = driver.rest_endpoint  # its NovaLink REST host:port
    return data


def check_source(driver: Any, conf: Any, instance: Any, data: Any, block_device_info: Any) -> Any:
    """The source's check: shared storage, movable volumes, no vNIC, a running partition with RMC, then the platform's.

    :raises MigrationPreCheckError: with the reason; nothing is changed then.
    """
    lpm_volumes.check_movable(instance, block_device_info)
    bfv = lpm_volumes.boots_from_volume(block_device_info)
    if conf.powervm.disk_driver.lower() == "localdisk" and not bfv:
        raise nova_exc.MigrationPreCheckError(
            reason=f"Instance {instance.uuid} boots from a disk in a local volume group on {driver.host_name}, "
            "which is not shared storage; PowerVM live migration needs an SSP disk."
        )
    if not isinstance(data, PowerVMLiveMigrateData) or not data.obj_attr_is_set("datastore_regex"):
        raise nova_exc.MigrationPreCheckError(reason="The destination is not a PowerVM host.")
    dest_sys_name, dest_rest = _target(data)
    network_info = instance.get_network_info()
    lpm_net.refuse_unmovable(instance, network_info)  # SR-IOV vNICs
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
    data.is_volume_backed = bfv
    if lpm_volumes.has_hdisks(conf, block_device_info):
        # PowerVM validates hdisks against the destination's VIOSes, which see them only after
        # pre_live_migration: the Migrate job validates then, before it moves anything
        LOG.info("Instance %s: PowerVM validates the move of its hdisks in the Migrate job", instance.uuid)
        return data
    # Loaded optical media cannot move, so validation runs with the config drive unmapped; it is mapped
    # again whatever the answer: nova tells the source nothing when a later step (the scheduler, the
    # destination's pre_live_migration) fails, and the Migrate job unmaps it again just before the move.
    unloaded = lpm_media.unload(driver, instance)
    try:
        pvm_mig.migrate_lpar(lpar, dest_sys_name, validate_only=True, tgt_mgmt_svr=dest_rest,
                             vlan_check_override=True, sdn_override=lpm_net.has_ovs(network_info))  # fmt: skip
    except pvm_exc.Error as err:
        raise nova_exc.MigrationPreCheckError(reason=f"PowerVM refused the migration: {err}") from err
    finally:
        if unloaded:
            lpm_media.reload(driver, instance)
    return data


def prepare_destination(driver: Any, conf: Any, instance: Any, network_info: Any, data: Any,
                        block_device_info: Any = None) -> Any:  # fmt: skip
    """Discover the volumes' hdisks here, then put the SEA VLANs on this bridge (as the SEA agent does) and the trunks.

    The volumes go first: a volume this host cannot see fails the call before any network change.

    The VLANs this call added (those already bridged are not listed) are remembered by this driver
    for ``rollback_destination`` (not in the migrate data: nova's VMware type has no field for them).
    """
    driver.lpm_discovered[instance.uuid] = lpm_volumes.prepare(driver, conf, instance, block_device_info)
    vlans = sorted({sea.vlan_of(v) for v in network_info or [] if v.get("type") == constants.VIF_TYPE_SEA})
    added = []
    if vlans:
        bridge = _bridge(driver)
        present = set(bridge.list_vlans())
        for vlan in vlans:
            network_bridger.ensure_vlan_on_nb(driver.adapter, driver.host_uuid, bridge.uuid, vlan)
            if vlan not in present:
                added.append(vlan)
    driver.lpm_added_vlans[instance.uuid] = added
    lpm_net.prepare_destination(driver, conf, instance, network_info, data)  # ovs VIFs' trunks, VLAN mappings
    LOG.info("Destination %s ready for the partition: VLANs %s bridged (added %s)", driver.host_name,
             vlans or "none", added or "none")  # fmt: skip
    return data


def rollback_destination(driver: Any, instance: Any, network_info: Any) -> None:
    """Remove what ``prepare_destination`` added: the ``ovs`` trunks, the hdisks, and the bridge's VLANs unless now in use here."""
    lpm_net.rollback_destination(driver, instance, network_info)
    for vios_uuid, info in driver.lpm_discovered.pop(instance.uuid, []):
        lpm_volumes.release_here(driver, driver.conf, instance, info, only=vios_uuid)
    added = driver.lpm_added_vlans.pop(instance.uuid, [])
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


def rollback_source(driver: Any, context: Any, instance: Any, data: Any) -> None:
    """The move did not happen: map the config drive again, and have the destination undo its VLANs.

    nova itself calls ``rollback_live_migration_at_destination`` only for libvirt's and Hyper-V's
    migrate data; the source casts it the way nova's compute manager does for those (with
    ``destroy_disks`` false: the disks are shared).
    """
    try:
        lpm_media.reload(driver, instance)
    except nova_exc.InstanceNotFound:
        LOG.warning("Instance %s: no partition on %s to map the config drive to", instance.uuid, driver.host_name)
    migration = data.migration if data is not None and data.obj_attr_is_set("migration") else None
    if migration is None or not migration.dest_compute:
        LOG.warning("Instance %s: no migration record; the destination is not asked to undo its VLANs", instance.uuid)
        return
    LOG.info("Instance %s rollback: asking %s to undo what pre_live_migration added", instance.uuid,
             migration.dest_compute)  # fmt: skip
    compute_rpcapi.ComputeAPI().rollback_live_migration_at_destination(
        context, instance, migration.dest_compute, destroy_disks=False, migrate_data=data
    )


def finish_destination(driver: Any, context: Any, instance: Any, network_info: Any) -> None:
    """The partition arrived: adopt it and build its config drive here."""
    driver.known_instance(instance)
    lpm_media.rebuild(driver, context, instance, network_info)


def cleanup_source(driver: Any, instance: Any, network_info: Any) -> None:
    """The partition left with its adapters; the disks are shared: the config drive's copy and the ovs trunks go."""
    lpm_media.drop(driver, instance)
    lpm_net.cleanup_source(driver, instance, network_info)


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
    dest_sys_name, dest_rest = _target(data)
    leaving = {cna.mac.upper(): cna.href for cna in pvm_net.CNA.get(driver.adapter, parent=lpar)}
    limit = completion_timeout(conf, instance)
    if limit is None and int(conf.libvirt.live_migration_completion_timeout or 0) > 0:
        LOG.info("Instance %s: live_migration_timeout_action force_complete cannot apply to PowerVM (no post-copy, "
                 "no pause); the move runs to its end", instance.uuid)  # fmt: skip
    mappings = lpm_net.vlan_mappings(data)  # the ovs VIFs' VLANs on the destination's NovaLink trunks
    extra: dict[str, Any] = lpm_volumes.job_mappings(driver, context, instance, lpar)  # vSCSI, vFC
    if mappings:
        extra.update(vlan_mappings=mappings, sdn_override=True)
    if limit is not None:
        extra["timeout"] = limit
    try:
        lpm_media.unload(driver, instance)  # mapped again by nova's rollback (rollback_source) if the move fails
        pvm_mig.migrate_lpar(lpar, dest_sys_name, tgt_mgmt_svr=dest_rest, **extra)
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
    LOG.info("Instance %s: partition %s moved to %s (%s)", instance.uuid, lpar.uuid, dest, dest_sys_name)
    _announce_departure(driver, instance, leaving)
    post(context, instance, dest, False, data)


def _announce_departure(driver: Any, instance: Any, leaving: dict[str, str]) -> None:
    """On the source: post the unplug event of each ``pvm_sea`` adapter that left with the partition.

    Nothing unplugs here either, so this host's SEA agent would keep the port's VLAN on its SEAs.
    """
    for vif in instance.get_network_info() or []:
        href = leaving.get(vif["address"].replace(":", "").upper())
        if vif.get("type") == constants.VIF_TYPE_SEA and href:
            vif_event.post(driver.adapter, href, "unplug", vif["address"], constants.VIF_TYPE_SEA)


def announce_arrival(driver: Any, instance: Any, network_info: Any) -> None:
    """On the destination: post the plug event of each ``pvm_sea`` adapter that arrived with the partition.

    Nothing plugs on the destination, so without it this host's SEA agent never learns that the
    port's adapter is here now, and neutron keeps the port DOWN after nova bound it to this host.
    """
    lpar = vm.get(driver.adapter, instance)
    for vif in network_info or []:
        if vif.get("type") != constants.VIF_TYPE_SEA:
            continue
        cna = find_cna(driver.adapter, lpar.uuid, vif["address"])
        if cna is None:
            LOG.warning("Instance %s: port %s (%s) has no adapter here after the migration", instance.uuid,
                        vif["id"], vif["address"])  # fmt: skip
            continue
        vif_event.post(driver.adapter, cna.href, "plug", vif["address"], constants.VIF_TYPE_SEA)


def abort(driver: Any, instance: Any) -> None:
    """Abort the running Migrate job of the instance's partition; with none running there is nothing to do.

    The failed Migrate job then reaches ``migrate``, which calls nova's recover method.
    """
    try:
        pvm_mig.migrate_abort(vm.get(driver.adapter, instance))
    except pvm_exc.JobRequestFailed as err:
        LOG.warning("Instance %s: nothing to abort (%s)", instance.uuid, err)
