"""The all-in-one cloud with Open vSwitch (``Cloud(ovs=True)``): servers on OVS-backed ports through nova.

The cloud's NovaLink host runs a private Open vSwitch (userspace datapath) and the real neutron
OVS agent; ML2 has ``openvswitch`` beside ``pvm_sea``/``pvm_sriov``. A flat network on the
physical network only the OVS agent maps (``ovsnet``) is bound by ``openvswitch``; the compute
driver plugs its ports as client + trunk adapters, and the simulator makes each trunk a device on br-int.
"""

from __future__ import annotations

import subprocess

import pytest
from keystoneauth1 import exceptions as ksa_exc

from powervm_openstack.deploy.aio import novalink
from powervm_openstack.deploy.aio import ovs as aio_ovs
from powervm_openstack.deploy.aio.cloud import COMPUTE_HOST, Cloud
from tests.fixtures import hybrid_firewall
from tests.fixtures.cloud import REPO
from tests.fixtures.waiting import wait_for

# The first test's time includes the cloud's bring-up (pytest-timeout counts fixture set-up), which
# took 506 s on 2 cores shared with other work.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

# Polls every second: the APIs' gunicorn closes a connection idle for 2 s, and a request sent on
# it just then fails with "Remote end closed connection without response".
POLL = 1


@pytest.fixture(scope="module")
def ovs_network(aio_ovs_cloud: Cloud):
    conn = aio_ovs_cloud.connection()
    net = conn.network.create_network(name="ovs-net", provider_network_type="flat",
                                      provider_physical_network=aio_ovs.PHYSNET)  # fmt: skip
    conn.network.create_subnet(network_id=net.id, cidr="10.78.0.0/24", ip_version=4)
    image = conn.image.create_image(name="tiny-ovs", data=b"\0" * 65536, disk_format="raw", container_format="bare",
                                    visibility="public", allow_duplicates=True)  # fmt: skip
    wait_for(lambda: conn.image.get_image(image.id).status == "active", "the image to become active")
    yield net, image
    conn.image.delete_image(image)
    for port in conn.network.ports(network_id=net.id):  # ports a test created (nova keeps them)
        conn.network.delete_port(port)
    conn.network.delete_network(net)


def device(port_id: str) -> str:
    return ("tap" + port_id)[:14]  # nova's devname, after which the driver names the trunk


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def test_server_on_an_ovs_port_goes_active_and_its_device_goes_away(aio_ovs_cloud: Cloud, ovs_network) -> None:
    cloud, (net, image) = aio_ovs_cloud, ovs_network
    print(f"bring-up: {cloud.bring_up_seconds:.0f} s; steps: {cloud.steps}")
    conn = cloud.connection()
    port = conn.network.create_port(network_id=net.id)
    server = conn.compute.create_server(name="vm-ovs", image_id=image.id, flavor_id="1", networks=[{"port": port.id}])
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=240, interval=POLL)
    port = conn.network.get_port(port.id)
    assert (port.status, port.binding_vif_type, port.binding_host_id) == ("ACTIVE", "ovs", COMPUTE_HOST)

    dev = device(port.id)
    assert dev in cloud.ovs.switch.vsctl("list-ports", "br-int").split()
    ids = cloud.ovs.switch.vsctl("get", "Interface", dev, "external_ids")
    for expected in (f'iface-id="{port.id}"', f'attached-mac="{port.mac_address}"', f'vm-uuid="{server.id}"'):
        assert expected in ids, ids
    assert f"iface-id={port.id}" in novalink.ovs_trunks(cloud.sim.url)[dev]
    assert novalink.partition_state(cloud.sim.url, server.id) == "running"

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=180, interval=POLL)
    assert dev not in novalink.ovs_trunks(cloud.sim.url)
    assert dev not in cloud.ovs.switch.vsctl("list-ports", "br-int").split()
    assert not link_exists(dev)


def test_hybrid_plugging_fails_the_boot_naming_the_firewall_driver(aio_ovs_cloud: Cloud, ovs_network) -> None:
    """The agent restarted with a firewall that asks for hybrid plugging (as iptables_hybrid does; last test)."""
    cloud, (net, image) = aio_ovs_cloud, ovs_network
    conn = cloud.connection()
    cloud.ovs.restart_agent(hybrid_firewall.PATH, env={"PYTHONPATH": str(REPO)})

    def reports_hybrid() -> bool:
        try:
            agents = list(conn.network.agents(host=COMPUTE_HOST, binary=aio_ovs.AGENT))
        except ksa_exc.ConnectFailure:
            return False
        return any(a.is_alive and a.configuration.get("ovs_hybrid_plug") is True for a in agents)

    wait_for(reports_hybrid, "the OVS agent to report ovs_hybrid_plug", timeout=120, interval=POLL)
    port = conn.network.create_port(network_id=net.id)
    server = conn.compute.create_server(name="vm-hybrid", image_id=image.id, flavor_id="1",
                                        networks=[{"port": port.id}])  # fmt: skip
    try:
        server = conn.compute.wait_for_server(server, status="ERROR", failures=["ACTIVE"], wait=240, interval=POLL)
        fault = (server.fault or {}).get("message", "")
        assert "firewall_driver = openvswitch" in fault, fault
        assert f"port {port.id}" in fault, fault
        assert device(port.id) not in novalink.ovs_trunks(cloud.sim.url)  # the rollback left no trunk
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=180, interval=POLL)
        conn.network.delete_port(port, ignore_missing=True)
