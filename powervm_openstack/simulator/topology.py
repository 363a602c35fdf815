"""Readable YAML topology files -> validated, resolved model -> simulator records.

A topology describes ONE managed system (a NovaLink manages one host): the system, the management
partition, VIOSes, virtual switches, network bridges (SEAs and trunk adapters), client LPARs with
their client network adapters, and SR-IOV adapters. ``topologies/default.yaml`` documents the
schema by example.

Contract:
- ``load(path)`` returns the records for ``Store().load()``; one file always gives the same records
  (UUIDs, slots, device names and MACs are derived deterministically from names);
- an invalid file raises ``TopologyError``; its message names where the value is
  (``network_bridges[0].seas[1].vios``), the bad value, and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from powervm_openstack.simulator import xml
from powervm_openstack.simulator.build import (
    Bridge,
    Cna,
    Partition,
    Sea,
    SriovAdapter,
    SriovPort,
    System,
    Topology,
    VSwitch,
    derive_mac,
    derive_uuid,
    network,
    partition,
    partition_uuid,
    storage,
    system,
    vios,
)
from powervm_openstack.simulator.record import Record

TOPOLOGIES = Path(__file__).parent / "topologies"
DEFAULT = TOPOLOGIES / "default.yaml"

#: Limits real PowerVM enforces.
MAX_TAGGED_VLANS = 20  # tagged VLANs on one virtual Ethernet adapter
MAX_TRUNKS_PER_SEA = 16
LPAR_STATES = ("running", "not activated", "starting", "shutting down", "open firmware", "error",
               "not available", "suspended", "migrating running", "migrating not active",
               "hardware discovery", "suspending", "resuming", "Unknown")  # fmt: skip
RMC_STATES = ("active", "inactive", "none", "unknown", "busy")

_REQUIRED = object()
_DEVICE = re.compile(r"ent\d+")
_OS_DEVICE = re.compile(r"[A-Za-z][\w.-]{0,14}")
_OS = {"linux": ("AIX/Linux", "Linux/Red Hat 4.18.0-372.9.1.el8.ppc64le 8.6"),
       "aix": ("AIX/Linux", "AIX 7.2 7200-05-03-2148"), "ibmi": ("OS400", "IBM i 7.4")}  # fmt: skip
_SPEEDS = ("E100Mbps", "E1Gbps", "E10Gbps", "E25Gbps", "E40Gbps", "E100Gbps")
_DEFAULT_VSWITCHES = [("ETHERNET0", 0, "Veb"), ("MGMTSWITCH", 1, "Vepa"), ("NovaLinkVEABridge", 2, "Veb")]


class TopologyError(ValueError):
    """A topology file that is not valid; the message says where, what, and what is allowed."""


def load(path: str | Path | None = None) -> list[Record]:
    """Load a topology file (``default.yaml`` when ``path`` is None) into simulator records."""
    return records(parse_file(path or DEFAULT))


def parse_file(path: str | Path) -> Topology:
    """Read and validate a file; a bare name such as ``two-bridges`` is looked up in TOPOLOGIES."""
    path = Path(path)
    if not path.exists() and (TOPOLOGIES / f"{path.name}.yaml").exists():
        path = TOPOLOGIES / f"{path.name}.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TopologyError(f"{path}: cannot read topology: {exc}") from exc
    return parse(data)


def records(topo: Topology) -> list[Record]:
    """All records: system, LPARs, VIOSes, CNAs (incl. VIOS trunks), vswitches, vnets, bridges.

    LPAR/VIOS records have the ManagedSystem as parent; CNAs their partition (VIOS trunk adapters
    are served as CNAs with TrunkPriority too); vswitches, vnets and bridges the ManagedSystem.
    """
    index = topo.vnet_index()
    recs = [system.build_system(topo)]
    recs += [partition.build_lpar(p, topo) for p in topo.lpars]
    recs += [vios.build_vios(v, topo) for v in topo.vioses]
    recs += [network.build_cna(c, p, topo, index) for p, c in topo.all_cnas()]
    recs += [network.build_vswitch(vs, topo) for vs in topo.vswitches]
    recs += [network.build_vnet(vn, topo.system.uuid) for vn in index.values()]
    recs += [network.build_bridge(nb, topo, index) for nb in topo.bridges]
    recs += [storage.build_volume_group(vg) for vg in topo.volume_groups]
    recs += [rec for pool in topo.pools for rec in storage.build_pool(pool, topo)]
    for rec in recs:  # NovaLink reports 0 for objects it found at start-up; keeps the state reproducible
        xml.set_text(rec.element, "Metadata/Atom/AtomCreated", 0)
    return recs


# --- typed access to the YAML mappings -------------------------------------------------------


class Fields:
    """One mapping of the file; every accessor validates and names ``where`` in its errors."""

    def __init__(self, data: object, where: str, allowed: tuple[str, ...]) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise TopologyError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            raise TopologyError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}")
        self.data, self.where = data, where

    def at(self, key: str) -> str:
        """The path of ``key`` for messages, e.g. ``network_bridges[0].pvid``."""
        return key if self.where == "topology" else f"{self.where}.{key}"

    def raw(self, key: str, default: object = _REQUIRED) -> object:
        """The value as written (``default`` when absent or null; error when required)."""
        value = self.data.get(key)
        if value is None:
            if default is _REQUIRED:
                raise TopologyError(f"{self.at(key)}: missing (required)")
            return default
        return value

    def items(self, key: str, allowed: tuple[str, ...]) -> list[Fields]:
        """A list of mappings, each checked for unknown keys."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise TopologyError(f"{self.at(key)}: expected a list, got {value!r}")
        return [Fields(v, f"{self.at(key)}[{i}]", allowed) for i, v in enumerate(value)]

    def text(self, key: str, default: object = _REQUIRED, choices: tuple[str, ...] = (), max_len: int = 0,
            pattern: str = "", hint: str = "") -> str:  # fmt: skip
        """Text, optionally limited to ``choices``, ``max_len`` characters or a ``pattern``."""
        value = self.raw(key, default)
        if value is None:
            return value  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TopologyError(f"{self.at(key)}: expected text, got {value!r}")
        value = str(value)
        if choices and value not in choices:
            raise TopologyError(f"{self.at(key)}: {value!r} is not allowed; allowed: {', '.join(choices)}")
        if max_len and len(value) > max_len:
            raise TopologyError(f"{self.at(key)}: {value!r} is {len(value)} characters long, at most {max_len} allowed")
        if pattern and not re.fullmatch(pattern, value):
            raise TopologyError(f"{self.at(key)}: {value!r} is not valid ({hint or pattern})")
        return value

    def whole(self, key: str, default: object = _REQUIRED, lo: int | None = None, hi: int | None = None) -> int:
        """A whole number within ``lo``-``hi``."""
        value = self.raw(key, default)
        if value is None:
            return value  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TopologyError(f"{self.at(key)}: expected a whole number, got {value!r}")
        _in_range(self.at(key), value, lo, hi)
        return value

    def number(self, key: str, default: object = _REQUIRED, lo: float | None = None, hi: float | None = None) -> float:
        """A number within ``lo``-``hi``."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TopologyError(f"{self.at(key)}: expected a number, got {value!r}")
        _in_range(self.at(key), value, lo, hi)
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        """true or false."""
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise TopologyError(f"{self.at(key)}: expected true or false, got {value!r}")
        return value

    def vlan(self, key: str, default: object = _REQUIRED) -> int:
        """A VLAN ID (1-4094)."""
        return _vlan(self.at(key), self.raw(key, default))

    def vlans(self, key: str) -> tuple[int, ...]:
        """Tagged VLAN IDs: each 1-4094, no repeats, at most MAX_TAGGED_VLANS."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise TopologyError(f"{self.at(key)}: expected a list of VLAN IDs, got {value!r}")
        vlans = tuple(_vlan(f"{self.at(key)}[{i}]", v) for i, v in enumerate(value))
        if len(set(vlans)) != len(vlans):
            raise TopologyError(f"{self.at(key)}: a VLAN is listed twice in {list(vlans)}")
        if len(vlans) > MAX_TAGGED_VLANS:
            raise TopologyError(
                f"{self.at(key)}: {len(vlans)} tagged VLANs, at most {MAX_TAGGED_VLANS} allowed on one adapter"
            )
        return vlans

    def strings(self, key: str, default: list[str]) -> list[str]:
        """A list of names."""
        value = self.raw(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TopologyError(f"{self.at(key)}: expected a list of names, got {value!r}")
        return value

    def opt_list(self, key: str, count: int) -> list:
        """An optional list of exactly ``count`` values (``[None] * count`` when absent)."""
        value = self.raw(key, [None] * count)
        if not isinstance(value, list) or len(value) != count:
            raise TopologyError(f"{self.at(key)}: expected a list of {count} values (one per trunk), got {value!r}")
        return value


def _vlan(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4094:
        raise TopologyError(f"{where}: VLAN {value!r} is outside 1-4094")
    return value


def _in_range(where: str, value: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise TopologyError(f"{where}: {value!r} is outside the allowed range {lo}-{hi}")


def _check_unique(values: list[tuple[object, str]], what: str) -> None:
    seen: dict[object, str] = {}
    for value, where in values:
        if value in seen:
            raise TopologyError(f"{where}: duplicate {what} {value!r} (already used by {seen[value]})")
        seen[value] = where


# --- virtual adapters: slots, device names, MACs ----------------------------------------------


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
        vios_ = part.kind == "VirtualIOServer"
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
            if p.priority is not None and p.device is None and p.part.kind == "VirtualIOServer":
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


# --- sections ------------------------------------------------------------------------------------

_TOP_KEYS = ("system", "management_partition", "vioses", "vswitches", "network_bridges", "lpars", "sriov_adapters",
             "storage")  # fmt: skip
_SYSTEM_KEYS = ("name", "machine_type", "model", "serial", "memory_mb", "firmware_memory_mb", "proc_units",
                "compat_modes", "max_partitions", "primary_ip", "enclosure")  # fmt: skip
_PART_KEYS = ("name", "id", "state", "rmc_state", "rmc_ip", "os_version", "memory_mb", "proc_units", "vcpus",
              "max_slots", "cnas")  # fmt: skip
_VIOS_KEYS = (*_PART_KEYS, "orphan_trunks")
_LPAR_KEYS = (*_PART_KEYS, "os")
_NB_KEYS = ("name", "vswitch", "pvid", "mode", "control_channel_id", "tagged_vlans", "additional_trunks", "seas")
_SEA_KEYS = ("vios", "device", "backing_device", "backing_location", "control_channel", "trunk_devices",
             "trunk_slots")  # fmt: skip
_SRIOV_KEYS = ("id", "location", "description", "mode", "state", "personality", "max_logical_ports", "ports")
_PORT_KEYS = ("label", "sublabel", "location", "link", "speed", "granularity", "allocated_capacity",
              "max_logical_ports", "supported_max_logical_ports", "configured_logical_ports", "type")  # fmt: skip
#: role -> (kind, default name, default id, default memory MB, default vcpus, default max slots)
_ROLES = {
    "mgmt": ("LogicalPartition", "novalink", 1, 8192, 2, 1000),
    "vios": ("VirtualIOServer", _REQUIRED, _REQUIRED, 8192, 2, 1000),
    "lpar": ("LogicalPartition", _REQUIRED, _REQUIRED, 2048, 1, 64),
}


def parse(data: object) -> Topology:
    """Validate and resolve a topology mapping (as loaded from YAML) into the model."""
    top = Fields(data, "topology", _TOP_KEYS)
    sysm = _system(Fields(top.raw("system"), "system", _SYSTEM_KEYS))
    switches = _vswitches(top, sysm)
    adapters = Adapters(switches)
    specs = [("mgmt", Fields(top.raw("management_partition", {}), "management_partition", _PART_KEYS))]
    specs += [("vios", f) for f in top.items("vioses", _VIOS_KEYS)]
    specs += [("lpar", f) for f in top.items("lpars", _LPAR_KEYS)]
    parts = [_partition(f, sysm, role) for role, f in specs]
    _check_unique([(p.partition_id, f.at("id")) for p, (_, f) in zip(parts, specs, strict=True)], "partition id")
    _check_unique([(p.name, f.at("name")) for p, (_, f) in zip(parts, specs, strict=True)], "partition name")
    for part, (role, f) in zip(parts, specs, strict=True):
        for cna in f.items("cnas", Adapters.CNA_KEYS):
            adapters.add_cna(part, cna)
        for orphan in f.items("orphan_trunks", Adapters.CNA_KEYS) if role == "vios" else []:
            adapters.add_cna(part, orphan, trunk=True)
    vioses = {p.name: p for p in parts if p.kind == "VirtualIOServer"}
    nb_specs = top.items("network_bridges", _NB_KEYS)
    bridges = [_bridge(f, i, sysm, vioses, adapters) for i, f in enumerate(nb_specs)]
    _check_unique([(nb.name, f.at("name")) for nb, f in zip(bridges, nb_specs, strict=True)], "bridge name")
    adapters.resolve()
    _check_bridge_vlans(bridges)
    sriov = [_sriov(f, sysm) for f in top.items("sriov_adapters", _SRIOV_KEYS)]
    _check_unique([(a.adapter_id, f"sriov_adapters[{i}].id") for i, a in enumerate(sriov)], "SR-IOV adapter id")
    ports = [(p.location, f"sriov_adapters[{i}].ports[{p.port_id}]") for i, a in enumerate(sriov) for p in a.ports]
    _check_unique(ports, "physical port location")
    vgs, pools = _storage(Fields(top.raw("storage", {}), "storage", ("volume_groups", "shared_storage_pools")), vioses)
    return Topology(sysm, list(switches.values()), parts, bridges, sriov, vgs, pools)


def _system(f: Fields) -> System:
    mtype = f.text("machine_type", pattern=r"[0-9A-Z]{4}", hint="4 characters, e.g. 9009")
    model = f.text("model", pattern=r"[0-9A-Z]{3}", hint="3 characters, e.g. 22A")
    serial = f.text("serial", pattern=r"[0-9A-Z]{7}", hint="7 characters, e.g. 7830A1B")
    memory = f.whole("memory_mb", lo=4096)
    return System(
        uuid=derive_uuid("ManagedSystem", mtype, model, serial),
        name=f.text("name", max_len=63),
        machine_type=mtype,
        model=model,
        serial=serial,
        memory_mb=memory,
        firmware_memory_mb=f.whole("firmware_memory_mb", max(2048, memory // 64), lo=0, hi=memory - 1),
        proc_units=f.number("proc_units", lo=1, hi=1536),
        compat_modes=tuple(f.strings("compat_modes", ["default", "POWER8", "POWER9_Base", "POWER9"])),
        max_partitions=f.whole("max_partitions", 1000, lo=1, hi=1000),
        primary_ip=f.text("primary_ip", "192.168.2.10"),
        enclosure=f.text("enclosure", f"U78D3.001.WZS{serial[-4:]}"),
    )


def _vswitches(top: Fields, sysm: System) -> dict[str, VSwitch]:
    keys = ("name", "id", "mode")
    specs = top.items("vswitches", keys) or [
        Fields({"name": n, "id": i, "mode": m}, f"vswitches[{i}]", keys) for n, i, m in _DEFAULT_VSWITCHES
    ]
    found = [
        VSwitch(derive_uuid(sysm.uuid, "VirtualSwitch", f.text("name", max_len=31)), f.text("name"),
                f.whole("id", lo=0, hi=15), f.text("mode", "Veb", choices=("Veb", "Vepa")))
        for f in specs
    ]  # fmt: skip
    _check_unique([(v.name, f.at("name")) for v, f in zip(found, specs, strict=True)], "virtual switch name")
    _check_unique([(v.switch_id, f.at("id")) for v, f in zip(found, specs, strict=True)], "virtual switch id")
    return {v.name: v for v in found}


def _partition(f: Fields, sysm: System, role: str) -> Partition:
    kind, name, pid, memory, vcpus, slots = _ROLES[role]
    name = f.text("name", name, max_len=47)
    state = f.text("state", "running", choices=LPAR_STATES)
    vcpus = f.whole("vcpus", vcpus, lo=1, hi=256)
    env, os_version = _env(f, role)
    return Partition(
        uuid=partition_uuid(sysm.serial, name),
        name=name,
        partition_id=f.whole("id", pid, lo=1, hi=sysm.max_partitions),
        kind=kind,
        state=state,
        rmc_state=f.text("rmc_state", "active" if state == "running" else "inactive", choices=RMC_STATES),
        env=env,
        os_version=os_version,
        memory_mb=f.whole("memory_mb", memory, lo=256),
        proc_units=f.number("proc_units", 0.5, lo=0.05, hi=float(vcpus)),
        vcpus=vcpus,
        max_slots=f.whole("max_slots", slots, lo=10, hi=65535),
        is_mgmt=role == "mgmt",
        rmc_ip=f.text("rmc_ip", None),
    )


def _env(f: Fields, role: str) -> tuple[str, str]:
    if role == "vios":
        return "Virtual IO Server", f.text("os_version", "VIOS 3.1.3.21")
    if role == "mgmt":
        return "AIX/Linux", f.text("os_version", "Linux/Ubuntu 5.4.0-150-generic 20.04")
    env, version = _OS[f.text("os", "linux", choices=tuple(_OS))]
    return env, f.text("os_version", version)


def _bridge(f: Fields, udid: int, sysm: System, vioses: dict[str, Partition], adapters: Adapters) -> Bridge:
    vsw = adapters.vswitch(f)
    pvid = f.vlan("pvid")
    mode = f.text("mode", "failover", choices=("failover", "sharing", "single"))
    trunks = [(pvid, f.vlans("tagged_vlans"))]
    trunks += [
        (t.vlan("pvid"), t.vlans("tagged_vlans")) for t in f.items("additional_trunks", ("pvid", "tagged_vlans"))
    ]
    wheres = [f.at("pvid")] + [f"{f.at('additional_trunks')}[{i}].pvid" for i in range(len(trunks) - 1)]
    _check_unique([(t[0], w) for t, w in zip(trunks, wheres, strict=True)], "trunk PVID on this bridge")
    if len(trunks) > MAX_TRUNKS_PER_SEA:
        raise TopologyError(f"{f.at('additional_trunks')}: {len(trunks)} trunks, at most {MAX_TRUNKS_PER_SEA} per SEA")
    sea_specs = f.items("seas", _SEA_KEYS)
    wanted = 1 if mode == "single" else 2
    if len(sea_specs) != wanted:
        raise TopologyError(f"{f.at('seas')}: mode {mode!r} needs {wanted} SEA(s), got {len(sea_specs)}")
    seas = [_sea(s, i == 0, vioses, trunks, vsw, adapters, sysm) for i, s in enumerate(sea_specs)]
    _check_unique([(s.vios.name, spec.at("vios")) for s, spec in zip(seas, sea_specs, strict=True)], "VIOS")
    name = f.text("name", f"{vsw.name}-{pvid}")
    cc_id = f.vlan("control_channel_id", None) if f.raw("control_channel_id", None) is not None else None
    return Bridge(derive_uuid(sysm.uuid, "NetworkBridge", name), name, pvid, vsw, mode, seas, udid, cc_id)


def _sea(f: Fields, primary: bool, vioses: dict[str, Partition], trunks: list[tuple[int, tuple[int, ...]]],
         vsw: VSwitch, adapters: Adapters, sysm: System) -> Sea:  # fmt: skip
    vname = f.text("vios")
    if vname not in vioses:
        raise TopologyError(f"{f.at('vios')}: unknown VIOS {vname!r} (known VIOSes: {', '.join(vioses) or 'none'})")
    host = vioses[vname]
    device = adapters.device(host, f.at("device"), f.raw("device"))
    backing = adapters.device(host, f.at("backing_device"), f.raw("backing_device"))
    cc_name = f.raw("control_channel", None)
    control = adapters.device(host, f.at("control_channel"), cc_name) if cc_name is not None else None
    udid = derive_uuid(host.uuid, device).replace("-", "")[:18]
    location = f.text("backing_location", f"{sysm.enclosure}-P1-C{host.partition_id + 1}-T{int(backing[3:]) % 4 + 1}")
    sea = Sea(host, device, backing, location, [], primary, udid, control)
    slots, devices = f.opt_list("trunk_slots", len(trunks)), f.opt_list("trunk_devices", len(trunks))
    for i, (trunk, slot, dev) in enumerate(zip(trunks, slots, devices, strict=True)):
        adapters.add_trunk(host, sea, f, trunk, vsw, slot, dev, i)
    return sea


def _check_bridge_vlans(bridges: list[Bridge]) -> None:
    """A VLAN (PVID or tagged) is bridged by one trunk of one bridge per vswitch."""
    owner: dict[tuple[int, int], str] = {}
    for nb in bridges:
        for trunk in nb.seas[0].trunks:
            for vlan in (trunk.pvid, *trunk.tagged_vlans):
                where = f"network bridge {nb.name!r} (trunk PVID {trunk.pvid})"
                key = (nb.vswitch.switch_id, vlan)
                if key in owner:
                    raise TopologyError(
                        f"{where}: VLAN {vlan} on vswitch {nb.vswitch.name} is already bridged by {owner[key]}; "
                        "a VLAN may be on only one trunk of one bridge per vswitch"
                    )
                owner[key] = where


def _sriov(f: Fields, sysm: System) -> SriovAdapter:
    adapter_id = f.whole("id", lo=1, hi=255)
    location = f.text("location", f"{sysm.enclosure}-P1-C{adapter_id + 5}")
    ports = [_port(p, i, location) for i, p in enumerate(f.items("ports", _PORT_KEYS))]
    if not ports:
        raise TopologyError(f"{f.at('ports')}: an SR-IOV adapter needs at least one physical port")
    return SriovAdapter(
        adapter_id=adapter_id,
        drc_index=0x21010000 + 0x20 * adapter_id,
        location=location,
        description=f.text("description", "PCIe3 4-port 10GbE SR Adapter"),
        mode=f.text("mode", "Sriov", choices=("Sriov", "Dedicated", "Unknown")),
        state=f.text("state", "Running", choices=("Running", "NotConfigured", "Failed", "Missing", "Initializing")),
        personality=f.text("personality", "MIN_CAPACITY"),
        max_logical_ports=f.whole("max_logical_ports", 48, lo=1, hi=255),
        ports=ports,
    )


def _port(f: Fields, index: int, adapter_loc: str) -> SriovPort:
    supported = f.whole("supported_max_logical_ports", 20, lo=1, hi=255)
    maximum = f.whole("max_logical_ports", supported, lo=1, hi=supported)
    return SriovPort(
        port_id=index,
        location=f.text("location", f"{adapter_loc}-T{index + 1}"),
        label=f.text("label", "", max_len=16, pattern=r"\S*", hint="no whitespace"),
        sublabel=f.text("sublabel", "", max_len=8, pattern=r"\S*", hint="no whitespace"),
        link_up=f.flag("link", True),
        speed=f.text("speed", "E10Gbps", choices=_SPEEDS),
        granularity=f.number("granularity", 2.0, lo=0.01, hi=100.0),
        allocated_capacity=f.number("allocated_capacity", 0.0, lo=0.0, hi=100.0),
        max_logical_ports=maximum,
        supported_max_logical_ports=supported,
        configured_logical_ports=f.whole("configured_logical_ports", 0, lo=0, hi=maximum),
        port_type=f.text("type", "ethernet", choices=("ethernet", "converged")),
    )


# --- storage: volume groups and Shared Storage Pools -------------------------------------------

_VG_KEYS = ("vios", "name", "capacity_gb", "physical_volume", "media_repository")
_SSP_KEYS = ("name", "cluster", "tier", "capacity_gb", "vioses")


def _storage(f: Fields, vioses: dict[str, Partition]) -> tuple[list, list]:
    """Volume groups (per VIOS) and Shared Storage Pools (over member VIOSes)."""
    per_vios: dict[str, int] = {}
    vgs = [_volume_group(v, vioses, per_vios) for v in f.items("volume_groups", _VG_KEYS)]
    where = [f"storage.volume_groups[{i}]" for i in range(len(vgs))]
    _check_unique([((vg.vios.name, vg.name), w + ".name") for vg, w in zip(vgs, where, strict=True)], "volume group")
    _check_unique([((vg.vios.name, vg.pv_name), w + ".physical_volume") for vg, w in zip(vgs, where, strict=True)],
                  "physical volume")  # fmt: skip
    repos = [(vg.vios.name, w + ".media_repository") for vg, w in zip(vgs, where, strict=True) if vg.repository]
    _check_unique(repos, "media repository on VIOS")
    pools = [_pool(p, vioses) for p in f.items("shared_storage_pools", _SSP_KEYS)]
    _check_unique([(p.name, f"storage.shared_storage_pools[{i}].name") for i, p in enumerate(pools)], "pool name")
    return vgs, pools


def _volume_group(f: Fields, vioses: dict[str, Partition], per_vios: dict[str, int]) -> storage.VolumeGroup:
    """One volume group; its physical volume defaults to hdisk0, hdisk1, ... per VIOS."""
    host = _known_vios(f, "vios", vioses)
    per_vios[host.name] = per_vios.get(host.name, -1) + 1
    name = f.text("name", pattern=r"[A-Za-z][A-Za-z0-9_]{0,14}", hint="1-15 letters, digits or _, e.g. datavg")
    capacity = f.whole("capacity_gb", lo=1, hi=65536)
    repo = None
    if f.raw("media_repository", None) is not None:
        r = Fields(f.raw("media_repository"), f.at("media_repository"), ("name", "size_gb"))
        repo = (r.text("name", "VMLibrary", max_len=15), r.whole("size_gb", 10, lo=1, hi=capacity))
    pv = f.text("physical_volume", f"hdisk{per_vios[host.name]}", pattern=r"hdisk\d+", hint="hdisk<N>")
    return storage.VolumeGroup(derive_uuid(host.uuid, "VolumeGroup", name), host, name, capacity, pv, repo)


def _pool(f: Fields, vioses: dict[str, Partition]) -> storage.SharedStoragePool:
    names = f.strings("vioses", [])
    if not names:
        raise TopologyError(f"{f.at('vioses')}: a Shared Storage Pool needs at least one VIOS node")
    members = [_known_vios(Fields({"vios": n}, f"{f.at('vioses')}[{i}]", ("vios",)), "vios", vioses)
               for i, n in enumerate(names)]  # fmt: skip
    _check_unique([(m.name, f"{f.at('vioses')}[{i}]") for i, m in enumerate(members)], "VIOS")
    return storage.SharedStoragePool(
        name=f.text("name", pattern=r"[A-Za-z][\w-]{0,62}", hint="1-63 letters, digits, _ or -"),
        cluster=f.text("cluster", pattern=r"[A-Za-z][\w-]{0,62}", hint="1-63 letters, digits, _ or -"),
        tier=f.text("tier", "SYSTEM", max_len=63),
        capacity_gb=f.whole("capacity_gb", lo=1, hi=1_048_576),
        vioses=members,
    )


def _known_vios(f: Fields, key: str, vioses: dict[str, Partition]) -> Partition:
    name = f.text(key)
    if name not in vioses:
        raise TopologyError(f"{f.at(key)}: unknown VIOS {name!r} (known VIOSes: {', '.join(vioses) or 'none'})")
    return vioses[name]
