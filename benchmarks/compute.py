"""``python -m benchmarks compute``: REST calls and time of the compute driver's spawn and destroy.

One simulated host (in process) with REST latency added to every call. The driver runs as nova
would call it (``init_host``, ``spawn``, ``destroy``) with one ``pvm_sea`` VIF per instance; the
image comes from a stand-in Glance. Every REST call the driver makes is timed on the calling thread
(pypowervm ``Session.request``), so each operation's time splits into waiting on REST and the
driver's own work. Reported: the first spawn (image upload to the cache), warm spawns and destroys
one at a time, then N concurrent spawns and destroys; then volumes (``benchmarks.compute_volumes``):
attach and detach per type and concurrent attaches to one partition; then live migration between two
simulated hosts on one SSP (``benchmarks.compute_migration``): each step's REST calls and time, and
the downtime the simulator reports; then cold migration between the same two hosts
(``benchmarks.compute_cold_migration``): each step's REST calls and time, and the downtime from the
source partition's stop to the destination partition's start in the simulators' change logs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from benchmarks.common import Latency, percentile, table

_local = threading.local()
IMAGE = b"raw boot image " * 4096
IMAGE_ID = "6d1f5c0e-4f4e-4a47-9a3b-4b0c8a3f0b11"


def _timed_requests() -> None:
    """Count and time every pypowervm REST call on the thread that makes it."""
    from pypowervm import adapter as pvm_adapter

    original = pvm_adapter.Session.request
    if getattr(original, "timed", False):  # installed already (a second run in one process)
        return

    def request(self: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, method, path, *args, **kwargs)
        finally:
            stats = getattr(_local, "stats", None)
            if stats is not None:
                stats["rest_s"] += time.perf_counter() - start
                stats["calls"] += 1
                stats[method] += 1

    request.timed = True  # type: ignore[attr-defined]
    pvm_adapter.Session.request = request


@contextlib.contextmanager
def _measure() -> Iterator[Counter]:
    _local.stats = stats = Counter()
    start = time.perf_counter()
    try:
        yield stats
    finally:
        stats["wall_s"] = time.perf_counter() - start
        _local.stats = None


class _Glance:
    def download(self, context: Any, image_id: str, dest_path: str | None = None, **_: Any) -> None:
        with open(dest_path, "wb") as out:
            out.write(IMAGE)


def _driver(port: int, work: str, host: str = "bench", powervm: dict[str, str] | None = None) -> Any:
    import nova.conf
    from nova import objects
    from nova.virt import fake

    from powervm_openstack.compute import conf as pvm_conf
    from powervm_openstack.compute import driver, images

    objects.register_all()
    conf = nova.conf.CONF
    if "config_file" not in conf:  # parse once (a test process may have registered options unparsed)
        conf([], project="nova")
    if "powervm" not in conf:  # later drivers only change overrides
        pvm_conf.register_opts(conf)
    for group, values in {"powervm_rest": {"host": "127.0.0.1", "port": port, "protocol": "http"},
                          "powervm": powervm or {"volume_group_name": "datavg", "disk_driver": "localdisk"},
                          None: {"instances_path": work, "vif_plugging_timeout": 0, "host": host}}.items():  # fmt: skip
        for key, value in values.items():
            conf.set_override(key, value, group=group)
    images._API = _Glance()
    drv = driver.PowerVMDriver(fake.FakeVirtAPI())
    drv._load_known_instances = lambda host: None  # no nova database here
    drv.init_host(host)
    return drv


def _ssp_driver(port: int, work: str, host: str) -> Any:
    """A driver with its boot disks in the host's SSP (``cluster1``), for the live migration phase."""
    return _driver(port, work, host, {"disk_driver": "ssp", "volume_group_name": "", "cluster_name": "cluster1"})


def _instance(index: int) -> Any:
    from nova import objects

    flavor = objects.Flavor(vcpus=2, memory_mb=1024, root_gb=2, ephemeral_gb=0, swap=0, extra_specs={})
    return objects.Instance(uuid=str(uuid.uuid4()), id=index, flavor=flavor, config_drive="", system_metadata={},
                            image_ref=IMAGE_ID, project_id="bench", vm_state="building", task_state=None)  # fmt: skip


def _network_info(index: int) -> Any:
    from nova.network import model

    mac = f"fa:16:3e:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}"
    vif = model.VIF(id=str(uuid.uuid4()), address=mac, type="pvm_sea", details={"vlan": "100"},
                    network=model.Network(id="net", bridge="br"), active=True)  # fmt: skip
    return model.NetworkInfo([vif])


