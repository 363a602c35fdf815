"""The NovaLink (management) partition as a reader of instance disks, for snapshots.

A boot disk mapped to the NovaLink partition appears as a SCSI disk once the partition's vSCSI bus
is rescanned; it is found by its UDID under ``/dev/disk/by-id``. Reading it needs the nova-compute
user to have read access to the device (e.g. membership of the ``disk`` group).
"""

from __future__ import annotations

import glob
import logging
import os
import time

from powervm_openstack.compute import exception as exc

LOG = logging.getLogger(__name__)

#: Where the kernel shows devices; a test points these at the simulator's device directory, the
#: all-in-one cloud's nova-compute with ``POWERVM_DEVICE_ROOT`` (its simulator's ``--mgmt-device-dir``).
DEV_ROOT = os.environ.get("POWERVM_DEVICE_ROOT", "/dev")
SYS_ROOT = "/sys"


def rescan_vscsi() -> None:
    """Ask every vSCSI host adapter of this partition to scan for new disks (best effort)."""
    for scan in glob.glob(os.path.join(SYS_ROOT, "bus/vio/devices/*/host*/scsi_host/host*/scan")):
        try:
            with open(scan, "w") as handle:
                handle.write("- - -")
        except OSError as err:
            LOG.warning("Could not rescan %s: %s", scan, err)


def find_disk(udid: str, timeout: float = 60.0, interval: float = 0.5) -> str:
    """The device path of the disk with ``udid`` mapped to this partition.

    :raises DeviceNotFoundOnMgmt: it did not appear within ``timeout`` seconds.
    """
    pattern = os.path.join(DEV_ROOT, "disk", "by-id", f"*{udid[-32:]}")
    deadline = time.monotonic() + timeout
    rescan_vscsi()
    while True:
        found = sorted(glob.glob(pattern))
        if found:
            LOG.info("Disk %s appeared on the NovaLink partition as %s", udid, found[0])
            return found[0]
        if time.monotonic() > deadline:
            raise exc.DeviceNotFoundOnMgmt(udid=udid, path=os.path.dirname(pattern), seconds=int(timeout))
        time.sleep(interval)
