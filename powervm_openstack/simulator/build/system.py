"""The ManagedSystem document, with its SR-IOV adapters and physical ports, and the REST hrefs.

Element order follows the NovaLink capture ``sys_with_sriov.txt`` and pypowervm's
``_SRIOVEPP_EL_ORDER``/``_SRIOVCPP_EL_ORDER``. Links are base-relative (``/rest/api/uom/...``).
Memory and processor availability count the partitions that are not down.
"""

from __future__ import annotations

from lxml import etree

from powervm_openstack.simulator.build import Partition, SriovAdapter, SriovPort, System, Topology
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

UOM = "/rest/api/uom"

#: Per-partition processor limits NovaLink reports on POWER9 (also the VIOS/IBMi maxima).
_MAX_PROCS_PER_PARTITION = 64
_MAX_VCPUS_PER_PARTITION = 256


def system_href(sys_uuid: str) -> str:
    """``/rest/api/uom/ManagedSystem/<sys>``."""
    return f"{UOM}/ManagedSystem/{sys_uuid}"


def child_href(sys_uuid: str, kind: str, uuid: str) -> str:
    """Href of a ManagedSystem child: ``/rest/api/uom/ManagedSystem/<sys>/<kind>/<uuid>``."""
    return f"{system_href(sys_uuid)}/{kind}/{uuid}"


def cna_href(part: Partition, cna_uuid: str) -> str:
    """``/rest/api/uom/<LogicalPartition|VirtualIOServer>/<part>/ClientNetworkAdapter/<cna>``."""
    return f"{UOM}/{part.kind}/{part.uuid}/ClientNetworkAdapter/{cna_uuid}"


def leaves(parent: etree._Element, values: list[tuple[str, object]], kb: str = "ROR") -> None:
    """Append leaf elements in the given order."""
    for tag, value in values:
        xml.leaf(parent, tag, value, kb=kb)


def container(parent: etree._Element, tag: str, group: str | None = None, kb: str = "CUD") -> etree._Element:
    """A complex element as NovaLink writes containers (kb/kxe, schemaVersion, empty Metadata)."""
    return xml.complex_el(parent, tag, group=group, kb=kb, kxe="false")


def bare(parent: etree._Element, tag: str, kb: str = "CUD") -> etree._Element:
    """An empty element without Metadata (e.g. ``<AssociatedLogicalPartitions/>``)."""
    ns = etree.QName(parent).namespace or xml.UOM_NS
    return etree.SubElement(parent, xml.q(tag, ns), attrib={"kb": kb, "kxe": "false"})


def build_system(topo: Topology) -> Record:
    """The ManagedSystem record (ROOT object, no parent)."""
    sysm = topo.system
    elem = xml.root("ManagedSystem", sysm.uuid)
    ipl = container(elem, "AssociatedIPLConfiguration", group="Hypervisor")
    xml.leaf(ipl, "PowerOffWhenLastLogicalPartitionIsShutdown", False)
    bare(elem, "AssociatedLogicalPartitions")
    bare(elem, "AssociatedReservedStorageDevicePool")
    _capabilities(elem)
    _io_config(elem, topo.sriov_adapters)
    _memory(elem, sysm, topo.partitions)
    _processors(elem, sysm, topo.partitions)
    container(elem, "AssociatedSystemVirtualStorage")
    mtms = container(elem, "MachineTypeModelAndSerialNumber", kb="ROR")
    leaves(mtms, [("MachineType", sysm.machine_type), ("Model", sysm.model), ("SerialNumber", sysm.serial)])
    leaves(elem, [("ManufacturingDefaultConfigurationEnabled", False)])
    xml.leaf(elem, "MaximumPartitions", sysm.max_partitions)
    leaves(elem, [("PrimaryIPAddress", sysm.primary_ip), ("State", sysm.state)])
    xml.leaf(elem, "SystemName", sysm.name, kb="CUR")
    _migration(elem)
    leaves(elem, [("ReferenceCode", "00000000")], kb="ROO")
    for tag, value in (
        ("IsPowerVMManagementMaster", True),
        ("IsManagementPartitionPowerVMManagementMaster", True),
        ("IsHMCPowerVMManagementMaster", False),
    ):
        xml.leaf(elem, tag, value, kb="ROO").set("ksv", "V1_3_0")
    return Record(kind="ManagedSystem", uuid=sysm.uuid, element=elem)


