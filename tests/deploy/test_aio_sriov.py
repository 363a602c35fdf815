"""Fixes proven through the whole cloud: a ``direct`` SR-IOV boot, and nova-compute restarting after a partition vanished.

Both use the shared ``aio_cloud`` (real nova 34 and neutron 29 processes, the simulator as the
NovaLink host) and leave it as they found it.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest

from powervm_openstack.deploy.aio import novalink
from powervm_openstack.deploy.aio.cloud import Cloud
from tests.deploy.conftest import boot as _boot
from tests.deploy.conftest import delete as _delete
from tests.fixtures.waiting import wait_for

# The first cloud test of a process pays the bring-up in its set-up (minutes on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

SRIOV_VLAN = 1300
SEA_VLAN = 1301


def test_server_on_a_direct_port_gets_a_vnic_on_the_labelled_ports(aio_cloud: Cloud, image: Any, network: Any) -> None:
    cloud, conn = aio_cloud, aio_cloud.connection()
    prod_ports = {e.split(":", 1)[1] for e in novalink.sriov_physical_networks(cloud.sim.url) if e.startswith("prod:")}
    assert len(prod_ports) == 2, "the default host has two SR-IOV ports labelled prod"
    vfs_before = novalink.sriov_logical_ports(cloud.sim.url)
    net = network("sriov-net", "prod", SRIOV_VLAN)
    port = conn.network.create_port(network_id=net.id, binding_vnic_type="direct")
    server = _boot(conn, "vm-sriov", image, port)
    port = wait_for(lambda: (p := conn.network.get_port(port.id)).status == "ACTIVE" and p, "the port ACTIVE")
    assert port.binding_vif_type == "pvm_sriov", port.binding_vif_type
    details = port.binding_vif_details
    assert details["physical_network"] == "prod" and details["vlan"] == str(SRIOV_VLAN), details
    # nova claimed one pseudo-VF of the prod port whose link is up (its address is the profile's pci_slot).
    assert port.binding_profile["physical_network"] == "prod", port.binding_profile
    assert port.binding_profile["pci_slot"][:7] in prod_ports, port.binding_profile
    assert novalink.partition_state(cloud.sim.url, server.id) == "running"
    vnics = novalink.vnic_ports(cloud.sim.url, server.id)
    print(f"vNIC backing ports: {vnics}; vif_details: {details}; profile: {port.binding_profile}")
    # Redundancy 2 (the agent's default vnic_required_vfs): one VF on each of the two prod ports.
    assert len(vnics) == 1 and sorted(vnics[0]) == sorted(details["physical_ports"]), (vnics, details)
    assert len(vnics[0]) == 2
    _delete(conn, server)
    assert novalink.vnic_ports(cloud.sim.url, server.id) == []
    assert novalink.sriov_logical_ports(cloud.sim.url) == vfs_before, "the vNIC's VFs are freed"


def _compute_service(conn: Any) -> Any:
    return next(s for s in conn.compute.services() if s.binary == "nova-compute")


def _updated(service: Any) -> datetime.datetime:
    return datetime.datetime.fromisoformat(service.updated_at.replace("Z", "")).replace(tzinfo=None)


def test_nova_compute_restarts_when_a_partition_vanished(aio_cloud: Cloud, image: Any, network: Any) -> None:
    cloud, conn = aio_cloud, aio_cloud.connection()
    net = network("sea-net-restart", "default", SEA_VLAN)
    port = conn.network.create_port(network_id=net.id)
    server = _boot(conn, "vm-vanish", image, port)
    assert novalink.delete_partition(cloud.sim.url, server.id)
    assert novalink.partition_state(cloud.sim.url, server.id) is None

    restarted = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    cloud.restart("nova-compute")
    # Up means: a heartbeat of the new process (service_down_time would hide a dead one for 60 s).
    wait_for(lambda: _updated(_compute_service(conn)) > restarted and _compute_service(conn).state == "up",
             "nova-compute to report up after its restart", timeout=240)  # fmt: skip
    compute = next(p for p in cloud.procs if p.service == "nova-compute")
    wait_for(lambda: "not found on this host; its VIFs are not plugged" in compute.child.log.read_text(),
             "nova-compute's init of the instance", timeout=120)  # fmt: skip
    time.sleep(5)
    assert compute.child.alive(), f"nova-compute exited after its restart; see {compute.child.log}"
    # nova's power-state sync (run at start) finds no partition: NOSTATE, "unexpectedly not found", kept ACTIVE.
    server = wait_for(lambda: (s := conn.compute.get_server(server.id)).power_state == 0 and s,
                      "nova to report the server's power state NOSTATE", timeout=180)  # fmt: skip
    print(f"after restart: status {server.status}, power_state {server.power_state}, task {server.task_state}")
    assert server.status == "ACTIVE" and server.task_state is None

    _delete(conn, server)
    assert novalink.partition_state(cloud.sim.url, server.id) is None
    conn.network.delete_port(port, ignore_missing=True)
    # The partition's adapter went with it outside OpenStack: its delete event made the SEA agent decide
    # on the VLAN at once (nobody else uses it), not at its next heal.
    wait_for(lambda: all(SEA_VLAN not in v for v in novalink.sea_vlans(cloud.sim.url)),
             "the VLAN off both SEAs after the partition's delete", timeout=60)  # fmt: skip
