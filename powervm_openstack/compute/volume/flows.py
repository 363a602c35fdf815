"""Volumes in the instance's life: attach, detach, and the block devices of spawn and destroy.

Errors PowerVM reports become nova's ``VolumeAttachFailed``/``VolumeDetachFailed`` naming the
volume; an attach that fails has already undone itself (``hdisk.HdiskVolume.attach``).
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from nova.virt import driver as nova_driver
from pypowervm import exceptions as pvm_exc

from powervm_openstack.compute.volume import select

LOG = logging.getLogger(__name__)


def _volume_id(connection_info: dict) -> str:
    return connection_info.get("data", {}).get("volume_id") or connection_info.get("serial") or "?"


def attach(
    adapter: Any, conf: Any, lpar: Any, connection_info: dict, instance: Any = None, host_uuid: str = ""
) -> None:
    try:
        select.adapter_for(adapter, conf, lpar, connection_info, instance, host_uuid).attach()
    except pvm_exc.Error as err:
        raise nova_exc.VolumeAttachFailed(volume_id=_volume_id(connection_info), reason=str(err)) from err


def detach(
    adapter: Any, conf: Any, lpar: Any, connection_info: dict, instance: Any = None, host_uuid: str = ""
) -> None:
    try:
        select.adapter_for(adapter, conf, lpar, connection_info, instance, host_uuid).detach()
    except pvm_exc.Error as err:
        raise nova_exc.VolumeDetachFailed(volume_id=_volume_id(connection_info), reason=str(err)) from err


def volumes(block_device_info: Any) -> list[Any]:
    """The volume block devices, the boot volume first."""
    bdms = nova_driver.block_device_info_get_mapping(block_device_info) or []
    return sorted(bdms, key=lambda b: (b.get("boot_index") is None or b.get("boot_index") < 0, b.get("boot_index")
                                       or 0))  # fmt: skip


def boots_from_volume(block_device_info: Any) -> bool:
    """Whether the root disk is a volume (a volume block device with boot index 0)."""
    return any(b.get("boot_index") == 0 for b in volumes(block_device_info))


def save(bdm: Any) -> None:
    """Persist what the attach added to the connection info (``target_UDID``), where nova lets us."""
    try:
        bdm.save()
    except Exception as err:  # a plain dict in nova's generic driver tests has no save()
        LOG.debug("Block device %s not saved: %s", bdm.get("mount_device"), err)
