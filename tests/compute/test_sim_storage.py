"""The simulator's storage: volume groups, uploads (web File API), vSCSI mappings, SSP linked clones.

Driven over HTTP by pypowervm's own storage tasks, the ones the compute driver's disk drivers use.
"""

from __future__ import annotations

import hashlib
import io

import pytest
import requests
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cluster_ssp as pvm_cssp
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.tasks import storage as pvm_stg
from pypowervm.tasks import vopt as pvm_vopt
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.model import vscsi
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration
SMAP = [pvm_vios.VIOS.xags.SCSI_MAPPING]


@pytest.fixture(scope="module")
def sim():
    with running_simulator() as server:
        yield server


@pytest.fixture(scope="module")
def adapter(sim):
    adpt = connect(sim)
    yield adpt
    disconnect(adpt)


@pytest.fixture
def lpar(adapter):
    return new_lpar(adapter, "s")


def _datavg(adapter):
    return pvm_stg.find_vg(adapter, "datavg")


def _blob(sim, udid):
    with sim.store.reading() as view:
        return view.blob(udid)


def test_upload_copy_and_map_a_virtual_disk(sim, adapter, lpar):
    vios, vg = _datavg(adapter)
    data = b"bootable image " * 100
    image, _ = pvm_stg.upload_new_vdisk(adapter, vios.uuid, vg.uuid, io.BytesIO(data), "i_test1", len(data))
    assert image.udid and _blob(sim, image.udid) == data
    boot = pvm_stg.crt_copy_vdisk(adapter, vios.uuid, vg.uuid, image.udid, len(data), "b_test1", d_size=3 * 1024**3)
    assert boot.capacity == 3 and _blob(sim, boot.udid) == data
    assert pvm_stor.VG.get(adapter, uuid=vg.uuid, parent=vios).free_space == pytest.approx(vg.free_space - 4)

    pvm_smap.add_vscsi_mapping(None, vios.uuid, lpar.uuid, boot)
    vios_w = pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=SMAP)
    maps = pvm_smap.find_maps(vios_w.scsi_mappings, client_lpar_id=lpar.uuid)
    assert len(maps) == 1 and maps[0].backing_storage.udid == boot.udid
    assert maps[0].server_adapter.name.startswith("vhost") and maps[0].target_dev.name.startswith("vtscsi")
    assert maps[0].client_adapter.lpar_slot_num >= 2

    vg = pvm_stor.VG.get(adapter, uuid=vg.uuid, parent=vios)
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_stg.rm_vg_storage(vg, vdisks=[b for b in vg.virtual_disks if b.name == "b_test1"])
    assert "mapped to" in err.value.her_wrap.message

    pvm_smap.remove_vdisk_mapping(adapter, vios.uuid, lpar.id, disk_names=["b_test1"])
    vg = pvm_stor.VG.get(adapter, uuid=vg.uuid, parent=vios)
    pvm_stg.rm_vg_storage(vg, vdisks=[b for b in vg.virtual_disks if b.name in ("b_test1", "i_test1")])
    assert not [d for d in pvm_stor.VG.get(adapter, uuid=vg.uuid, parent=vios).virtual_disks if "test1" in d.name]
    assert _blob(sim, boot.udid) is None


def test_bad_disk_name_and_oversized_disk_are_refused(adapter):
    vios, vg = _datavg(adapter)
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_stg.crt_vdisk(adapter, vios.uuid, vg.uuid, "a-name-far-too-long", 1)
    assert "Virtual disk name 'a-name-far-too-long' is not valid" in err.value.her_wrap.message
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_stg.crt_vdisk(adapter, vios.uuid, vg.uuid, "huge", 5000)
    assert "the change needs 5000 GB" in err.value.her_wrap.message


def test_upload_with_a_wrong_size_leaves_nothing(adapter):
    vios, vg = _datavg(adapter)
    with pytest.raises(pvm_exc.HttpError):
        pvm_stg.upload_new_vdisk(adapter, vios.uuid, vg.uuid, io.BytesIO(b"abc"), "i_short", 10)
    disks = pvm_stor.VG.get(adapter, uuid=vg.uuid, parent=vios).virtual_disks
    assert not [d for d in disks if d.name == "i_short"]


