"""Live migration of servers with Cinder volumes in nova 34's functional harness (two computes, two simulators).

nova's ``CinderFixture`` gives each attachment the connection info a backend would; the LUN is
created on both simulators' SANs with the same name (so the same UDID) and masking, as one array
zoned to both hosts is. A server with an FC vSCSI volume, one booted from one, one with an NPIV
volume and one with an iSCSI volume live-migrate: afterwards host2's VIOSes have the hdisk and the mapping (or the vFC
mappings with the same WWPN pairs) and the source none. A fault at host2's receive phase rolls
back: the source keeps its hdisks and mappings, and the hdisks host2 discovered for the move go;
a volume host2 cannot see fails ``pre_live_migration`` before anything moves.
"""

from __future__ import annotations

import itertools
import uuid

from nova.tests.fixtures import cinder as cinder_fixture
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import Lun, fc_udid
from powervm_openstack.simulator.model import fc
from tests.compute.nova_harness.test_live_migration import _admin, _TwoHosts
from tests.compute.nova_harness.test_volumes import ISCSI, TARGETS, VIOS_PORTS

XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.STORAGE, pvm_vios.VIOS.xags.FC_MAPPING]
_LUN_IDS = itertools.count(1)
ALL_PORTS = [w for ports in VIOS_PORTS.values() for w in ports]  # host2's topology has the same port WWPNs


