"""LogicalPartition documents and the base-partition fields LPARs and VIOSes share.

Children follow pypowervm's ``BP_EL_ORDER`` (and ``_LPAR_EL_ORDER`` for the LPAR tail), with the
attribute style of the NovaLink captures (``fake_vios_hosting_vios_feed.txt``, ``lpar.txt``).
A partition that is down reports zero current memory and processors.
"""

from __future__ import annotations

from lxml import etree

from powervm_openstack.simulator.build import Partition, Topology
from powervm_openstack.simulator.build.system import bare, cna_href, container, leaves, system_href
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

#: ReferenceCode shown by a running partition, by PartitionType (a down partition shows 00000000).
_RUNNING_REFCODE = {"AIX/Linux": "Linux ppc64le", "OS400": "00000000", "Virtual IO Server": "00000000"}
_MIN_PROC_UNITS = 0.05


def build_lpar(part: Partition, topo: Topology) -> Record:
    """A LogicalPartition record (incl. the management partition), a child of the ManagedSystem."""
    elem = xml.root("LogicalPartition", part.uuid)
    base_fields(elem, part, topo, cna_links=True)
    xml.leaf(elem, "SimplifiedRemoteRestartCapable", False).set("ksv", "V1_2_0")
    leaves(elem, [("HasDedicatedProcessorsForMigration", False)])
    xml.leaf(elem, "SuspendCapable", False)
    leaves(elem, [("MigrationState", "Not_Migrating"), ("RemoteRestartState", "Invalid")])
    xml.leaf(elem, "PowerManagementMode", "None", kb="CUR")
    return Record(
        kind="LogicalPartition",
        uuid=part.uuid,
        element=elem,
        parent_kind="ManagedSystem",
        parent_uuid=topo.system.uuid,
    )


def base_fields(elem: etree._Element, part: Partition, topo: Topology, cna_links: bool) -> None:
    """Append the shared base-partition fields, in ``BP_EL_ORDER``.

    ``cna_links`` adds ``ClientNetworkAdapters``: the links to the partition's virtual Ethernet
    adapters, which LPAR and VIOS documents both carry (``fake_vios_feed.txt``).
    """
    xml.leaf(elem, "AvailabilityPriority", 191 if part.kind == "VirtualIOServer" else 127, kb="UOD")
    compat = topo.system.compat_modes[-1] if part.is_active else "default"
    xml.leaf(elem, "CurrentProcessorCompatibilityMode", compat, kb="ROO")
    leaves(elem, [("IsVirtualServiceAttentionLEDOn", False)])
    xml.leaf(elem, "KeylockPosition", "normal")
    leaves(elem, [("OperatingSystemVersion", part.os_version if part.is_active else "Unknown")])
    _capabilities(elem, part)
    xml.leaf(elem, "PartitionID", part.partition_id, kb="COD")
    _io_config(elem, part)
    _memory(elem, part)
    xml.leaf(elem, "PartitionName", part.name, kb="CUR")
    _processors(elem, part)
    xml.leaf(elem, "PartitionState", part.state, kb="ROO")
    xml.leaf(elem, "PartitionType", part.env, kb="COD")
    xml.leaf(elem, "PartitionUUID", part.uuid, kb="ROO")
    xml.leaf(elem, "PendingProcessorCompatibilityMode", "default")
    leaves(elem, [("ResourceMonitoringControlState", part.rmc_state)])
    if part.rmc_ip:
        xml.leaf(elem, "ResourceMonitoringIPAddress", part.rmc_ip)
    xml.link(elem, "AssociatedManagedSystem", system_href(topo.system.uuid))
    if cna_links:
        _cna_links(elem, part, topo)
    leaves(elem, [("MACAddressPrefix", "")])
    xml.leaf(elem, "IsServicePartition", part.is_mgmt)
    refcode = _RUNNING_REFCODE[part.env] if part.is_active else "00000000"
    xml.leaf(elem, "ReferenceCode", refcode, kb="ROO")
    xml.leaf(elem, "IsManagementPartition", part.is_mgmt).set("ksv", "V1_4_0")
    xml.leaf(elem, "AutoStart", part.is_mgmt or part.kind == "VirtualIOServer")
    xml.leaf(elem, "BootMode", "Normal")
    xml.leaf(elem, "Uptime", 86400 if part.is_active else 0, kb="ROO").set("ksv", "V1_5_0")


