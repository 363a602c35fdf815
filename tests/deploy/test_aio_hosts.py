"""``powervm-openstack-aio up --hosts 2 --shared-storage`` driven as a user drives it: the command line in subprocesses.

``up`` leaves its supervisor running in the background; ``status`` must list both hosts' simulator,
nova-compute and agents running; a server booted on each host (availability zone ``nova:<host>``)
lands on that host's simulator with its VLAN on that host's SEAs only; a server on the hosts' shared
SSP live-migrates to host 2 and back through nova's API (partition, VLAN and port binding follow it);
tempest's migration tests (etc/tempest/powervm-migration.txt) pass; ``down`` leaves no process,
database or vhost of the run. The test process itself imports no nova (the cloud renders its files
in the supervisor), so it runs in the neutron-side pytest process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from powervm_openstack.deploy.aio import catalog, novalink, tempest
from powervm_openstack.deploy.child import ServiceUnavailable
from powervm_openstack.deploy.mariadb import MariaDB
from powervm_openstack.deploy.rabbitmq import RabbitMQ
from tests.fixtures.cloud import REPO, assert_run_gone
from tests.fixtures.waiting import wait_for

# Bring-up of two hosts takes about 10 minutes on a loaded 2-core machine (docs/all-in-one.md).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3000)]

HOSTS = ("novalink-aio", "novalink-aio-2")
HOST_SERVICES = ("powervm-sim", "nova-compute", "powervm-sea-agent", "powervm-sriov-agent")
VLANS = {"novalink-aio": 1301, "novalink-aio-2": 1302}
MIGRATION_VLAN = 1303
# The listed tempest tests that move a server to the other host (live, cold, or by a resize, which
# goes to the other host since nova's allow_resize_to_same_host is off): each must pass.
MOVING_TESTS = (
    "admin.test_live_migration.LiveAutoBlockMigrationV225Test.test_live_block_migration",
    "admin.test_migrations.MigrationsAdminTest.test_cold_migration",
    "admin.test_migrations.MigrationsAdminTest.test_revert_cold_migration",
    "admin.test_migrations.MigrationsAdminTest.test_cold_migration_with_swap",
    "admin.test_migrations.MigrationsAdminTest.test_list_migrations_in_flavor_resize_situation",
    "admin.test_migrations.MigrationsAdminTest.test_resize_server_revert_deleted_flavor",
    "servers.test_server_actions.ServerActionsTestJSON.test_resize_server_confirm",
    "servers.test_server_actions.ServerActionsTestJSON.test_resize_server_revert",
    "servers.test_server_actions.ServerActionsTestOtherB.test_resize_server_confirm_from_stopped",
    "servers.test_delete_server.DeleteServersTestJSON.test_delete_server_while_in_verify_resize_state",
)


def aio(work: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "powervm_openstack.deploy.aio.cli", "--work-dir", str(work), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _pointer(work: Path) -> str:
    return json.loads((work / "current.json").read_text())["dir"]


def _state(work: Path) -> dict[str, Any]:
    return json.loads((Path(_pointer(work)) / "aio.json").read_text())


@pytest.fixture(scope="module")
def cli_cloud() -> Iterator[tuple[Path, dict[str, Any]]]:
    """A two-host cloud on shared SSP brought up by ``up --hosts 2 --shared-storage``; teardown runs ``down``
    and checks that nothing is left."""
    try:
        MariaDB.from_env().check()
        RabbitMQ.from_env().check()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    work = REPO / ".work" / "aio-hosts-tests" / uuid.uuid4().hex[:8]
    state: dict[str, Any] = {}
    try:  # down also when up fails or is interrupted: its supervisor runs on in the background
        started = aio(work, "up", "--hosts", "2", "--shared-storage", "--timeout", "900", timeout=2400)
        state = _state(work) if (work / "current.json").exists() else {}
        assert started.returncode == 0, started.stderr + started.stdout
        print(started.stdout)
        yield work, state
    finally:
        if not state and (work / "current.json").exists() and Path(_pointer(work), "aio.json").exists():
            state = _state(work)
        stopped = aio(work, "down", timeout=300)
        gone = _state_after_down(work, state)
        assert stopped.returncode == 0, stopped.stderr
        assert_run_gone(gone["pids"], gone["databases"], gone["vhosts"])


def _state_after_down(work: Path, state: dict[str, Any]) -> dict[str, list[Any]]:
    """The supervisor's and every service's PID, and the databases and vhosts the run recorded."""
    if state and Path(state["dir"], "aio.json").exists():
        state = json.loads(Path(state["dir"], "aio.json").read_text()) | {"supervisor": state.get("supervisor")}
    pids = [row["pid"] for row in state.get("services", [])] + [state.get("supervisor") or 0]
    return {"pids": [p for p in pids if p], "databases": state.get("databases", []), "vhosts": state.get("vhosts", [])}


def test_status_lists_every_host_service_running(cli_cloud: tuple[Path, dict[str, Any]]) -> None:
    work, _ = cli_cloud
    shown = aio(work, "status")
    assert shown.returncode == 0, shown.stderr + shown.stdout
    rows = [line.split() for line in shown.stdout.splitlines()]
    for host in HOSTS:
        for service in HOST_SERVICES:
            row = next((r for r in rows if r[:2] == [host, service]), None)
            assert row is not None, f"{service} of {host} not in:\n{shown.stdout}"
            assert "running" in row, row
    assert any(r[:2] == ["controller", "nova-scheduler"] and "running" in r for r in rows), shown.stdout


def test_one_server_on_each_host(cli_cloud: tuple[Path, dict[str, Any]]) -> None:
    _, state = cli_cloud
    conn = catalog.connect(state["keystone_url"])
    sims = {"novalink-aio": state["endpoints"]["novalink"], "novalink-aio-2": state["endpoints"]["novalink-2"]}
    assert {h.name for h in conn.compute.hypervisors()} == set(HOSTS)
    image = conn.image.create_image(name="tiny", data=b"\0" * 65536, disk_format="raw", container_format="bare",
                                    visibility="public", allow_duplicates=True)  # fmt: skip
    wait_for(lambda: conn.image.get_image(image.id).status == "active", "the image to become active")
    servers = {}
    for host, vlan in VLANS.items():
        net = conn.network.create_network(name=f"vlan-{vlan}", provider_network_type="vlan",
                                          provider_physical_network="default", provider_segmentation_id=vlan)  # fmt: skip
        conn.network.create_subnet(network_id=net.id, cidr=f"10.{vlan % 256}.0.0/24", ip_version=4)
        port = conn.network.create_port(network_id=net.id)
        servers[host] = conn.compute.create_server(name=f"vm-{host}", image_id=image.id, flavor_id="1",
                                                   networks=[{"port": port.id}], availability_zone=f"nova:{host}")  # fmt: skip
    for host, server in servers.items():
        server = conn.compute.wait_for_server(server, status="ACTIVE", wait=600, interval=2)
        assert server.compute_host == host, (server.compute_host, host)
        other = next(h for h in HOSTS if h != host)
        assert novalink.partition_state(sims[host], server.id) == "running"
        assert novalink.partition_state(sims[other], server.id) is None
        assert all(VLANS[host] in vlans for vlans in novalink.sea_vlans(sims[host])), novalink.sea_vlans(sims[host])
        assert all(VLANS[host] not in vlans for vlans in novalink.sea_vlans(sims[other]))
    for host, server in servers.items():
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=300, interval=2)
        assert novalink.partition_state(sims[host], server.id) is None
        wait_for(lambda h=host: all(VLANS[h] not in v for v in novalink.sea_vlans(sims[h])), "the VLAN to leave the SEAs",
                 timeout=120)  # fmt: skip
    for vlan in VLANS.values():  # ports made before the boot outlive their server
        for net in conn.network.networks(name=f"vlan-{vlan}"):
            for port in conn.network.ports(network_id=net.id):
                conn.network.delete_port(port)
            conn.network.delete_network(net)
    conn.image.delete_image(image)


def _sims(state: dict[str, Any]) -> dict[str, str]:
    return {"novalink-aio": state["endpoints"]["novalink"], "novalink-aio-2": state["endpoints"]["novalink-2"]}


def _leftovers(state: dict[str, Any]) -> dict[str, list[str]]:
    """Per host, the client partitions and SSP boot disks its simulator still has."""
    return {host: novalink.server_leftovers(url) for host, url in _sims(state).items()}


def _live_migrate(conn: Any, server: Any, host: str) -> float:
    """Live-migrate ``server`` to ``host`` through nova's API; the seconds until it is ACTIVE there."""
    started = time.monotonic()
    conn.compute.live_migrate_server(server, host=host, block_migration=False)

    def arrived() -> bool:
        now = conn.compute.get_server(server.id)
        if now.status == "ERROR" or (now.task_state is None and now.compute_host != host and
                                     time.monotonic() - started > 5):  # fmt: skip
            migrations = conn.compute.get(f"/os-migrations?instance_uuid={server.id}").json()["migrations"]
            raise AssertionError(f"live migration to {host} failed: {now.status} on {now.compute_host}; {migrations}")
        return now.status == "ACTIVE" and now.task_state is None and now.compute_host == host

    wait_for(arrived, f"server {server.id} ACTIVE on {host}", timeout=600, interval=1)
    return time.monotonic() - started


