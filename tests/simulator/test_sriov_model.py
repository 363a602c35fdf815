"""The simulator's SR-IOV rules, driven by pypowervm as the compute driver and operators drive them:
vNICs with backing devices take capacity and logical ports and give them back, what real firmware
refuses is refused, and port labels change through a ManagedSystem update.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import sriov as pvm_sriov
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.topology import loader as topology
from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration

T = "U78D3.001.WZS0A1B-P1-C6-T"  # location prefix of the default topology's SR-IOV ports (T1..T4)


def _records(change=None) -> list:  # noqa: ANN001 - a small test hook
    data = yaml.safe_load((Path(topology.TOPOLOGIES) / "default.yaml").read_text())
    if change:
        change(data)
    return topology.records(topology.parse(data))


@pytest.fixture
def sim(request):
    with running_simulator(_records(getattr(request, "param", None))) as server:
        adapter = connect(server)
        server.pvm = adapter
        try:
            yield server
        finally:
            disconnect(adapter)


def ports(adapter) -> dict[str, pvm_iocard.SRIOVEthPPort]:
    system = pvm_ms.System.get(adapter)[0]
    return {p.loc_code: p for a in system.asio_config.sriov_adapters for p in a.phys_ports}


def lpar(adapter, name: str) -> pvm_lpar.LPAR:
    return next(p for p in pvm_lpar.LPAR.get(adapter) if p.name == name)


def vios(adapter, name: str) -> pvm_vios.VIOS:
    return next(v for v in pvm_vios.VIOS.get(adapter) if v.name == name)


def vnic(adapter, devices: list[tuple[str, int, int, float | None]], owner: str = "web-01", mac: str | None = None):
    """Create a vNIC on ``owner`` backed by (vios name, adapter id, port id, capacity) devices."""
    back = [pvm_iocard.VNICBackDev.bld(adapter, vios(adapter, v).uuid, a, p, capacity=c) for v, a, p, c in devices]
    return pvm_iocard.VNIC.bld(adapter, pvid=100, mac_addr=mac, back_devs=back).create(parent=lpar(adapter, owner))


def logical_ports(adapter) -> list[pvm_iocard.SRIOVEthLPort]:
    return [lp for v in pvm_vios.VIOS.get(adapter) for lp in pvm_iocard.SRIOVEthLPort.get(adapter, parent=v)]


def changes(sim, since: int = 0) -> list[dict]:
    return requests.get(f"{sim.url}/sim/changes", params={"since": since}, timeout=10).json()


def test_vnic_takes_capacity_and_a_logical_port_on_each_backing_port(sim):
    adapter = sim.pvm
    before = changes(sim)[-1]["id"] if changes(sim) else 0
    created = pvm_iocard.VNIC.bld(adapter, pvid=100, mac_addr="FA163E000001")
    pvm_sriov.set_vnic_back_devs(created, [f"{T}2", f"{T}3"], redundancy=2, capacity=0.04)
    created = created.create(parent=lpar(adapter, "web-01"))

    now = ports(adapter)
    assert [(now[f"{T}{i}"].allocated_capacity, now[f"{T}{i}"].cfg_lps) for i in (1, 2, 3)] == [
        (0.0, 0), (0.04, 1), (0.04, 1),
    ]  # fmt: skip
    assert created.slot and created.drc_name.endswith(f"-C{created.slot}") and created.lpar_id == 4
    assert created.mac == "FA163E000001" and created.pvid == 100 and created.capacity == 0.04
    devs = {d.pport_id: d for d in created.back_devs}
    assert devs[2].status == "LINK_DOWN" and devs[1].status == "OPERATIONAL"  # T3's link is down: still allowed
    assert sorted(d.is_active for d in devs.values()) == [False, True]
    lports = {lp.uuid: lp for lp in logical_ports(adapter)}
    assert {d.lport_href.rsplit("/", 1)[1] for d in devs.values()} == set(lports)
    assert {(lp.loc_code, lp.cfg_capacity, lp.vnic_port_usage, lp.mac) for lp in lports.values()} == {
        (f"{T}2-S1", 0.04, "DEDICATED_VNIC", "FA163E000001"), (f"{T}3-S1", 0.04, "DEDICATED_VNIC", "FA163E000001"),
    }  # fmt: skip
    kinds = {(c["event_type"], c["kind"]) for c in changes(sim, before)}
    assert {("MODIFY_URI", "ManagedSystem"), ("ADD_URI", "VirtualNICDedicated")} <= kinds

    created.delete()
    assert [(p.allocated_capacity, p.cfg_lps) for p in ports(adapter).values()] == [(0.0, 0)] * 4
    assert logical_ports(adapter) == []


def test_capacity_defaults_to_the_port_granularity_and_a_mac_is_assigned(sim):
    created = vnic(sim.pvm, [("vios1", 1, 0, None)])
    assert len(created.mac) == 12 and created.back_devs[0].capacity == 0.02
    assert ports(sim.pvm)[f"{T}1"].allocated_capacity == 0.02


def test_deleting_a_partition_frees_its_vnics(sim):
    vnic(sim.pvm, [("vios1", 1, 1, 0.1), ("vios2", 1, 0, 0.1)], owner="db-01")  # db-01 is not activated
    assert ports(sim.pvm)[f"{T}2"].allocated_capacity == 0.1
    lpar(sim.pvm, "db-01").delete()
    assert [(p.allocated_capacity, p.cfg_lps) for p in ports(sim.pvm).values()] == [(0.0, 0)] * 4
    assert logical_ports(sim.pvm) == []


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        ([("vios1", 1, 1, 0.03)], "not a multiple of the minimum capacity granularity 2.0%"),
        ([("vios1", 9, 1, None)], "SR-IOV adapter 9 does not exist"),
        ([("vios1", 1, 7, None)], "has no physical port 7"),
        ([("vios1", 1, 1, None), ("vios2", 1, 1, None)], "already backs this vNIC"),
    ],
)
def test_firmware_refusals(sim, devices, message):
    with pytest.raises(pvm_exc.HttpError) as err:
        vnic(sim.pvm, devices)
    assert err.value.response.status == 400 and message in str(err.value.response.body)
    assert [(p.allocated_capacity, p.cfg_lps) for p in ports(sim.pvm).values()] == [(0.0, 0)] * 4


def test_a_port_gives_no_more_capacity_or_logical_ports_than_it_has(sim):
    vnic(sim.pvm, [("vios1", 1, 1, 0.98)])
    with pytest.raises(pvm_exc.HttpError, match="has 2.0% capacity left; 4.0% asked"):
        vnic(sim.pvm, [("vios1", 1, 1, 0.04)])
    for _ in range(4):  # T3 is configured for 4 logical ports
        vnic(sim.pvm, [("vios2", 1, 2, None)])
    with pytest.raises(pvm_exc.HttpError, match="has no free logical port"):
        vnic(sim.pvm, [("vios2", 1, 2, None)])


@pytest.mark.parametrize("sim", [lambda d: d["vioses"][1].update(state="not activated")], indirect=True)
def test_a_vnic_server_needs_a_running_vios(sim):
    with pytest.raises(pvm_exc.HttpError, match="VIOS vios2 is not activated; a vNIC server needs a running VIOS"):
        vnic(sim.pvm, [("vios2", 1, 1, None)])


@pytest.mark.parametrize("sim", [lambda d: d["sriov_adapters"][0].update(mode="Dedicated")], indirect=True)
def test_only_shared_mode_adapters_take_logical_ports(sim):
    with pytest.raises(pvm_exc.HttpError, match="mode Dedicated.*shared mode"):
        vnic(sim.pvm, [("vios1", 1, 1, None)])


def test_a_logical_port_backing_a_vnic_cannot_be_deleted_alone(sim):
    vnic(sim.pvm, [("vios1", 1, 1, None)])
    with pytest.raises(pvm_exc.HttpError, match="backs a vNIC; delete the vNIC instead"):
        logical_ports(sim.pvm)[0].delete()


def test_relabel_through_a_system_update_keeps_the_server_fields(sim):
    adapter = sim.pvm
    vnic(adapter, [("vios1", 1, 3, None)])
    before = changes(sim)[-1]["id"]

    def relabel(system: pvm_ms.System) -> bool:
        for pport in (p for a in system.asio_config.sriov_adapters for p in a.phys_ports):
            if pport.loc_code == f"{T}4":
                pport.label, pport.sublabel = "backup", "p4"
                pport.set_parm_value("AllocatedCapacity", "50.0%")  # read-only: the server keeps its own
        return True

    pvm_sriov.safe_update_pports(pvm_ms.System.get(adapter)[0], relabel, force=True)
    now = ports(adapter)
    assert (now[f"{T}4"].label, now[f"{T}4"].sublabel, now[f"{T}4"].allocated_capacity) == ("backup", "p4", 0.02)
    assert ("MODIFY_URI", "ManagedSystem") in {(c["event_type"], c["kind"]) for c in changes(sim, before)}


@pytest.mark.parametrize(("tag", "value"), [("label", "a-label-of-17-chr"), ("sublabel", "nine-char")])
def test_labels_longer_than_firmware_allows_are_refused(sim, tag, value):
    def relabel(system: pvm_ms.System) -> bool:
        setattr(system.asio_config.sriov_adapters[0].phys_ports[0], tag, value)
        return True

    with pytest.raises(pvm_exc.HttpError, match="at most .* printable ASCII characters"):
        pvm_sriov.safe_update_pports(pvm_ms.System.get(sim.pvm)[0], relabel)
    assert ports(sim.pvm)[f"{T}1"].label == "default"
