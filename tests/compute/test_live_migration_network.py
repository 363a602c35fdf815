"""The VLAN mappings' trip in nova's ``VMwareLiveMigrateData``: written on the destination, read on the source."""

from __future__ import annotations

import types

from nova import objects
from nova.objects import migrate_data

from powervm_openstack.compute import live_migration_network as lpm_net


def _data(rest: str = "10.0.0.2:12443") -> migrate_data.VMwareLiveMigrateData:
    objects.register_all()
    data = migrate_data.VMwareLiveMigrateData()
    data.cluster_name, data.datastore_regex = "Server-9009-42A-SN78CD34E", rest
    return data


def test_without_mappings_the_field_is_the_rest_address() -> None:
    data = _data()
    assert (lpm_net.rest_endpoint(data), lpm_net.vlan_mappings(data)) == ("10.0.0.2:12443", [])


def test_mappings_survive_nova_serialisation_and_a_second_prepare(monkeypatch) -> None:
    data = _data()
    trunks = iter([{"FA163E000002": 7, "FA163E000001": 5}, {"FA163E000001": 9}])
    monkeypatch.setattr(lpm_net.ovs_lpm, "pre_live_migration_dest", lambda *args: next(trunks))
    driver = types.SimpleNamespace(adapter=None, host_name="host2")
    instance = types.SimpleNamespace(uuid="i-1")
    lpm_net.prepare_destination(driver, None, instance, [], data)
    # what nova's RPC layer does between the destination and the source
    data = migrate_data.VMwareLiveMigrateData.obj_from_primitive(data.obj_to_primitive())
    assert lpm_net.rest_endpoint(data) == "10.0.0.2:12443"
    assert lpm_net.vlan_mappings(data) == ["FA163E000001/5", "FA163E000002/7"]
    lpm_net.prepare_destination(driver, None, instance, [], data)  # a retry replaces, never appends
    assert (lpm_net.rest_endpoint(data), lpm_net.vlan_mappings(data)) == ("10.0.0.2:12443", ["FA163E000001/9"])
