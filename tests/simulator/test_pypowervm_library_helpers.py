"""pypowervm 1.1.27's partition, SR-IOV, power and slot-map helpers against the simulator.

The sixth part of ``test_pypowervm_library`` (whose docstring lists everything covered and what is
left out on purpose), on nova's harness host (two VIOSes with FC ports, an SR-IOV adapter, a Shared
Storage Pool): ``tasks.partition.get_physical_wwpns``, ``has_physical_io``,
``build_active_vio_feed_task``; ``tasks.sriov.find_pports_for_portlabel`` and ``get_lpar_vnics``;
a restart through ``tasks.power`` and an IBM i OS shutdown without RMC; ``tasks.slot_map`` (``SlotMapStore`` filled from real wrappers,
``RebuildSlotMap`` recreating a partition's adapters in the same client slots); ``helpers.vios_busy``
retrying a VIOS that answers busy (HSCL3205). Each call goes over
HTTP; every outcome is read back with a fresh GET.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc
from pypowervm.helpers import vios_busy as pvm_busy
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import power_opts as pvm_popts
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.tasks import slot_map as pvm_slot
from pypowervm.tasks import sriov as pvm_sriov
from pypowervm.tasks import storage as pvm_stg
from pypowervm.tasks import vfc_mapper as pvm_vfc
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.fixtures.simulator import (
    connect,
    connected_simulator,
    default_topology_with,
    disconnect,
    new_lpar,
    running_simulator,
)

pytestmark = pytest.mark.integration
HOST = Path(__file__).parents[1] / "compute" / "nova_harness" / "host.yaml"
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.FC_MAPPING, pvm_vios.VIOS.xags.STORAGE]
WWPNS = {"10000090FA1B6301", "10000090FA1B6302", "10000090FA1B6401", "10000090FA1B6402"}


@pytest.fixture
def host():
    with running_simulator(topology=str(HOST)) as sim:
        adapter = connect(sim)
        try:
            yield adapter
        finally:
            disconnect(adapter)


def _vioses(adapter) -> dict[str, pvm_vios.VIOS]:
    return {v.name: v for v in pvm_vios.VIOS.get(adapter, xag=XAGS)}


# -- tasks.partition ----------------------------------------------------------------------------------
def test_physical_wwpns_physical_io_and_the_active_vios_feed_task(host):
    assert set(pvm_par.get_physical_wwpns(host)) == WWPNS
    vioses = _vioses(host)
    assert all(pvm_par.has_physical_io(v) for v in vioses.values()), "the VIOSes own the FC adapters"
    assert not pvm_par.has_physical_io(new_lpar(host, "io"))

    ftsk = pvm_par.build_active_vio_feed_task(host)
    assert sorted(w.name for w in ftsk.feed) == ["vios1", "vios2"]
    pvm_power.power_off(vioses["vios2"], None, force_immediate=pvm_power.Force.TRUE)
    assert [w.name for w in pvm_par.build_active_vio_feed_task(host).feed] == ["vios1"]
    pvm_power.power_off(_vioses(host)["vios1"], None, force_immediate=pvm_power.Force.TRUE)
    with pytest.raises(pvm_exc.NotEnoughActiveVioses):
        pvm_par.build_active_vio_feed_task(host)


# -- tasks.sriov -------------------------------------------------------------------------------------
def test_find_pports_for_portlabel_and_get_lpar_vnics(host):
    ports = pvm_sriov.find_pports_for_portlabel("default", host)
    assert len(ports) == 2 and len({p.loc_code for p in ports}) == 2
    assert pvm_sriov.find_pports_for_portlabel("physnet9", host) == []

    with_vnic, without = new_lpar(host, "vnic"), new_lpar(host, "plain")
    vnic = pvm_iocard.VNIC.bld(host, pvid=200)
    pvm_sriov.set_vnic_back_devs(vnic, [p.loc_code for p in ports], sys_w=pvm_ms.System.get(host)[0])
    created = vnic.create(parent=with_vnic)
    found = {lpar.uuid: vnics for lpar, vnics in pvm_sriov.get_lpar_vnics(host).items()}
    assert [v.uuid for v in found[with_vnic.uuid]] == [created.uuid] and found[without.uuid] == []
    assert found[with_vnic.uuid][0].pvid == 200


# -- tasks.cna: trunks and their clients -------------------------------------------------------------
def test_find_cnas_on_trunk_and_find_orphaned_trunks(host):
    mgmt = pvm_par.get_mgmt_partition(host)
    lpar = new_lpar(host, "p2p")
    client, (trunk,) = pvm_cna.crt_p2p_cna(host, None, lpar.uuid, [mgmt.uuid], "OVSNET", crt_vswitch=True)
    trunk = pvm_net.CNA.get(host, parent=mgmt, uuid=trunk.uuid)
    assert [c.uuid for c in pvm_cna.find_cnas_on_trunk(trunk)] == [client.uuid]
    assert pvm_cna.find_orphaned_trunks(host, "OVSNET") == []
    pvm_net.CNA.get(host, parent=lpar, uuid=client.uuid).delete()
    assert [t.uuid for t in pvm_cna.find_orphaned_trunks(host, "OVSNET")] == [trunk.uuid]
    assert pvm_cna.find_orphaned_trunks(host, "NOSUCHSWITCH") == []


# -- tasks.power: a restart ------------------------------------------------------------------------
def test_a_restart_leaves_the_partition_running(host):
    lpar = new_lpar(host, "rst")
    pvm_power.power_on(lpar, None)
    pvm_power.PowerOp.stop(pvm_lpar.LPAR.get(host, uuid=lpar.uuid), opts=pvm_popts.PowerOffOpts().vsp_hard().restart())
    assert pvm_lpar.LPAR.get(host, uuid=lpar.uuid).state == "running"
    pvm_power.power_off(pvm_lpar.LPAR.get(host, uuid=lpar.uuid), None, restart=True,
                        force_immediate=pvm_power.Force.TRUE)  # fmt: skip
    assert pvm_lpar.LPAR.get(host, uuid=lpar.uuid).state == "running"
    pvm_power.power_off(pvm_lpar.LPAR.get(host, uuid=lpar.uuid), None, force_immediate=pvm_power.Force.TRUE)
    assert pvm_lpar.LPAR.get(host, uuid=lpar.uuid).state == "not activated"


# -- tasks.slot_map -----------------------------------------------------------------------------------
class _MemoryStore(pvm_slot.SlotMapStore):
    """A SlotMapStore kept in a dict (a driver keeps it in Swift or a file)."""

    blobs: dict[str, bytes] = {}

    def _load(self, key):
        return self.blobs.get(key)

    def _save(self, key, blob):
        self.blobs[key] = blob


def _client_slots(adapter, lpar) -> dict[str, set[int]]:
    """Client slots of ``lpar``: its virtual Ethernet adapters and the vSCSI/vFC mappings to it."""
    slots = {"cna": {c.slot for c in pvm_net.CNA.get(adapter, parent=lpar)}, "vscsi": set(), "vfc": set(),
             "vnic": {v.slot for v in pvm_iocard.VNIC.get(adapter, parent=lpar)}}  # fmt: skip
    for vios in pvm_vios.VIOS.get(adapter, xag=XAGS):
        slots["vscsi"] |= {m.client_adapter.lpar_slot_num for m in vios.scsi_mappings
                           if m.client_adapter and m.server_adapter.lpar_id == lpar.id}  # fmt: skip
        slots["vfc"] |= {m.client_adapter.lpar_slot_num for m in vios.vfc_mappings
                         if m.client_adapter and m.server_adapter.lpar_id == lpar.id}  # fmt: skip
    return slots


def _vnic(adapter, lpar, slot: int, mac: str | None = None) -> pvm_iocard.VNIC:
    vnic = pvm_iocard.VNIC.bld(adapter, pvid=200, slot_num=slot, mac_addr=mac)
    ports = [p.loc_code for p in pvm_sriov.find_pports_for_portlabel("default", adapter)]
    pvm_sriov.set_vnic_back_devs(vnic, ports, sys_w=pvm_ms.System.get(adapter)[0])
    return vnic.create(parent=lpar)


def test_rebuild_slot_map_recreates_the_client_slots(host):
    source = new_lpar(host, "src")
    cna = pvm_cna.crt_cna(host, None, source.uuid, 100, slot_num=9)
    vnic = _vnic(host, source, 11)
    tier = pvm_stg.default_tier_for_ssp(pvm_stor.SSP.get(host)[0])
    _, lu = pvm_stg.crt_lu(tier, "slot_lu", 1, thin=True)
    vioses = _vioses(host)
    for vios, slot in zip(vioses.values(), (15, 16)):
        pvm_smap.add_vscsi_mapping(None, vios.uuid, source.uuid, pvm_stor.LU.bld_ref(host, lu.name, lu.udid),
                                   lpar_slot_num=slot)  # fmt: skip
    wwpns = pvm_vfc.build_wwpn_pair(host, host.sys_uuid)
    vios1 = _vioses(host)["vios1"]
    pvm_vfc.add_map(vios1, host.sys_uuid, source.uuid, ("10000090FA1B6301", " ".join(wwpns)), lpar_slot_num=20)
    vios1.update()

    store = _MemoryStore(source.uuid, load=False)
    store.register_max_vslots(pvm_lpar.LPAR.get(host, uuid=source.uuid).io_config.max_virtual_slots)
    store.register_vnet(pvm_net.CNA.get(host, parent=source, uuid=cna.uuid))
    store.register_vnet(pvm_iocard.VNIC.get(host, parent=source, uuid=vnic.uuid))
    for vios in _vioses(host).values():
        for mapping in vios.scsi_mappings:
            if mapping.server_adapter.lpar_id == source.id:
                store.register_vscsi_mapping(mapping)
        for mapping in vios.vfc_mappings:
            if mapping.server_adapter.lpar_id == source.id:
                store.register_vfc_mapping(mapping, "fabric_A")
    store.save()
    expected = _client_slots(host, source)
    assert expected == {"cna": {9}, "vscsi": {15, 16}, "vfc": {20}, "vnic": {11}}
    # the source is gone (a rebuild, an evacuation); its orphan mappings are scrubbed
    pvm_lpar.LPAR.get(host, uuid=source.uuid).delete()
    pvm_stg.ComprehensiveScrub(host).execute()

    loaded = _MemoryStore(source.uuid)
    vioses = list(_vioses(host).values())
    rebuild = pvm_slot.RebuildSlotMap(loaded, vioses, {lu.udid: [v.uuid for v in vioses]}, ["fabric_A"])
    target = new_lpar(host, "dst")
    pvm_cna.crt_cna(host, None, target.uuid, 100, slot_num=rebuild.get_vea_slot(cna.mac), mac_addr=cna.mac)
    _vnic(host, target, rebuild.get_vnet_slot(vnic.mac), vnic.mac)
    for vios in vioses:
        slot, lua = rebuild.get_vscsi_slot(vios, lu.udid)
        assert slot in (15, 16) and lua
        pvm_smap.add_vscsi_mapping(None, vios.uuid, target.uuid, pvm_stor.LU.bld_ref(host, lu.name, lu.udid),
                                   lpar_slot_num=slot, lua=lua)  # fmt: skip
    (vfc_slot,) = rebuild.get_vfc_slots("fabric_A", 1)
    vios1 = _vioses(host)["vios1"]
    pvm_vfc.add_map(vios1, host.sys_uuid, target.uuid, ("10000090FA1B6302", " ".join(pvm_vfc.build_wwpn_pair(
        host, host.sys_uuid))), lpar_slot_num=vfc_slot)  # fmt: skip
    vios1.update()
    assert rebuild.get_max_vslots() == source.io_config.max_virtual_slots
    assert _client_slots(host, target) == expected

    vios1 = _vioses(host)["vios1"]  # a slot the partition already uses is refused, as firmware does
    pvm_vfc.add_map(vios1, host.sys_uuid, target.uuid, ("10000090FA1B6301", " ".join(pvm_vfc.build_wwpn_pair(
        host, host.sys_uuid))), lpar_slot_num=9)  # fmt: skip
    with pytest.raises(pvm_exc.HttpError, match="slot 9 .* already in use"):
        vios1.update()
    other = new_lpar(host, "busy")
    pvm_cna.crt_cna(host, None, other.uuid, 100, slot_num=9)
    with pytest.raises(pvm_exc.HttpError, match="slot 9 .* already in use"):
        pvm_smap.add_vscsi_mapping(None, vioses[0].uuid, other.uuid, pvm_stor.LU.bld_ref(host, lu.name, lu.udid),
                                   lpar_slot_num=9)  # fmt: skip
    assert _client_slots(host, other) == {"cna": {9}, "vscsi": set(), "vfc": set(), "vnic": set()}, "nothing added"


# -- helpers.vios_busy -------------------------------------------------------------------------------
def test_vios_busy_retry_helper_retries_a_busy_vios(monkeypatch):
    monkeypatch.setattr(pvm_busy, "SLEEP", lambda seconds: None)  # pypowervm waits 5 s per retry
    with running_simulator(topology=str(HOST)) as sim:
        adapter = connect(sim)
        try:
            busy = pvm_adapter.Adapter(adapter.session, helpers=[pvm_busy.vios_busy_retry_helper])
            rule = {"kind": "vios_busy", "method": "GET", "path": "VirtualIOServer", "count": 2}
            requests.put(f"{sim.url}/sim/faults", json=[rule], timeout=10).raise_for_status()
            assert sorted(v.name for v in pvm_vios.VIOS.get(busy)) == ["vios1", "vios2"], "served on the 3rd try"
            rule["count"] = 4  # more than the helper's 3 retries
            requests.put(f"{sim.url}/sim/faults", json=[rule], timeout=10).raise_for_status()
            with pytest.raises(pvm_exc.HttpError) as err:
                pvm_vios.VIOS.get(busy)
            assert err.value.her_wrap.is_vios_busy()
        finally:
            disconnect(adapter)


def test_ibmi_os_shutdown_needs_no_rmc(tmp_path):
    with connected_simulator(
        default_topology_with(
            tmp_path,
            [{"name": "ibmi-01", "id": 9, "os": "ibmi", "state": "running", "rmc_state": "inactive"}],
            "ibmi.yaml",
        )
    ) as (sim, adapter):
        ibmi = pvm_lpar.LPAR.search(adapter, one_result=True, name="ibmi-01")
        assert pvm_popts.PowerOffOpts.can_os_shutdown(ibmi) and ibmi.rmc_state == "inactive"
        pvm_power.PowerOp.stop(ibmi, opts=pvm_popts.PowerOffOpts().os_immediate())
        assert pvm_lpar.LPAR.get(adapter, uuid=ibmi.uuid).state == "not activated"
        batch = pvm_lpar.LPAR.search(adapter, one_result=True, name="aix-batch")  # AIX, RMC inactive
        with pytest.raises(pvm_exc.OSShutdownNoRMC):
            pvm_power.PowerOp.stop(batch, opts=pvm_popts.PowerOffOpts().os_normal())