class PowerVMLiveMigrationVolumesTest(_TwoHosts):
    disk_driver = "ssp"

    def setUp(self) -> None:
        super().setUp()
        self.cinder.VOLUME_CONNECTION_INFO = dict(cinder_fixture.CinderFixture.VOLUME_CONNECTION_INFO)

    def _shared_lun(self, volume_id: str, lun: int, initiators: list[str]) -> None:
        for sim in (self.sim, self.sim2):
            fc.add_lun(sim.server.store, Lun(volume_id, lun, 2, TARGETS, initiators))

    def _fc_volume(self, initiators: list[str] | None = None) -> tuple[str, int]:
        volume_id, lun = str(uuid.uuid4()), next(_LUN_IDS)
        self._shared_lun(volume_id, lun, ALL_PORTS if initiators is None else initiators)
        self.cinder.VOLUME_CONNECTION_INFO[volume_id] = {
            "driver_volume_type": "fibre_channel", "data": {"target_wwn": TARGETS, "target_lun": lun}}  # fmt: skip
        return volume_id, lun

    def _storage(self, adapter) -> dict[str, tuple[list[str], list[str]]]:
        """``{vios: (hdisk udids, udids of PV mappings)}``."""
        found = {}
        for vios in pvm_vios.VIOS.get(adapter, xag=XAGS):
            mapped = [m.backing_storage.udid for m in vios.scsi_mappings if isinstance(m.backing_storage, pvm_stor.PV)]
            found[vios.name] = (sorted(pv.udid for pv in vios.phys_vols), sorted(mapped))
        return found

    def _vfc(self, adapter) -> list[tuple[str, str, list[str]]]:
        return sorted((v.name, m.backing_port.name, [w.lower() for w in m.client_adapter.wwpns])
                      for v in pvm_vios.VIOS.get(adapter, xag=XAGS) for m in v.vfc_mappings)  # fmt: skip

    def test_fc_vscsi_volume_moves_with_the_partition(self) -> None:
        server = self._boot(host="compute")
        volume_id, _ = self._fc_volume()
        self._attach_volume(server, volume_id)
        udid = fc_udid(volume_id)
        both = {"vios1": ([udid], [udid]), "vios2": ([udid], [udid])}
        self.assertEqual(both, self._storage(self.pvm))

        server = self._live_migrate(server, host="host2")

        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        self.assertEqual("running", self._on(self.pvm2, server).state)
        self.assertEqual(both, self._storage(self.pvm2))  # each client adapter on the VIOS of the same name
        self.assertEqual({"vios1": ([], []), "vios2": ([], [])}, self._storage(self.pvm))  # hdisks removed

        self.api.delete_server_volume(server["id"], volume_id)  # host2's connection info names its hdisk
        self._wait_for_volume_detach(server["id"], volume_id)
        self.assertEqual({"vios1": ([], []), "vios2": ([], [])}, self._storage(self.pvm2))

    def test_boot_from_fc_volume_moves_with_the_mappings_the_destination_chose(self) -> None:
        boot = str(cinder_fixture.CinderFixture.IMAGE_BACKED_VOL)
        lun = next(_LUN_IDS)
        self._shared_lun(boot, lun, ALL_PORTS)
        self.cinder.VOLUME_CONNECTION_INFO[boot] = {
            "driver_volume_type": "fibre_channel", "data": {"target_wwn": TARGETS, "target_lun": lun}}  # fmt: skip
        request = self._build_server(flavor_id=self.flavor_id, networks=[{"port": self._sea_port()}], host="compute")
        request.pop("imageRef", None)
        request["block_device_mapping_v2"] = [{"boot_index": 0, "uuid": boot, "source_type": "volume",
                                               "destination_type": "volume"}]  # fmt: skip
        self.admin_api.microversion = "2.74"
        server = self._wait_for_state_change(self.admin_api.post_server({"server": request}), "ACTIVE")
        udid = fc_udid(boot)
        both = {"vios1": ([udid], [udid]), "vios2": ([udid], [udid])}
        self.assertEqual(both, self._storage(self.pvm))

        server = self._live_migrate(server, host="host2")

        self.assertEqual("running", self._on(self.pvm2, server).state)
        self.assertEqual(both, self._storage(self.pvm2))
        self.assertEqual({"vios1": ([], []), "vios2": ([], [])}, self._storage(self.pvm))
        # the vios2 adapter carries only the boot hdisk: the source named host2's VIOS for it
        self.assertIn("'VirtualSCSIMappings'", self.stdlog.logger.output)

    def test_iscsi_volume_moves_and_the_source_logs_out(self) -> None:
        server = self._boot(host="compute")
        volume_id = str(uuid.uuid4())
        self.cinder.VOLUME_CONNECTION_INFO[volume_id] = {"driver_volume_type": "iscsi", "data": dict(ISCSI)}
        self._attach_volume(server, volume_id)
        before = self._storage(self.pvm)
        self.assertEqual(2, sum(len(m) for _, m in before.values()))

        server = self._live_migrate(server, host="host2")

        after = self._storage(self.pvm2)
        self.assertEqual(2, sum(len(m) for _, m in after.values()), after)
        self.assertEqual({"vios1": ([], []), "vios2": ([], [])}, self._storage(self.pvm))  # logged out

    def test_npiv_volume_moves_with_its_wwpn_pairs(self) -> None:
        self.flags(fc_attach_strategy="npiv", fabrics="A,B", group="powervm")
        self.flags(fabric_A_port_wwpns=[VIOS_PORTS["vios1"][0], VIOS_PORTS["vios2"][0]],
                   fabric_B_port_wwpns=[VIOS_PORTS["vios1"][1], VIOS_PORTS["vios2"][1]], group="powervm")  # fmt: skip
        server = self._boot(host="compute")
        volume_id, lun = self._fc_volume(initiators=[])
        self._attach_volume(server, volume_id)
        maps = self._vfc(self.pvm)
        self.assertEqual(["fcs0", "fcs1"], sorted(p for _, p, _ in maps))
        self._shared_lun(volume_id, lun, [w for _, _, pair in maps for w in pair])  # Cinder zoned both WWPNs

        server = self._live_migrate(server, host="host2")

        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        self.assertEqual(
            sorted((p, pair) for _, p, pair in maps), sorted((p, pair) for _, p, pair in self._vfc(self.pvm2))
        )
        self.assertEqual([], self._vfc(self.pvm))
        self.assertIn("'VirtualFCMappings'", self.stdlog.logger.output)  # host2's VIOS and port per adapter

    def test_fault_at_receive_keeps_the_source_and_removes_the_destination_hdisks(self) -> None:
        server = self._boot(host="compute")
        volume_id, _ = self._fc_volume()
        self._attach_volume(server, volume_id)
        udid = fc_udid(volume_id)
        _admin(self.sim2, "/sim/faults", {"kind": "server_error", "method": "POST",
                                          "path": "/sim/mobility/receive", "count": 1})  # fmt: skip

        server = self._live_migrate(server, migration_expected_state="failed", host="host2")

        server = self.api.get_server(server["id"])
        self.assertEqual("compute", server["OS-EXT-SRV-ATTR:host"])
        self.assertEqual("running", self._on(self.pvm, server).state)
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertEqual({"vios1": ([udid], [udid]), "vios2": ([udid], [udid])}, self._storage(self.pvm))
        self.assertEqual({"vios1": ([], []), "vios2": ([], [])}, self._storage(self.pvm2))

    def test_volume_the_destination_cannot_see_fails_before_the_move(self) -> None:
        server = self._boot(host="compute")
        volume_id, lun = self._fc_volume()
        fc.add_lun(self.sim2.server.store, Lun(volume_id, lun, 2, TARGETS, []))  # host2's ports are not masked
        self._attach_volume(server, volume_id)
        udid = fc_udid(volume_id)

        server = self._live_migrate(server, migration_expected_state="failed", host="host2")

        server = self.api.get_server(server["id"])
        self.assertEqual(("compute", "ACTIVE"), (server["OS-EXT-SRV-ATTR:host"], server["status"]))
        self.assertEqual({"vios1": ([udid], [udid]), "vios2": ([udid], [udid])}, self._storage(self.pvm))
        self.assertEqual({"vios1": ([], []), "vios2": ([], [])}, self._storage(self.pvm2))
        # nova calls no source rollback when pre_live_migration fails: the config drive was never left unmapped
        lpar = self._on(self.pvm, server)
        self.assertIn(f"cfg_{server['id'].replace('-', '')}", self._mapped_to(self.pvm, lpar.uuid))
        self.assertIn(f"Volume {volume_id} (fibre_channel (vSCSI)) is seen by no VIOS of this host",
                      self.stdlog.logger.output)  # fmt: skip
