"""Resize and cold migration in nova 34's functional harness (one host, then two with their own simulators).

Same host (``allow_resize_to_same_host``): a resize up changes the partition's processors, memory
and boot disk in place, confirm keeps it; a revert puts the old processors and memory back (the
grown disk stays: disks never shrink). Two hosts sharing the SSP cluster ``cluster1`` (the
simulators replicate the pool's logical units to each other, as the cluster does): a cold
migration builds the partition on host2 over the same logical unit, confirm removes the stopped
source partition and its mappings and keeps the disk; a revert removes host2's partition and starts
the source's again. On localdisk a move to another host is refused before anything changes, with
the reason in the instance action, unless the server boots from a Cinder volume: a server booted from
a fibre channel volume (a SAN LUN zoned to both hosts' VIOS ports) moves to host2 with the LUN's
hdisk mapped there, none left on host1 after confirm, and a revert maps it on host1 again. After each step the simulators show the partition, its client
adapters and disk mappings only where they belong.
"""

from __future__ import annotations

import json

import fixtures
import oslo_messaging as messaging
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import cinder as cinder_fixture
from oslo_messaging.rpc import client as rpc_client
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import Lun, fc_udid
from powervm_openstack.simulator.model import fc
from tests.compute.nova_harness.test_functional import PowerVMHarness, _AgentStandIn
from tests.compute.nova_harness.test_live_migration import _admin, _TwoHosts
from tests.compute.nova_harness.test_volumes import TARGETS, VIOS_PORTS

BIG = {"ram": 2048, "vcpus": 4, "disk": 3}


class _Resizing:
    def _flavor(self, **size: int) -> str:
        body = {"name": f"pvm-big-{len(self.admin_api.get_flavors())}", **size}
        return self.admin_api.post_flavor({"flavor": body})["id"]

    def _sizes(self, lpar) -> tuple[int, int]:
        return lpar.mem_config.desired, lpar.proc_config.shared_proc_cfg.desired_virtual

    def _boot_gb(self, adapter, server: dict) -> float:
        if self.disk_driver == "ssp":
            tier = pvm_stor.Tier.get(adapter)[0]
            name = "boot_" + server["id"].replace("-", "")
            return next(lu.capacity for lu in pvm_stor.LUEnt.get(adapter, parent=tier) if lu.name == name)
        name = "b_" + server["id"].replace("-", "")[:13]
        vgs = [vg for vios in pvm_vios.VIOS.get(adapter) for vg in pvm_stor.VG.get(adapter, parent=vios)]
        return next(d.capacity for vg in vgs for d in vg.virtual_disks if d.name == name)

    def _action_detail(self, server: dict) -> str:
        action = self.admin_api.get_instance_actions(server["id"])[0]
        return json.dumps(self.admin_api.api_get(f"/servers/{server['id']}/os-instance-actions/"
                                                 f"{action['request_id']}").body)  # fmt: skip


class PowerVMResizeSameHostTest(_Resizing, PowerVMHarness):
    def setUp(self) -> None:
        super().setUp()
        self.flags(allow_resize_to_same_host=True)

    def test_resize_up_then_confirm(self) -> None:
        server = self._boot()
        adapters = sorted(c.mac for c in pvm_net.CNA.get(self.pvm, parent=self._lpar(server)))
        server = self._resize_server(server, self._flavor(**BIG))
        lpar = self._lpar(server)
        self.assertEqual(("running", (2048, 4)), (lpar.state, self._sizes(lpar)))
        self.assertEqual(3, self._boot_gb(self.pvm, server))
        self._confirm_resize(server)
        lpar = self._lpar(server)
        self.assertEqual(("running", (2048, 4)), (lpar.state, self._sizes(lpar)))
        self.assertEqual(adapters, sorted(c.mac for c in pvm_net.CNA.get(self.pvm, parent=lpar)))
        self._delete_server(server)
        self._wait_until_deleted(server)
        self.assertEqual([], self._leftovers())

    def test_resize_then_revert(self) -> None:
        server = self._boot()
        server = self._resize_server(server, self._flavor(**BIG))
        self.assertEqual((2048, 4), self._sizes(self._lpar(server)))
        server = self._revert_resize(server)
        lpar = self._lpar(server)
        self.assertEqual(("running", (1024, 2)), (lpar.state, self._sizes(lpar)))
        self.assertEqual(3, self._boot_gb(self.pvm, server))  # disks never shrink
        self._delete_server(server)
        self._wait_until_deleted(server)
        self.assertEqual([], self._leftovers())


