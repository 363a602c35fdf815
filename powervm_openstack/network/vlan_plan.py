"""Pure VLAN planning for one PowerVM NetworkBridge (no I/O, no pypowervm).

A NetworkBridge carries VLANs on the trunk adapters of its Shared Ethernet Adapters. Each SEA has
one primary trunk (its PVID is the bridge PVID) and up to 15 additional trunks with an "arbitrary"
PVID that is never a real VLAN; every trunk tags at most 20 VLANs. The SEAs of a failover or
load-sharing pair mirror each other, so the plan speaks of trunks by PVID and the same change
applies to every SEA. The first SEA is the reference for what the bridge carries.

:func:`plan` returns the minimal change that puts the wanted VLANs on the bridge and, when cleanup
is enabled, takes off VLANs nobody uses; the agent turns it into one NetworkBridge update.
:func:`apply_plan` gives the state that update should produce.
"""

import dataclasses
import enum
from collections.abc import Iterable, Iterator, Set

from powervm_openstack.network import exceptions as exc

MAX_VLANS_PER_TRUNK = 20
MAX_ADDITIONAL_TRUNKS_PER_SEA = 15
VLAN_MIN, VLAN_MAX = 1, 4094
# Arbitrary PVIDs count down from the top of the range; VLAN 1 is left alone, it is the usual
# bridge PVID and the firmware default.
_ARBITRARY_PVIDS = range(VLAN_MAX, VLAN_MIN, -1)


@dataclasses.dataclass(frozen=True)
class Trunk:
    """A trunk adapter of a SEA: its PVID and the VLANs it tags.

    ``primary`` marks the SEA's primary trunk; a trunk whose PVID is the bridge PVID is primary too.
    """

    pvid: int
    tagged_vlans: frozenset[int] = frozenset()
    primary: bool = False


@dataclasses.dataclass(frozen=True)
class Sea:
    """A Shared Ethernet Adapter, named for messages (e.g. ``ent5@vios1``), with its trunks."""

    name: str
    trunks: tuple[Trunk, ...]


@dataclasses.dataclass(frozen=True)
class Bridge:
    """A NetworkBridge: one SEA, or two mirrored ones (failover); ``load_sharing`` as PowerVM sets it."""

    uuid: str
    pvid: int
    vswitch_id: int
    seas: tuple[Sea, ...]
    load_sharing: bool = False


@dataclasses.dataclass(frozen=True)
class NewTrunk:
    """A trunk adapter to add to every SEA of the bridge."""

    pvid: int
    vlans: frozenset[int]


class RefusalReason(enum.StrEnum):
    """Why a wanted VLAN cannot go onto the bridge."""

    OUT_OF_RANGE = "out_of_range"
    ORPHAN = "orphan"
    ARBITRARY_PVID = "arbitrary_pvid"
    SEA_FULL = "sea_full"
    NO_FREE_PVID = "no_free_pvid"
    FIRMWARE = "firmware"  # the update was answered 400: the firmware's message is the detail


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A wanted VLAN left off the bridge, why, and what to do about it."""

    vlan: int
    reason: RefusalReason
    detail: str


@dataclasses.dataclass(frozen=True)
class VlanPlan:
    """The change for one bridge. Trunks are named by their PVID before the change.

    ``pvid_moves`` re-numbers an additional trunk whose arbitrary PVID is wanted as a real VLAN.
    ``deferred_removals`` are VLANs cleanup could take off but left for a later pass.
    """

    bridge_uuid: str
    additions: dict[int, frozenset[int]]
    new_trunks: tuple[NewTrunk, ...]
    pvid_moves: dict[int, int]
    removals: dict[int, frozenset[int]]
    dropped_trunks: frozenset[int]
    deferred_removals: frozenset[int]
    refused: tuple[Refusal, ...]

    @property
    def is_empty(self) -> bool:
        """True when applying the plan changes nothing."""
        return not (self.additions or self.new_trunks or self.pvid_moves or self.removals or self.dropped_trunks)


def _is_primary(trunk: Trunk, bridge_pvid: int) -> bool:
    return trunk.primary or trunk.pvid == bridge_pvid


def _split(bridge: Bridge) -> tuple[Trunk, list[Trunk]]:
    """The reference SEA's primary trunk and its additional trunks.

    :raises InvalidBridgeState: no SEA, or the first SEA lacks exactly one primary trunk or
        repeats a PVID.
    """
    if not bridge.seas:
        raise exc.InvalidBridgeState(f"bridge {bridge.uuid} has no Shared Ethernet Adapter")
    sea = bridge.seas[0]
    primaries = [t for t in sea.trunks if _is_primary(t, bridge.pvid)]
    if len(primaries) != 1:
        raise exc.InvalidBridgeState(
            f"SEA {sea.name} of bridge {bridge.uuid} has {len(primaries)} primary trunk adapters; "
            f"exactly one (PVID {bridge.pvid}) is expected"
        )
    if len({t.pvid for t in sea.trunks}) != len(sea.trunks):
        raise exc.InvalidBridgeState(f"SEA {sea.name} of bridge {bridge.uuid} repeats a trunk PVID")
    return primaries[0], [t for t in sea.trunks if t is not primaries[0]]


def bridge_vlans(bridge: Bridge) -> frozenset[int]:
    """The VLANs the bridge carries: the primary trunk's PVID and tagged VLANs, and every
    additional trunk's tagged VLANs (arbitrary PVIDs are not VLANs the bridge carries).

    :raises InvalidBridgeState: see :func:`plan`.
    """
    primary, extras = _split(bridge)
    return frozenset({primary.pvid} | primary.tagged_vlans).union(*(t.tagged_vlans for t in extras))


def arbitrary_pvids(bridge: Bridge) -> frozenset[int]:
    """PVIDs of the bridge's additional trunks (placeholders, not carried VLANs)."""
    return frozenset(t.pvid for t in _split(bridge)[1])


