"""Live migration of ``ovs`` and SR-IOV ports in nova 34's functional harness (two computes, two simulators).

A server with an ``ovs`` port live-migrates: host2's ``pre_live_migration`` makes the trunk named
after the port (with its OVS bridge and external ids) on a free VLAN of host2's NovaLink, the moved
client adapter arrives on that VLAN (the Migrate job's ``VlanMappings``), and the source's trunk is
gone. When the move fails the partition stays with its trunk on the source and host2 keeps no trunk
for it. A server with an SR-IOV vNIC port is refused before anything changes, naming the port.
In a module of its own: a rolled-back migration leaves nova's thread-pool factory shut down for
the next module in the worker (see ``test_live_migration_rollback``).
"""

from __future__ import annotations

from nova.tests.functional.api import client
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import partition as pvm_par
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.pvm import vif_event
from tests.compute.nova_harness.test_live_migration import _admin, _TwoHosts

OVS_SWITCH = "NovaLinkVEABridge"


class PowerVMLiveMigrationNetworkTest(_TwoHosts):
    disk_driver = "ssp"

    def _ovs_port(self) -> dict:
        """A port bound by neutron's openvswitch mechanism driver (openvswitch firewall: no hybrid plug)."""
        port = self.neutron.create_port({"port": {"network_id": self.neutron.network_1["id"]}})["port"]
        self.neutron._ports[port["id"]].update({
            "binding:vif_type": "ovs", "status": "ACTIVE",
            "binding:vif_details": {"port_filter": True, "ovs_hybrid_plug": False, "bridge_name": "br-int",
                                    "datapath_type": "system"}})  # fmt: skip
        return self.neutron._ports[port["id"]]

    def _boot_ovs(self) -> tuple[dict, dict]:
        port = self._ovs_port()
        server = self._create_server(image_uuid=self.image_id, flavor_id=self.flavor_id,
                                     networks=[{"port": port["id"]}], host="compute")  # fmt: skip
        return server, port

    @staticmethod
    def _trunks(adapter, port: dict) -> list[pvm_net.CNA]:
        mgmt = pvm_par.get_mgmt_partition(adapter)
        return [c for c in pvm_net.CNA.get(adapter, parent=mgmt)
                if c.is_trunk and "iface-id=" + port["id"] in (c.ovs_ext_ids or "")]  # fmt: skip

    def _occupy_a_vlan_on_host2(self, vlan: int) -> None:
        """Another instance's trunk on host2 takes ``vlan``: the port must get another one there."""
        mgmt = pvm_par.get_mgmt_partition(self.pvm2)
        while True:
            (trunk,) = pvm_cna.crt_trunk_with_free_vlan(self.pvm2, None, [mgmt.uuid], OVS_SWITCH,
                                                        dev_name=f"other{vlan}")  # fmt: skip
            if trunk.pvid >= vlan:
                return

    def _client_vlan(self, adapter, server: dict, mac: str) -> int | None:
        lpar = self._on(adapter, server)
        cnas = pvm_net.CNA.get(adapter, parent=lpar) if lpar else []
        return next((c.pvid for c in cnas if c.mac == vif_event.pvm_mac(mac)), None)

    def test_ovs_port_moves_onto_a_trunk_made_on_the_destination(self) -> None:
        server, port = self._boot_ovs()
        (src_trunk,) = self._trunks(self.pvm, port)
        self.assertEqual(src_trunk.pvid, self._client_vlan(self.pvm, server, port["mac_address"]))
        self._occupy_a_vlan_on_host2(src_trunk.pvid)

        server = self._live_migrate(server, host="host2")

        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        self.assertIsNone(self._on(self.pvm, server))
        (trunk,) = self._trunks(self.pvm2, port)
        self.assertNotEqual(src_trunk.pvid, trunk.pvid)
        self.assertEqual(trunk.pvid, self._client_vlan(self.pvm2, server, port["mac_address"]))
        self.assertEqual((src_trunk.dev_name, "br-int"), (trunk.dev_name, trunk.ovs_bridge))
        ids = dict(pair.split("=", 1) for pair in trunk.ovs_ext_ids.split(","))
        self.assertEqual((port["id"], server["id"], port["mac_address"]),
                         (ids["iface-id"], ids["vm-uuid"], ids["attached-mac"]))  # fmt: skip
        self.assertEqual([], self._trunks(self.pvm, port))  # the source's trunk is removed

    def test_failed_move_leaves_no_trunk_on_the_destination(self) -> None:
        server, port = self._boot_ovs()
        (src_trunk,) = self._trunks(self.pvm, port)
        _admin(self.sim2, "/sim/faults", {"kind": "server_error", "method": "POST",
                                          "path": "/sim/mobility/receive", "count": 1})  # fmt: skip

        server = self._live_migrate(server, migration_expected_state="failed", host="host2")

        self.assertEqual("compute", server["OS-EXT-SRV-ATTR:host"])
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertEqual([], self._trunks(self.pvm2, port))  # the trunk pre_live_migration made is removed
        self.assertEqual([src_trunk.uuid], [t.uuid for t in self._trunks(self.pvm, port)])
        self.assertEqual(src_trunk.pvid, self._client_vlan(self.pvm, server, port["mac_address"]))

    def test_trunk_stays_on_the_destination_that_took_the_partition(self) -> None:
        """host2 adopts the partition but its answer is lost: the rollback must not cut the partition's network."""
        server, port = self._boot_ovs()
        _admin(self.sim2, "/sim/faults", {"kind": "server_error", "method": "POST", "when": "after",
                                          "path": "/sim/mobility/receive", "count": 1})  # fmt: skip

        self._live_migrate(server, migration_expected_state="failed", host="host2")

        self.assertIsNotNone(self._on(self.pvm2, server))  # what MigrateRecover would finish
        (trunk,) = self._trunks(self.pvm2, port)
        self.assertEqual(trunk.pvid, self._client_vlan(self.pvm2, server, port["mac_address"]))

    def test_sriov_vnic_port_is_refused_naming_the_port(self) -> None:
        port_id = self._direct_port()
        server = self._create_server(image_uuid=self.image_id, flavor_id=self.flavor_id,
                                     networks=[{"port": port_id}], host="compute")  # fmt: skip
        self.assertRaises(client.OpenStackApiException, self.admin_api.post_server_action, server["id"],
                          {"os-migrateLive": {"host": "host2", "block_migration": "auto"}})  # fmt: skip
        detail = self._last_action_detail(server)
        self.assertIn(f"SR-IOV vNIC port {port_id}", detail)
        self.assertIn("does not live-migrate vNICs", detail)
        server = self.api.get_server(server["id"])
        self.assertEqual(("compute", "ACTIVE"), (server["OS-EXT-SRV-ATTR:host"], server["status"]))
        self.assertEqual("running", self._on(self.pvm, server).state)
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertEqual(1, len(self._vnics(self._on(self.pvm, server))))

    def test_partition_owning_an_sriov_logical_port_is_refused_by_powervm(self) -> None:
        server = self._boot(host="compute")
        lpar = self._on(self.pvm, server)
        pvm_card.SRIOVEthLPort.bld(self.pvm, 1, 0, pvid=400, cfg_capacity=0.02).create(parent=lpar)  # an admin's VF
        self.assertRaises(client.OpenStackApiException, self.admin_api.post_server_action, server["id"],
                          {"os-migrateLive": {"host": "host2", "block_migration": "auto"}})  # fmt: skip
        detail = self._last_action_detail(server)
        self.assertIn("PowerVM refused the migration", detail)
        self.assertIn("owns SR-IOV logical port", detail)
        self.assertEqual("running", self._on(self.pvm, server).state)
        self.assertIsNone(self._on(self.pvm2, server))
