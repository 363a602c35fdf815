"""``python -m benchmarks telemetry``: REST calls and time of one PCM poll for 10, 100 and 1,000 partitions.

One simulated host (in process, no added latency) with the given number of partitions, each client
partition with one adapter; samples every second. A poll is what one ceilometer polling cycle does:
one refresh of the long-term monitor (``begin_cycle``), then ``inspect_instance`` and ``inspect_vnics``
for every running client partition. The first poll also reads each partition's adapters once (for
the MACs); later polls only read PCM. Counted: REST requests the simulator served during the poll.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from pypowervm import adapter as pvm_adapter
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms

from benchmarks.common import table
from benchmarks.scale_topology import LargeHost
from powervm_openstack.simulator.http.server import SimulatorServer
from powervm_openstack.simulator.topology import loader as topology
from powervm_openstack.telemetry.inspector import PowerVMInspector


class _Instance:
    def __init__(self, uuid: str) -> None:
        self.id = uuid


def _poll(server: SimulatorServer, insp: PowerVMInspector, parts: list[Any]) -> tuple[int, float]:
    server.app.stats.reset()
    start = time.perf_counter()
    insp.begin_cycle({})
    for part in parts:
        insp.inspect_instance(_Instance(part.uuid.lower()))
        insp.inspect_vnics(_Instance(part.uuid.lower()))
    return int(server.app.stats.snapshot()["total"]), time.perf_counter() - start


def measure(partitions: int) -> list[object]:
    host = LargeHost(partitions=partitions, ports_count=max(partitions - 6, 1), vlans=10)
    server = SimulatorServer(seed=topology.records(topology.parse(host.data())), event_wait=1.0).start()
    try:
        with server.app.store.transaction() as txn:
            txn.set_meta("pcm.interval", "1")
        adapter = None
        sess = pvm_adapter.Session(server.host, "admin", "admin", port=server.port, protocol="http", conn_tries=3)
        adapter = pvm_adapter.Adapter(sess)
        host_uuid = pvm_ms.System.get(adapter)[0].uuid
        insp = PowerVMInspector(None, adapter=adapter, host_uuid=host_uuid)
        parts = [p for p in pvm_lpar.LPAR.get(adapter) if not p.is_mgmt_partition and p.state == "running"]
        insp.ltm.ensure_enabled()
        time.sleep(2.1)  # two samples taken
        first = _poll(server, insp, parts)
        time.sleep(1.1)
        second = _poll(server, insp, parts)
        time.sleep(0.1)
        third = _poll(server, insp, parts)  # no new sample since the last poll
        return [partitions, len(parts), first[0], f"{first[1]:.2f}", second[0], f"{second[1]:.2f}",
                third[0], f"{third[1]:.3f}"]  # fmt: skip
    finally:
        if adapter is not None:
            adapter.session._logoff()  # while the server still answers (else the GC's logoff waits)
        server.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks telemetry", description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[10, 100, 1000],
                        help="partition counts to measure (7 to 1000 each)")  # fmt: skip
    args = parser.parse_args(argv)
    bad = [n for n in args.partitions if not 7 <= n <= 1000]
    if bad:
        parser.error(f"--partitions {bad[0]} is out of range; allowed: 7 to 1000")
    headers = ["partitions", "polled", "poll 1 REST", "poll 1 s", "poll 2 REST", "poll 2 s", "no-new REST",
               "no-new s"]  # fmt: skip
    print("One PCM poll (refresh + inspect_instance + inspect_vnics per running client partition), "
          "simulator in process, no added latency")  # fmt: skip
    print(table(headers, [measure(n) for n in args.partitions]))
    return 0
