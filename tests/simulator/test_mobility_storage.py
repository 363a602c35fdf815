"""Partition mobility of SAN hdisks and virtual FC adapters, driven by pypowervm's ``tasks.migration``.

Both hosts are the default topology (the destination renamed, without client partitions) with two
physical FC ports per VIOS, their own WWPNs, and one array whose LUNs each test creates on both
sides' SAN records with the same name (so the same UDID), masked as the case needs. Every outcome
is read back with fresh GETs from both simulators.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import hdisk as pvm_hdisk
from pypowervm.tasks import migration, scsi_mapper
from pypowervm.tasks import vfc_mapper as pvm_vfc
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import Lun
from powervm_openstack.simulator.model import fc
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.topology import loader
from tests.simulator.test_mobility import DEST_SYSTEM, Hosts, two_hosts

TARGET = "500507680B215660"
SRC_SYSTEM = "Server-9009-22A-SN7830A1B"  # the default topology's
SRC_PORTS = {"vios1": ["10000090FA000101", "10000090FA000102"], "vios2": ["10000090FA000201", "10000090FA000202"]}
DST_PORTS = {"vios1": ["10000090FB000101", "10000090FB000102"], "vios2": ["10000090FB000201", "10000090FB000202"]}
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.STORAGE, pvm_vios.VIOS.xags.FC_MAPPING]


def _topology(tmp_path, name: str, ports: dict[str, list[str]], dest: bool) -> str:
    data = yaml.safe_load(loader.DEFAULT.read_text())
    if dest:
        data["system"].update(name=DEST_SYSTEM, serial="7830B2C", primary_ip="192.168.10.40")
        data["management_partition"]["name"] = "novalink_7830B2C"
        data["lpars"] = []
    data["storage"]["fc_ports"] = [{"vios": v, "name": f"fcs{i}", "wwpn": w, "npiv_ports": 2}
                                   for v, ws in ports.items() for i, w in enumerate(ws)]  # fmt: skip
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def hosts(tmp_path) -> Iterator[Hosts]:
    with two_hosts(
        _topology(tmp_path, "dst", DST_PORTS, True), topology=_topology(tmp_path, "src", SRC_PORTS, False)
    ) as pair:
        yield pair


def _lun(hosts: Hosts, name: str, src_initiators: list[str], dst_initiators: list[str]) -> str:
    fc.add_lun(hosts.src_sim.store, Lun(name, 7, 10, [TARGET], src_initiators))
    return fc.add_lun(hosts.dst_sim.store, Lun(name, 7, 10, [TARGET], dst_initiators))


def _vios(adapter, name: str) -> pvm_vios.VIOS:
    return next(v for v in pvm_vios.VIOS.get(adapter, xag=XAGS) if v.name == name)


def _discover(adapter, vios_name: str, ports: list[str]) -> tuple[str, str]:
    vios = _vios(adapter, vios_name)
    status, name, udid = pvm_hdisk.discover_hdisk(adapter, vios.uuid, [pvm_hdisk.ITL(p, TARGET, 7) for p in ports])
    assert pvm_hdisk.good_discovery(status, name), status
    return name, udid


def _client_maps(adapter, lpar_uuid: str) -> dict[str, list]:
    found = {}
    for vios in pvm_vios.VIOS.get(adapter, xag=XAGS):
        found[vios.name] = [m for m in [*vios.scsi_mappings, *vios.vfc_mappings]
                            if m.client_lpar_href and lpar_uuid.upper() in m.client_lpar_href.upper()]  # fmt: skip
    return found


def _set_reserve_policy(sim, vios_name: str, udid: str, policy: str) -> None:
    """An administrator's ``chdev -attr reserve_policy=...`` on the VIOS."""
    with sim.store.transaction() as txn:
        vios = next(v for v in txn.find("VirtualIOServer") if xml.text(v.element, "PartitionName") == vios_name)
        pv = next(p for p in fc.hdisks(vios) if xml.text(p, "UniqueDeviceID") == udid)
        xml.set_text(pv, "ReservePolicy", policy)
        txn.put(vios, detail="PhysicalVolumes")


