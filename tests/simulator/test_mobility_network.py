"""Live partition mobility of network adapters between two simulators, through pypowervm's ``tasks.migration``.

``VlanMappings`` (the moved adapter's VLAN on the destination), ``OVSOverride`` (an adapter whose
trunk is on the NovaLink partition, as an ``ovs`` VIF's) and the SR-IOV refusals. Every outcome is
read back with fresh GETs from both simulators.
"""

from __future__ import annotations

import pytest
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import partition as pvm_par
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.simulator import test_mobility

pytestmark = pytest.mark.integration
hosts = test_mobility.hosts  # the two-simulator fixture (source: default topology, destination: renamed copy)

OVS_SWITCH = "NovaLinkVEABridge"
MAC = "FA163E200001"
OVS_ATTRS = {"dev_name": "nic-port-1", "ovs_bridge": "br-int", "ovs_ext_ids": "iface-id=port-1,vm-uuid=x"}


def _ovs_pair(adapter, lpar):
    """A client adapter on ``lpar`` and its trunk on the NovaLink partition, as the ``ovs`` VIF driver makes them."""
    mgmt = pvm_par.get_mgmt_partition(adapter)
    cna, (trunk,) = pvm_cna.crt_p2p_cna(adapter, None, lpar.uuid, [mgmt.uuid], OVS_SWITCH, mac_addr=MAC, **OVS_ATTRS)
    return cna, trunk


def _dest_trunk(adapter, dev_name: str = "nic-port-1"):
    mgmt = pvm_par.get_mgmt_partition(adapter)
    (trunk,) = pvm_cna.crt_trunk_with_free_vlan(adapter, None, [mgmt.uuid], OVS_SWITCH,
                                                **{**OVS_ATTRS, "dev_name": dev_name})  # fmt: skip
    return trunk


def _cnas_on(adapter, lpar_uuid: str) -> dict[str, pvm_net.CNA]:
    part = next(p for p in pvm_lpar.LPAR.get(adapter) if p.uuid == lpar_uuid)
    return {c.mac: c for c in pvm_net.CNA.get(adapter, parent=part)}


def _trunks(adapter) -> list[str]:
    mgmt = pvm_par.get_mgmt_partition(adapter)
    return [c.uuid for c in pvm_net.CNA.get(adapter, parent=mgmt) if c.is_trunk]


def test_ovs_adapter_needs_the_override_and_arrives_on_the_mapped_vlan(hosts):
    lpar = hosts.lpar("web-01")
    cna, src_trunk = _ovs_pair(hosts.src, lpar)
    before = {mac: (c.pvid, c.slot) for mac, c in _cnas_on(hosts.src, lpar.uuid).items()}
    with pytest.raises(pvm_exc.JobRequestFailed, match=rf"{MAC} .* on VLAN {cna.pvid} of {OVS_SWITCH}, whose trunk is "
                       "on the NovaLink partition, not a VIOS; migrating it needs OVSOverride=2"):  # fmt: skip
        hosts.migrate(lpar, validate_only=True)
    # the override alone: the mapped VLAN is carried by nothing on the destination yet
    with pytest.raises(pvm_exc.JobRequestFailed, match=rf"VLAN 77 on {OVS_SWITCH} \(adapter {MAC}\) is not bridged"):
        hosts.migrate(lpar, sdn_override=True, vlan_mappings=[f"{MAC}/77"])
    assert "web-01" in hosts.names(hosts.src) and "web-01" not in hosts.names(hosts.dst)

    _dest_trunk(hosts.dst, "nic-other")  # another instance's: the source's VLAN is taken on the destination
    trunk = _dest_trunk(hosts.dst)  # what the destination's pre_live_migration makes
    assert trunk.pvid != cna.pvid
    hosts.migrate(lpar, validate_only=True, sdn_override=True, vlan_mappings=[f"{MAC.lower()}/{trunk.pvid}"])
    hosts.migrate(lpar, sdn_override=True, vlan_mappings=[f"{MAC}/{trunk.pvid}"])

    moved = _cnas_on(hosts.dst, lpar.uuid)
    switch = pvm_net.VSwitch.search(hosts.dst, parent_type="ManagedSystem", one_result=True, name=OVS_SWITCH)
    assert (moved[MAC].pvid, moved[MAC].slot, moved[MAC].vswitch_id) == (trunk.pvid, cna.slot, switch.switch_id)
    assert {m: (c.pvid, c.slot) for m, c in moved.items() if m != MAC} == {m: v for m, v in before.items() if m != MAC}
    assert src_trunk.uuid in _trunks(hosts.src)  # the trunks stay where they are: the driver removes the source's


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("FA163E20000/12", "is not valid; the format is MAC/PVID"),
        ("FA:16:3E:20:00:01/12", "is not valid"),
        (f"{MAC}", "is not valid"),
        (f"{MAC}/4095", "is not valid"),
        (f"{MAC}/12/0", "is not valid"),
        (f"{MAC}/12/100,200", "'200' is not valid"),
        ("0011223344AA/12", "names MAC 0011223344AA, which no client network adapter of partition web-01"),
    ],
)
def test_malformed_vlan_mappings_are_refused_naming_the_entry(hosts, entry, reason):
    lpar = hosts.lpar("web-01")
    _ovs_pair(hosts.src, lpar)
    with pytest.raises(pvm_exc.JobRequestFailed, match=reason) as err:
        hosts.migrate(lpar, sdn_override=True, vlan_check_override=True, vlan_mappings=[entry])
    assert entry.split(",")[-1] in str(err.value)
    assert "web-01" in hosts.names(hosts.src) and "web-01" not in hosts.names(hosts.dst)


