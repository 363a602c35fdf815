"""Storage documents: VIOS volume groups (with an optional media repository) and Shared Storage Pools.

A volume group is a CHILD of its VIOS (``VirtualIOServer/<u>/VolumeGroup/<u>``), backed by one
physical volume. A Shared Storage Pool is three ROOT objects, as NovaLink serves them: the Cluster
(its nodes are the member VIOSes), the SharedStoragePool, and its default Tier; logical units are
created later under the Tier. Element order follows the NovaLink captures (``upload_volgrp.txt``,
``cluster.txt``, ``ssp.txt``, ``tier.txt``).
"""

from __future__ import annotations

import dataclasses

from lxml import etree

from powervm_openstack.simulator.build import Partition, Topology, derive_uuid
from powervm_openstack.simulator.build.system import container, leaves
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

UOM = "/rest/api/uom"


@dataclasses.dataclass
class VolumeGroup:
    """A VIOS volume group; ``repository`` is (name, size GB) of its media repository, if any."""

    uuid: str
    vios: Partition
    name: str
    capacity_gb: int
    pv_name: str
    repository: tuple[str, int] | None = None

    @property
    def serial(self) -> str:
        return self.uuid.replace("-", "")[:32]


@dataclasses.dataclass
class SharedStoragePool:
    """A Shared Storage Pool with its cluster and default tier; ``vioses`` are the cluster's nodes."""

    name: str
    cluster: str
    tier: str
    capacity_gb: int
    vioses: list[Partition]
    uuid: str = ""
    cluster_uuid: str = ""
    tier_uuid: str = ""

    def __post_init__(self) -> None:
        self.uuid = self.uuid or derive_uuid("SharedStoragePool", self.cluster, self.name)
        self.cluster_uuid = self.cluster_uuid or derive_uuid("Cluster", self.cluster)
        self.tier_uuid = self.tier_uuid or derive_uuid("Tier", self.cluster, self.name, self.tier)

    @property
    def udid(self) -> str:
        return "24" + self.uuid.replace("-", "")


def _pv(parent: etree._Element, name: str, capacity_mb: int, udid_seed: str, fc: bool) -> None:
    pv = xml.complex_el(parent, "PhysicalVolume")
    xml.leaf(pv, "Description", "MPIO IBM 2076 FC Disk" if fc else "SAS RAID 0 Disk Array")
    leaves(pv, [("UniqueDeviceID", "01M0lCTU" + derive_uuid("pv", udid_seed).replace("-", "")[:24])])
    xml.leaf(pv, "VolumeCapacity", capacity_mb, kb="CUR")
    xml.leaf(pv, "VolumeName", name, kb="CUR")
    leaves(pv, [("VolumeState", "active"), ("IsFibreChannelBacked", fc)])


def build_volume_group(vg: VolumeGroup) -> Record:
    """A VolumeGroup record, a child of its VIOS; empty of disks, with its repository if configured."""
    elem = xml.root("VolumeGroup", vg.uuid)
    free = vg.capacity_gb - (vg.repository[1] if vg.repository else 0)
    leaves(elem, [("AvailableSize", free), ("FreeSpace", free)])
    xml.leaf(elem, "GroupCapacity", vg.capacity_gb, kb="CUR")
    xml.leaf(elem, "GroupName", vg.name, kb="CUR")
    leaves(elem, [("GroupSerialID", vg.serial), ("MaximumLogicalVolumes", 1024)])
    repos = container(elem, "MediaRepositories")
    if vg.repository:
        repo = xml.complex_el(repos, "VirtualMediaRepository")
        container(repo, "OpticalMedia")
        xml.leaf(repo, "RepositoryName", vg.repository[0], kb="CUR")
        xml.leaf(repo, "RepositorySize", vg.repository[1], kb="CUR")
    pvs = container(elem, "PhysicalVolumes")
    _pv(pvs, vg.pv_name, vg.capacity_gb * 1024, vg.uuid, fc=False)
    leaves(elem, [("UniqueDeviceID", "04" + vg.serial)])
    container(elem, "VirtualDisks")
    return Record("VolumeGroup", vg.uuid, elem, parent_kind="VirtualIOServer", parent_uuid=vg.vios.uuid,
                  title="VolumeGroup")  # fmt: skip


