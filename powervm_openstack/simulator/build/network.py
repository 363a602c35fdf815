"""Networking documents: VirtualSwitch, VirtualNetwork, NetworkBridge (SEAs, trunks, LoadGroups), CNAs.

Child order follows pypowervm's ``_VSW_EL_ORDER``, ``_NB_EL_ORDER``, ``_SEA_EL_ORDER``,
``_TA_EL_ORDER`` and ``_VADPT_EL_ORDER``; values and attribute style follow the captures
(``nbbr_network_bridge.txt``, ``vswitch_feed.txt``, ``cna_feed1.txt``, ``nbbr_virtual_network.txt``).

A NetworkBridge's SEAs each hold their own TrunkAdapters, the primary trunk (PVID == SEA PVID)
first; its LoadGroups (one per trunk PVID, the bridge PVID first) list the trunks of every SEA with
that PVID. ``sea_element`` is also what the VIOS document embeds, so both copies are identical.
"""

from __future__ import annotations

from lxml import etree

from powervm_openstack.simulator.build import Bridge, Cna, Partition, Sea, Topology, VNet, VSwitch
from powervm_openstack.simulator.build.system import bare, child_href, container, leaves
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

VnetIndex = dict[tuple[int, int], VNet]


def _links(parent: etree._Element, tag: str, hrefs: list[str], kb: str = "CUD") -> etree._Element:
    """``<Tag><link href=.. rel="related"/>...</Tag>``."""
    holder = bare(parent, tag, kb=kb)
    for href in hrefs:
        etree.SubElement(holder, xml.q("link"), attrib={"href": href, "rel": "related"})
    return holder


def _vnet_hrefs(sys_uuid: str, vnets: list[VNet]) -> list[str]:
    return [child_href(sys_uuid, "VirtualNetwork", v.uuid) for v in vnets]


def adapter_vnets(cna: Cna, index: VnetIndex) -> list[VNet]:
    """The VirtualNetworks an adapter is on: its PVID's, then its tagged VLANs'."""
    sw = cna.vswitch.switch_id
    return [index[(sw, cna.pvid)], *(index[(sw, v)] for v in cna.tagged_vlans)]


def build_vswitch(vsw: VSwitch, topo: Topology) -> Record:
    """A VirtualSwitch record, child of the ManagedSystem, linking the VirtualNetworks on it."""
    elem = xml.root("VirtualSwitch", vsw.uuid)
    leaves(elem, [("SwitchID", vsw.switch_id)])
    xml.leaf(elem, "SwitchMode", vsw.mode)
    xml.leaf(elem, "SwitchName", vsw.name)
    vnets = [v for v in topo.vnets() if v.vswitch is vsw]
    _links(elem, "VirtualNetworks", _vnet_hrefs(topo.system.uuid, vnets))
    return Record("VirtualSwitch", vsw.uuid, elem, "ManagedSystem", topo.system.uuid)


def build_vnet(vnet: VNet, sys_uuid: str) -> Record:
    """A VirtualNetwork record, child of the ManagedSystem."""
    elem = xml.root("VirtualNetwork", vnet.uuid)
    xml.link(elem, "AssociatedSwitch", child_href(sys_uuid, "VirtualSwitch", vnet.vswitch.uuid)).set("kb", "COD")
    xml.leaf(elem, "NetworkName", vnet.name, kb="CUR")
    xml.leaf(elem, "NetworkVLANID", vnet.vlan, kb="COD")
    leaves(elem, [("VswitchID", vnet.vswitch.switch_id)])
    xml.leaf(elem, "TaggedNetwork", vnet.tagged, kb="COD")
    return Record("VirtualNetwork", vnet.uuid, elem, "ManagedSystem", sys_uuid)


def trunk_element(parent: etree._Element, trunk: Cna, vios: Partition, topo: Topology) -> etree._Element:
    """A ``TrunkAdapter`` element (inside a SEA, a LoadGroup or the VIOS), ``_TA_EL_ORDER``."""
    loc = topo.system.loc_code(vios.partition_id, trunk.slot)
    elem = xml.complex_el(parent, "TrunkAdapter")
    xml.leaf(elem, "DynamicReconfigurationConnectorName", loc)
    leaves(elem, [("LocationCode", loc)])
    xml.leaf(elem, "RequiredAdapter", False)
    xml.leaf(elem, "VariedOn", True).set("kxe", "true")
    xml.leaf(elem, "VirtualSlotNumber", trunk.slot, kb="COD")
    xml.leaf(elem, "AllowedOperatingSystemMACAddresses", "ALL")
    leaves(elem, [("MACAddress", trunk.mac), ("PortVLANID", trunk.pvid)], kb="CUR")
    xml.leaf(elem, "QualityOfServicePriorityEnabled", False)
    leaves(elem, [("TaggedVLANIDs", xml.format_vlans(trunk.tagged_vlans)), ("TaggedVLANSupported", True)],
           kb="CUA")  # fmt: skip
    _links(elem, "AssociatedVirtualSwitch", [child_href(topo.system.uuid, "VirtualSwitch", trunk.vswitch.uuid)])
    leaves(elem, [("VirtualSwitchID", trunk.vswitch.switch_id), ("DeviceName", trunk.device)])
    xml.leaf(elem, "TrunkPriority", trunk.trunk_priority)
    return elem


def sea_element(parent: etree._Element, sea: Sea, nb: Bridge, topo: Topology) -> etree._Element:
    """A ``SharedEthernetAdapter`` element in ``_SEA_EL_ORDER`` (identical in NB and VIOS)."""
    elem = xml.complex_el(parent, "SharedEthernetAdapter")
    xml.link(elem, "AssignedVirtualIOServer", child_href(topo.system.uuid, "VirtualIOServer", sea.vios.uuid))
    if sea.control_channel:
        xml.leaf(elem, "ControlChannelInterfaceName", sea.control_channel)
    _backing_device(elem, sea)
    xml.leaf(elem, "HighAvailabilityMode", nb.ha_mode)
    xml.leaf(elem, "DeviceName", sea.device)
    xml.leaf(elem, "JumboFramesEnabled", False, kb="UOD")
    leaves(elem, [("PortVLANID", nb.pvid)])
    xml.leaf(elem, "QualityOfServiceMode", "disabled")
    xml.leaf(elem, "QueueSize", 8192, kb="UOD")
    xml.leaf(elem, "ThreadModeEnabled", True)
    leaves(elem, [("UniqueDeviceID", sea.udid)])
    xml.leaf(elem, "LargeSend", True)
    trunks = container(elem, "TrunkAdapters")
    for trunk in sea.trunks:
        trunk_element(trunks, trunk, sea.vios, topo)
    xml.leaf(elem, "IsPrimary", sea.is_primary)
    xml.leaf(elem, "ConfigurationState", "Configured")
    return elem


def _backing_device(elem: etree._Element, sea: Sea) -> None:
    choice = bare(elem, "BackingDeviceChoice")
    dev = xml.complex_el(choice, "EthernetBackingDevice")
    leaves(dev, [("AdapterID", 1)])
    xml.leaf(dev, "Description", "4-Port Gigabit Ethernet PCI-Express Adapter (e414571614102004)")
    leaves(dev, [("DeviceName", sea.backing_device), ("DeviceType", "physicalEthernetAdpter")])
    xml.leaf(dev, "DynamicReconfigurationConnectorName", sea.backing_location)
    leaves(dev, [("PhysicalLocation", sea.backing_location), ("UniqueDeviceID", f"13{sea.backing_location}")])


