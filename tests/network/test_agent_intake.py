"""How the agent turns PowerVM events into pending port changes, and how batches merge."""

from __future__ import annotations

import json

from oslo_config import cfg

from powervm_openstack.network.agent import config
from powervm_openstack.network.agent.base import PowerVMAgent
from powervm_openstack.network.agent.pending import PLUG, UNPLUG, PendingChanges

CNA = "http://h:12080/rest/api/uom/LogicalPartition/AAA/ClientNetworkAdapter/bbb"
BRIDGE = "http://h:12080/rest/api/uom/ManagedSystem/ms/NetworkBridge/NB1"


class _Agent(PowerVMAgent):
    vif_type = "pvm_sea"


def _agent() -> _Agent:
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.StrOpt("host", default="h1")])
    config.register_opts(conf)
    conf([])
    return _Agent(conf, adapter=object())


def _vif(action: str, vif_type: str = "pvm_sea", mac: str = "FA163E000001") -> dict:
    detail = {"provider": "NOVA_PVM_VIF", "action": action, "mac": mac, "type": vif_type}
    return {"EventType": "CUSTOM_CLIENT_EVENT", "EventData": CNA, "EventDetail": json.dumps(detail)}


def test_vif_events_of_our_type_become_port_changes_last_one_wins():
    agent = _agent()
    agent.on_events([_vif("plug"), _vif("unplug"), _vif("plug", vif_type="pvm_sriov", mac="FA163E000002")])
    batch = agent.pending.take_now()
    assert list(batch.changes) == ["fa:16:3e:00:00:01"]
    assert batch.changes["fa:16:3e:00:00:01"].action == UNPLUG and batch.changes["fa:16:3e:00:00:01"].uri == CNA


def test_adapter_and_bridge_events_and_lost_queues():
    agent = _agent()
    agent.on_events(
        [
            {"EventType": "ADD_URI", "EventData": CNA, "EventDetail": ""},
            {"EventType": "DELETE_URI", "EventData": CNA, "EventDetail": ""},
            {"EventType": "MODIFY_URI", "EventData": BRIDGE, "EventDetail": ""},
            {"EventType": "MISSING_EVENTS", "EventData": "", "EventDetail": ""},
            {"EventType": "CUSTOM_CLIENT_EVENT", "EventData": CNA, "EventDetail": "not json"},
        ]
    )
    batch = agent.pending.take_now()
    assert batch.added_uris == {CNA} and batch.deleted_adapters == {"bbb"} and batch.bridges == {"nb1"}
    assert batch.resync == "event MISSING_EVENTS" and not batch.changes


def test_a_batch_put_back_keeps_what_arrived_meanwhile():
    pending = PendingChanges()
    pending.port("m1", PLUG)
    pending.port("m2", PLUG)
    batch = pending.take_now()
    pending.port("m2", UNPLUG)  # newer than the batch's plug of m2
    pending.put_back(batch)
    merged = pending.take_now()
    assert {m: c.action for m, c in merged.changes.items()} == {"m1": PLUG, "m2": UNPLUG}


def test_take_waits_then_gathers_a_window():
    pending = PendingChanges()
    assert not pending.take(timeout=0.01, window=0)
    pending.port("m1", PLUG)
    assert list(pending.take(timeout=0.01, window=0.01).changes) == ["m1"]
