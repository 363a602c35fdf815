"""The resolved topology model the XML builders turn into simulator records.

``simulator.topology`` validates a YAML topology file and resolves it into these objects: every
object already carries its UUID, slot numbers, device names and MAC addresses, so the builders in
this package (``system``, ``partition``, ``vios``, ``network``) only write XML.

Identity rules (real NovaLink semantics):
- every UUID is derived with uuid5 from names, so one topology always gives the same state;
- LogicalPartition/VirtualIOServer UUIDs are uppercase with the first bit cleared (PowerVM UUIDs
  have byte 0, bit 0 == 0, see ``pypowervm.utils.uuid.convert_uuid_to_pvm``); all others lowercase;
- a virtual adapter's location code is ``U<type>.<model>.<serial>-V<partition id>-C<slot>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid as uuidlib
from typing import Any

_NAMESPACE = uuidlib.UUID("5b0e0a8e-6c4f-5d6e-9a51-2f0c5e8d7a10")

#: NetworkBridge mode in the topology -> SEA HighAvailabilityMode.
HA_MODES = {"failover": "auto", "sharing": "sharing", "single": "disabled"}


def derive_uuid(*parts: object) -> str:
    """A lowercase uuid5 from ``parts``; the same parts always give the same UUID."""
    return str(uuidlib.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def partition_uuid(serial: str, name: str) -> str:
    """An LPAR/VIOS UUID: uppercase, first hex digit below 8, as NovaLink writes them."""
    raw = derive_uuid("partition", serial, name)
    return f"{int(raw[0], 16) & 7:x}{raw[1:]}".upper()


def derive_mac(partition_uuid_: str, slot: int) -> str:
    """A locally administered unicast MAC (12 uppercase hex digits) for a partition's slot."""
    digest = hashlib.sha256(partition_uuid_.encode()).digest()
    first = (digest[0] & 0xFC) | 0x02
    return f"{first:02X}{digest[1]:02X}{digest[2]:02X}{digest[3]:02X}{(slot >> 8) & 0xFF:02X}{slot & 0xFF:02X}"


@dataclasses.dataclass
class System:
    """The one ManagedSystem a NovaLink manages."""

    uuid: str
    name: str
    machine_type: str
    model: str
    serial: str
    memory_mb: int
    firmware_memory_mb: int
    proc_units: float
    compat_modes: tuple[str, ...]
    max_partitions: int
    primary_ip: str
    enclosure: str
    state: str = "operating"

    def loc_code(self, partition_id: int, slot: int) -> str:
        """Location code of a virtual adapter: ``U<type>.<model>.<serial>-V<id>-C<slot>``."""
        return f"U{self.machine_type}.{self.model}.{self.serial}-V{partition_id}-C{slot}"


@dataclasses.dataclass
class VSwitch:
    uuid: str
    name: str
    switch_id: int
    mode: str


@dataclasses.dataclass
class VNet:
    """A VirtualNetwork: one VLAN on one vswitch, tagged or untagged."""

    uuid: str
    vswitch: VSwitch
    vlan: int
    tagged: bool

    @property
    def name(self) -> str:
        """NovaLink's naming: ``ETHERNET0-1234`` when tagged, ``VLAN2227-ETHERNET0`` when not."""
        if self.tagged:
            return f"{self.vswitch.name}-{self.vlan}"
        return f"VLAN{self.vlan}-{self.vswitch.name}"


@dataclasses.dataclass
class Cna:
    """A virtual Ethernet adapter; a trunk adapter when ``trunk_priority`` is set."""

    uuid: str
    slot: int
    pvid: int
    vswitch: VSwitch
    mac: str
    tagged_vlans: tuple[int, ...] = ()
    trunk_priority: int | None = None
    device: str | None = None

    @property
    def is_trunk(self) -> bool:
        return self.trunk_priority is not None


