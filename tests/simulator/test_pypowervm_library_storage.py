"""pypowervm 1.1.27's storage tasks a driver runs at start-up, before mobility and after an extend.

The fifth part of ``test_pypowervm_library`` (whose docstring lists everything covered and what is
left out on purpose): ``tasks.storage`` scrubbers (``ComprehensiveScrub``, ``ScrubOrphanStorageForLpar``,
``ScrubPortlessVFCMaps``, ``add_lpar_storage_scrub_tasks``, ``find_stale_lpars``), ``rescan_vstor``,
``crt_lu``/``rm_ssp_storage`` on the pool, ``tasks.hdisk.get_pg83_via_job`` and
``tasks.client_storage``. A partition deleted with its storage still mapped leaves orphan mappings
on the VIOSes (server adapter kept, client side gone), which is what the scrubbers exist for.
Each call goes over HTTP; every outcome is read back with a fresh GET.

The host is nova's harness host without its ``datavg``: pypowervm's storage scrub removes media
from ``vmedia_repos[0]`` of every volume group of the VIOS, which raises ``IndexError`` for a group
without a media repository (a VIOS has one repository), so a scrub that removes optical media
works only on a VIOS whose one volume group holds the repository (a pypowervm limitation).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import client_storage as pvm_cstg
from pypowervm.tasks import cluster_ssp as pvm_cssp
from pypowervm.tasks import hdisk as pvm_hdisk
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.tasks import storage as pvm_stg
from pypowervm.tasks import vfc_mapper as pvm_vfc
from pypowervm.wrappers import cluster as pvm_clust
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import Lun
from powervm_openstack.simulator.model import fc, filestore, vfc
from tests.fixtures.simulator import connect, connected_simulator, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration
HOST = Path(__file__).parents[1] / "compute" / "nova_harness" / "host.yaml"
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.FC_MAPPING, pvm_vios.VIOS.xags.STORAGE]
TARGET = "500507680B215660"


@pytest.fixture
def host(tmp_path):
    data = yaml.safe_load(HOST.read_text())
    data["storage"]["volume_groups"] = [g for g in data["storage"]["volume_groups"] if g["name"] != "datavg"]
    path = tmp_path / "host.yaml"
    path.write_text(yaml.safe_dump(data))
    with connected_simulator(str(path)) as pair:
        yield pair


def _vios(adapter, name: str) -> pvm_vios.VIOS:
    return next(v for v in pvm_vios.VIOS.get(adapter, xag=XAGS) if v.name == name)


def _vg(adapter, vios_name: str, vg_name: str) -> pvm_stor.VG:
    return pvm_stor.VG.get(adapter, parent=_vios(adapter, vios_name), uuid=pvm_stg.find_vg(adapter, vg_name,
                                                                                           vios_name)[1].uuid)  # fmt: skip


def _map_vdisk(adapter, lpar, name: str, vios_name: str = "vios1") -> pvm_stor.VDisk:
    vg = pvm_stg.find_vg(adapter, "rootvg", vios_name)[1]
    vdisk = pvm_stg.crt_vdisk(adapter, _vios(adapter, vios_name).uuid, vg.uuid, name, 1)
    pvm_smap.add_vscsi_mapping(None, _vios(adapter, vios_name).uuid, lpar.uuid, vdisk)
    return vdisk


def _map_npiv(adapter, lpar, vios_name: str, port_wwpn: str) -> None:
    host_uuid = adapter.sys_uuid
    vios = _vios(adapter, vios_name)
    wwpns = pvm_vfc.build_wwpn_pair(adapter, host_uuid)
    (port_map,) = pvm_vfc.derive_npiv_map([vios], [port_wwpn], wwpns)
    pvm_vfc.add_map(vios, host_uuid, lpar.uuid, port_map)
    vios.update()


def _maps_of(adapter, lpar_id: int) -> dict[str, list]:
    """Every vSCSI and vFC mapping whose server adapter serves partition ``lpar_id``, per VIOS."""
    return {v.name: [m for m in [*v.scsi_mappings, *v.vfc_mappings] if m.server_adapter.lpar_id == lpar_id]
            for v in pvm_vios.VIOS.get(adapter, xag=XAGS)}  # fmt: skip


def _disk_names(adapter, vios_name: str = "vios1", vg_name: str = "rootvg") -> set[str]:
    return {d.name for d in _vg(adapter, vios_name, vg_name).virtual_disks}


# -- a deleted partition's leftovers ------------------------------------------------------------------
def test_comprehensive_scrub_removes_a_deleted_partitions_mappings_and_its_disks(host):
    sim, adapter = host
    gone, keeper = new_lpar(adapter, "gone"), new_lpar(adapter, "keep")
    _map_vdisk(adapter, gone, "scrub_disk")
    _map_vdisk(adapter, keeper, "keep_disk")
    data = b"config drive" * 100
    media, _ = pvm_stg.upload_vopt(adapter, _vios(adapter, "vios1").uuid, io.BytesIO(data), "scrub.iso", len(data))
    pvm_smap.add_vscsi_mapping(None, _vios(adapter, "vios1").uuid, gone.uuid, media)
    tier = pvm_stg.default_tier_for_ssp(pvm_stor.SSP.get(adapter)[0])
    _, lu = pvm_stg.crt_lu(tier, "scrub_lu", 1, thin=True)
    pvm_smap.add_vscsi_mapping(None, _vios(adapter, "vios2").uuid, gone.uuid, pvm_stor.LU.bld_ref(adapter, lu.name,
                                                                                                   lu.udid))  # fmt: skip
    _map_npiv(adapter, gone, "vios1", "10000090FA1B6301")
    gone_id = gone.id
    gone.delete()

    orphans = _maps_of(adapter, gone_id)
    assert len(orphans["vios1"]) == 3 and len(orphans["vios2"]) == 1
    assert all(m.client_adapter is None and m.client_lpar_href is None for ms in orphans.values() for m in ms)
    assert pvm_stg.find_stale_lpars(_vios(adapter, "vios1")) == [gone_id]
    assert next(p for p in _vios(adapter, "vios1").pfc_ports if p.name == "fcs0").npiv_available_ports == 63

    pvm_stg.ComprehensiveScrub(adapter).execute()

    assert _maps_of(adapter, gone_id) == {"vios1": [], "vios2": []}
    assert pvm_stg.find_stale_lpars(_vios(adapter, "vios1")) == []
    assert _disk_names(adapter) == {"keep_disk"}, "the orphan's disk goes, the living partition's stays"
    repo = _vg(adapter, "vios1", "rootvg").vmedia_repos[0]
    assert "scrub.iso" not in {m.name for m in repo.optical_media}
    left = pvm_stor.LUEnt.get(adapter, parent=tier, uuid=lu.uuid)  # an SSP LU may be mapped elsewhere: kept
    assert not left.in_use
    assert next(p for p in _vios(adapter, "vios1").pfc_ports if p.name == "fcs0").npiv_available_ports == 64
    assert [m.server_adapter.lpar_id for m in _maps_of(adapter, keeper.id)["vios1"]] == [keeper.id]


def test_scrub_orphans_of_one_partition_and_lpar_scrub_tasks(host):
    _, adapter = host
    first, second, living = new_lpar(adapter, "a"), new_lpar(adapter, "b"), new_lpar(adapter, "c")
    for part, disk in ((first, "disk_a"), (second, "disk_b"), (living, "disk_c")):
        _map_vdisk(adapter, part, disk)
    first_id, second_id = first.id, second.id
    first.delete()
    second.delete()
    assert sorted(pvm_stg.find_stale_lpars(_vios(adapter, "vios1"))) == sorted([first_id, second_id])

    pvm_stg.ScrubOrphanStorageForLpar(adapter, first_id).execute()
    assert _maps_of(adapter, first_id)["vios1"] == [] and len(_maps_of(adapter, second_id)["vios1"]) == 1
    assert _disk_names(adapter) == {"disk_b", "disk_c"}

    ftsk = pvm_par.build_active_vio_feed_task(adapter)
    pvm_stg.add_lpar_storage_scrub_tasks([living.id], ftsk)  # lpars_exist=False: an existing partition is kept
    ftsk.execute()
    assert len(_maps_of(adapter, living.id)["vios1"]) == 1 and _disk_names(adapter) == {"disk_b", "disk_c"}
    ftsk = pvm_par.build_active_vio_feed_task(adapter)
    pvm_stg.add_lpar_storage_scrub_tasks([living.id, second_id], ftsk, lpars_exist=True)
    ftsk.execute()
    assert _maps_of(adapter, living.id)["vios1"] == [] and _maps_of(adapter, second_id)["vios1"] == []
    assert _disk_names(adapter) == set()


def test_scrub_portless_vfc_maps(host):
    sim, adapter = host
    lpar = new_lpar(adapter, "npiv")
    _map_npiv(adapter, lpar, "vios1", "10000090FA1B6301")
    _map_npiv(adapter, lpar, "vios2", "10000090FA1B6401")
    (mapping,) = _vios(adapter, "vios1").vfc_mappings
    vfc.unmap_port(sim.store, _vios(adapter, "vios1").uuid, mapping.server_adapter.name)  # vfcmap -fcp on vios1
    (portless,) = _vios(adapter, "vios1").vfc_mappings
    assert portless.backing_port is None and portless.client_adapter is not None
    assert next(p for p in _vios(adapter, "vios1").pfc_ports if p.name == "fcs0").npiv_available_ports == 64

    pvm_stg.ScrubPortlessVFCMaps(adapter, lpar_id=lpar.id).execute()
    assert _vios(adapter, "vios1").vfc_mappings == []
    (kept,) = _vios(adapter, "vios2").vfc_mappings
    assert kept.backing_port.name == "fcs0" and kept.server_adapter.lpar_id == lpar.id


# -- the pool: crt_lu on the SSP, rm_ssp_storage, LUs of one name -------------------------------------
def test_crt_lu_on_the_pool_and_rm_ssp_storage(host):
    _, adapter = host
    ssp = pvm_stor.SSP.get(adapter)[0]
    ssp, image = pvm_stg.crt_lu(ssp, "image_x", 1, typ=pvm_stor.LUType.IMAGE)
    assert image.udid in {lu.udid for lu in ssp.logical_units}, "crt_lu on an SSP answers the refreshed pool"
    tier = pvm_stg.default_tier_for_ssp(ssp)
    _, clone = pvm_stg.crt_lu(tier, "boot_x", 1, thin=True, clone=image)
    _, twin = pvm_stg.crt_lu(tier, "boot_x", 1, thin=True, clone=image)  # the same name: a second LU
    assert clone.udid != twin.udid
    assert [lu.udid for lu in pvm_stor.LUEnt.get(adapter, parent=tier) if lu.name == "boot_x"] == [clone.udid,
                                                                                                   twin.udid]  # fmt: skip
    ssp = pvm_stor.SSP.get(adapter, uuid=ssp.uuid)
    pvm_stg.rm_ssp_storage(ssp, [next(lu for lu in ssp.logical_units if lu.udid == clone.udid)])
    names = [lu.name for lu in pvm_stor.LUEnt.get(adapter, parent=tier)]
    assert names.count("boot_x") == 1 and "image_x" in names, "the image still backs the twin"
    ssp = pvm_stor.SSP.get(adapter, uuid=ssp.uuid)
    pvm_stg.rm_ssp_storage(ssp, [next(lu for lu in ssp.logical_units if lu.udid == twin.udid)])
    names = {lu.name for lu in pvm_stor.LUEnt.get(adapter, parent=tier)}
    assert not {"boot_x", "image_x"} & names, "the unused image goes with its last clone"
    assert not {"boot_x", "image_x"} & {lu.name for lu in pvm_stor.SSP.get(adapter, uuid=ssp.uuid).logical_units}


def test_cluster_and_pool_searches(host):
    _, adapter = host
    (cluster,) = pvm_clust.Cluster.search(adapter, name="cluster1")  # GET Cluster/search/(ClusterName=='...')
    assert cluster.ssp_uri.rsplit("/", 1)[-1] == pvm_stor.SSP.search(adapter, one_result=True, name="ssp1").uuid
    assert pvm_clust.Cluster.search(adapter, name="cluster9") == []
    assert pvm_clust.Cluster.search(adapter, negate=True, name="cluster1") == []
    assert pvm_stor.SSP.search(adapter, name="ssp9") == []
    assert sorted(n.vios_uuid.upper() for n in cluster.nodes) == sorted(v.uuid.upper() for v in pvm_vios.VIOS.get(
        adapter))  # fmt: skip


def test_crt_cluster_ssp_is_refused_as_not_modelled(host):
    _, adapter = host
    vios = _vios(adapter, "vios1")
    node = pvm_clust.Node.bld(adapter, vios_uri=vios.related_href)
    disk = pvm_stor.PV.bld(adapter, "hdisk9", udid="01M0lCTbm9kaXNr")
    with pytest.raises(pvm_exc.JobRequestFailed, match=r"not modelled by the simulator.*storage\.shared_storage_pools"):
        pvm_cssp.crt_cluster_ssp("cluster2", "ssp2", disk, node, [disk])
    assert [c.name for c in pvm_clust.Cluster.get(adapter)] == ["cluster1"]


def test_upload_new_lu(host):
    sim, adapter = host
    ssp = pvm_stor.SSP.get(adapter)[0]
    data = b"an image for the pool" * 100
    lu, _ = pvm_stg.upload_new_lu(_vios(adapter, "vios1").uuid, ssp, io.BytesIO(data), "image_up", len(data))
    fresh = pvm_stor.LUEnt.get(adapter, parent=pvm_stg.default_tier_for_ssp(ssp), uuid=lu.uuid)
    assert fresh.name == "image_up" and fresh.lu_type == pvm_stor.LUType.IMAGE
    with sim.store.reading() as view:
        assert view.blob(lu.udid) == data


# -- hdisks: rescan after an extend, the page-83 inventory ---------------------------------------------
def test_rescan_vstor_rereads_a_grown_hdisk_and_refuses_an_unknown_udid(host):
    sim, adapter = host
    udid = fc.add_lun(sim.store, Lun("vol-r", 5, 4, [TARGET], ["10000090fa1b6301", "10000090fa1b6302"]))
    vios = _vios(adapter, "vios1")
    status, name, _ = pvm_hdisk.discover_hdisk(adapter, vios.uuid, pvm_hdisk.build_itls(
        [p.wwpn for p in vios.pfc_ports], [TARGET], 5))  # fmt: skip
    assert status == pvm_hdisk.LUAStatus.DEVICE_AVAILABLE
    lpar = new_lpar(adapter, "ext")
    pvm_smap.add_vscsi_mapping(None, vios.uuid, lpar.uuid, pvm_stor.PV.bld(adapter, name, udid))

    fc.resize_lun(sim.store, "vol-r", 10)  # Cinder extends the volume on the array
    assert next(pv for pv in _vios(adapter, "vios1").phys_vols if pv.udid == udid).capacity == 4096
    pvm_stg.rescan_vstor(vios.uuid, udid, adapter=adapter)
    vios = _vios(adapter, "vios1")
    assert next(pv for pv in vios.phys_vols if pv.udid == udid).capacity == 10240
    mapped = pvm_cstg.udid_to_scsi_mapping(vios, udid, lpar.id).backing_storage
    assert mapped.capacity == 10240, "the mapping's copy follows"

    vg = pvm_stg.find_vg(adapter, "rootvg", "vios1")[1]
    vdisk = pvm_stg.crt_vdisk(adapter, vios.uuid, vg.uuid, "ext_disk", 1)
    pvm_stg.rescan_vstor(vios, vdisk)  # a virtual disk of the VIOS: nothing to re-read, no news
    tier = pvm_stg.default_tier_for_ssp(pvm_stor.SSP.get(adapter)[0])
    _, lu = pvm_stg.crt_lu(tier, "ext_lu", 1, thin=True)
    with pytest.raises(pvm_exc.VstorNotFound):  # a logical unit only once this VIOS maps it
        pvm_stg.rescan_vstor(vios.uuid, lu.udid, adapter=adapter)
    pvm_smap.add_vscsi_mapping(None, vios.uuid, lpar.uuid, pvm_stor.LU.bld_ref(adapter, lu.name, lu.udid))
    pvm_stg.rescan_vstor(vios.uuid, lu.udid, adapter=adapter)
    with pytest.raises(pvm_exc.VstorNotFound):
        pvm_stg.rescan_vstor(vios.uuid, "01M0lCTbm9zdWNoZGlzaw==", adapter=adapter)
    assert next(pv for pv in _vios(adapter, "vios1").phys_vols if pv.udid == udid).capacity == 10240


def test_pg83_descriptor_comes_from_the_inventory_job(host):
    sim, adapter = host
    udid = fc.add_lun(sim.store, Lun("vol-p", 6, 2, [TARGET], ["10000090fa1b6301", "10000090fa1b6302"]))
    vios = _vios(adapter, "vios1")
    pvm_hdisk.discover_hdisk(adapter, vios.uuid, pvm_hdisk.build_itls([p.wwpn for p in vios.pfc_ports], [TARGET], 6))
    pv = next(pv for pv in _vios(adapter, "vios1").phys_vols if pv.udid == udid)
    naa = base64.b64decode(udid[len("01M0lCT") :]).decode()
    assert pv.pg83 == naa, "PV.pg83 runs the QUERY_INVENTORY job for a PV without DescriptorPage83"
    encoded = pvm_hdisk.get_pg83_via_job(adapter, vios.uuid, udid)
    assert base64.b64decode(encoded).decode() == naa and naa.startswith("6005076")
    assert pvm_hdisk.get_pg83_via_job(adapter, vios.uuid, "01M0lCTbm9zdWNoZGlzaw==") is None
    assert pvm_hdisk.get_pg83_via_job(adapter, _vios(adapter, "vios2").uuid, udid) is None  # not discovered there


# -- tasks.client_storage -----------------------------------------------------------------------------
def test_client_storage_finds_mappings_by_udid_and_client_wwpn(host):
    _, adapter = host
    lpar = new_lpar(adapter, "cs")
    vdisk = _map_vdisk(adapter, lpar, "cs_disk")
    _map_npiv(adapter, lpar, "vios1", "10000090FA1B6301")
    vios = _vios(adapter, "vios1")
    found = pvm_cstg.udid_to_scsi_mapping(vios, vdisk.udid, lpar.id)
    assert found.backing_storage.name == "cs_disk" and found.client_adapter.lpar_id == lpar.id
    assert pvm_cstg.udid_to_scsi_mapping(vios, vdisk.udid, lpar.id + 1) is None
    (npiv,) = vios.vfc_mappings
    wwpn = npiv.client_adapter.wwpns[1]
    assert pvm_cstg.c_wwpn_to_vfc_mapping(vios, wwpn.upper()).server_adapter.name == npiv.server_adapter.name
    assert pvm_cstg.c_wwpn_to_vfc_mapping(vios, "C0507600DEADBEEF") is None


def test_rescan_vstor_rereads_a_grown_file_and_rbd_image(tmp_path):
    data = yaml.safe_load(HOST.read_text())
    data["management_partition"]["io_server"] = True
    data["storage"]["rbd_images"] = [{"name": "volumes/grow", "capacity_gb": 1}]
    path = tmp_path / "host.yaml"
    path.write_text(yaml.safe_dump(data))
    volume = tmp_path / "volume-grow"
    volume.write_bytes(b"\0" * 1024**2)
    with running_simulator(topology=str(path)) as sim:
        adapter = connect(sim)
        try:
            mgmt = pvm_par.get_mgmt_partition(adapter)
            lpar = new_lpar(adapter, "fio")
            for stg in (pvm_stor.FileIO.bld_ref(adapter, str(volume)), pvm_stor.RBD.bld_ref(adapter, "volumes/grow")):
                pvm_smap.add_vscsi_mapping(None, mgmt.uuid, lpar.uuid, stg)

            def sizes() -> dict[str, float]:
                vios = pvm_vios.VIOS.get(adapter, uuid=mgmt.uuid, xag=XAGS)
                return {m.backing_storage.name: m.backing_storage.capacity for m in vios.scsi_mappings}

            udids = {m.backing_storage.name: m.backing_storage.udid for m in pvm_vios.VIOS.get(
                adapter, uuid=mgmt.uuid, xag=XAGS).scsi_mappings}  # fmt: skip
            with volume.open("r+b") as handle:  # Cinder extends the file and the image
                handle.truncate(3 * 1024**3)
            filestore.add_rbd(sim.store, "volumes/grow", 4)
            assert sizes() == {str(volume): pytest.approx(1 / 1024, abs=1e-5), "volumes/grow": 1}, "not yet rescanned"
            for udid in udids.values():
                pvm_stg.rescan_vstor(mgmt.uuid, udid, adapter=adapter)
            assert sizes() == {str(volume): pytest.approx(3), "volumes/grow": 4}
        finally:
            disconnect(adapter)
