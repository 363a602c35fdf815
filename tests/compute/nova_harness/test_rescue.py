"""Rescue and unrescue in nova 34's functional harness, on both disk drivers.

A server is rescued with a separate rescue image: it goes to RESCUE, its partition runs with the
rescue disk mapped beside its own boot disk (the simulator shows both mappings); unrescue brings it
back to ACTIVE with the rescue disk's mapping and the disk itself gone. A server deleted while
rescued leaves nothing behind.
"""

from __future__ import annotations

import io
import uuid

from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.compute.nova_harness.test_functional import IMAGE_DATA, PowerVMHarness


class PowerVMRescueTest(PowerVMHarness):
    def _rescue_image(self) -> str:
        image_id = str(uuid.uuid4())
        data = b"rescue system\n" * 100
        self.glance.create(None, {"id": image_id, "name": "pvm-rescue", "status": "active", "disk_format": "raw",
                                  "container_format": "bare", "size": len(data), "min_disk": 0,
                                  "properties": {}}, data=io.BytesIO(data))  # fmt: skip
        return image_id

    def _storage(self, server: dict) -> set[str]:
        lpar = self._lpar(server)
        vioses = pvm_vios.VIOS.get(self.pvm, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
        return {m.backing_storage.name for v in vioses for m in v.scsi_mappings
                if m.client_lpar_href and lpar.uuid in m.client_lpar_href and m.backing_storage}  # fmt: skip

    def _rescue_disk(self, server: dict) -> str:
        hexid = server["id"].replace("-", "")
        return "rescue_" + hexid if self.disk_driver == "ssp" else "r_" + hexid[:13]

    def test_rescue_and_unrescue(self) -> None:
        assert IMAGE_DATA
        server = self._boot()
        before = self._storage(server)
        rescue_image = self._rescue_image()

        self.api.post_server_action(server["id"], {"rescue": {"rescue_image_ref": rescue_image}})
        server = self._wait_for_state_change(server, "RESCUE")
        assert self._state(server) == "running"
        assert self._storage(server) == before | {self._rescue_disk(server)}, self._storage(server)

        server = self._unrescue_server(server)
        assert self._state(server) == "running"
        assert self._storage(server) == before
        assert not any(self._rescue_disk(server) in item for item in self._leftovers())

        self.api.post_server_action(server["id"], {"rescue": {"rescue_image_ref": rescue_image}})
        server = self._wait_for_state_change(server, "RESCUE")
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []


class PowerVMRescueSspTest(PowerVMRescueTest):
    disk_driver = "ssp"
