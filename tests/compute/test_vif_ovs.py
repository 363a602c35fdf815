"""The ``ovs`` VIF driver against the simulator, through the real pypowervm (no Open vSwitch needed)."""

from __future__ import annotations

import uuid

import pytest
from nova import exception as nova_exc
from nova.network import model as network_model
from oslo_config import cfg
from pypowervm.tasks import partition as pvm_par
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute import conf as pvm_conf
from powervm_openstack.compute.vif import driver_for, ovs, ovs_lpm
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def conf():
    opts = cfg.ConfigOpts()
    pvm_conf.register_opts(opts)
    opts([], project="nova")
    return opts


def ovs_vif(mac: str, mtu: int = 1450, **details: object) -> network_model.VIF:
    """A VIF as nova builds it from a port bound by the openvswitch mechanism driver."""
    port_id = str(uuid.uuid4())
    details = {"port_filter": True, "ovs_hybrid_plug": False, "datapath_type": "netdev", "bridge_name": "br-int",
               **details}  # fmt: skip
    network = network_model.Network(id=str(uuid.uuid4()), bridge="br-int", meta={"mtu": mtu})
    return network_model.VIF(id=port_id, address=mac, type="ovs", details=details, network=network,
                             devname=("tap" + port_id)[:14])  # fmt: skip


def trunks_of(adapter):
    mgmt = pvm_par.get_mgmt_partition(adapter)
    return [c for c in pvm_net.CNA.get(adapter, parent=mgmt) if c.is_trunk and c.ovs_bridge]


def test_plug_creates_the_pair_named_after_the_port(adapter, conf):
    lpar = new_lpar(adapter, "o")
    vif = ovs_vif("fa:16:3e:10:00:01")
    instance = str(uuid.uuid4())
    href = driver_for(adapter, conf, vif, instance).plug(lpar.uuid, vif)
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    (trunk,) = [t for t in trunks_of(adapter) if t.dev_name == vif["devname"]]
    assert cna.uuid in href and cna.pvid == trunk.pvid and cna.vswitch_id == trunk.vswitch_id
    switch = pvm_net.VSwitch.search(adapter, parent_type="ManagedSystem", one_result=True, name="NovaLinkVEABridge")
    assert trunk.vswitch_id == switch.switch_id and trunk.ovs_bridge == "br-int" and trunk.configured_mtu == 1450
    assert ovs_ids(trunk) == {"iface-id": vif["id"], "iface-status": "active", "attached-mac": vif["address"],
                              "vm-uuid": instance}  # fmt: skip
    driver = driver_for(adapter, conf, vif, instance)
    assert driver.unplug(lpar.uuid, vif)
    assert not pvm_net.CNA.get(adapter, parent=lpar)
    assert not [t for t in trunks_of(adapter) if t.dev_name == vif["devname"]]
    assert not driver.unplug(lpar.uuid, vif)


def ovs_ids(trunk) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in trunk.ovs_ext_ids.split(","))


def test_replug_refreshes_the_trunk_and_recreates_a_missing_one(adapter, conf):
    lpar = new_lpar(adapter, "o")
    vif = ovs_vif("fa:16:3e:10:00:02")
    driver = driver_for(adapter, conf, vif, str(uuid.uuid4()))
    driver.plug(lpar.uuid, vif)
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    (trunk,) = [t for t in trunks_of(adapter) if t.dev_name == vif["devname"]]
    etag = trunk.etag
    assert cna.uuid in driver.plug(lpar.uuid, vif)  # same client adapter, trunk updated (NovaLink re-plugs the device)
    (again,) = [t for t in trunks_of(adapter) if t.dev_name == vif["devname"]]
    assert again.uuid == trunk.uuid and again.etag != etag
    again.delete()
    driver.plug(lpar.uuid, vif)
    (restored,) = [t for t in trunks_of(adapter) if t.dev_name == vif["devname"]]
    assert restored.pvid == cna.pvid and ovs_ids(restored)["iface-id"] == vif["id"]
    driver.unplug(lpar.uuid, vif)


