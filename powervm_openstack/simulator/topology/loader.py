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

This module reads the system, partitions, virtual switches and network bridges; validated reading of
one mapping is in ``topology_fields``, slot/device/MAC assignment in ``topology_alloc``, and the
``sriov_adapters`` and ``storage`` sections in ``topology_sriov`` and ``topology_storage``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from powervm_openstack.simulator.build import (
    Bridge,
    Partition,
    Sea,
    System,
    Topology,
    VSwitch,
    derive_uuid,
    network,
    partition,
    partition_uuid,
    storage,
    system,
    vios,
)
from powervm_openstack.simulator.build import san as san_build
from powervm_openstack.simulator.model import console
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.topology.alloc import Adapters
from powervm_openstack.simulator.topology.fields import REQUIRED, Fields, TopologyError, check_unique
from powervm_openstack.simulator.topology.pcm import parse_rates, rates_record
from powervm_openstack.simulator.topology.sriov import parse_sriov
from powervm_openstack.simulator.topology.storage import parse_storage

__all__ = ["DEFAULT", "TOPOLOGIES", "TopologyError", "load", "parse", "parse_file", "records"]

TOPOLOGIES = Path(__file__).parents[1] / "topologies"
DEFAULT = TOPOLOGIES / "default.yaml"

#: Limits real PowerVM enforces.
MAX_TRUNKS_PER_SEA = 16
LPAR_STATES = ("running", "not activated", "starting", "shutting down", "open firmware", "error",
               "not available", "suspended", "migrating running", "migrating not active",
               "hardware discovery", "suspending", "resuming", "Unknown")  # fmt: skip
RMC_STATES = ("active", "inactive", "none", "unknown", "busy")

_OS = {"linux": ("AIX/Linux", "Linux/Red Hat 4.18.0-372.9.1.el8.ppc64le 8.6"),
       "aix": ("AIX/Linux", "AIX 7.2 7200-05-03-2148"), "ibmi": ("OS400", "IBM i 7.4")}  # fmt: skip
_DEFAULT_VSWITCHES = [("ETHERNET0", 0, "Veb"), ("MGMTSWITCH", 1, "Vepa"), ("NovaLinkVEABridge", 2, "Veb")]


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
    """All records: system, LPARs, VIOSes, CNAs (incl. VIOS trunks), vswitches, vnets, bridges, console.

    LPAR/VIOS records have the ManagedSystem as parent; CNAs their partition (VIOS trunk adapters
    are served as CNAs with TrunkPriority too); vswitches, vnets and bridges the ManagedSystem.
    """
    index = topo.vnet_index()
    recs = [system.build_system(topo)]
    recs += [partition.build_lpar(p, topo) for p in topo.lpars]
    recs += [san_build.with_fc_ports(vios.build_vios(v, topo), v, topo) for v in topo.vioses]
    recs += [network.build_cna(c, p, topo, index) for p, c in topo.all_cnas()]
    recs += [network.build_vswitch(vs, topo) for vs in topo.vswitches]
    recs += [network.build_vnet(vn, topo.system.uuid) for vn in index.values()]
    recs += [network.build_bridge(nb, topo, index) for nb in topo.bridges]
    recs += [storage.build_volume_group(vg) for vg in topo.volume_groups]
    recs += [rec for pool in topo.pools for rec in storage.build_pool(pool, topo)]
    recs.append(console.build_console(topo))
    recs.append(san_build.san_record(topo.san))
    recs += [rates_record(p) for p in topo.lpars if p.pcm]
    for rec in recs:  # NovaLink reports 0 for objects it found at start-up; keeps the state reproducible
        xml.set_text(rec.element, "Metadata/Atom/AtomCreated", 0)
    return recs


# --- sections ------------------------------------------------------------------------------------

_TOP_KEYS = ("system", "management_partition", "vioses", "vswitches", "network_bridges", "lpars", "sriov_adapters",
             "storage")  # fmt: skip
_SYSTEM_KEYS = ("name", "machine_type", "model", "serial", "memory_mb", "firmware_memory_mb", "proc_units",
                "compat_modes", "max_partitions", "primary_ip", "enclosure")  # fmt: skip
_PART_KEYS = ("name", "id", "state", "rmc_state", "rmc_ip", "os_version", "memory_mb", "proc_units", "vcpus",
              "max_slots", "cnas")  # fmt: skip
