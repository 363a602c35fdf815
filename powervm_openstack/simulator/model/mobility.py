"""Live partition mobility between two simulators: the Migrate* jobs on a LogicalPartition.

pypowervm's ``tasks.migration`` runs ``LogicalPartition/<uuid>/do/MigrateValidate``, ``Migrate``,
``MigrateAbort`` and ``MigrateRecover``. A NovaLink manages one system, so a move to another host
names that host's NovaLink: ``TargetManagedSystemName`` and ``TargetRemoteHMCIPAddress``
(``host:port`` of the destination simulator; nova-powervm passed the destination's management IP
there). How the source reaches the destination is the simulator's choice, real firmware talks
between mover service partitions: the source posts the partition's package (``mobility_target``
lists its fields) as JSON to the destination's admin endpoints ``/sim/mobility/validate`` and
``/sim/mobility/receive``. Fault rules on the destination for ``POST`` and those paths fail a phase
(``when: before``: nothing moves; ``when: after``: the destination took the partition but the
source never heard, the case ``MigrateRecover`` finishes).

The source refuses (the job ends COMPLETED_WITH_ERROR naming the reason) a missing or own target
system name, a target without ``TargetRemoteHMCIPAddress`` or one that does not answer, a partition
neither running nor not activated (a not activated one makes an inactive migration, see
``mobility_inactive``), a running one whose RMC is not active (an IBM i
partition needs restricted I/O and an IBM i mobility capable system instead, as pypowervm's
``can_lpm`` checks), SR-IOV logical ports and vNICs, bad ``VlanMappings`` and adapters whose
network is hosted on the NovaLink without ``OVSOverride`` (``mobility_network``), and storage
that is not shared: virtual disks of a volume group and optical media (SAN hdisks and virtual FC
adapters move: ``model.mobility_storage``, which also reads ``VirtualSCSIMappings`` and
``VirtualFCMappings``). ``MigrateValidate`` stops there; ``Migrate`` then has the destination adopt
the partition and removes it, its client adapters and its vSCSI and vFC mappings here (not the
hdisks: they stay discovered), giving its memory and processing units back. Both stores log the
changes, so both event feeds see them. The job's results carry ``DowntimeMilliseconds``, the
simulator's model of the switch-over pause: 150 ms plus 1 ms per 64 MB of memory; the last move is
also kept per side (``GET /sim/mobility``). ``MigrateAbort`` cancels a ``Migrate`` still running
(simulators with ``job_seconds`` > 0), and fails when none is. ``MigrateRecover`` removes here a
partition the destination already holds, and otherwise fails saying there is nothing to recover.
A failed receive leaves the partition here with ``MigrationState`` ``Migration_Failed`` until
``MigrateRecover``; while a Migrate job waits (``job_seconds`` > 0) it reads ``Migration_Starting``
(``mobility_inactive``); otherwise ``Not_Migrating``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from powervm_openstack.simulator.model import (
    lpar_resources,
    mobility_inactive,
    mobility_network,
    mobility_storage,
    mobility_vfc,
)
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

_MAPS = "VirtualSCSIMappings/VirtualSCSIMapping"
_HTTP_TIMEOUT = 60.0
LAST_KEY = "mobility.last"


def install() -> None:
    register_job("LogicalPartition", "MigrateValidate", migrate_validate)
    register_job("LogicalPartition", "Migrate", migrate, queued=(mobility_inactive.queued, mobility_inactive.ended))
    register_job("LogicalPartition", "MigrateAbort", migrate_abort, cancels=("Migrate",))
    register_job("LogicalPartition", "MigrateRecover", migrate_recover)


def migrate_validate(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Check the move on both sides; change nothing."""
    assert part is not None
    target, package = _checked(txn, part, params)
    _post(target, "validate", package)
    return {"result": f"Partition {_name(part)} can migrate to {package['system']}."}


