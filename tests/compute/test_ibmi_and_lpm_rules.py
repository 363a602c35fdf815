"""Pure rules of IBM i settings and of the live migration timeout (no REST, no nova services)."""

from __future__ import annotations

import types

import pytest

from powervm_openstack.compute import ibmi
from powervm_openstack.compute import live_migration as lpm
from powervm_openstack.compute.exception import InvalidExtraSpec


def _conf(timeout: int, action: str = "abort") -> types.SimpleNamespace:
    return types.SimpleNamespace(libvirt=types.SimpleNamespace(live_migration_completion_timeout=timeout,
                                                               live_migration_timeout_action=action))  # fmt: skip


def _instance(memory_mb: int) -> types.SimpleNamespace:
    return types.SimpleNamespace(flavor=types.SimpleNamespace(memory_mb=memory_mb))


@pytest.mark.parametrize(("timeout", "action", "memory", "expected"), [
    (800, "abort", 1024, 1600),  # at least 2 GiB, as nova counts
    (800, "abort", 8192, 6400),
    (10, "abort", 3000, 30),  # 3000 MB rounds up to 3 GiB
    (0, "abort", 8192, None),  # 0: no limit of nova's
    (800, "force_complete", 8192, None),  # nothing to force on PowerVM: run to the end
])  # fmt: skip
def test_completion_timeout(timeout, action, memory, expected):
    assert lpm.completion_timeout(_conf(timeout, action), _instance(memory)) == expected


def test_ibmi_settings_defaults_and_values():
    assert ibmi.settings({}, True) == ibmi.Settings("b", "HMC", "auto")
    got = ibmi.settings({"powervm:ibmi_ipl_source": "D", "powervm:ibmi_alt_load_source": "none"}, True)
    assert (got.ipl_source, got.alt_load_source) == ("d", "none")


@pytest.mark.parametrize(("specs", "ibmi_image", "reason"), [
    ({"powervm:ibmi_console": "LAN"}, True, "allowed: HMC"),
    ({"powervm:ibmi_ipl_source": "e"}, True, "allowed: a, b, c, d"),
    ({"powervm:ibmi_keylock": "manual"}, True, "unknown key"),
    ({"powervm:secure_boot": "2"}, True, "AIX/Linux partitions only"),
    ({"powervm:ibmi_ipl_source": "a"}, False, "applies to IBM i images"),
])  # fmt: skip
def test_ibmi_settings_refusals(specs, ibmi_image, reason):
    with pytest.raises(InvalidExtraSpec, match=reason):
        ibmi.settings(specs, ibmi_image)
