"""The real ``ceilometer-polling --polling-namespaces compute`` against the simulator.

The agent loads our ``powervm.*`` pollsters and ``powervm_local_instances`` discovery from their entry
points, reads PCM from the simulator over HTTP, and exposes samples through its own Prometheus
exporter. Each scraped cpu and network value must be a counter value the simulator served for some
sample; memory.usage comes only for partitions with active RMC; a mapped disk's counters move.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("ceilometer")

from pypowervm.tasks import scsi_mapper as pvm_smap  # noqa: E402
from pypowervm.tasks import storage as pvm_stg  # noqa: E402
from pypowervm.wrappers import logical_partition as pvm_lpar  # noqa: E402

from powervm_openstack.deploy.child import free_port  # noqa: E402
from powervm_openstack.simulator.model import pcm as model  # noqa: E402
from powervm_openstack.telemetry import counters  # noqa: E402
from tests.fixtures.simulator import PASSWORD, USER, connect, disconnect, running_simulator  # noqa: E402

pytestmark = pytest.mark.integration

POLL_SECONDS = 3
_LINE = re.compile(r"^(ceilometer_\w+)\{(.*)\} (\S+)$")


def _config(tmp: Path, sim_port: int, prom_port: int) -> Path:
    (tmp / "polling.yaml").write_text(
        f"sources:\n  - name: powervm\n    interval: {POLL_SECONDS}\n    meters: ['powervm.*']\n"
    )
    conf = tmp / "ceilometer.conf"
    conf.write_text(f"""[DEFAULT]
host = novalink-test
log_file = {tmp / "agent.log"}
[polling]
cfg_file = {tmp / "polling.yaml"}
enable_notifications = false
enable_prometheus_exporter = true
prometheus_listen_addresses = 127.0.0.1:{prom_port}
[powervm_rest]
host = 127.0.0.1
port = {sim_port}
protocol = http
user = {USER}
password = {PASSWORD}
""")
    return conf


def _scrape(port: int) -> dict[tuple[str, str], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    found = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            resource = re.search(r'resource="([^"]+)"', match[2])
            found[(match[1], resource[1] if resource else "")] = float(match[3])
    return found


def _served(server, uuid: str, since: float) -> dict[str, set[float]]:
    """Every cpu (ns) and received-bytes value the simulator served for ``uuid`` since ``since``."""
    values: dict[str, set[float]] = {"cpu": set(), "rx": set()}
    with server.app.store.transaction() as txn:
        system = txn.find("ManagedSystem")[0]
        for at in range(int(since) - 2, int(time.time()) + 1):
            lpar = next(p for p in model.phyp_sample(txn, system, at)["systemUtil"]["utilSample"]["lparsUtil"]
                        if p["uuid"] == uuid.upper())  # fmt: skip
            proc = lpar["processor"]
            busy = proc["utilizedCappedProcCycles"] + proc["utilizedUnCappedProcCycles"] - proc["idleProcCycles"]
            values["cpu"].add(float(busy * 10**9 // model.CYCLES_PER_SECOND))
            values["rx"].update(float(v["receivedBytes"]) for v in lpar["network"]["virtualEthernetAdapters"])
    return values


def _wait_for(port: int, want: int, deadline: float, agent, want_memory: int = 0) -> dict:
    while time.monotonic() < deadline:
        assert agent.poll() is None, "ceilometer-polling exited"
        try:
            found = _scrape(port)
            memory = [k for k in found if k[0] == "ceilometer_memory_usage"]
            if len([k for k in found if k[0] == "ceilometer_cpu"]) >= want and len(memory) >= want_memory:
                return found
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("no cpu samples for every running partition in time")


def test_polling_agent_meters_every_running_partition(tmp_path: Path) -> None:
    with running_simulator() as server:
        with server.app.store.transaction() as txn:
            txn.set_meta("pcm.interval", "1")
        adapter = connect(server)
        running = [p for p in pvm_lpar.LPAR.get(adapter) if not p.is_mgmt_partition and p.state == "running"]
        with_rmc = [p for p in running if p.rmc_state == "active"]
        vios, vg = pvm_stg.find_vg(adapter, "datavg")
        pvm_smap.add_vscsi_mapping(None, vios.uuid, running[0].uuid, pvm_stg.crt_vdisk(adapter, vios.uuid, vg.uuid,
                                                                                       "agent_disk", 1))  # fmt: skip
        with server.app.store.transaction() as txn:
            model.set_rates(txn, running[0].uuid, model.Rates(read_bytes_per_s=81_920, write_bytes_per_s=4096))
        disconnect(adapter)
        prom = free_port()
        conf = _config(tmp_path, server.port, prom)
        agent = subprocess.Popen(
            [str(Path(sys.executable).parent / "ceilometer-polling"), "--config-file", str(conf),
             "--polling-namespaces", "compute"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        started = time.time()
        try:
            first = _wait_for(prom, len(running), time.monotonic() + 90, agent, want_memory=len(with_rmc))
            feeds_before = server.app.stats.snapshot()["requests"].get("GET RawMetrics", 0)
            time.sleep(POLL_SECONDS * 2 + 0.5)
            second = _scrape(prom)
            feeds_after = server.app.stats.snapshot()["requests"].get("GET RawMetrics", 0)
        finally:
            os.killpg(agent.pid, signal.SIGTERM)
            agent.wait(timeout=30)
        log = (tmp_path / "agent.log").read_text()
        assert "switching it on" in log
        for part in running:
            served = _served(server, part.uuid, started)
            key = ("ceilometer_cpu", part.uuid.lower())
            assert first[key] in served["cpu"] and second[key] in served["cpu"]
            assert second[key] > first[key]
            assert second[("ceilometer_vcpus", part.uuid.lower())] >= 1
            rx = [v for (name, res), v in second.items()
                  if name == "ceilometer_network_incoming_bytes" and part.uuid.lower() in res]  # fmt: skip
            assert rx and all(v in served["rx"] for v in rx)
        # memory.usage only where RMC reports it: the OS's share (default 0.4) of the partition's memory
        memory = {res: v for (name, res), v in second.items() if name == "ceilometer_memory_usage"}
        assert memory == {p.uuid.lower(): float(counters.used_mib(p.mem_config.desired, 60)) for p in with_rmc}
        # the mapped disk's vhost adapter reads and writes at the partition's rates
        reads = {res: v for (name, res), v in second.items() if name == "ceilometer_disk_device_read_bytes"}
        (disk,) = reads
        assert disk.startswith(running[0].uuid.lower() + "-vhost")
        assert reads[disk] > first.get(("ceilometer_disk_device_read_bytes", disk), 0) > 0
        assert second[("ceilometer_disk_device_read_requests", disk)] == reads[disk] // 4096
        # one LongTermMonitor feed read per polling cycle (2 or 3 cycles in the window), not per partition
        assert 1 <= feeds_after - feeds_before <= 3
