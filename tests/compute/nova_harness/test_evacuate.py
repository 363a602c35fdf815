"""Evacuate on shared storage in nova 34's functional harness: two computes, two simulators, one SSP.

The simulators share the SSP ``cluster1`` (``POST /sim/ssp/peers``: logical units made on one host
appear on the other). A server is booted on ``compute`` with port A, port B is attached and A
detached (so B's adapter is not in the slot a fresh build would give it). Then ``compute`` is
stopped and forced down, the server is evacuated to ``host2``: there its partition uses the same
boot LU (same UDID, not a new disk from the image) and its client adapters keep their slots (B's
network adapter by MAC, the RMC adapter, the vSCSI client adapters of the boot LU). When
``compute`` starts again, nova destroys its copy of the evacuated partition without the disk
(``destroy_disks=False``, the storage is shared): the partition is gone from the first simulator
and the LU is still there and mapped on host2. Deleting the server on host2 then removes the LU
from the pool on both simulators. A server with an SR-IOV vNIC port (booted with a network adapter
before it, which is then detached) keeps the vNIC's slot and MAC on host2, where the vNIC is built
on host2's own SR-IOV ports.
"""

from __future__ import annotations

import json
import urllib.request

from nova.virt import node as nova_node
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import sriov_ports
from tests.compute.nova_harness.base import Simulator
from tests.compute.nova_harness.test_live_migration import _TwoHosts


def _post(sim: Simulator, path: str, body: dict) -> dict:
    req = urllib.request.Request(sim.server.url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as reply:
        return json.loads(reply.read())


class PowerVMEvacuateSspTest(_TwoHosts):
    disk_driver = "ssp"

    def setUp(self) -> None:
        super().setUp()
        for here, there in ((self.sim, self.sim2), (self.sim2, self.sim)):
            _post(here, "/sim/ssp/peers", {"url": there.server.url})

    def _slots(self, adapter, lpar) -> tuple[dict, dict]:
        cnas = {c.mac: c.slot for c in pvm_net.CNA.get(adapter, parent=lpar)}
        vscsi: dict[str, list[int]] = {}
        for vios in pvm_vios.VIOS.get(adapter, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING]):
            for m in vios.scsi_mappings:
                if m.backing_storage and m.client_lpar_href and lpar.uuid.upper() in m.client_lpar_href.upper():
                    vscsi.setdefault(f"{vios.name}:{m.backing_storage.name}", []).append(m.client_adapter.lpar_slot_num)
        return cnas, vscsi

    def _lus(self, adapter) -> dict[str, str]:
        return {
            lu.name: lu.udid for tier in pvm_stor.Tier.get(adapter) for lu in pvm_stor.LUEnt.get(adapter, parent=tier)
        }

    def test_evacuate_keeps_the_lu_and_the_slots(self) -> None:
        server = self._boot(host="compute")
        port_a = self.api.get_port_interfaces(server["id"])[0]["port_id"]
        self._attach_interface(server, self._sea_port())
        self._detach_interface(server, port_a)
        server = self.api.get_server(server["id"])
        lpar = self._on(self.pvm, server)
        cnas, vscsi = self._slots(self.pvm, lpar)
        boot = "boot_" + server["id"].replace("-", "")
        udid = self._lus(self.pvm)[boot]
        self.assertEqual(udid, self._lus(self.pvm2).get(boot))  # the pool is shared

        self.compute.stop()
        service = self.admin_api.get_services(host="compute", binary="nova-compute")[0]
        self.admin_api.put_service(service["id"], {"forced_down": True})
        server = self._evacuate_server(server, expected_host="host2", expected_state="SHUTOFF")

        moved = self._on(self.pvm2, server)
        self.assertIsNotNone(moved)
        moved_cnas, moved_vscsi = self._slots(self.pvm2, moved)
        self.assertEqual(vscsi, moved_vscsi)
        self.assertEqual(sorted(cnas.values()), sorted(moved_cnas.values()))  # the RMC adapter gets a new MAC
        for mac, slot in cnas.items():
            if mac in moved_cnas:
                self.assertEqual(slot, moved_cnas[mac])
        self.assertEqual(udid, self._lus(self.pvm2)[boot])

        # the harness runs both computes in one process: give compute back its own node identity and NovaLink
        nova_node.LOCAL_NODE_UUID = self.compute.manager.driver._node_uuid
        self.flags(port=self.sim.server.port, group="powervm_rest")
        self.compute = self.restart_compute_service(self.compute)
        self.admin_api.put_service(service["id"], {"forced_down": False})
        self.assertIsNone(self._on(self.pvm, server))
        self.assertEqual([], self._mapped_to(self.pvm, lpar.uuid))  # its adapters and mappings went with it
        self.assertEqual(udid, self._lus(self.pvm)[boot])
        self.assertEqual(moved_vscsi, self._slots(self.pvm2, self._on(self.pvm2, server))[1])

        self._delete_server(server)
        self._wait_until_deleted(server)
        self.assertNotIn(boot, self._lus(self.pvm2))
        self.assertNotIn(boot, self._lus(self.pvm))

    def test_evacuate_keeps_the_vnic_slot(self) -> None:
        port_a, direct = self._sea_port(), self._direct_port()
        server = self._create_server(image_uuid=self.image_id, flavor_id=self.flavor_id,
                                     networks=[{"port": port_a}, {"port": direct}], host="compute")  # fmt: skip
        lpar = self._on(self.pvm, server)
        freed = {c.mac: c.slot for c in pvm_net.CNA.get(self.pvm, parent=lpar)}
        self._detach_interface(server, port_a)
        ((mac, slot),) = self._vnic_slots(self.pvm, lpar).items()
        self.assertLess(min(s for m, s in freed.items() if m not in self._cna_macs(self.pvm, lpar)), slot)

        self.compute.stop()
        service = self.admin_api.get_services(host="compute", binary="nova-compute")[0]
        self.admin_api.put_service(service["id"], {"forced_down": True})
        # what neutron's pvm_sriov mechanism driver binds the port to on host2: host2's physical ports
        system2 = pvm_ms.System.get(self.pvm2)[0]
        details = self.neutron._ports[direct]["binding:vif_details"]
        details["physical_ports"] = [p.location_code for p in sriov_ports.read_ports(system2) if p.physnet == "default"]
        server = self._evacuate_server(server, expected_host="host2", expected_state="SHUTOFF")

        moved = self._on(self.pvm2, server)
        self.assertEqual({mac: slot}, self._vnic_slots(self.pvm2, moved))  # not the free slot port A left
        (vnic,) = pvm_card.VNIC.get(self.pvm2, parent_type=pvm_lpar.LPAR, parent_uuid=moved.uuid)
        self.assertTrue(vnic.back_devs)  # built on host2's SR-IOV ports

    def _vnic_slots(self, adapter, lpar) -> dict[str, int]:
        return {v.mac: v.slot for v in pvm_card.VNIC.get(adapter, parent_type=pvm_lpar.LPAR, parent_uuid=lpar.uuid)}

    def _cna_macs(self, adapter, lpar) -> set[str]:
        return {c.mac for c in pvm_net.CNA.get(adapter, parent=lpar)}
