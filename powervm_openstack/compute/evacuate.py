"""Evacuate and rebuild on shared storage: the destination reuses the boot LU and the adapter slots.

nova evacuates by calling ``spawn`` on the destination with the task state ``rebuild_spawning``;
a rebuild on the same host destroys the partition and its disk first and then spawns the same way.
Guarantees:
- ``existing_boot_disk``: while rebuild-spawning on shared storage (SSP), an existing boot LU of the
  instance is the evacuated instance's disk and is mapped as it is, not made anew from the image
  (a same-host rebuild deleted it first, so that one gets a new disk from the new image);
- ``instance_on_disk`` and the shared-storage checks tell nova the SSP disk is shared, so a source
  host that comes back destroys its copy of the partition with ``destroy_disks=False`` and the LU the
  destination uses stays;
- slots: after spawn (and after each interface attach or detach) the partition's client adapter
  slots are kept in the instance's ``system_metadata`` (``powervm_slots``: network adapters and
  SR-IOV vNICs by MAC, vSCSI client adapters by storage name), which lives in nova's database, not
  on the failed host; while rebuild-spawning, ``slot_plan`` makes the VIF drivers and vSCSI mappings
  ask for those slots, so the guest's devices keep their names. A vNIC's backing devices are chosen
  anew on the destination (its SR-IOV ports are other ports); only its slot and MAC are kept.
- not kept: the partition's NVRAM (nova-powervm kept it in Swift; this driver has no NVRAM store),
  so the firmware's boot list and settings are those of a new partition.
Simplified remote restart: pypowervm has no remote-restart job and NovaLink's REST API serves the
partition's ``SimplifiedRemoteRestartCapable`` flag only (``powervm:srr_capability``, on by default);
the restart on another host is an HMC/PowerVC operation. The destination therefore builds the
partition anew with the recorded slots (what nova-powervm did, from its slot store in Swift).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from typing import Any

from nova.compute import task_states
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute.disk.base import BootDisk

LOG = logging.getLogger(__name__)
SLOTS_KEY = "powervm_slots"
MGMT = "mgmt"  # the RMC management adapter's key: PowerVM gives it a new MAC on every build
_PLAN: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("powervm_slot_plan", default=None)


def rebuilding(instance: Any) -> bool:
    return getattr(instance, "task_state", None) == task_states.REBUILD_SPAWNING


def existing_boot_disk(driver: Any, instance: Any) -> BootDisk | None:
    """The boot LU an evacuated instance left on shared storage, or None (make one from the image)."""
    if not (rebuilding(instance) and driver.disk.shared_storage):
        return None
    disk = driver.disk.find_boot_disk(instance)
    if disk is not None:
        LOG.info("Rebuild of instance %s on host %s: reusing its boot disk %s (%s) on shared storage",
                 instance.uuid, driver.host_name, disk.name, disk.udid)  # fmt: skip
    return disk


def instance_on_disk(driver: Any, instance: Any) -> bool:
    """True when this host sees the instance's boot disk on shared storage."""
    return bool(driver.disk.shared_storage and driver.disk.find_boot_disk(instance) is not None)


def shared_storage_data(driver: Any) -> dict[str, str]:
    """What identifies this host's boot-disk storage, for the other host to compare.

    :raises NotImplementedError: local disks (nova then takes the storage as not shared).
    """
    if not driver.disk.shared_storage:
        raise NotImplementedError("boot disks are in a local volume group")
    return {"ssp_uuid": driver.disk.ssp_uuid}


def same_storage(driver: Any, data: dict[str, str]) -> bool:
    return bool(driver.disk.shared_storage and data.get("ssp_uuid") == driver.disk.ssp_uuid)


# -- slots -------------------------------------------------------------------------------------
def record_slots(driver: Any, instance: Any, save: bool = False) -> dict[str, Any]:
    """Keep the partition's client slots in ``instance.system_metadata`` (saved when ``save``)."""
    from powervm_openstack.compute.vif import mgmt

    lpar_uuid = _pvm_uuid(instance)
    try:
        switches = pvm_net.VSwitch.get(driver.adapter, parent_type="ManagedSystem", parent_uuid=driver.host_uuid)
        mgmt_ids = {s.switch_id for s in switches if s.name == mgmt.SWITCH}
        cnas = pvm_net.CNA.get(driver.adapter, parent_type=pvm_lpar.LPAR, parent_uuid=lpar_uuid)
        vnics = pvm_card.VNIC.get(driver.adapter, parent_type=pvm_lpar.LPAR, parent_uuid=lpar_uuid)
        vioses = pvm_vios.VIOS.get(driver.adapter, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
    except pvm_exc.Error:
        LOG.warning("Instance %s: cannot read its client slots now; the last recorded ones stay", instance.uuid,
                    exc_info=True)  # fmt: skip
        return {}
    slots: dict[str, Any] = {"cna": {(MGMT if c.vswitch_id in mgmt_ids else _mac(c.mac)): c.slot for c in cnas},
                             "vnic": {_mac(v.mac): v.slot for v in vnics}, "vscsi": {}}  # fmt: skip
    for vios in vioses:
        for m in vios.scsi_mappings:
            if m.backing_storage is None or not m.client_adapter or lpar_uuid not in (m.client_lpar_href or "").upper():
                continue
            slots["vscsi"].setdefault(m.backing_storage.name, []).append(m.client_adapter.lpar_slot_num)
    for name in slots["vscsi"]:
        slots["vscsi"][name].sort()
    instance.system_metadata[SLOTS_KEY] = json.dumps(slots, sort_keys=True)
    if save:
        instance.save()
    LOG.info("Instance %s: recorded client slots %s", instance.uuid, instance.system_metadata[SLOTS_KEY])
    return slots


@contextlib.contextmanager
def slot_plan(instance: Any) -> Iterator[None]:
    """While rebuild-spawning, ask for the slots recorded before (no plan otherwise)."""
    recorded = (getattr(instance, "system_metadata", None) or {}).get(SLOTS_KEY)
    plan = json.loads(recorded) if recorded and rebuilding(instance) else None
    if plan:
        LOG.info("Rebuild of instance %s: rebuilding client slots %s", instance.uuid, recorded)
    token = _PLAN.set(plan)
    try:
        yield
    finally:
        _PLAN.reset(token)


def cna_slot(mac: str) -> int | None:
    """The slot planned for the network adapter with ``mac`` or ``MGMT`` (None: the next free one)."""
    plan = _PLAN.get()
    return plan["cna"].get(mac if mac == MGMT else _mac(mac)) if plan else None


def vnic_slot(mac: str) -> int | None:
    """The slot planned for the SR-IOV vNIC with ``mac`` (None: the next free one; records before vNICs had none)."""
    plan = _PLAN.get()
    return plan.get("vnic", {}).get(_mac(mac)) if plan else None


def vscsi_slot(storage_name: str) -> int | None:
    """The client slot planned for the next mapping of ``storage_name`` (None: PowerVM chooses)."""
    plan = _PLAN.get()
    slots = plan["vscsi"].get(storage_name) if plan else None
    return slots.pop(0) if slots else None


def _mac(mac: str) -> str:
    return mac.replace(":", "").upper()


def _pvm_uuid(instance: Any) -> str:
    from powervm_openstack.compute import vm

    return vm.pvm_uuid_of(instance)
