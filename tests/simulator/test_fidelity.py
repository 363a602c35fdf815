"""Fidelity: what the simulator serves equals what real NovaLink/HMC servers returned.

For each captured networking, VIOS, LPAR, system and SR-IOV response in pvm-data, the capture is
imported as seed state, served over HTTP, read back by the real pypowervm client, and compared
with the capture wrapped directly by pypowervm's own test loader (``pvmhttp``, the independent
reference): the same UUIDs, the same values for every property the networking and compute code
reads (the per-wrapper specs below), the same element trees and SELF links (links compared by
path).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree
from pypowervm import adapter as pvm_adapter
from pypowervm.tests.test_utils import pvmhttp
from pypowervm.wrappers import entry_wrapper as ewrap
from pypowervm.wrappers import iocard, logical_partition, managed_system, network, virtual_io_server

from powervm_openstack.simulator.capture import importer as capture
from powervm_openstack.simulator.http.server import SimulatorServer
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store
from tests.fixtures.simulator import PVM_DATA

pytestmark = pytest.mark.integration

USER, PASSWORD = "admin", "secret"
#: Every extended attribute group except All/None: pypowervm sends them sorted and comma-joined.
ALL_XAGS = [
    "Advanced",
    "EnergyManagement",
    "Hypervisor",
    "NVRAM",
    "SystemNetwork",
    "TierThreshold",
    "ViosFCMapping",
    "ViosNetwork",
    "ViosSCSIMapping",
    "ViosStorage",
    "VNIC",
]
_NAMED = [
    "cna_feed.txt",
    "cna_feed1.txt",
    "fake_cna.txt",
    "fake_network_bridge.txt",
    "nbbr_network_bridge.txt",
    "nbbr_network_bridge_failover.txt",
    "nbbr_network_bridge_peer.txt",
    "nbbr_virtual_network.txt",
    "nbbr_virtual_switch.txt",
    "fake_virtual_network_feed.txt",
    "fake_virtual_switch.txt",
    "fake_vswitch_feed.txt",
    "vswitch_feed.txt",
    "vio_multi_vscsi_mapping.txt",
    "lpar.txt",
    "fake_lpar_feed.txt",
    "lpar_ibmi.txt",
    "sys_with_sriov.txt",
    "managedsystem.txt",
    "sriov_lp_feed.txt",
    "vnic_feed.txt",
]


def _captures() -> list[str]:
    if not PVM_DATA.is_dir():
        return []
    vios = sorted(p.name for p in PVM_DATA.glob("fake_vios*.txt"))
    names = [n for n in _NAMED + vios if (PVM_DATA / n).is_file()]
    return [n for n in names if capture.load_file(PVM_DATA / n).records]


CAPTURES = _captures()


# -- what the code reads, per wrapper -------------------------------------------------------------
# A spec lists properties; ``(name, spec)`` walks a nested wrapper or list of wrappers, and
# ``(label, callable)`` records what a method returns. A property that raises is recorded as
# ``<raises X>`` so that both sides must raise alike.

Spec = tuple
TRUNK = (
    "pvid", "dev_name", "has_tag_support", "tagged_vlans", "vswitch_id", "trunk_pri",
    "virtual_slot_number", "associated_vswitch_uri", "varied_on", "loc_code", "vios_id",
)  # fmt: skip
SEA = (
    "pvid", "dev_name", "vio_uri", "ha_mode", "is_primary", "configuration_state", "control_channel",
    ("primary_adpt", TRUNK), ("addl_adpts", TRUNK), ("backing_device", ("dev_name", "adapter_id")),
)  # fmt: skip
LOAD_GROUP = ("pvid", "tagged_vlans", "vnet_uri_list", ("trunk_adapters", TRUNK))
NET_BRIDGE = (
    "uuid", "pvid", "vnet_uri_list", "load_balance", "vswitch_id", "arbitrary_pvids", "control_channel_id",
    ("list_vlans()", lambda w: w.list_vlans()),
    ("list_vlans(pvid=False, arbitrary=True)", lambda w: w.list_vlans(pvid=False, arbitrary=True)),
    ("supports_vlan(1000)", lambda w: w.supports_vlan(1000)),
    ("seas", SEA), ("load_grps", LOAD_GROUP),
)  # fmt: skip
VSWITCH = ("uuid", "name", "switch_id", "mode", "vnet_uri_list")
VNET = ("uuid", "name", "vlan", "vswitch_id", "tagged", "associated_switch_uri")
CNA = (
    "uuid", "slot", "lpar_id", "mac", "pvid", "enabled", "loc_code", "tagged_vlans",
    "is_tagged_vlan_supported",
    "vswitch_uri", "vswitch_id", "dev_name", "trunk_pri", "is_trunk", "configured_mtu", "ovs_bridge",
    "ovs_ext_ids", "ip_address", "subnet_mask", "gateway", "vsi_type_id", "vsi_type_version",
    "vsi_type_manager_id",
)  # fmt: skip
MEM = ("current", "desired", "max", "min", "shared_enabled", "ame_enabled", "exp_factor", "ppt_ratio")
SHARED_PROC = (
    "desired_units", "max_units", "min_units", "desired_virtual", "max_virtual", "min_virtual", "pool_id",
    "uncapped_weight",
)  # fmt: skip
PROC = (
    "has_dedicated",
    "sharing_mode",
    ("shared_proc_cfg", SHARED_PROC),
    ("dedicated_proc_cfg", ("desired", "max", "min")),
)
IO_SLOT = ("drc_index", "drc_name", "description", "phys_loc", "pc_adpt_id", "required", "bus_grp_required")
IO = ("max_virtual_slots", ("io_slots", IO_SLOT), ("tagged_io", ("load_src", "console", "alt_load_src")))
PARTITION = (
    "uuid", "name", "id", "state", "env", "partition_uuid", "assoc_sys_uuid", "rmc_state", "rmc_ip",
    "operating_system", "ref_code", "ref_code_full", "avail_priority", "profile_sync", "proc_compat_mode",
    "pending_proc_compat_mode", "is_mgmt_partition", "is_service_partition", "keylock_pos", "bootmode",
    "disable_secure_boot", "pending_secure_boot", "current_secure_boot", "allow_perf_data_collection",
    "uptime", "nvram",
    ("can_modify_io()", lambda w: w.can_modify_io()), ("can_modify_mem()", lambda w: w.can_modify_mem()),
    ("can_modify_proc()", lambda w: w.can_modify_proc()),
    ("capabilities", ("io_dlpar", "mem_dlpar", "proc_dlpar")),
    ("mem_config", MEM), ("proc_config", PROC), ("io_config", IO),
)  # fmt: skip
LPAR = PARTITION + (
    "migration_state",
    "rr_enabled",
    "rr_state",
    "srr_enabled",
    "restrictedio",
    "desig_ipl_src",
)
CLIENT_ADPT = ("lpar_id", "lpar_slot_num", "vios_id", "vios_slot_num", "wwpns", "loc_code", "side")
SERVER_ADPT = ("name", "udid", "lpar_id", "vios_id", "lpar_slot_num", "vios_slot_num", "backing_dev_name")
SCSI_MAP = (
    "client_lpar_href", ("client_adapter", CLIENT_ADPT), ("server_adapter", SERVER_ADPT),
    ("backing_storage", ("name", "udid")), ("target_dev", ("name", "lua")),
)  # fmt: skip
VFC_MAP = (
    "client_lpar_href", ("client_adapter", CLIENT_ADPT), ("server_adapter", SERVER_ADPT),
    ("backing_port", ("name", "loc_code", "wwpn", "udid")),
)  # fmt: skip
PHYS_VOL = ("name", "udid", "capacity", "state", "is_fc_backed", "loc_code", "avail_for_use", "description")
VIOS = PARTITION + (
    "is_license_accepted", "is_mover_service_partition", "ip_addresses", "vnic_capable",
    "vnic_failover_capable",
    ("get_vfc_wwpns()", lambda w: w.get_vfc_wwpns()), ("get_pfc_wwpns()", lambda w: w.get_pfc_wwpns()),
    ("derive_orphan_trunk_adapters()", lambda w: [t.dev_name for t in w.derive_orphan_trunk_adapters()]),
    ("seas", SEA), ("trunk_adapters", TRUNK), ("phys_vols", PHYS_VOL),
    ("scsi_mappings", SCSI_MAP), ("vfc_mappings", VFC_MAP),
)  # fmt: skip
SRIOV_PPORT = (
    "sriov_adap_id", "label", "loc_code", "port_id", "sublabel", "link_status", "cfg_max_lps", "cfg_lps",
    "min_granularity", "supp_max_lps", "allocated_capacity", "curr_speed", "mtu", "switch_mode", "flow_ctl",
)  # fmt: skip
SRIOV_ADAPTER = (
    "id", "sriov_adap_id", "description", "dev_name", "dev_type", "drc_name", "phys_loc_code", "udid", "mode",
    "personality", "state", ("phys_ports", SRIOV_PPORT),
)  # fmt: skip
SYS_SLOT = (
    "drc_index", "drc_name", "description", "part_id", "part_uuid", "part_name", "part_type", "pci_class",
    "pci_dev_id", "feat_codes", "bus_grp_required",
)  # fmt: skip
ASIO = ("avail_wwpns", "wwpn_prefix", ("io_slots", SYS_SLOT), ("sriov_adapters", SRIOV_ADAPTER))
SYSTEM = (
    "uuid", "system_name", "system_state", "proc_units", "min_proc_units", "proc_units_configurable",
    "proc_units_avail", "max_sys_procs_limit", "max_procs_per_aix_linux_lpar", "max_sys_vcpus_limit",
    "max_vcpus_per_aix_linux_lpar", "memory_total", "memory_free", "memory_configurable",
    "memory_region_size", "firmware_memory", "page_table_ratio", "default_ppt_ratio", "host_ip_address",
    "proc_compat_modes", "migration_data", "vios_links", "session_is_master", "metered_pool_id",
    "processor_is_throttled", ("get_capabilities()", lambda w: w.get_capabilities()),
    ("mtms", ("machine_type", "model", "serial", "mtms_str")),
    ("asio_config", ASIO),
)  # fmt: skip
SRIOV_LPORT = (
    "uuid", "lport_id", "sriov_adap_id", "is_promisc", "dev_name", "cfg_capacity", "cfg_max_capacity",
    "pport_id", "pvid", "allowed_vlans", "mac", "allowed_macs", "cur_mac", "loc_code", "vnic_port_usage",
)  # fmt: skip
VNIC_BACKING = (
    "vios_href", "sriov_adap_id", "pport_id", "lport_href", "capacity", "max_capacity",
    "desired_max_capacity",
    "failover_pri", "is_active", "status",
)  # fmt: skip
VNIC = (
    "uuid", "drc_name", "lpar_id", "slot", "pvid", "allowed_vlans", "mac", "allowed_macs", "capacity",
    "auto_pri_failover", "ip_address", "subnet_mask", "gateway", ("back_devs", VNIC_BACKING),
)  # fmt: skip

WRAPPERS = {
    "LogicalPartition": logical_partition.LPAR,
    "VirtualIOServer": virtual_io_server.VIOS,
    "ManagedSystem": managed_system.System,
    "NetworkBridge": network.NetBridge,
    "VirtualSwitch": network.VSwitch,
    "VirtualNetwork": network.VNet,
    "ClientNetworkAdapter": network.CNA,
    "SRIOVEthernetLogicalPort": iocard.SRIOVEthLPort,
    "VirtualNICDedicated": iocard.VNIC,
}
SPECS = {
    logical_partition.LPAR: LPAR,
    virtual_io_server.VIOS: VIOS,
    managed_system.System: SYSTEM,
    network.NetBridge: NET_BRIDGE,
    network.VSwitch: VSWITCH,
    network.VNet: VNET,
    network.CNA: CNA,
    iocard.SRIOVEthLPort: SRIOV_LPORT,
    iocard.VNIC: VNIC,
}
_BASE = re.compile(r"https?://[^/\s\"'<>]+(?=/rest/api/)")


def view(wrapper: ewrap.Wrapper, spec: Spec | None = None) -> dict:
    """The values ``spec`` names (default: the wrapper class's spec), links reduced to paths."""
    out: dict = {}
    for item in spec if spec is not None else SPECS[type(wrapper)]:
        if isinstance(item, str):
            out[item] = _safe(lambda item=item: getattr(wrapper, item))
        elif callable(item[1]):
            out[item[0]] = _safe(lambda item=item: item[1](wrapper))
        else:
            out[item[0]] = _safe(lambda item=item: _nested(getattr(wrapper, item[0]), item[1]))
    return out


def _nested(value: object, spec: Spec) -> object:
    if value is None or isinstance(value, ewrap.Wrapper):
        return None if value is None else view(value, spec)
    return [view(v, spec) for v in value]


def _safe(get: Callable[[], object]) -> object:
    try:
        return _plain(get())
    except Exception as exc:  # both sides must fail alike
        return f"<raises {type(exc).__name__}>"


def _plain(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _BASE.sub("", value)
    if isinstance(value, ewrap.Wrapper):
        return _BASE.sub("", etree.tostring(value.element.element, encoding="unicode"))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return f"{type(value).__name__}:{value}"


def diff(expected: object, served: object, where: str) -> list[str]:
    """Human-readable differences between two views (capture first)."""
    if isinstance(expected, dict) and isinstance(served, dict):
        return [d for k in expected | served for d in diff(expected.get(k), served.get(k), f"{where}.{k}")]
    if isinstance(expected, list) and isinstance(served, list) and len(expected) == len(served):
        return [d for i, (e, s) in enumerate(zip(expected, served)) for d in diff(e, s, f"{where}[{i}]")]
    return [] if expected == served else [f"{where}: capture={expected!r} served={served!r}"]


def tree_diff(expected: etree._Element, served: etree._Element, where: str) -> list[str]:
    """Differences between two element trees: names, attributes, stripped text, child order."""
    here = f"{where}/{etree.QName(expected).localname}"
    if expected.tag != served.tag:
        return [f"{here}: capture element {expected.tag} served {served.tag}"]
    found = []
    attrs = ({k: _BASE.sub("", v) for k, v in e.attrib.items()} for e in (expected, served))
    if (a := next(attrs)) != (b := next(attrs)):
        found.append(f"{here}: capture attributes {a} served {b}")
    texts = [_BASE.sub("", (e.text or "").strip()) for e in (expected, served)]
    if texts[0] != texts[1]:
        found.append(f"{here}: capture text {texts[0]!r} served {texts[1]!r}")
    kids = [[c for c in e if isinstance(c.tag, str)] for e in (expected, served)]
    if [c.tag for c in kids[0]] != [c.tag for c in kids[1]]:
        names = [[etree.QName(c).localname for c in k] for k in kids]
        return [*found, f"{here}: capture children {names[0]} served {names[1]}"]
    for e, s in zip(*kids):
        found += tree_diff(e, s, here)
    return found


class Sim:
    """A simulator over its own store, with a logged-on pypowervm Adapter; ``seed`` replaces its state."""

    def __init__(self) -> None:
        self.store = Store()
        self.server = SimulatorServer(self.store, username=USER, password=PASSWORD).start()
        session = pvm_adapter.Session(
            host="127.0.0.1", port=self.server.port, protocol="http", username=USER, password=PASSWORD
        )
        self.adapter = pvm_adapter.Adapter(session)
        self._loaded: list[Record] = []

    def seed(self, records: list[Record]) -> None:
        with self.store.transaction() as txn:
            for rec in self._loaded:
                old = txn.get(None, rec.uuid)
                if old is not None:
                    txn.delete(old)
        self._loaded = records + _parent_stubs(records)
        self.store.load([r.copy() for r in self._loaded])

    def stop(self) -> None:
        """Log off (pypowervm does it when the session is collected) before the server goes."""
        self.adapter = None
        gc.collect()
        self.server.stop()


def _parent_stubs(records: list[Record]) -> list[Record]:
    """Bare parent objects for children whose parent is not in the capture (the URL needs it)."""
    have = {r.uuid.lower() for r in records}
    stubs: dict[str, Record] = {}
    for rec in records:
        if rec.parent_kind and rec.parent_uuid and rec.parent_uuid.lower() not in have:
            stub = Record(rec.parent_kind, rec.parent_uuid, xml.root(rec.parent_kind, rec.parent_uuid))
            stubs[rec.parent_uuid.lower()] = stub
    return list(stubs.values())


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    if not PVM_DATA.is_dir():
        pytest.skip(f"captured pvm-data not found at {PVM_DATA}")
    simulator = Sim()
    yield simulator
    simulator.stop()


def _capture_request(path: Path) -> tuple[dict[str, str | None], bool]:
    """``adapter.read`` arguments for the collection (or entry) the capture came from, and is-feed."""
    root = etree.fromstring(pvmhttp.PVMFile(str(path)).body.strip().encode())
    is_feed = etree.QName(root).localname == "feed"
    href = next(ln.get("href") for ln in root.iter(f"{{{xml.ATOM_NS}}}link") if ln.get("rel") == "SELF")
    segs: list[str | None] = [s for s in href.split("?")[0].split("/rest/api/uom/")[1].split("/") if s]
    segs += [None] * (4 - len(segs))
    return dict(root_type=segs[0], root_id=segs[1], child_type=segs[2], child_id=segs[3]), is_feed


def _as_list(wrapped: object) -> list:
    return list(wrapped) if isinstance(wrapped, list) else [wrapped]


def _reference_response(sim: Sim, path: Path) -> pvm_adapter.Response:
    """The capture as pypowervm's own test loader reads it (the independent reference)."""
    return pvmhttp.load_pvm_resp(str(path), adapter=sim.adapter).get_response()


def compare_with_capture(sim: Sim, path: Path) -> list[str]:
    """Serve what is seeded, GET it like the capture was taken, and list every difference."""
    kind = capture.load_file(path).records[0].kind
    wrapper = WRAPPERS[kind]
    args, is_feed = _capture_request(path)
    served_resp = sim.adapter.read(xag=ALL_XAGS, **args)
    if (served_resp.feed is not None) != is_feed:
        return [f"{path.name}: capture is a {'feed' if is_feed else 'entry'}, the simulator served the other"]
    served = _as_list(wrapper.wrap(served_resp))
    reference = _as_list(wrapper.wrap(_reference_response(sim, path)))
    if [w.uuid for w in served] != [w.uuid for w in reference]:
        return [f"{kind} UUIDs: capture={[w.uuid for w in reference]} served={[w.uuid for w in served]}"]
    found = [f"{kind} {w.uuid}: served without an etag" for w in served if not w.etag]
    for ref_w, srv_w in zip(reference, served):
        where = f"{kind} {ref_w.uuid}"
        hrefs = [_BASE.sub("", w.href or "").split("?")[0].rstrip("/") for w in (ref_w, srv_w)]
        if hrefs[0] != hrefs[1]:
            found.append(f"{where}: SELF link capture={hrefs[0]} served={hrefs[1]}")
        found += diff(view(ref_w), view(srv_w), where)
        found += tree_diff(ref_w.element.element, srv_w.element.element, where)
    return found


@pytest.mark.parametrize("name", CAPTURES)
def test_served_matches_capture(sim: Sim, name: str) -> None:
    sim.seed(capture.load_file(PVM_DATA / name).records)
    differences = compare_with_capture(sim, PVM_DATA / name)
    assert not differences, "\n".join(differences[:40])


@pytest.mark.skipif("nbbr_network_bridge.txt" not in CAPTURES, reason="nbbr_network_bridge.txt not available")
def test_comparison_catches_a_changed_vlan(sim: Sim) -> None:
    """The harness itself: one changed trunk VLAN must show up, named by property."""
    path = PVM_DATA / "nbbr_network_bridge.txt"
    (bridge,) = capture.load_file(path).records
    for tagged in bridge.element.iter(xml.q("TaggedVLANIDs")):
        tagged.text = "1001"
    sim.seed([bridge])
    differences = compare_with_capture(sim, path)
    assert any("list_vlans()" in d and "1001" in d for d in differences), differences
    assert any("addl_adpts[0].tagged_vlans" in d for d in differences), differences
    assert any("TaggedVLANIDs: capture text '1000' served '1001'" in d for d in differences), differences


@pytest.mark.skipif("fake_vios_feed.txt" not in CAPTURES, reason="fake_vios_feed.txt not available")
def test_extended_groups_are_filtered(sim: Sim) -> None:
    """``?group=`` selects group-marked elements; no parameter serves all, as fake_vios_feed.txt shows."""
    records = capture.load_file(PVM_DATA / "fake_vios_feed.txt").records
    sim.seed(records)
    vios, system = WRAPPERS["VirtualIOServer"], records[0].parent_uuid
    net_only = vios.wrap(sim.adapter.read("ManagedSystem", system, "VirtualIOServer", xag=["ViosNetwork"]))
    assert all(v.seas for v in net_only) and not any(v.scsi_mappings or v.vfc_mappings for v in net_only)
    bare = vios.wrap(sim.adapter.read("ManagedSystem", system, "VirtualIOServer"))
    assert not any(v.seas or v.trunk_adapters or v.scsi_mappings for v in bare)
    everything = vios.wrap(sim.adapter.read("ManagedSystem", system, "VirtualIOServer", xag=[]))
    assert all(v.seas and v.scsi_mappings for v in everything)


@pytest.mark.skipif(not {"fake_vios_feed3.txt", "nbbr_network_bridge.txt"} <= set(CAPTURES), reason="missing")
def test_self_links_echo_the_requested_groups(sim: Sim) -> None:
    """Captured SELF links carry the request's group query (fake_vios_feed3: ?group=ViosNetwork,
    nbbr_network_bridge: ?group=None), so pypowervm's ``refresh()`` re-reads the same groups."""
    for name, xag, query in [
        ("nbbr_network_bridge.txt", None, "?group=None"),
        ("fake_vios_feed3.txt", ["ViosNetwork"], "?group=ViosNetwork"),
    ]:
        records = capture.load_file(PVM_DATA / name).records
        sim.seed(records)
        wrapper = WRAPPERS[records[0].kind]
        reference = _as_list(wrapper.wrap(_reference_response(sim, PVM_DATA / name)))
        assert all(w.href.endswith(query) for w in reference)
        args, _ = _capture_request(PVM_DATA / name)
        served = wrapper.wrap(sim.adapter.read(xag=xag, **args))
        assert [w.href.endswith(query) for w in served] == [True] * len(served), [w.href for w in served]
    with_sea = next(w for w in served if w.seas)
    refreshed = with_sea.refresh(use_etag=False)
    assert refreshed.seas and refreshed.trunk_adapters, "refresh() lost the ViosNetwork group"


# -- snapshot a simulator, import into a second one --------------------------------------------
_TOPOLOGY = {
    "managedsystem.txt": None,
    "lpar.txt": None,
    "fake_vios_ssp_npiv.txt": None,
    "nbbr_network_bridge.txt": "system",
    "nbbr_virtual_switch.txt": "system",
    "nbbr_virtual_network.txt": "system",
    "fake_cna.txt": "lpar",
    "vnic_feed.txt": "lpar",
    "cna_feed.txt": "vios",
    "sriov_lp_feed.txt": "vios",
}


def _topology() -> list[Record]:
    """A consistent system: 3 systems, their LPARs and a VIOS, with captured children re-parented."""
    loaded = {name: capture.load_file(PVM_DATA / name).records for name in _TOPOLOGY}
    vios = loaded["fake_vios_ssp_npiv.txt"][0]
    lpar = next(r for r in loaded["lpar.txt"] if r.parent_uuid == vios.parent_uuid)
    parents = {"system": ("ManagedSystem", vios.parent_uuid), "lpar": (lpar.kind, lpar.uuid)}
    parents["vios"] = (vios.kind, vios.uuid)
    records = []
    for name, where in _TOPOLOGY.items():
        for rec in loaded[name]:
            if where:
                rec.parent_kind, rec.parent_uuid = parents[where]
            records.append(rec)
    return records


def _state(store: Store, kinds: set[str]) -> dict[str, tuple]:
    with store.reading() as reader:
        recs = [r for k in sorted(kinds) for r in reader.find(k)]
    return {r.uuid: (r.kind, r.parent_kind, r.parent_uuid, r.title, xml.tostring(r.element)) for r in recs}


@pytest.mark.skipif(not set(_TOPOLOGY) <= set(CAPTURES), reason="topology captures missing")
def test_snapshot_round_trip(sim: Sim, tmp_path: Path) -> None:
    sim.seed(_topology())
    written = capture.snapshot(sim.server.url, tmp_path, username=USER, password=PASSWORD)
    assert len(written) == len(list(tmp_path.iterdir())) > 20
    second = Sim()
    try:
        second.seed(capture.load_dir(tmp_path))
        kinds = {r.kind for r in sim._loaded}
        before, after = _state(sim.store, kinds), _state(second.store, kinds)
        assert set(after) == set(before) and len(before) > 40
        assert not any("set-cookie" in p.read_text().lower() for p in written)
        changed = [u for u in before if before[u] != after[u]]
        assert not changed, f"{len(changed)} objects differ after the round trip, e.g. {changed[:3]}"
        bridge = next(r for r in sim._loaded if r.kind == "NetworkBridge")
        path = ("ManagedSystem", bridge.parent_uuid, "NetworkBridge")
        one, two = (network.NetBridge.wrap(s.adapter.read(*path, xag=[])) for s in (sim, second))
        assert [view(w) for w in one] == [view(w) for w in two] and one
    finally:
        second.stop()