_CAPABILITIES = (
    ("AIXCapable", True),
    ("ActiveLogicalPartitionMobilityCapable", True),
    ("ActiveMemoryExpansionCapable", True),
    ("BarrierSynchronizationRegisterCapable", False),
    ("CapacityOnDemandMemoryCapable", True),
    ("CapacityOnDemandProcessorCapable", True),
    ("CustomPhysicalPageTableRatioCapable", True),
    ("DedicatedProcessorPartitionCapable", True),
    ("HostChannelAdapterCapable", False),
    ("HugePageMemoryCapable", True),
    ("IBMiCapable", True),
    ("IBMiLogicalPartitionMobilityCapable", True),
    ("IBMiRestrictedIOModeCapable", True),
    ("InactiveLogicalPartitionMobilityCapable", True),
    ("LinuxCapable", True),
    ("LogicalPartitionProcessorCompatibilityModeCapable", True),
    ("PowerVMLogicalPartitionSimplifiedRemoteRestartCapable", True),
    ("RedundantErrorPathReportingCapable", True),
    ("SharedProcessorPoolCapable", True),
    ("Telnet5250ApplicationCapable", True),
    ("VirtualEthernetCustomMACAddressCapable", True),
    ("VirtualFiberChannelCapable", True),
    ("VirtualNICDedicatedSRIOVCapable", True),
    ("VirtualNICFailOverCapable", True),
    ("VirtualSwitchCapable", True),
)


def _capabilities(elem: etree._Element) -> None:
    caps = container(elem, "AssociatedSystemCapabilities")
    leaves(caps, list(_CAPABILITIES), kb="ROO")


def _io_config(elem: etree._Element, adapters: list[SriovAdapter]) -> None:
    asio = container(elem, "AssociatedSystemIOConfiguration")
    xml.leaf(asio, "AvailableWWPNs", 65536)
    container(asio, "HostChannelAdapters")
    bare(asio, "HostEthernetAdapters")
    for tag in ("IOAdapters", "IOBuses", "IOSlots"):
        container(asio, tag)
    sriovs = container(asio, "SRIOVAdapters")
    for adapter in adapters:
        choice = etree.SubElement(sriovs, xml.q("IOAdapterChoice"))
        sriov_adapter(choice, adapter)
    xml.leaf(asio, "WWPNPrefix", "13857705831041335296")


def sriov_adapter(parent: etree._Element, adapter: SriovAdapter) -> etree._Element:
    """An ``SRIOVAdapter`` element with its physical ports (converged ports first, as captured)."""
    elem = xml.complex_el(parent, "SRIOVAdapter")
    leaves(elem, [("AdapterID", adapter.drc_index)])
    xml.leaf(elem, "Description", adapter.description)
    leaves(elem, [("PhysicalLocation", adapter.location)])
    xml.leaf(elem, "SRIOVAdapterID", adapter.adapter_id, kb="COD")
    leaves(elem, [("AdapterState", adapter.state)])
    xml.leaf(elem, "AdapterMode", adapter.mode)
    xml.leaf(elem, "Personality", adapter.personality, kb="COD")
    for holder, port_tag, port_type in (
        ("ConvergedEthernetPhysicalPorts", "SRIOVConvergedNetworkAdapterPhysicalPort", "converged"),
        ("EthernetPhysicalPorts", "SRIOVEthernetPhysicalPort", "ethernet"),
    ):
        ports = [p for p in adapter.ports if p.port_type == port_type]
        if ports:
            box = container(elem, holder, kb="ROR")
            for port in ports:
                physical_port(box, port_tag, port)
    leaves(elem, [("MaximumHugeDMALogicalPorts", 0), ("MaximumLogicalPortsSupported", adapter.max_logical_ports)])
    return elem


def percent(value: float) -> str:
    """NovaLink's percentage format: ``2.0%``."""
    return f"{float(value)}%"


def physical_port(parent: etree._Element, tag: str, port: SriovPort) -> etree._Element:
    """One SR-IOV physical port in ``_SRIOVEPP_EL_ORDER`` (converged ports add the FCoE tail)."""
    elem = xml.complex_el(parent, tag)
    leaves(elem, [("ConfiguredConnectionSpeed", "Auto")], kb="CUR")
    leaves(elem, [("ConfiguredFlowControl", False)], kb="CUD")
    leaves(elem, [("ConfiguredMTU", "E_1500"), ("ConfiguredOptions", "autoDuplex"), ("ConfiguredOptions", "Veb")],
           kb="CUR")  # fmt: skip
    leaves(elem, [("ConfiguredPortSwitchMode", "Veb")], kb="CUD")
    leaves(elem, [("CurrentConnectionSpeed", port.speed if port.link_up else "Unknown")])
    current = ["fullDuplex", "linkUp", "Veb"] if port.link_up else ["Veb"]
    leaves(elem, [("CurrentOptions", opt) for opt in current])
    xml.leaf(elem, "Label", port.label, kb="CUR")
    leaves(elem, [("LocationCode", port.location), ("MaximumDiagnosticsLogicalPorts", 1),
                  ("MaximumPromiscuousLogicalPorts", 1), ("PhysicalPortID", port.port_id)])  # fmt: skip
    caps = ("Clear Logical Port Stat", "Clear Physical Port Stat", "IEEE8021Q_Priority", "Pvid")
    leaves(elem, [("PortCapabilities", cap) for cap in caps])
    leaves(elem, [("PortType", "Cna" if port.port_type == "converged" else "Ethernet"),
                  ("PortLogicalPortLimit", port.supported_max_logical_ports)])  # fmt: skip
    xml.leaf(elem, "SubLabel", port.sublabel, kb="CUR")
    speeds = ("Auto", "E1Gbps", "E10Gbps") if port.speed != "E1Gbps" else ("Auto", "E100Mbps", "E1Gbps")
    leaves(elem, [("SupportedConnectionSpeeds", s) for s in speeds])
    leaves(elem, [("SupportedMTUs", "E_1500"), ("SupportedMTUs", "E_9000")])
    options = ("autoDuplex", "fullDuplex", "promiscousMode", "receiveFlowControl", "transmitFlowControl", "Veb")
    leaves(elem, [("SupportedOptions", opt) for opt in (*options, "Vepa")])
    leaves(elem, [("SupportedPriorityAccessControlList", 0), ("LinkStatus", port.link_up),
                  ("AllocatedCapacity", percent(port.allocated_capacity))])  # fmt: skip
    xml.leaf(elem, "ConfiguredMaxEthernetLogicalPorts", port.max_logical_ports, kb="UOD")
    leaves(elem, [
        ("ConfiguredEthernetLogicalPorts", port.configured_logical_ports), ("MaximumPortVLANID", 4094),
        ("MaximumVLANID", 4094), ("MinimumEthernetCapacityGranularity", percent(port.granularity)),
        ("MinimumPortVLANID", 2), ("MinimumVLANID", 2),
        ("MaxSupportedEthernetLogicalPorts", port.supported_max_logical_ports),
    ])  # fmt: skip
    if port.port_type == "converged":
        xml.leaf(elem, "ConfiguredMaxFiberChannelOverEthernetLogicalPorts", 0, kb="UOD")
        leaves(elem, [("MinimumFCoECapacityGranularity", "10.0%"),
                      ("MaxSupportedFiberChannelOverEthernetLogicalPorts", 0)])  # fmt: skip
    return elem


