"""Render a :class:`~powervm_openstack.network.host_map.HostMap` as text tables or JSON.

The JSON schema (``schema_version`` 1) is documented in ``docs/network-map.md``: keys are only
ever added within a version, never renamed or removed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from powervm_openstack.network.host_map import MODE_FAILOVER, MODE_SHARING, MODE_SINGLE, Bridge, HostMap, Vlan
from powervm_openstack.network.sriov_map import SriovPort

SCHEMA_VERSION = 1

_MODES = {MODE_FAILOVER: "failover pair", MODE_SHARING: "load-sharing pair", MODE_SINGLE: "single SEA"}

UNPLUGGED_NOTE = (
    "Ports bound to this host in neutron whose adapter is not plugged yet are not seen: the agent keeps "
    "their VLANs, this preview does not know them and may list them as removable."
)


def as_json(host: HostMap) -> str:
    """The map as indented JSON with ``schema_version``."""
    body = dataclasses.asdict(host)
    body["notes"] = [*body["notes"], UNPLUGGED_NOTE]
    return json.dumps({"schema_version": SCHEMA_VERSION, **body}, indent=2)


def as_text(host: HostMap) -> str:
    """The map as text: one block per network bridge, then the SR-IOV physical ports."""
    lines = [f"Host {host.host_name} (system {host.host_uuid})", ""]
    if not host.bridges:
        lines += ["No network bridge (Shared Ethernet Adapter) on this host.", ""]
    for bridge in host.bridges:
        lines += _bridge(bridge) + [""]
    lines += _sriov(host.sriov_ports)
    lines += ["", *(f"Note: {n}" for n in [*host.notes, UNPLUGGED_NOTE])]
    return "\n".join(lines)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> list[str]:
    """Left-aligned columns, widths from the widest cell; ``None`` prints as ``-``."""
    cells = [[_cell(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _bridge(bridge: Bridge) -> list[str]:
    physnet = f'physical network "{bridge.physical_network}"' if bridge.physical_network else "no physical network"
    lines = [
        f"Network bridge {bridge.uuid} ({physnet})",
        f"  vswitch {bridge.vswitch} (id {bridge.vswitch_id}), PVID {bridge.pvid}, {_MODES.get(bridge.mode, bridge.mode)}",
    ]
    lines += table(
        ("SEA", "VIOS", "HA mode", "primary", "backing"),
        [(s.device, s.vios, s.ha_mode, s.primary, s.backing_device) for s in bridge.seas],
    )
    if bridge.error:
        return lines + [f"  Cannot read the bridge's trunk adapters: {bridge.error}"]
    lines += [""] + table(
        ("trunk", "PVID", "devices", "VLANs"),
        [("primary" if t.primary else "additional", t.pvid, " ".join(t.devices), _ids(t.vlans)) for t in bridge.trunks],
    )
    lines += [""] + table(("VLAN", "on trunk", "partition", "role", "MAC", "adapter"), _vlan_rows(bridge.vlans))
    lines += _cleanup(bridge)
    if bridge.orphan_vlans:
        lines.append(f"  Orphan VLANs (VIOS trunk adapters outside any SEA, same vswitch): {_ids(bridge.orphan_vlans)}")
    if bridge.unbridged_vlans:
        lines += ["", f"  VLANs used on vswitch {bridge.vswitch} but not bridged (no external traffic):"]
        lines += table(("VLAN", "on trunk", "partition", "role", "MAC", "adapter"), _vlan_rows(bridge.unbridged_vlans))
    return lines


def _vlan_rows(vlans: Sequence[Vlan]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for vlan in vlans:
        trunk = None if vlan.trunk_pvid is None else ("primary" if vlan.primary_trunk else f"PVID {vlan.trunk_pvid}")
        if not vlan.users:
            rows.append((vlan.vlan, trunk, "(unused)", None, None, None))
        for i, user in enumerate(vlan.users):
            first = i == 0
            rows.append((vlan.vlan if first else "", trunk if first else "", user.partition, user.role, user.mac,
                         "tagged" if user.tagged else "PVID"))  # fmt: skip
    return rows


def _cleanup(bridge: Bridge) -> list[str]:
    cleanup = bridge.cleanup
    if cleanup is None:
        return []
    what = _ids(cleanup.removes) if cleanup.removes else "none"
    if cleanup.drops_trunks:
        what += f" (and drop the emptied trunk(s) PVID {_ids(cleanup.drops_trunks)})"
    if cleanup.enabled:
        return [f"  Cleanup would remove VLANs: {what}"]
    return [f"  Cleanup is disabled (automated_powervm_vlan_cleanup = False); if enabled it would remove: {what}"]


def _sriov(ports: Sequence[SriovPort]) -> list[str]:
    if not ports:
        return ["No SR-IOV physical port on this host."]
    rows: list[tuple[object, ...]] = []
    for p in ports:
        lps = f"{_cell(p.logical_ports_used)}/{_cell(p.logical_ports_max)}"
        base = (p.adapter_id, p.port_id, p.label, p.sublabel, p.location, "up" if p.link_up else "down", p.speed,
                _num(p.capacity_used_pct), _num(p.capacity_free_pct), lps)  # fmt: skip
        vnics = [f"{v.partition} {v.mac}" for v in p.vnics] or [None]
        rows.append((*base, vnics[0]))
        rows += [("",) * len(base) + (vnic,) for vnic in vnics[1:]]
    headers = ("adapter", "port", "label", "sublabel", "location", "link", "speed", "used %", "free %", "LPs", "vNICs")
    return ["SR-IOV physical ports", *table(headers, rows)]


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def _ids(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values) if values else "none"
