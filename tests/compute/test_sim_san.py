"""The simulator's SAN: physical FC ports, LUA recovery, hdisk vSCSI mappings, RemoveDevice, iSCSI jobs.

Driven over HTTP by pypowervm's own ``hdisk`` and ``scsi_mapper`` tasks, the ones the volume
adapters use.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import hdisk as pvm_hdisk
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import Lun
from powervm_openstack.simulator.model import fc
from powervm_openstack.simulator.topology import loader
from powervm_openstack.simulator.topology.fields import TopologyError
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration
HOST = Path(__file__).parent / "nova_harness" / "host.yaml"
TARGET = "500507680B215660"
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.STORAGE]


@pytest.fixture(scope="module")
def sim():
    with running_simulator(topology=str(HOST)) as server:
        yield server


@pytest.fixture(scope="module")
def adapter(sim):
    adpt = connect(sim)
    yield adpt
    disconnect(adpt)


def _vioses(adapter):
    return {v.name: v for v in pvm_vios.VIOS.get(adapter, xag=XAGS)}


def _itls(vios, lun):
    return pvm_hdisk.build_itls([p.wwpn for p in vios.pfc_ports], [TARGET], lun)


def test_fc_ports_are_in_the_vios_document(adapter):
    vioses = _vioses(adapter)
    assert sorted(p.wwpn for p in vioses["vios1"].pfc_ports) == ["10000090FA1B6301", "10000090FA1B6302"]
    assert vioses["vios2"].pfc_ports[0].name == "fcs0"
    assert len(vioses["vios1"].get_active_pfc_wwpns()) == 2


def test_discover_map_unmap_remove(sim, adapter):
    udid = fc.add_lun(sim.store, Lun("vol-a", 3, 4, [TARGET], ["10000090fa1b6301"]))
    vios = _vioses(adapter)["vios1"]
    status, name, found = pvm_hdisk.discover_hdisk(adapter, vios.uuid, _itls(vios, 3))
    assert (status, found) == (pvm_hdisk.LUAStatus.FOUND_ITL_ERR, udid)  # one of two ports is masked
    again = pvm_hdisk.discover_hdisk(adapter, vios.uuid, _itls(vios, 3))
    assert again[1] == name
    lpar = new_lpar(adapter, "san")
    vios = pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=XAGS)
    pvm_smap.add_map(vios, pvm_smap.build_vscsi_mapping(None, vios, lpar.uuid, pvm_stor.PV.bld(adapter, name, udid)))
    vios = vios.update()
    assert [m.backing_storage.name for m in vios.scsi_mappings if isinstance(m.backing_storage, pvm_stor.PV)] == [name]
    assert pvm_hdisk.discover_hdisk(adapter, vios.uuid, _itls(vios, 3))[0] == pvm_hdisk.LUAStatus.DEVICE_IN_USE
    with pytest.raises(pvm_exc.JobRequestFailed, match="busy"):
        pvm_hdisk.remove_hdisk(adapter, "", name, vios.uuid)
    pvm_smap.remove_maps(vios, lpar.id, match_func=pvm_smap.gen_match_func(pvm_stor.PV, names=[name]))
    vios.update()
    pvm_hdisk.remove_hdisk(adapter, "", name, vios.uuid)
    assert name not in [pv.name for pv in pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=XAGS).phys_vols]
    lpar.delete()


def test_device_not_found(sim, adapter):
    fc.add_lun(sim.store, Lun("vol-b", 4, 1, [TARGET], ["10000090fa1b6401"]))  # vios2 only
    vios = _vioses(adapter)["vios1"]
    status, name, udid = pvm_hdisk.discover_hdisk(adapter, vios.uuid, _itls(vios, 4))
    assert (status, name, udid) == (pvm_hdisk.LUAStatus.INCORRECT_ITL, None, None)
    assert not pvm_hdisk.good_discovery(status, name)


def test_unknown_hdisk_cannot_be_mapped_or_removed(adapter):
    vios = _vioses(adapter)["vios2"]
    lpar = new_lpar(adapter, "san")
    pvm_smap.add_map(vios, pvm_smap.build_vscsi_mapping(None, vios, lpar.uuid, pvm_stor.PV.bld(adapter, "hdisk77")))
    with pytest.raises(pvm_exc.HttpError, match="discover it first"):
        vios.update()
    with pytest.raises(pvm_exc.JobRequestFailed, match="not a physical volume"):
        pvm_hdisk.remove_hdisk(adapter, "", "hdisk77", vios.uuid)
    lpar.delete()


def test_iscsi_initiator_login_chap_and_logout(adapter):
    vios = _vioses(adapter)["vios1"]
    assert pvm_hdisk.discover_iscsi_initiator(adapter, vios.uuid).startswith("iqn.1986-03.com.ibm:")
    iqn, portal = "iqn.2010-10.org.openstack:volume-iscsi1", "10.1.0.5:3260"
    with pytest.raises(pvm_exc.ISCSIDiscoveryFailed, match="24"):
        pvm_hdisk.discover_iscsi(adapter, portal, "chapuser", "wrong", iqn, vios.uuid, lunid=1)
    name, udid = pvm_hdisk.discover_iscsi(adapter, portal, "chapuser", "chapsecret", iqn, vios.uuid, lunid=1)
    assert name.startswith("hdisk") and udid.endswith("iscsi")
    assert name in [pv.name for pv in pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=XAGS).phys_vols]
    pvm_hdisk.remove_iscsi(adapter, iqn, vios.uuid, lun=1, portal=portal)
    assert name not in [pv.name for pv in pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=XAGS).phys_vols]
    pvm_hdisk.remove_iscsi(adapter, iqn, vios.uuid, lun=1, portal=portal)  # nothing logged in: accepted


def test_topology_names_unknown_port():
    data = yaml.safe_load(HOST.read_text())
    data["storage"]["san_luns"] = [{"name": "v", "lun": 1, "capacity_gb": 1, "targets": [TARGET],
                                    "visible_to": ["vios1/fcs9"]}]  # fmt: skip
    with pytest.raises(TopologyError, match=r"storage.san_luns\[0\].visible_to\[0\]: 'vios1/fcs9' names no FC port"):
        loader.parse(data)


def test_npiv_mapping_takes_a_port_and_gives_it_back(adapter):
    from pypowervm.tasks import vfc_mapper as pvm_vfc
    from pypowervm.wrappers import managed_system as pvm_ms

    host = pvm_ms.System.get(adapter)[0].uuid
    wwpns = pvm_vfc.build_wwpn_pair(adapter, host, pair_count=2)
    assert len(wwpns) == 4 and len(set(wwpns)) == 4
    with pytest.raises(pvm_exc.JobRequestFailed, match="1 to 8"):
        pvm_vfc.build_wwpn_pair(adapter, host, pair_count=9)
    lpar = new_lpar(adapter, "npiv")
    fmap = [pvm_vios.VIOS.xags.FC_MAPPING]
    vioses = pvm_vios.VIOS.get(adapter, xag=fmap)
    port_map = pvm_vfc.derive_npiv_map(vioses, ["10000090FA1B6301"], wwpns[:2])
    assert port_map == [("10000090FA1B6301", f"{wwpns[0]} {wwpns[1]}".upper())]
    vios, port = pvm_vfc.find_vios_for_wwpn(vioses, port_map[0][0])
    assert pvm_vfc.add_map(vios, host, lpar.uuid, port_map[0]) is not None
    vios = vios.update()
    mapping = vios.vfc_mappings[0]
    assert {w.lower() for w in mapping.client_adapter.wwpns} == {w.lower() for w in wwpns[:2]}
    assert mapping.server_adapter.map_port == "fcs0" and mapping.client_adapter.lpar_slot_num > 1
    assert next(p for p in vios.pfc_ports if p.name == "fcs0").npiv_available_ports == 63
    pvm_vfc.add_map(vios, host, lpar.uuid, port_map[0])  # the same pair again: nothing to add
    dup = pvm_vios.VFCMapping.bld(adapter, host, lpar.uuid, "fcs1", client_wwpns=wwpns[:2])
    vios.vfc_mappings.append(dup)
    with pytest.raises(pvm_exc.HttpError, match="already used"):
        vios.update()
    vios = pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=fmap)
    pvm_vfc.remove_maps(vios, lpar.id)
    vios = vios.update()
    assert vios.vfc_mappings == [] and next(p for p in vios.pfc_ports if p.name == "fcs0").npiv_available_ports == 64
    lpar.delete()
