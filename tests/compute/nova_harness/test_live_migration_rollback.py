"""Live migrations that do not complete, in nova 34's functional harness (two computes, two simulators).

A fault injected at the destination's receive phase, nova's completion timeout (the source
simulator's Migrate job is made slow) and nova's abort API each end the migration with the partition
running only on the source, with its disk and config drive mappings, and the VLAN ``pre_live_migration`` bridged on the
destination removed again. In their own module because after a rolled-back migration nova's
process-wide thread-pool factory is left shut down, which breaks a harness test of another module in
the same stestr worker (``./run`` gives each module its own workers).
"""

from __future__ import annotations

import time

from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from tests.compute.nova_harness.test_functional import VLAN
from tests.compute.nova_harness.test_live_migration import _admin, _TwoHosts


class PowerVMLiveMigrationRollbackTest(_TwoHosts):
    disk_driver = "ssp"

    def _bridged_on_host2(self) -> list[int]:
        system = pvm_lpar.LPAR.get(self.pvm2)[0].assoc_sys_uuid
        return pvm_net.NetBridge.get(self.pvm2, parent_type="ManagedSystem", parent_uuid=system)[0].list_vlans()

    def _wait_for_end(self, server: dict, statuses: tuple[str, ...] = ("failed", "error", "cancelled")) -> None:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            found = [m["status"] for m in self.admin_api.api_get("/os-migrations").body["migrations"]
                     if m["instance_uuid"] == server["id"]]  # fmt: skip
            if found and found[0] in statuses:
                return
            time.sleep(0.5)
        self.fail(f"the live migration of {server['id']} did not end in {statuses}: {found}")

    def _assert_back_on_source(self, server: dict) -> None:
        server = self.api.get_server(server["id"])
        self.assertEqual("compute", server["OS-EXT-SRV-ATTR:host"])
        lpar = self._on(self.pvm, server)
        self.assertIsNotNone(lpar)
        self.assertEqual("running", lpar.state)
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertIn(f"cfg_{server['id'].replace('-', '')}", self._mapped_to(self.pvm, lpar.uuid))  # mapped again
        self.assertGreater(len(self._mapped_to(self.pvm, lpar.uuid)), 1)  # and the boot disk
        self.assertNotIn(VLAN, self._bridged_on_host2())  # pre_live_migration's VLAN undone

    def test_fault_mid_migration_rolls_back_to_the_source(self) -> None:
        server = self._boot(host="compute")
        _admin(self.sim2, "/sim/faults", {"kind": "server_error", "method": "POST",
                                          "path": "/sim/mobility/receive", "count": 1})  # fmt: skip
        server = self._live_migrate(server, migration_expected_state="failed", host="host2")
        self._assert_back_on_source(server)

    def test_completion_timeout_aborts_the_migration(self) -> None:
        server = self._boot(host="compute")
        # 1 s per GiB, 2 GiB at least: the driver aborts after 2 s; the source's Migrate job takes 6 s
        self.flags(live_migration_completion_timeout=1, live_migration_timeout_action="abort", group="libvirt")
        self.sim.server.app.jobs.job_seconds = 6.0
        self.api.post_server_action(server["id"], {"os-migrateLive": {"host": "host2", "block_migration": "auto"}})
        self._wait_for_end(server)
        self._wait_for_state_change(server, "ACTIVE")
        time.sleep(5)  # past the Migrate job's timer: the aborted move must not happen later
        self.sim.server.app.jobs.job_seconds = 0.0
        self._assert_back_on_source(server)

    def test_abort_through_nova_api_stops_the_migration(self) -> None:
        server = self._boot(host="compute")
        self.sim.server.app.jobs.job_seconds = 6.0
        self.api.post_server_action(server["id"], {"os-migrateLive": {"host": "host2", "block_migration": "auto"}})
        migration = self._wait_for_migration_status(server, ["running"])
        time.sleep(1)  # the source's Migrate job has been submitted
        self.api.api_delete(f"/servers/{server['id']}/migrations/{migration['id']}")
        self._wait_for_end(server)
        self._wait_for_state_change(server, "ACTIVE")
        time.sleep(5)
        self.sim.server.app.jobs.job_seconds = 0.0
        self._assert_back_on_source(server)
