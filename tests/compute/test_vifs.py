"""VIF drivers against the simulator, driven through pypowervm as the driver does it."""

from __future__ import annotations

import uuid

import pytest
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute.vif import mgmt, sea, sriov
from powervm_openstack.pvm import vif_event
from tests.fixtures.simulator import new_lpar

pytestmark = pytest.mark.integration


@pytest.fixture
def lpar(adapter):
    return new_lpar(adapter, "v")


def _vif(vif_type: str, mac: str, **details: object) -> dict:
    return {"id": str(uuid.uuid4()), "address": mac, "type": vif_type, "details": details}


def test_sea_plug_creates_the_vlan_adapter_and_posts_the_event(sim, adapter, lpar):
    since = sim.store.last_change_id()
    vif = _vif("pvm_sea", "fa:16:3e:00:00:01", vlan="321")
    driver = sea.SeaVifDriver(adapter, None)
    href = driver.plug(lpar.uuid, vif)
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    assert cna.pvid == 321 and vif_event.norm_mac(cna.mac) == vif["address"] and cna.uuid in href
    assert cna.uuid in driver.plug(lpar.uuid, vif)  # idempotent: no second adapter
    assert len(pvm_net.CNA.get(adapter, parent=lpar)) == 1
    events = [c for c in sim.store.changes_since(since) if c.event_type == "CUSTOM_CLIENT_EVENT"]
    assert [vif_event.parse(e.event_type, e.path, e.detail).action for e in events] == ["plug"]
    assert driver.unplug(lpar.uuid, vif) and not pvm_net.CNA.get(adapter, parent=lpar)
    assert not driver.unplug(lpar.uuid, vif)


def test_sea_without_a_vlan_is_refused_with_the_port_named(adapter, lpar):
    from nova import exception as nova_exc

    vif = _vif("pvm_sea", "fa:16:3e:00:00:02")
    with pytest.raises(nova_exc.VirtualInterfacePlugException) as err:
        sea.SeaVifDriver(adapter, None).plug(lpar.uuid, vif)
    assert vif["id"] in str(err.value) and "vlan None" in str(err.value)


def test_sriov_plug_creates_a_vnic_on_the_given_ports(adapter, lpar):
    sysw = pvm_ms.System.get(adapter)[0]
    ports = [p.loc_code for a in sysw.asio_config.sriov_adapters for p in a.phys_ports if p.label == "default"]
    vif = _vif("pvm_sriov", "fa:16:3e:00:00:03", vlan="55", physical_ports=ports[:1], redundancy=1, capacity=0.02)
    driver = sriov.SriovVifDriver(adapter, None)
    driver.plug(lpar.uuid, vif)
    (vnic,) = pvm_card.VNIC.get(adapter, parent=lpar)
    assert vnic.pvid == 55 and vif_event.norm_mac(vnic.mac) == vif["address"]
    assert [b.pport_loc_code if hasattr(b, "pport_loc_code") else None for b in vnic.back_devs]
    assert driver.unplug(lpar.uuid, vif) and not pvm_card.VNIC.get(adapter, parent=lpar)


def test_rmc_adapter_on_mgmtswitch_once(adapter, lpar):
    host = pvm_ms.System.get(adapter)[0].uuid
    first = mgmt.plug(adapter, host, lpar.uuid)
    assert first and mgmt.plug(adapter, host, lpar.uuid).split("?")[0] == first.split("?")[0]
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    assert cna.pvid == 4094


def _backing_ports(adapter, sysw, vnic):
    where = {(a.sriov_adap_id, p.port_id): p.loc_code for a in sysw.asio_config.sriov_adapters for p in a.phys_ports}
    return sorted(where[(b.sriov_adap_id, b.pport_id)] for b in vnic.back_devs)


def test_sriov_plug_prefers_link_up_ports_and_takes_link_down_ones_for_redundancy(adapter, lpar):
    sysw = pvm_ms.System.get(adapter)[0]
    prod = [p for a in sysw.asio_config.sriov_adapters for p in a.phys_ports if p.label == "prod"]
    up = [p.loc_code for p in prod if p.link_status]
    down = [p.loc_code for p in prod if not p.link_status]
    assert up and down, "the default host has prod ports with the link up and down"
    driver = sriov.SriovVifDriver(adapter, None)
    # Redundancy 1: the link-up port, even when the binding lists the link-down one first.
    vif = _vif("pvm_sriov", "fa:16:3e:00:00:04", vlan="56", physical_ports=down + up, redundancy=1)
    driver.plug(lpar.uuid, vif)
    (vnic,) = pvm_card.VNIC.get(adapter, parent=lpar)
    assert _backing_ports(adapter, sysw, vnic) == up
    assert driver.unplug(lpar.uuid, vif)
    # Redundancy 2 with one link up: the link-down port completes it (PowerVM accepts it; failover target).
    vif = _vif("pvm_sriov", "fa:16:3e:00:00:05", vlan="56", physical_ports=up + down[:1], redundancy=2)
    driver.plug(lpar.uuid, vif)
    (vnic,) = pvm_card.VNIC.get(adapter, parent=lpar)
    assert _backing_ports(adapter, sysw, vnic) == sorted(up + down[:1])
    assert driver.unplug(lpar.uuid, vif)
