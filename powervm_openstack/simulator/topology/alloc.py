"""Virtual adapters of a topology: free slots, device names and MACs assigned per partition.

``Adapters`` collects every client network adapter and SEA trunk adapter while the file is read,
then ``resolve()`` assigns them deterministically: explicit slots first, then the lowest free slot
from 2; VIOS trunks without a device name get the lowest free ``ent<N>`` from ``ent4``; MACs are
derived from the partition UUID and slot unless given. Conflicts raise ``TopologyError`` naming
both places.
"""

from __future__ import annotations

import dataclasses
import re

from powervm_openstack.simulator.build import Cna, Partition, Sea, VSwitch, derive_mac, derive_uuid
from powervm_openstack.simulator.topology.fields import Fields, TopologyError

_DEVICE = re.compile(r"ent\d+")
_OS_DEVICE = re.compile(r"[A-Za-z][\w.-]{0,14}")


@dataclasses.dataclass
class _Pending:
    part: Partition
    sink: list[Cna]
    where: str
    vswitch: VSwitch
    pvid: int
    tagged: tuple[int, ...]
    slot: int | None
    mac: str | None
    priority: int | None
    device: str | None


class Adapters:
    """Collects every virtual adapter, then assigns free slots, device names and MACs per partition."""

    CNA_KEYS = ("vswitch", "pvid", "tagged_vlans", "slot", "mac", "trunk_priority", "device")

    def __init__(self, switches: dict[str, VSwitch]) -> None:
        self.switches = switches
        self.pending: list[_Pending] = []
        self.devices: dict[str, dict[str, str]] = {}

    def vswitch(self, f: Fields, key: str = "vswitch", default: object = "ETHERNET0") -> VSwitch:
        """The virtual switch named by ``key``."""
        name = f.text(key, default)
        if name not in self.switches:
            known = ", ".join(self.switches)
            raise TopologyError(f"{f.at(key)}: unknown virtual switch {name!r} (known: {known})")
        return self.switches[name]

    def device(self, part: Partition, where: str, name: object) -> str:
        """Register a device name of ``part`` (unique per partition; ``ent<N>`` on a VIOS)."""
        vios_ = part.kind == "VirtualIOServer" and not part.is_mgmt  # a NovaLink I/O server runs Linux
        if not isinstance(name, str) or not (_DEVICE if vios_ else _OS_DEVICE).fullmatch(name):
            allowed = "ent<N>, e.g. ent5" if vios_ else "an OS device name, e.g. eth0"
            raise TopologyError(f"{where}: device name {name!r} is not valid (expected {allowed})")
        used = self.devices.setdefault(part.uuid, {})
        if name in used:
            raise TopologyError(f"{where}: device {name} is already used on {part.name} by {used[name]}")
        used[name] = where
        return name

    def add_cna(self, part: Partition, f: Fields, trunk: bool = False) -> None:
        """A partition's client network adapter (or, with ``trunk``, a VIOS orphan trunk)."""
        priority = f.whole("trunk_priority", 1 if trunk else None, lo=1, hi=15)
        pvid, tagged = f.vlan("pvid"), f.vlans("tagged_vlans")
        if pvid in tagged:
            raise TopologyError(f"{f.at('tagged_vlans')}: VLAN {pvid} is also the adapter's PVID")
        raw_device = f.raw("device", None)
        device = self.device(part, f.at("device"), raw_device) if raw_device is not None else None
        self.pending.append(_Pending(part, part.cnas, f.where, self.vswitch(f), pvid, tagged,
                                     f.whole("slot", None, lo=2, hi=part.max_slots - 1), _mac(f), priority,
                                     device))  # fmt: skip

    def add_trunk(self, host: Partition, sea: Sea, f: Fields, trunk: tuple[int, tuple[int, ...]], vsw: VSwitch,
                  slot: object, device: object, index: int) -> None:  # fmt: skip
        """One trunk adapter of a SEA; ``trunk`` is (PVID, tagged VLANs)."""
        where = f"{f.where}.trunk_slots[{index}]"
        if slot is not None and (isinstance(slot, bool) or not isinstance(slot, int) or not 2 <= slot < host.max_slots):
            raise TopologyError(f"{where}: slot {slot!r} is outside 2-{host.max_slots - 1}")
        dev = self.device(host, f"{f.where}.trunk_devices[{index}]", device) if device is not None else None
        priority = 1 if sea.is_primary else 2
        self.pending.append(_Pending(host, sea.trunks, where, vsw, trunk[0], trunk[1], slot, None, priority, dev))

    def resolve(self) -> None:
        """Assign slots (explicit first, then the lowest free from 2), device names, MACs, UUIDs."""
        slots: dict[str, dict[int, str]] = {}
        for p in self.pending:
            if p.slot is not None:
                taken = slots.setdefault(p.part.uuid, {})
                if p.slot in taken:
                    raise TopologyError(f"{p.where}: slot {p.slot} on {p.part.name} is already used by {taken[p.slot]}")
                taken[p.slot] = p.where
        macs: dict[str, str] = {}
        for p in self.pending:
            p.slot = p.slot if p.slot is not None else _next_free(slots.setdefault(p.part.uuid, {}), p)
            if p.priority is not None and p.device is None and p.part.kind == "VirtualIOServer" and not p.part.is_mgmt:
                p.device = _next_device(self.devices.setdefault(p.part.uuid, {}), p.where)
            mac = p.mac or derive_mac(p.part.uuid, p.slot)
            if mac in macs:
                raise TopologyError(f"{p.where}: MAC {mac} is already used by {macs[mac]}")
            macs[mac] = p.where
            uuid = derive_uuid(p.part.uuid, "ClientNetworkAdapter", p.slot)
            p.sink.append(Cna(uuid, p.slot, p.pvid, p.vswitch, mac, p.tagged, p.priority, p.device))


def _mac(f: Fields) -> str | None:
    raw = f.text("mac", None)
    if raw is None:
        return None
    mac = raw.replace(":", "").replace("-", "").upper()
    if not re.fullmatch(r"[0-9A-F]{12}", mac) or int(mac[:2], 16) & 1:
        raise TopologyError(f"{f.at('mac')}: {raw!r} is not a unicast MAC address (12 hex digits)")
    return mac


def _next_free(taken: dict[int, str], p: _Pending) -> int:
    slot = next((s for s in range(2, p.part.max_slots) if s not in taken), None)
    if slot is None:
        raise TopologyError(f"{p.where}: no free virtual slot left on {p.part.name} (max_slots {p.part.max_slots})")
    taken[slot] = p.where
    return slot


def _next_device(used: dict[str, str], where: str) -> str:
    name = next(f"ent{n}" for n in range(4, 10_000) if f"ent{n}" not in used)
    used[name] = where
    return name
