"""The network map of one PowerVM host: bridges, their VLANs and users, SR-IOV ports (``sriov_map``).

:func:`build` is pure: it turns wrappers already read from the REST API (:class:`HostInputs`)
into plain, frozen dataclasses and never talks to PowerVM. The cleanup preview applies the SEA
agent's own rule (``vlan_plan.plan(..., cleanup_enabled=True)``) with nothing "wanted": the map
cannot see neutron ports that are bound to the host but whose adapter is not plugged yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from pypowervm.wrappers import base_partition as pvm_bp
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import bridges as nb_util
from powervm_openstack.network import exceptions as exc
from powervm_openstack.network import sriov_map, vlan_plan
from powervm_openstack.pvm import inventory

ROLE_LPAR, ROLE_VIOS, ROLE_MGMT = "lpar", "vios", "management"
MODE_FAILOVER, MODE_SHARING, MODE_SINGLE = "failover", "load_sharing", "single"


@dataclasses.dataclass(frozen=True)
class HostInputs:
    """What :func:`build` needs, as read from the REST API (VIOSes with the ``ViosNetwork`` group)."""

    system: pvm_ms.System
    bridges: list[pvm_net.NetBridge]
    vioses: list[pvm_vios.VIOS]
    vswitches: dict[int, pvm_net.VSwitch]
    adapters: list[inventory.ClientAdapter]
    vnics: list[tuple[inventory.Partition, pvm_iocard.VNIC]]


@dataclasses.dataclass(frozen=True)
class VlanUser:
    """A partition's client adapter carrying a VLAN (as its PVID, or tagged)."""

    partition: str
    partition_uuid: str
    role: str
    mac: str
    tagged: bool


@dataclasses.dataclass(frozen=True)
class Vlan:
    """A VLAN and its users; ``trunk_pvid`` names the trunk carrying it (None: not bridged)."""

    vlan: int
    trunk_pvid: int | None
    primary_trunk: bool
    users: tuple[VlanUser, ...]


@dataclasses.dataclass(frozen=True)
class Sea:
    device: str
    vios: str
    ha_mode: str | None
    primary: bool
    backing_device: str | None


@dataclasses.dataclass(frozen=True)
class Trunk:
    """A trunk adapter, mirrored on every SEA of the bridge: ``devices`` as ``ent6@vios1``."""

    pvid: int
    primary: bool
    devices: tuple[str, ...]
    vlans: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Cleanup:
    """What the agent's cleanup would do now if no unplugged neutron port wanted a VLAN."""

    enabled: bool
    removes: tuple[int, ...]
    drops_trunks: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class Bridge:
    uuid: str
    physical_network: str | None
    pvid: int
    vswitch_id: int
    vswitch: str
    mode: str
    seas: tuple[Sea, ...]
    trunks: tuple[Trunk, ...]
    vlans: tuple[Vlan, ...]
    cleanup: Cleanup | None
    orphan_vlans: tuple[int, ...]
    unbridged_vlans: tuple[Vlan, ...]
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class HostMap:
    host_uuid: str
    host_name: str
    bridges: tuple[Bridge, ...]
    sriov_ports: tuple[sriov_map.SriovPort, ...]
    notes: tuple[str, ...]


def build(inputs: HostInputs, bridge_mappings: str = "", cleanup_enabled: bool = True) -> HostMap:
    """The map of the host in ``inputs``.

    :param bridge_mappings: the SEA agent's option value; used only to name each bridge's physical
        network (a value that does not resolve becomes a note, never an error).
    :param cleanup_enabled: the agent's ``automated_powervm_vlan_cleanup``; the preview is shown
        either way and marked disabled.
    """
    notes = []
    physnets, note = _physnets(inputs, bridge_mappings)
    if note:
        notes.append(note)
    vios_names = {v.uuid.lower(): v.name for v in inputs.vioses}
    maps = tuple(
        _bridge(nb, inputs, vios_names, physnets.get(nb.uuid.lower()), cleanup_enabled)
        for nb in sorted(inputs.bridges, key=lambda b: (int(b.vswitch_id), int(b.pvid), b.uuid))
    )
    return HostMap(
        host_uuid=inputs.system.uuid,
        host_name=inputs.system.system_name,
        bridges=maps,
        sriov_ports=sriov_map.sriov_ports(inputs.system, inputs.vnics, vios_names),
        notes=tuple(notes),
    )


def _physnets(inputs: HostInputs, value: str) -> tuple[dict[str, str], str | None]:
    """``{bridge uuid (lower): physnet}`` as the agent would map them, or a note saying why not."""
    try:
        mapping = nb_util.resolve_mappings(nb_util.parse_mappings(value), inputs.bridges, inputs.vioses)
    except exc.BridgeMappingError as err:
        return {}, f"Physical networks unknown: {err}"
    return {uuid.lower(): physnet for physnet, uuid in mapping.items()}, None


def _bridge(
    nb: pvm_net.NetBridge, inputs: HostInputs, vios_names: dict[str, str], physnet: str | None, cleanup_enabled: bool
) -> Bridge:
    switch_id = int(nb.vswitch_id)
    vswitch = inputs.vswitches.get(switch_id)
    on_switch = [a for a in inputs.adapters if a.vswitch_id == switch_id]
    seas = tuple(_sea(sea, vios_names) for sea in nb.seas)
    base = dict(
        uuid=nb.uuid,
        physical_network=physnet,
        pvid=int(nb.pvid),
        vswitch_id=switch_id,
        vswitch=vswitch.name if vswitch is not None else f"switch {switch_id}",
        mode=_mode(nb),
        seas=seas,
        orphan_vlans=tuple(sorted(nb_util.orphan_vlans(nb, inputs.vioses))),
    )
    try:
        state = nb_util.state_of(nb)
        carried = vlan_plan.bridge_vlans(state)
    except exc.InvalidBridgeState as err:
        return Bridge(**base, trunks=(), vlans=(), cleanup=None, unbridged_vlans=(), error=str(err))
    trunks = _trunks(nb, state, vios_names)
    in_use = {v for a in on_switch for v in a.vlans}
    return Bridge(
        **base,
        trunks=trunks,
        vlans=tuple(_vlan(v, trunks, on_switch) for v in sorted(carried)),
        cleanup=_cleanup(state, in_use, cleanup_enabled),
        unbridged_vlans=tuple(_vlan(v, (), on_switch) for v in sorted(in_use - carried)),
    )


def _mode(nb: pvm_net.NetBridge) -> str:
    if len(nb.seas) < 2:
        return MODE_SINGLE
    return MODE_SHARING if nb.load_balance else MODE_FAILOVER


def _sea(sea: pvm_net.SEA, vios_names: dict[str, str]) -> Sea:
    backing = sea.backing_device
    return Sea(
        device=sea.dev_name,
        vios=vios_names.get(_uuid_of(sea.vio_uri), _uuid_of(sea.vio_uri)),
        ha_mode=sea.ha_mode,
        primary=bool(sea.is_primary),
        backing_device=backing.dev_name if backing is not None else None,
    )


def _trunks(nb: pvm_net.NetBridge, state: vlan_plan.Bridge, vios_names: dict[str, str]) -> tuple[Trunk, ...]:
    """The reference SEA's trunks (the first, as the planner has it) with the devices on every SEA."""
    devices: dict[int, list[str]] = {}
    for sea in nb.seas:
        vios = vios_names.get(_uuid_of(sea.vio_uri), "?")
        for trunk in [sea.primary_adpt, *sea.addl_adpts]:
            devices.setdefault(int(trunk.pvid), []).append(f"{trunk.dev_name}@{vios}")
    trunks = []
    for trunk in state.seas[0].trunks:
        primary = trunk.primary or trunk.pvid == state.pvid
        vlans = trunk.tagged_vlans | ({trunk.pvid} if primary else set())
        trunks.append(Trunk(trunk.pvid, primary, tuple(devices.get(trunk.pvid, ())), tuple(sorted(vlans))))
    return tuple(sorted(trunks, key=lambda t: (not t.primary, -t.pvid)))


def _vlan(vlan: int, trunks: Iterable[Trunk], adapters: list[inventory.ClientAdapter]) -> Vlan:
    trunk = next((t for t in trunks if vlan in t.vlans), None)
    users = tuple(
        VlanUser(a.partition_name, a.partition_uuid, _role(a), a.mac, vlan != a.pvid)
        for a in sorted(adapters, key=lambda a: (a.partition_name, a.mac))
        if vlan in a.vlans
    )
    return Vlan(vlan, trunk.pvid if trunk else None, bool(trunk and trunk.primary), users)


def _role(adapter: inventory.ClientAdapter) -> str:
    if adapter.is_mgmt:
        return ROLE_MGMT
    return ROLE_VIOS if adapter.partition_type == pvm_bp.LPARType.VIOS else ROLE_LPAR


def _cleanup(state: vlan_plan.Bridge, in_use: set[int], enabled: bool) -> Cleanup:
    preview = vlan_plan.plan(state, (), in_use=in_use, cleanup_enabled=True)
    removes = set(preview.deferred_removals).union(*preview.removals.values())
    return Cleanup(enabled, tuple(sorted(removes)), tuple(sorted(preview.dropped_trunks)))


def _uuid_of(href: str | None) -> str:
    return (href or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