def test_fc_hdisk_moves_only_where_the_destination_has_discovered_it(hosts):
    lpar = hosts.lpar("web-01")
    udid = _lun(hosts, "vol1", SRC_PORTS["vios1"], DST_PORTS["vios2"])
    name, _ = _discover(hosts.src, "vios1", SRC_PORTS["vios1"])
    vios = _vios(hosts.src, "vios1")
    scsi_mapper.add_map(vios, scsi_mapper.build_vscsi_mapping(None, vios, lpar.uuid,
                                                              pvm_stor.PV.bld(hosts.src, name, udid=udid)))  # fmt: skip
    vios.update()
    slot = _client_maps(hosts.src, lpar.uuid)["vios1"][0].client_adapter.lpar_slot_num

    with pytest.raises(pvm_exc.JobRequestFailed, match=f"hdisk with UDID {udid} not discovered"):
        migration.migrate_lpar(lpar, DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
    dst_name, _ = _discover(hosts.dst, "vios2", DST_PORTS["vios2"])
    _set_reserve_policy(hosts.dst_sim, "vios2", udid, "SinglePath")
    with pytest.raises(pvm_exc.JobRequestFailed, match="has reserve policy SinglePath, not NoReserve"):
        migration.migrate_lpar(lpar, DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
    _set_reserve_policy(hosts.dst_sim, "vios2", udid, "NoReserve")
    with pytest.raises(pvm_exc.JobRequestFailed, match="VirtualSCSIMappings .* is not slot/vios-name/vios-id"):
        hosts.migrate(lpar, virtual_scsi_mappings=[f"{slot}//vios2"])  # an id that is not a number
    with pytest.raises(pvm_exc.JobRequestFailed, match="no VIOS vios2/2 on"):
        hosts.migrate(lpar, virtual_scsi_mappings=[f"{slot}/vios2/2"])  # vios2 has id 3: the two disagree
    with pytest.raises(pvm_exc.JobRequestFailed, match="slot 99 is no virtual SCSI client adapter"):
        hosts.migrate(lpar, virtual_scsi_mappings=["99/vios2/"])
    with pytest.raises(pvm_exc.JobRequestFailed, match="vios1: hdisk with UDID .* not discovered"):
        hosts.migrate(lpar, virtual_scsi_mappings=[f"{slot}/vios1/"])  # vios1 there has no such hdisk
    assert "web-01" not in hosts.names(hosts.dst)

    hosts.migrate(lpar, virtual_scsi_mappings=[f"{slot}/vios2/3/40"])

    moved = _client_maps(hosts.dst, lpar.uuid)
    assert [(m.backing_storage.udid, m.backing_storage.name, m.server_adapter.vios_slot_num,
             m.client_adapter.vios_slot_num, m.client_adapter.lpar_slot_num)
            for m in moved["vios2"]] == [(udid, dst_name, 40, 40, slot)]  # fmt: skip
    assert moved["vios1"] == []
    assert _client_maps(hosts.src, lpar.uuid) == {"vios1": [], "vios2": []}
    assert udid in [pv.udid for pv in _vios(hosts.src, "vios1").phys_vols]  # the source hdisk stays discovered


def test_hdisk_no_san_lun_backs_or_with_reserve_is_refused_at_the_source(hosts):
    lpar = hosts.lpar("web-01")
    udid = _lun(hosts, "vol2", SRC_PORTS["vios1"], DST_PORTS["vios1"])
    name, _ = _discover(hosts.src, "vios1", SRC_PORTS["vios1"])
    _discover(hosts.dst, "vios1", DST_PORTS["vios1"])
    vios = _vios(hosts.src, "vios1")
    scsi_mapper.add_map(vios, scsi_mapper.build_vscsi_mapping(None, vios, lpar.uuid,
                                                              pvm_stor.PV.bld(hosts.src, name, udid=udid)))  # fmt: skip
    vios.update()
    _set_reserve_policy(hosts.src_sim, "vios1", udid, "SinglePath")
    with pytest.raises(pvm_exc.JobRequestFailed, match=f"hdisk {name} .* reserve policy SinglePath"):
        hosts.migrate(lpar)
    _set_reserve_policy(hosts.src_sim, "vios1", udid, "NoReserve")
    hosts.migrate(lpar)  # no mappings given: the VIOS of the same name, which sees the disk
    assert [m.backing_storage.udid for m in _client_maps(hosts.dst, lpar.uuid)["vios1"]] == [udid]


def test_iscsi_hdisk_moves_to_a_vios_logged_in_to_the_target(tmp_path):
    iscsi = {"iqn": "iqn.2010-10.org.openstack:vol9", "portal": "10.1.0.5:3260", "lun": 1, "capacity_gb": 2}
    src_path, dst_path = _topology(tmp_path, "src", SRC_PORTS, False), _topology(tmp_path, "dst", DST_PORTS, True)
    for path in (src_path, dst_path):
        data = yaml.safe_load(open(path).read())
        data["storage"]["iscsi_targets"] = [iscsi]
        open(path, "w").write(yaml.safe_dump(data))
    with two_hosts(str(dst_path), topology=src_path) as hosts:
        src, dst = hosts.src, hosts.dst
        lpar = hosts.lpar("web-01")
        login = {"host_ip": iscsi["portal"], "user": None, "password": None, "iqn": iscsi["iqn"], "lunid": 1}
        name, udid = pvm_hdisk.discover_iscsi(src, vios_uuid=_vios(src, "vios2").uuid, **login)
        vios = _vios(src, "vios2")
        scsi_mapper.add_map(vios, scsi_mapper.build_vscsi_mapping(None, vios, lpar.uuid,
                                                                  pvm_stor.PV.bld(src, name, udid=udid)))  # fmt: skip
        vios.update()
        with pytest.raises(pvm_exc.JobRequestFailed, match="No VIOS of .* can serve client slot"):
            hosts.migrate(lpar)
        pvm_hdisk.discover_iscsi(dst, vios_uuid=_vios(dst, "vios1").uuid, **login)
        hosts.migrate(lpar)  # vios2 there is not logged in: vios1, which is
        moved = _client_maps(dst, lpar.uuid)
        assert [m.backing_storage.udid for m in moved["vios1"]] == [udid] and moved["vios2"] == []


def test_npiv_adapter_moves_with_its_second_wwpn(hosts):
    lpar = hosts.lpar("web-01")
    system = pvm_ms.System.get(hosts.src)[0].uuid
    vioses = pvm_vios.VIOS.get(hosts.src, xag=XAGS)
    port_map = pvm_vfc.derive_base_npiv_map(vioses, [SRC_PORTS["vios1"][0]], 1)[0]
    vios, _ = pvm_vfc.find_vios_for_wwpn(vioses, port_map[0])
    pvm_vfc.add_map(vios, system, lpar.uuid, port_map)
    vios.update()
    mapping = _client_maps(hosts.src, lpar.uuid)["vios1"][0]
    first, second = (w.lower() for w in mapping.client_adapter.wwpns)
    slot = mapping.client_adapter.lpar_slot_num
    _lun(hosts, "npiv1", [first], [first])  # the destination's array masks only the WWPN in use on the source

    with pytest.raises(pvm_exc.JobRequestFailed, match=f"not masked to that WWPN.*WWPN {second}|WWPN {second}"):
        hosts.migrate(lpar)
    _lun(hosts, "npiv1", [first], [first, second])
    with pytest.raises(pvm_exc.JobRequestFailed, match="VIOS vios2 has no physical FC port fcs7"):
        hosts.migrate(lpar, virtual_fc_mappings=[f"{slot}/vios2///fcs7"])
    free = {p.name: p.npiv_available_ports for p in _vios(hosts.dst, "vios2").pfc_ports}

    hosts.migrate(lpar, virtual_fc_mappings=[f"{slot}//3//fcs1"])  # vios2 has partition id 3

    moved = _client_maps(hosts.dst, lpar.uuid)
    assert [(m.backing_port.name, m.client_adapter.lpar_slot_num, [w.lower() for w in m.client_adapter.wwpns])
            for m in moved["vios2"]] == [("fcs1", slot, [first, second])]  # fmt: skip
    assert {p.name: p.npiv_available_ports for p in _vios(hosts.dst, "vios2").pfc_ports} == {
        **free,
        "fcs1": free["fcs1"] - 1,
    }
    assert _client_maps(hosts.src, lpar.uuid) == {"vios1": [], "vios2": []}
    assert {p.name: p.npiv_available_ports for p in _vios(hosts.src, "vios1").pfc_ports} == {"fcs0": 2, "fcs1": 2}

    # back again: the destination logs in with the second WWPN, so the source's array must mask the first
    back = next(p for p in pvm_lpar.LPAR.get(hosts.dst) if p.name == "web-01")
    source_target = hosts.src_sim.url.split("//", 1)[1]
    migration.migrate_lpar(back, SRC_SYSTEM, tgt_mgmt_svr=source_target)
    home = _client_maps(hosts.src, lpar.uuid)  # on vios2 again: the namesake of the VIOS it left
    assert [[w.lower() for w in m.client_adapter.wwpns] for m in home["vios2"]] == [[first, second]]
    assert home["vios1"] == []
    assert _client_maps(hosts.dst, lpar.uuid) == {"vios1": [], "vios2": []}
