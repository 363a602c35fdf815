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


def _vios(name: str, *maps: tuple[int, str | None]) -> types.SimpleNamespace:
    """A VIOS whose vSCSI mappings to partition LPAR1 are ``(client slot, backing udid or None)``."""
    return types.SimpleNamespace(name=name, scsi_mappings=[
        types.SimpleNamespace(client_lpar_href="https://x/LogicalPartition/LPAR1",
                              client_adapter=types.SimpleNamespace(lpar_slot_num=slot),
                              backing_storage=types.SimpleNamespace(udid=udid))
        for slot, udid in maps])  # fmt: skip


def test_scsi_mappings_name_the_destination_vios_of_hdisk_only_adapters():
    infos = [{"data": {"target_UDID": "u1", "pvm_lpm_vioses": ["vios1", "vios2"]}},
             {"data": {"target_UDID": "u2", "pvm_lpm_vioses": ["vios2"]}}]  # fmt: skip
    vioses = [_vios("vios1", (3, "u1"), (3, "u2")), _vios("vios2", (4, "u1")), _vios("vios3", (5, "lu"), (5, "u1"))]
    found = lpm_volumes._scsi_mappings(vioses, types.SimpleNamespace(uuid="lpar1"), infos)
    # slot 3 needs a VIOS seeing both disks (vios2 only); slot 4 keeps its namesake; slot 5 has an SSP disk
    assert found == ["3/vios2/", "4/vios2/"]
