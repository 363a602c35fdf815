"""Partition rules: power jobs (PowerOn / PowerOff) on LogicalPartition and VirtualIOServer.

RMC, the reference code and the uptime follow the power state (see ``dlpar``). Error texts carry the PowerVM message ids pypowervm recognises (already on / already off /
OS shutdown without RMC), so its progressive power-off logic behaves as on real hardware. An IBM i
partition takes an OS shutdown without RMC, as pypowervm's ``can_os_shutdown`` expects.
"""

from __future__ import annotations

from powervm_openstack.simulator.model import dlpar, pcm
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

_DOWN_STATES = ("not activated", "error", "not available")


def install() -> None:
    for group in ("LogicalPartition", "VirtualIOServer"):
        register_job(group, "PowerOn", power_on)
        register_job(group, "PowerOff", power_off)


def power_on(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Start a partition that is not running."""
    assert part is not None
    state = xml.text(part.element, "PartitionState", "")
    if state not in _DOWN_STATES:
        raise JobFailed(f"PVME01042026 Partition {_name(part)} is already powered on (state {state}).")
    _set_state(txn, part, "running")
    return {"result": "Partition powered on."}


def power_off(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Stop (or restart) a partition: VSP normal/immediate, or OS shutdown which needs RMC except on IBM i.

    pypowervm's ``PowerOffOpts.can_os_shutdown``: "OS shutdown is always available on IBMi partitions"
    (IBM i ends its jobs itself; AIX and Linux are asked to shut down through RMC).
    """
    assert part is not None
    state = xml.text(part.element, "PartitionState", "")
    if state in _DOWN_STATES:
        raise JobFailed(f"PVME04000005 Partition {_name(part)} is already powered off (state {state}).")
    operation = params.get("operation", "shutdown")
    if operation not in ("shutdown", "osshutdown", "dumprestart"):
        raise JobFailed(f"Unknown PowerOff operation {operation!r}; allowed: shutdown, osshutdown, dumprestart.")
    rmc = xml.text(part.element, "ResourceMonitoringControlState", "inactive")
    ibmi = xml.text(part.element, "PartitionType", "") == "OS400"  # IBM i shuts down without RMC (pypowervm)
    if operation == "osshutdown" and rmc != "active" and not ibmi:
        raise JobFailed(f"PVME01050905 OS shutdown of {_name(part)} needs an active RMC connection (RMC {rmc}).")
    restart = params.get("restart", "false").lower() == "true"
    _set_state(txn, part, "running" if restart else "not activated")
    return {"result": "Partition restarted." if restart else "Partition powered off."}


def _set_state(txn: Transaction, part: Record, state: str) -> None:
    """Move to ``state``; RMC, reference code and uptime follow it (``dlpar`` explains the RMC rule)."""
    was_down = xml.text(part.element, "PartitionState", "") in _DOWN_STATES
    xml.set_text(part.element, "PartitionState", state)
    if state in _DOWN_STATES:
        dlpar.set_rmc(part.element, "inactive")
        xml.set_text(part.element, "ReferenceCode", "00000000")
        xml.set_text(part.element, "Uptime", 0)
    elif was_down:
        dlpar.set_rmc(part.element, dlpar.rmc_after_start(txn, part))
    txn.put(part, detail="PartitionState,Other")
    pcm.on_state(txn, part, state)  # a (re)activation restarts the partition's PCM counters


def _name(part: Record) -> str:
    return f"{xml.text(part.element, 'PartitionName', '?')} ({part.uuid})"
