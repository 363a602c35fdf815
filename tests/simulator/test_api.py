"""The simulator's REST semantics, driven over HTTP by the real pypowervm.

Seed state is captured real responses (pvm-data), so what is checked here is how the simulator
serves and changes a real system's documents: logon, sessions, ETags, errors, jobs, events.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import power as pvm_power
from pypowervm.wrappers import event as pvm_event
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.simulator.capture import importer as capture
from tests.fixtures.simulator import PVM_DATA, connect, disconnect, running_simulator

pytestmark = pytest.mark.integration

HOST = "c5d782c7-44e4-3086-ad15-b16fb039d63b"


def _seed() -> list:
    if not PVM_DATA.is_dir():
        pytest.skip(f"captured data not found at {PVM_DATA}")
    return capture.load_many(
        PVM_DATA / f for f in ("sys_with_sriov.txt", "lpar.txt", "vswitch_feed.txt", "nbbr_network_bridge.txt")
    )


@pytest.fixture
def sim():
    with running_simulator(_seed()) as server:
        yield server


@pytest.fixture
def adapter(sim):
    adpt = connect(sim)
    yield adpt
    disconnect(adpt)


def _lpar(adapter: pvm_adapter.Adapter, state: str) -> pvm_lpar.LPAR:
    return next(p for p in pvm_lpar.LPAR.get(adapter) if p.state == state and not p.is_mgmt_partition)


def test_password_logon_serves_the_captured_partitions(adapter):
    lpars = pvm_lpar.LPAR.get(adapter)
    assert len(lpars) == 21
    assert adapter.session.mc_type == "PVM"
    assert adapter.traits.dynamic_pvid and not adapter.traits.vnet_aware


def test_wrong_password_answers_401_with_an_error_document(sim):
    body = (
        '<LogonRequest xmlns="http://www.ibm.com/xmlns/systems/power/firmware/web/mc/2012_10/" '
        'schemaVersion="V1_0"><UserID>admin</UserID><Password>wrong</Password></LogonRequest>'
    )
    resp = requests.put(f"{sim.url}/rest/api/web/Logon", data=body, timeout=10)
    assert resp.status_code == 401
    assert "HttpErrorResponse" in resp.text and "not valid" in resp.text
    assert "wrong" not in resp.text


def test_local_file_logon(sim):
    session = pvm_adapter.Session(host="127.0.0.1", port=sim.port, protocol="http", timeout=30)
    adpt = pvm_adapter.Adapter(session)
    try:
        assert adpt.traits.local_api
        assert len(pvm_lpar.LPAR.get(adpt)) == 21
    finally:
        disconnect(adpt)


def test_requests_need_a_session(sim):
    resp = requests.get(f"{sim.url}/rest/api/uom/LogicalPartition", timeout=10)
    assert resp.status_code == 401


def test_expired_session_is_renewed_by_the_client(sim, adapter):
    requests.delete(f"{sim.url}/sim/sessions", timeout=10)
    assert len(pvm_lpar.LPAR.get(adapter)) == 21


def test_stale_etag_is_refused_with_412(adapter):
    first = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=HOST)[0]
    second = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=HOST)[0]
    first.seas[0].addl_adpts[0].tagged_vlans.append(1500)
    first.update()
    second.seas[0].addl_adpts[0].tagged_vlans.append(1501)
    with pytest.raises(pvm_exc.HttpError) as err:
        second.update()
    assert err.value.response.status == 412


def test_bad_vlan_is_refused_and_nothing_is_created(adapter):
    lpar = _lpar(adapter, "running")
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_cna.crt_cna(adapter, None, lpar.uuid, 5000)
    assert err.value.response.status == 400
    assert "5000" in str(err.value) and "1-4094" in str(err.value)
    assert pvm_net.CNA.get(adapter, parent=lpar) == []


def test_malformed_body_is_a_clear_400(sim, adapter):
    lpar = _lpar(adapter, "running")
    resp = requests.put(
        f"{sim.url}/rest/api/uom/LogicalPartition/{lpar.uuid}/ClientNetworkAdapter",
        data=b"<ClientNetworkAdapter><oops",
        headers={"X-API-Session": adapter.session._sessToken},
        timeout=10,
    )
    assert resp.status_code == 400
    assert "not well-formed XML" in resp.text


def test_unknown_object_is_404(adapter):
    with pytest.raises(pvm_exc.HttpNotFound):
        adapter.read("LogicalPartition", root_id="00000000-0000-0000-0000-000000000001")


def test_trunk_vlan_limit_is_refused_whole(adapter):
    bridge = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=HOST)[0]
    etag = bridge.etag
    bridge.seas[0].addl_adpts[0].tagged_vlans.extend(range(2000, 2020))
    with pytest.raises(pvm_exc.HttpError) as err:
        bridge.update()
    assert err.value.response.status == 400 and "at most 20" in str(err.value)
    assert pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=HOST)[0].etag == etag


def test_power_jobs_change_the_partition_state(adapter):
    lpar = _lpar(adapter, "not activated")
    pvm_power.power_on(lpar, None)
    assert pvm_lpar.LPAR.get(adapter, uuid=lpar.uuid).state == "running"
    # Real firmware answers "already on" with PVME01042026, which pypowervm takes as success.
    pvm_power.PowerOp.start(pvm_lpar.LPAR.get(adapter, uuid=lpar.uuid))
    assert pvm_lpar.LPAR.get(adapter, uuid=lpar.uuid).state == "running"
    pvm_power.power_off(pvm_lpar.LPAR.get(adapter, uuid=lpar.uuid), None, force_immediate=True)
    assert pvm_lpar.LPAR.get(adapter, uuid=lpar.uuid).state == "not activated"


def _listen(adapter: pvm_adapter.Adapter) -> list[dict]:
    received: list[dict] = []

    class Handler(pvm_adapter.RawEventHandler):
        def process(self, events: list[dict]) -> None:
            received.extend(events)

    adapter.session.get_event_listener().subscribe(Handler())
    return received


def _wait_for(events: list[dict], etype: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in events:
            if event["EventType"] == etype:
                return event
        time.sleep(0.1)
    raise AssertionError(f"no {etype} event among {[e['EventType'] for e in events]}")


def test_event_feed_reports_changes_and_custom_events(adapter):
    events = _listen(adapter)
    lpar = _lpar(adapter, "running")
    adpt = pvm_cna.crt_cna(adapter, None, lpar.uuid, 100)
    path = f"/LogicalPartition/{lpar.uuid}/ClientNetworkAdapter/{adpt.uuid}"
    deadline = time.monotonic() + 10  # a VLAN new to the switch also adds its VirtualNetwork first
    while not any(e["EventType"] == "ADD_URI" and e["EventData"].endswith(path) for e in events):
        assert time.monotonic() < deadline, f"no ADD_URI for {path} among {events}"
        time.sleep(0.1)
    adpt.delete()
    assert _wait_for(events, "DELETE_URI")["EventData"].endswith(adpt.uuid)
    pvm_event.Event.bld(adapter, lpar.href, json.dumps({"action": "plug"})).create()
    custom = _wait_for(events, "CUSTOM_CLIENT_EVENT")
    assert json.loads(custom["EventDetail"]) == {"action": "plug"}


def test_event_queue_overflow_clears_the_cache(sim, adapter):
    sim.app.events.queue_limit = 3
    url = f"{sim.url}/rest/api/uom/Event?QUEUE_CLIENTKEY_METHOD=USE_APPLICATIONID&QUEUE_APPLICATIONID=slow"
    headers = {"X-API-Session": adapter.session._sessToken}
    assert "NEW_CLIENT" in requests.get(url, headers=headers, timeout=10).text
    lpar = _lpar(adapter, "running")
    for vlan in range(100, 103):  # each plug is two changes: the adapter and its partition
        pvm_cna.crt_cna(adapter, None, lpar.uuid, vlan)
    feed = requests.get(url, headers=headers, timeout=10).text
    assert "CACHE_CLEARED" in feed and "ADD_URI" not in feed
    pvm_cna.crt_cna(adapter, None, lpar.uuid, 100)  # a VLAN with its VirtualNetwork: two changes only
    assert "ADD_URI" in requests.get(url, headers=headers, timeout=10).text


def test_signalled_event_loss_answers_missing_events(sim, adapter):
    events = _listen(adapter)
    time.sleep(0.5)
    requests.post(f"{sim.url}/sim/events/lose", json={"signalled": True}, timeout=10)
    _wait_for(events, "MISSING_EVENTS")


def _set_faults(sim, rules: list[dict]) -> dict:
    resp = requests.put(f"{sim.url}/sim/faults", json=rules, timeout=10)
    assert resp.ok, resp.text
    return resp.json()


def test_injected_server_errors_look_real_to_the_client(sim, adapter):
    _set_faults(sim, [{"kind": "vios_busy", "method": "GET", "path": "LogicalPartition", "count": 1}])
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_lpar.LPAR.get(adapter)
    assert err.value.response.status == 500 and err.value.her_wrap is not None
    assert err.value.response.body and "HSCL3205" in err.value.response.body
    assert len(pvm_lpar.LPAR.get(adapter)) == 21  # count=1: the next request is served
    _set_faults(sim, [{"kind": "server_error", "status": 503, "path": "LogicalPartition", "count": 1}])
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_lpar.LPAR.get(adapter)
    assert err.value.response.status == 503


def test_dropped_connection_and_latency(sim, adapter):
    _set_faults(sim, [{"kind": "drop", "path": "LogicalPartition", "count": 1}])
    with pytest.raises(pvm_exc.ConnectionError):
        pvm_lpar.LPAR.get(adapter)
    state = _set_faults(sim, [{"kind": "latency", "latency_ms": 50, "jitter_ms": 10, "path": "LogicalPartition"}])
    assert state["rules"][0]["kind"] == "latency"
    assert len(pvm_lpar.LPAR.get(adapter)) == 21
    assert requests.get(f"{sim.url}/sim/faults", timeout=10).json()["injected"]["latency"] == 1


def test_session_expiry_fault_is_survived_by_relogin(sim, adapter):
    _set_faults(sim, [{"kind": "session_expiry", "path": "LogicalPartition$", "count": 1}])
    assert len(pvm_lpar.LPAR.get(adapter)) == 21


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "meteor"}, "Unknown fault kind 'meteor'"),
        ({"kind": "latency", "rate": 2}, "outside 0.0-1.0"),
        ({"kind": "server_error", "status": 404}, "not a 5xx"),
        ({"kind": "drop", "path": "("}, "not a valid regular expression"),
    ],
)
def test_bad_fault_rules_are_refused_with_the_reason(sim, rule, message):
    resp = requests.put(f"{sim.url}/sim/faults", json=[rule], timeout=10)
    assert resp.status_code == 400 and message in resp.json()["error"]


def test_extended_groups_are_served_only_when_asked(sim):
    records = capture.load_many([PVM_DATA / "fake_vios_feed3.txt"])
    with running_simulator(records) as server:
        adpt = connect(server)
        try:
            assert "<VirtualSCSIMappings" in adpt.read("VirtualIOServer", xag=[]).body  # no group: all
            assert "<VirtualSCSIMappings" not in adpt.read("VirtualIOServer").body  # group=None
            network = adpt.read("VirtualIOServer", xag=["ViosNetwork"]).body
            assert "<FreeIOAdaptersForLinkAggregation" in network and "<VirtualSCSIMappings" not in network
        finally:
            disconnect(adpt)


def test_concurrent_readers_and_writers(adapter):
    lpar = _lpar(adapter, "running")
    errors: list[Exception] = []

    def plug(vlan: int) -> None:
        try:
            pvm_cna.crt_cna(adapter, None, lpar.uuid, vlan)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=plug, args=(v,)) for v in range(200, 210)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    cnas = pvm_net.CNA.get(adapter, parent=lpar)
    assert sorted(c.pvid for c in cnas) == list(range(200, 210))
    assert len({c.slot for c in cnas}) == 10 and len({c.mac for c in cnas}) == 10
