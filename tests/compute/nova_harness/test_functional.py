"""nova 34's in-process functional harness with the PowerVM driver and the simulator.

A server boots from a small raw image with a ``pvm_sea`` port and a config drive, reaches ACTIVE
with a running partition whose boot disk, config drive and adapters are in the simulator; the SEA
agent's part (plug event -> ``network-vif-plugged``) is played by a thread on the simulator's event
feed. Then stop, start, soft and hard reboot, snapshot (the image gets the disk's bytes), attach and
detach an interface, delete -> nothing of the server is left. The same runs on both disk drivers.
A failure injected mid-spawn leaves nothing behind and the server goes to ERROR with the cause.
A ``direct`` (SR-IOV) port is scheduled on the driver's pseudo-VFs and spawns with a vNIC; and
nova-compute restarts cleanly after the partitions of an ACTIVE and a STOPPED server were deleted
outside OpenStack (both then report power state NOSTATE).
"""

from __future__ import annotations

import io
import os
import sys
import time
import uuid

import fixtures
import nova.conf
from nova import context as nova_context
from nova import objects
from nova.compute import power_state
from nova.tests.functional import integrated_helpers
from pypowervm import adapter as pvm_adapter
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import power as pvm_power
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import committed
from powervm_openstack.network import sriov_ports
from powervm_openstack.pvm import vif_event
from tests.compute.nova_harness.base import Simulator, repair_executor_factory, tolerate_sqlalchemy_noload
from tests.fixtures.simulator import connect, disconnect

IMAGE_DATA = b"PowerVM boot image\n" * 200
VLAN = 1234
SRIOV_VLAN = 1235
CONF = nova.conf.CONF


class _AgentStandIn(pvm_adapter.RawEventHandler):
    """What the SEA agent does for nova: a plug event for a port's MAC -> network-vif-plugged."""

    def __init__(self, test: PowerVMServersTest) -> None:
        self.test = test

    def process(self, events: list[dict[str, str]]) -> None:
        for event in events:
            vif = vif_event.parse(event.get("EventType", ""), event.get("EventData", ""), event.get("EventDetail", ""))
            if vif is None or vif.action != "plug":
                continue
            port = next((p for p in self.test.neutron._ports.values() if p["mac_address"] == vif.mac), None)
            if port is not None and port.get("device_id"):
                self.test.admin_api.api_post("/os-server-external-events", {"events": [
                    {"name": "network-vif-plugged", "server_uuid": port["device_id"], "tag": port["id"]}]})  # fmt: skip