def _refusal(vlan: int, bridge: Bridge, orphans: Set[int], foreign_pvids: Set[int]) -> Refusal | None:
    if not VLAN_MIN <= vlan <= VLAN_MAX:
        return Refusal(vlan, RefusalReason.OUT_OF_RANGE, f"VLAN {vlan} is outside {VLAN_MIN}-{VLAN_MAX}")
    if vlan in orphans:
        why = f"VLAN {vlan} is on a VIOS trunk adapter outside any SEA; remove it from that adapter first"
        return Refusal(vlan, RefusalReason.ORPHAN, why)
    if vlan in foreign_pvids:
        why = f"VLAN {vlan} is the arbitrary PVID of another bridge on vswitch {bridge.vswitch_id}; move it first"
        return Refusal(vlan, RefusalReason.ARBITRARY_PVID, why)
    return None


def _choose_trunk(loads: dict[int, set[int]], load_sharing: bool) -> int | None:
    """The trunk with the fewest VLANs that has room, or None when a new trunk should be opened."""
    open_trunks = sorted((len(v), pvid) for pvid, v in loads.items() if len(v) < MAX_VLANS_PER_TRUNK)
    # Load sharing splits the additional trunks between the two VIOSes, so keep them in pairs:
    # an odd trunk count with a single trunk left open asks for its partner rather than filling it.
    pair_up = load_sharing and len(open_trunks) == 1 and len(loads) % 2 == 1
    if not open_trunks or (pair_up and len(loads) < MAX_ADDITIONAL_TRUNKS_PER_SEA):
        return None
    return open_trunks[0][1]


def _place(
    vlans: list[int], loads: dict[int, set[int]], pvids: Iterator[int], load_sharing: bool
) -> tuple[list[int], list[Refusal]]:
    """Put each VLAN on the least loaded trunk of ``loads``, opening trunks (fresh PVIDs) as needed.

    :returns: the PVIDs of the opened trunks, and refusals for the VLANs that found no place.
    """
    opened, refused = [], []
    for vlan in vlans:
        target = _choose_trunk(loads, load_sharing)
        if target is None and len(loads) >= MAX_ADDITIONAL_TRUNKS_PER_SEA:
            why = f"the SEA is full: {MAX_ADDITIONAL_TRUNKS_PER_SEA} additional trunks of {MAX_VLANS_PER_TRUNK} VLANs"
            refused.append(Refusal(vlan, RefusalReason.SEA_FULL, why))
            continue
        if target is None:
            target = next(pvids, None)
            if target is None:
                refused.append(Refusal(vlan, RefusalReason.NO_FREE_PVID, "no free arbitrary PVID is left"))
                continue
            opened.append(target)
            loads[target] = set()
        loads[target].add(vlan)
    return opened, refused


def _removable(bridge: Bridge, primary: Trunk, extras: list[Trunk], keep: Set[int]) -> list[int]:
    protected = keep | primary.tagged_vlans | {primary.pvid, bridge.pvid}
    return sorted({v for t in extras for v in t.tagged_vlans} - protected)


def _droppable(extras: list[Trunk], loads: dict[int, set[int]], load_sharing: bool) -> frozenset[int]:
    empty = sorted(t.pvid for t in extras if not loads[t.pvid])
    if load_sharing and empty and len(empty) == len(loads):
        empty = empty[:-1]  # a load-sharing SEA needs one additional trunk besides the primary
    return frozenset(empty)


def _trunk_changes(extras: list[Trunk], loads: dict[int, set[int]], added: bool) -> dict[int, frozenset[int]]:
    """Per existing trunk, the VLANs ``loads`` adds to it (or, with ``added=False``, takes off)."""
    changes = {}
    for trunk in extras:
        vlans = loads[trunk.pvid] - trunk.tagged_vlans if added else trunk.tagged_vlans - loads[trunk.pvid]
        if vlans:
            changes[trunk.pvid] = frozenset(vlans)
    return changes


