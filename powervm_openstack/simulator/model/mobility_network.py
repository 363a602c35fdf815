"""Partition mobility, the network side: ``VlanMappings``, ``OVSOverride`` and SR-IOV adapters.

Both sides of a move (``mobility`` on the source, ``mobility_target`` on the destination) use this.

``VlanMappings`` (pypowervm's ``vlan_mappings``, joined with commas) says which VLAN a moved client
adapter gets on the destination: each entry is ``MAC/PVID[/VLAN_A VLAN_B]`` (pypowervm's
``migrate_lpar`` docstring: a MAC of exactly 12 hex digits without colons, the target PVID, then an
optional space-separated list of additional VLANs). The source refuses, naming the entry, one that
does not parse, a VLAN outside 1-4094, a MAC given twice and a MAC that is none of the partition's
client adapters (a mapping that cannot apply is a mistake, not something to ignore). On the
destination the adapter arrives with the mapped PVID (and the listed VLANs as its tagged VLANs);
adapters without a mapping keep their VLANs.

``OVSOverride``: pypowervm's ``sdn_override`` "will allow a migration where the networking is hosted
on a non-traditional VIOS partition (ex. the NovaLink)". The simulator reads that as: a client
adapter whose VLAN on its switch no Shared Ethernet Adapter (a NetworkBridge's trunk) carries, but a
trunk adapter of the NovaLink (management) partition does (an ``ovs`` VIF's peer on
``NovaLinkVEABridge``), is refused on the source unless ``OVSOverride=2``; on the destination, with
the override, a VLAN carried by a NovaLink trunk there counts as bridged (the trunk made by the
destination's ``pre_live_migration``), without it only a SEA's does. ``VLANBridgeOverride=2``
still skips the destination's VLAN check altogether.

SR-IOV: PowerVM does not migrate a partition that owns SR-IOV logical ports directly (a VF given
to the partition is physical I/O): the source refuses naming the logical port. A vNIC (an SR-IOV
logical port on a VIOS, serving the partition's virtual adapter) can move on real systems when the
destination has SR-IOV ports for its backing devices, which the HMC chooses (same port label,
enough capacity); pypowervm's Migrate job has no parameter to name them and what a NovaLink does
without an HMC is not documented where this project can read it. The simulator therefore refuses a
partition with a vNIC, naming the vNIC and saying why (refusing rather than guessing a choice the
firmware might not make).
"""

from __future__ import annotations

import re
from typing import Any

from powervm_openstack.simulator.model.ordering import CNA_ORDER, set_child
from powervm_openstack.simulator.runtime.jobs import JobFailed
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

MGMT_SWITCH = "MGMTSWITCH"
_OVERRIDE_OK = "2"
_ENTRY = re.compile(r"^(?P<mac>[0-9A-Fa-f]{12})/(?P<pvid>\d+)(?:/(?P<tagged>\d+(?: \d+)*))?$")
_FORMAT = "MAC/PVID[/VLAN_A VLAN_B] (12 hex digits, no colons; VLANs 1-4094)"


def package_fields(txn: Transaction, part: Record, params: dict[str, str], name: str) -> dict[str, Any]:
    """The source's checks of the partition's network adapters; the package fields for the destination.

    :raises JobFailed: naming the SR-IOV adapter, the bad mapping entry or the adapter needing the override.
    """
    _refuse_sriov(txn, part, name)
    macs = {xml.text(c.element, "MACAddress", "").upper() for c in txn.find("ClientNetworkAdapter", part.uuid)}
    mappings = parse_mappings(params.get("VlanMappings", ""), macs, name)
    override = params.get("OVSOverride") == _OVERRIDE_OK
    if not override:
        _refuse_novalink_hosted(txn, part, name)
    return {"vlan_mappings": mappings, "ovs_override": override}


def parse_mappings(value: str, macs: set[str], name: str) -> dict[str, dict[str, Any]]:
    """``VlanMappings`` as ``{MAC: {"pvid": int, "tagged": [int]}}``; refused naming the first bad entry."""
    found: dict[str, dict[str, Any]] = {}
    for entry in [e.strip() for e in value.split(",")] if value.strip() else []:
        match = _ENTRY.match(entry)
        vlans = [int(match["pvid"]), *xml.vlan_list(match["tagged"])] if match else []
        if not match or not all(1 <= v <= 4094 for v in vlans):
            raise JobFailed(f"The VlanMappings entry {entry!r} is not valid; the format is {_FORMAT}.")
        mac = match["mac"].upper()
        if mac in found:
            raise JobFailed(f"The VlanMappings entry {entry!r} maps MAC {mac} a second time.")
        if mac not in macs:
            raise JobFailed(
                f"The VlanMappings entry {entry!r} names MAC {mac}, which no client network adapter of "
                f"partition {name} has."
            )
        found[mac] = {"pvid": vlans[0], "tagged": vlans[1:]}
    return found


