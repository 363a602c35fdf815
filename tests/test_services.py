"""The real-service fixtures work: private MariaDB database, private RabbitMQ vhost, real neutron 29."""

from __future__ import annotations

import time
from collections.abc import Callable

import kombu
import pytest
import sqlalchemy as sa

from powervm_openstack.deploy.rabbitmq import RabbitMQ
from tests.fixtures.neutron import FakeL2Agent, NeutronServerFactory

pytestmark = pytest.mark.integration


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


def test_private_database_and_vhost(mariadb: str, rabbitmq: str, run_id: str, rabbitmq_server: RabbitMQ) -> None:
    engine = sa.create_engine(mariadb)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT DATABASE()")).scalar() == f"{run_id}_main"
            conn.execute(sa.text("CREATE TABLE probe (id INT PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (7)"))
            assert conn.execute(sa.text("SELECT id FROM probe")).scalar() == 7
    finally:
        engine.dispose()

    vhost = rabbitmq.rsplit("/", 1)[1]
    assert vhost == f"{run_id}_main"
    assert vhost in rabbitmq_server.list_vhosts()
    # A message round trip proves the guest user may use the new vhost over AMQP.
    with kombu.Connection(rabbitmq.replace("rabbit://", "amqp://", 1), connect_timeout=10) as conn:
        queue = conn.SimpleQueue("probe")
        queue.put({"hello": run_id})
        message = queue.get(timeout=10)
        assert message.payload == {"hello": run_id}
        message.ack()
        queue.close()


def test_vlan_port_binds_to_fake_ovs_agent_and_goes_active(neutron_server: NeutronServerFactory, run_id: str) -> None:
    server = neutron_server()
    assert server.get("/v2.0/networks")["networks"] == []

    net = server.post(
        "/v2.0/networks",
        {
            "network": {
                "name": "vlan101",
                "provider:network_type": "vlan",
                "provider:physical_network": "default",
                "provider:segmentation_id": 101,
            }
        },
    )["network"]
    port_id = None
    try:
        assert (net["provider:network_type"], net["provider:segmentation_id"]) == ("vlan", 101)
        subnet = server.post(
            "/v2.0/subnets",
            {"subnet": {"network_id": net["id"], "cidr": "192.0.2.0/24", "ip_version": 4, "enable_dhcp": False}},
        )["subnet"]
        port = server.post("/v2.0/ports", {"port": {"network_id": net["id"], "name": "p1"}})["port"]
        port_id = port["id"]
        assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]
        assert port["status"] == "DOWN"

        host = f"{run_id}-compute1"
        with FakeL2Agent(server.config_files, host) as agent:
            assert agent.report_state(start_flag=True) == "new"
            agents = server.get("/v2.0/agents", {"host": host})["agents"]
            assert [(a["agent_type"], a["alive"]) for a in agents] == [("Open vSwitch agent", True)]

            bound = server.put(f"/v2.0/ports/{port_id}", {"port": {"binding:host_id": host}})["port"]
            assert bound["binding:vif_type"] == "ovs"

            details = agent.get_device_details(port_id)
            assert (details["network_type"], details["segmentation_id"], details["physical_network"]) == (
                "vlan",
                101,
                "default",
            )
            agent.update_device_up(port_id)
            _wait_for(
                lambda: server.get(f"/v2.0/ports/{port_id}")["port"]["status"] == "ACTIVE",
                timeout=30,
                what="the port to become ACTIVE",
            )
    finally:
        # The server is shared by the session: leave VLAN 101 free for other tests.
        if port_id is not None:
            server.delete(f"/v2.0/ports/{port_id}")
        server.delete(f"/v2.0/networks/{net['id']}")
