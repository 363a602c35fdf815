"""Host resources as nova and placement see them, from the ManagedSystem and the boot-disk storage.

- VCPU: the system's configurable whole processors; reserved: ``reserved_host_cpus`` plus the
  processing units the VIOSes and the NovaLink partition hold (rounded up);
- MEMORY_MB: configurable memory minus what the hypervisor uses; reserved:
  ``reserved_host_memory_mb`` plus the memory of the VIOSes and the NovaLink partition;
- DISK_GB: the volume group or Shared Storage Pool; reserved: ``reserved_host_disk_mb``.
Allocation ratios come from nova's own rules (``_get_allocation_ratios``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import os_resource_classes as orc
from nova.objects import fields as obj_fields

LOG = logging.getLogger(__name__)

HYPERVISOR_TYPE = "phyp"
#: reported as an integer, as nova's conductor compares versions numerically.
HYPERVISOR_VERSION = 1


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """What resource reporting needs, read once per periodic task."""

    proc_units: float
    proc_units_free: float
    memory_mb: int
    memory_free_mb: int
    firmware_memory_mb: int
    overhead_proc_units: float
    overhead_memory_mb: int
    disk_gb: float
    disk_used_gb: float


def facts(system: Any, overhead_parts: list[Any], disk_total_gb: float, disk_used_gb: float) -> HostFacts:
    """Facts from a ManagedSystem wrapper, the VIOS/NovaLink partition wrappers and the disk capacity."""
    units = sum(float(p.proc_config.shared_proc_cfg.desired_units if not p.proc_config.has_dedicated
                      else p.proc_config.dedicated_proc_cfg.desired) for p in overhead_parts)  # fmt: skip
    return HostFacts(
        proc_units=float(system.proc_units_configurable), proc_units_free=float(system.proc_units_avail),
        memory_mb=int(system.memory_configurable), memory_free_mb=int(system.memory_free),
        firmware_memory_mb=int(system.firmware_memory or 0), overhead_proc_units=units,
        overhead_memory_mb=sum(int(p.mem_config.desired) for p in overhead_parts),
        disk_gb=float(disk_total_gb), disk_used_gb=float(disk_used_gb),
    )  # fmt: skip


def available_resource(f: HostFacts, nodename: str) -> dict[str, Any]:
    """The dict ``ComputeDriver.get_available_resource`` returns."""
    vcpus = int(math.floor(f.proc_units))
    memory = f.memory_mb - f.firmware_memory_mb
    return {
        "vcpus": vcpus,
        "memory_mb": memory,
        "local_gb": int(f.disk_gb),
        "vcpus_used": int(math.ceil(max(f.proc_units - f.proc_units_free, 0.0))),
        "memory_mb_used": max(memory - f.memory_free_mb, 0),
        "local_gb_used": int(math.ceil(f.disk_used_gb)),
        "hypervisor_type": HYPERVISOR_TYPE,
        "hypervisor_version": HYPERVISOR_VERSION,
        "hypervisor_hostname": nodename,
        "cpu_info": "",
        "numa_topology": None,
        "disk_available_least": int(f.disk_gb - f.disk_used_gb),
        "supported_instances": [
            (obj_fields.Architecture.PPC64, HYPERVISOR_TYPE, obj_fields.VMMode.HVM),
            (obj_fields.Architecture.PPC64LE, HYPERVISOR_TYPE, obj_fields.VMMode.HVM),
        ],
        "stats": {"proc_units": f"{f.proc_units:.2f}", "proc_units_used": f"{f.proc_units - f.proc_units_free:.2f}"},
    }


def inventory(f: HostFacts, ratios: dict[str, float], reserved_cpus: int, reserved_memory_mb: int,
              reserved_disk_gb: int) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Placement inventory for the compute node's resource provider."""
    vcpus = max(int(math.floor(f.proc_units)), 1)
    memory = f.memory_mb - f.firmware_memory_mb
    disk = max(int(f.disk_gb), 1)
    return {
        orc.VCPU: {"total": vcpus, "min_unit": 1, "max_unit": vcpus, "step_size": 1,
                   "allocation_ratio": ratios[orc.VCPU],
                   "reserved": min(reserved_cpus + int(math.ceil(f.overhead_proc_units)), vcpus)},
        orc.MEMORY_MB: {"total": memory, "min_unit": 1, "max_unit": memory, "step_size": 1,
                        "allocation_ratio": ratios[orc.MEMORY_MB],
                        "reserved": min(reserved_memory_mb + f.overhead_memory_mb, memory)},
        orc.DISK_GB: {"total": disk, "min_unit": 1, "max_unit": disk, "step_size": 1,
                      "allocation_ratio": ratios[orc.DISK_GB], "reserved": min(reserved_disk_gb, disk)},
    }  # fmt: skip