class PowerVMHarness(integrated_helpers._IntegratedTestBase):
    """nova's API, conductor, scheduler and compute with this driver on one simulator (no tests here)."""

    ADMIN_API = True
    microversion = "latest"
    disk_driver = "localdisk"
    sim: Simulator
    # nova's helper polls 10 times every 0.5 s, sized for its in-memory fake driver; a spawn here makes
    # real REST calls, and a failed one is rescheduled through the conductor before the server errors.
    WAIT_RETRIES = 120

    def _wait_for_server_parameter(self, server, expected_params, max_retries=WAIT_RETRIES, api=None,
                                   wait_for_fault_key=True):  # fmt: skip
        return super()._wait_for_server_parameter(server, expected_params, max(max_retries, self.WAIT_RETRIES),
                                                  api, wait_for_fault_key)  # fmt: skip

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.sim = Simulator()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.sim.stop()
        super().tearDownClass()

    def setUp(self) -> None:
        self.flags(compute_driver="powervm.PowerVMDriver")
        self.flags(api_paste_config=os.path.join(sys.prefix, "etc/nova/api-paste.ini"), group="wsgi")
        self.flags(vif_plugging_timeout=30, vif_plugging_is_fatal=True, force_config_drive=True)
        # the operator's PCI settings for pvm_sriov (docs/sriov.md): the physical network, and the filter
        self.flags(device_spec=['{"physical_network": "default"}'], group="pci")
        self.flags(enabled_filters=[*CONF.filter_scheduler.enabled_filters, "PciPassthroughFilter"],
                   group="filter_scheduler")  # fmt: skip
        self.sim.configure(self, self.disk_driver)
        # stopping the compute service would mark nova's process-wide executor factory as shut down
        # (nova's own graceful-shutdown tests patch this the same way)
        self.useFixture(fixtures.MockPatch("nova.thread_pool_factory.shutdown_all_executors"))
        # A service's graceful shutdown finishes on a background thread and may call the real one after
        # the previous test's patch was removed: undo that leak, or every later test in this worker fails.
        repair_executor_factory()
        super().setUp()
        tolerate_sqlalchemy_noload()
        self.pvm = connect(self.sim.server)
        self.addCleanup(disconnect, self.pvm)
        self.pvm.session.get_event_listener().subscribe(_AgentStandIn(self))
        self.image_id = str(uuid.uuid4())
        self.glance.create(None, {"id": self.image_id, "name": "pvm-raw", "status": "active", "disk_format": "raw",
                                  "container_format": "bare", "size": len(IMAGE_DATA), "min_disk": 0,
                                  "properties": {}}, data=io.BytesIO(IMAGE_DATA))  # fmt: skip
        self.flavor_id = self.admin_api.post_flavor({"flavor": {"name": f"pvm-{uuid.uuid4().hex[:6]}", "ram": 1024,
                                                                "vcpus": 2, "disk": 2}})["id"]  # fmt: skip

    # -- helpers -------------------------------------------------------------------------------
    def _sea_port(self) -> str:
        port = self.neutron.create_port({"port": {"network_id": self.neutron.network_1["id"]}})["port"]
        self.neutron._ports[port["id"]].update({"binding:vif_type": "pvm_sea", "status": "DOWN",
                                                "binding:vif_details": {"vlan": str(VLAN)}})  # fmt: skip
        return port["id"]

    def _direct_port(self) -> str:
        """A ``direct`` port on a VLAN network of physical network ``default``, bound by pvm_sriov."""
        network = {**self.neutron.network_1, "id": str(uuid.uuid4()), "provider:network_type": "vlan",
                   "provider:physical_network": "default", "provider:segmentation_id": SRIOV_VLAN}  # fmt: skip
        self.neutron._networks[network["id"]] = network
        port = self.neutron.create_port({"port": {}})["port"]
        system = pvm_ms.System.get(self.pvm)[0]
        locations = [p.location_code for p in sriov_ports.read_ports(system) if p.physnet == "default"]
        self.neutron._ports[port["id"]].update({
            "network_id": network["id"], "binding:vnic_type": "direct", "binding:vif_type": "pvm_sriov",
            "status": "ACTIVE", "binding:vif_details": {"vlan": str(SRIOV_VLAN), "physical_network": "default",
                                                        "physical_ports": locations, "redundancy": 2}})  # fmt: skip
        return port["id"]

    def _vnics(self, lpar: pvm_lpar.LPAR) -> dict[str, int]:
        vnics = pvm_card.VNIC.get(self.pvm, parent_type=pvm_lpar.LPAR, parent_uuid=lpar.uuid)
        return {vif_event.norm_mac(v.mac): v.pvid for v in vnics}

    def _pci_devices(self) -> objects.PciDeviceList:
        ctx = nova_context.get_admin_context()
        return objects.PciDeviceList.get_by_compute_node(ctx, objects.ComputeNodeList.get_all(ctx)[0].id)

    def _boot(self, **kwargs: object) -> dict:
        return self._create_server(image_uuid=self.image_id, flavor_id=self.flavor_id,
                                   networks=[{"port": self._sea_port()}], **kwargs)  # fmt: skip

    def _lpar(self, server: dict) -> pvm_lpar.LPAR:
        wanted = server["id"].upper()[1:]
        return next(p for p in pvm_lpar.LPAR.get(self.pvm) if p.uuid[1:] == wanted)

    def _client_macs(self, lpar: pvm_lpar.LPAR) -> dict[str, int]:
        return {vif_event.norm_mac(c.mac): c.pvid for c in pvm_net.CNA.get(self.pvm, parent=lpar)}

    def _leftovers(self) -> list[str]:
        """Everything a server could leave behind in the simulator (hdisks included: the VIOSes have none at start)."""
        found = [f"partition {p.name}" for p in pvm_lpar.LPAR.get(self.pvm) if not p.is_mgmt_partition]
        xags = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.STORAGE, pvm_vios.VIOS.xags.FC_MAPPING]
        for vios in pvm_vios.VIOS.get(self.pvm, xag=xags):
            found += [f"vFC mapping {m.backing_port.name if m.backing_port else '-'} on {vios.name}"
                      for m in vios.vfc_mappings]  # fmt: skip
            found += [f"mapping {m.backing_storage.name if m.backing_storage else '-'} on {vios.name}"
                      for m in vios.scsi_mappings]  # fmt: skip
            found += [f"hdisk {pv.name} on {vios.name}" for pv in vios.phys_vols]
            for vg in pvm_stor.VG.get(self.pvm, parent=vios):
                found += [f"disk {d.name}" for d in vg.virtual_disks if d.name.startswith(("b_", "s_"))]
                found += [f"media {m.name}" for r in vg.vmedia_repos for m in r.optical_media]
        for tier in pvm_stor.Tier.get(self.pvm):
            found += [f"LU {lu.name}" for lu in pvm_stor.LUEnt.get(self.pvm, parent=tier)]
        mgmt = pvm_par.get_mgmt_partition(self.pvm)
        found += [f"trunk {c.mac} on NovaLink" for c in pvm_net.CNA.get(self.pvm, parent=mgmt) if c.pvid != 4094]
        return found

    def _state(self, server: dict) -> str:
        return self._lpar(server).state


