"""Partition mobility, destination side: check and adopt a partition another simulator sends.

The source simulator's Migrate job (``model.mobility``) posts the partition's package as JSON to
this simulator's ``/sim/mobility/validate`` and then ``/sim/mobility/receive`` (``http.admin``).
The package: ``system`` (TargetManagedSystemName), ``source_system`` (the source system's UUID,
replaced by this system's in every document), ``partition`` (the LogicalPartition XML),
``adapters`` (its ClientNetworkAdapter XMLs, each with the source switch's name), ``storage``
(its vSCSI mappings, each with the logical unit and the name of the SSP cluster it lives in) and
``vlan_override`` (``VLANBridgeOverride=2``). Validation refuses, naming the reason:
- a TargetManagedSystemName that is not this system, or a partition UUID already here;
- memory or processing units beyond what this system has available;
- an IBM i partition when this system is not IBM i mobility capable;
- a current or preferred processor compatibility mode this system does not support (IBM: "both the
  current and preferred processor compatibility modes of the logical partition must be supported by
  the destination server"; preferred ``default`` always is). The HSCL code of that refusal is not
  known here, so the message carries none;
- an adapter whose virtual switch does not exist here, or whose VLAN (the one ``VlanMappings``
  gives it, else its own) no NetworkBridge here carries (unless overridden; with ``OVSOverride`` a
  NovaLink trunk carrying it counts, see ``mobility_network``; adapters on ``MGMTSWITCH``, the RMC
  path, need no bridge);
- a logical unit of a cluster this system's VIOSes are not nodes of;
- SAN hdisks and virtual FC adapters this system cannot serve (``model.mobility_storage``).
Shared storage is modelled by identity: two simulators whose topologies name the same SSP pool and
cluster share its Tier UUID, and a received logical unit is recorded under this side's Tier. A
received partition keeps its UUID, client adapters (slots, MACs; a mapped adapter gets the mapped
VLANs) and client vSCSI slots; its partition id is kept when free, else the next free one; the
server adapters go on the VIOS of the cluster named as the source's (else its first), in free slots.
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree

from powervm_openstack.simulator.model import lpar_resources, mobility_inactive, mobility_network, mobility_storage
from powervm_openstack.simulator.runtime.jobs import JobFailed
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

MGMT_SWITCH = "MGMTSWITCH"


def validate(txn: Transaction, package: dict[str, Any]) -> list[str]:
    """Why this system cannot take the package's partition (empty when it can)."""
    system = lpar_resources.managed_system(txn)
    if system is None:
        return ["The destination has no managed system."]
    own = xml.text(system.element, "SystemName", "")
    if package.get("system") != own:
        return [f"The managed system {package.get('system')!r} is not managed here (this NovaLink manages {own!r})."]
    part = _doc(package["partition"], package, system)
    name = xml.text(part, "PartitionName", "?")
    uuid = xml.text(part, "PartitionUUID", "") or ""
    reasons = []
    if uuid and txn.get(None, uuid) is not None:
        reasons.append(f"Partition {name} ({uuid}) already exists on {own}.")
    reasons += _capacity(system, part, name, own)
    reasons += _compat(system, package.get("proc_compat") or {}, name, own)
    caps = "AssociatedSystemCapabilities/IBMiLogicalPartitionMobilityCapable"
    if package.get("ibmi") and xml.text(system.element, caps) != "true":
        reasons.append(f"IBM i partition {name} cannot move to {own}: it is not IBM i mobility capable.")
    switches = {xml.text(s.element, "SwitchName"): s for s in txn.find("VirtualSwitch")}
    bridged = mobility_network.bridged_vlans(txn, package)
    for cna in package.get("adapters", []):
        switch, pvid = cna["switch"], mobility_network.target_vlans(cna, package)[0]
        if switch not in switches:
            reasons.append(f"Virtual switch {switch} of adapter {cna['mac']} does not exist on {own}.")
        elif switch != MGMT_SWITCH and not package.get("vlan_override") and (switch, pvid) not in bridged:
            reasons.append(f"VLAN {pvid} on {switch} (adapter {cna['mac']}) is not bridged by any VIOS on {own}.")
    for item in package.get("storage", []):
        if _cluster_vios(txn, item["cluster"]) is None:
            reasons.append(
                f"Logical unit {item['udid']} is in cluster {item['cluster']}, which no VIOS of {own} is in."
            )
    reasons += mobility_storage.validate(txn, package, own, _lu_vios(txn, package))
    return reasons


def _lu_vios(txn: Transaction, package: dict[str, Any]) -> Any:
    """``source VIOS name -> the VIOS here its logical units go to`` (see ``_map``)."""
    clusters = [item["cluster"] for item in package.get("storage", [])]
    return lambda source: _cluster_vios(txn, clusters[0], prefer=source) if clusters else None


def receive(txn: Transaction, package: dict[str, Any]) -> Record:
    """Adopt the package's partition, its adapters and mappings (validated again first)."""
    reasons = validate(txn, package)
    if reasons:
        raise JobFailed(" ".join(reasons))
    system = lpar_resources.managed_system(txn)
    assert system is not None
    elem = _doc(package["partition"], package, system)
    uuid = xml.text(elem, "PartitionUUID")
    part = Record("LogicalPartition", uuid, elem, "ManagedSystem", system.uuid, title="LogicalPartition")
    lpar_id = _free_id(txn, int(xml.text(elem, "PartitionID", "0") or 0))
    xml.set_text(elem, "PartitionID", lpar_id)
    xml.set_text(elem, "MigrationState", "Not_Migrating")
    if mobility_inactive.holds_resources(part):  # a not activated partition (inactive move) holds none
        lpar_resources.reserve(txn, system, part, sign=-1)
    txn.put(part, detail="Other")
    switches = {xml.text(s.element, "SwitchName"): s for s in txn.find("VirtualSwitch")}
    for cna in package.get("adapters", []):
        txn.put(_adapter(cna, package, system, switches[cna["switch"]], lpar_id, uuid))
    for item in package.get("storage", []):
        _map(txn, system, item, package, lpar_id)
    lu_vios = _lu_vios(txn, package)
    mobility_storage.receive(txn, package, xml.text(system.element, "SystemName", ""), lu_vios, lpar_id,
                             lambda text: _doc(text, package, system))  # fmt: skip
    return part


def _doc(text: str, package: dict[str, Any], system: Record) -> etree._Element:
    return xml.parse(text.replace(package.get("source_system", "\0"), system.uuid))


def _capacity(system: Record, part: etree._Element, name: str, own: str) -> list[str]:
    memory, units, _ = lpar_resources.resources(part)
    free_mem = float(xml.text(system.element, "AssociatedSystemMemoryConfiguration/CurrentAvailableSystemMemory", "0"))
    free_units = float(
        xml.text(system.element, "AssociatedSystemProcessorConfiguration/CurrentAvailableSystemProcessorUnits", "0")
    )
    reasons = []
    if memory > free_mem:
        reasons.append(f"Partition {name} needs {memory:g} MB of memory; {own} has {free_mem:g} MB available.")
    if units > free_units + 1e-9:
        reasons.append(f"Partition {name} needs {units:g} processing units; {own} has {free_units:g} available.")
    return reasons


def _compat(system: Record, modes: dict[str, str], name: str, own: str) -> list[str]:
    supported = [m.text for m in system.element.iter(xml.q("SupportedPartitionProcessorCompatibilityModes"))]
    return [
        f"Partition {name} has {kind} processor compatibility mode {mode}, which {own} does not support "
        f"(supported: {', '.join(supported)})."
        for kind, mode in (("current", modes.get("current", "")), ("preferred", modes.get("preferred", "")))
        if mode and mode != "default" and supported and mode not in supported
    ]


