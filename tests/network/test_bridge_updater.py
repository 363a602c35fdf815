"""BridgeUpdater against the simulator: transient answers are retried, firmware refusals are not."""

from __future__ import annotations

import pytest
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.network.agent import bridge_updater
from tests.fixtures.simulator import connect, disconnect, running_simulator


@pytest.fixture(scope="module")
def host():
    with running_simulator() as server:
        adapter = connect(server)
        system = pvm_ms.System.get(adapter)[0]
        bridge = pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=system.uuid)[0]
        yield server, adapter, system.uuid, bridge.uuid
        disconnect(adapter)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr(bridge_updater.time, "sleep", lambda seconds: None)


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "server_error", "status": 500},
        {"kind": "server_error", "status": 503, "message": "Service unavailable (injected)."},
        {"kind": "vios_busy"},
    ],
    ids=["500", "503", "HSCL3205"],
)
def test_transient_answers_to_a_bridge_read_are_retried(host, rule):
    server, adapter, system_uuid, bridge_uuid = host
    server.app.faults.set_rules([{**rule, "method": "GET", "path": "NetworkBridge/", "count": 2}])
    try:
        outcome = bridge_updater.BridgeUpdater(adapter, system_uuid).converge(bridge_uuid, wanted=())
    finally:
        fired = server.app.faults.rules()[0]["fired"]
        server.app.faults.set_rules([])
    assert fired == 2
    assert outcome.present  # the bridge was read on the third attempt


def test_a_refusal_is_not_retried(host):
    server, adapter, system_uuid, bridge_uuid = host
    server.app.faults.set_rules([{"kind": "etag_mismatch", "method": "GET", "path": "NetworkBridge/", "count": 5}])
    try:
        with pytest.raises(pvm_exc.HttpError):
            bridge_updater.BridgeUpdater(adapter, system_uuid).converge(bridge_uuid, wanted=())
        fired = server.app.faults.rules()[0]["fired"]
    finally:
        server.app.faults.set_rules([])
    assert fired == 1
