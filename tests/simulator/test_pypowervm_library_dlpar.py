"""pypowervm 1.1.27's live (DLPAR) adapter changes and the quick-property anchor.

The fourth part of ``test_pypowervm_library`` (whose docstring lists everything covered and what is
left out on purpose). pypowervm's ``crt_cna`` states the rule: a change to an active partition "can
only perform if there is an active RMC connection". It holds for every client adapter, added or
removed: a virtual Ethernet adapter, a vNIC (``tasks.sriov.set_vnic_back_devs`` then
``VNIC.create``), an SR-IOV logical port, and the client side of a vSCSI mapping
(``tasks.scsi_mapper``; a mapping reusing an existing adapter pair changes no adapter). Each is
tried on the running partition without RMC (refused, nothing changed, read back with a fresh GET),
with RMC or stopped (accepted). A VIOS's memory follows the same DLPAR rule, and ``crt_vdisk``
meets the VIOS's naming rule (a logical volume name is unique on the VIOS).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.tasks import sriov as pvm_sriov
from pypowervm.tasks import storage as pvm_stg
from pypowervm.tasks import vfc_mapper as pvm_vfc
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.topology import loader as topology
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration
SMAP = [pvm_vios.VIOS.xags.SCSI_MAPPING]


def _lpar(adapter, name: str) -> pvm_lpar.LPAR:
    return pvm_lpar.LPAR.search(adapter, one_result=True, name=name)


def _refused_dlpar(err: pytest.ExceptionInfo) -> None:
    assert err.value.response.status == 409 and "HSCL294C" in err.value.response.body
    assert "RMC connection is inactive" in err.value.response.body


def _power_off(adapter, name: str) -> pvm_lpar.LPAR:
    pvm_power.power_off(_lpar(adapter, name), None, force_immediate=pvm_power.Force.TRUE)
    return _lpar(adapter, name)


def test_removing_a_virtual_ethernet_adapter_needs_rmc(host):
    batch = _lpar(host, "aix-batch")
    assert (batch.state, batch.rmc_state) == ("running", "inactive")
    (cna,) = pvm_net.CNA.get(host, parent=batch)
    with pytest.raises(pvm_exc.HttpError) as err:
        cna.delete()
    _refused_dlpar(err)
    assert [a.uuid for a in pvm_net.CNA.get(host, parent=_lpar(host, "aix-batch"))] == [cna.uuid]

    web = _lpar(host, "web-01")  # running with RMC: a live removal
    live = next(a for a in pvm_net.CNA.get(host, parent=web) if a.pvid == 100)
    live.delete()
    assert live.uuid not in {a.uuid for a in pvm_net.CNA.get(host, parent=web)}
    batch = _power_off(host, "aix-batch")  # stopped: an offline removal
    pvm_net.CNA.get(host, parent=batch, uuid=cna.uuid).delete()
    assert pvm_net.CNA.get(host, parent=batch) == []


def _vnic(adapter, pvid: int) -> pvm_iocard.VNIC:
    """A vNIC built as a driver builds one: ``set_vnic_back_devs`` picks a backing port and VIOS."""
    system = pvm_ms.System.get(adapter)[0]
    vnic = pvm_iocard.VNIC.bld(adapter, pvid=pvid)
    ports = [p.loc_code for a in system.asio_config.sriov_adapters for p in a.phys_ports if p.label == "default"]
    pvm_sriov.set_vnic_back_devs(vnic, ports, sys_w=system, redundancy=1)
    return vnic


def _live_changes_need_rmc(host, kind, build) -> None:
    """``kind`` children added with RMC (web-01) or while stopped (aix-batch) exist; removing one from
    aix-batch once running without RMC is refused and changes nothing; removing web-01's is accepted."""
    web = _lpar(host, "web-01")
    live = build(1).create(parent=web)
    assert [c.uuid for c in kind.get(host, parent=web)] == [live.uuid]
    batch = _power_off(host, "aix-batch")
    offline = build(2).create(parent=batch)
    pvm_power.power_on(batch, None)
    assert _lpar(host, "aix-batch").rmc_state == "inactive"
    with pytest.raises(pvm_exc.HttpError) as err:
        kind.get(host, parent=batch, uuid=offline.uuid).delete()
    _refused_dlpar(err)
    assert [c.uuid for c in kind.get(host, parent=batch)] == [offline.uuid]
    kind.get(host, parent=web, uuid=live.uuid).delete()
    assert kind.get(host, parent=web) == []


