"""Volumes of every type on one server, on a host whose NovaLink partition is an I/O server.

The harness host (``host.yaml``) with ``management_partition: {io_server: true}``: NovaLink is then a
VirtualIOServer that serves files and Ceph RBD images through vSCSI (``model.filestore``) next to
the two VIOSes. One server gets a ``fibre_channel`` (vSCSI) LUN, an ``iscsi`` LUN, ``local``,
``gpfs`` and ``nfs`` files and an ``rbd`` image through nova's ``CinderFixture``; after attach,
extend, detach and delete the test checks exactly which mappings NovaLink and the VIOSes hold, and
that nothing is left. Missing files and images are refused, and a 5xx on NovaLink's mapping update
fails the attach; each leaves nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import yaml
from nova import utils as nova_utils
from nova.tests.functional import integrated_helpers
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.build.san import fc_udid
from powervm_openstack.simulator.model import filestore
from tests.compute.nova_harness.base import HOST_TOPOLOGY, Simulator
from tests.compute.nova_harness.test_volumes import ISCSI, XAGS, VolumeHarness

NOVALINK = "novalink_78AB12C"
EXPORT = "10.1.0.7:/cinder/nfs"


class PowerVMNovaLinkVolumesTest(VolumeHarness):
    @classmethod
    def setUpClass(cls) -> None:
        integrated_helpers._IntegratedTestBase.setUpClass.__func__(cls)  # not the parent's simulator
        cls.files = tempfile.mkdtemp(prefix="pvm-vol-files-")
        data = yaml.safe_load(HOST_TOPOLOGY.read_text())
        data["management_partition"]["io_server"] = True
        data["storage"]["iscsi_targets"][0]["vioses"] = ["vios1", "vios2"]
        data["storage"]["rbd_images"] = [{"name": "volumes/volume-topo", "capacity_gb": 3}]
        topology = Path(cls.files) / "host.yaml"
        topology.write_text(yaml.safe_dump(data))
        cls.sim = Simulator(topology)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.files, ignore_errors=True)
        super().tearDownClass()

    def setUp(self) -> None:
        super().setUp()
        self.flags(nfs_mount_point_base=os.path.join(self.files, "mnt"), rbd_user="cinder", group="powervm")

    # -- helpers -------------------------------------------------------------------------------
    def _file(self, kind: str, exists: bool = True) -> tuple[str, str]:
        """A volume of type ``kind`` backed by a 1 MiB file (``exists``): (volume id, its path)."""
        volume_id = str(uuid.uuid4())
        if kind == "nfs":
            path = os.path.join(self.files, "mnt", nova_utils.get_hash_str(EXPORT), f"volume-{volume_id}")
            data = {"export": EXPORT, "name": f"volume-{volume_id}", "format": "raw"}
        else:
            path = os.path.join(self.files, kind, f"volume-{volume_id}")
            data = {"device_path": path}
        if exists:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.truncate(1024 * 1024)
        self.cinder.VOLUME_CONNECTION_INFO[volume_id] = {"driver_volume_type": kind, "data": data}
        return volume_id, path

    def _rbd(self, name: str | None = None, create: bool = True) -> tuple[str, str]:
        volume_id = str(uuid.uuid4())
        name = name or f"volumes/volume-{volume_id}"
        if create:
            filestore.add_rbd(self.sim.server.store, name, 2)
        self.cinder.VOLUME_CONNECTION_INFO[volume_id] = {"driver_volume_type": "rbd",
                                                         "data": {"name": name, "auth_username": "cinder"}}  # fmt: skip
        return volume_id, name

    def _novalink_maps(self) -> list[tuple[str, str, str | None]]:
        """NovaLink's vSCSI mappings: (storage name, VirtualDiskType, RbdUser)."""
        vios = next(v for v in pvm_vios.VIOS.get(self.pvm, xag=XAGS) if v.name == NOVALINK)
        return sorted((m.backing_storage.name, m.backing_storage.vdtype, m.backing_storage._get_val_str("RbdUser"))
                      for m in vios.scsi_mappings if isinstance(m.backing_storage, pvm_stor.VDisk))  # fmt: skip

    def _no_volume_storage(self) -> None:
        empty = ([], [])
        assert self._storage() == {"vios1": empty, "vios2": empty, NOVALINK: empty}, self._storage()
        assert self._novalink_maps() == [], self._novalink_maps()

    def _pv_maps(self) -> dict[str, list[str]]:
        return {v.name: sorted(m.backing_storage.udid for m in v.scsi_mappings
                               if isinstance(m.backing_storage, pvm_stor.PV))
                for v in pvm_vios.VIOS.get(self.pvm, xag=XAGS)}  # fmt: skip

    # -- every type on one server --------------------------------------------------------------
    def test_every_type_attach_extend_detach_delete(self) -> None:
        server = self._boot()
        fc_volume = self._fc_volume()
        iscsi_volume = str(uuid.uuid4())
        self.cinder.VOLUME_CONNECTION_INFO[iscsi_volume] = {"driver_volume_type": "iscsi", "data": dict(ISCSI)}
        files = {kind: self._file(kind) for kind in ("local", "gpfs", "nfs")}
        rbd_volume, rbd_name = self._rbd()
        topo_volume, _ = self._rbd("volumes/volume-topo", create=False)  # an image the topology lists
        for volume_id in (fc_volume, iscsi_volume, *(v for v, _ in files.values()), rbd_volume, topo_volume):
            self._attach_volume(server, volume_id)

        expected = sorted([(path, "File", None) for _, path in files.values()]
                          + [(rbd_name, "RBD", "cinder"), ("volumes/volume-topo", "RBD", "cinder")])  # fmt: skip
        assert self._novalink_maps() == expected, self._novalink_maps()
        pv = self._pv_maps()
        assert pv[NOVALINK] == [] and {len(pv["vios1"]), len(pv["vios2"])} == {2}, pv  # FC + iSCSI on each VIOS
        assert fc_udid(fc_volume) in pv["vios1"]

        for volume_id in (rbd_volume, files["nfs"][0]):
            self._extend(server, volume_id)
        events = self._wait_for_instance_action_event(server, "extend_volume", "compute_extend_volume", "Success")
        assert events

        self._detach(server, files["nfs"][0])
        self._detach(server, rbd_volume)
        assert self._novalink_maps() == [m for m in expected if m[0] not in (files["nfs"][1], rbd_name)]
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._novalink_maps() == [] and self._leftovers() == [], self._leftovers()

    # -- refusals ------------------------------------------------------------------------------
    def test_missing_file_or_image_or_5xx_fails_and_leaves_nothing(self) -> None:
        server = self._boot()
        volume_id, path = self._file("local", exists=False)
        self._attach_and_expect_failure(server, volume_id, f"FileIO path {path} is not an existing file")
        volume_id, path = self._file("nfs", exists=False)
        self._attach_and_expect_failure(server, volume_id, f"must be mounted at {os.path.dirname(path)}")
        volume_id, name = self._rbd(create=False)
        self._attach_and_expect_failure(server, volume_id, f"RBD image {name} does not exist")
        volume_id, path = self._file("gpfs")  # NovaLink answers 5xx on the mapping update
        self.sim.server.app.faults.set_rules([{"kind": "server_error", "method": "POST", "path": "VirtualIOServer",
                                               "count": 1}])  # fmt: skip
        try:
            self._attach_and_expect_failure(server, volume_id, f"mapping {path} on {NOVALINK} failed")
        finally:
            self.sim.server.app.faults.set_rules([])
        assert self._novalink_maps() == []
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []
