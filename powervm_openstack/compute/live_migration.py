"""Live partition mobility (LPM) for nova: the checks on both hosts, the move, abort and rollback.

The destination describes itself in the migrate data (its managed system's name and the address of
its NovaLink REST endpoint, ``[powervm_rest] host:port`` as the driver connected; carried in nova's
own ``VMwareLiveMigrateData``, see ``PowerVMLiveMigrateData``); the source refuses, with the
reason, what PowerVM cannot move: a boot disk in a local volume group (``disk_driver = localdisk``:
only SSP disks and Cinder volumes are shared), block migration, a partition that is not running or
whose RMC connection is not active, then anything the platform's ``MigrateValidate`` job refuses
(capacity, switches, VLANs). ``pre_live_migration`` puts the SEA VLANs of the instance's
``pvm_sea`` ports on the destination's network bridge, because the adapters arrive with the
partition and no plug event makes the SEA agent do it there. ``live_migration`` runs the
``Migrate`` job; its failure calls nova's recover method (the partition is still on the source:
nothing to undo on either side), its success the post method. Nothing is destroyed on rollback:
the disks are shared. nova cleans up no disks for this migrate data type.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from nova.objects import migrate_data
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import migration as pvm_mig
from pypowervm.tasks import network_bridger
from pypowervm.wrappers import network as pvm_net

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
PowerVMLiveMigrateData = migrate_data.VMwareLiveMigrateData


def _target(data: Any) -> tuple[str, str]:
    """The destination's managed system name and NovaLink REST ``host:port`` from the migrate data."""
    return data.cluster_name, data.datastore_regex


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
    """The source's check: shared storage, a running partition with RMC, then the platform's validation."""
    volume_backed = bool(block_device_info and block_device_info.get("block_device_mapping")) and not instance.image_ref
    if conf.powervm.disk_driver.lower() == "localdisk" and not volume_backed:
        raise nova_exc.MigrationPreCheckError(
            reason=f"Instance {instance.uuid} boots from a disk in a local volume group on {driver.host_name}, "
            "which is not shared storage; PowerVM live migration needs an SSP disk or boot from volume."
        )
    if not isinstance(data, PowerVMLiveMigrateData) or not data.obj_attr_is_set("datastore_regex"):
        raise nova_exc.MigrationPreCheckError(reason="The destination is not a PowerVM host.")
    dest_sys_name, dest_rest = _target(data)
    lpar = vm.get(driver.adapter, instance)
    if lpar.state != "running":
        raise nova_exc.MigrationPreCheckError(
            reason=f"Partition of instance {instance.uuid} is {lpar.state}; live migration needs it running."
        )
    if not vm.is_rmc_active(lpar):
        raise nova_exc.MigrationPreCheckError(
            reason=f"Partition of instance {instance.uuid} has RMC {lpar.rmc_state}; "
            "live migration needs an active RMC connection (the partition's management VIF)."
        )
    try:
        pvm_mig.migrate_lpar(lpar, dest_sys_name, validate_only=True, tgt_mgmt_svr=dest_rest,
                             vlan_check_override=True)  # fmt: skip
    except pvm_exc.Error as err:
        raise nova_exc.MigrationPreCheckError(reason=f"PowerVM refused the migration: {err}") from err
    data.is_volume_backed = volume_backed
    return data


def prepare_destination(driver: Any, conf: Any, network_info: Any, data: Any) -> Any:
    """Put the instance's SEA VLANs on the destination's bridge (network_bridger, as the SEA agent does)."""
    vlans = sorted({sea.vlan_of(v) for v in network_info or [] if v.get("type") == constants.VIF_TYPE_SEA})
    if vlans:
        bridge = pvm_net.NetBridge.get(driver.adapter, parent_type="ManagedSystem", parent_uuid=driver.host_uuid)[0]
        for vlan in vlans:
            network_bridger.ensure_vlan_on_nb(driver.adapter, driver.host_uuid, bridge.uuid, vlan)
    LOG.info("Destination %s ready for the partition: VLANs %s bridged", driver.host_name, vlans or "none")
    return data


def migrate(driver: Any, context: Any, instance: Any, dest: str, post: Any, recover: Any, data: Any) -> None:
    """Run the Migrate job; nova's post method on success, its recover method on any failure."""
    lpar = vm.get(driver.adapter, instance)
    dest_sys_name, dest_rest = _target(data)
    leaving = {cna.mac.upper(): cna.href for cna in pvm_net.CNA.get(driver.adapter, parent=lpar)}
    try:
        pvm_mig.migrate_lpar(lpar, dest_sys_name, tgt_mgmt_svr=dest_rest)
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