def test_live_migration_back_and_forth(cli_cloud: tuple[Path, dict[str, Any]]) -> None:
    _, state = cli_cloud
    conn = catalog.connect(state["keystone_url"])
    sims = _sims(state)
    image = conn.image.create_image(name="tiny-lpm", data=b"\2" * 65536, disk_format="raw", container_format="bare",
                                    allow_duplicates=True)  # fmt: skip
    wait_for(lambda: conn.image.get_image(image.id).status == "active", "the image to become active")
    net = conn.network.create_network(name=f"vlan-{MIGRATION_VLAN}", provider_network_type="vlan",
                                      provider_physical_network="default", provider_segmentation_id=MIGRATION_VLAN)  # fmt: skip
    try:
        conn.network.create_subnet(network_id=net.id, cidr="10.203.0.0/24", ip_version=4)
        port = conn.network.create_port(network_id=net.id)
        server = conn.compute.create_server(name="vm-lpm", image_id=image.id, flavor_id="1", networks=[{"port": port.id}],
                                            availability_zone="nova:novalink-aio")  # fmt: skip
        server = conn.compute.wait_for_server(server, status="ACTIVE", wait=600, interval=2)
        seconds = []
        for source, dest in (("novalink-aio", "novalink-aio-2"), ("novalink-aio-2", "novalink-aio")):
            seconds.append(_live_migrate(conn, server, dest))
            assert novalink.partition_state(sims[dest], server.id) == "running"
            assert novalink.partition_state(sims[source], server.id) is None
            moved = novalink.last_move(sims[source])
            assert moved["to"] and moved["downtime_ms"] > 0, moved
            assert all(MIGRATION_VLAN in v for v in novalink.sea_vlans(sims[dest])), novalink.sea_vlans(sims[dest])
            wait_for(
                lambda p=port.id, d=dest: conn.network.get_port(p).binding_host_id == d, f"the port bound to {dest}"
            )
            wait_for(lambda p=port.id: conn.network.get_port(p).status == "ACTIVE", "the port ACTIVE", timeout=120)
            wait_for(lambda s=source: all(MIGRATION_VLAN not in v for v in novalink.sea_vlans(sims[s])),
                     f"VLAN {MIGRATION_VLAN} to leave the SEAs of {source}", timeout=120)  # fmt: skip
        print(f"live migration through nova: {seconds[0]:.1f} s there, {seconds[1]:.1f} s back")
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=300, interval=2)
        assert all(novalink.partition_state(url, server.id) is None for url in sims.values())
    finally:
        for leftover in conn.network.ports(network_id=net.id):
            conn.network.delete_port(leftover)
        conn.network.delete_network(net)
        conn.image.delete_image(image)


