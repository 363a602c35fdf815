"""The SR-IOV agent's logic without REST or RPC: port reports from captured systems, option checks,
event intake, and when ports go up, down or are given up on (fakes stand in for neutron and PowerVM).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from unittest import mock

import pytest
from oslo_config import cfg
from pypowervm.tests.test_utils import pvmhttp
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import managed_system as pvm_ms

from powervm_openstack.network import exceptions as exc
from powervm_openstack.network import mech_sriov, sriov_capacity, sriov_ports
from powervm_openstack.network.agent import config, sriov_config
from powervm_openstack.network.agent import sriov as agent_mod
from powervm_openstack.network.agent.pending import PLUG
from powervm_openstack.network.sriov_ports import PhysicalPort, Vnic
from tests.fixtures.simulator import PVM_DATA

SYS = "http://h:12080/rest/api/uom/ManagedSystem/0d0c1fa6-4e5d-3a79-8a44-0b0c5c5e9f19"
LPAR = "http://h:12080/rest/api/uom/LogicalPartition/3B1A1C5E-0000-4000-8000-000000000001"
MAC = "fa:16:3e:00:00:01"


def capture(name: str) -> object:
    if not (PVM_DATA / name).is_file():
        pytest.skip(f"capture {name} not found in {PVM_DATA}")
    return pvmhttp.load_pvm_resp(str(PVM_DATA / name), adapter=mock.Mock()).get_response()


def port(loc: str, label: str = "", port_id: int = 0, allocated: str = "0", lps: int = 0, usable: bool = True):
    return PhysicalPort(loc, label, 1, port_id, True, Decimal("0.02"), Decimal(allocated), lps, 20, usable)


HOST_PORTS = [port("T1", "default", 0), port("T2", "prod", 1), port("T3", "prod", 2, "0.5"), port("T4", "", 3)]


def vnic(pvid: int = 100, backing: tuple = ((1, 1), (1, 2)), uuid: str = "vnic-1") -> Vnic:
    return Vnic(uuid, f"{LPAR}/VirtualNICDedicated/{uuid}", MAC, "LPAR-1", pvid, backing)


def detail(network_type: str = "vlan", vlan: int | None = 100, physnet: str = "prod") -> dict:
    return {"device": MAC, "mac_address": MAC, "port_id": "port-1", "network_type": network_type,
            "segmentation_id": vlan, "physical_network": physnet}  # fmt: skip


def make_conf(**agent_opts: object) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default="novalink-1"))
    conf.register_opts([cfg.FloatOpt("report_interval", default=30)], group=config.GROUP)
    config.register_opts(conf)
    sriov_config.register_opts(conf)
    conf([], project="test")
    for name, value in agent_opts.items():
        conf.set_override(name, value, group=config.GROUP)
    return conf


class FakeRpc:
    def __init__(self, details: list[dict] | None = None) -> None:
        self.details = details or []
        self.status: list[tuple[list[str], list[str]]] = []
        self.reports: list[dict] = []

    def device_details(self, macs: list[str]) -> list[dict]:
        return [d for d in self.details if d["device"] in macs] + [{"device": m} for m in macs if
                                                                     m not in {d["device"] for d in self.details}]  # fmt: skip

    def set_status(self, up: list[str], down: list[str]) -> dict:
        self.status.append((sorted(up), sorted(down)))
        return {}

    def report_state(self, state: dict) -> str:
        self.reports.append(state)
        return "alive"


@pytest.fixture
def agent(monkeypatch):
    monkeypatch.setattr(pvm_ms.System, "get", staticmethod(lambda adapter: [mock.Mock()]))
    host_ports = list(HOST_PORTS)
    monkeypatch.setattr(sriov_ports, "read_ports", lambda system: list(host_ports))
    found: dict[str, Vnic] = {}
    monkeypatch.setattr(sriov_ports, "read_vnic", lambda adapter, href: found.get(href))
    monkeypatch.setattr(sriov_ports, "scan_vnics", lambda adapter, workers: list(found.values()))
    node = agent_mod.SriovAgent(make_conf(vnic_vf_capacity=0.04, vnic_wait_timeout=5), adapter=mock.Mock())
    node.setup()
    node._next_heal = float("inf")  # run_once serves only what a test queues
    node.rpc = FakeRpc([detail()])
    node.host_ports, node.vnics = host_ports, found
    return node


# -- reports --------------------------------------------------------------------------------
def test_ports_of_a_captured_system_serve_default_when_unlabelled():
    system = pvm_ms.System.wrap(capture("sys_with_sriov.txt"))
    ports = sriov_ports.read_ports(system[0] if isinstance(system, list) else system)
    assert len(ports) == 8 and {p.physnet for p in ports} == {"default"}
    first = sriov_ports.physnet_ports(ports)["default"][0]
    assert first == {"location_code": "U78C7.001.RCH0004-P1-C8-T1", "free_capacity": 0.98, "granularity": 0.02,
                     "free_logical_ports": 18}  # fmt: skip


def test_vnics_of_a_captured_feed():
    found = [sriov_ports.vnic_from_wrapper(w, "LPAR-1") for w in pvm_iocard.VNIC.wrap(capture("vnic_feed.txt"))]
    assert [(v.mac, v.pvid, v.backing) for v in found] == [
        ("ae:7a:25:e5:9a:07", 0, ((1, 0), (2, 0))), ("ae:7a:25:e5:9a:08", 0, ((2, 0),)),
    ]  # fmt: skip


def test_report_feeds_the_mechanism_driver(agent):
    configs = agent.configurations()
    assert configs["device_mappings"] == {"default": ["T1", "T4"], "prod": ["T2", "T3"]}
    assert (configs["default_redundancy"], configs["default_capacity"], configs["default_maxcapacity"]) == (
        2,
        0.04,
        None,
    )
    reported = {"host": "novalink-1", "configurations": configs}
    request = mech_sriov.vnic_request({}, configs)
    chosen = sriov_capacity.choose_ports("prod", mech_sriov.reported_ports(reported, "prod"), 2, request.capacity)
    assert [p.location_code for p in chosen] == ["T2", "T3"]  # most free capacity first
    with pytest.raises(exc.InsufficientSriovPorts, match="needs 3 SR-IOV physical port.*found 2 of 2 labelled"):
        sriov_capacity.choose_ports("prod", mech_sriov.reported_ports(reported, "prod"), 3, request.capacity)


def test_ports_of_adapters_not_in_shared_mode_are_not_reported():
    ports = [port("T1", "prod"), port("D1", "prod", usable=False)]
    assert sriov_ports.device_mappings(ports) == {"prod": ["T1"]}


def test_capacity_not_a_multiple_of_a_port_granularity_is_warned_about():
    lines = sriov_ports.capacity_warnings([port("T1", "prod")], Decimal("0.03"))
    assert len(lines) == 1 and "not a multiple of the granularity 0.02 of port T1" in lines[0]


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"vnic_vf_capacity": 1.5}, r"\[AGENT\] vnic_vf_capacity 1.5 is out of range"),
        ({"vnic_vf_capacity": 0.00001}, "more than 4 decimal places"),
        ({"vnic_vf_capacity": 0.1, "vnic_vf_max_capacity": 0.05}, "maxcapacity 0.05 is below capacity 0.1"),
    ],
)
def test_bad_capacity_options_stop_the_agent_with_a_clear_error(opts, message):
    with pytest.raises(exc.InvalidCapacity, match=message):
        sriov_config.default_capacities(make_conf(**opts))


def test_redundancy_below_one_is_refused(tmp_path):
    conf = cfg.ConfigOpts()
    sriov_config.register_opts(conf)
    (tmp_path / "agent.ini").write_text("[AGENT]\nvnic_required_vfs = 0\n")
    conf(["--config-file", str(tmp_path / "agent.ini")], project="test")
    with pytest.raises(cfg.ConfigFileValueError, match="vnic_required_vfs"):
        _ = conf.AGENT.vnic_required_vfs


# -- events ---------------------------------------------------------------------------------
def test_events_are_sorted_into_port_changes(agent):
    plug = '{"provider": "NOVA_PVM_VIF", "action": "plug", "mac": "FA163E000001", "type": "pvm_sriov"}'
    sea = plug.replace("pvm_sriov", "pvm_sea").replace("01", "02")
    agent.on_events([
        {"EventType": "CUSTOM_CLIENT_EVENT", "EventData": f"{LPAR}/VirtualNICDedicated/v1", "EventDetail": plug},
        {"EventType": "CUSTOM_CLIENT_EVENT", "EventData": f"{LPAR}/ClientNetworkAdapter/c1", "EventDetail": sea},
        {"EventType": "ADD_URI", "EventData": f"{LPAR}/VirtualNICDedicated/v2"},
        {"EventType": "DELETE_URI", "EventData": f"{LPAR}/VirtualNICDedicated/V3"},
        {"EventType": "ADD_URI", "EventData": f"{LPAR}/ClientNetworkAdapter/c4"},
        {"EventType": "MODIFY_URI", "EventData": LPAR},
    ])  # fmt: skip
    batch = agent.pending.take_now()
    assert list(batch.changes) == [MAC] and batch.changes[MAC].action == PLUG
    assert batch.added_uris == {f"{LPAR}/VirtualNICDedicated/v2"} and batch.deleted_adapters == {"v3"}
    assert not agent.ports_stale.is_set()


@pytest.mark.parametrize(
    "event",
    [{"EventType": "MODIFY_URI", "EventData": SYS, "EventDetail": "Other"},
     {"EventType": "MODIFY_URI", "EventData": f"{SYS}/Other/1", "EventDetail": "SRIOVPhysicalPort.ConfigChange"}],
)  # fmt: skip
def test_a_system_or_port_change_makes_the_ports_stale(agent, event):
    agent.on_events([event])
    assert agent.ports_stale.is_set()


def test_relabel_is_reported_at_once_and_only_when_something_changed(agent, caplog):
    caplog.set_level(logging.INFO)
    agent.refresh_ports("no change")
    assert agent.rpc.reports == []
    agent.host_ports[3] = port("T4", "backup", 3)
    agent.ports_stale.set()
    agent.run_once(timeout=0)
    assert agent.rpc.reports[-1]["configurations"]["device_mappings"]["backup"] == ["T4"]
    assert "physical network 'backup': no ports -> ['T4']" in caplog.text
    assert "physical network 'default': ['T1', 'T4'] -> ['T1']" in caplog.text


# -- port status ----------------------------------------------------------------------------
def test_a_port_goes_up_only_when_its_vnic_exists_with_the_segment_vlan(agent):
    nic = vnic()
    agent.pending.port(MAC, PLUG, nic.href)
    agent.serve(agent.pending.take_now())
    assert agent.rpc.status == [] and MAC in agent.waiting  # announced but not there yet
    agent.vnics[nic.href] = nic
    agent.waiting[MAC] = agent.waiting[MAC].__class__(nic.href, agent.waiting[MAC].since, 0)
    agent.run_once(timeout=0)
    assert agent.rpc.status == [([MAC], [])] and agent.served == {MAC: nic} and not agent.waiting

    agent.on_events([{"EventType": "DELETE_URI", "EventData": nic.href}])
    agent.serve(agent.pending.take_now())
    assert agent.rpc.status[-1] == ([], [MAC]) and agent.served == {}


def test_a_vnic_added_without_a_plug_event_brings_its_port_up(agent):
    nic = vnic()
    agent.vnics[nic.href] = nic
    agent.on_events([{"EventType": "ADD_URI", "EventData": nic.href}])
    agent.serve(agent.pending.take_now())
    assert agent.rpc.status == [([MAC], [])] and agent.device_count == 1


def test_a_vnic_on_the_wrong_vlan_is_not_marked_up(agent, caplog):
    nic = vnic(pvid=200)
    agent.vnics[nic.href] = nic
    agent.pending.port(MAC, PLUG, nic.href)
    agent.serve(agent.pending.take_now())
    assert agent.rpc.status == [([], [MAC])]
    assert "port-1 (MAC fa:16:3e:00:00:01) not marked up: vNIC vnic-1 has PVID 200" in caplog.text


def test_a_vnic_that_never_appears_is_given_up_on(agent, caplog, monkeypatch):
    agent.pending.port(MAC, PLUG, f"{LPAR}/VirtualNICDedicated/never")
    agent.serve(agent.pending.take_now())
    clock = agent_mod.time.monotonic() + 6
    monkeypatch.setattr(agent_mod.time, "monotonic", lambda: clock)
    agent.recheck_waiting()
    assert agent.rpc.status == [([], [MAC])] and not agent.waiting
    assert "did not appear within 5s; giving up" in caplog.text


def test_port_update_for_a_port_without_a_vnic_here_touches_nothing(agent):
    agent.pending.port(MAC, PLUG)  # what a port_update RPC gives: a MAC, no vNIC
    agent.serve(agent.pending.take_now())
    assert agent.rpc.status == [] and not agent.waiting


def test_heal_marks_present_vnics_up_and_vanished_ones_down(agent):
    gone = vnic(uuid="vnic-gone")
    agent.served = {"fa:16:3e:00:00:09": gone}
    nic = vnic()
    agent.vnics[nic.href] = nic
    agent.heal("test")
    assert agent.rpc.status == [([], ["fa:16:3e:00:00:09"]), ([MAC], [])] and agent.device_count == 1


@pytest.mark.parametrize(
    ("nic", "seg", "problem", "warned"),
    [
        (vnic(pvid=0), detail("flat", None), None, False),
        (vnic(pvid=100), detail("flat", None), "needs 0", False),
        (vnic(), detail(physnet="default"), None, True),
        (vnic(), detail("vxlan", 5), "vxlan network", False),
    ],
)
def test_check_vnic(nic, seg, problem, warned):
    reason, warnings = sriov_ports.check_vnic(nic, seg, HOST_PORTS)
    assert (reason is None) == (problem is None) and (problem or "") in (reason or "")
    assert bool(warnings) == warned
