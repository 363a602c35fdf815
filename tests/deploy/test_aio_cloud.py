"""The whole cloud on one machine: a server on a pvm_sea port booted through the nova API.

keystone, glance, placement, nova (API, conductor, scheduler, compute with the PowerVM driver),
neutron (API, RPC server, ML2 pvm_sea/pvm_sriov), the SEA and SR-IOV agents and the simulator as
the NovaLink host, each its own process, brought up once for the module.
"""

from __future__ import annotations

import pytest

from powervm_openstack.deploy.aio import novalink
from powervm_openstack.deploy.aio.cloud import Cloud
from tests.fixtures.waiting import wait_for

# The first test's time includes the shared cloud's bring-up (pytest-timeout counts fixture set-up):
# with the suite's four steps on 2 cores (load average up to 25) 600 s was not enough.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

VLAN = 1234


def sea_vlans(cloud: Cloud) -> list[set[int]]:
    return novalink.sea_vlans(cloud.sim.url)


def test_server_on_a_sea_port_boots_and_goes_away(aio_cloud: Cloud) -> None:
    cloud = aio_cloud
    print(f"bring-up: {cloud.bring_up_seconds:.0f} s; steps: {cloud.steps}")
    conn = cloud.connection()
    assert len(sea_vlans(cloud)) == 2, "the default host has a failover SEA pair"
    net = conn.network.create_network(name="vlan-net", provider_network_type="vlan",
                                      provider_physical_network="default", provider_segmentation_id=VLAN)  # fmt: skip
    conn.network.create_subnet(network_id=net.id, cidr="10.34.0.0/24", ip_version=4)
    image = conn.image.create_image(name="tiny", data=b"\0" * 65536, disk_format="raw", container_format="bare",
                                    visibility="public", allow_duplicates=True)  # fmt: skip
    wait_for(lambda: conn.image.get_image(image.id).status == "active", "the image to become active")
    port = conn.network.create_port(network_id=net.id)
    assert all(VLAN not in vlans for vlans in sea_vlans(cloud))

    server = conn.compute.create_server(name="vm1", image_id=image.id, flavor_id="1", networks=[{"port": port.id}])
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=240, interval=2)
    port = conn.network.get_port(port.id)
    assert port.status == "ACTIVE"
    assert port.binding_vif_type == "pvm_sea", port.binding_vif_type
    # The agent reports the port up only after the VLAN is on both SEAs of the pair.
    assert all(VLAN in vlans for vlans in sea_vlans(cloud)), sea_vlans(cloud)
    assert novalink.partition_state(cloud.sim.url, server.id) == "running"

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=180, interval=2)
    assert novalink.partition_state(cloud.sim.url, server.id) is None
    wait_for(lambda: all(VLAN not in vlans for vlans in sea_vlans(cloud)), "the VLAN to leave both SEAs", timeout=90)
    # The cloud is shared: leave it as it was found (the demo's test uses VLAN 1234 again).
    conn.network.delete_port(port, ignore_missing=True)
    conn.network.delete_network(net, ignore_missing=True)
    conn.image.delete_image(image, ignore_missing=True)
