"""Each all-in-one NovaLink host is its own managed system; a bad ``--hosts`` is one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from powervm_openstack.deploy.aio import hosts
from powervm_openstack.deploy.processes import SimulatorProcess
from powervm_openstack.simulator.topology import loader


def test_host_k_has_its_own_serial_and_so_its_own_uuids(tmp_path: Path) -> None:
    first = loader.parse_file(hosts.host_topology(loader.DEFAULT, tmp_path / "1", 1))
    second = loader.parse_file(hosts.host_topology(loader.DEFAULT, tmp_path / "2", 2))
    assert first.system.name == "Server-9009-22A-SN7830A1B"  # host 1 is the default host, as before
    assert (second.system.serial, second.system.name) == ("7830A02", "Server-9009-22A-SN7830A02")
    assert second.system.uuid != first.system.uuid
    assert not {p.uuid for p in first.partitions} & {p.uuid for p in second.partitions}
    assert [p.name for p in second.partitions] == ["novalink_7830A02", "vios1", "vios2"]  # no client LPARs
    assert all("WZS0A02" in a.location for a in second.sriov_adapters)
    assert [b.name for b in second.bridges] == [b.name for b in first.bridges]  # same physical networks


def test_host_names() -> None:
    assert [hosts.host_name(i) for i in (1, 2, 3)] == ["novalink-aio", "novalink-aio-2", "novalink-aio-3"]


@pytest.mark.parametrize("value", ["0", "9", "two", "1.5", "-1"])
def test_bad_host_count_is_one_line_and_exit_2(value: str, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "powervm_openstack.deploy.aio.cli", "--work-dir", str(tmp_path), "up", "--hosts",
            value]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"powervm-openstack-aio: --hosts {value!r}: the number of NovaLink hosts must be a whole number from 1 to 8"
    ]
    assert not (tmp_path / "current.json").exists()
    with pytest.raises(ValueError, match="from 1 to 8"):
        hosts.check_count(value)


def test_shared_storage_hosts_are_linked_as_one_ssp_cluster_both_ways(tmp_path: Path) -> None:
    """``link_ssp_peers`` makes each simulator a peer of every other: each lists all the others (``GET /sim/ssp/peers``)."""
    sims = [SimulatorProcess(tmp_path / f"h{i}", name="powervm-sim").start() for i in (1, 2, 3)]
    try:
        urls = [sim.url for sim in sims]
        links = hosts.link_ssp_peers(urls)
        assert len(links) == 6  # every ordered pair once
        for url in urls:
            peers = requests.get(f"{url}/sim/ssp/peers", timeout=30).json()["peers"]
            assert peers == sorted(u for u in urls if u != url)
    finally:
        for sim in sims:
            sim.stop()