class _TwoHostsResizing(_Resizing, _TwoHosts):
    def setUp(self) -> None:
        super().setUp()
        for here, there in ((self.sim, self.sim2), (self.sim2, self.sim)):
            _admin(here, "/sim/ssp/peers", {"url": there.server.url})  # one cluster, seen from both hosts
        self.pvm2.session.get_event_listener().subscribe(_AgentStandIn(self))  # host2's SEA agent

    def _cnas(self, adapter, lpar) -> list[str]:
        return sorted(c.mac for c in pvm_net.CNA.get(adapter, parent=lpar))


class PowerVMColdMigrationSspTest(_TwoHostsResizing):
    disk_driver = "ssp"

    def test_cold_migrate_then_confirm(self) -> None:
        server = self._boot(host="compute")
        source = self._on(self.pvm, server)
        disks = self._mapped_to(self.pvm, source.uuid)
        boot = sorted({n for n in disks if n.startswith("boot_")})  # mapped through both VIOSes
        self.assertEqual(1, len(boot))

        server = self._migrate_server(server, host="host2")
        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        moved = self._on(self.pvm2, server)
        self.assertEqual("running", moved.state)
        port_mac = server["addresses"]["private"][0]["OS-EXT-IPS-MAC:mac_addr"].replace(":", "").upper()
        self.assertIn(port_mac, self._cnas(self.pvm2, moved))  # the SEA client adapter, re-created here
        self.assertEqual(len(self._cnas(self.pvm, source)), len(self._cnas(self.pvm2, moved)))  # + the RMC adapter
        self.assertIn(boot[0], self._mapped_to(self.pvm2, moved.uuid))
        self.assertEqual("not activated", self._on(self.pvm, server).state)  # kept for a revert

        self._confirm_resize(server)
        self.assertIsNone(self._on(self.pvm, server))
        self.assertEqual([], self._mapped_to(self.pvm, source.uuid))
        self.assertIn(boot[0], self._mapped_to(self.pvm2, moved.uuid))
        self.assertEqual("running", self._on(self.pvm2, server).state)
        self.assertEqual([], [x for x in self._leftovers() if not x.startswith("LU ")])

        self._delete_server(server)
        self._wait_until_deleted(server)
        self.assertEqual([], self._leftovers())  # the LU went from the shared pool, seen on both hosts

    def test_resize_across_hosts_then_revert(self) -> None:
        server = self._boot(host="compute")
        source = self._on(self.pvm, server)
        self.flags(allow_resize_to_same_host=False)
        server = self._resize_server(server, self._flavor(**BIG))
        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        self.assertEqual((2048, 4), self._sizes(self._on(self.pvm2, server)))
        self.assertEqual(3, self._boot_gb(self.pvm2, server))

        server = self._revert_resize(server)
        self.assertEqual("compute", server["OS-EXT-SRV-ATTR:host"])
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertEqual([], self._mapped_to(self.pvm2, source.uuid))
        lpar = self._on(self.pvm, server)
        self.assertEqual(("running", (1024, 2)), (lpar.state, self._sizes(lpar)))
        self.assertTrue(self._mapped_to(self.pvm, lpar.uuid))


class PowerVMColdMigrationLocalDiskTest(_TwoHostsResizing):
    disk_driver = "localdisk"
    # The migration's casts stay casts: as a call, the refusal would travel back into the destination's
    # prep_resize, which puts the server in ERROR (in a real cloud the source's refusal ends there).
    CAST_AS_CALL = False

    def test_local_disk_move_is_refused_before_anything_changes(self) -> None:
        originals = {f"oslo_messaging.{where}.{name}": getattr(cls, name) for where, cls in (
            ("RPCClient", messaging.RPCClient), ("rpc.client._CallContext", rpc_client._CallContext))
            for name in ("prepare", "cast")}  # fmt: skip
        self.useFixture(nova_fixtures.CastAsCallFixture(self))  # the boot as the other tests do it
        server = self._boot(host="compute")
        for name, func in originals.items():
            self.useFixture(fixtures.MonkeyPatch(name, func))
        before = self._names(self.pvm2)
        self.admin_api.post_server_action(server["id"], {"migrate": {"host": "host2"}})
        self._wait_for_migration_status(server, ["error"])
        self._wait_for_instance_action_event(server, "migrate", "compute_resize_instance", "Error")
        server = self._wait_for_state_change(server, "ACTIVE")
        self.assertEqual("compute", server["OS-EXT-SRV-ATTR:host"])
        self.assertEqual("running", self._on(self.pvm, server).state)
        self.assertEqual(before, self._names(self.pvm2))
        self.assertIn("not shared storage", self._action_detail(server))


