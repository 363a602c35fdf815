"""The ``storage`` section of a topology: volume groups and Shared Storage Pools on the VIOSes."""

from __future__ import annotations

from powervm_openstack.simulator.build import Partition, derive_uuid, storage
from powervm_openstack.simulator.topology.fields import Fields, TopologyError, check_unique
from powervm_openstack.simulator.topology.san import SAN_KEYS, parse_san

_VG_KEYS = ("vios", "name", "capacity_gb", "physical_volume", "media_repository")
_SSP_KEYS = ("name", "cluster", "tier", "capacity_gb", "vioses")


def parse_storage(top: Fields, vioses: dict[str, Partition]) -> tuple[list, list, object]:
    """The ``storage`` section: volume groups (per VIOS), Shared Storage Pools (over member VIOSes) and
    the SAN (FC ports, LUNs, iSCSI targets: ``topology.san``).

    ``vioses`` maps VIOS names to their partitions; returns ``(volume groups, pools, san)``.
    """
    f = Fields(top.raw("storage", {}), "storage", ("volume_groups", "shared_storage_pools", *SAN_KEYS))
    per_vios: dict[str, int] = {}
    vgs = [_volume_group(v, vioses, per_vios) for v in f.items("volume_groups", _VG_KEYS)]
    where = [f"storage.volume_groups[{i}]" for i in range(len(vgs))]
    check_unique([((vg.vios.name, vg.name), w + ".name") for vg, w in zip(vgs, where, strict=True)], "volume group")
    check_unique([((vg.vios.name, vg.pv_name), w + ".physical_volume") for vg, w in zip(vgs, where, strict=True)],
                 "physical volume")  # fmt: skip
    repos = [(vg.vios.name, w + ".media_repository") for vg, w in zip(vgs, where, strict=True) if vg.repository]
    check_unique(repos, "media repository on VIOS")
    pools = [_pool(p, vioses) for p in f.items("shared_storage_pools", _SSP_KEYS)]
    check_unique([(p.name, f"storage.shared_storage_pools[{i}].name") for i, p in enumerate(pools)], "pool name")
    return vgs, pools, parse_san(f, vioses)


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
    check_unique([(m.name, f"{f.at('vioses')}[{i}]") for i, m in enumerate(members)], "VIOS")
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