def test_adding_or_removing_a_vnic_needs_rmc(host):
    batch = _lpar(host, "aix-batch")
    with pytest.raises(pvm_exc.HttpError) as err:
        _vnic(host, 300).create(parent=batch)
    _refused_dlpar(err)
    assert pvm_iocard.VNIC.get(host, parent=_lpar(host, "aix-batch")) == []
    free = {lp.uuid for v in pvm_vios.VIOS.get(host) for lp in pvm_iocard.SRIOVEthLPort.get(host, parent=v)}
    assert free == set(), "a refused vNIC takes no logical port"

    _live_changes_need_rmc(host, pvm_iocard.VNIC, lambda n: _vnic(host, 300 + n))


def test_adding_or_removing_an_sriov_logical_port_needs_rmc(host):
    def lport():
        return pvm_iocard.SRIOVEthLPort.bld(host, 1, 0, pvid=400, cfg_capacity=0.02)

    batch = _lpar(host, "aix-batch")
    with pytest.raises(pvm_exc.HttpError) as err:
        lport().create(parent=batch)
    _refused_dlpar(err)
    assert pvm_iocard.SRIOVEthLPort.get(host, parent=batch) == []

    _live_changes_need_rmc(host, pvm_iocard.SRIOVEthLPort, lambda n: lport())


def _maps(adapter, vios_uuid: str, lpar: pvm_lpar.LPAR) -> list:
    vios = pvm_vios.VIOS.get(adapter, uuid=vios_uuid, xag=SMAP)
    return pvm_smap.find_maps(vios.scsi_mappings, client_lpar_id=lpar.uuid)


def test_a_vscsi_client_adapter_is_added_or_removed_live_only_with_rmc(host):
    vios, vg = pvm_stg.find_vg(host, "datavg")
    disks = [pvm_stg.crt_vdisk(host, vios.uuid, vg.uuid, f"dl_{n}", 1) for n in range(3)]
    batch = _lpar(host, "aix-batch")
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_smap.add_vscsi_mapping(None, vios.uuid, batch.uuid, disks[0])
    _refused_dlpar(err)
    assert _maps(host, vios.uuid, batch) == []

    batch = _power_off(host, "aix-batch")
    pvm_smap.add_vscsi_mapping(None, vios.uuid, batch.uuid, disks[0])  # offline: a new adapter pair
    pvm_power.power_on(batch, None)
    pvm_smap.add_vscsi_mapping(None, vios.uuid, batch.uuid, disks[1])  # reuses that pair: no DLPAR
    (first, second) = _maps(host, vios.uuid, batch)
    assert first.client_adapter.lpar_slot_num == second.client_adapter.lpar_slot_num
    pvm_smap.remove_vdisk_mapping(host, vios.uuid, batch.id, disk_names=["dl_1"])  # the pair stays
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_smap.remove_vdisk_mapping(host, vios.uuid, batch.id, disk_names=["dl_0"])  # the pair would go
    _refused_dlpar(err)
    assert [m.backing_storage.name for m in _maps(host, vios.uuid, batch)] == ["dl_0"]

    web = _lpar(host, "web-01")  # with RMC both ways are live changes
    pvm_smap.add_vscsi_mapping(None, vios.uuid, web.uuid, disks[2])
    pvm_smap.remove_vdisk_mapping(host, vios.uuid, web.id, disk_names=["dl_2"])
    assert _maps(host, vios.uuid, web) == []


# -- the quick-property anchor --------------------------------------------------------------------------
def test_quick_property_anchor_is_an_atom_feed_of_names(host):
    resp = host.read(pvm_lpar.LPAR.schema_type, suffix_type="quick")  # pypowervm asks for Atom here
    names = [entry.properties["title"] for entry in resp.feed.entries]
    assert {"PartitionState", "PartitionID", "CurrentMemory", "AllocatedVirtualProcessors"} <= set(names)
    web = _lpar(host, "web-01")
    carried = json.loads(host.read(pvm_lpar.LPAR.schema_type, root_id=web.uuid, suffix_type="quick").body)
    assert set(carried) <= set(names), "the anchor names every property a partition reports"
    system = pvm_ms.System.get(host)[0]
    under = host.read(pvm_ms.System.schema_type, root_id=system.uuid, child_type=pvm_net.VSwitch.schema_type,
                      suffix_type="quick")  # fmt: skip
    assert {"SwitchName", "SwitchID"} <= {e.properties["title"] for e in under.feed.entries}