def test_hybrid_plug_is_refused_naming_the_firewall_driver(adapter, conf):
    lpar = new_lpar(adapter, "o")
    vif = ovs_vif("fa:16:3e:10:00:03", ovs_hybrid_plug=True)
    with pytest.raises(nova_exc.VirtualInterfacePlugException) as err:
        driver_for(adapter, conf, vif, "i").plug(lpar.uuid, vif)
    assert vif["id"] in str(err.value) and "firewall_driver = openvswitch" in str(err.value)
    assert not pvm_net.CNA.get(adapter, parent=lpar)


def test_orphaned_trunks_are_removed_at_start(adapter, conf):
    lpar = new_lpar(adapter, "o")
    vif = ovs_vif("fa:16:3e:10:00:04")
    driver_for(adapter, conf, vif, "i").plug(lpar.uuid, vif)
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    cna.delete()  # the client went away (failed migration, partition deleted behind nova's back)
    assert vif["devname"] in ovs.remove_orphan_trunks(adapter, "NovaLinkVEABridge")
    assert not [t for t in trunks_of(adapter) if t.dev_name == vif["devname"]]


def test_live_migration_hooks_move_the_trunk_between_two_hosts(adapter, conf):
    """Source = the module's host, destination = a second simulated host; the partition's move is simulated."""
    lpar = new_lpar(adapter, "lpm")
    vif = ovs_vif("fa:16:3e:10:00:05")
    instance = str(uuid.uuid4())
    driver_for(adapter, conf, vif, instance).plug(lpar.uuid, vif)
    with running_simulator(event_wait=0.5) as dest_sim:
        dest = connect(dest_sim)
        try:
            stale = ovs_lpm.pre_live_migration_dest(dest, conf, [vif], instance)  # a first try that fails
            assert ovs_lpm.rollback_live_migration_dest(dest, [vif]) == [vif["devname"]]
            assert not [t for t in trunks_of(dest) if t.dev_name == vif["devname"]]
            ovs_lpm.pre_live_migration_dest(dest, conf, [vif], instance)
            ovs_lpm.pre_live_migration_dest(dest, conf, [vif], instance)  # a leftover of the same name is replaced
            (trunk,) = [t for t in trunks_of(dest) if t.dev_name == vif["devname"]]
            mappings = ovs_lpm.pre_live_migration_dest(dest, conf, [vif], instance)
            (trunk,) = [t for t in trunks_of(dest) if t.dev_name == vif["devname"]]
            assert set(mappings) == set(stale) == {"FA163E100005"} and mappings["FA163E100005"] == trunk.pvid
            assert ovs_ids(trunk)["vm-uuid"] == instance and trunk.ovs_bridge == "br-int"
        finally:
            disconnect(dest)
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    cna.delete()  # the client adapter left with the partition
    assert ovs_lpm.post_live_migration_source(adapter, [vif]) == [vif["devname"]]
    assert not [t for t in trunks_of(adapter) if t.dev_name == vif["devname"]]


def test_the_private_switch_is_created_when_missing(adapter):
    opts = cfg.ConfigOpts()
    pvm_conf.register_opts(opts)
    opts([], project="nova")
    opts.set_override("pvm_vswitch_for_novalink_io", "OvsPrivateVEA", group="powervm")
    lpar = new_lpar(adapter, "o")
    vif = ovs_vif("fa:16:3e:10:00:06")
    driver_for(adapter, opts, vif, "i").plug(lpar.uuid, vif)
    switch = pvm_net.VSwitch.search(adapter, parent_type="ManagedSystem", one_result=True, name="OvsPrivateVEA")
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    assert switch is not None and cna.vswitch_id == switch.switch_id
    driver_for(adapter, opts, vif, "i").unplug(lpar.uuid, vif)
