"""IBM i images in nova 34's functional harness: an OS400 partition with its load source tagged, or a refusal.

An image with ``os_distro=ibmi`` boots as an OS400 partition whose tagged I/O names the boot disk's
client vSCSI slot as the load source (never the config drive's), with console HMC and the IPL source
the flavor asks for; the simulator refuses to IPL an IBM i partition without that. What is not
supported fails the build with the reason in the server's fault and nothing left on the host.
"""

from __future__ import annotations

import io
import uuid

from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.compute.nova_harness.test_functional import IMAGE_DATA, PowerVMHarness


def add_ibmi_image(glance) -> str:
    """An image with ``os_distro=ibmi`` in nova's glance fixture; its id."""
    image = str(uuid.uuid4())
    glance.create(None, {"id": image, "name": "ibmi-raw", "status": "active", "disk_format": "raw",
                         "container_format": "bare", "size": len(IMAGE_DATA), "min_disk": 0,
                         "properties": {"os_distro": "ibmi"}}, data=io.BytesIO(IMAGE_DATA))  # fmt: skip
    return image


class PowerVMIBMiTest(PowerVMHarness):
    def setUp(self) -> None:
        super().setUp()
        self.ibmi_image = add_ibmi_image(self.glance)

    def _flavor(self, **specs: str) -> str:
        flavor = self.admin_api.post_flavor({"flavor": {"name": f"ibmi-{uuid.uuid4().hex[:6]}", "ram": 1024,
                                                        "vcpus": 2, "disk": 2}})["id"]  # fmt: skip
        self.admin_api.post_extra_spec(flavor, {"extra_specs": {f"powervm:{k}": v for k, v in specs.items()}})
        return flavor

    def _slots(self, lpar: pvm_lpar.LPAR) -> dict[str, int]:
        """Backing device kind -> client slot, of the partition's vSCSI mappings."""
        vioses = pvm_vios.VIOS.get(self.pvm, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
        return {("optical" if isinstance(m.backing_storage, pvm_stor.VOptMedia) else "disk"): m.client_adapter.lpar_slot_num
                for v in vioses for m in v.scsi_mappings
                if m.client_adapter is not None and m.client_adapter.lpar_id == lpar.id}  # fmt: skip

    def test_ibmi_image_gets_an_os400_partition_with_its_load_source_tagged(self) -> None:
        server = self._create_server(image_uuid=self.ibmi_image, flavor_id=self._flavor(ibmi_ipl_source="a"),
                                     networks=[{"port": self._sea_port()}])  # fmt: skip
        lpar = self._lpar(server)
        self.assertEqual(("OS400", "running"), (lpar.env, lpar.state))
        slots = self._slots(lpar)
        self.assertIn("optical", slots)  # the config drive is mapped too, and is not the load source
        tagged = lpar.io_config.tagged_io
        self.assertEqual((str(slots["disk"]), str(slots["disk"]), "HMC"),
                         (tagged.load_src, tagged.alt_load_src, tagged.console))  # fmt: skip
        self.assertEqual(("a", "normal"), (lpar.desig_ipl_src, lpar.keylock_pos))
        self.assertTrue(lpar.restrictedio)

        self._delete_server(server)
        self.assertEqual([], self._leftovers())

    def test_unsupported_ibmi_settings_are_refused_with_the_reason(self) -> None:
        for image, specs, reason in (
            (self.ibmi_image, {"ibmi_console": "LAN"}, "powervm:ibmi_console='LAN' is not valid: allowed: HMC"),
            (self.ibmi_image, {"secure_boot": "1"}, "secure boot to AIX/Linux partitions only, not IBM i"),
            (self.image_id, {"ibmi_ipl_source": "a"}, "applies to IBM i images (os_distro=ibmi) only"),
        ):
            server = self._create_server(image_uuid=image, flavor_id=self._flavor(**specs), networks="none",
                                         expected_state="ERROR")  # fmt: skip
            self.assertIn(reason, server["fault"]["message"])
            self._delete_server(server)
        self.assertEqual([], self._leftovers())
