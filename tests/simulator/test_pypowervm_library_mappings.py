"""pypowervm 1.1.27's remaining vSCSI and NPIV mapping tasks against the simulator.

The seventh part of ``test_pypowervm_library`` (whose docstring lists everything covered and what
is left out on purpose), on nova's harness host: ``tasks.scsi_mapper.detach_storage`` (the mapping
stays as its adapter pair, as nova-powervm left optical media before a migration), re-attaching
storage to that pair, ``modify_vopt_mapping``, ``remove_vopt_mapping``, ``remove_pv_mapping`` and
``index_mappings``; ``tasks.vfc_mapper.derive_base_npiv_map`` (the API generates the WWPNs),
``find_vios_for_vfc_wwpns``, ``has_client_wwpns``, ``find_vios_for_port_map``,
``find_pfc_wwpn_by_name`` and ``intersect_wwpns``; ``tasks.vopt.validate_vopt_repo_exists`` making the
media repository on a host without one. Each call goes over HTTP; every outcome is read
back with a fresh GET.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import hdisk as pvm_hdisk
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.tasks import storage as pvm_stg
from pypowervm.tasks import vfc_mapper as pvm_vfc
from pypowervm.tasks import vopt as pvm_vopt
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import Lun
from powervm_openstack.simulator.model import fc
from tests.fixtures.simulator import connect, connected_simulator, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration
HOST = Path(__file__).parents[1] / "compute" / "nova_harness" / "host.yaml"
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.FC_MAPPING, pvm_vios.VIOS.xags.STORAGE]
TARGET = "500507680B215660"


@pytest.fixture
def host():
    with connected_simulator(str(HOST)) as pair:
        yield pair


def _vios(adapter, name: str = "vios1") -> pvm_vios.VIOS:
    return next(v for v in pvm_vios.VIOS.get(adapter, xag=XAGS) if v.name == name)


def _maps(adapter, lpar) -> list[pvm_vios.VSCSIMapping]:
    return [m for m in _vios(adapter).scsi_mappings if m.server_adapter.lpar_id == lpar.id]


def _media(adapter, name: str) -> pvm_stor.VOptMedia:
    data = name.encode() * 64
    media, _ = pvm_stg.upload_vopt(adapter, _vios(adapter).uuid, io.BytesIO(data), name, len(data))
    return media


# -- vSCSI: optical media detached, re-attached, swapped, removed ---------------------------------------
def test_detach_storage_keeps_the_adapter_pair_and_its_slot(host):
    _, adapter = host
    lpar = new_lpar(adapter, "vopt")
    first, second = _media(adapter, "cfg1.iso"), _media(adapter, "cfg2.iso")
    pvm_smap.add_vscsi_mapping(None, _vios(adapter).uuid, lpar.uuid, first)
    (mapped,) = _maps(adapter, lpar)
    slot = mapped.client_adapter.lpar_slot_num

    vios = _vios(adapter)
    (detached,) = pvm_smap.detach_storage(vios, lpar.id, match_func=pvm_smap.gen_match_func(pvm_stor.VOptMedia))
    assert detached.backing_storage.name == "cfg1.iso"
    vios.update()
    (bare,) = _maps(adapter, lpar)
    assert bare.backing_storage is None and bare.target_dev is None
    assert (bare.client_adapter.lpar_slot_num, bare.server_adapter.name) == (slot, mapped.server_adapter.name)
    repo = pvm_stg.find_vg(adapter, "rootvg", "vios1")[1].vmedia_repos[0]
    assert "cfg1.iso" in {m.name for m in repo.optical_media}, "detaching deletes nothing"
    index = pvm_smap.index_mappings(_vios(adapter).scsi_mappings)
    assert [m.server_adapter.name for m in index["by-lpar-id"][str(lpar.id)]] == [mapped.server_adapter.name]

    pvm_smap.add_vscsi_mapping(None, _vios(adapter).uuid, lpar.uuid, second)  # reuses the bare pair
    (again,) = _maps(adapter, lpar)
    assert again.backing_storage.name == "cfg2.iso" and again.client_adapter.lpar_slot_num == slot
    assert again.target_dev is not None

    pvm_smap.modify_vopt_mapping(adapter, _vios(adapter).uuid, lpar.id, first, media_name="cfg2.iso")
    (swapped,) = _maps(adapter, lpar)
    assert swapped.backing_storage.name == "cfg1.iso" and swapped.client_adapter.lpar_slot_num == slot
    with pytest.raises(pvm_exc.SingleMappingNotFoundRemapError):
        pvm_smap.modify_vopt_mapping(adapter, _vios(adapter).uuid, lpar.id, second, media_name="absent.iso")

    _, removed = pvm_smap.remove_vopt_mapping(adapter, _vios(adapter).uuid, lpar.id, media_name="cfg1.iso")
    assert [m.name for m in removed] == ["cfg1.iso"] and _maps(adapter, lpar) == []


def test_a_new_adapter_pair_without_storage_is_refused(host):
    _, adapter = host
    lpar = new_lpar(adapter, "bare")
    vios = _vios(adapter)
    pvm_smap.add_map(vios, pvm_vios.VSCSIMapping.bld(adapter, None, lpar.uuid, _media(adapter, "x.iso")))
    bare = vios.scsi_mappings[-1].element  # a new pair with nothing on it
    bare.remove(bare.find("Storage"))
    with pytest.raises(pvm_exc.HttpError, match="needs Storage"):
        vios.update()
    assert _maps(adapter, lpar) == []


def test_remove_pv_mapping(host):
    sim, adapter = host
    udid = fc.add_lun(sim.store, Lun("vol-m", 7, 1, [TARGET], ["10000090fa1b6301", "10000090fa1b6302"]))
    vios = _vios(adapter)
    _, name, _ = pvm_hdisk.discover_hdisk(adapter, vios.uuid, pvm_hdisk.build_itls([p.wwpn for p in vios.pfc_ports],
                                                                                   [TARGET], 7))  # fmt: skip
    lpar = new_lpar(adapter, "pv")
    pvm_smap.add_vscsi_mapping(None, vios.uuid, lpar.uuid, pvm_stor.PV.bld(adapter, name, udid))
    assert [m.backing_storage.udid for m in _maps(adapter, lpar)] == [udid]
    _, removed = pvm_smap.remove_pv_mapping(adapter, vios.uuid, lpar.id, name)
    assert [pv.name for pv in removed] == [name] and _maps(adapter, lpar) == []
    assert name in {pv.name for pv in _vios(adapter).phys_vols}, "the hdisk stays on the VIOS"


# -- NPIV helpers over real VIOS wrappers ----------------------------------------------------------------
def test_npiv_helpers_and_a_base_map_whose_wwpns_the_api_generates(host):
    _, adapter = host
    lpar = new_lpar(adapter, "npiv")
    vioses = pvm_vios.VIOS.get(adapter, xag=XAGS)
    assert pvm_vfc.find_pfc_wwpn_by_name(_vios(adapter), "fcs1") == "10000090FA1B6302"
    assert pvm_vfc.find_pfc_wwpn_by_name(_vios(adapter), "fcs9") is None
    assert pvm_vfc.intersect_wwpns(["10:00:00:90:fa:1b:63:01", "ABC"], ["10000090FA1B6301"]) == [
        "10:00:00:90:fa:1b:63:01"]  # fmt: skip

    (port_map,) = pvm_vfc.derive_base_npiv_map(vioses, ["10000090FA1B6401"], 1)
    vios = pvm_vfc.find_vios_for_port_map(vioses, port_map)
    assert vios.name == "vios2"
    pvm_vfc.add_map(vios, adapter.sys_uuid, lpar.uuid, port_map)
    vios.update()
    vioses = pvm_vios.VIOS.get(adapter, xag=XAGS)
    (mapping,) = next(v for v in vioses if v.name == "vios2").vfc_mappings
    wwpns = mapping.client_adapter.wwpns
    assert len(wwpns) == 2 and all(len(w) == 16 and w != "-1" for w in wwpns), "the API generated the pair"
    found_vios, found_map = pvm_vfc.find_vios_for_vfc_wwpns(vioses, [w.lower() for w in wwpns])
    assert (found_vios.name, found_map.server_adapter.name) == ("vios2", mapping.server_adapter.name)
    assert pvm_vfc.has_client_wwpns(vioses, wwpns)[0].name == "vios2"
    assert pvm_vfc.has_client_wwpns(vioses, ["C0507600DEADBE00", "C0507600DEADBE01"]) == (None, None)


# -- tasks.vopt: the media repository made on first use -------------------------------------------------
def test_validate_vopt_repo_exists_creates_the_repository(tmp_path):
    data = yaml.safe_load(HOST.read_text())
    for group in data["storage"]["volume_groups"]:
        group.pop("media_repository", None)
    path = tmp_path / "host.yaml"
    path.write_text(yaml.safe_dump(data))
    with running_simulator(topology=str(path)) as sim:
        adapter = connect(sim)
        try:
            pvm_vopt._cur_vg_uuid = pvm_vopt._cur_vios_uuid = None  # pypowervm caches the last host's answer
            with pytest.raises(pvm_exc.NoMediaRepoVolumeGroupFound):
                pvm_vopt.validate_vopt_repo_exists(adapter, vopt_media_volume_group="novg")
            vios_uuid, vg_uuid = pvm_vopt.validate_vopt_repo_exists(adapter, vopt_media_rep_size=2)
            vg = pvm_stor.VG.get(adapter, uuid=vg_uuid, parent_type=pvm_vios.VIOS, parent_uuid=vios_uuid)
            assert vg.name == "rootvg" and [(r.name, r.size) for r in vg.vmedia_repos] == [("vopt", 2)]
            assert pvm_vopt.validate_vopt_repo_exists(adapter) == (vios_uuid, vg_uuid), "found again, not made twice"
        finally:
            pvm_vopt._cur_vg_uuid = pvm_vopt._cur_vios_uuid = None
            disconnect(adapter)


def test_detaching_storage_of_a_running_partition_needs_no_rmc(host):
    _, adapter = host
    lpar = new_lpar(adapter, "live")
    pvm_smap.add_vscsi_mapping(None, _vios(adapter).uuid, lpar.uuid, _media(adapter, "live.iso"))
    pvm_power.power_on(lpar, None)
    assert pvm_lpar.LPAR.get(adapter, uuid=lpar.uuid).rmc_state == "inactive"
    vios = _vios(adapter)
    pvm_smap.detach_storage(vios, lpar.id)
    vios.update()  # the adapter pair stays: no DLPAR, so no RMC needed
    (bare,) = _maps(adapter, lpar)
    assert bare.backing_storage is None and bare.client_adapter is not None
    vios = _vios(adapter)
    pvm_smap.remove_maps(vios, lpar.id)
    with pytest.raises(pvm_exc.HttpError) as err:  # removing the pair removes a client adapter: DLPAR
        vios.update()
    assert err.value.response.status == 409 and "HSCL294C" in err.value.response.body