def test_config_drive_media_upload_and_mapping(sim, adapter, lpar):
    vios_uuid, vg_uuid = pvm_vopt.validate_vopt_repo_exists(adapter)
    iso = b"CD001" * 50
    ref, _ = pvm_stg.upload_vopt(adapter, vios_uuid, io.BytesIO(iso), "cfg_test", f_size=len(iso))
    assert _blob(sim, "0ecfg_test") == iso
    pvm_smap.add_vscsi_mapping(None, vios_uuid, lpar.uuid, ref)
    vios_w = pvm_vios.VIOS.get(adapter, uuid=vios_uuid, xag=SMAP)
    (mapping,) = pvm_smap.find_maps(vios_w.scsi_mappings, client_lpar_id=lpar.uuid)
    assert mapping.backing_storage.media_name == "cfg_test" and mapping.target_dev.name.startswith("vtopt")
    pvm_smap.remove_vopt_mapping(adapter, vios_uuid, lpar.id, media_name="cfg_test")
    vg = pvm_stor.VG.get(adapter, uuid=vg_uuid, parent_type=pvm_vios.VIOS, parent_uuid=vios_uuid)
    pvm_stg.rm_vg_storage(vg, vopts=[m for m in vg.vmedia_repos[0].optical_media if m.name == "cfg_test"])
    assert _blob(sim, "0ecfg_test") is None


def test_ssp_image_lu_linked_clone_and_mapping_to_both_vioses(sim, adapter, lpar):
    ssp = pvm_stor.SSP.get(adapter)[0]
    tier = pvm_stg.default_tier_for_ssp(ssp)
    data = b"ssp image" * 64
    vioses = pvm_par.get_active_vioses(adapter)
    image = pvm_cssp.get_or_upload_image_lu(tier, "image_test", vioses[0].uuid, lambda: io.BytesIO(data), len(data))
    assert image.lu_type == pvm_stor.LUType.IMAGE and _blob(sim, image.udid) == data
    again = pvm_cssp.get_or_upload_image_lu(tier, "image_test", vioses[0].uuid, None, len(data))
    assert again.udid == image.udid
    _, boot = pvm_stg.crt_lu(tier, "boot_test", 2, thin=True, clone=image)
    assert boot.cloned_from_udid == image.udid and _blob(sim, boot.udid) == data
    for vios in vioses:
        pvm_smap.add_vscsi_mapping(None, vios.uuid, lpar.uuid, pvm_stor.LU.bld_ref(adapter, boot.name, boot.udid))
    assert pvm_stor.LUEnt.get(adapter, uuid=boot.uuid, parent=tier).in_use
    with pytest.raises(pvm_exc.HttpError) as err:
        image.delete()
    assert "still backs 1 linked clone" in err.value.her_wrap.message
    for vios in vioses:
        pvm_smap.remove_lu_mapping(adapter, vios.uuid, lpar.id, disk_names=[boot.name])
    pvm_stg.rm_tier_storage([pvm_stor.LUEnt.get(adapter, uuid=boot.uuid, parent=tier)], tier=tier)
    names = {lu.name for lu in pvm_stor.LUEnt.get(adapter, parent=tier)}
    assert "boot_test" not in names and "image_test" not in names  # the unused image goes with its last clone


def test_disk_mapped_to_the_management_partition_surfaces_as_a_device(sim, adapter, tmp_path):
    vscsi.set_mgmt_device_dir(sim.store, str(tmp_path))
    try:
        vios, vg = _datavg(adapter)
        data = b"snapshot me"
        disk, _ = pvm_stg.upload_new_vdisk(adapter, vios.uuid, vg.uuid, io.BytesIO(data), "b_mgmt", len(data))
        mgmt = pvm_par.get_mgmt_partition(adapter)
        pvm_smap.add_vscsi_mapping(None, vios.uuid, mgmt.uuid, disk)
        device = tmp_path / "disk" / "by-id" / f"scsi-{disk.udid}"
        assert device.read_bytes() == data
        digest = requests.get(f"{sim.url}/sim/devices/{disk.udid}", timeout=30).json()
        assert digest == {"udid": disk.udid, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        assert requests.get(f"{sim.url}/sim/devices/nosuchdisk", timeout=30).status_code == 404
        pvm_smap.remove_vdisk_mapping(adapter, vios.uuid, mgmt.id, disk_names=["b_mgmt"])
        assert not device.exists()
    finally:
        vscsi.set_mgmt_device_dir(sim.store, None)
