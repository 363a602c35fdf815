"""What a boot-disk driver provides to the compute driver.

A boot disk is named after its instance, so every operation can find it again from the instance
alone: ``destroy`` cleans up after a spawn that failed half way, or after a compute restart.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class BootDisk:
    """A boot disk: its name and UDID, the VIOSes that map it, and a storage reference for mappings."""

    name: str
    udid: str
    vioses: tuple[str, ...]
    ref: Any
    size_gb: float


class DiskAdapter(abc.ABC):
    """One way of keeping boot disks (a VIOS volume group, a Shared Storage Pool)."""

    #: nova capabilities this storage gives the driver.
    has_imagecache: bool = False
    shared_storage: bool = False

    def __init__(self, adapter: Any, host_uuid: str, conf: Any) -> None:
        self.adapter = adapter
        self.host_uuid = host_uuid
        self.conf = conf

    @abc.abstractmethod
    def check(self) -> None:
        """Find the configured storage now; raise PowerVMConfigError naming what is missing."""

    @abc.abstractmethod
    def capacity_gb(self) -> tuple[float, float]:
        """(total, used) GB of the storage boot disks come from."""

    @abc.abstractmethod
    def create_boot_disk(self, context: Any, instance: Any, image_meta: Any, size_gb: int) -> BootDisk:
        """Create the instance's boot disk with the image's contents.

        The caller owns the result: on a later failure it calls ``delete_boot_disk``.
        """

    @abc.abstractmethod
    def find_boot_disk(self, instance: Any) -> BootDisk | None:
        """The instance's boot disk, or None when there is none."""

    @abc.abstractmethod
    def delete_boot_disk(self, instance: Any) -> bool:
        """Delete the instance's boot disk; False when there was none. Mappings must be gone first."""

    # -- the rescue disk (``rescue``): a second disk from the rescue image, named after its instance too --
    def create_rescue_disk(self, context: Any, instance: Any, image_meta: Any, size_gb: int) -> BootDisk:
        """Create the instance's rescue disk from ``image_meta``; the caller deletes it on a later failure."""
        raise NotImplementedError(f"{type(self).__name__} has no rescue disks")

    def find_rescue_disk(self, instance: Any) -> BootDisk | None:
        """The instance's rescue disk, or None."""
        return None

    def delete_rescue_disk(self, instance: Any) -> bool:
        """Delete the instance's rescue disk (mappings gone first); False when there was none."""
        return False

    def snapshot_source(self, instance: Any) -> tuple[BootDisk, Any]:
        """The disk to read a snapshot from and how to remove it afterwards (default: the boot disk itself)."""
        disk = self.find_boot_disk(instance)
        if disk is None:
            raise LookupError(f"instance {instance.uuid} has no boot disk")
        return disk, lambda: None

    def manage_image_cache(self, context: Any, all_instances: list[Any]) -> None:  # noqa: B027 - optional hook
        """Remove cached images no instance uses (drivers with an image cache)."""
