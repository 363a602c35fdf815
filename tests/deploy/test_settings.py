"""The settings model: values checked by the programs' own option types, one line per bad value."""

from __future__ import annotations

import pytest

from powervm_openstack.deploy import settings


def test_empty_settings_are_the_defaults():
    s = settings.from_dict({})
    assert s.agents == ("sea", "sriov")
    assert s.compute == {} and s.novalink == {} and s.password is None
    assert s.telemetry_enabled is False


def test_values_are_converted_by_the_option_types():
    s = settings.from_dict({
        "novalink": {"host": "nl1.example.com", "port": "12443", "insecure": "false"},
        "compute": {"disk_driver": "ssp", "proc_units_factor": "0.2"},
        "agent": {"heal_and_optimize_interval": 600},
        "bridge_mappings": "default:ent5:vios1, prod:ent8:vios1",
        "sriov_physical_networks": ["prod"],
    })  # fmt: skip
    assert s.novalink == {"host": "nl1.example.com", "port": 12443, "insecure": False}
    assert s.compute == {"disk_driver": "ssp", "proc_units_factor": 0.2}
    assert s.bridge_mappings == ("default:ent5:vios1", "prod:ent8:vios1")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"nope": 1}, "settings key 'nope': value 1 is not allowed; allowed: top-level keys novalink"),
        ({"compute": {"disk_driver": "nfs"}}, "'compute.disk_driver': value 'nfs' is not allowed; allowed: one of localdisk, ssp"),
        ({"compute": {"proc_units_factor": 3}}, "'compute.proc_units_factor': value 3 is not allowed; allowed: float from 0.05 to 1.0"),
        ({"compute": {"disk_drivr": "ssp"}}, "'compute.disk_drivr': value 'ssp' is not allowed; allowed: option names "),
        ({"compute": {"disk_driver": "localdisk"}}, "volume_group_name is required with disk_driver = localdisk"),
        ({"novalink": {"port": 99999}}, "'novalink.port': value 99999 is not allowed"),
        ({"bridge_mappings": ["default:ent5"]}, "'bridge_mappings': value ['default:ent5'] is not allowed; allowed: <physical network>:<SEA device>:<VIOS name>"),
        ({"bridge_mappings": ["a:ent5:v1", "a:ent6:v1"]}, "maps physical network 'a' more than once"),
        ({"agents": ["ovs"]}, "'agents': value 'ovs' is not allowed; allowed: any of sea, sriov"),
        ({"sriov_physical_networks": ["pr od"]}, "'sriov_physical_networks': value 'pr od' is not allowed"),
        ({"sriov_physical_networks": ["prod:1:01"]}, "value 'prod:1:01' is not allowed; allowed: <physnet> ("),
        ({"sriov_physical_networks": ["prod", "backup"]}, "value 'prod, backup' is not allowed; allowed: at most one physical network without port addresses"),
        ({"agent": {"bridge_mappings": "x"}}, "'agent.bridge_mappings'"),
        ({"telemetry": {"enabled": "yes"}}, "'telemetry.enabled': value 'yes' is not allowed; allowed: true or false"),
    ],
)  # fmt: skip
def test_bad_values_name_key_value_and_what_is_allowed(data, expected):
    with pytest.raises(settings.SettingsError) as err:
        settings.from_dict(data)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_password_from_a_file_reference_and_never_in_repr(tmp_path):
    ref = tmp_path / "pw"
    ref.write_text("s3cret\n")
    s = settings.from_dict({"novalink": {"user": "admin", "password_file": str(ref)}})
    assert s.password == "s3cret"
    assert "s3cret" not in repr(s)
    assert "password" not in s.novalink


def test_bad_password_never_echoed():
    with pytest.raises(settings.SettingsError) as err:
        settings.from_dict({"novalink": {"password": "s3cret", "password_file": "/x"}})
    assert "s3cret" not in str(err.value)


def test_password_file_missing(tmp_path):
    with pytest.raises(settings.SettingsError, match="'novalink.password_file'.*a readable file"):
        settings.from_dict({"novalink": {"password_file": str(tmp_path / "none")}})


def test_load_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("compute: {disk_driver: ssp}\n")
    assert settings.load(path).compute == {"disk_driver": "ssp"}
    path.write_text("compute: [\n")
    with pytest.raises(settings.SettingsError, match="is not valid YAML"):
        settings.load(path)
    with pytest.raises(settings.SettingsError, match="cannot be read"):
        settings.load(tmp_path / "absent.yaml")