def test_tempest_migration_tests(cli_cloud: tuple[Path, dict[str, Any]]) -> None:
    """etc/tempest/powervm-migration.txt with min_compute_nodes 2 and live and cold migration and resize on passes,
    every listed test that moves a server passed (not skipped), and neither host keeps a partition or boot disk."""
    _, state = cli_cloud
    conn = catalog.connect(state["keystone_url"])
    resources = tempest.prepare(conn)
    try:
        workspace = tempest.configure(conn, state["keystone_url"], Path(state["dir"]), resources)
        features = (workspace / "etc" / "tempest.conf").read_text()
        for line in ("min_compute_nodes = 2", "live_migration = true", "cold_migration = true", "resize = true"):
            assert line in features.splitlines(), (line, features)
        started = time.monotonic()
        with open(workspace / "tempest-output.log", "w") as out:
            counts = tempest.run(workspace, include_list=tempest.MIGRATION, out=out)
        seconds = time.monotonic() - started
    finally:
        problems = tempest.cleanup(conn, resources)
    print(f"{counts.line()} in {seconds:.0f} s (list {tempest.MIGRATION.name}; output {workspace}/tempest-output.log)")
    assert counts.failed == 0 and counts.returncode == 0, "\n".join(counts.failures) or f"see {workspace}"
    not_passed = [t for t in MOVING_TESTS if f"tempest.api.compute.{t}" not in counts.passed_ids]
    assert not_passed == [], f"moving no server: {not_passed}; passed: {counts.passed_ids}"
    assert problems == []
    deadline = time.monotonic() + 120  # tempest waits for its deletes; the partitions go with them
    while any((left := _leftovers(state)).values()) and time.monotonic() < deadline:
        time.sleep(2)
    assert not any(left.values()), f"left on the hosts after tempest: {left}"
