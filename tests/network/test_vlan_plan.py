"""Tests of the pure NetworkBridge VLAN planner: examples for each rule, then properties."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powervm_openstack.network import exceptions as exc
from powervm_openstack.network import vlan_plan as vp
from powervm_openstack.network.vlan_plan import Bridge, NewTrunk, RefusalReason, Sea, Trunk

PRIMARY = Trunk(1, frozenset({100, 101}), primary=True)


def bridge(*extras: Trunk, seas: int = 1, load_sharing: bool = False) -> Bridge:
    trunks = (PRIMARY, *extras)
    return Bridge("nb-1", 1, 0, tuple(Sea(f"ent{5 + i}@vios{i + 1}", trunks) for i in range(seas)), load_sharing)


def trunk(pvid: int, *vlans: int) -> Trunk:
    return Trunk(pvid, frozenset(vlans))


def full(pvid: int, first: int) -> Trunk:
    return trunk(pvid, *range(first, first + vp.MAX_VLANS_PER_TRUNK))


# --- examples -------------------------------------------------------------------------------------


def test_bridge_vlans_count_primary_pvid_and_tags_but_not_arbitrary_pvids():
    nb = bridge(trunk(4094, 200, 201))
    assert vp.bridge_vlans(nb) == {1, 100, 101, 200, 201}
    assert vp.arbitrary_pvids(nb) == {4094}


def test_new_vlan_goes_to_the_trunk_with_fewest_vlans():
    change = vp.plan(bridge(trunk(4094, 200, 201), trunk(4093, 300)), {500})
    assert change.additions == {4093: {500}}
    assert not change.new_trunks


def test_vlans_already_on_the_bridge_need_nothing():
    assert vp.plan(bridge(trunk(4094, 200)), {1, 100, 200}).is_empty


def test_full_trunks_open_a_new_one_with_a_fresh_pvid_counting_down():
    nb = bridge(full(4094, 200))
    change = vp.plan(nb, {500, 501}, in_use={4093}, vswitch_pvids={4092}, orphans={4091})
    assert change.new_trunks == (NewTrunk(4090, frozenset({500, 501})),)
    assert not change.additions


def test_new_trunk_pvid_avoids_wanted_vlans():
    change = vp.plan(bridge(), {4094, 4093})
    assert change.new_trunks == (NewTrunk(4092, frozenset({4093, 4094})),)


def test_full_sea_refuses_with_reason():
    extras = [full(4094 - i, 200 + 20 * i) for i in range(vp.MAX_ADDITIONAL_TRUNKS_PER_SEA)]
    change = vp.plan(bridge(*extras), {1000})
    assert [(r.vlan, r.reason) for r in change.refused] == [(1000, RefusalReason.SEA_FULL)]
    assert change.is_empty


def test_refusals_for_out_of_range_orphan_and_foreign_pvid():
    change = vp.plan(bridge(trunk(4094, 200)), {0, 4095, 300, 4000, 301}, orphans={300}, vswitch_pvids={4000, 4094})
    reasons = {r.vlan: r.reason for r in change.refused}
    assert reasons == {
        0: RefusalReason.OUT_OF_RANGE,
        4095: RefusalReason.OUT_OF_RANGE,
        300: RefusalReason.ORPHAN,
        4000: RefusalReason.ARBITRARY_PVID,
    }
    assert "outside 1-4094" in change.refused[0].detail
    assert change.additions == {4094: {301}}


def test_wanted_vlan_equal_to_own_arbitrary_pvid_moves_that_trunk():
    nb = bridge(trunk(4094, 200))
    change = vp.plan(nb, {4094})
    assert change.pvid_moves == {4094: 4093}
    after = vp.apply_plan(nb, change)
    assert 4094 in vp.bridge_vlans(after)
    assert vp.arbitrary_pvids(after) == {4093}


def test_cleanup_removes_only_unused_vlans_and_drops_emptied_trunks():
    nb = bridge(trunk(4094, 200, 201), trunk(4093, 300))
    change = vp.plan(nb, {200}, in_use={100}, cleanup_enabled=True)
    assert change.removals == {4094: {201}, 4093: {300}}
    assert change.dropped_trunks == {4093}
    assert vp.bridge_vlans(vp.apply_plan(nb, change)) == {1, 100, 101, 200}


def test_cleanup_disabled_removes_nothing():
    change = vp.plan(bridge(trunk(4094, 200), trunk(4093)), set(), cleanup_enabled=False)
    assert change.is_empty


def test_cleanup_respects_the_removal_limit_in_vlan_order():
    change = vp.plan(bridge(trunk(4094, 203, 201, 202, 200)), set(), cleanup_enabled=True, max_removals=3)
    assert change.removals == {4094: {200, 201, 202}}
    assert change.deferred_removals == {203}
    assert not change.dropped_trunks


def test_freed_slots_are_reused_before_opening_a_trunk():
    change = vp.plan(bridge(full(4094, 200)), {500}, cleanup_enabled=True, max_removals=1)
    assert change.removals == {4094: {200}}
    assert change.additions == {4094: {500}}
    assert not change.new_trunks


def test_load_sharing_opens_the_partner_of_an_odd_trunk():
    nb = bridge(trunk(4094, 200), seas=2, load_sharing=True)
    change = vp.plan(nb, {300})
    assert change.new_trunks == (NewTrunk(4093, frozenset({300})),)
    assert vp.plan(vp.apply_plan(nb, change), {300, 400, 401}).additions == {4093: {400}, 4094: {401}}


def test_load_sharing_keeps_one_additional_trunk():
    nb = bridge(trunk(4094, 200), trunk(4093, 300), seas=2, load_sharing=True)
    change = vp.plan(nb, set(), cleanup_enabled=True)
    assert change.dropped_trunks == {4093}


def test_apply_changes_every_sea_alike():
    nb = bridge(trunk(4094, 200), seas=2)
    after = vp.apply_plan(nb, vp.plan(nb, {201, *range(300, 320)}))
    assert after.seas[0].trunks == after.seas[1].trunks
    assert after.seas[0].name != after.seas[1].name


@pytest.mark.parametrize(
    "bad",
    [
        Bridge("nb-1", 1, 0, ()),
        Bridge("nb-1", 1, 0, (Sea("ent5", (trunk(4094),)),)),
        Bridge("nb-1", 1, 0, (Sea("ent5", (PRIMARY, trunk(4094), trunk(4094, 5))),)),
    ],
)
def test_malformed_bridges_are_rejected(bad):
    with pytest.raises(exc.InvalidBridgeState):
        vp.plan(bad, {5})


def test_plan_for_another_bridge_is_rejected():
    change = vp.plan(bridge(), {5})
    with pytest.raises(exc.InvalidBridgeState):
        vp.apply_plan(Bridge("nb-2", 1, 0, bridge().seas), change)


# --- properties -----------------------------------------------------------------------------------

VLANS = st.integers(min_value=2, max_value=3800)


@st.composite
def bridges(draw) -> Bridge:
    pvid = draw(st.integers(min_value=1, max_value=4094))
    used = {pvid}
    primary_tags = draw(st.frozensets(VLANS, max_size=4)) - used
    used |= primary_tags
    # A crowded bridge has every additional trunk nearly full, so that the SEA limit is reached.
    crowded = draw(st.booleans())
    count = vp.MAX_ADDITIONAL_TRUNKS_PER_SEA if crowded else draw(st.integers(0, vp.MAX_ADDITIONAL_TRUNKS_PER_SEA))
    pvids = draw(st.lists(st.integers(min_value=3801, max_value=4094), min_size=count, max_size=count, unique=True))
    extras, start = [], 2000
    for arbitrary in [p for p in pvids if p not in used]:
        if crowded:
            size = draw(st.integers(min_value=16, max_value=vp.MAX_VLANS_PER_TRUNK))
            tags, start = frozenset(range(start, start + size)) - used, start + size
        else:
            tags = draw(st.frozensets(VLANS, max_size=vp.MAX_VLANS_PER_TRUNK)) - used
        used |= tags | {arbitrary}
        extras.append(Trunk(arbitrary, tags))
    trunks = tuple(draw(st.permutations([Trunk(pvid, primary_tags, primary=True), *extras])))
    seas = draw(st.integers(min_value=1, max_value=2))
    sharing = seas == 2 and draw(st.booleans())
    return Bridge("nb-1", pvid, 0, tuple(Sea(f"ent{i}", trunks) for i in range(seas)), sharing)


@st.composite
def scenarios(draw) -> tuple[Bridge, dict]:
    nb = draw(bridges())
    present, own = sorted(vp.bridge_vlans(nb)), sorted(vp.arbitrary_pvids(nb))
    taken = set(present) | set(own)
    some = st.frozensets(st.integers(min_value=-2, max_value=4097), max_size=60)
    known = st.frozensets(st.sampled_from(present + own), max_size=10) if present + own else st.just(frozenset())
    bulk_start, bulk_size = draw(st.integers(min_value=2, max_value=1900)), draw(st.integers(min_value=0, max_value=60))
    inputs = {
        "wanted": draw(some) | draw(known) | frozenset(range(bulk_start, bulk_start + bulk_size)),
        "in_use": draw(some) | draw(known),
        "orphans": draw(st.frozensets(VLANS, max_size=5)) - taken,
        "vswitch_pvids": frozenset(own) | (draw(st.frozensets(st.integers(3801, 4094), max_size=5)) - taken),
        "cleanup_enabled": draw(st.booleans()),
        "max_removals": draw(st.none() | st.integers(min_value=0, max_value=5)),
    }
    return nb, inputs


def _check_shape(nb: Bridge) -> None:
    carried = vp.bridge_vlans(nb)
    for sea in nb.seas:
        assert sea.trunks == nb.seas[0].trunks
        pvids = [t.pvid for t in sea.trunks]
        assert len(pvids) == len(set(pvids))
        assert len(pvids) <= vp.MAX_ADDITIONAL_TRUNKS_PER_SEA + 1
        assert all(len(t.tagged_vlans) <= vp.MAX_VLANS_PER_TRUNK for t in sea.trunks)
    assert not (vp.arbitrary_pvids(nb) & carried)


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(scenarios())
def test_applied_plan_carries_wanted_vlans_and_keeps_the_shape(scenario):
    nb, inputs = scenario
    change = vp.plan(nb, **inputs)
    after = vp.apply_plan(nb, change)
    refused = {r.vlan for r in change.refused}
    assert inputs["wanted"] - refused <= vp.bridge_vlans(after)
    _check_shape(after)
    fresh = vp.arbitrary_pvids(after) - vp.arbitrary_pvids(nb)
    assert not fresh & (inputs["in_use"] | inputs["orphans"] | inputs["vswitch_pvids"] | inputs["wanted"])


@PROPERTY_SETTINGS
@given(scenarios())
def test_nothing_in_use_wanted_or_primary_is_removed(scenario):
    nb, inputs = scenario
    change = vp.plan(nb, **inputs)
    before, after = vp.bridge_vlans(nb), vp.bridge_vlans(vp.apply_plan(nb, change))
    removed = before - after
    primary = next(t for t in nb.seas[0].trunks if t.primary)
    assert not removed & (inputs["in_use"] | inputs["wanted"] | primary.tagged_vlans | {nb.pvid})
    if not inputs["cleanup_enabled"]:
        assert not removed and not change.dropped_trunks
    elif inputs["max_removals"] is not None:
        assert len(removed) <= inputs["max_removals"]


@PROPERTY_SETTINGS
@given(bridges())
def test_empty_want_and_nothing_unused_is_a_no_op(nb):
    assert vp.plan(nb, set()).is_empty
    change = vp.plan(nb, set(), in_use=vp.bridge_vlans(nb), cleanup_enabled=True)
    assert not change.removals and not change.additions and not change.new_trunks
    assert all(not t.tagged_vlans for t in nb.seas[0].trunks if t.pvid in change.dropped_trunks)


@PROPERTY_SETTINGS
@given(scenarios())
def test_planning_is_deterministic_and_idempotent(scenario):
    nb, inputs = scenario
    inputs["max_removals"] = None
    change = vp.plan(nb, **inputs)
    assert change == vp.plan(nb, **inputs)
    after = vp.apply_plan(nb, change)
    others = inputs["vswitch_pvids"] - vp.arbitrary_pvids(nb)
    again = vp.plan(after, **{**inputs, "vswitch_pvids": others | vp.arbitrary_pvids(after)})
    assert again.is_empty
    assert {r.vlan for r in again.refused} == {r.vlan for r in change.refused}
