"""SR-IOV pseudo-VFs for nova's PCI tracker (pure), checked against nova's own device_spec matching."""

from __future__ import annotations

from decimal import Decimal

from nova.pci import whitelist

from powervm_openstack.compute import pci
from powervm_openstack.network.sriov_ports import PhysicalPort


def _port(adapter: int, port: int, label: str = "", link: bool = True, usable: bool = True, lps: int = 4):
    return PhysicalPort(location_code=f"U78C7.001.RCH0004-P1-C{adapter}-T{port + 1}", label=label,
                        adapter_id=adapter, port_id=port, link_up=link, granularity=Decimal("0.02"),
                        allocated=Decimal(0), logical_ports=0, max_logical_ports=lps, usable=usable)  # fmt: skip


def test_one_type_vf_per_configured_logical_port_of_usable_link_up_ports():
    ports = [_port(1, 0, lps=10), _port(1, 1, link=False), _port(2, 0, usable=False), _port(2, 1, lps=0)]
    devices = pci.pseudo_vfs(ports)
    assert len(devices) == 10 and {d["dev_type"] for d in devices} == {"type-VF"}
    assert [d["address"] for d in devices[:9:8]] == ["0001:00:01.0", "0001:00:02.0"]
    assert {d["parent_addr"] for d in devices} == {"0001:00:00.0"}
    assert len({d["address"] for d in devices}) == 10  # unique, as nova's database requires
    assert all(len(d["address"]) == 12 for d in devices)


def test_device_spec_by_address_tags_each_physical_network():
    devices = pci.pseudo_vfs([_port(1, 0, label="default"), _port(1, 1, label="prod")])
    specs = whitelist.Whitelist(['{"address": "0001:00:*.*", "physical_network": "default"}',
                                 '{"address": "0001:01:*.*", "physical_network": "prod"}'])  # fmt: skip
    tags = {d["label"]: specs.device_assignable(d).get_tags()["physical_network"] for d in devices}
    assert tags == {"powervm_default": "default", "powervm_prod": "prod"}


def test_one_physical_network_needs_only_its_name():
    devices = pci.pseudo_vfs([_port(1, 0)])
    spec = whitelist.Whitelist(['{"physical_network": "default"}']).device_assignable(devices[0])
    assert spec is not None and spec.get_tags()["physical_network"] == "default"
