"""Metering a server of the all-in-one cloud: the cloud's ceilometer-polling (compute namespace, our pollsters).

The shared cloud runs the agent with the files the renderer makes for a compute node with
telemetry on (``tests/fixtures/cloud.py`` SHARED_OPTIONS); the test boots a server on a VLAN network
(pvm_sea port), reads its samples from the agent's Prometheus exporter and deletes it again.
"""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
from pypowervm.utils import uuid as pvm_uuid

from powervm_openstack.deploy.aio.cloud import Cloud
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration

VLAN = 1250
METERS = ("ceilometer_cpu", "ceilometer_vcpus", "ceilometer_memory_usage", "ceilometer_network_incoming_bytes",
          "ceilometer_network_outgoing_bytes")  # fmt: skip
_LINE = re.compile(r"^(ceilometer_\w+)\{(.*)\} (\S+)$")


def _samples(url: str, partition: str) -> dict[str, float]:
    """The scraped series (by meter) whose resource is the partition or one of its adapters."""
    found: dict[str, float] = {}
    for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
        match = _LINE.match(line)
        resource = re.search(r'resource="([^"]+)"', match[2]) if match else None
        if resource and partition in resource[1]:
            found[match[1]] = float(match[3])
    return found


# The first cloud test of a process also pays the cloud's bring-up (and, at the end, its down), which
# took 8-10 min on the shared 2-core machine under load: more than the default 600 s.
@pytest.mark.timeout(1500)
def test_polling_agent_meters_a_server(aio_cloud: Cloud) -> None:
    cloud = aio_cloud
    assert cloud.telemetry is not None, "the shared cloud runs with telemetry (tests/fixtures/cloud.py)"
    conn = cloud.connection()
    net = conn.network.create_network(name="metered-net", provider_network_type="vlan",
                                      provider_physical_network="default", provider_segmentation_id=VLAN)  # fmt: skip
    server = image = port = None
    try:
        conn.network.create_subnet(network_id=net.id, cidr="10.50.0.0/24", ip_version=4)
        image = conn.image.create_image(name="metered", data=b"\0" * 65536, disk_format="raw",
                                        container_format="bare", visibility="public", allow_duplicates=True)  # fmt: skip
        wait_for(lambda: conn.image.get_image(image.id).status == "active", "the image to become active")
        port = conn.network.create_port(network_id=net.id)
        server = conn.compute.create_server(name="metered", image_id=image.id, flavor_id="1",
                                            networks=[{"port": port.id}])  # fmt: skip
        server = conn.compute.wait_for_server(server, status="ACTIVE", wait=240, interval=2)
        partition = pvm_uuid.convert_uuid_to_pvm(server.id).lower()
        url = cloud.telemetry.prometheus_url
        wait_for(lambda: all(m in _samples(url, partition) for m in METERS),
                 "cpu, vcpus, memory.usage and network samples of the server", timeout=180)  # fmt: skip
        first = _samples(url, partition)
        flavor = conn.compute.find_flavor("1")
        assert first["ceilometer_vcpus"] == flavor.vcpus
        assert 0 < first["ceilometer_memory_usage"] <= flavor.ram
        time.sleep(12)  # two more polls, new PCM samples
        wait_for(lambda: _samples(url, partition)["ceilometer_cpu"] > first["ceilometer_cpu"],
                 "the server's cpu counter to move", timeout=60)  # fmt: skip
        assert (
            _samples(url, partition)["ceilometer_network_incoming_bytes"] >= first["ceilometer_network_incoming_bytes"]
        )
    finally:
        if server is not None:
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=180, interval=2)
        if port is not None:
            conn.network.delete_port(port)
        if image is not None:
            conn.image.delete_image(image)
        conn.network.delete_network(net)
