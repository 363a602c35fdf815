"""The agent as a process against a broker that refuses it and a REST API that is not there."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from powervm_openstack.deploy.child import free_port
from powervm_openstack.deploy.processes import AgentProcess

pytestmark = pytest.mark.integration

AGENT = "powervm_openstack.network.agent.sea"


def _agent(tmp_path, rest_port: int, default: dict | None = None) -> AgentProcess:
    rest = {"host": "127.0.0.1", "port": str(rest_port), "protocol": "http", "user": "admin",
            "password": "pw-secret", "retry_interval": "1"}  # fmt: skip
    return AgentProcess(AGENT, tmp_path, [], "proc-host", rest, {"DEFAULT": default or {}}).start()


def _wait_for(agent: AgentProcess, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = agent.log_path.read_text(errors="replace") if agent.log_path.exists() else ""
        if text in log:
            return log
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not in the agent log within {timeout}s:\n{log[-3000:]}")


@pytest.mark.parametrize("refusal", ["missing-vhost", "wrong-password"])
def test_a_broker_that_refuses_the_agent_ends_it_with_one_line(tmp_path, rabbitmq_server, refusal):
    if refusal == "missing-vhost":
        url = rabbitmq_server.transport_url(f"pvm-missing-{uuid.uuid4().hex[:8]}")
    else:
        url = (
            f"rabbit://{rabbitmq_server.user}:not-{uuid.uuid4().hex[:6]}@{rabbitmq_server.host}:{rabbitmq_server.port}/"
        )
    agent = _agent(tmp_path, free_port(), {"transport_url": url})
    try:
        assert agent.child.popen.wait(timeout=60) == 2
    finally:
        agent.kill()
    log = agent.log_path.read_text()
    errors = [line for line in log.splitlines() if "cannot start" in line]
    assert len(errors) == 1, log
    assert f"{rabbitmq_server.host}:{rabbitmq_server.port}" in errors[0] and "refused the agent" in errors[0]
    assert "not-" not in errors[0] and "Traceback" not in log and "CRITICAL" not in log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_waiting_for_the_rest_api_stops_the_agent_cleanly(tmp_path, signum):
    port = free_port()
    agent = _agent(tmp_path, port)
    try:
        _wait_for(agent, "attempt 2")
        agent.child.popen.send_signal(signum)
        assert agent.child.popen.wait(timeout=30) == 0
    finally:
        agent.kill()
    log = agent.log_path.read_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
    assert log.count("stopped by a signal") == 1
    waits = [line for line in log.splitlines() if "Cannot log on" in line]
    assert waits and all(f"127.0.0.1:{port}: connection refused" in w and "next attempt in 1s" in w for w in waits)
    assert "urllib3" not in log and "HTTPConnectionPool" not in log and "pw-secret" not in log


def test_a_misspelt_option_is_named_with_the_nearest_known_one(tmp_path):
    rest = {"host": "127.0.0.1", "port": str(free_port()), "protocol": "http", "retry_interval": "1",
            "pasword": "x"}  # fmt: skip
    agent = AgentProcess(AGENT, tmp_path, [], "typo-host", rest, {"AGENT": {"bridge_mapping": "default:ent5:vios1"}})
    agent.start()
    try:
        log = _wait_for(agent, "Cannot log on")
    finally:
        agent.kill()
    assert "Unknown option bridge_mapping in [AGENT]" in log and "did you mean bridge_mappings?" in log
    assert "Unknown option pasword in [powervm_rest]" in log and "did you mean password?" in log
    assert "Unknown option report_interval" not in log and "Unknown option host" not in log


def test_an_unreachable_rest_api_gives_one_plain_line_per_attempt(tmp_path):
    port = free_port()
    agent = _agent(tmp_path, port)
    deadline = time.monotonic() + 120  # several attempts, one second apart; start-up is slow on a busy host
    try:
        while time.monotonic() < deadline and _refused(agent) < 3:
            time.sleep(0.5)
    finally:
        agent.kill()
    log = agent.log_path.read_text()
    refused = [line for line in log.splitlines() if "refused" in line.lower()]
    assert len(refused) >= 3, log
    assert all(f"127.0.0.1:{port}" in line and "next attempt in 1s" in line for line in refused), log
    attempts = [line for line in refused if "(attempt " in line]
    assert len(attempts) == len(refused), "one line per attempt, nothing else about it"
    assert "urllib3" not in log and "HTTPConnectionPool" not in log and "Traceback" not in log


def _refused(agent: AgentProcess) -> int:
    log = agent.log_path.read_text(errors="replace") if agent.log_path.exists() else ""
    return sum("refused" in line.lower() for line in log.splitlines())
