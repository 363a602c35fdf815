"""The evacuate slot plan: recorded slots are asked for only while nova rebuild-spawns the instance."""

from __future__ import annotations

import json
import types

from nova.compute import task_states

from powervm_openstack.compute import evacuate

RECORDED = {"cna": {"FA163E000001": 5, evacuate.MGMT: 3}, "vnic": {"FA163E000009": 7}, "vscsi": {"boot_x": [2, 4]}}


def _instance(task_state: str | None, slots: dict | None = RECORDED) -> types.SimpleNamespace:
    meta = {evacuate.SLOTS_KEY: json.dumps(slots)} if slots is not None else {}
    return types.SimpleNamespace(uuid="u-1", task_state=task_state, system_metadata=meta)


def test_the_plan_applies_while_rebuild_spawning() -> None:
    with evacuate.slot_plan(_instance(task_states.REBUILD_SPAWNING)):
        assert evacuate.cna_slot("fa:16:3e:00:00:01") == 5  # MACs compare in PowerVM form
        assert evacuate.cna_slot(evacuate.MGMT) == 3
        assert evacuate.cna_slot("fa:16:3e:00:00:02") is None  # a port added since: the next free slot
        assert evacuate.vnic_slot("fa:16:3e:00:00:09") == 7 and evacuate.vnic_slot("fa:16:3e:00:00:01") is None
        assert [evacuate.vscsi_slot("boot_x") for _ in range(3)] == [2, 4, None]  # one per VIOS, in order
        assert evacuate.vscsi_slot("cfg_x") is None
    assert evacuate.cna_slot("fa:16:3e:00:00:01") is None  # the plan ends with the spawn


def test_no_plan_for_a_first_spawn_or_without_recorded_slots() -> None:
    for instance in (_instance(task_states.SPAWNING), _instance(task_states.REBUILD_SPAWNING, slots=None)):
        with evacuate.slot_plan(instance):
            assert evacuate.cna_slot("fa:16:3e:00:00:01") is None
            assert evacuate.vscsi_slot("boot_x") is None
            assert evacuate.vnic_slot("fa:16:3e:00:00:09") is None


def test_slots_recorded_before_vnics_were_kept_still_plan() -> None:
    old = {"cna": {"FA163E000001": 5}, "vscsi": {}}
    with evacuate.slot_plan(_instance(task_states.REBUILD_SPAWNING, slots=old)):
        assert evacuate.cna_slot("fa:16:3e:00:00:01") == 5
        assert evacuate.vnic_slot("fa:16:3e:00:00:09") is None