def build_pool(pool: SharedStoragePool, topo: Topology) -> list[Record]:
    """The Cluster, SharedStoragePool and Tier records of one pool."""
    return [_cluster(pool, topo), _ssp(pool), _tier(pool)]


def _cluster(pool: SharedStoragePool, topo: Topology) -> Record:
    elem = xml.root("Cluster", pool.cluster_uuid)
    xml.leaf(elem, "ClusterName", pool.cluster, kb="COR")
    xml.leaf(elem, "ClusterID", "22" + pool.cluster_uuid.replace("-", ""))
    repo = container(elem, "RepositoryDisk")
    _pv(repo, "hdisk9", 10240, pool.cluster_uuid, fc=True)
    xml.link(elem, "ClusterSharedStoragePool", f"{UOM}/SharedStoragePool/{pool.uuid}")
    nodes = container(elem, "Node")
    sysm = topo.system
    for vios in pool.vioses:
        node = xml.complex_el(nodes, "Node")
        xml.leaf(node, "HostName", f"{vios.name}.example.com")
        xml.leaf(node, "PartitionID", vios.partition_id)
        mtms = container(node, "MachineTypeModelAndSerialNumber")
        for tag, value in (("MachineType", sysm.machine_type), ("Model", sysm.model), ("SerialNumber", sysm.serial)):
            xml.leaf(mtms, tag, value, kb="CUR")
        xml.leaf(node, "VirtualIOServerLevel", "3.1.3.21")
        xml.link(node, "VirtualIOServer", f"{UOM}/ManagedSystem/{sysm.uuid}/VirtualIOServer/{vios.uuid}")
        leaves(node, [("State", "Up")])
    return Record("Cluster", pool.cluster_uuid, elem, title="Cluster")


def _ssp(pool: SharedStoragePool) -> Record:
    elem = xml.root("SharedStoragePool", pool.uuid)
    container(elem, "LogicalUnits")
    for tag in ("MultiDataTierConfigured", "MultiFailureGroupConfigured"):
        xml.leaf(elem, tag, False)
    pvs = container(elem, "PhysicalVolumes", kb="CUR")
    _pv(pvs, "hdisk10", pool.capacity_gb * 1024, pool.uuid, fc=True)
    for tag, value in (("Capacity", pool.capacity_gb), ("FreeSpace", pool.capacity_gb), ("OverCommitSpace", 0),
                       ("TotalLogicalUnitSize", 0)):  # fmt: skip
        xml.leaf(elem, tag, value, kb="CUR")
    xml.leaf(elem, "AlertThreshold", "35%")
    xml.leaf(elem, "StoragePoolName", pool.name, kb="CUR")
    leaves(elem, [("UniqueDeviceID", pool.udid)])
    return Record("SharedStoragePool", pool.uuid, elem, title="SharedStoragePool")


def _tier(pool: SharedStoragePool) -> Record:
    elem = xml.root("Tier", pool.tier_uuid)
    xml.leaf(elem, "Name", pool.tier, kb="CUR")
    leaves(elem, [("UniqueDeviceID", "25" + pool.tier_uuid.replace("-", ""))])
    xml.leaf(elem, "Type", "UnrestrictedSystemTier")
    xml.leaf(elem, "IsDefault", True)
    leaves(elem, [("Capacity", pool.capacity_gb), ("MirrorState", "NotMirrored")])
    xml.link(elem, "AssociatedSharedStoragePool", f"{UOM}/SharedStoragePool/{pool.uuid}")
    # ROOT, and also served under its pool (pypowervm finds the default tier at SharedStoragePool/<u>/Tier).
    return Record("Tier", pool.tier_uuid, elem, parent_kind="SharedStoragePool", parent_uuid=pool.uuid, title="Tier")