def test_a_mac_mapped_twice_is_refused(hosts):
    lpar = hosts.lpar("web-01")
    _ovs_pair(hosts.src, lpar)
    with pytest.raises(pvm_exc.JobRequestFailed, match=f"maps MAC {MAC} a second time"):
        hosts.migrate(lpar, sdn_override=True, vlan_mappings=[f"{MAC}/12", f"{MAC}/13"])


def test_a_mapping_with_additional_vlans_tags_them_on_the_destination(hosts):
    lpar = hosts.lpar("web-01")
    _ovs_pair(hosts.src, lpar)
    hosts.migrate(lpar, sdn_override=True, vlan_check_override=True, vlan_mappings=[f"{MAC}/30/31 32"])
    moved = _cnas_on(hosts.dst, lpar.uuid)[MAC]
    assert (moved.pvid, moved.tagged_vlans, moved.is_tagged_vlan_supported) == (30, [31, 32], True)


def _vios(adapter):
    return pvm_vios.VIOS.get(adapter)[0]


def test_a_partition_with_a_vnic_is_refused_naming_it(hosts):
    lpar = hosts.lpar("web-01")
    back = pvm_iocard.VNICBackDev.bld(hosts.src, _vios(hosts.src).uuid, 1, 0)
    pvm_iocard.VNIC.bld(hosts.src, pvid=100, mac_addr="FA163E300001", back_devs=[back]).create(parent=lpar)
    for validate in (True, False):
        with pytest.raises(pvm_exc.JobRequestFailed, match="has vNIC FA163E300001 .* cannot name the destination's "
                           "SR-IOV backing devices"):  # fmt: skip
            hosts.migrate(lpar, validate_only=validate)
    assert "web-01" in hosts.names(hosts.src) and "web-01" not in hosts.names(hosts.dst)
    assert [v.mac for v in pvm_iocard.VNIC.get(hosts.src, parent=lpar)] == ["FA163E300001"]


def test_a_partition_owning_an_sriov_logical_port_is_refused_naming_it(hosts):
    lpar = hosts.lpar("web-01")
    pvm_iocard.SRIOVEthLPort.bld(hosts.src, 1, 0, pvid=400, cfg_capacity=0.02).create(parent=lpar)
    with pytest.raises(pvm_exc.JobRequestFailed, match=r"owns SR-IOV logical port \S+ \(adapter 1 port 0\) directly"):
        hosts.migrate(lpar, validate_only=True)
    assert "web-01" in hosts.names(hosts.src) and "web-01" not in hosts.names(hosts.dst)