def _spawn(drv: Any, index: int) -> tuple[Any, Any, Counter]:
    from nova import context, objects

    inst, nw = _instance(index), _network_info(index)
    meta = objects.ImageMeta.from_dict({"id": IMAGE_ID, "disk_format": "raw", "size": len(IMAGE)})
    with _measure() as stats:
        drv.spawn(context.get_admin_context(), inst, meta, [], None, {}, network_info=nw)
    return inst, nw, stats


def _destroy(drv: Any, inst: Any, nw: Any) -> Counter:
    with _measure() as stats:
        drv.destroy(None, inst, nw)
    return stats


def _row(name: str, samples: list[Counter]) -> list[object]:
    wall = [s["wall_s"] for s in samples]
    own = [s["wall_s"] - s["rest_s"] for s in samples]
    calls = sum(s["calls"] for s in samples) / len(samples)
    return [name, len(samples), f"{calls:.1f}", f"{percentile(wall, 50) * 1000:.0f}",
            f"{percentile(wall, 95) * 1000:.0f}", f"{percentile(own, 50) * 1000:.0f}",
            f"{sum(own) / max(sum(wall), 1e-9) * 100:.0f}%"]  # fmt: skip


def run(latency_ms: float, parallel: int, sequential: int, volume_concurrent: int = 10, moves: int = 3) -> str:
    from benchmarks import compute_cold_migration, compute_migration, compute_volumes
    from powervm_openstack.simulator.http.server import SimulatorServer

    _timed_requests()
    server = SimulatorServer(seed=compute_volumes.san_topology(), event_wait=1.0).start()
    server.app.faults.set_rules(Latency(write_ms=latency_ms, read_ms=latency_ms / 2).rules())
    work = tempfile.mkdtemp(prefix="bench-compute-")
    drv = _driver(server.port, work)
    try:
        first = [_spawn(drv, 1)]
        warm = [_spawn(drv, i + 2) for i in range(sequential)]
        destroys = [_destroy(drv, inst, nw) for inst, nw, _ in first + warm]
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            spawned = list(pool.map(lambda i: _spawn(drv, 100 + i), range(parallel)))
        spawn_wall = time.perf_counter() - start
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            removed = list(pool.map(lambda s: _destroy(drv, s[0], s[1]), spawned))
        destroy_wall = time.perf_counter() - start
        inst, nw, _ = _spawn(drv, 900)
        volumes = compute_volumes.run(drv, server, inst, _measure, _row, volume_concurrent)
        _destroy(drv, inst, nw)
    finally:
        drv.cleanup_host("bench")
        server.stop()
    latency = Latency(write_ms=latency_ms, read_ms=latency_ms / 2).rules()
    moved = compute_migration.run(_ssp_driver, _spawn, _measure, latency, moves)
    migration = compute_migration.report(moved, _row, table)
    cold = compute_cold_migration.report(compute_cold_migration.run(_ssp_driver, _spawn, _measure, latency, moves),
                                         _row, table)  # fmt: skip
    headers = ["operation", "n", "REST calls/op", "p50 ms", "p95 ms", "driver-own p50 ms", "driver-own share"]
    rows = [_row("spawn, first (image upload)", [s for _, _, s in first]), _row("spawn, warm", [s for *_, s in warm]),
            _row("destroy", destroys), _row(f"spawn, {parallel} concurrent", [s for *_, s in spawned]),
            _row(f"destroy, {parallel} concurrent", removed)]  # fmt: skip
    return (f"Compute driver on one simulated host, REST latency {latency_ms:g} ms per write, "
            f"{latency_ms / 2:g} ms per read\n{table(headers, rows)}\n"
            f"{parallel} concurrent spawns: {spawn_wall:.1f} s wall; destroys: {destroy_wall:.1f} s wall\n\n{volumes}\n\n"
            f"{migration}\n\n{cold}")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks compute", description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency added to each REST write (reads: half)")
    parser.add_argument("--concurrent", type=int, default=20, help="spawns run at once in the concurrent phase")
    parser.add_argument("--sequential", type=int, default=5, help="warm spawns run one at a time")
    parser.add_argument("--volume-concurrent", type=int, default=10, help="vSCSI FC attaches run at once")
    parser.add_argument(
        "--moves", type=int, default=3, help="live migrations, then cold migrations, of one partition, back and forth"
    )
    args = parser.parse_args(argv)
    for name in ("concurrent", "sequential", "volume_concurrent", "moves"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} must be at least 1")
    print(run(args.latency_ms, args.concurrent, args.sequential, args.volume_concurrent, args.moves))
    return 0
