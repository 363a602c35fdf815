"""``python -m benchmarks cloud``: where a server boot's time goes in the all-in-one cloud.

Brings up the all-in-one cloud with one NovaLink host (the simulator, no latency added), then boots
servers through the nova API as admin (openstacksdk), each on a ``pvm_sea`` port of a VLAN network of
its own (so the SEA agent has a VLAN to add every time): one first boot (the image goes into the
host's cache), ``--boots`` one at a time, then ``--concurrent`` at once. Each boot's time from the
``server create`` request to the client seeing ACTIVE splits into phases, from these sources:

* **API**: the create request until nova-api's 202 (client clock, openstacksdk call).
* **scheduling**: the 202 until nova-compute starts building (conductor, scheduler, placement, the
  RPC cast, compute's build semaphore): the build start is the timestamp of nova-compute's
  ``Took N seconds to build instance`` log line minus N.
* **compute**: N, split by the driver's own timing line (``powervm_openstack.compute.timing``, logged by
  nova-compute at the end of each spawn) into *nova* (claim, block devices, instance saves:
  everything outside the driver's spawn), *port allocation* (the spawn waiting for nova's
  asynchronous port creation and binding with neutron, which runs while the partition and disk are
  made), *driver REST* (wall time inside pypowervm REST requests on the spawn thread), *driver CPU*
  (that thread's CPU time outside REST requests; the CPU inside them is in the summary), *port
  ACTIVE wait* (after the driver plugged the VIF until neutron's network-vif-plugged event: the
  agent putting the VLAN on both SEAs, neutron setting the port ACTIVE and telling nova) and
  *driver other* (the rest of the spawn's wall time: the first boot's image download from glance,
  waits between REST calls, lock waits, waiting for a CPU).
* **reporting**: the build's end until the client sees ACTIVE (0.25 s polls; negative when the client
  read ACTIVE before nova-compute wrote its build line).

The client also polls the port's neutron status; *port ACTIVE at* is when it first read ACTIVE,
from the create request. *driver CPU %* is the spawn thread's whole CPU time (inside REST calls or
not) over the boot's total. All clocks are this machine's (log timestamps have millisecond
resolution). nova's instance action events were not used: MariaDB stores them to the second.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, table

BUILD_LINE = re.compile(r"^(\S+ \S+) \d+ INFO nova\.compute\.manager .*\[instance: ([0-9a-f-]{36})\] "
                        r"Took ([\d.]+) seconds to build instance")  # fmt: skip
TIMING_LINE = re.compile(r"Timing of spawn of instance ([0-9a-f-]{36}): wall ([\d.]+) s, REST ([\d.]+) s in (\d+) "
                         r"calls \(CPU in them ([\d.]+) s\), driver CPU ([\d.]+) s, network-vif-plugged wait ([\d.]+) s, "
                         r"port allocation wait ([\d.]+) s")  # fmt: skip
PHASES = ("API", "scheduling", "compute: nova", "compute: port allocation", "compute: driver REST",
          "compute: driver CPU", "port ACTIVE wait", "compute: driver other", "reporting")  # fmt: skip


@dataclasses.dataclass
class Boot:
    """One boot: client times (``time.time()``) and, once parsed from the log, compute's figures."""

    server_id: str = ""
    sent: float = 0.0
    accepted: float = 0.0
    active: float = 0.0
    port_active: float = 0.0
    build_end: float = 0.0
    build_s: float = 0.0
    spawn: dict[str, float] = dataclasses.field(default_factory=dict)

    def phases(self) -> dict[str, float]:
        s = self.spawn
        cpu_outside = s["cpu"] - s["rest_cpu"]
        return {"API": self.accepted - self.sent, "scheduling": self.build_end - self.build_s - self.accepted,
                "compute: nova": self.build_s - s["wall"], "compute: port allocation": s["network"],
                "compute: driver REST": s["rest"],
                "compute: driver CPU": cpu_outside, "port ACTIVE wait": s["wait"],
                "compute: driver other": s["wall"] - s["rest"] - cpu_outside - s["wait"] - s["network"],
                "reporting": self.active - self.build_end}  # fmt: skip

    @property
    def total(self) -> float:
        return self.active - self.sent


def _log_time(stamp: str) -> float:
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()


def parse_compute_log(text: str, boots: list[Boot]) -> None:
    """Fill each boot's build end/seconds and spawn timing from nova-compute's log ``text``."""
    by_id = {b.server_id: b for b in boots}
    for line in text.splitlines():
        if m := BUILD_LINE.match(line):
            if boot := by_id.get(m.group(2)):
                boot.build_end, boot.build_s = _log_time(m.group(1)), float(m.group(3))
        elif (m := TIMING_LINE.search(line)) and (boot := by_id.get(m.group(1))):
            wall, rest, calls, rest_cpu, cpu, wait, network = (float(g) for g in m.groups()[1:])
            boot.spawn = {"wall": wall, "rest": rest, "calls": calls, "rest_cpu": rest_cpu, "cpu": cpu, "wait": wait,
                          "network": network}  # fmt: skip


def _boot(conn: Any, image_id: str, net_id: str, name: str, az: str | None, poll: float) -> Boot:
    port = conn.network.create_port(network_id=net_id)
    boot = Boot(sent=time.time())
    server = conn.compute.create_server(name=name, image_id=image_id, flavor_id="1", networks=[{"port": port.id}],
                                        **({"availability_zone": az} if az else {}))  # fmt: skip
    boot.accepted, boot.server_id = time.time(), server.id
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        now = time.time()
        if not boot.port_active and conn.network.get_port(port.id).status == "ACTIVE":
            boot.port_active = now
        status = conn.compute.get_server(server.id).status
        if status == "ACTIVE":
            boot.active = now
            return boot
        if status == "ERROR":
            raise RuntimeError(f"server {name} went to ERROR: {conn.compute.get_server(server.id).fault}")
        time.sleep(poll)
    raise TimeoutError(f"server {name} not ACTIVE after 900 s")


