"""Inactive partition mobility, and a partition's ``MigrationState`` while a Migrate job waits.

What real PowerVM does, and the choices made here:

- ``Migrate`` / ``MigrateValidate`` of a partition that is ``not activated`` is an inactive
  migration (IBM, *Live Partition Mobility*: "Inactive Partition Mobility allows you to move a
  powered off AIX and Linux logical partition"; IBM i too, under the same IBM i rules as an active
  move). Any other state but ``running`` (``starting``, ``open firmware``, ``error``, ...) is
  refused, naming the state and the two that can move.
- No RMC is asked of the partition: IBM's validation tables check the RMC connections of the
  mobile partition only for an active migration (for an inactive one, only those of the VIOSes,
  which the simulator does not model). Nothing of memory is copied: the job reports no
  ``DowntimeMilliseconds`` (the partition was not running) and ``GET /sim/mobility`` records
  ``"type": "inactive"`` with ``downtime_ms`` 0.
- Capacity: the destination checks the partition's *desired* memory and processing units against
  what it has available, as for an active move. IBM lists the processing and memory checks for
  both kinds (the destination creates the partition with that configuration); NovaLink keeps no
  partition profiles, so the partition's own desired values are its configuration (on an HMC the
  inactive mobility policy chooses between the partition's configuration and its last activated
  profile). A not activated partition holds none of a system's memory or processing units in this
  simulator (``lpar_resources``), so neither side's available values change: the partition
  arrives ``not activated``, and its PowerOn there is checked as any other.
- Processor compatibility: only the preferred mode is checked; a stopped partition's current mode
  is decided at its next activation (IBM: the hypervisor sets the current mode when the partition
  starts), so it is not sent.
- Storage and adapters follow the same rules as an active move (shared storage, bridged VLANs).

``MigrationState`` (pypowervm ``LPAR.migration_state``: "e.g. 'Not_Migrating',
'Migration_Starting', 'Migration_Failed', etc."): a Migrate job runs in one transaction, so on a
simulator with ``job_seconds`` 0 no in-between value can be read. With ``job_seconds`` > 0 the job
waits before it runs, and while it waits a fresh GET of the partition on the source reads
``Migration_Starting``; when the job ends (or ``MigrateAbort`` cancels it) a partition still here
reads ``Not_Migrating`` again, unless the receive failed (``Migration_Failed``, kept for
``MigrateRecover``, see ``mobility``). The destination holds nothing until the job runs, and its
partition reads ``Not_Migrating`` from the start. The enumeration's other in-progress values are
not named by pypowervm and are not used.
"""

from __future__ import annotations

from typing import Any

from powervm_openstack.simulator.model import lpar_resources
from powervm_openstack.simulator.runtime.jobs import JobFailed
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

ACTIVE, INACTIVE = "active", "inactive"
STARTING, IDLE = "Migration_Starting", "Not_Migrating"


def migration_type(part: Record) -> str:
    """``active`` for a running partition, ``inactive`` for a not activated one.

    :raises JobFailed: any other partition state, named.
    """
    state = xml.text(part.element, "PartitionState", "") or "?"
    if state == "running":
        return ACTIVE
    if state == "not activated":
        return INACTIVE
    name = f"{xml.text(part.element, 'PartitionName', '?')} ({part.uuid})"
    raise JobFailed(
        f"Partition {name} is {state}; only a running partition (active migration) or a not activated one "
        "(inactive migration) can migrate."
    )


def compat_modes(kind: str, modes: dict[str, str]) -> dict[str, str]:
    """The processor compatibility modes the destination checks: the preferred only for an inactive move."""
    return {**modes, "current": ""} if kind == INACTIVE else modes


def holds_resources(part: Record | Any) -> bool:
    """Whether the partition (a Record or its element) holds memory and processing units of its system."""
    elem = part.element if isinstance(part, Record) else part
    return xml.text(elem, "PartitionState", "") not in lpar_resources.DOWN_STATES


def move_record(kind: str, record: dict[str, Any], results: dict[str, str]) -> None:
    """Mark the last-move record and the job results of an inactive move: no switch-over pause."""
    record["type"] = kind
    if kind == INACTIVE:
        record["downtime_ms"] = 0
        results.pop("DowntimeMilliseconds", None)


def queued(txn: Transaction, part: Record) -> None:
    """A Migrate job waits to run: the partition reads ``Migration_Starting``."""
    xml.set_text(part.element, "MigrationState", STARTING)
    txn.put(part, detail="Other")


def ended(txn: Transaction, part: Record) -> None:
    """The job ran or was cancelled and the partition is still here: back to ``Not_Migrating``."""
    if xml.text(part.element, "MigrationState", IDLE) == STARTING:
        xml.set_text(part.element, "MigrationState", IDLE)
        txn.put(part, detail="Other")
