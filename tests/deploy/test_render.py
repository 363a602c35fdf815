"""The renderer: files per node role, written for (and parsed back with) the programs' own options."""

from __future__ import annotations

import json

import pytest
from oslo_config import cfg

from powervm_openstack.compute import conf as compute_conf
from powervm_openstack.deploy import render, settings
from powervm_openstack.network.agent import config as agent_config
from powervm_openstack.network.agent import sriov_config
from powervm_openstack.pvm import connection

FULL = {
    "novalink": {"host": "nl1.example.com", "user": "admin", "password": "pa$$w0rd", "protocol": "https"},
    "bridge_mappings": ["default:ent5:vios1", "prod:ent8:vios1"],
    "sriov_physical_networks": ["backup", "prod:0001:01", "prod:0001:02"],
    "ml2_mechanism_drivers": ["openvswitch", "pvm_sea"],
    "compute": {"disk_driver": "localdisk", "volume_group_name": "datavg"},
    "agent": {"heal_and_optimize_interval": 600, "vnic_required_vfs": 1},
}


def _load(tmp_path, name, text, register):
    path = tmp_path / name
    path.write_text(text)
    conf = cfg.ConfigOpts()
    register(conf)
    conf(["--config-file", str(path)], project="t", default_config_files=[], default_config_dirs=[])
    return conf


def test_controller_merges_the_pvm_drivers_into_what_is_configured(tmp_path):
    from neutron.conf.plugins.ml2 import config as ml2_config

    files = render.render("controller", settings.from_dict(FULL))
    assert list(files) == ["ml2_conf_powervm.ini"]
    conf = _load(
        tmp_path, "ml2.ini", files["ml2_conf_powervm.ini"], lambda c: c.register_opts(ml2_config.ml2_opts, "ml2")
    )
    assert conf.ml2.mechanism_drivers == ["openvswitch", "pvm_sea", "pvm_sriov"]


def test_controller_with_the_sea_agent_only():
    files = render.render("controller", settings.from_dict({"agents": ["sea"]}))
    assert "mechanism_drivers = pvm_sea\n" in files["ml2_conf_powervm.ini"]


def test_compute_nova_file(tmp_path):
    from nova.conf import compute as nova_compute
    from nova.conf import pci as nova_pci

    files = render.render("compute", settings.from_dict(FULL))
    assert sorted(files) == ["nova-powervm.conf", "powervm-sea-agent.ini", "powervm-sriov-agent.ini"]

    def register(conf):
        conf.register_opts(nova_compute.compute_opts)
        conf.register_opts(nova_pci.pci_opts, "pci")
        compute_conf.register_opts(conf)

    conf = _load(tmp_path, "nova.conf", files["nova-powervm.conf"], register)
    assert conf.compute_driver == "powervm.PowerVMDriver"
    assert conf.powervm.volume_group_name == "datavg"
    assert conf.powervm_rest.password == "pa$$w0rd"  # $ survives oslo.config's interpolation
    # nova tags a device from the first entry that matches it: the addressed entries come first.
    assert [json.loads(s) for s in conf.pci.device_spec] == [
        {"address": "0001:01:*.*", "physical_network": "prod"},
        {"address": "0001:02:*.*", "physical_network": "prod"},
        {"physical_network": "backup"},
    ]
    compute_conf.validate(conf)


def test_compute_agent_files(tmp_path):
    files = render.render("compute", settings.from_dict(FULL))

    def sea(conf):
        agent_config.register_opts(conf)
        connection.register_opts(conf)

    conf = _load(tmp_path, "sea.ini", files["powervm-sea-agent.ini"], sea)
    assert conf.AGENT.bridge_mappings == "default:ent5:vios1,prod:ent8:vios1"
    assert conf.AGENT.heal_and_optimize_interval == 600
    assert conf.powervm_rest.host == "nl1.example.com"
    assert "vnic_required_vfs" not in files["powervm-sea-agent.ini"]

    def sriov(conf):
        sea(conf)
        sriov_config.register_opts(conf)

    conf = _load(tmp_path, "sriov.ini", files["powervm-sriov-agent.ini"], sriov)
    assert conf.AGENT.vnic_required_vfs == 1
    assert "bridge_mappings" not in files["powervm-sriov-agent.ini"]


def test_compute_on_a_novalink_partition_needs_no_settings():
    files = render.render("compute", settings.from_dict({"compute": {"disk_driver": "ssp"}}))
    assert files["powervm-sea-agent.ini"].endswith("[powervm_rest]\n")  # local logon: nothing to set
    assert "[pci]" not in files["nova-powervm.conf"]


def test_compute_needs_a_disk_the_driver_accepts():
    with pytest.raises(settings.SettingsError, match="volume_group_name is required with disk_driver = localdisk"):
        render.render("compute", settings.from_dict({}))


def test_unknown_role():
    with pytest.raises(settings.SettingsError, match="role 'network' is not allowed; allowed: controller, compute"):
        render.render("network", settings.from_dict({}))


def test_telemetry_hook_refuses_until_the_pollsters_exist():
    with pytest.raises(settings.SettingsError, match="'telemetry.enabled'"):
        render.render(
            "compute", settings.from_dict({"telemetry": {"enabled": True}, "compute": {"disk_driver": "ssp"}})
        )
