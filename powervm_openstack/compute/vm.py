"""Partition operations for nova instances: identity, create, delete, power, state.

A nova instance's partition has the PowerVM form of the instance UUID (first bit cleared, upper
case, ``pypowervm.utils.uuid.convert_uuid_to_pvm``) and the instance name, sanitized to PowerVM's
1-31 character rule. Power operations on one partition are serialized by an in-process lock
``power-<uuid>`` (a stop racing a start gave users stuck states in the retired driver).
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from nova.compute import power_state
from oslo_concurrency import lockutils
from pypowervm import exceptions as pvm_exc
from pypowervm import util as pvm_util
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import power_opts as pvm_popts
from pypowervm.utils import lpar_builder as pvm_lb
from pypowervm.utils import uuid as pvm_uuid
from pypowervm.wrappers import base_partition as pvm_bp
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import shared_proc_pool as pvm_spp

from powervm_openstack.compute import committed, ibmi, partition_spec
from powervm_openstack.compute import exception as exc

LOG = logging.getLogger(__name__)

#: PowerVM partition state -> nova power state.
POWER_STATES = {
    "running": power_state.RUNNING,
    "open firmware": power_state.RUNNING,
    "starting": power_state.RUNNING,
    "shutting down": power_state.RUNNING,
    "hardware discovery": power_state.RUNNING,
    "migrating running": power_state.RUNNING,
    "resuming": power_state.RUNNING,
    "not activated": power_state.SHUTDOWN,
    "migrating not active": power_state.SHUTDOWN,
    "suspended": power_state.SUSPENDED,
    "suspending": power_state.SUSPENDED,
    "error": power_state.CRASHED,
    "not available": power_state.NOSTATE,
    "unknown": power_state.NOSTATE,
}
DOWN_STATES = ("not activated", "error", "not available", "migrating not active")


def pvm_uuid_of(instance: Any) -> str:
    """The partition UUID of a nova instance."""
    return pvm_uuid.convert_uuid_to_pvm(instance.uuid).upper()


def partition_name(instance: Any) -> str:
    return pvm_util.sanitize_partition_name_for_api(instance.name)


def power_state_of(state: str | None) -> int:
    return POWER_STATES.get((state or "unknown").lower(), power_state.NOSTATE)


def get(adapter: Any, instance: Any) -> pvm_lpar.LPAR:
    """The instance's partition wrapper.

    :raises nova.exception.InstanceNotFound: no partition with the instance's PowerVM UUID.
    """
    try:
        return pvm_lpar.LPAR.get(adapter, uuid=pvm_uuid_of(instance))
    except pvm_exc.HttpNotFound:
        raise nova_exc.InstanceNotFound(instance_id=instance.uuid) from None


def exists(adapter: Any, instance: Any) -> bool:
    try:
        get(adapter, instance)
    except nova_exc.InstanceNotFound:
        return False
    return True


def create(adapter: Any, host: pvm_ms.System, instance: Any, flavor: Any, defaults: partition_spec.Defaults,
           max_slots: int = 64) -> pvm_lpar.LPAR:  # fmt: skip
    """Create the instance's partition (powered off) from its flavor and extra specs.

    :raises InvalidExtraSpec: the flavor asks for something invalid (named in the message).
    :raises PartitionCreateFailed: PowerVM refused the partition; the message is PowerVM's.
    """
    name = partition_name(instance)
    spec = partition_spec.Flavor(int(flavor.vcpus), int(flavor.memory_mb), dict(flavor.extra_specs or {}))
    is_ibmi = ibmi.is_ibmi(instance)
    ibmi.settings(spec.extra_specs, is_ibmi)
    if is_ibmi:
        ibmi.check_host(host, name, instance.uuid)
    env = ibmi.ENV if is_ibmi else "AIX/Linux"
    attrs = partition_spec.build_attrs(name, pvm_uuid_of(instance), spec, defaults, env)
    attrs["max_io_slots"] = max_slots
    pool_name = attrs.pop("proc_pool_name", None)
    if pool_name:
        attrs["proc_pool"] = _pool_id(adapter, host, pool_name)
    try:
        std = pvm_lb.DefaultStandardize(host, proc_units_factor=defaults.proc_units_factor,
                                        uncapped_weight=defaults.uncapped_weight, max_slots=max_slots)  # fmt: skip
        wrapper = pvm_lb.LPARBuilder(adapter, attrs, std).build()
    except (pvm_lb.LPARBuilderException, ValueError) as err:
        raise exc.PartitionCreateFailed(name=name, instance=instance.uuid, reason=str(err)) from err
    try:
        lpar = committed.apply(f"Create partition {name}", lambda: wrapper.create(parent=host),
                               lambda: _committed_partition(adapter, attrs["uuid"], name))  # fmt: skip
    except pvm_exc.HttpError as err:
        raise exc.PartitionCreateFailed(name=name, instance=instance.uuid, reason=_api_message(err)) from err
    LOG.info("Created %s partition %s (%s, id %s) for instance %s: %s vCPU, %s MB", env, name, lpar.uuid, lpar.id,
             instance.uuid, attrs["vcpu"], attrs["memory"])  # fmt: skip
    return lpar


def _committed_partition(adapter: Any, uuid: str, name: str) -> pvm_lpar.LPAR | None:
    """The partition a create whose reply was lost made, or None."""
    try:
        found = pvm_lpar.LPAR.get(adapter, uuid=uuid)
    except pvm_exc.Error:
        return None
    return found if found.name == name else None


def _pool_id(adapter: Any, host: pvm_ms.System, pool_name: str) -> int:
    pools = pvm_spp.SharedProcPool.get(adapter, parent=host)
    for pool in pools:
        if pool.name == pool_name:
            return int(pool.id)
    known = ", ".join(sorted(p.name for p in pools)) or "none"
    raise exc.InvalidExtraSpec(key="powervm:shared_proc_pool_name", value=pool_name,
                               reason=f"no such shared processor pool on this host; known: {known}")  # fmt: skip


def delete(adapter: Any, instance: Any) -> None:
    """Delete the instance's partition; a partition already gone is not an error."""
    uuid = pvm_uuid_of(instance)

    def gone() -> bool | None:
        try:
            pvm_lpar.LPAR.get(adapter, uuid=uuid)
        except pvm_exc.HttpNotFound:
            return True
        except pvm_exc.Error:
            pass
        return None

    try:
        committed.apply(f"Delete partition {uuid}", lambda: adapter.delete(pvm_lpar.LPAR.schema_type, root_id=uuid),
                        gone)  # fmt: skip
    except pvm_exc.HttpNotFound:
        LOG.info("Partition %s of instance %s is already gone", uuid, instance.uuid)
        return
    except pvm_exc.HttpError as err:
        raise exc.PowerVMOperationFailed(action="delete the partition", instance=instance.uuid,
                                         reason=_api_message(err)) from err  # fmt: skip
    LOG.info("Deleted partition %s of instance %s", uuid, instance.uuid)


