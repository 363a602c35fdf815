"""The host network map, built from the simulator's topology records read through pypowervm (no HTTP)."""

from __future__ import annotations

import dataclasses
import functools
import json

import pytest
from pypowervm import adapter as pvm_adpt
from pypowervm import traits as pvm_traits
from pypowervm.wrappers import iocard as pvm_iocard

from powervm_openstack.network import cli, host_map, render, sriov_map
from powervm_openstack.pvm import inventory
from powervm_openstack.simulator.state import atom
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import object_path
from powervm_openstack.simulator.topology import loader as topology

BASE = "http://localhost:12080"


class _Session:
    mc_type = "PVM"
    use_file_auth = True
    timeout = 60


class RecordAdapter:
    """Answers pypowervm reads from topology records the way the simulator renders them."""

    def __init__(self, records: tuple[Record, ...]) -> None:
        self.records = records
        self.session = _Session()
        self.traits = pvm_traits.APITraits(self.session)

    def read(self, root_type, root_id=None, child_type=None, xag=None, **_kwargs) -> pvm_adpt.Response:
        kind = child_type or root_type
        parent = root_id if child_type else None
        recs = [r for r in self.records if r.kind == kind and parent in (None, r.parent_uuid)]
        pairs = [(r, object_path(r.kind, r.uuid, r.parent_kind, r.parent_uuid)) for r in recs]
        groups = set() if xag is None else (set(xag) or None)
        text = atom.render_feed(pairs, f"/rest/api/uom/{kind}", BASE, groups)
        resp = pvm_adpt.Response("GET", "/rest/api/uom", 200, "OK", {"etag": "1"}, body=text.encode())
        resp.adapter = self
        resp._unmarshal_atom()
        return resp

    def build_href(self, root_type, root_id=None, *_args, **_kwargs) -> str:
        return f"{BASE}/rest/api/uom/{root_type}/{root_id}"


@functools.cache
def _records(name: str) -> tuple[Record, ...]:
    return tuple(topology.load(name))


@functools.cache
def inputs_for(name: str) -> host_map.HostInputs:
    return cli.read_host(RecordAdapter(_records(name)), workers=2)


def _bridge(hmap: host_map.HostMap, device: str = "ent5") -> host_map.Bridge:
    return next(b for b in hmap.bridges if b.seas[0].device == device)


def _vlans(bridge: host_map.Bridge) -> dict[int, host_map.Vlan]:
    return {v.vlan: v for v in bridge.vlans}


def _extra_adapter(name: str, partition: str, pvid: int, tagged=(), vswitch_id: int = 0) -> inventory.ClientAdapter:
    part = next(p for p in inventory.partitions(RecordAdapter(_records(name))) if p.name == partition)
    return inventory.ClientAdapter(
        uuid=f"extra-{pvid}", href="", mac=f"fa:16:3e:00:{pvid // 256:02x}:{pvid % 256:02x}", pvid=pvid,
        tagged=tuple(tagged), vswitch_id=vswitch_id, partition_uuid=part.uuid, partition_name=part.name,
        partition_type=part.type, is_mgmt=part.is_mgmt,
    )  # fmt: skip


# --- default topology: one failover pair --------------------------------------------------------------


def test_failover_pair_with_its_seas_trunks_and_users() -> None:
    hmap = host_map.build(inputs_for("default"))
    assert hmap.host_name == "Server-9009-22A-SN7830A1B"
    (bridge,) = hmap.bridges
    assert (bridge.physical_network, bridge.pvid, bridge.vswitch, bridge.vswitch_id) == ("default", 1, "ETHERNET0", 0)
    assert bridge.mode == host_map.MODE_FAILOVER
    assert [(s.device, s.vios, s.ha_mode, s.primary, s.backing_device) for s in bridge.seas] == [
        ("ent5", "vios1", "auto", True, "ent0"),
        ("ent5", "vios2", "auto", False, "ent0"),
    ]
    assert [(t.pvid, t.primary, t.devices, t.vlans) for t in bridge.trunks] == [
        (1, True, ("ent4@vios1", "ent4@vios2"), (1,)),
        (4094, False, ("ent6@vios1", "ent6@vios2"), (100, 200)),
    ]
    vlans = _vlans(bridge)
    assert sorted(vlans) == [1, 100, 200]
    assert (vlans[1].trunk_pvid, vlans[1].primary_trunk) == (1, True)
    assert (vlans[100].trunk_pvid, vlans[100].primary_trunk) == (4094, False)
    assert [(u.partition, u.role, u.mac, u.tagged) for u in vlans[100].users] == [
        ("web-01", "lpar", "fa:1e:0b:2c:3d:04", False)
    ]
    assert [u.partition for u in vlans[1].users] == ["db-01"]  # the bridge PVID counts as used too
    assert [u.partition for u in vlans[200].users] == ["aix-batch"]
    assert bridge.cleanup == host_map.Cleanup(enabled=True, removes=(), drops_trunks=())
    assert (bridge.orphan_vlans, bridge.unbridged_vlans, bridge.error) == ((), (), None)
    assert hmap.notes == ()


