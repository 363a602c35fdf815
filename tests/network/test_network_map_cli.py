"""``powervm-network-map`` as its own process against a simulator over HTTP (real pypowervm)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.deploy.child import free_port
from powervm_openstack.simulator.http.server import SimulatorServer
from tests.fixtures.simulator import PASSWORD, USER, connect, disconnect, running_simulator

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VNIC_MAC = "FA163E0000A1"


def network_map(*args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "POWERVM_PASSWORD"}
    if password is not None:
        env["POWERVM_PASSWORD"] = password
    cmd = [sys.executable, "-m", "powervm_openstack.network.cli", *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def sriov_port0(sim: SimulatorServer) -> tuple[float, int, int]:
    """Port 0's used capacity (%), logical ports used and max, as the ManagedSystem reports them."""
    adapter = connect(sim)
    try:
        port = pvm_ms.System.get(adapter)[0].asio_config.sriov_adapters[0].phys_ports[0]
        return round(port.allocated_capacity * 100, 2), port.cfg_lps, port.cfg_max_lps
    finally:
        disconnect(adapter)


def writes(sim: SimulatorServer) -> dict[str, int]:
    """Requests that could change something, except logon/logoff."""
    counts = requests.get(f"{sim.url}/sim/stats", timeout=5).json()["requests"]
    return {k: n for k, n in counts.items() if not k.startswith("GET ") and not k.endswith(" Logon")}


@pytest.fixture(scope="module")
def default_host() -> Iterator[SimulatorServer]:
    with running_simulator() as sim:
        adapter = connect(sim)
        try:  # a vNIC on web-01 backed by SR-IOV port 0 through vios1
            web = next(p for p in pvm_lpar.LPAR.get(adapter) if p.name == "web-01")
            vios1 = next(v for v in pvm_vios.VIOS.get(adapter) if v.name == "vios1")
            dev = pvm_iocard.VNICBackDev.bld(adapter, vios1.uuid, 1, 0, capacity=0.04)
            pvm_iocard.VNIC.bld(adapter, pvid=1100, mac_addr=VNIC_MAC, back_devs=[dev]).create(parent=web)
        finally:
            disconnect(adapter)
        requests.delete(f"{sim.url}/sim/stats", timeout=5)
        yield sim


@pytest.fixture(scope="module")
def two_bridges() -> Iterator[SimulatorServer]:
    with running_simulator(topology="two-bridges") as sim:
        yield sim


def test_table_of_the_default_host(default_host: SimulatorServer) -> None:
    before = requests.get(f"{default_host.url}/sim/health", timeout=5).json()["last_change"]
    run = network_map("--url", default_host.url, "--user", USER)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Host Server-9009-22A-SN7830A1B" in out
    assert 'physical network "default"' in out and "vswitch ETHERNET0 (id 0), PVID 1, failover pair" in out
    assert any(line.split() == ["ent5", "vios2", "auto", "no", "ent0"] for line in out.splitlines())
    assert any(line.split()[:4] == ["additional", "4094", "ent6@vios1", "ent6@vios2"] for line in out.splitlines())
    assert any(line.split() == ["100", "PVID", "4094", "web-01", "lpar", "fa:1e:0b:2c:3d:04", "PVID"]
               for line in out.splitlines())  # fmt: skip
    assert "Cleanup would remove VLANs: none" in out
    assert "not plugged yet are not seen" in out
    used, lps, max_lps = sriov_port0(default_host)
    port0 = next(line for line in out.splitlines() if "U78D3.001.WZS0A1B-P1-C6-T1" in line).split()
    assert port0[-5:] == [f"{used:g}", f"{100 - used:g}", f"{lps}/{max_lps}", "web-01", "fa:16:3e:00:00:a1"]
    # read-only: nothing changed, nothing but GETs (and logon/logoff) reached the REST API
    assert requests.get(f"{default_host.url}/sim/health", timeout=5).json()["last_change"] == before
    assert writes(default_host) == {}


def test_json_of_the_default_host(default_host: SimulatorServer) -> None:
    run = network_map("--url", default_host.url, "--user", USER, "--json")
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    assert body["schema_version"] == 1 and body["host_name"] == "Server-9009-22A-SN7830A1B"
    (bridge,) = body["bridges"]
    assert [(s["device"], s["vios"], s["ha_mode"]) for s in bridge["seas"]] == [
        ("ent5", "vios1", "auto"),
        ("ent5", "vios2", "auto"),
    ]
    assert {v["vlan"]: [u["partition"] for u in v["users"]] for v in bridge["vlans"]} == {
        1: ["db-01"],
        100: ["web-01"],
        200: ["aix-batch"],
    }
    assert bridge["cleanup"] == {"enabled": True, "removes": [], "drops_trunks": []}
    port0 = body["sriov_ports"][0]
    used, lps, max_lps = sriov_port0(default_host)
    assert (port0["label"], port0["sublabel"], port0["link_up"], port0["speed"]) == ("default", "p1", True, "E10Gbps")
    assert (port0["capacity_used_pct"], port0["capacity_free_pct"]) == (used, round(100 - used, 2))
    assert (port0["logical_ports_used"], port0["logical_ports_max"]) == (lps, max_lps)
    (vnic,) = port0["vnics"]
    assert (vnic["partition"], vnic["mac"], vnic["pvid"], vnic["capacity_pct"], vnic["vios"]) == (
        "web-01", "fa:16:3e:00:00:a1", 1100, 4.0, "vios1",
    )  # fmt: skip
    assert writes(default_host) == {}


def test_config_file_names_physical_networks(two_bridges: SimulatorServer, tmp_path: Path) -> None:
    conf = tmp_path / "powervm_sea_agent.ini"
    conf.write_text(
        f"[powervm_rest]\nhost = 127.0.0.1\nport = {two_bridges.port}\nprotocol = http\n"
        f"user = {USER}\npassword = {PASSWORD}\n\n"
        "[AGENT]\nbridge_mappings = default:ent5:vios1,prod:ent9:vios2\nautomated_powervm_vlan_cleanup = False\n"
    )
    run = network_map("--config-file", str(conf), "--json", password=None)
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    default, prod = body["bridges"]
    assert (default["physical_network"], default["vswitch"], default["orphan_vlans"]) == (
        "default",
        "ETHERNET0",
        [3000],
    )
    assert (prod["physical_network"], prod["vswitch"], prod["mode"]) == ("prod", "ETHERNET1", "load_sharing")
    assert prod["cleanup"] == {"enabled": False, "removes": [2002, 2003], "drops_trunks": [4093]}
    text = network_map("--config-file", str(conf), password=None)
    assert text.returncode == 0, text.stderr
    assert "Cleanup is disabled (automated_powervm_vlan_cleanup = False); if enabled it would remove: 2002, 2003" in (
        text.stdout
    )
    assert 'physical network "prod"' in text.stdout and "load-sharing pair" in text.stdout


def test_two_bridges_without_mappings_say_why(two_bridges: SimulatorServer) -> None:
    run = network_map("--url", two_bridges.url, "--user", USER)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("(no physical network)") == 2
    assert "Note: Physical networks unknown: The host has 2 network bridges" in run.stdout


def test_bad_arguments_and_unreachable_api() -> None:
    run = network_map("--url", "http://127.0.0.1:1", "--user", USER, password=None)
    assert run.returncode == 2 and "--user 'admin' needs the password in $POWERVM_PASSWORD" in run.stderr
    run = network_map("--url", "ftp://novalink1", "--user", USER)
    assert run.returncode == 2 and "--url 'ftp://novalink1' is not an http(s) URL" in run.stderr
    run = network_map("--url", f"http://127.0.0.1:{free_port()}", "--user", USER)
    assert run.returncode == 1 and "cannot reach the PowerVM REST API at http://127.0.0.1" in run.stderr
    assert PASSWORD not in run.stderr


def test_unreachable_api_and_bad_option_values_in_one_plain_line(tmp_path: Path) -> None:
    port = free_port()
    run = network_map("--url", f"http://127.0.0.1:{port}", "--user", USER)
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip() == (
        f"powervm-network-map: cannot reach the PowerVM REST API at http://127.0.0.1:{port}: connection refused"
    )
    conf = tmp_path / "agent.ini"
    conf.write_text("[AGENT]\nrest_workers = 0\n")
    run = network_map("--config-file", str(conf), "--url", f"http://127.0.0.1:{port}", "--user", USER)
    assert run.returncode == 2, run.stderr
    assert "[AGENT] rest_workers = '0' is not valid" in run.stderr and ">= 1" in run.stderr.replace(
        "greater than or equal to", ">="
    )
    assert "LocationInfo" not in run.stderr and "Traceback" not in run.stderr


def test_a_host_with_no_managed_system_is_named() -> None:
    with running_simulator(records=[]) as empty:
        run = network_map("--url", empty.url, "--user", USER)
    assert run.returncode == 2, run.stderr
    assert "lists no managed system" in run.stderr and "Traceback" not in run.stderr
