"""Inactive partition mobility and ``MigrationState`` while a Migrate job waits, through pypowervm's ``tasks.migration``.

The hosts are those of ``test_mobility`` (the default topology, and the same renamed as another
system with no client partitions, sharing the SSP cluster ``cluster1``); every outcome is read back
with fresh GETs over HTTP from both simulators.
"""

from __future__ import annotations

import threading
import time

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import migration, power
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.state import xml
from tests.fixtures.simulator import new_lpar
from tests.simulator.test_mobility import DEST_SYSTEM, SCSI_XAG, _admin, _dest_topology, _map_ssp_disk, two_hosts
from tests.simulator.test_mobility import hosts as hosts  # noqa: F401 (the fixture)


def _on(adapter, name: str) -> pvm_lpar.LPAR | None:
    return next((p for p in pvm_lpar.LPAR.get(adapter) if p.name == name), None)


def _mapped(adapter, lpar_uuid: str) -> list[str]:
    return [m.backing_storage.udid for v in pvm_vios.VIOS.get(adapter, xag=[SCSI_XAG]) for m in v.scsi_mappings
            if m.client_lpar_href and lpar_uuid.upper() in m.client_lpar_href.upper()]  # fmt: skip


def test_stopped_partition_moves_inactive_and_arrives_not_activated(hosts):
    lpar = hosts.lpar("db-01")  # not activated, no RMC, 8 GB
    assert lpar.state == "not activated"
    udid = _map_ssp_disk(hosts.src, lpar)
    slots = sorted((c.mac, c.slot) for c in pvm_net.CNA.get(hosts.src, parent=lpar))
    free = [pvm_ms.System.get(a)[0].memory_free for a in (hosts.src, hosts.dst)]

    migration.migrate_lpar(lpar, DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
    assert _on(hosts.dst, "db-01") is None
    hosts.migrate(lpar)

    assert _on(hosts.src, "db-01") is None and _mapped(hosts.src, lpar.uuid) == []
    moved = _on(hosts.dst, "db-01")
    assert (moved.uuid, moved.state, moved.migration_state) == (lpar.uuid, "not activated", "Not_Migrating")
    assert sorted((c.mac, c.slot) for c in pvm_net.CNA.get(hosts.dst, parent=moved)) == slots
    assert _mapped(hosts.dst, moved.uuid) == [udid]
    # a not activated partition holds no memory: neither side's available memory changed
    assert [pvm_ms.System.get(a)[0].memory_free for a in (hosts.src, hosts.dst)] == free
    last = _admin(hosts.src_sim, "/sim/mobility")
    assert (last["type"], last["downtime_ms"], last["partition"]) == ("inactive", 0, lpar.uuid)

    power.power_on(moved, None)  # it starts on the destination, which then gives it its memory
    assert _on(hosts.dst, "db-01").state == "running"
    assert pvm_ms.System.get(hosts.dst)[0].memory_free == free[1] - 8192


def test_inactive_move_checks_the_desired_memory(hosts):
    free = pvm_ms.System.get(hosts.dst)[0].memory_free
    hog = new_lpar(hosts.dst, prefix="hog")
    hog.mem_config.desired = hog.mem_config.max = free - 4096  # leaves 4 GB, db-01 desires 8 GB
    power.power_on(hog.update(), None)
    with pytest.raises(pvm_exc.JobRequestFailed, match="needs 8192 MB of memory"):
        migration.migrate_lpar(hosts.lpar("db-01"), DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
    with pytest.raises(pvm_exc.JobRequestFailed, match="needs 8192 MB of memory"):
        hosts.migrate(hosts.lpar("db-01"))
    assert _on(hosts.src, "db-01") is not None and _on(hosts.dst, "db-01") is None


def test_inactive_move_checks_only_the_preferred_compatibility_mode(tmp_path):
    path = _dest_topology(tmp_path)
    data = yaml.safe_load(open(path).read())
    data["system"]["compat_modes"] = ["default", "POWER8", "POWER9_Base"]  # no POWER9
    (tmp_path / "dest.yaml").write_text(yaml.safe_dump(data))
    with two_hosts(path) as hosts:
        # preferred "default": no current mode is decided for a stopped partition, so it can move
        migration.migrate_lpar(hosts.lpar("db-01"), DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
        lpar = hosts.lpar("db-01")
        lpar.proc_compat_mode = "POWER9"
        lpar.update()
        with pytest.raises(pvm_exc.JobRequestFailed, match=r"preferred processor compatibility mode POWER9"):
            hosts.migrate(hosts.lpar("db-01"))
        assert _on(hosts.src, "db-01") is not None and _on(hosts.dst, "db-01") is None


def test_a_partition_neither_running_nor_not_activated_is_refused(hosts):
    lpar = hosts.lpar("web-01")
    with hosts.src_sim.store.transaction() as txn:  # the firmware state a REST client cannot set
        rec = txn.get("LogicalPartition", lpar.uuid)
        xml.set_text(rec.element, "PartitionState", "open firmware")
        txn.put(rec)
    with pytest.raises(pvm_exc.JobRequestFailed, match=r"is open firmware; only a running partition \(active "
                       r"migration\) or a not activated one \(inactive migration\) can migrate"):  # fmt: skip
        migration.migrate_lpar(hosts.lpar("web-01"), DEST_SYSTEM, validate_only=True, tgt_mgmt_svr=hosts.target)
    assert _on(hosts.dst, "web-01") is None


def _states_until_done(adapter, name: str, mover: threading.Thread) -> list[str]:
    seen = []
    while mover.is_alive():
        lpar = _on(adapter, name)
        seen.append(lpar.migration_state if lpar else "gone")
        time.sleep(0.2)
    return seen


def test_migration_state_while_a_migrate_job_waits(tmp_path):
    with two_hosts(_dest_topology(tmp_path), job_seconds=1.5) as hosts:
        src, dst = hosts.src, hosts.dst
        assert hosts.lpar("web-01").migration_state == "Not_Migrating"

        mover, errors = hosts.migrate_in_background("web-01", "Server-other")  # refused when it runs
        assert "Migration_Starting" in _states_until_done(src, "web-01", mover)
        assert errors and "is not managed here" in errors[0]
        assert hosts.lpar("web-01").migration_state == "Not_Migrating"

        mover, errors = hosts.migrate_in_background("db-01")  # an inactive move, too
        assert "Migration_Starting" in _states_until_done(src, "db-01", mover)
        assert not errors and _on(src, "db-01") is None
        assert _on(dst, "db-01").migration_state == "Not_Migrating"

        mover, errors = hosts.migrate_in_background("web-01")
        time.sleep(0.5)
        assert hosts.lpar("web-01").migration_state == "Migration_Starting"
        migration.migrate_abort(hosts.lpar("web-01"))
        assert hosts.lpar("web-01").migration_state == "Not_Migrating"  # the abort's read, at once
        mover.join(60)
        assert errors and _on(dst, "web-01") is None
