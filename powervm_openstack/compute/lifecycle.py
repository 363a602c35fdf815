"""Spawn, destroy and snapshot as ordered steps over the partition, its disk, media and VIFs.

``spawn`` registers an undo for every step it completes; any failure undoes them newest first, so no
partition, disk, mapping, media or adapter is left behind. A failure PowerVM reports aborts the
build (no reschedule) with a fault naming the step and PowerVM's message.
``destroy`` finds everything by the instance's names (not by in-memory state), so it also cleans up
after a spawn that failed half way or a compute service that died mid-operation.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from nova import exception as nova_exc
from nova.compute import task_states
from nova.virt import configdrive
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.utils import transaction as pvm_tx
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import evacuate, ibmi, images, mgmt, timing, vm
from powervm_openstack.compute import exception as exc
from powervm_openstack.compute import vif as vifs
from powervm_openstack.compute.disk import mapping
from powervm_openstack.compute.rollback import rollback_on_error
from powervm_openstack.compute.vif import mgmt as mgmt_vif
from powervm_openstack.compute.volume import flows as volume_flows
from powervm_openstack.compute.volume import npiv

LOG = logging.getLogger(__name__)


class Lifecycle:
    """The multi-step operations of one driver (``driver`` gives adapter, host, disk, media, conf)."""

    def __init__(self, driver: Any) -> None:
        self.d = driver

    # -- spawn -------------------------------------------------------------------------------
    def spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any, admin_password: Any,
              network_info: Any, power_on: bool = True, block_device_info: Any = None) -> None:  # fmt: skip
        step = ["create the partition"]
        try:
            self._spawn(context, instance, image_meta, injected_files, admin_password, network_info, power_on, step,
                        block_device_info)  # fmt: skip
        except (pvm_exc.Error, exc.PartitionCreateFailed, exc.PowerVMOperationFailed,
                nova_exc.VolumeAttachFailed, nova_exc.VolumeDriverNotFound) as err:  # fmt: skip
            # everything is rolled back; retrying on another host would meet the same PowerVM answer in
            # most cases, and the server's fault must say what PowerVM refused
            raise nova_exc.BuildAbortException(
                instance_uuid=instance.uuid, reason=f"PowerVM failed to {step[0]}: {err}"
            ) from err
        except nova_exc.VirtualInterfacePlugException as err:
            # a port bound in a way the VIF drivers refuse (hybrid plugging, an unknown vif type ...): another
            # host would refuse it alike, and the server's fault must carry the refusal, not "no valid host"
            raise nova_exc.BuildAbortException(instance_uuid=instance.uuid, reason=err.format_message()) from err

    def _spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any, admin_password: Any,
               network_info: Any, power_on: bool, step: list[str], block_device_info: Any = None) -> None:  # fmt: skip
        d = self.d
        with rollback_on_error(f"Spawn of instance {instance.uuid}") as rb:
            lpar = vm.create(d.adapter, d.host_wrapper(), instance, instance.flavor, d.defaults())
            rb.add(f"partition {lpar.uuid}", lambda: vm.delete(d.adapter, instance))
            d.known_instance(instance)
            self._attach_volumes(instance, lpar, block_device_info, rb, step)
            storage: dict[str, list] = {}
            boot_names: tuple[str, ...] = ()  # empty: boot from volume
            if not volume_flows.boots_from_volume(block_device_info):  # the root disk is a volume: no local disk
                step[0] = "create the boot disk"
                disk = evacuate.existing_boot_disk(d, instance)  # an evacuated instance's LU is kept as it is
                if disk is None:
                    disk = d.disk.create_boot_disk(context, instance, image_meta, int(instance.flavor.root_gb or 0))
                    rb.add(f"boot disk {disk.name}", lambda: d.disk.delete_boot_disk(instance))
                storage = {vios: [disk.ref] for vios in disk.vioses}
                boot_names = (disk.name,)
            timing.wait_for_network(network_info)  # nova allocates the ports while the disk is made
            if configdrive.required_by(instance):
                step[0] = "upload the config drive"
                cfg_vios, ref = d.media.create(context, instance, injected_files, network_info, admin_password)
                rb.add("config drive media", lambda: d.media.delete(instance))
                storage.setdefault(cfg_vios, []).append(ref)
            step[0] = "map the disks (vSCSI)"
            for vios_uuid, elems in storage.items():
                rb.add(f"vSCSI mappings on VIOS {vios_uuid}",
                       lambda v=vios_uuid, e=elems: mapping.remove(d.adapter, [v], mapping.named(*(x.name for x in e)),
                                                                   f"instance {instance.uuid}"))  # fmt: skip
                mapping.add(d.adapter, vios_uuid, lpar.uuid, elems)
            if ibmi.is_ibmi(instance):
                step[0] = "tag the IBM i load source"
                ibmi.tag_load_source(d.adapter, lpar.uuid, instance,
                                     ibmi.settings(instance.flavor.extra_specs or {}, True), boot_names)  # fmt: skip
            step[0] = "plug the VIFs"
            self.plug_vifs(instance, lpar.uuid, network_info or [], rb)
            step[0] = "add the RMC management adapter"
            if d.conf.powervm.use_rmc_mgmt_vif:
                mgmt_vif.plug(d.adapter, d.host_uuid, lpar.uuid)
            step[0] = "power on the partition"
            if power_on:
                vm.power_on(d.adapter, instance, remove_optical=d.remove_optical(instance))
        LOG.info("Spawned instance %s as partition %s (id %s)", instance.uuid, lpar.uuid, lpar.id)

    def _attach_volumes(self, instance: Any, lpar: Any, block_device_info: Any, rb: Any, step: list[str]) -> None:
        for bdm in volume_flows.volumes(block_device_info):
            info = bdm["connection_info"]
            step[0] = f"attach volume {info.get('data', {}).get('volume_id') or info.get('serial')}"
            self.attach_volume(instance, lpar, info)
            rb.add(step[0], lambda i=info: self.detach_volume(instance, lpar, i))
            volume_flows.save(bdm)

    def attach_volume(self, instance: Any, lpar: Any, connection_info: dict) -> None:
        volume_flows.attach(self.d.adapter, self.d.conf, lpar, connection_info, instance, self.d.host_uuid)

    def detach_volume(self, instance: Any, lpar: Any, connection_info: dict) -> None:
        volume_flows.detach(self.d.adapter, self.d.conf, lpar, connection_info, instance, self.d.host_uuid)

    def _detach_all(self, instance: Any, lpar: Any, block_device_info: Any) -> None:
        """Detach every volume; the first failure is raised after all were tried."""
        failed: list[Exception] = []
        for bdm in volume_flows.volumes(block_device_info):
            try:
                self.detach_volume(instance, lpar, bdm["connection_info"])
            except Exception as err:
                LOG.exception("Destroy of partition %s: detach of a volume failed", lpar.uuid)
                failed.append(err)
        if failed:
            raise failed[0]

    def plug_vifs(self, instance: Any, lpar_uuid: str, network_info: Any, rb: Any = None) -> None:
        """Plug every VIF, waiting for neutron's network-vif-plugged of the ports not yet active."""
        d = self.d
        timeout = d.conf.vif_plugging_timeout
        events = [("network-vif-plugged", v["id"]) for v in network_info if v.get("active", True) is False]
        if not timeout:
            events = []
        try:
            with d.virtapi.wait_for_instance_event(instance, events, timeout=timeout,
                                                   error_callback=_vif_failed):  # fmt: skip
                for vif in network_info:
                    driver = vifs.driver_for(d.adapter, d.conf, vif, instance.uuid)
                    driver.plug(lpar_uuid, vif)
                    if rb is not None:
                        rb.add(f"port {vif['id']}", lambda drv=driver, v=vif: drv.unplug(lpar_uuid, v))
                plugged = time.perf_counter()
            timing.add_wait(time.perf_counter() - plugged)  # the event wait is in the block's exit
        except nova_exc.InstanceEventTimeout:
            LOG.warning("Instance %s: network-vif-plugged did not arrive within %d s", instance.uuid, timeout)
            if d.conf.vif_plugging_is_fatal:
                raise nova_exc.VirtualInterfaceCreateException() from None

    # -- destroy -----------------------------------------------------------------------------
    def destroy(self, instance: Any, network_info: Any, destroy_disks: bool = True,
                block_device_info: Any = None) -> None:  # fmt: skip
        d = self.d
        lpar = _maybe(lambda: vm.get(d.adapter, instance))
        if lpar is not None and lpar.state.lower() not in vm.DOWN_STATES:
            vm.power_off(d.adapter, instance, timeout=0)
        if lpar is not None:
            self._detach_all(instance, lpar, block_device_info)
            for vif in network_info or []:
                driver = _maybe(lambda v=vif: vifs.driver_for(d.adapter, d.conf, v, instance.uuid))
                if driver is not None:
                    driver.unplug(lpar.uuid, vif)
            mapping.remove_for_partition(d.adapter, d.vios_uuids(), lpar.id)
            npiv.remove_all(d.adapter, lpar.id)
        d.media.delete(instance)
        disk = d.disk.find_boot_disk(instance)
        if disk is not None:
            mapping.remove(d.adapter, d.vios_uuids(), mapping.named(disk.name), f"boot disk {disk.name}")
            if destroy_disks:
                d.disk.delete_boot_disk(instance)
        vm.delete(d.adapter, instance)
        d.forget_instance(instance)
        LOG.info("Destroyed instance %s (partition %s)", instance.uuid, vm.pvm_uuid_of(instance))

    # -- snapshot ----------------------------------------------------------------------------
    def snapshot(self, context: Any, instance: Any, image_id: str, update_task_state: Any) -> None:
        d = self.d
        try:
            vm.get(d.adapter, instance)
        except nova_exc.InstanceNotFound:
            raise nova_exc.InstanceNotRunning(instance_id=instance.uuid) from None
        try:
            disk, remove_source = d.disk.snapshot_source(instance)
        except LookupError:
            raise nova_exc.InstanceNotRunning(instance_id=instance.uuid) from None
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        mgmt_part = pvm_par.get_mgmt_partition(d.adapter)
        vios_uuid = disk.vioses[0]
        try:
            mapping.add(d.adapter, vios_uuid, mgmt_part.uuid, [disk.ref])
            try:
                path = mgmt.find_disk(disk.udid)
                update_task_state(task_state=task_states.IMAGE_UPLOADING,
                                  expected_state=task_states.IMAGE_PENDING_UPLOAD)  # fmt: skip
                with open(path, "rb") as data:
                    images.upload_snapshot(context, image_id, instance, data)
            finally:
                _unmap_from(d.adapter, vios_uuid, mgmt_part.id, disk.name)
        finally:
            remove_source()
        LOG.info("Snapshot of instance %s (boot disk %s) stored as image %s", instance.uuid, disk.name, image_id)


def _unmap_from(adapter: Any, vios_uuid: str, client_id: int, name: str) -> None:
    task = pvm_tx.WrapperTask("unmap-mgmt", pvm_vios.VIOS.getter(adapter, entry_uuid=vios_uuid,
                                                                 xag=mapping.SMAP_XAG))  # fmt: skip
    task.add_functor_subtask(
        lambda vios_w: bool(pvm_smap.remove_maps(vios_w, client_id, match_func=lambda stg: stg.name == name))
    )
    task.execute()


def _vif_failed(event_name: str, instance: Any) -> None:
    LOG.error("Neutron reported %s failed for instance %s", event_name, instance.uuid)
    raise nova_exc.VirtualInterfaceCreateException()


def _maybe(func: Any) -> Any:
    try:
        return func()
    except (nova_exc.InstanceNotFound, nova_exc.VirtualInterfacePlugException):
        return None
