"""Topology files -> records, read back through the real pypowervm 1.1.27 wrappers and tasks."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pytest
import yaml
from lxml import etree
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import network_bridger
from pypowervm.wrappers import base_partition as bp
from pypowervm.wrappers import iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store
from powervm_openstack.simulator.topology import loader as topology
from tests.fixtures.wrappers import BASE, FakeAdapter

TOPOLOGIES = topology.TOPOLOGIES


@functools.cache
def _records(name: str) -> tuple[Record, ...]:
    return tuple(topology.load(name))


def adapter_for(name: str) -> FakeAdapter:
    return FakeAdapter([r.copy() for r in _records(name)])


def wrap(name: str, cls, groups: set[str] | None = None) -> list:
    adapter = adapter_for(name)
    return cls.wrap(adapter.feed(cls.schema_type, groups=groups))


def by_name(wrappers: list) -> dict:
    return {w.name: w for w in wrappers}


def sys_uuid(name: str) -> str:
    return next(r.uuid for r in _records(name) if r.kind == "ManagedSystem")


def raw(name: str) -> dict:
    return yaml.safe_load((TOPOLOGIES / f"{name}.yaml").read_text())


# --- default topology --------------------------------------------------------------------------


def test_managed_system_values() -> None:
    (sysw,) = wrap("default", pvm_ms.System)
    assert sysw.uuid == sys_uuid("default") and sysw.uuid == sysw.uuid.lower()
    assert sysw.system_name == "Server-9009-22A-SN7830A1B"
    assert sysw.mtms.mtms_str == "9009-22A*7830A1B"
    assert (sysw.memory_total, sysw.proc_units) == (262144, 20.0)
    # firmware 10240 + running/started partitions (novalink 8192, 2 VIOS x 8192, web-01 4096, aix 4096)
    assert sysw.memory_free == 262144 - 10240 - 32768
    assert sysw.proc_units_avail == pytest.approx(20 - 0.5 - 2.0 - 0.5 - 0.25)
    assert sysw.get_capability("vnic_capable") and sysw.get_capability("vnic_failover_capable")
    assert sysw.highest_compat_mode() == 9


def test_sriov_adapter_and_physical_ports() -> None:
    (sysw,) = wrap("default", pvm_ms.System)
    (adapter,) = sysw.asio_config.sriov_adapters
    assert (adapter.sriov_adap_id, adapter.mode, adapter.state) == (1, "Sriov", "Running")
    ports = adapter.phys_ports
    assert [type(p) for p in ports] == [iocard.SRIOVConvPPort] * 2 + [iocard.SRIOVEthPPort] * 2
    assert [p.label for p in ports] == ["default", "prod", "prod", None]
    assert [p.sublabel for p in ports] == ["p1", "p2", "p3", None]
    assert [p.loc_code for p in ports] == [f"U78D3.001.WZS0A1B-P1-C6-T{i}" for i in range(1, 5)]
    assert [p.port_id for p in ports] == [0, 1, 2, 3]
    assert [p.link_status for p in ports] == [True, True, False, False]
    assert all(p.min_granularity == pytest.approx(0.02) and p.allocated_capacity == 0.0 for p in ports)
    assert [p.cfg_max_lps for p in ports] == [20, 20, 4, 4]
    assert [p.supp_max_lps for p in ports] == [20, 20, 4, 4]
    assert ports[0].curr_speed == "E10Gbps" and ports[2].curr_speed == "Unknown"


def test_vioses_with_network_group() -> None:
    vioses = by_name(wrap("default", pvm_vios.VIOS, groups={"ViosNetwork"}))
    assert sorted(vioses) == ["vios1", "vios2"]
    for name, pid in (("vios1", 2), ("vios2", 3)):
        vios = vioses[name]
        assert vios.uuid == vios.uuid.upper() and int(vios.uuid[0], 16) < 8
        assert (vios.id, vios.state, vios.rmc_state, vios.is_mgmt_partition) == (pid, "running", "active", False)
        assert [s.dev_name for s in vios.seas] == ["ent5"]
        assert [(t.dev_name, t.pvid, t.tagged_vlans) for t in vios.trunk_adapters] == [
            ("ent4", 1, []),
            ("ent6", 4094, [100, 200]),
        ]
        assert vios.vnic_capable and vios.vnic_failover_capable


def test_vios_groups_are_left_out_unless_asked() -> None:
    for vios in wrap("default", pvm_vios.VIOS, groups=set()):
        assert list(vios.seas) == [] and list(vios.trunk_adapters) == []
        assert vios.media_repository is None


def test_vios_sea_is_a_copy_of_the_bridge_sea() -> None:
    recs = _records("default")
    nb = next(r for r in recs if r.kind == "NetworkBridge")
    nb_seas = xml.findall(nb.element, "SharedEthernetAdapters/SharedEthernetAdapter")
    for rec in (r for r in recs if r.kind == "VirtualIOServer"):
        (vios_sea,) = xml.findall(rec.element, "SharedEthernetAdapters/SharedEthernetAdapter")
        assert any(etree.tostring(vios_sea) == etree.tostring(s) for s in nb_seas)


def test_logical_partitions() -> None:
    lpars = by_name(wrap("default", pvm_lpar.LPAR))
    mgmt = lpars["novalink_7830A1B"]
    assert (mgmt.id, mgmt.state, mgmt.is_mgmt_partition, mgmt.rmc_state) == (1, "running", True, "active")
    assert (lpars["web-01"].id, lpars["web-01"].state, lpars["web-01"].is_mgmt_partition) == (4, "running", False)
    assert (lpars["db-01"].state, lpars["db-01"].rmc_state) == ("not activated", "inactive")
    assert lpars["aix-batch"].env == bp.LPARType.AIXLINUX and lpars["aix-batch"].rmc_state == "inactive"
    assert lpars["web-01"].mem_config.desired == 4096
    assert lpars["web-01"].proc_config.shared_proc_cfg.desired_units == 0.5
    assert all(w.uuid == w.uuid.upper() and int(w.uuid[0], 16) < 8 for w in lpars.values())


def test_network_bridge_failover_pair() -> None:
    (nb,) = wrap("default", pvm_net.NetBridge)
    assert nb.pvid == 1 and not nb.load_balance
    assert nb.list_vlans() == [1, 100, 200]
    assert nb.arbitrary_pvids == [4094]
    assert nb.supports_vlan(100) and not nb.supports_vlan(4094) and not nb.supports_vlan(300)
    assert [lg.pvid for lg in nb.load_grps] == [1, 4094]
    assert [[t.trunk_pri for t in lg.trunk_adapters] for lg in nb.load_grps] == [[1, 2], [1, 2]]
    vioses = by_name(wrap("default", pvm_vios.VIOS))
    for sea, vios, pri in zip(nb.seas, ("vios1", "vios2"), (1, 2), strict=True):
        assert (sea.dev_name, sea.pvid, sea.ha_mode, sea.is_primary) == ("ent5", 1, "auto", pri == 1)
        assert sea.vio_uri == f"{BASE}/rest/api/uom/ManagedSystem/{sys_uuid('default')}/VirtualIOServer/" + (
            vioses[vios].uuid
        )
        assert sea.backing_device.dev_name == "ent0"
        primary = sea.primary_adpt
        assert (primary.pvid, primary.trunk_pri, primary.vswitch_id, primary.dev_name) == (1, pri, 0, "ent4")
        assert primary.vios_id == vioses[vios].id
        assert primary.loc_code == f"U9009.22A.7830A1B-V{vioses[vios].id}-C2"
        assert [(a.pvid, a.tagged_vlans, a.trunk_pri) for a in sea.addl_adpts] == [(4094, [100, 200], pri)]


def test_client_network_adapters() -> None:
    adapter = adapter_for("default")
    lpars = by_name(pvm_lpar.LPAR.wrap(adapter.feed("LogicalPartition")))
    web = lpars["web-01"]
    cnas = pvm_net.CNA.wrap(adapter.feed("ClientNetworkAdapter", parent_uuid=web.uuid))
    assert [(c.pvid, c.mac, c.vswitch_id, c.is_trunk) for c in cnas][0] == (100, "FA1E0B2C3D04", 0, False)
    assert [c.loc_code for c in cnas] == ["U9009.22A.7830A1B-V4-C2", "U9009.22A.7830A1B-V4-C3"]
    links = web.element.findall("ClientNetworkAdapters/link")
    assert [link.get("href").rsplit("/", 1)[1] for link in links] == [c.uuid for c in cnas]
    assert all(c.uuid == c.uuid.lower() for c in cnas)
    recs = [r for r in adapter.records if r.kind == "ClientNetworkAdapter" and r.parent_uuid == web.uuid]
    assert {r.parent_kind for r in recs} == {"LogicalPartition"}
    (mgmt_trunk,) = pvm_net.CNA.wrap(adapter.feed("ClientNetworkAdapter", lpars["novalink_7830A1B"].uuid))
    assert (mgmt_trunk.is_trunk, mgmt_trunk.trunk_pri, mgmt_trunk.pvid, mgmt_trunk.vswitch_id) == (True, 1, 4094, 1)


def test_vios_trunks_are_served_as_cnas() -> None:
    adapter = adapter_for("default")
    vios1 = by_name(pvm_vios.VIOS.wrap(adapter.feed("VirtualIOServer")))["vios1"]
    cnas = pvm_net.CNA.wrap(adapter.feed("ClientNetworkAdapter", parent_uuid=vios1.uuid))
    assert [(c.dev_name, c.pvid, c.trunk_pri, c.tagged_vlans) for c in cnas] == [
        ("ent4", 1, 1, []),
        ("ent6", 4094, 1, [100, 200]),
    ]


def test_vswitches_and_virtual_networks() -> None:
    adapter = adapter_for("default")
    switches = by_name(pvm_net.VSwitch.wrap(adapter.feed("VirtualSwitch")))
    assert {n: (s.switch_id, s.mode) for n, s in switches.items()} == {
        "ETHERNET0": (0, "Veb"),
        "MGMTSWITCH": (1, "Vepa"),
        "NovaLinkVEABridge": (2, "Veb"),
    }
    vnets = pvm_net.VNet.wrap(adapter.feed("VirtualNetwork"))
    eth0 = [v for v in vnets if v.associated_switch_uri == switches["ETHERNET0"].related_href]
    assert sorted((v.vlan, v.name, v.tagged) for v in eth0) == [
        (1, "VLAN1-ETHERNET0", False),
        (100, "ETHERNET0-100", True),
        (200, "ETHERNET0-200", True),
        (4094, "VLAN4094-ETHERNET0", False),
    ]
    assert set(switches["ETHERNET0"].vnet_uri_list) == {v.related_href for v in eth0}


def test_records_are_deterministic_and_load_into_the_store() -> None:
    first, second = topology.load("default"), topology.load(TOPOLOGIES / "default.yaml")
    assert [(r.kind, r.uuid, r.parent_kind, r.parent_uuid, xml.tostring(r.element)) for r in first] == [
        (r.kind, r.uuid, r.parent_kind, r.parent_uuid, xml.tostring(r.element)) for r in second
    ]
    assert Store().load(first) == len(first)


# --- element order: what pypowervm builds and reads with -----------------------------------------


_SEA_PATH = "SharedEthernetAdapters/SharedEthernetAdapter"
_PROC_PATH = "PartitionProcessorConfiguration"


def _assert_order(elem: etree._Element, order: tuple[str, ...]) -> None:
    tags = [xml.local(c) for c in elem if xml.local(c) != "Metadata"]
    assert all(t in order for t in tags), [t for t in tags if t not in order]
    assert tags == sorted(tags, key=order.index)


@pytest.mark.parametrize(
    ("kind", "path", "cls"),
    [
        ("NetworkBridge", "", pvm_net.NetBridge),
        ("NetworkBridge", _SEA_PATH, pvm_net.SEA),
        ("NetworkBridge", _SEA_PATH + "/TrunkAdapters/TrunkAdapter", pvm_net.TrunkAdapter),
        ("ClientNetworkAdapter", "", pvm_net.CNA),
        ("VirtualSwitch", "", pvm_net.VSwitch),
        ("LogicalPartition", "", pvm_lpar.LPAR),
        ("VirtualIOServer", "", pvm_vios.VIOS),
        ("LogicalPartition", "PartitionMemoryConfiguration", bp.PartitionMemoryConfiguration),
        ("LogicalPartition", _PROC_PATH, bp.PartitionProcessorConfiguration),
        ("LogicalPartition", _PROC_PATH + "/SharedProcessorConfiguration", bp.SharedProcessorConfiguration),
    ],
)  # fmt: skip
def test_child_order_matches_pypowervm(kind: str, path: str, cls) -> None:
    for rec in (r for r in _records("two-bridges") if r.kind == kind):
        for elem in xml.findall(rec.element, path) if path else [rec.element]:
            _assert_order(elem, cls._child_order)


def test_sriov_port_child_order() -> None:
    sysrec = next(r for r in _records("default") if r.kind == "ManagedSystem")
    ports = sysrec.element.iter(xml.q("SRIOVEthernetPhysicalPort"), xml.q("SRIOVConvergedNetworkAdapterPhysicalPort"))
    for port in ports:
        _assert_order(port, iocard.SRIOVConvPPort._child_order)


# --- two bridges -----------------------------------------------------------------------------------


def test_two_bridges_on_two_vswitches() -> None:
    bridges = {nb.seas[0].dev_name: nb for nb in wrap("two-bridges", pvm_net.NetBridge)}
    default, prod = bridges["ent5"], bridges["ent9"]
    assert (default.vswitch_id, prod.vswitch_id) == (0, 3)
    assert (default.pvid, prod.pvid) == (1, 1)
    assert default.list_vlans() == [1, 1000, 1001]
    assert prod.list_vlans() == [1, 2000, 2001, 2002, 2003]
    assert prod.arbitrary_pvids == [4094, 4093]
    assert prod.load_balance and [s.ha_mode for s in prod.seas] == ["sharing", "sharing"]
    assert [s.ha_mode for s in default.seas] == ["auto", "auto"]
    assert [lg.pvid for lg in prod.load_grps] == [1, 4094, 4093]
    vioses = by_name(wrap("two-bridges", pvm_vios.VIOS, groups={"ViosNetwork"}))
    assert [s.dev_name for s in vioses["vios1"].seas] == ["ent5", "ent9"]
    orphans = [
        t
        for t in vioses["vios2"].trunk_adapters
        if not any(s.contains_device(t.dev_name) for s in vioses["vios2"].seas)
    ]
    assert [(t.dev_name, t.pvid, t.tagged_vlans, t.vswitch_id) for t in orphans] == [("ent20", 4000, [3000], 0)]


def test_network_bridger_adds_a_vlan_to_both_seas() -> None:
    adapter = adapter_for("default")
    (nb,) = pvm_net.NetBridge.wrap(adapter.feed("NetworkBridge"))
    network_bridger.ensure_vlans_on_nb(adapter, sys_uuid("default"), nb.uuid, [100])
    assert adapter.posts == []  # already bridged: nothing to do
    network_bridger.ensure_vlans_on_nb(adapter, sys_uuid("default"), nb.uuid, [300])
    ((path, body),) = adapter.posts
    assert path == f"/rest/api/uom/ManagedSystem/{sys_uuid('default')}/NetworkBridge/{nb.uuid}"
    posted = pvm_net.NetBridge.wrap(adapter.update_by_path(body, "1", path))
    assert [[a.tagged_vlans for a in sea.addl_adpts] for sea in posted.seas] == [[[100, 200, 300]]] * 2
    assert posted.supports_vlan(300)


def test_network_bridger_refuses_an_orphan_vlan() -> None:
    adapter = adapter_for("two-bridges")
    nb = next(n for n in pvm_net.NetBridge.wrap(adapter.feed("NetworkBridge")) if n.vswitch_id == 0)
    with pytest.raises(pvm_exc.OrphanVLANFoundOnProvision):
        network_bridger.ensure_vlans_on_nb(adapter, sys_uuid("two-bridges"), nb.uuid, [3000])


# --- validation --------------------------------------------------------------------------------------


def _set(data: dict, path: str, value: object) -> dict:
    data = copy.deepcopy(data)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = data
    for part in parents:
        target = target[part]
    target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("network_bridges.0.seas.1.vios", "vios3", r"seas\[1\]\.vios: unknown VIOS 'vios3' \(known VIOSes: vios1"),
        ("lpars.1.id", 4, r"lpars\[1\]\.id: duplicate partition id 4 \(already used by lpars\[0\]\.id\)"),
        ("lpars.0.cnas.0.pvid", 5000, r"lpars\[0\]\.cnas\[0\]\.pvid: VLAN 5000 is outside 1-4094"),
        ("network_bridges.0.additional_trunks.0.tagged_vlans", list(range(100, 121)), r"21 tagged VLANs, at most 20"),
        ("sriov_adapters.0.ports.0.label", "label-of-17-chars", r"ports\[0\]\.label: 'label-of-17-chars' is 17 .* 16"),
        ("lpars.0.cnas.0.vswitch", "ETHERNET9", r"unknown virtual switch 'ETHERNET9' \(known: ETHERNET0, MGMTSWITCH"),
        ("lpars.0.state", "sleeping", r"lpars\[0\]\.state: 'sleeping' is not allowed; allowed: running, not activated"),
        ("lpars.0.cnas.1.slot", 2, r"slot 2 on web-01 is already used by lpars\[0\]\.cnas\[0\]"),
        ("lpars.0.cnas.0.mac", "01:02:03:04:05:06", r"'01:02:03:04:05:06' is not a unicast MAC"),
        ("network_bridges.0.mode", "single", r"mode 'single' needs 1 SEA\(s\), got 2"),
        ("network_bridges.0.tagged_vlans", [4094], r"VLAN 4094 on vswitch ETHERNET0 is already bridged"),
        ("network_bridges.0.seas.0.device", "eth0", r"seas\[0\]\.device: device name 'eth0' is not valid"),
        ("vioses.0.colour", "blue", r"vioses\[0\]: unknown key 'colour'; allowed keys: name, id"),
        ("system.serial", "ABC", r"system\.serial: 'ABC' is not valid \(7 characters"),
    ],
)  # fmt: skip
def test_bad_topology_names_the_bad_value(path: str, value: object, expected: str) -> None:
    with pytest.raises(topology.TopologyError, match=expected):
        topology.parse(_set(raw("default"), path, value))


def test_a_vlan_may_be_bridged_once_per_vswitch() -> None:
    data = raw("two-bridges")
    data["network_bridges"][1]["vswitch"] = "ETHERNET0"
    with pytest.raises(topology.TopologyError, match=r"'prod' \(trunk PVID 1\): VLAN 1 on vswitch ETHERNET0"):
        topology.parse(data)
    data["network_bridges"][1]["pvid"] = 2828  # peers on one vswitch need distinct VLANs, arbitrary PVIDs too
    with pytest.raises(topology.TopologyError, match=r"VLAN 4094 on vswitch ETHERNET0 is already bridged"):
        topology.parse(data)
    for trunk, pvid in zip(data["network_bridges"][1]["additional_trunks"], (4090, 4089), strict=True):
        trunk["pvid"] = pvid
    topo = topology.parse(data)
    assert [nb.vswitch.name for nb in topo.bridges] == ["ETHERNET0", "ETHERNET0"]


def test_sriov_capacity_values_come_back() -> None:
    data = raw("default")
    data["sriov_adapters"][0]["ports"][0].update(allocated_capacity=10.0, granularity=2.5, configured_logical_ports=3)
    recs = topology.records(topology.parse(data))
    adapter = FakeAdapter(recs)
    (sysw,) = pvm_ms.System.wrap(adapter.feed("ManagedSystem"))
    port = sysw.asio_config.sriov_adapters[0].phys_ports[0]
    assert (port.allocated_capacity, port.min_granularity, port.cfg_lps) == (0.1, 0.025, 3)


def test_unreadable_file_is_a_topology_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: [unclosed")
    with pytest.raises(topology.TopologyError, match="bad.yaml: cannot read topology"):
        topology.load(bad)