def plan(
    bridge: Bridge,
    wanted: Iterable[int],
    *,
    in_use: Iterable[int] = (),
    vswitch_pvids: Iterable[int] = (),
    orphans: Iterable[int] = (),
    cleanup_enabled: bool = False,
    max_removals: int | None = None,
) -> VlanPlan:
    """Plan the minimal change that puts ``wanted`` on ``bridge`` (and cleans up if enabled).

    :param wanted: VLANs that must be on the bridge (neutron ports bound through it).
    :param in_use: VLANs any partition on the host uses (client adapters, PVIDs or tagged).
    :param vswitch_pvids: arbitrary PVIDs of trunk adapters on the bridge's vswitch (this
        bridge's own may be included; they are told apart).
    :param orphans: VLANs on VIOS trunk adapters that belong to no SEA.
    :param cleanup_enabled: whether VLANs neither wanted nor in use may be removed, and trunks
        left empty dropped.
    :param max_removals: at most this many VLAN removals in this plan (None: no limit).
    :returns: a deterministic :class:`VlanPlan`. Guarantees: new VLANs go to the trunk with the
        fewest VLANs; no trunk exceeds 20 VLANs and no SEA 15 additional trunks; new PVIDs count
        down from 4094 and collide with no VLAN or PVID named in the inputs; nothing wanted or in
        use, no primary-trunk VLAN and no arbitrary PVID is removed.
    :raises InvalidBridgeState: the bridge has no SEA or its first SEA is malformed.
    """
    primary, extras = _split(bridge)
    wanted, in_use, orphans = frozenset(wanted), frozenset(in_use), frozenset(orphans)
    own_pvids, vswitch_pvids = frozenset(t.pvid for t in extras), frozenset(vswitch_pvids)
    present = bridge_vlans(bridge)
    refused = [r for r in (_refusal(v, bridge, orphans, vswitch_pvids - own_pvids) for v in wanted - present) if r]
    to_add = sorted(wanted - present - {r.vlan for r in refused})

    removable = _removable(bridge, primary, extras, wanted | in_use) if cleanup_enabled else []
    limit = len(removable) if max_removals is None else max(max_removals, 0)
    loads = {t.pvid: set(t.tagged_vlans) - set(removable[:limit]) for t in extras}

    avoid = present | wanted | in_use | orphans | own_pvids | vswitch_pvids | {bridge.pvid}
    pvids = (v for v in _ARBITRARY_PVIDS if v not in avoid)
    # A wanted VLAN that is one of our own arbitrary PVIDs: that trunk moves to a fresh PVID.
    moves = dict(zip([v for v in to_add if v in own_pvids], pvids))
    for vlan in [v for v in to_add if v in own_pvids and v not in moves]:
        to_add.remove(vlan)
        refused.append(Refusal(vlan, RefusalReason.NO_FREE_PVID, f"no free PVID to move trunk {vlan} to"))
    opened, unplaced = _place(to_add, loads, pvids, bridge.load_sharing)

    dropped = _droppable(extras, loads, bridge.load_sharing) if cleanup_enabled else frozenset()
    return VlanPlan(
        bridge_uuid=bridge.uuid,
        additions=_trunk_changes(extras, loads, added=True),
        new_trunks=tuple(NewTrunk(p, frozenset(loads[p])) for p in opened),
        pvid_moves={old: new for old, new in moves.items() if old not in dropped},
        removals=_trunk_changes(extras, loads, added=False),
        dropped_trunks=dropped,
        deferred_removals=frozenset(removable[limit:]),
        refused=tuple(sorted(refused + unplaced, key=lambda r: r.vlan)),
    )


def _apply_to_sea(sea: Sea, bridge_pvid: int, change: VlanPlan) -> Sea:
    trunks = []
    for trunk in sea.trunks:
        if _is_primary(trunk, bridge_pvid):
            trunks.append(trunk)
        elif trunk.pvid not in change.dropped_trunks:
            added = change.additions.get(trunk.pvid, frozenset())
            removed = change.removals.get(trunk.pvid, frozenset())
            trunks.append(Trunk(change.pvid_moves.get(trunk.pvid, trunk.pvid), (trunk.tagged_vlans | added) - removed))
    trunks.extend(Trunk(new.pvid, new.vlans) for new in change.new_trunks)
    return Sea(sea.name, tuple(trunks))


def apply_plan(bridge: Bridge, change: VlanPlan) -> Bridge:
    """The bridge as it is after ``change``, made on every SEA (pure; ``bridge`` is not modified).

    :raises InvalidBridgeState: ``change`` was planned for another bridge.
    """
    if change.bridge_uuid != bridge.uuid:
        raise exc.InvalidBridgeState(f"plan for bridge {change.bridge_uuid} applied to bridge {bridge.uuid}")
    seas = tuple(_apply_to_sea(sea, bridge.pvid, change) for sea in bridge.seas)
    return dataclasses.replace(bridge, seas=seas)