class Bench:
    """The cloud, an image, and one VLAN network per boot (``vlan`` counts up)."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.conn = cloud.connection()
        self.vlan = 2000
        self.image = self.conn.image.create_image(name="bench", data=b"\0" * 65536, disk_format="raw",
                                                  container_format="bare", visibility="public")  # fmt: skip
        while self.conn.image.get_image(self.image.id).status != "active":
            time.sleep(0.5)
        self._lock = threading.Lock()

    def network(self) -> str:
        with self._lock:
            self.vlan += 1
            vlan = self.vlan
        net = self.conn.network.create_network(name=f"bench-{vlan}", provider_network_type="vlan",
                                               provider_physical_network="default", provider_segmentation_id=vlan)  # fmt: skip
        self.conn.network.create_subnet(network_id=net.id, cidr=f"10.{vlan // 256}.{vlan % 256}.0/24", ip_version=4)
        return net.id

    def boot(self, name: str, poll: float = 0.25) -> Boot:
        return _boot(self.conn, self.image.id, self.network(), name, None, poll)

    def compute_log(self) -> str:
        proc = next(p for p in self.cloud.procs if p.service == "nova-compute")
        return Path(proc.child.log).read_text(errors="replace")

    def compute_cpu(self) -> float:
        """nova-compute's process CPU seconds so far (all its threads: nova's and the driver's)."""
        proc = next(p for p in self.cloud.procs if p.service == "nova-compute")
        # setpriv execs nova-compute, so the child's PID is nova-compute's
        fields = Path(f"/proc/{proc.child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def clean(self) -> None:
        for server in list(self.conn.compute.servers()):
            self.conn.compute.delete_server(server)
        for server in list(self.conn.compute.servers()):
            self.conn.compute.wait_for_delete(server, wait=600, interval=2)


def _rows(label: str, boots: list[Boot]) -> list[list[object]]:
    rows = []
    for phase in (*PHASES, "total"):
        values = [b.total if phase == "total" else b.phases()[phase] for b in boots]
        rows.append([label if phase == PHASES[0] else "", phase, f"{percentile(values, 50):.2f}",
                     f"{min(values):.2f}", f"{max(values):.2f}"])  # fmt: skip
    return rows


def _in_flight(spans: list[tuple[float, float]]) -> int:
    """The most of ``spans`` (start, end) that overlap at one moment."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _summary(boots: list[Boot]) -> str:
    cpu = [b.spawn["cpu"] / b.total * 100 for b in boots]
    calls = [b.spawn["calls"] for b in boots]
    port = [b.port_active - b.sent for b in boots if b.port_active]
    rest_cpu = [b.spawn["rest_cpu"] for b in boots]
    return (f"driver CPU inside REST calls median {percentile(rest_cpu, 50):.3f} s; "
            f"driver CPU (spawn thread, all) % of boot: median {percentile(cpu, 50):.1f}%, max {max(cpu):.1f}%; "
            f"REST calls per spawn: median {percentile(calls, 50):.0f}; port ACTIVE seen at median "
            f"{percentile(port, 50) if port else float('nan'):.2f} s after create")  # fmt: skip


def run(boots: int, at_once: int) -> str:
    from powervm_openstack.deploy.aio.cloud import Cloud

    cloud = Cloud(Path(".work/bench-cloud"))
    started = time.monotonic()
    cloud.up(timeout=900)
    bring_up = time.monotonic() - started
    try:
        bench = Bench(cloud)
        first = [bench.boot("first")]
        cpu_before = bench.compute_cpu()
        sequential = [bench.boot(f"seq-{i}") for i in range(boots)]
        cpu_seq = bench.compute_cpu() - cpu_before
        bench.clean()
        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(at_once) as pool:
            parallel = list(pool.map(lambda i: bench.boot(f"par-{i}", poll=0.5), range(at_once)))
        wall = time.time() - started
        parse_compute_log(bench.compute_log(), first + sequential + parallel)
        bench.clean()
    finally:
        cloud.down()
    headers = ["boots", "phase", "median s", "min s", "max s"]
    rows = _rows("first boot", first) + _rows(f"{boots} one at a time", sequential)
    rows += _rows(f"{at_once} at once", parallel)
    spawns = [(b.build_end - b.spawn["wall"], b.build_end) for b in parallel]
    builds = [(b.build_end - b.build_s, b.build_end) for b in parallel]
    return "\n".join([
        f"Server boots on the all-in-one cloud (one simulated NovaLink host, no REST latency added); "
        f"bring-up {bring_up:.0f} s", table(headers, rows),
        f"one at a time: {_summary(sequential)}; nova-compute process CPU {cpu_seq / max(boots, 1):.2f} s per boot",
        f"{at_once} at once: {wall:.1f} s wall from the first create to the last ACTIVE; {_summary(parallel)}; "
        f"at most {_in_flight(builds)} builds and {_in_flight(spans=spawns)} driver spawns in flight at once",
    ])  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cloud", description=__doc__.split("\n\n")[0])
    parser.add_argument("--boots", type=int, default=3, help="boots one at a time after the first (default 3)")
    parser.add_argument("--concurrent", type=int, default=10, help="boots at once (default 10)")
    args = parser.parse_args(argv)
    if args.boots < 1 or args.concurrent < 1:
        parser.exit(2, f"--boots {args.boots} / --concurrent {args.concurrent}: each must be at least 1\n")
    print(run(args.boots, args.concurrent))
    return 0