def power_on(adapter: Any, instance: Any, remove_optical: tuple[str, int] | None = None,
             bootmode: str | None = None) -> None:  # fmt: skip
    """Start the partition (``bootmode``: a ``PowerOnOpts`` boot mode); one already running is left alone."""
    with lockutils.lock(f"power-{instance.uuid}"):
        lpar = get(adapter, instance)
        if lpar.state.lower() not in DOWN_STATES:
            LOG.info("Partition %s of instance %s is already %s; not starting it", lpar.uuid, instance.uuid, lpar.state)
            return
        opts = pvm_popts.PowerOnOpts()
        if bootmode:
            opts.bootmode(bootmode)
        if remove_optical:
            opts.remove_optical(remove_optical[0], time=remove_optical[1])
        try:
            pvm_power.PowerOp.start(lpar, opts=opts)
        except pvm_exc.Error as err:
            raise exc.PowerVMOperationFailed(action="power on", instance=instance.uuid, reason=str(err)) from err
        LOG.info("Powered on partition %s of instance %s", lpar.uuid, instance.uuid)


def power_off(adapter: Any, instance: Any, timeout: int = 0) -> None:
    """Stop the partition: an OS shutdown given ``timeout`` seconds first, then a hard stop.

    ``timeout`` 0 stops at once (VSP hard). A partition that is already down is left alone.
    """
    with lockutils.lock(f"power-{instance.uuid}"):
        lpar = get(adapter, instance)
        if lpar.state.lower() in DOWN_STATES:
            LOG.info("Partition %s of instance %s is already %s; not stopping it", lpar.uuid, instance.uuid, lpar.state)
            return
        _stop(lpar, instance, timeout, restart=False)


def reboot(adapter: Any, instance: Any, hard: bool, timeout: int = 60) -> None:
    """Restart the partition (soft: OS restart with ``timeout``, then hard); start it when it is down."""
    with lockutils.lock(f"power-{instance.uuid}"):
        lpar = get(adapter, instance)
        if lpar.state.lower() in DOWN_STATES:
            LOG.info("Reboot of instance %s: partition %s is %s; starting it", instance.uuid, lpar.uuid, lpar.state)
            try:
                pvm_power.PowerOp.start(lpar)
            except pvm_exc.Error as err:
                raise exc.PowerVMOperationFailed(action="reboot (start)", instance=instance.uuid,
                                                 reason=str(err)) from err  # fmt: skip
            return
        _stop(lpar, instance, 0 if hard else timeout, restart=True)


def _stop(lpar: pvm_lpar.LPAR, instance: Any, timeout: int, restart: bool) -> None:
    action = "restart" if restart else "power off"
    try:
        if timeout > 0:
            LOG.info("%s of partition %s (instance %s): OS shutdown first, hard stop after %d s",
                     action.capitalize(), lpar.uuid, instance.uuid, timeout)  # fmt: skip
            pvm_power.power_off_progressive(lpar, restart=restart, ibmi_immed=False, timeout=timeout)
        else:
            opts = pvm_popts.PowerOffOpts().vsp_hard()
            if restart:
                opts.restart()
            LOG.info("%s of partition %s (instance %s): hard (VSP immediate)", action.capitalize(), lpar.uuid,
                     instance.uuid)  # fmt: skip
            pvm_power.PowerOp.stop(lpar, opts=opts)
    except pvm_exc.Error as err:
        raise exc.PowerVMOperationFailed(action=action, instance=instance.uuid, reason=str(err)) from err


def _api_message(err: pvm_exc.HttpError) -> str:
    her = getattr(err, "her_wrap", None)
    return her.message if her is not None and her.message else str(err)


def is_rmc_active(lpar: pvm_bp.BasePartition) -> bool:
    return (lpar.rmc_state or "").lower() == "active"
