"""The renderer: files per node role, written for (and parsed back with) the programs' own options."""

from __future__ import annotations

import json

import pytest
import yaml
from oslo_config import cfg

from powervm_openstack.compute import conf as compute_conf
from powervm_openstack.deploy import render, settings, telemetry_files
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
        conf.register_opts(nova_compute.compute_group_opts, "compute")
        compute_conf.register_opts(conf)

    conf = _load(tmp_path, "nova.conf", files["nova-powervm.conf"], register)
    assert conf.compute_driver == "powervm.PowerVMDriver"
    assert conf.compute.live_migration_wait_for_vif_plug is False  # no vif-plugged event before an LPM
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


def _ceilometer_conf(text: str, tmp_path):
    """Parse ``text`` as ceilometer-polling would: ceilometer's own options plus our [powervm_rest]."""
    from ceilometer import service

    path = tmp_path / "ceilometer-powervm.conf"
    path.write_text(text)
    conf = service.prepare_service(argv=["ceilometer-polling", "--config-file", str(path)], config_files=[])
    connection.register_opts(conf)
    return conf


def test_telemetry_files_parse_with_ceilometer_options(tmp_path):
    pytest.importorskip("ceilometer")
    from ceilometer.polling.manager import PollingSource

    data = {"compute": {"disk_driver": "ssp"}, "novalink": {"host": "localhost", "password": "pa$$"},
            "telemetry": {"enabled": True, "interval": 60, "meters": ["powervm.cpu", "powervm.memory.usage"],
                          "ceilometer": {"DEFAULT": {"host": "novalink-01"},
                                         "polling": {"enable_prometheus_exporter": True}}}}  # fmt: skip
    files = render.render("compute", settings.from_dict(data))
    conf = _ceilometer_conf(files["ceilometer-powervm.conf"], tmp_path)
    assert conf.host == "novalink-01"
    assert conf.polling.cfg_file == "/etc/ceilometer/polling-powervm.yaml"
    assert conf.polling.enable_prometheus_exporter is True
    assert (conf.powervm_rest.host, conf.powervm_rest.password) == ("localhost", "pa$$")
    (source,) = yaml.safe_load(files["polling-powervm.yaml"])["sources"]
    parsed = PollingSource(source)
    assert (parsed.interval, parsed.meters) == (60, ["powervm.cpu", "powervm.memory.usage"])
    assert "ceilometer-powervm.conf" not in render.render("controller", settings.from_dict(data))


def test_telemetry_defaults_poll_every_powervm_pollster(tmp_path):
    pytest.importorskip("ceilometer")
    files = render.render("compute", settings.from_dict({"compute": {"disk_driver": "ssp"},
                                                         "telemetry": {"enabled": True}}))  # fmt: skip
    (source,) = yaml.safe_load(files["polling-powervm.yaml"])["sources"]
    assert source == {"name": "powervm", "interval": 300, "meters": ["powervm.*"]}
    assert "powervm.memory.usage" in telemetry_files.pollster_names()
    off = render.render("compute", settings.from_dict({"compute": {"disk_driver": "ssp"}}))
    assert set(off) == {"nova-powervm.conf", "powervm-sea-agent.ini", "powervm-sriov-agent.ini"}


@pytest.mark.parametrize(
    ("telemetry", "expected"),
    [
        ({"enabled": True, "interval": 0}, "'telemetry.interval': value 0 is not allowed; allowed: whole seconds"),
        ({"enabled": True, "meters": ["cpu"]}, "'telemetry.meters': value ['cpu'] is not allowed; allowed: a list of the PowerVM pollsters powervm."),
        ({"enabled": True, "ceilometer": {"nope": {}}}, "'telemetry.ceilometer.nope'"),
        ({"enabled": True, "ceilometer": {"polling": {"enable_prometheus_exporter": "maybe"}}},
         "'telemetry.ceilometer.polling.enable_prometheus_exporter': value 'maybe' is not allowed"),
        ({"enabled": True, "ceilometer": {"DEFAULT": {"hypervisor_inspector": "powervm"}}},
         "'telemetry.ceilometer.DEFAULT.hypervisor_inspector': value 'powervm' is not allowed; allowed: one of libvirt"),
        ({"enabled": True, "pollsters": []}, "'telemetry': value"),
    ],
)  # fmt: skip
def test_bad_telemetry_settings_name_the_key(telemetry, expected):
    pytest.importorskip("ceilometer")
    with pytest.raises(settings.SettingsError) as err:
        settings.from_dict({"telemetry": telemetry})
    assert expected in str(err.value) and "\n" not in str(err.value)
