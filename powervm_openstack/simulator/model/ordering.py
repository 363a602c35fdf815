"""Keep child elements in the order the REST schema defines (pypowervm reads and writes by it)."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from powervm_openstack.simulator.state import xml

#: TrunkAdapter children, schema order.
TRUNK_ORDER = (
    "Metadata", "DynamicReconfigurationConnectorName", "LocationCode", "RequiredAdapter", "VariedOn",
    "UseNextAvailableSlotID", "UseNextAvailableHighSlotID", "VirtualSlotNumber",
    "AllowedOperatingSystemMACAddresses", "MACAddress", "PortVLANID", "QualityOfServicePriorityEnabled",
    "TaggedVLANIDs", "TaggedVLANSupported", "AssociatedVirtualSwitch", "VirtualSwitchID", "DeviceName",
    "TrunkPriority",
)  # fmt: skip

#: ClientNetworkAdapter children, schema order.
CNA_ORDER = (
    "Metadata", "AdapterType", "DynamicReconfigurationConnectorName", "LocationCode", "LocalPartitionID",
    "RequiredAdapter", "VariedOn", "UseNextAvailableSlotID", "UseNextAvailableHighSlotID",
    "VirtualSlotNumber", "Enabled", "AllowedOperatingSystemMACAddresses", "MACAddress", "PortVLANID",
    "QualityOfServicePriority", "QualityOfServicePriorityEnabled", "TaggedVLANIDs", "TaggedVLANSupported",
    "VirtualStationInterfaceManagerID", "VirtualStationInterfaceTypeID", "AssociatedVirtualSwitch",
    "VirtualSwitchID", "VirtualStationInterfaceTypeVersion", "DeviceName", "TrunkPriority", "ConfiguredMTU",
    "OvsBridge", "OvsPortExternalIds", "VirtualNetworks",
)  # fmt: skip


def set_child(elem: etree._Element, tag: str, value: object, order: Sequence[str], kb: str = "CUD") -> None:
    """Set ``tag``'s text, inserting the element at its schema position when absent."""
    found = xml.find(elem, tag)
    if found is None:
        ns = etree.QName(elem).namespace or xml.UOM_NS
        found = etree.Element(xml.q(tag, ns), attrib={"kb": kb, "kxe": "false"})
        _insert_ordered(elem, found, order)
    if isinstance(value, bool):
        value = "true" if value else "false"
    found.text = str(value)


def _insert_ordered(parent: etree._Element, child: etree._Element, order: Sequence[str]) -> None:
    tag = xml.local(child)
    rank = order.index(tag) if tag in order else len(order)
    for index, existing in enumerate(parent):
        name = xml.local(existing)
        if name in order and order.index(name) > rank:
            parent.insert(index, child)
            return
    parent.append(child)
