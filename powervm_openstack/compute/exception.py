"""Exceptions of the compute driver, as nova exceptions so nova records them as the server's fault.

Each message names the partition (nova instance and PowerVM UUID) or the value that was refused.
``InvalidExtraSpec`` is an ``InvalidInput``, so a bad flavor aborts the build without a reschedule.
"""

from __future__ import annotations

from nova import exception as nova_exc


class InvalidExtraSpec(nova_exc.InvalidInput):
    msg_fmt = "Flavor extra spec %(key)s=%(value)r is not valid: %(reason)s"


class PartitionCreateFailed(nova_exc.NovaException):
    msg_fmt = "PowerVM could not create partition %(name)s for instance %(instance)s: %(reason)s"


class PowerVMOperationFailed(nova_exc.NovaException):
    msg_fmt = "PowerVM could not %(action)s for instance %(instance)s: %(reason)s"


class DiskNotFound(nova_exc.NovaException):
    msg_fmt = "The boot disk %(name)s of instance %(instance)s was not found on %(where)s."


class DeviceNotFoundOnMgmt(nova_exc.NovaException):
    msg_fmt = "Disk %(udid)s mapped to the NovaLink partition did not appear under %(path)s within %(seconds)d s."