def _memory(elem: etree._Element, sysm: System, parts: list[Partition]) -> None:
    used = sum(p.memory_mb for p in parts if p.is_active)
    avail = max(sysm.memory_mb - sysm.firmware_memory_mb - used, 0)
    mem = container(elem, "AssociatedSystemMemoryConfiguration")
    leaves(mem, [("ConfigurableSystemMemory", sysm.memory_mb), ("CurrentAvailableSystemMemory", avail),
                 ("CurrentLogicalMemoryBlockSize", 256), ("DefaultHardwarePageTableRatio", 6),
                 ("InstalledSystemMemory", sysm.memory_mb), ("MaximumMemoryPoolCount", 1)])  # fmt: skip
    xml.leaf(mem, "MemoryRegionSize", 256)
    leaves(mem, [("MemoryUsedByHypervisor", sysm.firmware_memory_mb)])
    for tag, value in (("PendingAvailableSystemMemory", avail), ("PendingLogicalMemoryBlockSize", 256),
                       ("PendingMemoryRegionSize", 256)):  # fmt: skip
        xml.leaf(mem, tag, value)
    bare(mem, "SharedMemoryPool")


def _processors(elem: etree._Element, sysm: System, parts: list[Partition]) -> None:
    used = sum(p.proc_units for p in parts if p.is_active)
    avail = round(max(sysm.proc_units - used, 0.0), 2)
    proc = container(elem, "AssociatedSystemProcessorConfiguration")
    leaves(proc, [
        ("ConfigurableSystemProcessorUnits", sysm.proc_units), ("CurrentAvailableSystemProcessorUnits", avail),
        ("CurrentMaximumProcessorsPerAIXOrLinuxPartition", _MAX_PROCS_PER_PARTITION),
        ("CurrentMaximumProcessorsPerIBMiPartition", _MAX_PROCS_PER_PARTITION),
        ("CurrentMaximumAllowedProcessorsPerPartition", _MAX_VCPUS_PER_PARTITION),
        ("CurrentMaximumProcessorsPerVirtualIOServerPartition", _MAX_PROCS_PER_PARTITION),
        ("CurrentMaximumVirtualProcessorsPerAIXOrLinuxPartition", _MAX_PROCS_PER_PARTITION),
        ("CurrentMaximumVirtualProcessorsPerIBMiPartition", _MAX_PROCS_PER_PARTITION),
        ("CurrentMaximumVirtualProcessorsPerVirtualIOServerPartition", _MAX_PROCS_PER_PARTITION),
        ("InstalledSystemProcessorUnits", sysm.proc_units),
        ("MaximumAllowedVirtualProcessorsPerPartition", _MAX_VCPUS_PER_PARTITION),
        ("MinimumProcessorUnitsPerVirtualProcessor", 0.05),
    ])  # fmt: skip
    xml.leaf(proc, "PendingAvailableSystemProcessorUnits", avail)
    leaves(proc, [("SupportedPartitionProcessorCompatibilityModes", mode) for mode in sysm.compat_modes])
    bare(proc, "SharedProcessorPool")


def _migration(elem: etree._Element) -> None:
    mig = container(elem, "SystemMigrationInformation", kb="ROR")
    leaves(mig, [("MaximumInactiveMigrations", 16), ("MaximumActiveMigrations", 16),
                 ("NumberOfInactiveMigrationsInProgress", 0), ("NumberOfActiveMigrationsInProgress", 0)])  # fmt: skip
