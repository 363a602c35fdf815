"""The volume part of ``python -m benchmarks compute``: attach and detach per type, and concurrent attaches.

On the benchmark's simulated host (the default topology plus two FC ports per VIOS and an iSCSI
target, with the NovaLink partition an I/O server for file and RBD volumes, added here): for
``fibre_channel`` over vSCSI, over NPIV, ``iscsi``, ``local`` (a file; ``nfs`` and ``gpfs`` take the
same path) and ``rbd``, REST calls and time per attach and per detach of one volume to a running
partition; then ``concurrent`` vSCSI FC
attaches to one partition at once, with the mappings each VIOS holds afterwards (none may be lost)
and how many VIOS updates answered 412 and were retried against the fresh document (pypowervm
serialises one process's updates of a VIOS, so 5 injected 412s stand for another REST client's).
"""

from __future__ import annotations

import concurrent.futures
import os
import tempfile
import threading
from collections import Counter
from typing import Any

from benchmarks.common import table

TARGETS = ["500507680B215660"]
PORTS = {"vios1": ["10000090FA1B6301", "10000090FA1B6302"], "vios2": ["10000090FA1B6401", "10000090FA1B6402"]}
ISCSI = {"iqn": "iqn.2010-10.org.openstack:bench", "portal": "10.1.0.5:3260", "lun": 1, "capacity_gb": 1}
_412 = Counter()
_lock = threading.Lock()


def san_topology() -> list[Any]:
    """The default topology's records with FC ports on the first two VIOSes and one iSCSI target."""
    import yaml

    from powervm_openstack.simulator.topology import loader

    data = yaml.safe_load(loader.DEFAULT.read_text())
    names = [v["name"] for v in data["vioses"]][:2]
    storage = data.setdefault("storage", {})
    storage["fc_ports"] = [{"vios": n, "name": f"fcs{i}", "wwpn": w} for n, ports in zip(names, PORTS.values(),
                           strict=False) for i, w in enumerate(ports)]  # fmt: skip
    storage["iscsi_targets"] = [{**ISCSI, "vioses": names}]
    data["management_partition"]["io_server"] = True  # NovaLink serves file and RBD volumes
    return loader.records(loader.parse(data))


def count_412() -> None:
    """Count 412 answers (pypowervm raises them; WrapperTask retries)."""
    from pypowervm import adapter as pvm_adapter

    original = pvm_adapter.Session.request

    def request(self: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, method, path, *args, **kwargs)
        except Exception as err:
            if getattr(getattr(err, "response", None), "status", None) == 412:
                with _lock:
                    _412[method] += 1
            raise

    pvm_adapter.Session.request = request


def _fc_info(server: Any, lun: int, visible: list[str]) -> dict:
    from powervm_openstack.simulator.build.san import Lun
    from powervm_openstack.simulator.model import fc

    fc.add_lun(server.store, Lun(f"bench-{lun}", lun, 1, TARGETS, visible))
    return {"driver_volume_type": "fibre_channel", "serial": f"bench-{lun}",
            "data": {"target_wwn": TARGETS, "target_lun": lun, "volume_id": f"bench-{lun}"}}  # fmt: skip


def _iscsi_info() -> dict:
    return {"driver_volume_type": "iscsi", "serial": "bench-iscsi",
            "data": {"target_portal": ISCSI["portal"], "target_iqn": ISCSI["iqn"], "target_lun": 1}}  # fmt: skip


def _file_info(folder: str, n: int) -> dict:
    path = os.path.join(folder, f"volume-{n}")
    with open(path, "wb") as handle:
        handle.truncate(1024 * 1024)
    return {"driver_volume_type": "local", "serial": f"bench-file-{n}", "data": {"device_path": path}}


def _rbd_info(server: Any, n: int) -> dict:
    from powervm_openstack.simulator.model import filestore

    filestore.add_rbd(server.store, f"volumes/bench-{n}", 1)
    return {"driver_volume_type": "rbd", "serial": f"bench-rbd-{n}", "data": {"name": f"volumes/bench-{n}"}}


def run(drv: Any, server: Any, inst: Any, measure: Any, row: Any, concurrent_n: int, repeat: int = 3) -> str:
    """Rows per type and the concurrent-attach summary (``measure``/``row`` from ``benchmarks.compute``)."""
    count_412()
    inst.save = lambda: None  # no nova database: the NPIV state stays on the object
    all_ports = [w for ports in PORTS.values() for w in ports]
    luns = iter(range(1, 10_000))
    folder = tempfile.TemporaryDirectory(prefix="bench-volumes-")
    kinds = [("fibre_channel, vSCSI", "vscsi", lambda: _fc_info(server, next(luns), all_ports)),
             ("fibre_channel, NPIV", "npiv", lambda: _fc_info(server, next(luns), [])),
             ("iscsi", "vscsi", _iscsi_info),
             ("local (file)", "vscsi", lambda: _file_info(folder.name, next(luns))),
             ("rbd", "vscsi", lambda: _rbd_info(server, next(luns)))]  # fmt: skip
    rows = []
    for name, strategy, info_of in kinds:
        drv.conf.set_override("fc_attach_strategy", strategy, group="powervm")
        if strategy == "npiv":
            drv.conf.set_override("fabric_A_port_wwpns", [PORTS["vios1"][0], PORTS["vios2"][0]], group="powervm")
        attaches, detaches = [], []
        for _ in range(repeat):
            info = info_of()
            with measure() as stats:
                drv.attach_volume(None, info, inst, "/dev/sdb")
            attaches.append(stats)
            with measure() as stats:
                drv.detach_volume(None, info, inst, "/dev/sdb")
            detaches.append(stats)
        rows += [row(f"attach {name}", attaches), row(f"detach {name}", detaches)]
    folder.cleanup()
    drv.conf.set_override("fc_attach_strategy", "vscsi", group="powervm")
    infos = [_fc_info(server, next(luns), all_ports) for _ in range(concurrent_n)]
    _412.clear()
    # pypowervm serialises updates of one VIOS within a process; the 412s a second REST client (another
    # NovaLink user, the network agent) causes are injected: 5 VIOS updates answer 412 once
    server.app.faults.add_rule({"kind": "etag_mismatch", "method": "POST", "path": "VirtualIOServer", "count": 5})
    with concurrent.futures.ThreadPoolExecutor(concurrent_n) as pool:
        list(pool.map(lambda i: drv.attach_volume(None, i, inst, "/dev/sdb"), infos))
    mapped = _pv_mappings(drv)
    retried = sum(_412.values())
    for info in infos:
        drv.detach_volume(None, info, inst, "/dev/sdb")
    headers = ["operation", "n", "REST calls/op", "p50 ms", "p95 ms", "driver-own p50 ms", "driver-own share"]
    return (f"Volumes, one running partition\n{table(headers, rows)}\n{concurrent_n} concurrent vSCSI FC attaches "
            f"to one partition: PV mappings per VIOS afterwards {mapped} (expected {concurrent_n} each), "
            f"{retried} VIOS update(s) answered 412 (5 injected) and were retried")  # fmt: skip


def _pv_mappings(drv: Any) -> dict[str, int]:
    from pypowervm.wrappers import storage as pvm_stor
    from pypowervm.wrappers import virtual_io_server as pvm_vios

    vioses = pvm_vios.VIOS.get(drv.adapter, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
    found = {v.name: sum(isinstance(m.backing_storage, pvm_stor.PV) for m in v.scsi_mappings) for v in vioses}
    return {k: v for k, v in found.items() if v}
