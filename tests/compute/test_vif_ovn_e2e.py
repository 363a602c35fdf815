"""``ovs`` VIFs with OVN: the same plug, wired by ovn-controller on the NovaLink node instead of the agent.

A private Open vSwitch with OVN's NB/SB databases, northd and ovn-controller (chassis = the
NovaLink host); the real neutron 29 server with ML2's ``ovn`` mechanism driver on Geneve networks.
"""

from __future__ import annotations

import uuid

import pytest

from powervm_openstack.compute.vif import driver_for
from powervm_openstack.simulator.runtime.ovs_devices import OvsDeviceHost
from tests.compute.test_vif_ovs_e2e import conf, status, vif_of  # noqa: F401 (conf is a fixture)
from tests.fixtures.ovs import OvsSandbox
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chassis():
    return f"novalink-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def ovn_sandbox(service_run, chassis):
    OvsSandbox.check_installed(ovn=True)
    sandbox = OvsSandbox(service_run.work_dir / f"ovn-{uuid.uuid4().hex[:6]}").start()
    sandbox.start_ovn(chassis)
    wait_for(lambda: "br-int" in sandbox.vsctl("list-br").split(), "ovn-controller's br-int", timeout=30)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def neutron(neutron_server, ovn_sandbox):
    ml2 = {
        "ml2": {"type_drivers": "geneve,flat", "project_network_types": "geneve", "mechanism_drivers": "ovn",
                "extension_drivers": "port_security"},
        "ml2_type_geneve": {"vni_ranges": "1:1000", "max_header_size": 38},
        "ovn": {"ovn_nb_connection": ovn_sandbox.nb, "ovn_sb_connection": ovn_sandbox.sb,
                "ovn_metadata_enabled": False},
    }  # fmt: skip
    return neutron_server(("ovn",), extra_ml2=ml2)


def test_plug_with_ovn_brings_the_logical_switch_port_up(ovn_sandbox, neutron, chassis, conf):  # noqa: F811
    net = neutron.post("/v2.0/networks", {"network": {"name": "ovn-e2e"}})["network"]
    neutron.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.78.0.0/24",
                                              "enable_dhcp": False}})  # fmt: skip
    instance = str(uuid.uuid4())
    body = {"network_id": net["id"], "binding:host_id": chassis, "device_owner": "compute:nova", "device_id": instance}
    port = neutron.post("/v2.0/ports", {"port": body})["port"]
    assert port["binding:vif_type"] == "ovs", port
    vif = vif_of(port, net)
    nbctl = ("ovn-nbctl", f"--db={ovn_sandbox.nb}")
    assert ovn_sandbox.run(*nbctl, "get", "Logical_Switch_Port", port["id"], "up") != "true"
    with running_simulator(event_wait=0.5) as sim:
        devices = OvsDeviceHost(ovn_sandbox.db, netns_prefix=f"pvo{uuid.uuid4().hex[:4]}-").attach(sim.store)
        adapter = connect(sim)
        try:
            lpar = new_lpar(adapter, "ovn")
            driver = driver_for(adapter, conf, vif, instance)
            driver.plug(lpar.uuid, vif)
            ovn_sandbox.run(*nbctl, "--timeout=30", "wait-until", "Logical_Switch_Port", port["id"], "up=true")
            dev = vif["devname"]
            assert ovn_sandbox.vsctl("get", "Interface", dev, "external_ids:ovn-installed") == '"true"'
            wait_for(lambda: status(neutron, port) == "ACTIVE", f"port {port['id']} ACTIVE", timeout=60)
            assert driver.unplug(lpar.uuid, vif)
            wait_for(lambda: status(neutron, port) == "DOWN", f"port {port['id']} DOWN after unplug", timeout=60)
        finally:
            disconnect(adapter)
            devices.close()
