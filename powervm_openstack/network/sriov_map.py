"""The SR-IOV part of the host network map: physical ports, their use, and the vNICs on them.

Pure: built from the ManagedSystem wrapper and the partitions' vNIC wrappers already read.
"""

from __future__ import annotations

import dataclasses

from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import managed_system as pvm_ms

from powervm_openstack.pvm import inventory
from powervm_openstack.pvm.vif_event import norm_mac


@dataclasses.dataclass(frozen=True)
class VnicUse:
    """One backing device of a vNIC on a physical port."""

    partition: str
    partition_uuid: str
    mac: str
    pvid: int | None
    capacity_pct: float | None
    vios: str


@dataclasses.dataclass(frozen=True)
class SriovPort:
    adapter_id: int
    adapter_location: str | None
    port_id: int
    label: str | None
    sublabel: str | None
    location: str
    link_up: bool
    speed: str | None
    capacity_used_pct: float | None
    capacity_free_pct: float | None
    logical_ports_used: int | None
    logical_ports_max: int | None
    vnics: tuple[VnicUse, ...]


def sriov_ports(
    system: pvm_ms.System, vnics: list[tuple[inventory.Partition, pvm_iocard.VNIC]], vios_names: dict[str, str]
) -> tuple[SriovPort, ...]:
    """Every SR-IOV physical port of the system, with the vNICs backed by it."""
    uses: dict[tuple[int, int], list[VnicUse]] = {}
    for part, vnic in vnics:
        for dev in vnic.back_devs:
            vios = vios_names.get(_uuid_of(dev.vios_href), _uuid_of(dev.vios_href))
            use = VnicUse(part.name, part.uuid, _mac(vnic.mac), vnic.pvid, _pct(dev.capacity), vios)
            uses.setdefault((dev.sriov_adap_id, dev.pport_id), []).append(use)
    return tuple(
        _port(adapter, port, uses.get((adapter.sriov_adap_id, port.port_id), []))
        for adapter in system.asio_config.sriov_adapters
        for port in adapter.phys_ports
    )


def _port(adapter: pvm_iocard.SRIOVAdapter, port: pvm_iocard.SRIOVEthPPort, uses: list[VnicUse]) -> SriovPort:
    used = _pct(port.allocated_capacity)
    return SriovPort(
        adapter_id=adapter.sriov_adap_id,
        adapter_location=adapter.phys_loc_code,
        port_id=port.port_id,
        label=port.label,
        sublabel=port.sublabel,
        location=port.loc_code,
        link_up=bool(port.link_status),
        speed=port.curr_speed,
        capacity_used_pct=used,
        capacity_free_pct=None if used is None else round(100.0 - used, 2),
        logical_ports_used=port.cfg_lps,
        logical_ports_max=port.cfg_max_lps,
        vnics=tuple(sorted(uses, key=lambda u: (u.partition, u.mac))),
    )


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else round(fraction * 100.0, 2)


def _mac(mac: str | None) -> str:
    try:
        return norm_mac(mac or "")
    except ValueError:
        return mac or ""


def _uuid_of(href: str | None) -> str:
    return (href or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