def migrate(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Move the partition to the destination (see the module docstring)."""
    assert part is not None
    target, package = _checked(txn, part, params)
    _post(target, "validate", package)
    try:
        _post(target, "receive", package)
    except JobFailed as exc:
        # The destination may hold the partition already: leave the trace MigrateRecover needs.
        txn.set_meta(f"{LAST_KEY}.attempt.{part.uuid}", json.dumps({"target": target, "system": package["system"]}))
        xml.set_text(part.element, "MigrationState", "Migration_Failed")
        txn.put(part, detail="Other")
        raise JobFailed(str(exc), keep_changes=True) from exc
    _remove_here(txn, part)
    return _record_move(txn, part, package["system"])


def migrate_abort(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Reached only after ``jobs`` cancelled a running Migrate on this partition."""
    assert part is not None
    return {"result": f"The migration of partition {_name(part)} was aborted."}


def migrate_recover(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Finish a move whose destination took the partition after the source lost the answer."""
    assert part is not None
    last = json.loads(txn.meta(f"{LAST_KEY}.attempt.{part.uuid}", "{}") or "{}")
    if not last:
        raise JobFailed(f"Partition {_name(part)} has no failed migration to recover.")
    reply = _post(last["target"], "status", {"uuid": part.uuid})
    if not reply.get("present"):
        txn.set_meta(f"{LAST_KEY}.attempt.{part.uuid}", "")
        xml.set_text(part.element, "MigrationState", "Not_Migrating")
        txn.put(part, detail="Other")
        return {"result": f"Partition {_name(part)} stays on this system; the destination does not hold it."}
    _remove_here(txn, part)
    return _record_move(txn, part, last["system"])


def _checked(txn: Transaction, part: Record, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
    system = lpar_resources.managed_system(txn)
    assert system is not None
    own = xml.text(system.element, "SystemName", "")
    target_name = params.get("TargetManagedSystemName", "").strip()
    if not target_name:
        raise JobFailed("The job parameter TargetManagedSystemName is required.")
    if target_name == own:
        raise JobFailed(f"The target managed system {target_name} is the partition's own system.")
    target = params.get("TargetRemoteHMCIPAddress", "").strip()
    if not target:
        raise JobFailed(
            f"The managed system {target_name} is not managed by this NovaLink; "
            "name its NovaLink in TargetRemoteHMCIPAddress."
        )
    kind = mobility_inactive.migration_type(part)
    if xml.text(part.element, "PartitionType") == "OS400":
        _check_ibmi(part, system)
    elif kind == mobility_inactive.ACTIVE:
        rmc = xml.text(part.element, "ResourceMonitoringControlState", "inactive")
        if rmc != "active":
            raise JobFailed(f"Partition {_name(part)} has RMC {rmc}; live migration needs an active RMC connection.")
    package = {
        "system": target_name,
        "source_system": system.uuid,
        "partition": xml.tostring(part.element),
        "adapters": _adapters(txn, part),
        "storage": _storage(txn, part),
        "vlan_override": params.get("VLANBridgeOverride") == "2",
        "proc_compat": mobility_inactive.compat_modes(kind, _compat_modes(part, system)),
        "ibmi": xml.text(part.element, "PartitionType") == "OS400",
        **mobility_network.package_fields(txn, part, params, _name(part)),  # VlanMappings, OVSOverride, SR-IOV
        **mobility_storage.package(txn, part, params, _mappings(txn, part)),
    }
    return target, package


def _check_ibmi(part: Record, system: Record) -> None:
    """IBM i moves without RMC, but only in restricted I/O mode from a system capable of IBM i mobility."""
    if xml.text(part.element, "IsRestrictedIOPartition", "false") != "true":
        raise JobFailed(f"IBM i partition {_name(part)} is not in restricted I/O mode; it cannot migrate.")
    if xml.text(system.element, "AssociatedSystemCapabilities/IBMiLogicalPartitionMobilityCapable") != "true":
        raise JobFailed(f"Managed system {xml.text(system.element, 'SystemName')} is not IBM i mobility capable.")


def _compat_modes(part: Record, system: Record) -> dict[str, str]:
    """The partition's current and preferred processor compatibility modes.

    A running partition whose current mode still reads ``default`` (the simulator does not set it at
    power-on) runs, as the hypervisor decides at activation, in its preferred mode, or with preferred
    ``default`` in the most featured mode of its host (the last of the host's supported modes).
    """
    preferred = xml.text(part.element, "PendingProcessorCompatibilityMode", "default") or "default"
    current = xml.text(part.element, "CurrentProcessorCompatibilityMode", "default") or "default"
    if current == "default":
        modes = [m.text for m in system.element.iter(xml.q("SupportedPartitionProcessorCompatibilityModes"))]
        current = preferred if preferred != "default" else next((m for m in reversed(modes) if m != "default"), "")
    return {"current": current, "preferred": preferred}


def _adapters(txn: Transaction, part: Record) -> list[dict[str, str]]:
    names = {xml.text(s.element, "SwitchID"): xml.text(s.element, "SwitchName") for s in txn.find("VirtualSwitch")}
    return [
        {
            "uuid": cna.uuid,
            "xml": xml.tostring(cna.element),
            "mac": xml.text(cna.element, "MACAddress", ""),
            "switch": names.get(xml.text(cna.element, "VirtualSwitchID"), "?"),
        }  # fmt: skip
        for cna in txn.find("ClientNetworkAdapter", part.uuid)
    ]


def _storage(txn: Transaction, part: Record) -> list[dict[str, str]]:
    """The partition's vSCSI mappings, refused unless each is a logical unit of an SSP."""
    items = []
    for vios, mapping in _mappings(txn, part):
        holder = xml.find(mapping, "Storage")
        if holder is None or not len(holder):
            continue
        dev, kind = holder[0], xml.local(holder[0])
        vname = xml.text(vios.element, "PartitionName")
        if kind == "PhysicalVolume":
            continue  # a SAN hdisk: model.mobility_storage
        if kind != "LogicalUnit":
            label = xml.text(dev, "DiskName") or xml.text(dev, "MediaName") or xml.text(dev, "VolumeName") or "?"
            raise JobFailed(
                f"Partition {_name(part)} uses {kind} {label} of VIOS {vname}, which is not on shared storage; "
                "only Shared Storage Pool logical units and SAN hdisks can move."
            )
        items.append({**_lu_item(txn, mapping, xml.text(dev, "UniqueDeviceID", "")), "vios": vname})
    return items


def _lu_item(txn: Transaction, mapping: Any, udid: str) -> dict[str, str]:
    lu = next(
        (r for r in txn.find_containing("LogicalUnit", udid) if xml.text(r.element, "UniqueDeviceID") == udid), None
    )
    if lu is None:
        raise JobFailed(f"Logical unit {udid} of the partition does not exist.")
    tier = txn.get("Tier", lu.parent_uuid or "")
    pool = txn.get("SharedStoragePool", tier.parent_uuid or "") if tier else None
    cluster = next(
        (c for c in txn.find("Cluster") if pool is not None and pool.uuid.upper() in xml.tostring(c.element).upper()),
        None,
    )
    return {"udid": udid, "lu": xml.tostring(lu.element), "lu_uuid": lu.uuid, "tier": lu.parent_uuid or "",
            "cluster": xml.text(cluster.element, "ClusterName", "?") if cluster else "?",
            "mapping": xml.tostring(mapping)}  # fmt: skip


def _mappings(txn: Transaction, part: Record) -> list[tuple[Record, Any]]:
    found = []
    for vios in txn.find("VirtualIOServer"):
        for mapping in xml.findall(vios.element, _MAPS):
            link = xml.find(mapping, "AssociatedLogicalPartition")
            if link is not None and (link.get("href") or "").upper().endswith(part.uuid.upper()):
                found.append((vios, mapping))
    return found


def _remove_here(txn: Transaction, part: Record) -> None:
    """Drop the partition, its adapters and mappings from this system, giving its resources back."""
    touched = {}
    for vios, mapping in _mappings(txn, part):
        mapping.getparent().remove(mapping)
        touched[vios.uuid] = vios
    for vios in touched.values():
        txn.put(vios, detail="VirtualSCSIMappings")
    mobility_vfc.remove_vfc_here(txn, part)
    for cna in txn.find("ClientNetworkAdapter", part.uuid):
        txn.delete(cna)
    system = lpar_resources.managed_system(txn)
    if system is not None and mobility_inactive.holds_resources(part):
        lpar_resources.reserve(txn, system, part, sign=+1)
    txn.delete(part)


def _record_move(txn: Transaction, part: Record, target_system: str) -> dict[str, str]:
    memory, _, _ = lpar_resources.resources(part.element)
    downtime = 150 + int(memory) // 64
    record = {"partition": part.uuid, "name": xml.text(part.element, "PartitionName"), "to": target_system,
              "downtime_ms": downtime, "completed": xml.now_ms()}  # fmt: skip
    results = {"result": f"Partition {_name(part)} migrated to {target_system}.", "DowntimeMilliseconds": str(downtime)}
    kind = mobility_inactive.ACTIVE if mobility_inactive.holds_resources(part) else mobility_inactive.INACTIVE
    mobility_inactive.move_record(kind, record, results)
    txn.set_meta(LAST_KEY, json.dumps(record))
    txn.set_meta(f"{LAST_KEY}.attempt.{part.uuid}", "")
    return results


def _post(target: str, phase: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://{target}/sim/mobility/{phase}", data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as reply:
            return json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        try:
            reasons = json.loads(body).get("reasons") or [json.loads(body).get("error", body)]
        except (ValueError, AttributeError):
            reasons = [body]
        raise JobFailed(f"The destination {target} refused the migration ({phase}): {' '.join(reasons)}") from exc
    except (OSError, ValueError) as exc:
        raise JobFailed(f"The destination NovaLink {target} is unreachable: {exc}") from exc


def _name(part: Record) -> str:
    return f"{xml.text(part.element, 'PartitionName', '?')} ({part.uuid})"