_VIOS_KEYS = (*_PART_KEYS, "orphan_trunks")
_MGMT_KEYS = (*_PART_KEYS, "io_server")
_LPAR_KEYS = (*_PART_KEYS, "os", "pcm")
_NB_KEYS = ("name", "vswitch", "pvid", "mode", "control_channel_id", "tagged_vlans", "additional_trunks", "seas")
_SEA_KEYS = ("vios", "device", "backing_device", "backing_location", "control_channel", "trunk_devices",
             "trunk_slots")  # fmt: skip
#: role -> (kind, default name, default id, default memory MB, default vcpus, default max slots)
_ROLES = {
    "mgmt": ("LogicalPartition", "novalink", 1, 8192, 2, 1000),
    "vios": ("VirtualIOServer", REQUIRED, REQUIRED, 8192, 2, 1000),
    "lpar": ("LogicalPartition", REQUIRED, REQUIRED, 2048, 1, 64),
}


def parse(data: object) -> Topology:
    """Validate and resolve a topology mapping (as loaded from YAML) into the model."""
    top = Fields(data, "topology", _TOP_KEYS)
    sysm = _system(Fields(top.raw("system"), "system", _SYSTEM_KEYS))
    switches = _vswitches(top, sysm)
    adapters = Adapters(switches)
    specs = [("mgmt", Fields(top.raw("management_partition", {}), "management_partition", _MGMT_KEYS))]
    specs += [("vios", f) for f in top.items("vioses", _VIOS_KEYS)]
    specs += [("lpar", f) for f in top.items("lpars", _LPAR_KEYS)]
    parts = [_partition(f, sysm, role) for role, f in specs]
    check_unique([(p.partition_id, f.at("id")) for p, (_, f) in zip(parts, specs, strict=True)], "partition id")
    check_unique([(p.name, f.at("name")) for p, (_, f) in zip(parts, specs, strict=True)], "partition name")
    for part, (role, f) in zip(parts, specs, strict=True):
        for cna in f.items("cnas", Adapters.CNA_KEYS):
            adapters.add_cna(part, cna)
        for orphan in f.items("orphan_trunks", Adapters.CNA_KEYS) if role == "vios" else []:
            adapters.add_cna(part, orphan, trunk=True)
    vioses = {p.name: p for p in parts if p.kind == "VirtualIOServer"}
    nb_specs = top.items("network_bridges", _NB_KEYS)
    bridges = [_bridge(f, i, sysm, vioses, adapters) for i, f in enumerate(nb_specs)]
    check_unique([(nb.name, f.at("name")) for nb, f in zip(bridges, nb_specs, strict=True)], "bridge name")
    adapters.resolve()
    _check_bridge_vlans(bridges)
    sriov = parse_sriov(top, sysm)
    vgs, pools, san = parse_storage(top, vioses)
    return Topology(sysm, list(switches.values()), parts, bridges, sriov, vgs, pools, san)


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
    check_unique([(v.name, f.at("name")) for v, f in zip(found, specs, strict=True)], "virtual switch name")
    check_unique([(v.switch_id, f.at("id")) for v, f in zip(found, specs, strict=True)], "virtual switch id")
    return {v.name: v for v in found}


def _partition(f: Fields, sysm: System, role: str) -> Partition:
    kind, name, pid, memory, vcpus, slots = _ROLES[role]
    if role == "mgmt" and f.flag("io_server", False):  # NovaLink serving vSCSI itself (FileIO, RBD)
        kind = "VirtualIOServer"
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
        pcm=parse_rates(f) if role == "lpar" else None,
    )


def _env(f: Fields, role: str) -> tuple[str, str]:
    if role == "vios":
        return "Virtual IO Server", f.text("os_version", "VIOS 3.1.3.21")
    if role == "mgmt":
        env = "Virtual IO Server" if f.flag("io_server", False) else "AIX/Linux"
        return env, f.text("os_version", "Linux/Ubuntu 5.4.0-150-generic 20.04")
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
    check_unique([(t[0], w) for t, w in zip(trunks, wheres, strict=True)], "trunk PVID on this bridge")
    if len(trunks) > MAX_TRUNKS_PER_SEA:
        raise TopologyError(f"{f.at('additional_trunks')}: {len(trunks)} trunks, at most {MAX_TRUNKS_PER_SEA} per SEA")
    sea_specs = f.items("seas", _SEA_KEYS)
    wanted = 1 if mode == "single" else 2
    if len(sea_specs) != wanted:
        raise TopologyError(f"{f.at('seas')}: mode {mode!r} needs {wanted} SEA(s), got {len(sea_specs)}")
    seas = [_sea(s, i == 0, vioses, trunks, vsw, adapters, sysm) for i, s in enumerate(sea_specs)]
    check_unique([(s.vios.name, spec.at("vios")) for s, spec in zip(seas, sea_specs, strict=True)], "VIOS")
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
