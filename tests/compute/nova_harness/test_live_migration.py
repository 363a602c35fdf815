"""Live migration in nova 34's functional harness: two compute services, each on its own simulator.

``compute`` drives the host of ``host.yaml``; ``host2`` drives a second simulator with the same
topology renamed as another system (its own UUIDs), sharing the SSP cluster ``cluster1`` and the
physical network. A server on an SSP disk live-migrates: afterwards its partition, adapters and
disk mapping are only on host2's simulator (the rollback case is in ``test_live_migration_rollback``,
servers with Cinder volumes in ``test_live_migration_volumes``).
The servers have a config drive (the harness forces one): its virtual optical media is not shared
storage, so it is unmapped before the move, deleted on the source and built again on host2. On localdisk the destination refuses before anything
changes, with the reason in the instance action.
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from pathlib import Path

import yaml
from nova.tests.functional.api import client
from nova.virt import node as nova_node
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.compute.nova_harness.base import HOST_TOPOLOGY, Simulator, stop_driver
from tests.compute.nova_harness.test_functional import VLAN, PowerVMHarness
from tests.fixtures.simulator import connect, disconnect


def second_host_topology() -> Path:
    data = yaml.safe_load(HOST_TOPOLOGY.read_text())
    data["system"].update(name="Server-9009-42A-SN78CD34E", serial="78CD34E")
    data["management_partition"]["name"] = "novalink_78CD34E"
    path = Path(tempfile.mkdtemp(prefix="pvm-host2-")) / "host2.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _admin(sim: Simulator, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(sim.server.url + path, data=json.dumps(body).encode() if body else None,
                                 method="POST" if body else "GET", headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as reply:
        return json.loads(reply.read())


class _TwoHosts(PowerVMHarness):
    sim2: Simulator

    # Fresh simulators per test (not per class): a moved partition must not be on the next test's hosts.
    @classmethod
    def setUpClass(cls) -> None:
        super(PowerVMHarness, cls).setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        super(PowerVMHarness, cls).tearDownClass()

    def setUp(self) -> None:
        self.sim, self.sim2 = Simulator(), Simulator(second_host_topology())
        self.addCleanup(self.sim.stop)  # runs after nova's services have stopped
        self.addCleanup(self.sim2.stop)
        super().setUp()
        self.flags(port=self.sim2.server.port, group="powervm_rest")  # read by host2's driver at init_host
        nova_node.LOCAL_NODE_UUID = None  # host2 is another machine: its own node UUID (nova's fixture stores none)
        self.compute2 = self._start_compute("host2")
        self.addCleanup(stop_driver, self.compute2.manager.driver)
        self.pvm2 = connect(self.sim2.server)
        self.addCleanup(disconnect, self.pvm2)

    def _names(self, adapter) -> set[str]:
        return {p.name for p in pvm_lpar.LPAR.get(adapter) if not p.is_mgmt_partition}

    def _on(self, adapter, server: dict) -> pvm_lpar.LPAR | None:
        wanted = server["id"].upper()[1:]
        return next((p for p in pvm_lpar.LPAR.get(adapter) if p.uuid[1:] == wanted), None)

    def _last_action_detail(self, server: dict) -> str:
        action = self.admin_api.get_instance_actions(server["id"])[0]
        return json.dumps(
            self.admin_api.api_get(f"/servers/{server['id']}/os-instance-actions/{action['request_id']}").body
        )

    def _media(self, adapter) -> list[str]:
        vioses = pvm_vios.VIOS.get(adapter)
        return [m.name for v in vioses for vg in pvm_stor.VG.get(adapter, parent=v) for r in vg.vmedia_repos
                for m in r.optical_media]  # fmt: skip

    def _mapped_to(self, adapter, lpar_uuid: str) -> list[str]:
        vioses = pvm_vios.VIOS.get(adapter, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
        return [m.backing_storage.name for v in vioses for m in v.scsi_mappings
                if m.client_lpar_href and lpar_uuid.upper() in m.client_lpar_href.upper() and m.backing_storage]  # fmt: skip


class PowerVMLiveMigrationSspTest(_TwoHosts):
    disk_driver = "ssp"

    def test_live_migration_moves_the_partition(self) -> None:
        server = self._boot(host="compute")
        lpar = self._on(self.pvm, server)
        assert lpar is not None
        macs = sorted((c.mac, c.slot) for c in pvm_net.CNA.get(self.pvm, parent=lpar))
        disks = self._mapped_to(self.pvm, lpar.uuid)
        cfg = f"cfg_{server['id'].replace('-', '')}"
        self.assertIn(cfg, disks)

        server = self._live_migrate(server, host="host2")

        self.assertEqual("host2", server["OS-EXT-SRV-ATTR:host"])
        self.assertIsNone(self._on(self.pvm, server))
        moved = self._on(self.pvm2, server)
        self.assertIsNotNone(moved)
        self.assertEqual("running", moved.state)
        self.assertEqual(macs, sorted((c.mac, c.slot) for c in pvm_net.CNA.get(self.pvm2, parent=moved)))
        self.assertEqual(sorted(disks), sorted(self._mapped_to(self.pvm2, moved.uuid)))  # the config drive rebuilt
        self.assertEqual([], self._mapped_to(self.pvm, lpar.uuid))
        self.assertNotIn(cfg, self._media(self.pvm))  # the source's copy is deleted
        bridge = pvm_net.NetBridge.get(self.pvm2, parent_type="ManagedSystem",
                                       parent_uuid=pvm_lpar.LPAR.get(self.pvm2)[0].assoc_sys_uuid)[0]  # fmt: skip
        self.assertIn(VLAN, bridge.list_vlans())
        self.assertGreater(_admin(self.sim, "/sim/mobility")["downtime_ms"], 0)


class PowerVMLiveMigrationLocalDiskTest(_TwoHosts):
    disk_driver = "localdisk"

    def test_local_disk_is_refused_before_anything_changes(self) -> None:
        server = self._boot(host="compute")
        before = self._names(self.pvm2)
        # nova's harness turns the conductor's cast into a call, so the refusal reaches the API here
        self.assertRaises(client.OpenStackApiException, self.admin_api.post_server_action, server["id"],
                          {"os-migrateLive": {"host": "host2", "block_migration": "auto"}})  # fmt: skip
        self._wait_for_migration_status(server, ["error"])

        server = self.api.get_server(server["id"])
        self.assertEqual(("compute", "ACTIVE"), (server["OS-EXT-SRV-ATTR:host"], server["status"]))
        self.assertIsNotNone(self._on(self.pvm, server))
        self.assertEqual(before, self._names(self.pvm2))
        self.assertIn("keeps boot disks in a local volume group", self._last_action_detail(server))
