"""The storage network behind the VIOSes: physical FC ports, SAN LUNs and iSCSI targets.

Physical FC ports are part of the VIOS document, where NovaLink serves them: each port is a
``PhysicalFibreChannelPort`` of a ``PhysicalFibreChannelAdapter`` in a ``ProfileIOSlot`` of the
VIOS's ``PartitionIOConfiguration`` (pypowervm ``VIOS.pfc_ports``; element order of the capture
``fake_vios_ssp_npiv.txt``). A port has its WWPN and NPIV capacity (``TotalPorts`` virtual ports,
``AvailablePorts`` free).

LUNs and iSCSI targets are not REST objects: they are the storage array's, which the VIOSes only
see through discovery jobs (``model.fc``, ``model.iscsi``). They live in one internal record of kind
``SimulatedSAN`` that no route serves:
- a FC LUN has its SCSI LUN id, the array's target port WWPNs and the initiator WWPNs it is zoned
  and masked to (physical VIOS ports for vSCSI, a client's virtual WWPNs for NPIV), capacity and UDID;
- an iSCSI target has its IQN, portal, LUN, capacity, CHAP and discovery CHAP credentials and the
  VIOSes that can reach the portal;
- an RBD image (``pool/image``) of the Ceph cluster the NovaLink partition reaches, with its capacity.
"""

from __future__ import annotations

import base64
import dataclasses

from lxml import etree

from powervm_openstack.simulator.build import Partition, derive_uuid
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

SAN_KIND = "SimulatedSAN"
SAN_UUID = derive_uuid("SimulatedSAN")
NPIV_PORTS = 64


@dataclasses.dataclass
class FcPort:
    """One physical FC port of a VIOS (``fcsN``)."""

    vios: Partition
    name: str
    wwpn: str
    npiv_ports: int = NPIV_PORTS


@dataclasses.dataclass
class Lun:
    """One FC LUN of the array: reachable through ``targets`` by the ``initiators`` it is masked to."""

    name: str
    lun: int
    capacity_gb: int
    targets: list[str]
    initiators: list[str]

    @property
    def udid(self) -> str:
        return fc_udid(self.name)


@dataclasses.dataclass
class IscsiTarget:
    """One iSCSI LUN: ``(iqn, lun)`` behind ``portal``, reachable from ``vioses``."""

    iqn: str
    portal: str
    lun: int
    capacity_gb: int
    vioses: list[Partition]
    chap: tuple[str, str] | None = None
    discovery_chap: tuple[str, str] | None = None


@dataclasses.dataclass
class RbdImage:
    """One Ceph RBD image, ``pool/image``."""

    name: str
    capacity_gb: int


@dataclasses.dataclass
class San:
    ports: list[FcPort] = dataclasses.field(default_factory=list)
    luns: list[Lun] = dataclasses.field(default_factory=list)
    iscsi: list[IscsiTarget] = dataclasses.field(default_factory=list)
    rbd: list[RbdImage] = dataclasses.field(default_factory=list)


def fc_udid(name: str) -> str:
    """A FC hdisk UDID as VIOSes report them: ``01M0lCT`` + base64 of the page-83 identifier."""
    pg83 = "6005076" + derive_uuid("lun", name).replace("-", "")[:25].upper()
    return "01M0lCT" + base64.b64encode(pg83.encode()).decode()


def iscsi_udid(iqn: str, lun: int) -> str:
    """An iSCSI hdisk UDID (``3E21`` + identifier + ``iscsi``, as ``lsattr -l hdiskN -a unique_id``)."""
    return "3E213600A0B80" + derive_uuid("iscsi", iqn, lun).replace("-", "")[:19].upper() + "0FAStT03IBMiscsi"


def pg83_descriptor(udid: str) -> str | None:
    """The base64 SCSI page-83 NAA descriptor of an hdisk with a UDID made by ``fc_udid``/``iscsi_udid``."""
    if udid.startswith("01M0lCT"):
        return udid[len("01M0lCT") :]
    if udid.startswith("3E213") and udid.endswith("iscsi"):
        return base64.b64encode(udid[5:32].encode()).decode()
    return None