def target_vlans(cna: dict[str, Any], package: dict[str, Any]) -> tuple[int, list[int] | None]:
    """The PVID and (when mapped) tagged VLANs a moved adapter has on the destination."""
    mapped = (package.get("vlan_mappings") or {}).get(cna["mac"].upper())
    if mapped:
        return int(mapped["pvid"]), list(mapped["tagged"])
    return int(xml.text(xml.parse(cna["xml"]), "PortVLANID", "0") or 0), None


def apply_mapping(elem: Any, cna: dict[str, Any], package: dict[str, Any]) -> None:
    """Give the adapter's XML the mapped VLANs (nothing when it has no mapping)."""
    pvid, tagged = target_vlans(cna, package)
    if tagged is None:
        return
    set_child(elem, "PortVLANID", pvid, CNA_ORDER)
    set_child(elem, "TaggedVLANIDs", xml.format_vlans(tagged), CNA_ORDER)
    set_child(elem, "TaggedVLANSupported", "true" if tagged else "false", CNA_ORDER)


def bridged_vlans(txn: Transaction, package: dict[str, Any]) -> set[tuple[str | None, int]]:
    """(switch name, VLAN) pairs bridged here for the package: a SEA's, with the override also a NovaLink trunk's."""
    return sea_vlans(txn) | (novalink_trunk_vlans(txn) if package.get("ovs_override") else set())


def novalink_trunk_vlans(txn: Transaction) -> set[tuple[str | None, int]]:
    """(switch name, VLAN) pairs carried by trunk adapters of the management (NovaLink) partition."""
    names = _switch_names(txn)
    pairs = set()
    for kind in ("LogicalPartition", "VirtualIOServer"):
        for mgmt in txn.find(kind):
            if xml.text(mgmt.element, "IsManagementPartition", "false").lower() != "true":
                continue
            for trunk in txn.find("ClientNetworkAdapter", mgmt.uuid):
                if xml.find(trunk.element, "TrunkPriority") is None:
                    continue
                switch = names.get(xml.text(trunk.element, "VirtualSwitchID"))
                vlans = [int(xml.text(trunk.element, "PortVLANID", "0") or 0)]
                pairs.update((switch, v) for v in vlans + xml.vlan_list(xml.text(trunk.element, "TaggedVLANIDs")))
    return pairs


def sea_vlans(txn: Transaction) -> set[tuple[str | None, int]]:
    """(switch name, VLAN) pairs some NetworkBridge's (SEA's) trunks carry."""
    names = _switch_names(txn)
    pairs = set()
    for bridge in txn.find("NetworkBridge"):
        for trunk in bridge.element.iter(xml.q("TrunkAdapter")):
            switch = names.get(xml.text(trunk, "VirtualSwitchID"))
            vlans = [int(xml.text(trunk, "PortVLANID", "0") or 0)] + xml.vlan_list(xml.text(trunk, "TaggedVLANIDs"))
            pairs.update((switch, v) for v in vlans)
    return pairs


def _refuse_novalink_hosted(txn: Transaction, part: Record, name: str) -> None:
    names = _switch_names(txn)
    on_novalink, on_sea = novalink_trunk_vlans(txn), sea_vlans(txn)
    for cna in txn.find("ClientNetworkAdapter", part.uuid):
        switch = names.get(xml.text(cna.element, "VirtualSwitchID"))
        key = (switch, int(xml.text(cna.element, "PortVLANID", "0") or 0))
        if switch != MGMT_SWITCH and key in on_novalink and key not in on_sea:
            raise JobFailed(
                f"Client adapter {xml.text(cna.element, 'MACAddress')} of partition {name} is on VLAN {key[1]} of "
                f"{switch}, whose trunk is on the NovaLink partition, not a VIOS; migrating it needs OVSOverride=2."
            )


def _refuse_sriov(txn: Transaction, part: Record, name: str) -> None:
    for lport in txn.find("SRIOVEthernetLogicalPort", part.uuid):
        elem = lport.element
        where = f"adapter {xml.text(elem, 'AdapterID', '?')} port {xml.text(elem, 'PhysicalPortID', '?')}"
        raise JobFailed(
            f"Partition {name} owns SR-IOV logical port {xml.text(elem, 'LogicalPortID') or lport.uuid} ({where}) "
            "directly (physical I/O); a partition with SR-IOV logical ports cannot migrate."
        )
    for vnic in txn.find("VirtualNICDedicated", part.uuid):
        label = xml.text(vnic.element, "Details/MACAddress") or xml.text(vnic.element, "LocationCode") or vnic.uuid
        raise JobFailed(
            f"Partition {name} has vNIC {label} (slot {xml.text(vnic.element, 'VirtualSlotNumber', '?')}); the "
            "Migrate job cannot name the destination's SR-IOV backing devices, so this simulator does not move vNICs."
        )


def _switch_names(txn: Transaction) -> dict[str | None, str | None]:
    return {xml.text(s.element, "SwitchID"): xml.text(s.element, "SwitchName") for s in txn.find("VirtualSwitch")}
