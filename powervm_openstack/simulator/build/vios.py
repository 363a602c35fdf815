"""VirtualIOServer documents: base-partition fields, RMC state, network and (empty) storage groups.

Children follow pypowervm's ``_VIOS_EL_ORDER``. Extended groups carry ``group=`` so that
``?group=`` filtering serves them only on request:
- ``ViosNetwork``: ``SharedEthernetAdapters`` (copies of the SEA elements of the NetworkBridges this
  VIOS hosts), ``TrunkAdapters`` (those SEAs' trunks, then orphan trunks owned by no SEA),
  ``LinkAggregations``, ``FreeIOAdaptersForLinkAggregation``, ``FreeEthenetBackingDevicesForSEA``;
- ``ViosStorage``: ``MediaRepositories``, ``PhysicalVolumes``, ``StoragePools`` (empty);
- ``ViosFCMapping``/``ViosSCSIMapping``: the (empty) mapping lists.
"""

from __future__ import annotations

from lxml import etree

from powervm_openstack.simulator.build import Partition, Topology
from powervm_openstack.simulator.build.network import sea_element, trunk_element
from powervm_openstack.simulator.build.partition import base_fields
from powervm_openstack.simulator.build.system import container
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

NET = "ViosNetwork"
STORAGE = "ViosStorage"


def build_vios(vios: Partition, topo: Topology) -> Record:
    """A VirtualIOServer record, a child of the ManagedSystem."""
    elem = xml.root("VirtualIOServer", vios.uuid)
    base_fields(elem, vios, topo, cna_links=True)
    for tag in ("APICapable", "IsVNICCapable"):
        xml.leaf(elem, tag, True)
    xml.leaf(elem, "VNICFailOverCapable", True).set("ksv", "V1_4_0")
    container(elem, "LinkAggregations", group=NET)
    xml.leaf(elem, "ManagerPassthroughCapable", False)
    container(elem, "MediaRepositories", group=STORAGE)
    xml.leaf(elem, "MoverServicePartition", False)
    xml.leaf(elem, "PagingServicePartition", False)
    container(elem, "PhysicalVolumes", group=STORAGE)
    _network(elem, vios, topo)
    xml.leaf(elem, "VirtualIOServerLicenseAccepted", True)
    container(elem, "VirtualFibreChannelMappings", group="ViosFCMapping")
    container(elem, "VirtualSCSIMappings", group="ViosSCSIMapping")
    container(elem, "FreeIOAdaptersForLinkAggregation", group=NET, kb="ROR")
    container(elem, "FreeEthenetBackingDevicesForSEA", group=NET, kb="ROR")
    return Record(
        kind="VirtualIOServer",
        uuid=vios.uuid,
        element=elem,
        parent_kind="ManagedSystem",
        parent_uuid=topo.system.uuid,
    )


def _network(elem: etree._Element, vios: Partition, topo: Topology) -> None:
    """SharedEthernetAdapters, StoragePools (between them in schema order) and TrunkAdapters."""
    hosted = [(nb, sea) for nb in topo.bridges for sea in nb.seas if sea.vios is vios]
    seas = container(elem, "SharedEthernetAdapters", group=NET)
    for nb, sea in hosted:
        sea_element(seas, sea, nb, topo)
    container(elem, "StoragePools", group=STORAGE)
    trunks = container(elem, "TrunkAdapters", group=NET)
    for _, sea in hosted:
        for trunk in sea.trunks:
            trunk_element(trunks, trunk, vios, topo)
    for orphan in (c for c in vios.cnas if c.is_trunk):
        trunk_element(trunks, orphan, vios, topo)