class PowerVMServersTest(PowerVMHarness):
    # -- the lifecycle -------------------------------------------------------------------------
    def test_lifecycle(self) -> None:
        server = self._boot()
        lpar = self._lpar(server)
        assert lpar.state == "running", lpar.state
        assert lpar.mem_config.desired == 1024 and lpar.proc_config.shared_proc_cfg.desired_virtual == 2
        port_mac = vif_event.norm_mac(self.neutron._ports[self.api.get_port_interfaces(server["id"])[0]["port_id"]]
                                      ["mac_address"])  # fmt: skip
        assert self._client_macs(lpar)[port_mac] == VLAN
        assert 4094 in self._client_macs(lpar).values()  # the RMC management adapter
        storage = {m.backing_storage.name for v in pvm_vios.VIOS.get(self.pvm, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
                   for m in v.scsi_mappings if m.client_lpar_href and lpar.uuid in m.client_lpar_href}  # fmt: skip
        assert any(n.startswith(("b_", "boot_")) for n in storage), storage
        assert "cfg_" + server["id"].replace("-", "") in storage, storage

        self._stop_server(server)
        assert self._state(server) == "not activated"
        self._start_server(server)
        assert self._state(server) == "running"
        self._reboot_server(server, hard=False)
        self._reboot_server(server, hard=True)
        assert self._state(server) == "running"

        self._snapshot_server(server, "snap")
        snapshot = self._wait_for_image("snap")
        assert snapshot["disk_format"] == "raw"
        # The image record appears before nova clears the snapshot's task state.
        server = self._wait_for_server_parameter(server, {"OS-EXT-STS:task_state": None})

        port2 = self._sea_port()
        self._attach_interface(server, port2)
        assert len(self._client_macs(self._lpar(server))) == 3
        self._detach_interface(server, port2)
        assert len(self._client_macs(self._lpar(server))) == 2

        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []

    def test_failure_mid_spawn_leaves_nothing_and_errors_the_server(self) -> None:
        # The driver tries an adapter creation that answered 5xx again (committed.ATTEMPTS times, after
        # checking that nothing was committed), so that step fails only when every attempt does.
        for method, path, step, count in (("PUT", "ClientNetworkAdapter", "adapter creation", committed.ATTEMPTS),
                                          ("POST", "VirtualIOServer", "vSCSI mapping", 1),
                                          ("PUT", "do/PowerOn", "power on", 1)):  # fmt: skip
            message = f"Injected: {step} failed."
            self.sim.server.app.faults.add_rule({"kind": "server_error", "method": method, "path": path,
                                                 "count": count, "message": message})  # fmt: skip
            try:
                server = self._boot(expected_state="ERROR")
            finally:
                self.sim.server.app.faults.set_rules([])
            fault = self.api.get_server(server["id"])["fault"]
            assert message in fault["message"] + fault.get("details", ""), (step, fault)
            assert self._leftovers() == [], step
            self._delete_server(server)
            self._wait_until_deleted(server)

    def test_direct_port_is_scheduled_on_a_pseudo_vf_and_gets_a_vnic(self) -> None:
        if self.disk_driver != "localdisk":
            self.skipTest("PCI scheduling does not depend on the disk driver; it runs with localdisk")
        devices = self._pci_devices()
        assert len(devices) == 40 and {d.dev_type for d in devices} == {"type-VF"}, devices  # 2 ports x 20
        port_id = self._direct_port()
        server = self._create_server(image_uuid=self.image_id, flavor_id=self.flavor_id,
                                     networks=[{"port": port_id}])  # fmt: skip
        port = self.neutron._ports[port_id]
        claimed = [d for d in self._pci_devices() if d.status == "allocated"]
        assert [d.instance_uuid for d in claimed] == [server["id"]], claimed
        assert port["binding:profile"]["pci_slot"] == claimed[0].address
        assert port["binding:profile"]["physical_network"] == "default"
        assert self._vnics(self._lpar(server)) == {vif_event.norm_mac(port["mac_address"]): SRIOV_VLAN}

        self._delete_server(server)
        self._wait_until_deleted(server)
        assert self._leftovers() == []
        assert {d.status for d in self._pci_devices()} == {"available"}

    def test_compute_restarts_after_partitions_vanished(self) -> None:
        if self.disk_driver != "localdisk":
            self.skipTest("start-up with vanished partitions does not depend on the disk driver")
        active, stopped = self._boot(), self._boot()
        self._stop_server(stopped)
        for server in (active, stopped):  # what an administrator could do on the HMC or NovaLink
            lpar = self._lpar(server)
            if lpar.state != "not activated":
                pvm_power.power_off(lpar, None, force_immediate=pvm_power.Force.TRUE)
            self._lpar(server).delete()  # read again: the power-off changed its ETag
        self.compute = self.restart_compute_service(self.compute, keep_hypervisor_state=False)
        service = self.admin_api.get_services(binary="nova-compute")[0]
        assert (service["state"], service["status"]) == ("up", "enabled"), service
        self.compute.manager._sync_power_states(nova_context.get_admin_context())
        for server, vm_state in ((active, "active"), (stopped, "stopped")):
            found = self._wait_for_server_parameter(server, {"OS-EXT-STS:power_state": power_state.NOSTATE})
            assert found["OS-EXT-STS:vm_state"] == vm_state, found
        for server in (active, stopped):
            self._delete_server(server)
            self._wait_until_deleted(server)
        assert self._leftovers() == []

    def _wait_for_image(self, name: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            images = [i for i in self.glance.images.values() if i.get("name") == name]
            if images and images[0].get("disk_format") == "raw":
                return images[0]
            time.sleep(0.2)
        raise AssertionError(f"snapshot image {name} did not appear")


class PowerVMServersSspTest(PowerVMServersTest):
    disk_driver = "ssp"
