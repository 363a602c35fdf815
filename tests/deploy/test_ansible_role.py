"""The Ansible role ``powervm.openstack.powervm`` applied to localhost by the real ansible-playbook.

Per node role: the files it writes parse with the programs' oslo.config options and hold what the
switch implies; neutron starts with the controller's mechanism drivers and both agents start with
the compute node's files against the simulator; a second run changes nothing, check mode reports
without writing, a change restarts only the service whose file changed, ``powervm_enabled: false``
changes nothing, bad variables fail naming the variable. No systemd here: the role runs with
``powervm_manage_services: false`` and the test starts the agents from the rendered files.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from oslo_config import cfg

from powervm_openstack.deploy.processes import AgentProcess, SimulatorProcess
from powervm_openstack.network.constants import AGENT_TYPE_SEA, AGENT_TYPE_SRIOV
from tests.fixtures.ansible import play
from tests.fixtures.services import REPO_ROOT
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration

PASSWORD = "pvm-Ans1ble-secret"

BASE = {"powervm_enabled": True, "powervm_install": False, "powervm_manage_services": False,
        "powervm_venv": str(Path(sys.executable).parent.parent), "powervm_nova_config_group": "root",
        "powervm_neutron_config_group": "root"}  # fmt: skip


def _ml2_drivers(path: Path) -> list[str]:
    from neutron.conf.plugins.ml2 import config as ml2_config

    conf = cfg.ConfigOpts()
    conf.register_opts(ml2_config.ml2_opts, "ml2")
    conf(["--config-file", str(path)], project="t", default_config_files=[], default_config_dirs=[])
    return conf.ml2.mechanism_drivers


@pytest.fixture(scope="module")
def work(service_run) -> Path:
    return service_run.work_dir / "ansible-role"


@pytest.fixture(scope="module")
def controller(work) -> list[str]:
    """The controller role run against an ml2_conf.ini that has openvswitch: the merged driver list."""
    existing = work / "controller" / "ml2_conf.ini"
    existing.parent.mkdir(parents=True, exist_ok=True)
    existing.write_text("[ml2]\nmechanism_drivers = openvswitch\n")
    etc = work / "controller" / "etc"
    result = play(work / "controller", {**BASE, "powervm_node_role": "controller", "powervm_ml2_conf": str(existing),
                                        "powervm_neutron_config_dir": str(etc)})  # fmt: skip
    assert result.rc == 0, result.output[-3000:]
    assert result.handlers() == ["Restart neutron-server"]
    return _ml2_drivers(etc / "ml2_conf_powervm.ini")


def test_controller_adds_the_pvm_drivers_to_what_is_configured(controller):
    assert controller == ["openvswitch", "pvm_sea", "pvm_sriov"]


@pytest.fixture(scope="module")
def neutron(neutron_server, controller):
    ranges = {"ml2_type_vlan": {"network_vlan_ranges": "default:1:4094,prod:1:4094"}}
    return neutron_server(mechanism_drivers=tuple(controller), extra_ml2=ranges)


def test_compute_node(work, neutron):
    sim = SimulatorProcess(work / "compute", name="sim-ansible", password=PASSWORD).start()
    agents: list[AgentProcess] = []
    etc = work / "compute" / "etc"
    variables = {**BASE, "powervm_node_role": "compute", "powervm_nova_config_dir": str(etc),
                 "powervm_novalink": {"host": "127.0.0.1", "port": sim.port, "protocol": "http", "user": "admin"},
                 "powervm_novalink_password": PASSWORD, "powervm_bridge_mappings": ["default:ent5:vios1"],
                 "powervm_sriov_physical_networks": ["prod"],
                 "powervm_compute": {"disk_driver": "ssp"}}  # fmt: skip
    try:
        first = play(work / "compute", variables)
        assert first.rc == 0, first.output[-3000:]
        assert PASSWORD not in first.output
        files = sorted(p.name for p in etc.iterdir())
        assert files == ["nova-powervm.conf", "powervm-sea-agent.ini", "powervm-sriov-agent.ini"]
        assert all(stat.S_IMODE((etc / f).stat().st_mode) == 0o640 for f in files)
        assert stat.S_IMODE(etc.stat().st_mode) == 0o750
        nova = (etc / "nova-powervm.conf").read_text()
        assert "compute_driver = powervm.PowerVMDriver" in nova and '{"physical_network": "prod"}' in nova

        again = play(work / "compute", variables)
        assert again.rc == 0 and again.changed == 0 and again.handlers() == [], again.output[-3000:]

        moved = {**variables, "powervm_bridge_mappings": ["default:ent5:vios2"]}
        checked = play(work / "compute", moved, "--check")
        assert checked.rc == 0 and checked.changed == 1, checked.output[-3000:]
        assert "default:ent5:vios1" in (etc / "powervm-sea-agent.ini").read_text()
        changed = play(work / "compute", moved)
        assert changed.rc == 0 and changed.changed == 1, changed.output[-3000:]
        assert changed.handlers() == ["Restart powervm-sea-agent"]

        for module, binary in (("sea", AGENT_TYPE_SEA), ("sriov", AGENT_TYPE_SRIOV)):
            agent = AgentProcess(f"powervm_openstack.network.agent.{module}", work / "compute",
                                 [*neutron.config_files, etc / f"powervm-{module}-agent.ini"], f"ansible-{module}",
                                 {}, name=f"agent-{module}")  # fmt: skip
            agents.append(agent.start())

            def alive(host=f"ansible-{module}", kind=binary):
                found = neutron.get("/v2.0/agents", params={"host": host})["agents"]
                return any(a["agent_type"] == kind and a["alive"] for a in found)

            wait_for(alive, f"the {module} agent started from the rendered file to report alive", timeout=90)
    finally:
        for agent in agents:
            agent.stop()
        sim.stop()


def test_telemetry_on_a_compute_node(work):
    """The ceilometer files go to ceilometer's directory; a new interval restarts only ceilometer-polling."""
    pytest.importorskip("ceilometer")
    import yaml

    etc, ceilometer = work / "telemetry" / "nova", work / "telemetry" / "ceilometer"
    variables = {**BASE, "powervm_node_role": "compute", "powervm_nova_config_dir": str(etc),
                 "powervm_compute": {"disk_driver": "ssp"}, "powervm_novalink_password": PASSWORD,
                 "powervm_telemetry_enabled": True, "powervm_ceilometer_config_dir": str(ceilometer),
                 "powervm_ceilometer_config_group": "root",
                 "powervm_telemetry_ceilometer": {"DEFAULT": {"host": "novalink-01"}}}  # fmt: skip
    first = play(work / "telemetry", variables)
    assert first.rc == 0, first.output[-3000:]
    assert PASSWORD not in first.output
    assert sorted(p.name for p in ceilometer.iterdir()) == ["ceilometer-powervm.conf", "polling-powervm.yaml"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o640 for p in ceilometer.iterdir())
    conf = (ceilometer / "ceilometer-powervm.conf").read_text()
    assert f"cfg_file = {ceilometer}/polling-powervm.yaml" in conf and "host = novalink-01" in conf
    assert f"password = {PASSWORD}" in conf
    polling = yaml.safe_load((ceilometer / "polling-powervm.yaml").read_text())
    assert polling["sources"] == [{"name": "powervm", "interval": 300, "meters": ["powervm.*"]}]
    again = play(work / "telemetry", variables)
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]
    faster = play(work / "telemetry", {**variables, "powervm_telemetry_interval": 60})
    assert faster.rc == 0 and faster.changed == 1, faster.output[-3000:]
    assert faster.handlers() == ["Restart ceilometer-polling"]
    bad = play(work / "telemetry", {**variables, "powervm_telemetry_interval": 0})
    assert bad.rc != 0 and "variable 'powervm_telemetry_interval': value 0 is not allowed" in bad.output


def test_disabled_changes_nothing(work):
    etc = work / "disabled" / "etc"
    result = play(work / "disabled", {**BASE, "powervm_enabled": False, "powervm_nova_config_dir": str(etc)})
    assert result.rc == 0 and result.changed == 0, result.output[-3000:]
    assert not etc.exists()


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"powervm_install_source": "svn"}, "variable 'powervm_install_source': value 'svn' is not allowed; "
                                            "allowed: git, package"),
        ({"powervm_bridge_mappings": ["default:ent5"]}, "variable 'powervm_bridge_mappings': value ['default:ent5'] "
                                                         "is not allowed"),
    ],
)  # fmt: skip
def test_bad_variables_fail_naming_the_variable(work, variables, message):
    etc = work / "bad" / "etc"
    result = play(work / "bad", {**BASE, "powervm_nova_config_dir": str(etc), **variables})
    assert result.rc != 0
    assert message in result.output, result.output[-3000:]
    assert not etc.exists()


def test_ansible_lint_production_profile(work):
    """ansible-lint with the repository's .ansible-lint (production profile, offline)."""
    lint = Path(sys.executable).parent / "ansible-lint"
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT), "ANSIBLE_HOME": str(work / ".ansible-lint"),
           "NO_COLOR": "1", "PATH": f"{lint.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}  # fmt: skip
    proc = subprocess.run([str(lint), "--nocolor", "ansible_collections/"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr
