"""Fixtures of the tests that use the shared all-in-one cloud: an image and VLAN networks that clean up after themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from powervm_openstack.deploy.aio.cloud import Cloud
from tests.fixtures.waiting import wait_for


@pytest.fixture
def image(aio_cloud: Cloud) -> Iterator[Any]:
    conn = aio_cloud.connection()
    image = conn.image.create_image(name="tiny-sriov", data=b"\1" * 65536, disk_format="raw",
                                    container_format="bare", allow_duplicates=True)  # fmt: skip
    wait_for(lambda: conn.image.get_image(image.id).status == "active", "the image to become active")
    yield image
    conn.image.delete_image(image, ignore_missing=True)


@pytest.fixture
def network(aio_cloud: Cloud) -> Iterator[Callable[[str, str, int], Any]]:
    """Make a VLAN network; afterwards delete every server on it, its ports and it."""
    conn, made = aio_cloud.connection(), []

    def make(name: str, physnet: str, vlan: int) -> Any:
        net = conn.network.create_network(name=name, provider_network_type="vlan", provider_physical_network=physnet,
                                          provider_segmentation_id=vlan)  # fmt: skip
        made.append(net)
        conn.network.create_subnet(network_id=net.id, cidr=f"10.{vlan % 250}.0.0/24", ip_version=4)
        return net

    yield make
    for net in made:
        ports = list(conn.network.ports(network_id=net.id))
        for server_id in {p.device_id for p in ports if (p.device_owner or "").startswith("compute:")}:
            server = conn.compute.find_server(server_id, ignore_missing=True)
            if server is not None:
                conn.compute.delete_server(server)
                conn.compute.wait_for_delete(server, wait=240, interval=2)
        for port in ports:
            conn.network.delete_port(port, ignore_missing=True)
        conn.network.delete_network(net, ignore_missing=True)


def boot(conn: Any, name: str, image: Any, port: Any) -> Any:
    """A server on ``port`` booted through nova, once ACTIVE."""
    server = conn.compute.create_server(name=name, image_id=image.id, flavor_id="1", networks=[{"port": port.id}])
    return conn.compute.wait_for_server(server, status="ACTIVE", wait=300, interval=2)


def delete(conn: Any, server: Any) -> None:
    """Delete ``server`` and wait until nova has."""
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=240, interval=2)
