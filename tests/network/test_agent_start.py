"""Agent start against a REST API that is busy or failing: waited out; only a refused logon ends it."""

from __future__ import annotations

import pytest
from oslo_config import cfg
from pypowervm import exceptions as pvm_exc

from powervm_openstack.network.agent import config as agent_config
from powervm_openstack.network.agent.sea import SeaAgent
from powervm_openstack.pvm import connection
from tests.fixtures.simulator import PASSWORD, USER, running_simulator


def _conf(port: int, password: str = PASSWORD) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default="test-novalink"))
    agent_config.register_opts(conf)
    connection.register_opts(conf)
    conf([], project="powervm-test", default_config_files=[])
    rest = {"host": "127.0.0.1", "port": port, "protocol": "http", "user": USER, "password": password,
            "retry_interval": 1, "timeout": 30}  # fmt: skip
    for name, value in rest.items():
        conf.set_override(name, value, group=connection.GROUP)
    return conf


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "vios_busy", "method": "GET", "path": "NetworkBridge"},
        {"kind": "server_error", "status": 503, "method": "GET", "path": "VirtualIOServer"},
        {"kind": "server_error", "status": 500, "path": "Logon"},
    ],
    ids=["vios-busy-bridges", "503-vioses", "500-logon"],
)
def test_transient_answers_at_start_are_waited_out(rule, caplog):
    with running_simulator() as sim:
        sim.app.faults.set_rules([{**rule, "count": 2}])
        agent = SeaAgent(_conf(sim.port))
        try:
            agent.attach()
            assert sim.app.faults.rules()[0]["fired"] == 2
            assert agent.mappings, "the agent read its bridges once the API answered"
        finally:
            agent.adapter.session._logoff()
    waits = [r.getMessage() for r in caplog.records if "next attempt in 1s" in r.getMessage()]
    assert len(waits) == 2, waits
    assert all(f"127.0.0.1:{sim.port}" in line for line in waits)


def test_a_refused_logon_is_not_waited_out():
    with running_simulator() as sim:
        agent = SeaAgent(_conf(sim.port, password="wrong"))
        with pytest.raises(pvm_exc.Error) as raised:
            agent.attach()
    assert not connection.is_transient(raised.value)
