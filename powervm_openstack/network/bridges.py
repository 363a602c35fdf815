"""Network bridges as the SEA agent sees them: mappings, state for the planner, and updates.

``bridge_mappings`` keeps networking-powervm's format: comma-separated
``<physical network>:<SEA device>:<VIOS name>`` (naming one SEA of a redundant pair names the
bridge); empty means the host's single bridge serves ``default``.
"""

from __future__ import annotations

import dataclasses
import logging

from pypowervm import adapter as pvm_adapter
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import vlan_plan
from powervm_openstack.network.exceptions import BridgeMappingError

LOG = logging.getLogger(__name__)

DEFAULT_PHYSNET = "default"


@dataclasses.dataclass(frozen=True)
class MappingEntry:
    physnet: str
    sea: str
    vios: str


def parse_mappings(value: str) -> list[MappingEntry]:
    """Parse the option text; raise BridgeMappingError naming a malformed entry."""
    entries = []
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        fields = [f.strip() for f in raw.split(":")]
        if len(fields) != 3 or not all(fields):
            raise BridgeMappingError(
                f"bridge_mappings entry {raw!r} is malformed: expected <physical network>:<SEA device>:<VIOS name>, "
                "e.g. default:ent5:vios1."
            )
        entries.append(MappingEntry(*fields))
    physnets = [e.physnet for e in entries]
    dupes = sorted({p for p in physnets if physnets.count(p) > 1})
    if dupes:
        raise BridgeMappingError(f"bridge_mappings maps physical network {dupes[0]!r} more than once.")
    return entries


def resolve_mappings(
    entries: list[MappingEntry], bridges: list[pvm_net.NetBridge], vioses: list[pvm_vios.VIOS]
) -> dict[str, str]:
    """``{physnet: network bridge uuid}``; raise BridgeMappingError naming what is unknown."""
    if not bridges:
        raise BridgeMappingError(
            "The host has no network bridge (Shared Ethernet Adapter); create one on a VIOS first."
        )
    if not entries:
        if len(bridges) > 1:
            raise BridgeMappingError(
                f"The host has {len(bridges)} network bridges ({', '.join(describe(b, vioses) for b in bridges)}) "
                "and bridge_mappings is empty: map each physical network, e.g. default:ent5:vios1."
            )
        LOG.warning("bridge_mappings is empty: the single network bridge %s serves physical network %r",
                    bridges[0].uuid, DEFAULT_PHYSNET)  # fmt: skip
        return {DEFAULT_PHYSNET: bridges[0].uuid}
    return {entry.physnet: _bridge_for(entry, bridges, vioses) for entry in entries}


def _bridge_for(entry: MappingEntry, bridges: list[pvm_net.NetBridge], vioses: list[pvm_vios.VIOS]) -> str:
    vios = next((v for v in vioses if v.name == entry.vios), None)
    if vios is None:
        raise BridgeMappingError(
            f"bridge_mappings names VIOS {entry.vios!r} for physical network {entry.physnet!r}; "
            f"the VIOSes on this host are: {', '.join(sorted(v.name for v in vioses)) or 'none'}."
        )
    for bridge in bridges:
        for sea in bridge.seas:
            if sea.dev_name == entry.sea and _uuid_of(sea.vio_uri) == vios.uuid.lower():
                return bridge.uuid
    seas = sorted(sea.dev_name for b in bridges for sea in b.seas if _uuid_of(sea.vio_uri) == vios.uuid.lower())
    raise BridgeMappingError(
        f"bridge_mappings names SEA {entry.sea!r} on VIOS {entry.vios!r} for physical network {entry.physnet!r}; "
        f"the SEAs on that VIOS are: {', '.join(seas) or 'none'}."
    )


def _uuid_of(href: str | None) -> str:
    return (href or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()


def describe(bridge: pvm_net.NetBridge, vioses: list[pvm_vios.VIOS]) -> str:
    """``ent5@vios1+ent5@vios2`` for messages."""
    names = {v.uuid.lower(): v.name for v in vioses}
    return "+".join(f"{sea.dev_name}@{names.get(_uuid_of(sea.vio_uri), '?')}" for sea in bridge.seas)


def state_of(bridge: pvm_net.NetBridge) -> vlan_plan.Bridge:
    """The planner's view of a bridge."""
    seas = []
    for sea in bridge.seas:
        trunks = [vlan_plan.Trunk(int(sea.primary_adpt.pvid), frozenset(sea.primary_adpt.tagged_vlans), primary=True)]
        trunks += [vlan_plan.Trunk(int(t.pvid), frozenset(t.tagged_vlans)) for t in sea.addl_adpts]
        seas.append(vlan_plan.Sea(f"{sea.dev_name}@{_uuid_of(sea.vio_uri)}", tuple(trunks)))
    return vlan_plan.Bridge(
        uuid=bridge.uuid,
        pvid=int(bridge.pvid),
        vswitch_id=int(bridge.vswitch_id),
        seas=tuple(seas),
        load_sharing=bool(bridge.load_balance),
    )


def apply(
    adapter: pvm_adapter.Adapter, bridge: pvm_net.NetBridge, plan: vlan_plan.VlanPlan, vswitch: pvm_net.VSwitch
) -> None:
    """Make ``plan`` on every SEA of the bridge wrapper (in memory; the caller updates it)."""
    for sea in bridge.seas:
        kept = []
        for trunk in sea.addl_adpts:
            pvid = int(trunk.pvid)
            if pvid in plan.dropped_trunks:
                continue
            vlans = (set(trunk.tagged_vlans) | plan.additions.get(pvid, set())) - plan.removals.get(pvid, set())
            trunk.tagged_vlans = sorted(vlans)
            trunk.has_tag_support = bool(vlans)
            if pvid in plan.pvid_moves:
                trunk.pvid = plan.pvid_moves[pvid]
            kept.append(trunk)
        priority = sea.primary_adpt.trunk_pri
        for new in plan.new_trunks:
            kept.append(pvm_net.TrunkAdapter.bld(adapter, new.pvid, sorted(new.vlans), vswitch, trunk_pri=priority))
        sea.addl_adpts = kept


def orphan_vlans(bridge: pvm_net.NetBridge, vioses: list[pvm_vios.VIOS]) -> set[int]:
    """VLANs on VIOS trunk adapters of the bridge's switch that belong to no SEA (needs ViosNetwork)."""
    owned = {
        t.loc_code for v in vioses for sea in v.seas for t in [sea.primary_adpt, *sea.addl_adpts] if sea.primary_adpt
    }
    vlans: set[int] = set()
    for vios in vioses:
        for trunk in vios.trunk_adapters:
            if trunk.loc_code not in owned and int(trunk.vswitch_id) == int(bridge.vswitch_id):
                vlans.update(int(v) for v in trunk.tagged_vlans)
    return vlans
