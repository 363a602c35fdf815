"""Flavor and powervm:* extra specs -> partition attributes (pure)."""

from __future__ import annotations

import pytest

from powervm_openstack.compute.exception import InvalidExtraSpec
from powervm_openstack.compute.partition_spec import Defaults, Flavor, build_attrs

UUID = "1A2B3C4D-0000-4000-8000-000000000001"


def _attrs(vcpus=2, memory=2048, **specs):
    extra = {f"powervm:{k}": v for k, v in specs.items()}
    return build_attrs(
        "inst-1", UUID, Flavor(vcpus, memory, extra), Defaults(proc_units_factor=0.1, uncapped_weight=64)
    )


def test_shared_defaults_from_the_flavor_and_options():
    attrs = _attrs()
    assert attrs["vcpu"] == 2 and attrs["memory"] == 2048 and attrs["proc_units"] == 0.2
    assert attrs["sharing_mode"] == "uncapped" and attrs["uncapped_weight"] == 64
    assert attrs["srr_capability"] == "true" and attrs["uuid"] == UUID and attrs["env"] == "AIX/Linux"


def test_every_supported_shared_spec_is_mapped():
    attrs = _attrs(vcpus=4, memory=4096, min_mem="2048", max_mem="8192", min_vcpu="1", max_vcpu="8",
                   proc_units="0.8", min_proc_units="0.4", max_proc_units="2", shared_weight="200",
                   processor_compatibility="POWER8", availability_priority="200", srr_capability="false",
                   secure_boot="0", enable_lpar_metric="true", ppt_ratio="1:1024", enforce_affinity_check="false",
                   shared_proc_pool_name="pool1")  # fmt: skip
    assert attrs["min_mem"] == 2048 and attrs["max_mem"] == 8192 and attrs["max_vcpu"] == 8
    assert attrs["proc_units"] == 0.8 and attrs["min_proc_units"] == 0.4 and attrs["max_proc_units"] == 2.0
    assert attrs["uncapped_weight"] == 200 and attrs["processor_compatibility"] == "POWER8"
    assert attrs["avail_priority"] == 200 and attrs["srr_capability"] == "false"
    assert attrs["enable_lpar_metric"] == "true" and attrs["ppt_ratio"] == "1:1024"
    assert attrs["proc_pool_name"] == "pool1"


def test_capped_has_no_weight_and_plus_means_plus_mode():
    attrs = _attrs(uncapped="false", processor_compatibility="POWER6+")
    assert attrs["sharing_mode"] == "capped" and "uncapped_weight" not in attrs
    assert attrs["processor_compatibility"] == "POWER6_Plus"


def test_dedicated_processors():
    attrs = _attrs(dedicated_proc="true", dedicated_sharing_mode="keep_idle_procs")
    assert attrs["dedicated_proc"] == "true" and attrs["sharing_mode"] == "keep idle procs"
    assert "proc_units" not in attrs


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ({"bogus": "1"}, "powervm:bogus='1' is not valid: unknown key; known keys: powervm:min_mem"),
        ({"shared_weight": "300"}, "powervm:shared_weight='300' is not valid: must be 0-255"),
        ({"uncapped": "maybe"}, "powervm:uncapped='maybe' is not valid: expected true or false"),
        ({"proc_units": "0.01"}, "must be at least 0.05 processing units"),
        ({"proc_units": "3"}, "at most 1.0 processing unit per vCPU (2 vCPUs)"),
        ({"min_mem": "4096"}, "powervm:min_mem='4096' is not valid: above the desired memory (MB) 2048"),
        ({"dedicated_sharing_mode": "keep_idle_procs"}, "applies to dedicated processors only"),
        ({"dedicated_proc": "true", "proc_units": "1"}, "applies to shared processors only"),
        ({"dedicated_sharing_mode": "sometimes", "dedicated_proc": "true"}, "allowed: share_idle_procs"),
        ({"ppt_ratio": "1:3"}, "allowed: 1:64, 1:128"),
    ],
)
def test_invalid_specs_name_the_key_and_the_rule(specs, message):
    with pytest.raises(InvalidExtraSpec) as err:
        _attrs(**specs)
    assert message in str(err.value)


def test_other_namespaces_are_ignored():
    assert "hw:cpu_policy" not in build_attrs("n", UUID, Flavor(1, 512, {"hw:cpu_policy": "x"}), Defaults())
