"""Cinder volumes through nova 34's functional harness, nova's own ``CinderFixture`` and the simulator.

The fixture's connection info per volume is set to what a Cinder backend would return (a SAN LUN
the test creates in the simulator for ``fibre_channel``, the topology's CHAP-protected target for
``iscsi``). Each test checks, after attach, extend, detach and delete, exactly which hdisks and
vSCSI mappings the VIOSes have, and that nothing is left at the end (``_leftovers``).
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid

from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import cinder as cinder_fixture
from nova.tests.functional.api import client as api_client
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import Lun, fc_udid
from powervm_openstack.simulator.model import fc
from tests.compute.nova_harness.test_functional import PowerVMHarness

TARGETS = ["500507680B215660", "500507680B215661"]
VIOS_PORTS = {"vios1": ["10000090FA1B6301", "10000090FA1B6302"], "vios2": ["10000090FA1B6401", "10000090FA1B6402"]}
ISCSI = {"target_portal": "10.1.0.5:3260", "target_iqn": "iqn.2010-10.org.openstack:volume-iscsi1", "target_lun": 1,
         "auth_method": "CHAP", "auth_username": "chapuser", "auth_password": "chapsecret"}  # fmt: skip
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.STORAGE]
_LUN_IDS = itertools.count(1)  # the simulator lives for the class: LUN ids stay unique across its tests


class VolumeHarness(PowerVMHarness):
    """The harness with per-volume Cinder connection info and helpers to look at the VIOSes (no tests)."""

    def setUp(self) -> None:
        super().setUp()
        self.cinder.VOLUME_CONNECTION_INFO = dict(cinder_fixture.CinderFixture.VOLUME_CONNECTION_INFO)
        self.addCleanup(self._delete_all_servers)  # a failed test must not leave partitions for the next one

    def _delete_all_servers(self) -> None:
        for server in self.api.get_servers():
            self._delete_server(server)
            self._wait_until_deleted(server)

    # -- helpers -------------------------------------------------------------------------------
    def _fc_volume(self, visible_to: list[str] | None = None, volume_id: str | None = None) -> str:
        """A SAN LUN (all VIOS ports by default) and the fixture's fibre_channel connection info for it."""
        volume_id = volume_id or str(uuid.uuid4())
        lun = next(_LUN_IDS)
        wwpns = [w for ports in VIOS_PORTS.values() for w in ports] if visible_to is None else visible_to
        fc.add_lun(self.sim.server.store, Lun(volume_id, lun, 2, TARGETS, wwpns))
        self.cinder.VOLUME_CONNECTION_INFO[volume_id] = {
            "driver_volume_type": "fibre_channel", "data": {"target_wwn": TARGETS, "target_lun": lun}}  # fmt: skip
        return volume_id

    def _iscsi_volume(self) -> str:
        volume_id = str(uuid.uuid4())
        self.cinder.VOLUME_CONNECTION_INFO[volume_id] = {"driver_volume_type": "iscsi", "data": dict(ISCSI)}
        return volume_id

    def _storage(self) -> dict[str, tuple[list[str], list[str]]]:
        """``{vios: (hdisk udids, udids of PV mappings)}``."""
        found = {}
        for vios in pvm_vios.VIOS.get(self.pvm, xag=XAGS):
            mapped = [m.backing_storage.udid for m in vios.scsi_mappings if isinstance(m.backing_storage, pvm_stor.PV)]
            found[vios.name] = (sorted(pv.udid for pv in vios.phys_vols), sorted(mapped))
        return found

    def _bdm_data(self, server: dict, volume_id: str) -> dict:
        ctx = nova_context.get_admin_context()
        bdm = objects.BlockDeviceMapping.get_by_volume_and_instance(ctx, volume_id, server["id"])
        return json.loads(bdm.connection_info)["data"]

    def _detach(self, server: dict, volume_id: str) -> None:
        self.api.delete_server_volume(server["id"], volume_id)
        self._wait_for_volume_detach(server["id"], volume_id)

    def _extend(self, server: dict, volume_id: str) -> None:
        self.admin_api.api_post("/os-server-external-events", {"events": [
            {"name": "volume-extended", "server_uuid": server["id"], "tag": volume_id}]})  # fmt: skip

    def _hdisk_mb(self, udid: str) -> set[int]:
        return {pv.capacity for v in pvm_vios.VIOS.get(self.pvm, xag=XAGS) for pv in v.phys_vols if pv.udid == udid}

    def _no_volume_storage(self) -> None:
        assert self._storage() == {"vios1": ([], []), "vios2": ([], [])}, self._storage()

    def _attach_and_expect_failure(self, server: dict, volume_id: str, logged: str) -> None:
        with self.assertRaises(api_client.OpenStackApiException):  # the harness casts as calls: the error surfaces
            self.api.post_server_volume(server["id"], {"volumeAttachment": {"volumeId": volume_id}})
        self._wait_for_instance_action_event(server, "attach_volume", "compute_attach_volume", "Error")
        assert self.api.get_server(server["id"])["status"] == "ACTIVE"
        self._no_volume_storage()
        assert logged in self.stdlog.logger.output, logged