def add_fc_ports(vios_elem: etree._Element, ports: list[FcPort], location: str) -> None:
    """Put ``ports`` (two per adapter) into the VIOS document's ``PartitionIOConfiguration``."""
    io = xml.find(vios_elem, "PartitionIOConfiguration")
    if io is None or not ports:
        return
    slots = etree.Element(xml.q("ProfileIOSlots"), attrib={"kb": "CUD", "kxe": "false", "schemaVersion": "V1_0"})
    slots.append(xml.metadata())
    io.insert(list(io).index(xml.find(io, "MaximumVirtualIOSlots")) + 1, slots)
    for card, start in enumerate(range(0, len(ports), 2), start=2):
        drc = f"{location}-P1-C{card}"
        slot = xml.complex_el(slots, "ProfileIOSlot")
        assoc = xml.complex_el(slot, "AssociatedIOSlot")
        xml.leaf(assoc, "Description", "8 Gigabit PCI Express Dual Port Fibre Channel Adapter")
        related = etree.SubElement(assoc, xml.q("RelatedIOAdapter"), attrib={"kb": "CUD", "kxe": "false"})
        adapter = xml.complex_el(related, "PhysicalFibreChannelAdapter")
        for tag, value in (("AdapterID", 553714176 + card), ("Description", "8 Gigabit PCI Express Dual Port Fibre "
                           "Channel Adapter"), ("DeviceName", drc), ("DynamicReconfigurationConnectorName", drc),
                           ("PhysicalLocation", f"C{card}")):  # fmt: skip
            xml.leaf(adapter, tag, value, kb="ROR")
        holder = xml.complex_el(adapter, "PhysicalFibreChannelPorts")
        for num, port in enumerate(ports[start : start + 2], start=1):
            elem = xml.complex_el(holder, "PhysicalFibreChannelPort")
            xml.leaf(elem, "LocationCode", f"{drc}-T{num}", kb="ROR")
            xml.complex_el(elem, "PhysicalVolumes")
            xml.leaf(elem, "PortName", port.name, kb="CUR")
            xml.leaf(elem, "UniqueDeviceID", f"1a{drc}-T{num}", kb="ROR")
            xml.leaf(elem, "WWPN", port.wwpn, kb="CUR")
            xml.leaf(elem, "AvailablePorts", port.npiv_ports, kb="ROR")
            xml.leaf(elem, "TotalPorts", port.npiv_ports, kb="ROR")
        xml.leaf(slot, "IsRequired", False)


def lun_element(parent: etree._Element, lun: Lun) -> etree._Element:
    elem = etree.SubElement(parent, "Lun", name=lun.name, lun=str(lun.lun), capacity_gb=str(lun.capacity_gb),
                            udid=lun.udid)  # fmt: skip
    for wwpn in lun.targets:
        etree.SubElement(elem, "Target", wwpn=wwpn.lower())
    for wwpn in lun.initiators:
        etree.SubElement(elem, "Initiator", wwpn=wwpn.lower())
    return elem


def iscsi_element(parent: etree._Element, target: IscsiTarget) -> etree._Element:
    elem = etree.SubElement(parent, "IscsiTarget", iqn=target.iqn, portal=target.portal, lun=str(target.lun),
                            capacity_gb=str(target.capacity_gb), udid=iscsi_udid(target.iqn, target.lun))  # fmt: skip
    for attr, creds in (("chap", target.chap), ("discovery", target.discovery_chap)):
        if creds:
            elem.set(f"{attr}_user", creds[0])
            elem.set(f"{attr}_password", creds[1])
    for vios in target.vioses:
        etree.SubElement(elem, "Vios", uuid=vios.uuid)
    return elem


def san_record(san: San | None) -> Record:
    """The internal SimulatedSAN record (served by no route)."""
    root = etree.Element(SAN_KIND)
    san = san or San()
    for lun in san.luns:
        lun_element(root, lun)
    for target in san.iscsi:
        iscsi_element(root, target)
    for image in san.rbd:
        etree.SubElement(root, "Rbd", name=image.name, capacity_gb=str(image.capacity_gb))
    return Record(SAN_KIND, SAN_UUID, root, title=SAN_KIND)


def with_fc_ports(rec: Record, vios: Partition, topo: object) -> Record:
    """The VIOS record with its topology FC ports in its document."""
    san = getattr(topo, "san", None)
    ports = [p for p in (san.ports if san else []) if p.vios is vios]
    system = topo.system  # type: ignore[attr-defined]
    add_fc_ports(rec.element, ports, f"U{system.machine_type}.001.{system.serial}")
    return rec
