"""Live partition mobility between two simulators, driven by pypowervm's own ``tasks.migration``.

The source is the default topology; the destination is the same topology renamed as another host
(another system name and serial, so other UUIDs) with no client partitions, sharing the SSP cluster
``cluster1``. Every outcome is read back over HTTP from both simulators.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
import yaml
from pypowervm import const as pvm_const
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import migration, scsi_mapper
from pypowervm.tasks import storage as pvm_stg
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.topology import loader
from tests.fixtures.simulator import connect, disconnect, running_simulator

DEST_SYSTEM = "Server-9009-22A-SN7830B2C"
SCSI_XAG = pvm_const.XAG.VIO_SMAP


def _dest_topology(tmp_path, drop_vlan: int | None = None) -> str:
    data = yaml.safe_load(loader.DEFAULT.read_text())
    data["system"].update(name=DEST_SYSTEM, serial="7830B2C", primary_ip="192.168.10.40")
    data["management_partition"]["name"] = "novalink_7830B2C"
    data["lpars"] = []
    if drop_vlan is not None:
        for trunk in data["network_bridges"][0]["additional_trunks"]:
            trunk["tagged_vlans"] = [v for v in trunk["tagged_vlans"] if v != drop_vlan]
    path = tmp_path / "dest.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


class Hosts:
    def __init__(self, src, dst, src_sim, dst_sim) -> None:
        self.src, self.dst, self.src_sim, self.dst_sim = src, dst, src_sim, dst_sim
        self.target = dst_sim.url.split("//", 1)[1]

    def lpar(self, name: str) -> pvm_lpar.LPAR:
        return next(p for p in pvm_lpar.LPAR.get(self.src) if p.name == name)

    def migrate(self, lpar, **kwargs) -> None:
        migration.migrate_lpar(lpar, DEST_SYSTEM, tgt_mgmt_svr=self.target, **kwargs)

    def names(self, adapter) -> set[str]:
        return {p.name for p in pvm_lpar.LPAR.get(adapter)}

    def migrate_in_background(self, name: str, system: str = DEST_SYSTEM) -> tuple[threading.Thread, list[str]]:
        """A started thread migrating partition ``name``, and the list its job failure goes to."""
        errors: list[str] = []
        lpar = self.lpar(name)

        def run() -> None:
            try:
                migration.migrate_lpar(lpar, system, tgt_mgmt_svr=self.target)
            except pvm_exc.JobRequestFailed as exc:
                errors.append(str(exc))

        mover = threading.Thread(target=run)
        mover.start()
        return mover, errors


def _admin(sim, path: str, method: str = "GET", body=None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sim.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as reply:
        return json.loads(reply.read())


@contextlib.contextmanager
def two_hosts(dest_topology: str, **source: object) -> Iterator[Hosts]:
    """The default topology (simulator options ``source``) and ``dest_topology``, both connected."""
    with running_simulator(**source) as src_sim, running_simulator(topology=dest_topology) as dst_sim:
        src, dst = connect(src_sim), connect(dst_sim)
        try:
            yield Hosts(src, dst, src_sim, dst_sim)
        finally:
            disconnect(src)
            disconnect(dst)


@pytest.fixture
def hosts(tmp_path, request) -> Iterator[Hosts]:
    with two_hosts(_dest_topology(tmp_path, getattr(request, "param", None))) as pair:
        yield pair


def _map_ssp_disk(adapter, lpar) -> str:
    ssp = pvm_stor.SSP.get(adapter)[0]
    tier = pvm_stor.Tier.get(adapter, parent=ssp)[0]
    lu = pvm_stg.crt_lu(tier, "boot_web", 10)[1]
    vios = pvm_vios.VIOS.get(adapter, xag=[SCSI_XAG])[0]
    scsi_mapper.add_map(vios, scsi_mapper.build_vscsi_mapping(None, vios, lpar.uuid, lu))
    vios.update()
    return lu.udid


def test_live_migration_moves_partition_adapters_and_ssp_disk(hosts):
    lpar = hosts.lpar("web-01")
    udid = _map_ssp_disk(hosts.src, lpar)
    slots = sorted((c.mac, c.slot) for c in pvm_net.CNA.get(hosts.src, parent=lpar))
    src_free = pvm_ms.System.get(hosts.src)[0].memory_free
    dst_free = pvm_ms.System.get(hosts.dst)[0].memory_free
    before = _admin(hosts.dst_sim, "/sim/health")["last_change"]

    migration.migrate_lpar(lpar, DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
    assert "web-01" in hosts.names(hosts.src) and "web-01" not in hosts.names(hosts.dst)
    hosts.migrate(lpar)

    assert "web-01" not in hosts.names(hosts.src)
    moved = next(p for p in pvm_lpar.LPAR.get(hosts.dst) if p.name == "web-01")
    assert moved.uuid == lpar.uuid and moved.state == "running"
    assert sorted((c.mac, c.slot) for c in pvm_net.CNA.get(hosts.dst, parent=moved)) == slots
    assert pvm_ms.System.get(hosts.src)[0].memory_free == src_free + 4096
    assert pvm_ms.System.get(hosts.dst)[0].memory_free == dst_free - 4096
    dst_maps = [m for v in pvm_vios.VIOS.get(hosts.dst, xag=[SCSI_XAG]) for m in v.scsi_mappings
                if m.client_lpar_href and moved.uuid.upper() in m.client_lpar_href.upper()]  # fmt: skip
    assert [m.backing_storage.udid for m in dst_maps] == [udid]
    src_maps = [m for v in pvm_vios.VIOS.get(hosts.src, xag=[SCSI_XAG]) for m in v.scsi_mappings
                if m.client_lpar_href and lpar.uuid.upper() in m.client_lpar_href.upper()]  # fmt: skip
    assert src_maps == []
    assert _admin(hosts.src_sim, "/sim/mobility")["downtime_ms"] == 150 + 4096 // 64
    changes = _admin(hosts.dst_sim, f"/sim/changes?since={before}")
    assert any(c["event_type"] == "ADD_URI" and lpar.uuid in c["path"] for c in changes)
    src_changes = _admin(hosts.src_sim, "/sim/changes?since=0&limit=100000")
    assert any(c["event_type"] == "DELETE_URI" and lpar.uuid in c["path"] for c in src_changes)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"tgt_mgmt_svr": None}, "not managed by this NovaLink"),
        ({"tgt_mgmt_svr": "127.0.0.1:9"}, "unreachable"),
    ],
)
def test_unknown_or_unreachable_destination_is_refused(hosts, kwargs, reason):
    lpar = hosts.lpar("web-01")
    with pytest.raises(pvm_exc.JobRequestFailed, match=reason):
        migration.migrate_lpar(lpar, DEST_SYSTEM, **kwargs)
    assert "web-01" in hosts.names(hosts.src)


def test_wrong_system_name_and_no_rmc_are_refused(hosts):  # a stopped one moves: test_mobility_inactive
    with pytest.raises(pvm_exc.JobRequestFailed, match="is not managed here"):
        migration.migrate_lpar(hosts.lpar("web-01"), "Server-other", tgt_mgmt_svr=hosts.target)
    with pytest.raises(pvm_exc.JobRequestFailed, match="needs an active RMC"):
        hosts.migrate(hosts.lpar("aix-batch"))
    assert {"web-01", "aix-batch"} <= hosts.names(hosts.src)
    assert not {"web-01", "aix-batch"} & hosts.names(hosts.dst)


def test_local_disk_is_refused_before_anything_moves(hosts):
    lpar = hosts.lpar("web-01")
    vios = pvm_vios.VIOS.get(hosts.src, xag=[SCSI_XAG])[0]
    vg = next(v for v in pvm_stor.VG.get(hosts.src, parent=vios) if v.name == "datavg")
    disk = pvm_stg.crt_vdisk(hosts.src, vios.uuid, vg.uuid, "boot_local", 5)
    scsi_mapper.add_vscsi_mapping(pvm_ms.System.get(hosts.src)[0].uuid, vios, lpar.uuid, disk)
    with pytest.raises(pvm_exc.JobRequestFailed, match="not on shared storage"):
        hosts.migrate(lpar)
    assert "web-01" in hosts.names(hosts.src) and "web-01" not in hosts.names(hosts.dst)


@pytest.mark.parametrize("hosts", [100], indirect=True)
def test_vlan_the_destination_cannot_bridge_is_refused(hosts):
    with pytest.raises(pvm_exc.JobRequestFailed, match="VLAN 100 on ETHERNET0 .* is not bridged"):
        hosts.migrate(hosts.lpar("web-01"))
    hosts.migrate(hosts.lpar("web-01"), vlan_check_override=True)
    assert "web-01" in hosts.names(hosts.dst)


def test_insufficient_memory_on_destination_is_refused(hosts):
    system = pvm_ms.System.get(hosts.dst)[0]
    free = system.memory_free
    lpar = hosts.lpar("web-01")
    # Fill the destination: a partition that takes all but 1 GB of the free memory.
    from tests.fixtures.simulator import new_lpar

    hog = new_lpar(hosts.dst, prefix="hog")
    hog.mem_config.desired = hog.mem_config.max = free - 1024
    hog = hog.update()
    from pypowervm.tasks import power

    power.power_on(hog, None)
    with pytest.raises(pvm_exc.JobRequestFailed, match="needs 4096 MB of memory"):
        hosts.migrate(lpar)
    assert "web-01" in hosts.names(hosts.src)


def test_fault_at_receive_leaves_partition_on_source(hosts):
    _admin(hosts.dst_sim, "/sim/faults", "POST", {"kind": "server_error", "method": "POST",
                                                   "path": "/sim/mobility/receive", "count": 1})  # fmt: skip
    with pytest.raises(pvm_exc.JobRequestFailed, match="refused the migration \\(receive\\)"):
        hosts.migrate(hosts.lpar("web-01"))
    assert "web-01" in hosts.names(hosts.src) and "web-01" not in hosts.names(hosts.dst)


def test_reply_lost_after_receive_is_recovered(hosts):
    _admin(hosts.dst_sim, "/sim/faults", "POST", {"kind": "server_error", "method": "POST", "when": "after",
                                                   "path": "/sim/mobility/receive", "count": 1})  # fmt: skip
    lpar = hosts.lpar("web-01")
    with pytest.raises(pvm_exc.JobRequestFailed):
        hosts.migrate(lpar)
    assert "web-01" in hosts.names(hosts.src) and "web-01" in hosts.names(hosts.dst)
    migration.migrate_recover(lpar)
    assert "web-01" not in hosts.names(hosts.src) and "web-01" in hosts.names(hosts.dst)
    with pytest.raises(pvm_exc.JobRequestFailed, match="no failed migration"):
        migration.migrate_recover(hosts.lpar("aix-batch"))


def test_abort_without_a_running_migration_fails(hosts):
    with pytest.raises(pvm_exc.JobRequestFailed, match="No Migrate job is running"):
        migration.migrate_abort(hosts.lpar("web-01"))


def test_abort_during_migration_leaves_partition_on_source(tmp_path):
    with (
        running_simulator(job_seconds=10.0) as src_sim,
        running_simulator(topology=_dest_topology(tmp_path)) as dst_sim,
    ):
        src, dst = connect(src_sim), connect(dst_sim)
        try:
            hosts = Hosts(src, dst, src_sim, dst_sim)
            lpar = hosts.lpar("web-01")
            mover, errors = hosts.migrate_in_background("web-01")
            time.sleep(3.0)  # the Migrate job is RUNNING for job_seconds
            migration.migrate_abort(lpar)
            mover.join(120)
            assert errors, "the aborted Migrate job should fail"
            time.sleep(10.0)  # past the Migrate job's timer: it must not run after the abort
            assert "web-01" in hosts.names(src) and "web-01" not in hosts.names(dst)
        finally:
            disconnect(src)
            disconnect(dst)


def test_processor_compatibility_mode_the_destination_lacks_is_refused(tmp_path):
    path = _dest_topology(tmp_path)
    data = yaml.safe_load(open(path).read())
    data["system"]["compat_modes"] = ["default", "POWER8", "POWER9_Base"]
    (tmp_path / "dest.yaml").write_text(yaml.safe_dump(data))
    with running_simulator() as src_sim, running_simulator(topology=path) as dst_sim:
        src, dst = connect(src_sim), connect(dst_sim)
        try:
            hosts = Hosts(src, dst, src_sim, dst_sim)
            lpar = hosts.lpar("web-01")  # running in POWER9 mode, its source host's most featured
            with pytest.raises(pvm_exc.JobRequestFailed,
                               match=r"current processor compatibility mode POWER9, which .* does not support"):  # fmt: skip
                migration.migrate_lpar(lpar, DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
            assert "web-01" in hosts.names(src) and "web-01" not in hosts.names(dst)
        finally:
            disconnect(src)
            disconnect(dst)


def test_ibmi_partition_moves_without_rmc_only_in_restricted_io_mode(tmp_path):
    data = yaml.safe_load(loader.DEFAULT.read_text())
    data["lpars"].append({"name": "ibmi-01", "id": 9, "os": "ibmi", "state": "running", "rmc_state": "inactive",
                          "memory_mb": 2048, "proc_units": 0.5, "vcpus": 1})  # fmt: skip
    src_topology = tmp_path / "src.yaml"
    src_topology.write_text(yaml.safe_dump(data))
    with (
        running_simulator(topology=str(src_topology)) as src_sim,
        running_simulator(topology=_dest_topology(tmp_path)) as dst_sim,
    ):
        src, dst = connect(src_sim), connect(dst_sim)
        try:
            hosts = Hosts(src, dst, src_sim, dst_sim)
            with pytest.raises(pvm_exc.JobRequestFailed, match="is not in restricted I/O mode"):
                hosts.migrate(hosts.lpar("ibmi-01"))
            lpar = hosts.lpar("ibmi-01")
            lpar.restrictedio = True
            lpar.update()
            hosts.migrate(hosts.lpar("ibmi-01"))  # no RMC asked of IBM i
            assert "ibmi-01" in hosts.names(dst) and "ibmi-01" not in hosts.names(src)
        finally:
            disconnect(src)
            disconnect(dst)
