"""The pure parts of the simulator's trunk-device host (the devices themselves: tests/compute/test_vif_ovs_e2e.py)."""

from __future__ import annotations

from powervm_openstack.simulator.runtime import ovs_devices


def test_external_ids_are_parsed_from_pypowervms_form():
    text = "iface-id=p1,iface-status=active,attached-mac=fa:16:3e:00:00:01,vm-uuid=v1"
    assert ovs_devices.parse_ext_ids(text) == {"iface-id": "p1", "iface-status": "active",
                                               "attached-mac": "fa:16:3e:00:00:01", "vm-uuid": "v1"}  # fmt: skip
    assert ovs_devices.parse_ext_ids(None) == {} and ovs_devices.parse_ext_ids("junk") == {}


def test_peer_names_are_stable_and_fit_linux():
    name = ovs_devices.peer_name("tap1234567890a")
    assert name == ovs_devices.peer_name("tap1234567890a") != ovs_devices.peer_name("tap1234567890b")
    assert len(name) <= 15


def test_powervm_macs_become_linux_macs():
    assert ovs_devices.pvm_mac_to_linux("FA163E000001") == "fa:16:3e:00:00:01"
