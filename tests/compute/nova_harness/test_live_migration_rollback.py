"""Live migration with a fault injected mid-way, in nova 34's functional harness (two computes, two simulators).

The destination simulator fails the receive phase of the move: the migration ends ``failed`` and
the partition is running only on the source, with its disk mapping. In its own module because after
this rolled-back migration nova's process-wide thread-pool factory is left shut down, which breaks
the next harness test in the same stestr worker (``./run`` gives each module its own workers).
"""

from __future__ import annotations

from tests.compute.nova_harness.test_live_migration import _admin, _TwoHosts


class PowerVMLiveMigrationRollbackTest(_TwoHosts):
    disk_driver = "ssp"

    def test_fault_mid_migration_rolls_back_to_the_source(self) -> None:
        server = self._boot(host="compute")
        _admin(self.sim2, "/sim/faults", {"kind": "server_error", "method": "POST",
                                          "path": "/sim/mobility/receive", "count": 1})  # fmt: skip
        server = self._live_migrate(server, migration_expected_state="failed", host="host2")

        self.assertEqual("compute", server["OS-EXT-SRV-ATTR:host"])
        lpar = self._on(self.pvm, server)
        self.assertIsNotNone(lpar)
        self.assertEqual("running", lpar.state)
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertTrue(self._mapped_to(self.pvm, lpar.uuid))