def build_bridge(nb: Bridge, topo: Topology, index: VnetIndex) -> Record:
    """A NetworkBridge record (child of the ManagedSystem) in ``_NB_EL_ORDER``."""
    elem = xml.root("NetworkBridge", nb.uuid)
    if nb.control_channel_id is not None:
        xml.leaf(elem, "ControlChannelID", nb.control_channel_id)
    xml.leaf(elem, "FailoverEnabled", nb.mode != "single")
    xml.leaf(elem, "LoadBalancingEnabled", nb.mode == "sharing")
    groups = container(elem, "LoadGroups")
    all_vnets: list[VNet] = []
    for primary in nb.seas[0].trunks:
        vnets = adapter_vnets(primary, index)
        all_vnets += [v for v in vnets if v not in all_vnets]
        _load_group(groups, nb, primary.pvid, vnets, topo)
    xml.leaf(elem, "PortVLANID", nb.pvid, kb="COR")
    seas = container(elem, "SharedEthernetAdapters")
    for sea in nb.seas:
        sea_element(seas, sea, nb, topo)
    leaves(elem, [("UniqueDeviceID", nb.udid)])
    _links(elem, "VirtualNetworks", _vnet_hrefs(topo.system.uuid, all_vnets), kb="ROR")
    return Record("NetworkBridge", nb.uuid, elem, "ManagedSystem", topo.system.uuid)


def _load_group(parent: etree._Element, nb: Bridge, pvid: int, vnets: list[VNet], topo: Topology) -> None:
    group = xml.complex_el(parent, "LoadGroup")
    xml.leaf(group, "PortVLANID", pvid, kb="CUR")
    trunks = container(group, "TrunkAdapters")
    for sea in nb.seas:
        for trunk in sea.trunks:
            if trunk.pvid == pvid:
                trunk_element(trunks, trunk, sea.vios, topo)
    _links(group, "VirtualNetworks", _vnet_hrefs(topo.system.uuid, vnets))


def build_cna(cna: Cna, part: Partition, topo: Topology, index: VnetIndex) -> Record:
    """A ClientNetworkAdapter record, child of its partition, in ``_VADPT_EL_ORDER``.

    Trunk adapters (``TrunkPriority`` set) on a VIOS are served as CNAs too, as NovaLink does.
    """
    loc = topo.system.loc_code(part.partition_id, cna.slot)
    elem = xml.root("ClientNetworkAdapter", cna.uuid)
    xml.leaf(elem, "DynamicReconfigurationConnectorName", loc)
    leaves(elem, [("LocationCode", loc)])
    xml.leaf(elem, "LocalPartitionID", part.partition_id, kb="CUR")
    xml.leaf(elem, "RequiredAdapter", False)
    xml.leaf(elem, "VariedOn", True)
    xml.leaf(elem, "VirtualSlotNumber", cna.slot, kb="COD")
    xml.leaf(elem, "Enabled", True, kb="UOD").set("ksv", "V1_3_0")
    xml.leaf(elem, "AllowedOperatingSystemMACAddresses", "ALL")
    leaves(elem, [("MACAddress", cna.mac), ("PortVLANID", cna.pvid)], kb="CUR")
    xml.leaf(elem, "QualityOfServicePriorityEnabled", False)
    tagged = cna.is_trunk or bool(cna.tagged_vlans)
    leaves(elem, [("TaggedVLANIDs", xml.format_vlans(cna.tagged_vlans)), ("TaggedVLANSupported", tagged)],
           kb="CUA")  # fmt: skip
    _links(elem, "AssociatedVirtualSwitch", [child_href(topo.system.uuid, "VirtualSwitch", cna.vswitch.uuid)])
    leaves(elem, [("VirtualSwitchID", cna.vswitch.switch_id)])
    if cna.device:
        xml.leaf(elem, "DeviceName", cna.device)
    if cna.is_trunk:
        xml.leaf(elem, "TrunkPriority", cna.trunk_priority)
    xml.leaf(elem, "ConfiguredMTU", 1500).set("ksv", "V1_6_0")
    _links(elem, "VirtualNetworks", _vnet_hrefs(topo.system.uuid, adapter_vnets(cna, index)), kb="CUR")
    return Record("ClientNetworkAdapter", cna.uuid, elem, part.kind, part.uuid)
