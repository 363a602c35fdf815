"""nova loads the driver by its documented name; ``[powervm]`` options fail fast with a clear message."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from powervm_openstack.compute import conf as pvm_conf

COMPUTE_DRIVER = "powervm.PowerVMDriver"


def test_nova_load_compute_driver_loads_the_documented_name():
    from nova.virt import driver, fake

    loaded = driver.load_compute_driver(fake.FakeVirtAPI(), COMPUTE_DRIVER)
    from powervm_openstack.compute.driver import PowerVMDriver

    assert isinstance(loaded, PowerVMDriver)
    assert loaded.capabilities["supports_attach_interface"] and loaded.capabilities["supports_image_type_raw"]
    assert loaded.capabilities["supports_evacuate"] and not loaded.capabilities["supports_bfv_rescue"]


def _conf(**powervm: object) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    pvm_conf.register_opts(conf)
    conf([], project="nova")
    for key, value in powervm.items():
        conf.set_override(key, value, group="powervm")
    return conf


def test_defaults_follow_nova_powervm():
    conf = _conf(volume_group_name="datavg")
    pv = conf.powervm
    assert (pv.disk_driver, pv.proc_units_factor, pv.uncapped_proc_weight) == ("localdisk", 0.1, 64)
    assert (pv.vopt_media_volume_group, pv.vopt_media_rep_size, pv.use_rmc_mgmt_vif) == ("rootvg", 1, True)
    assert (pv.pvm_vswitch_for_novalink_io, pv.remove_vopt_media_on_boot, pv.remove_vopt_media_time) == (
        "NovaLinkVEABridge", False, 60)  # fmt: skip
    pvm_conf.validate(conf)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "volume_group_name is required with disk_driver = localdisk"),
        ({"volume_group_name": "datavg", "cluster_name": "c1"}, "cluster_name = 'c1' applies to disk_driver = ssp"),
        ({"disk_driver": "ssp", "volume_group_name": "datavg"}, "volume_group_name = 'datavg' applies to"),
        ({"disk_driver": "ssp", "vnc_use_x509_auth": True}, "vnc_use_x509_auth = True needs vnc_ca_certs"),
    ],
)
def test_impossible_combinations_fail_with_the_option_named(options, message):
    with pytest.raises(pvm_conf.PowerVMConfigError) as err:
        pvm_conf.validate(_conf(**options))
    assert message in str(err.value)


def test_out_of_range_value_in_nova_conf_is_refused_at_start(tmp_path):
    path = tmp_path / "nova.conf"
    path.write_text("[powervm]\nvolume_group_name = datavg\nproc_units_factor = 1.5\n")
    conf = cfg.ConfigOpts()
    pvm_conf.register_opts(conf)
    conf(["--config-file", str(path)], project="nova")
    with pytest.raises(pvm_conf.PowerVMConfigError) as err:
        pvm_conf.validate(conf)
    assert "[powervm] proc_units_factor is not valid; allowed: a float from 0.05 to 1.0" in str(err.value)


def test_options_are_listed_for_the_sample_generator():
    groups = dict(pvm_conf.list_opts())
    assert "disk_driver" in {o.name for o in groups["powervm"]} and "powervm_rest" in groups
