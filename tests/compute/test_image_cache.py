"""The localdisk image cache honours nova's [image_cache] options (on the simulator)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from pypowervm.tasks import storage as pvm_stg

from powervm_openstack.compute.disk.localdisk import LocalDisk, image_disk_name
from tests.fixtures.simulator import connect, disconnect, running_simulator

HOST = str(Path(__file__).parent / "nova_harness" / "host.yaml")
USED, UNUSED = "11111111-aaaa-4aaa-8aaa-000000000001", "22222222-bbbb-4bbb-8bbb-000000000002"


@pytest.fixture
def disk():
    with running_simulator(topology=HOST) as sim:
        adapter = connect(sim)
        try:
            conf = types.SimpleNamespace(
                powervm=types.SimpleNamespace(volume_group_name="datavg"),
                image_cache=types.SimpleNamespace(remove_unused_base_images=True,
                                                  remove_unused_original_minimum_age_seconds=3600),
            )  # fmt: skip
            local = LocalDisk(adapter, adapter.sys_uuid, conf)
            local.check()
            vg = local._vg()
            for image in (USED, UNUSED):
                pvm_stg.crt_vdisk(adapter, local.vios_uuid, local.vg_uuid, image_disk_name(image), 1)
            assert len(_cached(local)) == 2 and vg
            yield local
        finally:
            disconnect(adapter)


def _cached(local: LocalDisk) -> set[str]:
    return {d.name for d in local._vg().virtual_disks if d.name.startswith("i_")}


def _pass(local: LocalDisk, at: float) -> None:
    local._clock = lambda: at
    local.manage_image_cache(None, [types.SimpleNamespace(image_ref=USED)])


def test_an_unused_image_goes_only_after_the_minimum_age(disk):
    _pass(disk, 1000.0)
    assert _cached(disk) == {image_disk_name(USED), image_disk_name(UNUSED)}
    _pass(disk, 1000.0 + 3599)
    assert image_disk_name(UNUSED) in _cached(disk)
    _pass(disk, 1000.0 + 3600)
    assert _cached(disk) == {image_disk_name(USED)}


def test_nothing_goes_when_removal_is_disabled(disk):
    disk.conf.image_cache.remove_unused_base_images = False
    _pass(disk, 0.0)
    _pass(disk, 10**7)
    assert _cached(disk) == {image_disk_name(USED), image_disk_name(UNUSED)}
