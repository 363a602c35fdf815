"""Which Cinder volumes live migration can move, and when PowerVM validates them (pure logic)."""

from __future__ import annotations

import types

import pytest
from nova import exception as nova_exc

from powervm_openstack.compute import live_migration_volumes as lpm_volumes


def _bdi(*kinds: str) -> dict:
    return {"block_device_mapping": [
        {"connection_info": {"driver_volume_type": k, "data": {"volume_id": f"vol-{k}"}}, "boot_index": None,
         "mount_device": f"/dev/sd{chr(98 + i)}"} for i, k in enumerate(kinds)]}  # fmt: skip


def _conf(strategy: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(powervm=types.SimpleNamespace(fc_attach_strategy=strategy))


@pytest.mark.parametrize("kinds", [(), ("fibre_channel",), ("iscsi", "iser"), ("fibre_channel", "iscsi")])
def test_vios_served_volumes_can_move(kinds):
    lpm_volumes.check_movable(types.SimpleNamespace(uuid="inst-1"), _bdi(*kinds))


@pytest.mark.parametrize("kind", ["rbd", "local", "nfs", "gpfs"])
def test_novalink_served_volumes_are_refused_naming_the_volume(kind):
    with pytest.raises(nova_exc.MigrationPreCheckError, match=f"has {kind} volume vol-{kind}, which the NovaLink"):
        lpm_volumes.check_movable(types.SimpleNamespace(uuid="inst-1"), _bdi("fibre_channel", kind))


@pytest.mark.parametrize(
    ("kinds", "strategy", "expected"),
    [((), "vscsi", False), (("fibre_channel",), "vscsi", True), (("fibre_channel",), "npiv", False),
     (("iscsi",), "npiv", True), (("iser",), "vscsi", True)],
)  # fmt: skip
def test_hdisk_volumes_are_validated_by_the_migrate_job(kinds, strategy, expected):
    assert lpm_volumes.has_hdisks(_conf(strategy), _bdi(*kinds)) is expected