class PowerVMVolumesTest(VolumeHarness):
    # -- fibre channel (vSCSI) -----------------------------------------------------------------
    def test_fc_vscsi_attach_extend_detach_delete(self) -> None:
        server = self._boot()
        volume_id = self._fc_volume()
        udid = fc_udid(volume_id)
        self._attach_volume(server, volume_id)
        assert self._storage() == {"vios1": ([udid], [udid]), "vios2": ([udid], [udid])}, self._storage()
        assert self._bdm_data(server, volume_id)["target_UDID"] == udid
        assert self.cinder.volume_ids_for_instance(server["id"])

        fc.resize_lun(self.sim.server.store, volume_id, 5)
        self._extend(server, volume_id)
        self._wait_for_instance_action_event(server, "extend_volume", "compute_extend_volume", "Success")
        assert self._hdisk_mb(udid) == {5 * 1024}

        self._detach(server, volume_id)
        self._no_volume_storage()
        second = self._fc_volume()
        self._attach_volume(server, second)
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    def test_boot_from_fc_volume_creates_no_local_disk(self) -> None:
        boot = self._fc_volume(volume_id=cinder_fixture.CinderFixture.IMAGE_BACKED_VOL)
        request = self._build_server(flavor_id=self.flavor_id, networks=[{"port": self._sea_port()}])
        request.pop("imageRef", None)
        request["block_device_mapping_v2"] = [{"boot_index": 0, "uuid": boot, "source_type": "volume",
                                               "destination_type": "volume"}]  # fmt: skip
        server = self._wait_for_state_change(self.api.post_server({"server": request}), "ACTIVE")
        lpar = self._lpar(server)
        assert lpar.state == "running"
        names = {m.backing_storage.name for v in pvm_vios.VIOS.get(self.pvm, xag=XAGS) for m in v.scsi_mappings}
        assert not any(n.startswith(("b_", "boot_")) for n in names), names  # no local boot disk
        udid = fc_udid(boot)
        assert self._storage() == {"vios1": ([udid], [udid]), "vios2": ([udid], [udid])}, self._storage()
        data = self._fc_volume()
        self._attach_volume(server, data)
        assert {len(h) for h, _ in self._storage().values()} == {2}
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    # -- fibre channel (NPIV) ------------------------------------------------------------------
    def _npiv(self) -> None:
        self.flags(fc_attach_strategy="npiv", fabrics="A,B", group="powervm")
        self.flags(fabric_A_port_wwpns=[VIOS_PORTS["vios1"][0], VIOS_PORTS["vios2"][0]],
                   fabric_B_port_wwpns=[VIOS_PORTS["vios1"][1], VIOS_PORTS["vios2"][1]], group="powervm")  # fmt: skip

    def test_npiv_attach_detach_delete(self) -> None:
        self._npiv()
        server = self._boot()
        first, second = self._fc_volume(visible_to=[]), self._fc_volume(visible_to=[])
        self._attach_volume(server, first)
        self._attach_volume(server, second)
        maps = self._vfc_maps()
        assert sorted(p for _, p, _ in maps) == ["fcs0", "fcs1"], maps  # one adapter per fabric, shared by volumes
        instance = objects.Instance.get_by_uuid(nova_context.get_admin_context(), server["id"])
        connector = self.compute.driver.get_volume_connector(instance)
        assert sorted(connector["wwpns"]) == sorted(w for _, _, pair in maps for w in pair)  # both of each pair
        assert len(connector["wwpns"]) == 4
        self._detach(server, first)
        assert len(self._vfc_maps()) == 2  # the second volume still uses them
        self._detach(server, second)
        assert self._vfc_maps() == []
        self._attach_volume(server, first)
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._vfc_maps() == [] and self._leftovers() == []

    def test_boot_from_npiv_volume(self) -> None:
        self._npiv()
        boot = self._fc_volume(visible_to=[], volume_id=cinder_fixture.CinderFixture.IMAGE_BACKED_VOL)
        request = self._build_server(flavor_id=self.flavor_id, networks=[{"port": self._sea_port()}])
        request.pop("imageRef", None)
        request["block_device_mapping_v2"] = [{"boot_index": 0, "uuid": boot, "source_type": "volume",
                                               "destination_type": "volume"}]  # fmt: skip
        server = self._wait_for_state_change(self.api.post_server({"server": request}), "ACTIVE")
        assert self._lpar(server).state == "running"
        maps = self._vfc_maps()
        assert sorted(p for _, p, _ in maps) == ["fcs0", "fcs1"], maps  # one client adapter per fabric
        names = {m.backing_storage.name for v in pvm_vios.VIOS.get(self.pvm, xag=XAGS) for m in v.scsi_mappings}
        assert not any(n.startswith(("b_", "boot_")) for n in names), names  # no local boot disk
        self._no_volume_storage()  # the partition sees the LUN itself: no hdisk on a VIOS
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._vfc_maps() == [] and self._leftovers() == []

    def _vfc_maps(self) -> list[tuple[str, str, list[str]]]:
        return [
            (v.name, m.backing_port.name, [w.lower() for w in m.client_adapter.wwpns])
            for v in pvm_vios.VIOS.get(self.pvm, xag=[pvm_vios.VIOS.xags.FC_MAPPING])
            for m in v.vfc_mappings
        ]

    # -- iSCSI ---------------------------------------------------------------------------------
    def test_iscsi_chap_attach_extend_detach(self) -> None:
        server = self._boot()
        volume_id = self._iscsi_volume()
        self._attach_volume(server, volume_id)
        storage = self._storage()
        udids = {h[0] for h, m in storage.values() if h == m and len(h) == 1}
        assert len(udids) == 1 and next(iter(udids)).endswith("iscsi"), storage
        self._extend(server, volume_id)
        self._wait_for_instance_action_event(server, "extend_volume", "compute_extend_volume", "Success")
        self._detach(server, volume_id)
        self._no_volume_storage()  # logged out on both VIOSes
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    def test_iscsi_wrong_chap_fails_and_leaves_nothing(self) -> None:
        server = self._boot()
        volume_id = self._iscsi_volume()
        self.cinder.VOLUME_CONNECTION_INFO[volume_id]["data"]["auth_password"] = "wrong"
        self._attach_and_expect_failure(server, volume_id, "iSCSI login failed")
        self._delete_server(server)
        self._wait_until_deleted(server)

    # -- failures ------------------------------------------------------------------------------
    def test_lun_no_vios_sees(self) -> None:
        server = self._boot()
        self._attach_and_expect_failure(server, self._fc_volume(visible_to=["C05076079CFF0E56"]),
                                        "0 of the 2 active VIOS(es) see the volume")  # fmt: skip
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    def test_fewer_vioses_than_required(self) -> None:
        self.flags(vscsi_vios_connections_required=2, group="powervm")
        server = self._boot()
        volume_id = self._fc_volume(visible_to=VIOS_PORTS["vios1"])
        self._attach_and_expect_failure(server, volume_id, "vscsi_vios_connections_required is 2")
        output = self.stdlog.logger.output
        assert "vios1 found hdisk" in output and "vios2: LUA recovery status 6" in output, output[-2000:]
        self._delete_server(server)
        self._wait_until_deleted(server)

    def test_vios_busy_or_5xx_mid_attach(self) -> None:
        server = self._boot()
        faults = self.sim.server.app.faults
        for rule in ({"kind": "vios_busy", "method": "POST", "path": "VirtualIOServer", "count": 1},
                     {"kind": "server_error", "method": "POST", "path": "VirtualIOServer", "count": 1}):  # fmt: skip
            faults.set_rules([rule])
            try:
                self._attach_and_expect_failure(server, self._fc_volume(), "Attach of fibre_channel")
            finally:
                faults.set_rules([])
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    def test_detach_when_the_hdisk_vanished(self) -> None:
        from pypowervm.tasks import hdisk as pvm_hdisk
        from pypowervm.tasks import scsi_mapper as pvm_smap

        server = self._boot()
        volume_id = self._fc_volume()
        self._attach_volume(server, volume_id)
        lpar = self._lpar(server)
        vios = next(v for v in pvm_vios.VIOS.get(self.pvm, xag=XAGS) if v.name == "vios1")
        name = next(pv.name for pv in vios.phys_vols)
        pvm_smap.remove_maps(vios, lpar.id, match_func=pvm_smap.gen_match_func(pvm_stor.PV, names=[name]))
        vios.update()
        pvm_hdisk.remove_hdisk(self.pvm, "", name, vios.uuid)  # an administrator's rmdev on the VIOS
        self._detach(server, volume_id)
        self._no_volume_storage()
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    # -- concurrency ---------------------------------------------------------------------------
    def test_ten_concurrent_attaches_lose_no_mapping(self) -> None:
        server = self._boot()
        instance = objects.Instance.get_by_uuid(nova_context.get_admin_context(), server["id"])
        driver = self.compute.driver
        infos = [dict(self.cinder.VOLUME_CONNECTION_INFO[self._fc_volume()]) for _ in range(10)]
        errors: list[BaseException] = []

        def attach(info: dict) -> None:
            try:
                driver.attach_volume(None, info, instance, "/dev/sdb")
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        # pypowervm serialises one process's updates of a VIOS; a second REST client's changes make
        # VIOS updates answer 412, which must be retried against the fresh document
        self.sim.server.app.faults.add_rule({"kind": "etag_mismatch", "method": "POST", "path": "VirtualIOServer",
                                             "count": 4})  # fmt: skip
        threads = [threading.Thread(target=attach, args=(info,)) for info in infos]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        fired = [r["fired"] for r in self.sim.server.app.faults.rules() if r["kind"] == "etag_mismatch"]
        self.sim.server.app.faults.set_rules([])
        assert fired == [4], fired  # four updates answered 412 and were retried
        assert {v: len(m) for v, (_, m) in self._storage().items()} == {"vios1": 10, "vios2": 10}
        for info in infos:
            driver.detach_volume(None, info, instance, "/dev/sdb")
        self._no_volume_storage()
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []
