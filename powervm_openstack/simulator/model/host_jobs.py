"""Jobs pypowervm's tasks submit besides power: memory overhead, terminals, IBM i licences.

- ``ManagedSystem/do/QueryReservedMemoryRequiredForPartition`` (``tasks.memory``, used for host
  statistics): the memory a partition of the given desired and maximum memory and adapter counts
  needs, its desired memory included (pypowervm subtracts ``DesiredMemory`` to get the overhead).
  The simulator's overhead model, written down because pypowervm only reads the result: the
  hardware page table (1/64 of ``MaximumMemory``, PowerVM's default ratio), plus 1 MB per virtual
  adapter, rounded up to whole logical memory blocks (the system's ``MemoryRegionSize``). Results:
  ``RequiredMemory`` and the system's ``CurrentAvailableSystemMemory``, both in MB. Parameters
  must be whole numbers and the environment one of pypowervm's ``LPARType`` values, else the job
  fails naming the bad parameter;
- ``LogicalPartition|VirtualIOServer/do/CloseVterm`` (``tasks.vterm.close_vterm`` over a remote
  session): succeeds for an existing partition. The simulator's terminals are the local
  ``mkvterm`` ones (``simulator.vterm``); a remote session never opened one, so there is none to
  close;
- ``LogicalPartition/do/AddLicense`` (``tasks.partition.ibmi_add_license_key``): accepted for an
  IBM i partition with a non-empty ``licKey``, refused for any other partition type;
- ``ManagedSystem/do/RequestMaster`` and ``ReleaseMaster`` (``tasks.master_mode``, HMC
  co-management): RequestMaster with ``coManagementMasterStatus`` ``norm`` or ``temp`` makes this
  NovaLink the master (``IsPowerVMManagementMaster`` true, what ``System.session_is_master``
  reads); ReleaseMaster gives it up (false). The simulator has no HMC to hand mastership to, so a
  ``temp`` release does not restore another master.
"""

from __future__ import annotations

import math

from powervm_openstack.simulator.model.lpar_config import num
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

_ENVS = ("AIX/Linux", "OS400", "Virtual IO Server")
_ADAPTER_COUNTS = (
    "NumberOfVirtualEthernetAdapter",
    "NumberOfVirtualSCSIAdapter",
    "NumberOfVirtualFibreChannelAdapter",
)
_HPT_RATIO = 64


def install() -> None:
    register_job("ManagedSystem", "QueryReservedMemoryRequiredForPartition", reserved_memory)
    for group in ("LogicalPartition", "VirtualIOServer"):
        register_job(group, "CloseVterm", close_vterm)
    register_job("LogicalPartition", "AddLicense", add_license)
    register_job("ManagedSystem", "RequestMaster", request_master)
    register_job("ManagedSystem", "ReleaseMaster", release_master)


def _whole(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name, str(default))
    if not value.isdigit():
        raise JobFailed(f"Job parameter {name} {value!r} is not a whole number.")
    return int(value)


def reserved_memory(txn: Transaction, system: Record | None, params: dict[str, str]) -> dict[str, str]:
    """The hypervisor memory a partition would need (see the module docstring)."""
    assert system is not None
    env = params.get("LogicalPartitionEnvironment", "AIX/Linux")
    if env not in _ENVS:
        raise JobFailed(f"LogicalPartitionEnvironment {env!r} is not one of {', '.join(_ENVS)}.")
    desired = _whole(params, "DesiredMemory", 512)
    maximum = _whole(params, "MaximumMemory", desired)
    if maximum < desired:
        raise JobFailed(f"MaximumMemory {maximum} is below DesiredMemory {desired}.")
    adapters = sum(_whole(params, name, 0) for name in _ADAPTER_COUNTS)
    lmb = int(num(system.element, "AssociatedSystemMemoryConfiguration/MemoryRegionSize", 256)) or 256
    required = desired + math.ceil((maximum / _HPT_RATIO + adapters) / lmb) * lmb
    free = int(num(system.element, "AssociatedSystemMemoryConfiguration/CurrentAvailableSystemMemory"))
    return {"RequiredMemory": str(required), "CurrentAvailableSystemMemory": str(free)}


def close_vterm(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Close a partition's remote terminal (there is never one open: see the module docstring)."""
    assert part is not None
    return {"result": f"No virtual terminal is open for partition {xml.text(part.element, 'PartitionID')}."}


def add_license(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Submit an IBM i licence key."""
    assert part is not None
    ptype = xml.text(part.element, "PartitionType", "")
    if ptype != "OS400":
        raise JobFailed(f"AddLicense is for IBM i partitions; partition {part.uuid} is {ptype}.")
    if not params.get("licKey", "").strip():
        raise JobFailed("AddLicense needs a non-empty licKey.")
    return {"result": "License key accepted."}


_MASTER_MODES = ("norm", "temp")


def request_master(txn: Transaction, system: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Make this NovaLink the co-management master of ``system``."""
    assert system is not None
    mode = params.get("coManagementMasterStatus", "norm")
    if mode not in _MASTER_MODES:
        raise JobFailed(f"coManagementMasterStatus {mode!r} is not one of {', '.join(_MASTER_MODES)}.")
    return _set_master(txn, system, True)


def release_master(txn: Transaction, system: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Give up co-management mastership of ``system``."""
    assert system is not None
    return _set_master(txn, system, False)


def _set_master(txn: Transaction, system: Record, master: bool) -> dict[str, str]:
    elem = xml.find(system.element, "IsPowerVMManagementMaster")
    if elem is None:
        raise JobFailed(f"Managed system {system.uuid} does not report co-management (IsPowerVMManagementMaster).")
    elem.text = "true" if master else "false"
    txn.put(system, detail="IsPowerVMManagementMaster")
    return {"result": f"Master mode {'held' if master else 'released'}."}
