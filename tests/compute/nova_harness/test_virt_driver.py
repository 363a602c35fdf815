"""nova's generic virt-driver test case (``_VirtDriverTestCase``) on the PowerVM driver and the simulator.

Every test either passes or meets ``NotImplementedError`` for a feature the driver declares
unsupported (volumes, pause/suspend, rescue, resize/migration, console output, SPICE/serial/MKS,
diagnostics, host power actions). The generic tests' VIF is an ``ovs`` one, which the driver plugs
as a client adapter plus a NovaLink trunk.
"""

from __future__ import annotations

from nova import test
from nova.tests.unit.virt import test_virt_drivers

from tests.compute.nova_harness.base import Simulator, stop_driver


class PowerVMDriverTestCase(test_virt_drivers._VirtDriverTestCase, test.TestCase):
    """``_VirtDriverTestCase`` with a fresh simulated host per test (each test spawns its own partition)."""

    def setUp(self) -> None:
        self.driver_module = "nova.virt.powervm.PowerVMDriver"
        self.sim = Simulator()
        super().setUp()
        self.sim.configure(self)
        self.addCleanup(self._stop)
        self.connection.init_host("myhostname")

    def _stop(self) -> None:
        stop_driver(self.connection)
        self.sim.stop()

    def test_live_migration(self) -> None:
        self.skipTest("Live migration is not supported by the PowerVM driver.")

    def test_live_migration_force_complete(self) -> None:
        self.skipTest("Live migration is not supported by the PowerVM driver (the generic test sets up libvirt state).")
