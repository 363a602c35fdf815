"""Bad answers, bad options and bad certificates: clear errors, no wrong change, no crash loop."""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import pytest
import requests
from oslo_config import cfg
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.deploy.processes import AgentProcess, SimulatorProcess
from powervm_openstack.pvm import connection
from tests.fixtures.agents import StubNeutron, sea_agent
from tests.fixtures.simulator import PASSWORD, USER, connect, disconnect, running_simulator

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", ["truncate", "wrong_type", "huge"])
def test_malformed_answers_change_nothing_and_the_agent_recovers(mode, caplog):
    caplog.set_level(logging.ERROR)
    with running_simulator() as sim:
        adapter = connect(sim)
        try:
            neutron = StubNeutron()
            agent = sea_agent(adapter, neutron)
            # The agent updates bridges from its event-fed view; another client's change to the bridge
            # (its MODIFY_URI event) makes it read the bridge again, and that read is the one spoiled.
            bridge = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            agent.on_events([{"EventType": "MODIFY_URI", "EventData": bridge.href, "EventDetail": ""}])
            rule = {"kind": "malformed", "mode": mode, "method": "GET", "path": "NetworkBridge/", "count": 2}
            requests.put(f"{sim.url}/sim/faults", json=[rule], timeout=10).raise_for_status()
            before = requests.get(f"{sim.url}/sim/health", timeout=10).json()["last_change"]
            neutron.ports["fa:16:3e:00:17:01"] = 1701
            agent.pending.port("fa:16:3e:00:17:01", "plug")
            agent.run_once(timeout=0.1)  # the first read is spoiled
            changes = requests.get(f"{sim.url}/sim/changes", params={"since": before}, timeout=10).json()
            assert not [c for c in changes if c["kind"] == "NetworkBridge"], "a spoiled answer led to a change"
            assert neutron.up == []
            assert any("Serving port changes failed" in r.message for r in caplog.records)
            for _ in range(3):  # the second read is spoiled too; then the agent catches up
                agent.run_once(timeout=0.1)
                time.sleep(1.1)  # the retry of a failed batch waits exception_interval (1 s)
            assert neutron.up == ["fa:16:3e:00:17:01"]
            bridge = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
            assert 1701 in bridge.list_vlans()
        finally:
            disconnect(adapter)


@pytest.mark.parametrize(
    ("section", "option", "value", "message"),
    [
        ("AGENT", "heal_and_optimize_interval", "5", "[AGENT] heal_and_optimize_interval = '5' is not valid"),
        ("AGENT", "max_vlan_removals_per_update", "many", "max_vlan_removals_per_update"),
        ("powervm_rest", "protocol", "ftp", "protocol"),
        ("powervm_rest", "host", "novalink.example.com", "would send the REST credentials in clear"),
    ],
)
def test_bad_options_stop_the_agent_with_a_clear_error(tmp_path, section, option, value, message):
    sim = SimulatorProcess(tmp_path, "--topology", "default")
    rest = dict(sim.rest_options(), retry_interval="1")
    options = {section: {option: value}} if section != "powervm_rest" else {}
    if section == "powervm_rest":
        rest[option] = value
    agent = AgentProcess("powervm_openstack.network.agent.sea", tmp_path, [], "badopt", rest, options).start()
    assert agent.child.popen.wait(timeout=60) == 2
    log = agent.log_path.read_text()
    assert message in log and "Traceback" not in log and "LocationInfo" not in log
    errors = [line for line in log.splitlines() if message in line]
    assert len(errors) == 1, log  # once, not once per handler
    assert "Eventlet is deprecated" not in log, "eventlet's banner reaches the operator"


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "sim.crt", tmp_path / "sim.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def _rest_conf(port: int, **overrides: object) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    connection.register_opts(conf)
    conf([], project="powervm-test", default_config_files=[])
    values = {"host": "127.0.0.1", "port": port, "protocol": "https", "user": USER, "password": PASSWORD,
              "cert_path": "", "timeout": 30, **overrides}  # fmt: skip
    for name, value in values.items():
        conf.set_override(name, value, group=connection.GROUP)
    return conf


def test_tls_is_verified_on_every_request(tmp_path, monkeypatch):
    # requests lets these override the session's CA file (pypowervm builds its sessions itself).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = _self_signed(tmp_path)
    with running_simulator(tls=(cert, key)) as sim:
        with pytest.raises(pvm_exc.SSLError):  # a certificate nobody vouched for
            connection.connect(_rest_conf(sim.port))
        adapter = connection.connect(_rest_conf(sim.port, ca_file=cert))
        try:
            assert adapter.session._verify == cert
            assert pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)
        finally:
            disconnect(adapter)
        insecure = connection.connect(_rest_conf(sim.port, insecure=True))
        disconnect(insecure)
