"""Rescue and unrescue, and rebuild on the same host, in nova 34's functional harness.

A server is rescued with a separate rescue image: it goes to RESCUE, its partition runs with the
rescue disk mapped beside its own boot disk (the simulator shows both mappings); unrescue brings it
back to ACTIVE with the rescue disk's mapping and the disk itself gone. A server deleted while
rescued leaves nothing behind (both disk drivers). A rebuild with another image on the same host
(SSP) keeps the partition's UUID and its adapters' slots and gives it a new boot LU with the new
image's bytes (the old disk is not reused: nova's rebuild destroyed it first).
"""

from __future__ import annotations

import hashlib
import io
import json
import urllib.request
import uuid

from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.compute.nova_harness.test_functional import IMAGE_DATA, PowerVMHarness


class PowerVMRescueTest(PowerVMHarness):
    def _rescue_image(self, data: bytes = b"rescue system\n" * 100) -> str:
        image_id = str(uuid.uuid4())
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

    def test_rebuild_on_the_same_host(self) -> None:
        if self.disk_driver != "ssp":
            self.skipTest("the disk's reuse on rebuild is a shared-storage matter; it runs with ssp")
        server = self._boot()
        lpar = self._lpar(server)
        slots = {c.mac: c.slot for c in pvm_net.CNA.get(self.pvm, parent=lpar)}
        boot = "boot_" + server["id"].replace("-", "")
        old = self._lu(boot)
        data = b"another release\n" * 300
        image = self._rescue_image(data)

        self.api.post_server_action(server["id"], {"rebuild": {"imageRef": image}})
        server = self._wait_for_state_change(server, "ACTIVE")
        rebuilt = self._lpar(server)
        assert rebuilt.uuid == lpar.uuid and rebuilt.state == "running"
        now = {c.mac: c.slot for c in pvm_net.CNA.get(self.pvm, parent=rebuilt)}
        assert sorted(now.values()) == sorted(slots.values()), (slots, now)  # the RMC adapter gets a new MAC
        assert all(now[mac] == slot for mac, slot in slots.items() if mac in now), (slots, now)
        new = self._lu(boot)
        assert new is not None and new != old
        with urllib.request.urlopen(f"{self.sim.server.url}/sim/devices/{new}", timeout=30) as reply:
            assert json.loads(reply.read())["sha256"] == hashlib.sha256(data).hexdigest()
        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    def _lu(self, name: str) -> str | None:
        lus = {lu.name: lu.udid for t in pvm_stor.Tier.get(self.pvm) for lu in pvm_stor.LUEnt.get(self.pvm, parent=t)}
        return lus.get(name)
