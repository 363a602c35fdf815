"""``powervm-openstack-aio up --hosts 2`` driven as a user drives it: the command line in subprocesses.

``up`` leaves its supervisor running in the background; ``status`` must list both hosts' simulator,
nova-compute and agents running; a server booted on each host (availability zone ``nova:<host>``)
lands on that host's simulator with its VLAN on that host's SEAs only; ``down`` leaves no process,
database or vhost of the run. The test process itself imports no nova (the cloud renders its files
in the supervisor), so it runs in the neutron-side pytest process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from powervm_openstack.deploy.aio import catalog, novalink
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


def aio(work: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "powervm_openstack.deploy.aio.cli", "--work-dir", str(work), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _pointer(work: Path) -> str:
    return json.loads((work / "current.json").read_text())["dir"]


def _state(work: Path) -> dict[str, Any]:
    return json.loads((Path(_pointer(work)) / "aio.json").read_text())


@pytest.fixture(scope="module")
def cli_cloud() -> Iterator[tuple[Path, dict[str, Any]]]:
    """A two-host cloud brought up by ``up --hosts 2``; teardown runs ``down`` and checks that nothing is left."""
    try:
        MariaDB.from_env().check()
        RabbitMQ.from_env().check()
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
    work = REPO / ".work" / "aio-hosts-tests" / uuid.uuid4().hex[:8]
    state: dict[str, Any] = {}
    try:  # down also when up fails or is interrupted: its supervisor runs on in the background
        started = aio(work, "up", "--hosts", "2", "--timeout", "900", timeout=2400)
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
