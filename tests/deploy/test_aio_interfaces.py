"""Attach and detach an interface on a running server through nova (tempest skips its interface tests without guest validation).

The shared ``aio_cloud``: nova-compute's PowerVM driver adds a client adapter to the running
partition (which has RMC, through the driver's management VIF), the SEA agent puts its VLAN on both
SEAs and neutron reports the port ACTIVE; detach removes the adapter, and once the port is deleted
its VLAN goes.
"""

from __future__ import annotations

from typing import Any

import pytest

from powervm_openstack.deploy.aio import novalink
from powervm_openstack.deploy.aio.cloud import Cloud
from tests.deploy.conftest import boot, delete
from tests.fixtures.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

BOOT_VLAN = 1320
ATTACH_VLAN = 1321


def test_interface_attach_and_detach_on_a_running_server(aio_cloud: Cloud, image: Any, network: Any) -> None:
    cloud, conn = aio_cloud, aio_cloud.connection()
    server = boot(conn, "vm-ifaces", image, conn.network.create_port(network_id=network("if-boot", "default",
                                                                                          BOOT_VLAN).id))  # fmt: skip
    assert novalink.partition_state(cloud.sim.url, server.id) == "running"
    port = conn.network.create_port(network_id=network("if-attach", "default", ATTACH_VLAN).id)
    assert all(ATTACH_VLAN not in vlans for vlans in novalink.sea_vlans(cloud.sim.url))

    conn.compute.create_server_interface(server, port_id=port.id)
    port = wait_for(lambda: (p := conn.network.get_port(port.id)).status == "ACTIVE" and p,
                    "the attached port to go ACTIVE", timeout=240)  # fmt: skip
    assert port.device_id == server.id and port.binding_vif_type == "pvm_sea", (port.device_id, port.binding_vif_type)
    assert all(ATTACH_VLAN in vlans for vlans in novalink.sea_vlans(cloud.sim.url)), "its VLAN on both SEAs"

    conn.compute.delete_server_interface(port.id, server)
    wait_for(lambda: port.id not in {i.port_id for i in conn.compute.server_interfaces(server)},
             "nova to detach the interface", timeout=240)  # fmt: skip
    wait_for(lambda: not conn.network.get_port(port.id).device_id, "neutron to release the port", timeout=120)
    conn.network.delete_port(port)
    wait_for(lambda: all(ATTACH_VLAN not in vlans for vlans in novalink.sea_vlans(cloud.sim.url)),
             "the detached port's VLAN to leave both SEAs", timeout=180)  # fmt: skip
    assert conn.compute.get_server(server.id).status == "ACTIVE"
    delete(conn, server)