def _cluster_vios(txn: Transaction, cluster_name: str, prefer: str | None = None) -> Record | None:
    """A VIOS here that is a node of the cluster: the one named ``prefer`` if it is one, else the first."""
    nodes = []
    for cluster in txn.find("Cluster"):
        if xml.text(cluster.element, "ClusterName") != cluster_name:
            continue
        for node in cluster.element.iter(xml.q("VirtualIOServer")):
            vios = txn.get("VirtualIOServer", (node.get("href") or "").rstrip("/").rsplit("/", 1)[-1])
            if vios is not None:
                nodes.append(vios)
    return next((v for v in nodes if xml.text(v.element, "PartitionName") == prefer), nodes[0] if nodes else None)


def _free_id(txn: Transaction, wanted: int) -> int:
    used = {int(xml.text(r.element, "PartitionID", "0") or 0) for k in ("LogicalPartition", "VirtualIOServer")
            for r in txn.find(k)}  # fmt: skip
    if wanted and wanted not in used:
        return wanted
    return next(i for i in range(2, 10000) if i not in used)


def _adapter(cna: dict[str, Any], package: dict[str, Any], system: Record, switch: Record, lpar_id: int,
             part_uuid: str) -> Record:  # fmt: skip
    elem = _doc(cna["xml"], package, system)
    mobility_network.apply_mapping(elem, cna, package)
    xml.set_text(elem, "VirtualSwitchID", xml.text(switch.element, "SwitchID"))
    xml.set_text(elem, "LocalPartitionID", lpar_id)
    link = xml.find(elem, "AssociatedVirtualSwitch")
    if link is not None:
        link.set("href", f"/rest/api/uom/ManagedSystem/{system.uuid}/VirtualSwitch/{switch.uuid}")
    return Record(
        "ClientNetworkAdapter", cna["uuid"], elem, "LogicalPartition", part_uuid, title="ClientNetworkAdapter"
    )


def _map(txn: Transaction, system: Record, item: dict[str, Any], package: dict[str, Any], lpar_id: int) -> None:
    """Record the logical unit on this side's Tier; map it from the cluster node named as the source VIOS, else the first."""
    vios = _cluster_vios(txn, item["cluster"], prefer=item.get("vios"))
    assert vios is not None
    if not any(xml.text(lu.element, "UniqueDeviceID") == item["udid"] for lu in txn.find("LogicalUnit")):
        txn.put(
            Record("LogicalUnit", item["lu_uuid"], xml.parse(item["lu"]), "Tier", item["tier"], title="LogicalUnit")
        )
    mapping = _doc(item["mapping"], package, system)
    vios_id = xml.text(vios.element, "PartitionID")
    maps = xml.findall(vios.element, "VirtualSCSIMappings/VirtualSCSIMapping")
    used = {int(xml.text(m, "ServerAdapter/VirtualSlotNumber", "0") or 0) for m in maps}
    # another device of the same client adapter arrived already: it shares that server adapter
    same = mobility_storage.server_slot_of(maps, lpar_id, xml.text(mapping, "ClientAdapter/VirtualSlotNumber"))
    for path, value in (
        ("ServerAdapter/LocalPartitionID", vios_id),
        ("ServerAdapter/RemoteLogicalPartitionID", lpar_id),
        ("ServerAdapter/VirtualSlotNumber", same or next(s for s in range(10, 2000) if s not in used)),
        ("ClientAdapter/LocalPartitionID", lpar_id),
        ("ClientAdapter/RemoteLogicalPartitionID", vios_id),
    ):
        xml.set_text(mapping, path, value)
    holder = xml.find(vios.element, "VirtualSCSIMappings")
    if holder is None:
        holder = xml.complex_el(vios.element, "VirtualSCSIMappings")
    holder.append(copy.deepcopy(mapping))
    txn.put(vios, detail="VirtualSCSIMappings")
