"""The nova ComputeDriver for PowerVM (NovaLink): ``compute_driver = powervm.PowerVMDriver``.

Thin by design: partition operations live in ``vm``, the multi-step flows in ``lifecycle``, disks in
``disk``, the config drive in ``media``, VIFs in ``vif``, resources in ``host``, events in ``events``.
Threads only: pypowervm's event listener is a thread; nothing here imports eventlet.

Volumes (``volume``): fibre_channel over vSCSI or NPIV, iSCSI/iSER, files (local/nfs/gpfs) and rbd, attached,
detached and extended, and boot from volume. Live migration (``live_migration``) of partitions on SSP disks, with nova's timeout and
abort, and with FC (vSCSI, NPIV) and iSCSI volumes (``live_migration_volumes``). Resize and cold migration (``migration``): on the same host, or
across hosts on SSP disks or volumes. Rescue and unrescue (``rescue``). Evacuate and rebuild keeping the
adapter slots, and on SSP the LU (``evacuate``; a local disk is rebuilt from the image). IBM i images
(``os_distro=ibmi``): ``ibmi``. Not supported (``NotImplementedError``, as nova expects): swap_volume,
live_migration_force_complete, rescue of boot-from-volume instances, pause/suspend, console output,
SPICE/serial/MKS consoles.
"""

from __future__ import annotations

import logging
from typing import Any

import nova.conf
from nova import context as nova_context
from nova import exception as nova_exc
from nova import objects
from nova.console import type as ctype
from nova.virt import driver, hardware
from nova.virt import node as nova_node
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import partition as pvm_par
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import conf as pvm_conf
from powervm_openstack.compute import console, disk, events, host, lifecycle, media, partition_spec, pci, timing, vm
from powervm_openstack.compute import evacuate as evac
from powervm_openstack.compute import live_migration as lpm
from powervm_openstack.compute import live_migration_volumes as lpm_volumes
from powervm_openstack.compute import migration as cold
from powervm_openstack.compute import rescue as rescue_flow
from powervm_openstack.compute import vif as vifs
from powervm_openstack.compute.volume import select as volume_select
from powervm_openstack.pvm import connection

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