@dataclasses.dataclass
class Partition:
    """A LogicalPartition (``kind`` LogicalPartition, incl. the management partition) or a VIOS."""

    uuid: str
    name: str
    partition_id: int
    kind: str
    state: str
    rmc_state: str
    env: str
    os_version: str
    memory_mb: int
    proc_units: float
    vcpus: int
    max_slots: int
    is_mgmt: bool = False
    rmc_ip: str | None = None
    cnas: list[Cna] = dataclasses.field(default_factory=list)
    pcm: dict[str, float] | None = None  # a client LPAR's PCM rates (topology.pcm)

    @property
    def is_active(self) -> bool:
        """Whether the partition holds its memory and processors (anything but down states)."""
        return self.state not in ("not activated", "error", "not available")


@dataclasses.dataclass
class Sea:
    """A SharedEthernetAdapter; ``trunks[0]`` is its primary trunk (PVID == bridge PVID)."""

    vios: Partition
    device: str
    backing_device: str
    backing_location: str
    trunks: list[Cna]
    is_primary: bool
    udid: str
    control_channel: str | None = None


@dataclasses.dataclass
class Bridge:
    """A NetworkBridge: one SEA (``single``) or a redundant pair (``failover``/``sharing``)."""

    uuid: str
    name: str
    pvid: int
    vswitch: VSwitch
    mode: str
    seas: list[Sea]
    udid: int
    control_channel_id: int | None = None

    @property
    def ha_mode(self) -> str:
        return HA_MODES[self.mode]


@dataclasses.dataclass
class SriovPort:
    """An SR-IOV physical port; capacities are percentages (2.0 means 2.0%)."""

    port_id: int
    location: str
    label: str
    sublabel: str
    link_up: bool
    speed: str
    granularity: float
    allocated_capacity: float
    max_logical_ports: int
    supported_max_logical_ports: int
    configured_logical_ports: int
    port_type: str


@dataclasses.dataclass
class SriovAdapter:
    adapter_id: int
    drc_index: int
    location: str
    description: str
    mode: str
    state: str
    personality: str
    max_logical_ports: int
    ports: list[SriovPort]


@dataclasses.dataclass
class Topology:
    """One managed system and everything on it, fully resolved."""

    system: System
    vswitches: list[VSwitch]
    partitions: list[Partition]
    bridges: list[Bridge]
    sriov_adapters: list[SriovAdapter]
    #: ``build.storage.VolumeGroup`` / ``build.storage.SharedStoragePool`` objects.
    volume_groups: list = dataclasses.field(default_factory=list)
    pools: list = dataclasses.field(default_factory=list)
    #: ``build.san.San``: FC ports, SAN LUNs and iSCSI targets (None: none).
    san: Any = None

    @property
    def vioses(self) -> list[Partition]:
        return [p for p in self.partitions if p.kind == "VirtualIOServer"]

    @property
    def lpars(self) -> list[Partition]:
        return [p for p in self.partitions if p.kind == "LogicalPartition"]

    def all_cnas(self) -> list[tuple[Partition, Cna]]:
        """Every virtual Ethernet adapter with its partition: partition CNAs, then SEA trunks."""
        found = [(p, c) for p in self.partitions for c in p.cnas]
        found += [(sea.vios, t) for nb in self.bridges for sea in nb.seas for t in sea.trunks]
        return found

    def vnets(self) -> list[VNet]:
        """The VirtualNetworks: one per (vswitch, VLAN) in use, sorted.

        As on PowerVM, a VLAN has one VirtualNetwork per vswitch; it is tagged when any adapter
        carries the VLAN tagged (a trunk's ``TaggedVLANIDs``), untagged when it is only a PVID.
        """
        tagged: dict[tuple[int, int], bool] = {}
        switches = {vs.switch_id: vs for vs in self.vswitches}
        for _, cna in self.all_cnas():
            tagged.setdefault((cna.vswitch.switch_id, cna.pvid), False)
            tagged.update(((cna.vswitch.switch_id, vlan), True) for vlan in cna.tagged_vlans)
        return [
            VNet(derive_uuid(self.system.uuid, "VirtualNetwork", switches[sw].name, vlan), switches[sw], vlan, tag)
            for (sw, vlan), tag in sorted(tagged.items())
        ]

    def vnet_index(self) -> dict[tuple[int, int], VNet]:
        """``{(switch id, vlan): VNet}`` for link lookups."""
        return {(v.vswitch.switch_id, v.vlan): v for v in self.vnets()}
