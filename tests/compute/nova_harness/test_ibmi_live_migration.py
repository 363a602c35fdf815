"""IBM i live migration in nova 34's functional harness: two compute services, each on its own simulator.

An IBM i partition has no RMC connection to check: it moves in restricted I/O mode (the driver
builds IBM i partitions that way) to a system that is IBM i mobility capable, as PowerVM requires.
The partition arrives with its tagged I/O (load source and console on the same client slots), so
the guest boots from the same device after the move; a destination that is not IBM i mobility
capable is refused by PowerVM's validation before anything changes, with the reason.
"""

from __future__ import annotations

from nova.tests.functional.api import client

from powervm_openstack.simulator.state import xml
from tests.compute.nova_harness.test_ibmi import add_ibmi_image
from tests.compute.nova_harness.test_live_migration import _TwoHosts

_IBMI_MOBILITY = "AssociatedSystemCapabilities/IBMiLogicalPartitionMobilityCapable"


class PowerVMIBMiLiveMigrationTest(_TwoHosts):
    disk_driver = "ssp"

    def _ibmi_server(self) -> dict:
        flavor = self.admin_api.post_flavor({"flavor": {"name": "ibmi-lpm", "ram": 1024, "vcpus": 2, "disk": 2}})
        return self._create_server(image_uuid=add_ibmi_image(self.glance), flavor_id=flavor["id"],
                                   networks=[{"port": self._sea_port()}], host="compute")  # fmt: skip

    def _not_ibmi_mobility_capable(self) -> None:
        with self.sim2.server.store.transaction() as txn:
            (system,) = txn.find("ManagedSystem")
            xml.set_text(system.element, _IBMI_MOBILITY, "false")
            txn.put(system)

    def test_ibmi_partition_moves_in_restricted_io_mode_with_its_load_source(self) -> None:
        server = self._ibmi_server()
        lpar = self._on(self.pvm, server)
        self.assertEqual(("OS400", True), (lpar.env, lpar.restrictedio))
        tagged = lpar.io_config.tagged_io
        before = (tagged.load_src, tagged.alt_load_src, tagged.console)

        server = self._live_migrate(server, host="host2")

        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        self.assertIsNone(self._on(self.pvm, server))
        moved = self._on(self.pvm2, server)
        self.assertEqual(("OS400", "running", True), (moved.env, moved.state, moved.restrictedio))
        tagged = moved.io_config.tagged_io
        self.assertEqual(before, (tagged.load_src, tagged.alt_load_src, tagged.console))
        self.assertIn(f"cfg_{server['id'].replace('-', '')}", self._mapped_to(self.pvm2, moved.uuid))

    def test_destination_not_ibmi_mobility_capable_is_refused(self) -> None:
        server = self._ibmi_server()
        self._not_ibmi_mobility_capable()

        # nova's harness turns the conductor's cast into a call, so the refusal reaches the API here
        self.assertRaises(client.OpenStackApiException, self.admin_api.post_server_action, server["id"],
                          {"os-migrateLive": {"host": "host2", "block_migration": "auto"}})  # fmt: skip
        self._wait_for_migration_status(server, ["error"])

        self.assertIn("cannot move to Server-9009-42A-SN78CD34E: it is not IBM i", self._last_action_detail(server))
        self.assertEqual("running", self._on(self.pvm, server).state)
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertEqual("compute", self.api.get_server(server["id"])["OS-EXT-SRV-ATTR:host"])