class PowerVMDriver(driver.ComputeDriver):
    """PowerVM partitions as nova instances, through the NovaLink REST API."""

    def __init__(self, virtapi: Any) -> None:
        super().__init__(virtapi)
        pvm_conf.register_opts(CONF)
        lpm.register_objects()
        self.conf = CONF
        local = CONF.powervm.disk_driver.lower() == "localdisk"
        self.capabilities = {
            **driver.ComputeDriver.capabilities,
            "has_imagecache": local,
            "supports_attach_interface": True,
            "supports_image_type_raw": True,
            "supports_extend_volume": True,
            # A cold migration (same flavor) to its own managed system would move nothing; nova then
            # always picks another host. Resizing in place is nova's allow_resize_to_same_host.
            "supports_migrate_to_same_host": False,
            "supports_evacuate": True,  # SSP: the destination reuses the LU and the slots (see .evacuate)
        }
        self.adapter: Any = None
        self.host_uuid = ""
        self._host_cpu: Any = None
        self.disk: Any = None
        self.media: Any = None
        self.connector: volume_select.Connector | None = None
        self.flows = lifecycle.Lifecycle(self)
        self._events: events.PartitionEvents | None = None
        self._instances: dict[str, str] = {}
        self.lpm_added_vlans: dict[str, list[int]] = {}  # instance -> VLANs pre_live_migration bridged here
        self.lpm_discovered: dict[str, list[tuple[str, dict]]] = {}  # instance -> (VIOS, volume) hdisks found here
        self._host = ""
        self.rest_endpoint = ""
        self._node_uuid = ""

    # -- start and stop ----------------------------------------------------------------------
    def init_host(self, host: str) -> None:
        """Validate ``[powervm]``, connect, find the managed system and storage, subscribe to events.

        :raises nova.exception.InvalidConfiguration: a bad option or missing storage (named).
        """
        try:
            pvm_conf.validate(CONF)
        except pvm_conf.PowerVMConfigError as err:
            raise nova_exc.InvalidConfiguration(reason=str(err)) from err
        if self.adapter is not None:  # initialised before: release that session and its listener first
            self.cleanup_host(host)
        self._host = host
        self._node_uuid = nova_node.get_local_node_uuid()
        # read once: nova's harness runs two computes in one process, each set up with its own endpoint
        self.rest_endpoint = f"{CONF.powervm_rest.host}:{CONF.powervm_rest.port}"
        self.adapter = connection.connect(CONF, helpers=[timing.rest_helper])
        systems = pvm_ms.System.get(self.adapter)
        if len(systems) != 1:
            raise nova_exc.InvalidConfiguration(reason=f"NovaLink reports {len(systems)} managed systems; "
                                                       "the PowerVM driver manages exactly one.")  # fmt: skip
        self.host_uuid = systems[0].uuid
        self.disk = disk.load(CONF.powervm.disk_driver, self.adapter, self.host_uuid, CONF)
        try:
            self.disk.check()
        except pvm_conf.PowerVMConfigError as err:
            raise nova_exc.InvalidConfiguration(reason=str(err)) from err
        self.media = media.ConfigDrive(self.adapter, CONF)
        self.connector = volume_select.Connector(self.adapter, CONF, self.host_uuid)
        vifs.ovs.remove_orphan_trunks(self.adapter, CONF.powervm.pvm_vswitch_for_novalink_io)
        self._load_known_instances(host)
        self._events = events.PartitionEvents(self.adapter, self.emit_event, self._instance_uuid_of)
        self.adapter.session.get_event_listener().subscribe(self._events)
        LOG.info("PowerVM driver ready: system %s (%s), disk driver %s", systems[0].system_name, self.host_uuid,
                 CONF.powervm.disk_driver)  # fmt: skip
        for line in pci.describe(systems[0]):
            LOG.info("%s", line)

    def cleanup_host(self, host: str) -> None:
        """Stop the event listener (waiting for its thread) and the VNC repeaters."""
        if self._events is not None:
            self._events.stop()
        if self.adapter is not None and self.adapter.session.has_event_listener:
            listener = self.adapter.session.get_event_listener()
            poller = getattr(listener, "_pthread", None)
            listener.shutdown()
            if poller is not None:
                poller.join(timeout=CONF.powervm_rest.timeout)
        console.stop_repeaters()
        if self.adapter is not None:
            self.adapter.session._logoff()  # release the NovaLink session now, not at garbage collection
            self.adapter = None
        LOG.info("PowerVM driver stopped")

    @property
    def host_name(self) -> str:
        """The nova host this driver serves (``CONF.host`` when it started)."""
        return self._host or CONF.host

    def host_wrapper(self) -> pvm_ms.System:
        return pvm_ms.System.get(self.adapter, uuid=self.host_uuid)

    def defaults(self) -> partition_spec.Defaults:
        return partition_spec.Defaults(CONF.powervm.proc_units_factor, CONF.powervm.uncapped_proc_weight)

    def vios_uuids(self) -> list[str]:
        return [v.uuid for v in pvm_vios.VIOS.get(self.adapter)]

    def remove_optical(self, instance: Any) -> tuple[str, int] | None:
        if not CONF.powervm.remove_vopt_media_on_boot:
            return None
        return media.media_name(instance), CONF.powervm.remove_vopt_media_time

    # -- nova instance <-> partition -----------------------------------------------------------
    def known_instance(self, instance: Any) -> None:
        self._instances[vm.pvm_uuid_of(instance)] = instance.uuid

    def forget_instance(self, instance: Any) -> None:
        self._instances.pop(vm.pvm_uuid_of(instance), None)

    def _load_known_instances(self, host: str) -> None:
        ctx = nova_context.get_admin_context()
        for inst in objects.InstanceList.get_by_host(ctx, host, expected_attrs=[]):
            self.known_instance(inst)

    def _instance_uuid_of(self, pvm_uuid: str) -> str | None:
        return self._instances.get(pvm_uuid.upper())

    # -- inventory of partitions --------------------------------------------------------------
    def _client_lpars(self) -> list[pvm_lpar.LPAR]:
        return [p for p in pvm_lpar.LPAR.get(self.adapter) if not p.is_mgmt_partition]

    def list_instances(self) -> list[str]:
        return [p.name for p in self._client_lpars()]

    def list_instance_uuids(self) -> list[str]:
        """Candidate nova UUIDs of every partition (PowerVM clears the first bit; both forms are listed)."""
        found = []
        for lpar in self._client_lpars():
            low = lpar.uuid.lower()
            found += [low, f"{int(low[0], 16) | 8:x}{low[1:]}"]
        return found

    def instance_exists(self, instance: Any) -> bool:
        return vm.exists(self.adapter, instance)

    def get_info(self, instance: Any, use_cache: bool = True) -> hardware.InstanceInfo:
        lpar = vm.get(self.adapter, instance)
        return hardware.InstanceInfo(state=vm.power_state_of(lpar.state))

    def get_host_ip_addr(self) -> str:
        return CONF.my_ip

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        return [self.host_name]

    def get_nodenames_by_uuid(self, refresh: bool = False) -> dict[str, str]:
        # the node UUID as this driver started: nova's harness runs two computes in one process
        if not self._node_uuid:
            self._node_uuid = nova_node.get_local_node_uuid()
        return {self._node_uuid: self.host_name}

    # -- lifecycle ---------------------------------------------------------------------------
    def spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any, admin_password: Any,
              allocations: Any, network_info: Any = None, block_device_info: Any = None, power_on: bool = True,
              accel_info: Any = None) -> None:  # fmt: skip
        with timing.measure(f"spawn of instance {instance.uuid}"), evac.slot_plan(instance):
            self.flows.spawn(
                context, instance, image_meta, injected_files, admin_password, network_info, power_on, block_device_info
            )
        evac.record_slots(self, instance)  # nova saves the instance after spawn

    def destroy(self, context: Any, instance: Any, network_info: Any, block_device_info: Any = None,
                destroy_disks: bool = True, destroy_secrets: bool = True) -> None:  # fmt: skip
        try:
            if cold.destroy_on_revert(self, context, instance, network_info, block_device_info):
                return
            self.flows.destroy(instance, network_info, destroy_disks, block_device_info)
            if destroy_disks:
                rescue_flow.cleanup(self, instance)
        except (pvm_exc.Error, nova_exc.VolumeDetachFailed) as err:
            raise nova_exc.InstanceTerminationFailure(reason=str(err)) from err

    def cleanup(self, context: Any, instance: Any, network_info: Any, block_device_info: Any = None,
                destroy_disks: bool = True, migrate_data: Any = None, destroy_vifs: bool = True,
                destroy_secrets: bool = True) -> None:  # fmt: skip
        self.destroy(context, instance, network_info, block_device_info, destroy_disks)

    def power_off(self, instance: Any, timeout: int = 0, retry_interval: int = 0) -> None:
        vm.power_off(self.adapter, instance, timeout=timeout)

    def power_on(self, context: Any, instance: Any, network_info: Any, block_device_info: Any = None,
                 accel_info: Any = None, share_info: Any = None) -> None:  # fmt: skip
        vm.power_on(self.adapter, instance)

    def reboot(self, context: Any, instance: Any, network_info: Any, reboot_type: str, block_device_info: Any = None,
               bad_volumes_callback: Any = None, accel_info: Any = None, share_info: Any = None) -> None:  # fmt: skip
        vm.reboot(self.adapter, instance, hard=reboot_type == "HARD", timeout=CONF.shutdown_timeout)

    def snapshot(self, context: Any, instance: Any, image_id: str, update_task_state: Any) -> None:
        self.flows.snapshot(context, instance, image_id, update_task_state)

    def rescue(self, context: Any, instance: Any, network_info: Any, image_meta: Any, rescue_password: Any,
               block_device_info: Any, share_info: Any = None) -> None:  # fmt: skip
        """Start the partition with a disk from the rescue image (see :mod:`.rescue`)."""
        rescue_flow.rescue(self, context, instance, image_meta)

    def unrescue(self, context: Any, instance: Any) -> None:
        rescue_flow.unrescue(self, instance)

    # -- volumes -----------------------------------------------------------------------------
    def get_volume_connector(self, instance: Any) -> dict[str, Any]:
        assert self.connector is not None
        return self.connector.get(self.host_name, instance)

    def attach_volume(self, context: Any, connection_info: dict, instance: Any, mountpoint: str,
                      disk_bus: Any = None, device_type: Any = None, encryption: Any = None) -> None:  # fmt: skip
        """Attach through every active VIOS; ``connection_info['data']`` gains ``target_UDID``."""
        self.flows.attach_volume(instance, vm.get(self.adapter, instance), connection_info)

    def detach_volume(self, context: Any, connection_info: dict, instance: Any, mountpoint: str,
                      encryption: Any = None) -> None:  # fmt: skip
        """Remove the partition's mappings of the volume, and its hdisks nothing else maps.

        nova also calls this on a live migration's destination that does not hold the partition
        (rollback): the hdisks discovered there for it go.
        """
        try:
            lpar = vm.get(self.adapter, instance)
        except nova_exc.InstanceNotFound:
            lpm_volumes.release_here(self, CONF, instance, connection_info)
            return
        self.flows.detach_volume(instance, lpar, connection_info)

    def extend_volume(self, context: Any, connection_info: dict, instance: Any, requested_size: int) -> None:
        """Make the VIOSes re-read the volume's size (the partition sees it at its next rescan)."""
        try:
            lpar = vm.get(self.adapter, instance)
            volume_select.adapter_for(self.adapter, CONF, lpar, connection_info, instance, self.host_uuid).extend()
        except pvm_exc.Error as err:
            vol = connection_info.get("data", {}).get("volume_id") or connection_info.get("serial")
            raise nova_exc.VolumeExtendFailed(volume_id=vol, reason=str(err)) from err

    # -- networking --------------------------------------------------------------------------
    def plug_vifs(self, instance: Any, network_info: Any) -> None:
        """Plug the VIFs of an existing partition; none when the partition is gone.

        nova-compute calls this for every ACTIVE and STOPPED instance when it starts and does not
        catch InstanceNotFound there: a partition deleted outside OpenStack must not stop the
        service. The instance is then reported as it is (``get_info`` -> InstanceNotFound, which
        nova turns into power state NOSTATE).
        """
        try:
            lpar = vm.get(self.adapter, instance)
        except nova_exc.InstanceNotFound:
            LOG.warning("Instance %s: partition %s not found on this host; its VIFs are not plugged",
                        instance.uuid, vm.pvm_uuid_of(instance))  # fmt: skip
            return
        for vif in network_info or []:
            vifs.driver_for(self.adapter, CONF, vif, instance.uuid).plug(lpar.uuid, vif)

    def unplug_vifs(self, instance: Any, network_info: Any) -> None:
        lpar = vm.get(self.adapter, instance)
        for vif in network_info or []:
            vifs.driver_for(self.adapter, CONF, vif, instance.uuid).unplug(lpar.uuid, vif)

    def attach_interface(self, context: Any, instance: Any, image_meta: Any, vif: Any) -> None:
        lpar = vm.get(self.adapter, instance)
        vifs.driver_for(self.adapter, CONF, vif, instance.uuid).plug(lpar.uuid, vif)
        evac.record_slots(self, instance, save=True)

    def detach_interface(self, context: Any, instance: Any, vif: Any) -> None:
        lpar = vm.get(self.adapter, instance)
        if not vifs.driver_for(self.adapter, CONF, vif, instance.uuid).unplug(lpar.uuid, vif):
            raise nova_exc.NotFound(f"Port {vif['id']} ({vif['address']}) is not plugged on instance {instance.uuid}.")
        evac.record_slots(self, instance, save=True)

    # -- live migration (see :mod:`.live_migration`) -------------------------------------------
    def check_can_live_migrate_destination(self, context: Any, instance: Any, src_compute_info: Any,
                                           dst_compute_info: Any, block_migration: bool = False,
                                           disk_over_commit: bool = False) -> Any:  # fmt: skip
        return lpm.destination_data(self, CONF, block_migration)

    def cleanup_live_migration_destination_check(self, context: Any, dest_check_data: Any) -> None:
        pass  # the destination check reserves nothing

    def check_can_live_migrate_source(self, context: Any, instance: Any, dest_check_data: Any,
                                      block_device_info: Any = None) -> Any:  # fmt: skip
        return lpm.check_source(self, CONF, instance, dest_check_data, block_device_info)

    def pre_live_migration(self, context: Any, instance: Any, block_device_info: Any, network_info: Any,
                           disk_info: Any, migrate_data: Any) -> Any:  # fmt: skip
        return lpm.prepare_destination(self, CONF, instance, network_info, migrate_data, block_device_info)

    def live_migration(self, context: Any, instance: Any, dest: str, post_method: Any, recover_method: Any,
                       block_migration: bool = False, migrate_data: Any = None) -> None:  # fmt: skip
        lpm.migrate(self, CONF, context, instance, dest, post_method, recover_method, migrate_data)

    def live_migration_abort(self, instance: Any) -> None:
        lpm.abort(self, instance)

    def post_live_migration(self, context: Any, instance: Any, block_device_info: Any,
                            migrate_data: Any = None) -> None:  # fmt: skip
        # the platform moved the partition and its mappings; the source's hdisks of its volumes stay
        lpm_volumes.release_source(self, CONF, instance, block_device_info)

    def post_live_migration_at_source(self, context: Any, instance: Any, network_info: Any) -> None:
        self.forget_instance(instance)  # its adapters left with the partition
        lpm.cleanup_source(self, instance, network_info)  # nova calls no cleanup here for this migrate data type

    def post_live_migration_at_destination(self, context: Any, instance: Any, network_info: Any,
                                           block_migration: bool = False, block_device_info: Any = None) -> None:  # fmt: skip
        lpm.finish_destination(self, context, instance, network_info)
        lpm.announce_arrival(self, instance, network_info)

    def rollback_live_migration_at_source(self, context: Any, instance: Any, migrate_data: Any) -> None:
        lpm.rollback_source(self, context, instance, migrate_data)  # the partition stayed here

    def rollback_live_migration_at_destination(self, context: Any, instance: Any, network_info: Any,
                                               block_device_info: Any, destroy_disks: bool = True,
                                               migrate_data: Any = None) -> None:  # fmt: skip
        lpm.rollback_destination(self, instance, network_info)  # the shared disks stay: the source uses them

    # -- resize and cold migration (see :mod:`.migration`) --------------------------------------
    def migrate_disk_and_power_off(self, context: Any, instance: Any, dest: str, flavor: Any, network_info: Any,
                                   block_device_info: Any = None, timeout: int = 0,
                                   retry_interval: int = 0) -> str:  # fmt: skip
        return cold.migrate_disk_and_power_off(self, context, instance, dest, flavor, block_device_info, timeout)

    def finish_migration(self, context: Any, migration: Any, instance: Any, disk_info: Any, network_info: Any,
                         image_meta: Any, resize_instance: bool, allocations: Any, block_device_info: Any = None,
                         power_on: bool = True, share_info: Any = None) -> None:  # fmt: skip
        cold.finish_migration(self, context, migration, instance, network_info, block_device_info, power_on)

    def confirm_migration(self, context: Any, migration: Any, instance: Any, network_info: Any) -> None:
        cold.confirm_migration(self, migration, instance, network_info)

    def finish_revert_migration(self, context: Any, instance: Any, network_info: Any, migration: Any,
                                block_device_info: Any = None, power_on: bool = True,
                                share_info: Any = None) -> None:  # fmt: skip
        cold.finish_revert_migration(self, context, instance, migration, block_device_info, power_on)

    # -- evacuate (see :mod:`.evacuate`) ----------------------------------------------------------
    def instance_on_disk(self, instance: Any) -> bool:
        return evac.instance_on_disk(self, instance)

    def check_instance_shared_storage_local(self, context: Any, instance: Any) -> dict[str, str]:
        return evac.shared_storage_data(self)

    def check_instance_shared_storage_remote(self, context: Any, data: dict[str, str]) -> bool:
        return evac.same_storage(self, data)

    def check_instance_shared_storage_cleanup(self, context: Any, data: dict[str, str]) -> None:
        pass  # the check leaves nothing behind

    # -- console -----------------------------------------------------------------------------
    def get_vnc_console(self, context: Any, instance: Any) -> ctype.ConsoleVNC:
        return console.vnc(self.adapter, instance, CONF)

    # -- resources ---------------------------------------------------------------------------
    def _facts(self, system: pvm_ms.System | None = None) -> host.HostFacts:
        overhead = [*pvm_vios.VIOS.get(self.adapter), pvm_par.get_mgmt_partition(self.adapter)]
        total, used = self.disk.capacity_gb()
        return host.facts(system or self.host_wrapper(), overhead, total, used)

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        """Resources, with the SR-IOV pseudo-VFs as ``pci_passthrough_devices`` (see :mod:`.pci`).

        The node UUID is the one this driver started with (as ``get_nodenames_by_uuid``): nova's
        resource tracker would read the process-wide one, which nova's harness shares between computes.
        """
        system = self.host_wrapper()
        return {**host.available_resource(self._facts(system), nodename),
                "pci_passthrough_devices": pci.passthrough_devices(system),
                "uuid": next(iter(self.get_nodenames_by_uuid()))}  # fmt: skip

    def update_provider_tree(self, provider_tree: Any, nodename: str, allocations: Any = None) -> None:
        facts = self._facts()
        current = provider_tree.data(nodename).inventory
        inventory = host.inventory(facts, self._get_allocation_ratios(current), CONF.reserved_host_cpus,
                                   CONF.reserved_host_memory_mb, self._get_reserved_host_disk_gb_from_config())  # fmt: skip
        provider_tree.update_inventory(nodename, inventory)

    def get_host_cpu_stats(self) -> dict[str, int]:
        # One set of counters for the driver's life: they accumulate across samples, and a failure
        # to read PCM reaches the caller (and the log) instead of turning into zeros.
        if self._host_cpu is None:
            from powervm_openstack.telemetry.host_cpu import HostCpuCounters

            self._host_cpu = HostCpuCounters(self.adapter, self.host_uuid)
        try:
            return self._host_cpu.stats()
        except Exception:
            LOG.exception("Cannot read the PCM host CPU counters of system %s", self.host_uuid)
            raise

    def manage_image_cache(self, context: Any, all_instances: list[Any]) -> None:
        self.disk.manage_image_cache(context, all_instances)