def _cna_links(elem: etree._Element, part: Partition, topo: Topology) -> None:
    """One link per ClientNetworkAdapter child, in the order of ``topo.all_cnas`` (SEA trunks included)."""
    holder = bare(elem, "ClientNetworkAdapters", kb="CUR")
    for _, cna in (pc for pc in topo.all_cnas() if pc[0] is part):
        etree.SubElement(holder, xml.q("link"), attrib={"href": cna_href(part, cna.uuid), "rel": "related"})


def _capabilities(elem: etree._Element, part: Partition) -> None:
    dlpar = part.is_active and part.rmc_state == "active"
    caps = container(elem, "PartitionCapabilities", kb="ROR")
    leaves(caps, [("DynamicLogicalPartitionIOCapable", dlpar), ("DynamicLogicalPartitionMemoryCapable", dlpar),
                  ("DynamicLogicalPartitionProcessorCapable", dlpar)])  # fmt: skip
    xml.leaf(caps, "InternalAndExternalIntrusionDetectionCapable", False)
    xml.leaf(caps, "ResourceMonitoringControlOperatingSystemShutdownCapable", dlpar)


def _io_config(elem: etree._Element, part: Partition) -> None:
    io = container(elem, "PartitionIOConfiguration")
    xml.leaf(io, "MaximumVirtualIOSlots", part.max_slots)
    leaves(io, [("CurrentMaximumVirtualIOSlots", part.max_slots if part.is_active else 0)])


def _memory(elem: etree._Element, part: Partition) -> None:
    desired = part.memory_mb
    current = desired if part.is_active else 0
    minimum = min(desired, 1024)
    mem = container(elem, "PartitionMemoryConfiguration")
    for tag, value in (("ActiveMemoryExpansionEnabled", False), ("ActiveMemorySharingEnabled", False),
                       ("DesiredMemory", desired), ("ExpansionFactor", 0.0), ("HardwarePageTableRatio", 6),
                       ("MaximumMemory", desired), ("MinimumMemory", minimum)):  # fmt: skip
        xml.leaf(mem, tag, value)
    leaves(mem, [
        ("CurrentExpansionFactor", 0.0), ("CurrentHardwarePageTableRatio", 6),
        ("CurrentMaximumMemory", desired if part.is_active else 0), ("CurrentMemory", current),
        ("CurrentMinimumMemory", minimum if part.is_active else 0), ("MemoryExpansionEnabled", False),
        ("RuntimeMemory", current), ("RuntimeMinimumMemory", minimum if part.is_active else 0),
    ])  # fmt: skip
    xml.leaf(mem, "SharedMemoryEnabled", False)


def _processors(elem: etree._Element, part: Partition) -> None:
    proc = container(elem, "PartitionProcessorConfiguration")
    xml.leaf(proc, "HasDedicatedProcessors", False)
    shared = container(proc, "SharedProcessorConfiguration")
    for tag, value in (("DesiredProcessingUnits", part.proc_units), ("DesiredVirtualProcessors", part.vcpus),
                       ("MaximumProcessingUnits", float(part.vcpus)), ("MaximumVirtualProcessors", part.vcpus),
                       ("MinimumProcessingUnits", _MIN_PROC_UNITS), ("MinimumVirtualProcessors", 1),
                       ("SharedProcessorPoolID", 0), ("UncappedWeight", 128)):  # fmt: skip
        xml.leaf(shared, tag, value)
    xml.leaf(proc, "SharingMode", "uncapped")
    leaves(proc, [("CurrentHasDedicatedProcessors", False), ("CurrentSharingMode", "uncapped"),
                  ("RuntimeHasDedicatedProcessors", False), ("RuntimeSharingMode", "uncapped")])  # fmt: skip
    active = part.is_active
    current = container(proc, "CurrentSharedProcessorConfiguration", kb="ROR")
    leaves(current, [
        ("AllocatedVirtualProcessors", part.vcpus if active else 0),
        ("CurrentMaximumProcessingUnits", float(part.vcpus) if active else 0.0),
        ("CurrentMinimumProcessingUnits", _MIN_PROC_UNITS if active else 0.0),
        ("CurrentProcessingUnits", part.proc_units if active else 0.0),
        ("CurrentSharedProcessorPoolID", 0), ("CurrentUncappedWeight", 128 if active else 0),
        ("CurrentMinimumVirtualProcessors", 1 if active else 0),
        ("CurrentMaximumVirtualProcessors", part.vcpus if active else 0),
        ("RuntimeProcessingUnits", part.proc_units if active else 0.0),
        ("RuntimeUncappedWeight", 128 if active else 0),
    ])  # fmt: skip