def test_cleanup_preview_follows_the_agent_rule() -> None:
    inputs = inputs_for("default")
    # aix-batch gone: 200 is unused; the bridge PVID (1) is never removed, even unused.
    without = [a for a in inputs.adapters if a.partition_name not in ("aix-batch", "db-01")]
    bridge = host_map.build(dataclasses.replace(inputs, adapters=without)).bridges[0]
    assert bridge.cleanup.removes == (200,) and bridge.cleanup.drops_trunks == ()
    # web-01 gone too: the trunk empties and is dropped.
    without = [a for a in without if a.partition_name != "web-01"]
    bridge = host_map.build(dataclasses.replace(inputs, adapters=without), cleanup_enabled=False).bridges[0]
    assert bridge.cleanup == host_map.Cleanup(enabled=False, removes=(100, 200), drops_trunks=(4094,))


def test_any_partition_keeps_a_vlan_management_and_vios_included() -> None:
    inputs = inputs_for("default")
    others = [a for a in inputs.adapters if a.partition_name not in ("aix-batch", "web-01")]
    extra = [
        _extra_adapter("default", "novalink_7830A1B", pvid=1, tagged=[200]),
        _extra_adapter("default", "vios2", pvid=100),
        _extra_adapter("default", "web-01", pvid=777),
        _extra_adapter("default", "web-01", pvid=200, vswitch_id=1),  # another vswitch: not this bridge's VLAN
    ]
    bridge = host_map.build(dataclasses.replace(inputs, adapters=others + extra)).bridges[0]
    vlans = _vlans(bridge)
    assert [(u.partition, u.role, u.tagged) for u in vlans[200].users] == [("novalink_7830A1B", "management", True)]
    assert [(u.partition, u.role, u.tagged) for u in vlans[100].users] == [("vios2", "vios", False)]
    assert bridge.cleanup.removes == ()
    ((unbridged),) = bridge.unbridged_vlans
    assert (unbridged.vlan, unbridged.trunk_pvid, [u.partition for u in unbridged.users]) == (777, None, ["web-01"])


def test_sriov_ports_and_the_vnics_on_them() -> None:
    inputs = inputs_for("default")
    fake = RecordAdapter(_records("default"))
    web = next(p for p in inventory.partitions(fake) if p.name == "web-01")
    vios1 = next(v for v in inputs.vioses if v.name == "vios1")
    devs = [pvm_iocard.VNICBackDev.bld(fake, vios1.uuid, 1, 0, capacity=0.04),
            pvm_iocard.VNICBackDev.bld(fake, vios1.uuid, 1, 1)]  # fmt: skip
    vnic = pvm_iocard.VNIC.bld(fake, pvid=1100, mac_addr="FA163E000001", back_devs=devs)
    hmap = host_map.build(dataclasses.replace(inputs, vnics=[(web, vnic)]))
    ports = hmap.sriov_ports
    assert [(p.adapter_id, p.port_id, p.label, p.sublabel) for p in ports] == [
        (1, 0, "default", "p1"),
        (1, 1, "prod", "p2"),
        (1, 2, "prod", "p3"),
        (1, 3, None, None),
    ]
    first = ports[0]
    assert first.location == "U78D3.001.WZS0A1B-P1-C6-T1" and first.adapter_location == "U78D3.001.WZS0A1B-P1-C6"
    assert (first.link_up, first.speed, first.capacity_used_pct, first.capacity_free_pct) == (
        True,
        "E10Gbps",
        0.0,
        100.0,
    )
    assert (first.logical_ports_used, first.logical_ports_max) == (0, 20)
    assert first.vnics == (sriov_map.VnicUse("web-01", web.uuid, "fa:16:3e:00:00:01", 1100, 4.0, "vios1"),)
    assert [v.capacity_pct for v in ports[1].vnics] == [None]
    assert ports[2].vnics == () and not ports[2].link_up


# --- two bridges -------------------------------------------------------------------------------------------


def test_two_bridges_need_mappings_to_name_their_physical_networks() -> None:
    hmap = host_map.build(inputs_for("two-bridges"))
    assert [b.physical_network for b in hmap.bridges] == [None, None]
    (note,) = hmap.notes
    assert "bridge_mappings is empty" in note
    hmap = host_map.build(inputs_for("two-bridges"), "default:ent5:vios1,prod:ent9:vios2")
    assert [(b.physical_network, b.vswitch, b.mode) for b in hmap.bridges] == [
        ("default", "ETHERNET0", "failover"),
        ("prod", "ETHERNET1", "load_sharing"),
    ]
    assert hmap.notes == ()


def test_two_bridges_orphans_sharing_trunks_and_cleanup() -> None:
    hmap = host_map.build(inputs_for("two-bridges"), "bad-entry")
    assert "malformed" in hmap.notes[0]
    default, prod = _bridge(hmap, "ent5"), _bridge(hmap, "ent9")
    assert default.orphan_vlans == (3000,) and prod.orphan_vlans == ()
    assert default.cleanup.removes == (1001,)
    assert [s.ha_mode for s in prod.seas] == ["sharing", "sharing"]
    assert [(t.pvid, t.primary, t.vlans) for t in prod.trunks] == [
        (1, True, (1, 2000)),
        (4094, False, (2001, 2002)),
        (4093, False, (2003,)),
    ]
    assert prod.trunks[2].devices == ("ent10@vios1", "ent10@vios2")
    # 2000 is on the primary trunk: never removed; 4093 empties and goes.
    assert prod.cleanup.removes == (2002, 2003) and prod.cleanup.drops_trunks == (4093,)
    assert [u.partition for u in _vlans(prod)[1].users] == ["ibmi-01"]


# --- rendering ------------------------------------------------------------------------------------------------


def test_text_shows_every_part() -> None:
    text = render.as_text(host_map.build(inputs_for("two-bridges"), "default:ent5:vios1,prod:ent9:vios1"))
    assert 'physical network "prod"' in text and "load-sharing pair" in text and "failover pair" in text
    assert "Cleanup would remove VLANs: 2002, 2003 (and drop the emptied trunk(s) PVID 4093)" in text
    assert "Orphan VLANs (VIOS trunk adapters outside any SEA, same vswitch): 3000" in text
    assert "not plugged yet are not seen" in text
    assert "SR-IOV physical ports" in text


@pytest.mark.parametrize("name", ["default", "two-bridges"])
def test_json_has_the_documented_schema(name: str) -> None:
    body = json.loads(render.as_json(host_map.build(inputs_for(name))))
    assert body["schema_version"] == render.SCHEMA_VERSION
    assert set(body) == {"schema_version", "host_uuid", "host_name", "bridges", "sriov_ports", "notes"}
    bridge = body["bridges"][0]
    assert set(bridge) == {
        "uuid", "physical_network", "pvid", "vswitch_id", "vswitch", "mode", "seas", "trunks", "vlans",
        "cleanup", "orphan_vlans", "unbridged_vlans", "error",
    }  # fmt: skip
    assert set(bridge["vlans"][0]) == {"vlan", "trunk_pvid", "primary_trunk", "users"}
    assert set(bridge["cleanup"]) == {"enabled", "removes", "drops_trunks"}
    assert set(body["sriov_ports"][0]) == {
        "adapter_id", "adapter_location", "port_id", "label", "sublabel", "location", "link_up", "speed",
        "capacity_used_pct", "capacity_free_pct", "logical_ports_used", "logical_ports_max", "vnics",
    }  # fmt: skip
    assert any("not plugged yet" in n for n in body["notes"])