# -- a VIOS's memory and processors follow the partition rules ------------------------------------------
def _vios(adapter, name: str) -> pvm_vios.VIOS:
    return pvm_vios.VIOS.search(adapter, one_result=True, name=name)


def test_vios_memory_dlpar_needs_rmc_and_moves_the_pools(tmp_path):
    data = yaml.safe_load((Path(topology.TOPOLOGIES) / "default.yaml").read_text())
    next(v for v in data["vioses"] if v["name"] == "vios2")["rmc_state"] = "inactive"
    with running_simulator(topology.records(topology.parse(data))) as sim:
        adapter = connect(sim)
        try:
            free = pvm_ms.System.get(adapter)[0].memory_free
            vios1 = _vios(adapter, "vios1")
            current = vios1.mem_config.current
            vios1.mem_config.desired = current - 1024
            vios1.update()
            fresh = _vios(adapter, "vios1")
            assert fresh.mem_config.current == current - 1024
            assert pvm_ms.System.get(adapter)[0].memory_free == free + 1024

            vios2 = _vios(adapter, "vios2")
            assert (vios2.state, vios2.rmc_state) == ("running", "inactive")
            vios2.mem_config.desired = vios2.mem_config.current - 1024
            with pytest.raises(pvm_exc.HttpError) as err:
                vios2.update()
            _refused_dlpar(err)
            assert _vios(adapter, "vios2").mem_config.desired == vios2.mem_config.current, "nothing changed"
            assert pvm_ms.System.get(adapter)[0].memory_free == free + 1024
        finally:
            disconnect(adapter)


# -- NPIV: each vFC mapping has its own client adapter ---------------------------------------------------
def test_a_vfc_client_adapter_is_added_or_removed_live_only_with_rmc():
    host_yaml = Path(__file__).resolve().parents[1] / "compute" / "nova_harness" / "host.yaml"
    fmap = [pvm_vios.VIOS.xags.FC_MAPPING]
    with running_simulator(topology=str(host_yaml)) as sim:
        adapter = connect(sim)
        try:
            system = pvm_ms.System.get(adapter)[0].uuid
            wwpns = pvm_vfc.build_wwpn_pair(adapter, system, pair_count=2)
            lpar = new_lpar(adapter, "npiv")

            def add(pair: list[str]) -> pvm_vios.VIOS:
                vioses = pvm_vios.VIOS.get(adapter, xag=fmap)
                port_map = pvm_vfc.derive_npiv_map(vioses, ["10000090FA1B6301"], pair)[0]
                vios, _ = pvm_vfc.find_vios_for_wwpn(vioses, port_map[0])
                pvm_vfc.add_map(vios, system, lpar.uuid, port_map)
                return vios.update()

            vios = add(wwpns[:2])  # stopped: an offline add
            pvm_power.power_on(lpar, None)
            assert _lpar(adapter, lpar.name).rmc_state == "inactive"
            with pytest.raises(pvm_exc.HttpError) as err:
                add(wwpns[2:])
            _refused_dlpar(err)
            vios = pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=fmap)
            pvm_vfc.remove_maps(vios, lpar.id)
            with pytest.raises(pvm_exc.HttpError) as err:
                vios.update()
            _refused_dlpar(err)
            assert len(pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=fmap).vfc_mappings) == 1, "nothing changed"
        finally:
            disconnect(adapter)


# -- storage names: a logical volume name is unique on its VIOS ---------------------------------------------
def test_crt_vdisk_refuses_a_name_the_vios_already_uses(host):
    vios, datavg = pvm_stg.find_vg(host, "datavg")
    _, rootvg = pvm_stg.find_vg(host, "rootvg", vios_name=vios.name)
    pvm_stg.crt_vdisk(host, vios.uuid, datavg.uuid, "lv_once", 1)
    for vg in (datavg, rootvg):  # the same group, or another group of the same VIOS
        with pytest.raises(pvm_exc.HttpError) as err:
            pvm_stg.crt_vdisk(host, vios.uuid, vg.uuid, "lv_once", 1)
        assert err.value.response.status == 400 and "lv_once" in err.value.her_wrap.message
    disks = [
        d.name for g in (datavg, rootvg) for d in pvm_stg.find_vg(host, g.name, vios_name=vios.name)[1].virtual_disks
    ]
    assert disks.count("lv_once") == 1, "nothing was added"