class PowerVMColdMigrationBootFromVolumeTest(_TwoHostsResizing):
    disk_driver = "localdisk"  # the boot disk is the volume: the move needs no shared pool

    def _boot_from_fc_volume(self) -> tuple[dict, str]:
        """A server on host ``compute`` booted from a SAN LUN that both hosts' VIOS ports see."""
        volume_id = cinder_fixture.CinderFixture.IMAGE_BACKED_VOL
        wwpns = [w for ports in VIOS_PORTS.values() for w in ports]  # host2's VIOSes have the same ports
        for sim in (self.sim, self.sim2):  # one array zoned to both hosts
            fc.add_lun(sim.server.store, Lun(volume_id, 1, 2, TARGETS, wwpns))
        self.cinder.VOLUME_CONNECTION_INFO = dict(cinder_fixture.CinderFixture.VOLUME_CONNECTION_INFO)
        self.cinder.VOLUME_CONNECTION_INFO[volume_id] = {
            "driver_volume_type": "fibre_channel", "data": {"target_wwn": TARGETS, "target_lun": 1}}  # fmt: skip
        request = self._build_server(flavor_id=self.flavor_id, networks=[{"port": self._sea_port()}], host="compute")
        request.pop("imageRef", None)
        request["block_device_mapping_v2"] = [{"boot_index": 0, "uuid": volume_id, "source_type": "volume",
                                               "destination_type": "volume"}]  # fmt: skip
        return self._wait_for_state_change(self.api.post_server({"server": request}), "ACTIVE"), fc_udid(volume_id)

    def _hdisks_of(self, adapter, lpar_uuid: str) -> list[str]:
        """UDIDs of the hdisks mapped to the partition, one per VIOS mapping."""
        vioses = pvm_vios.VIOS.get(adapter, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
        return sorted(m.backing_storage.udid for v in vioses for m in v.scsi_mappings
                      if m.client_lpar_href and lpar_uuid.upper() in m.client_lpar_href.upper()
                      and isinstance(m.backing_storage, pvm_stor.PV))  # fmt: skip

    def test_boot_from_volume_moves_then_confirm(self) -> None:
        server, udid = self._boot_from_fc_volume()
        source = self._on(self.pvm, server)
        self.assertEqual([udid, udid], self._hdisks_of(self.pvm, source.uuid))  # through both VIOSes
        self.assertFalse([n for n in self._mapped_to(self.pvm, source.uuid) if n.startswith(("b_", "boot_"))])

        server = self._migrate_server(server, host="host2")
        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        moved = self._on(self.pvm2, server)
        self.assertEqual("running", moved.state)
        self.assertEqual([udid, udid], self._hdisks_of(self.pvm2, moved.uuid))
        self.assertEqual("not activated", self._on(self.pvm, server).state)  # kept for a revert
        self.assertEqual([], self._hdisks_of(self.pvm, source.uuid))  # its volume disconnected here

        self._confirm_resize(server)
        self.assertIsNone(self._on(self.pvm, server))
        self.assertEqual([], self._leftovers())  # no partition, mapping or hdisk left on host1
        self.assertEqual("running", self._on(self.pvm2, server).state)
        self.assertEqual([udid, udid], self._hdisks_of(self.pvm2, moved.uuid))

    def test_boot_from_volume_move_then_revert(self) -> None:
        server, udid = self._boot_from_fc_volume()
        server = self._migrate_server(server, host="host2")
        moved = self._on(self.pvm2, server)
        self.assertEqual([udid, udid], self._hdisks_of(self.pvm2, moved.uuid))

        server = self._revert_resize(server)
        self.assertEqual("compute", server["OS-EXT-SRV-ATTR:host"])
        self.assertIsNone(self._on(self.pvm2, server))
        self.assertEqual([], self._hdisks_of(self.pvm2, moved.uuid))
        lpar = self._on(self.pvm, server)
        self.assertEqual("running", lpar.state)
        self.assertEqual([udid, udid], self._hdisks_of(self.pvm, lpar.uuid))
