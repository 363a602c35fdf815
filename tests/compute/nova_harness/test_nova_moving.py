"""nova 34's own move-operation tests (``ServerMovingTests``) with this driver, each host on its own simulator.

nova's ``nova.tests.functional.test_servers.ServerMovingTests`` boots servers on two compute hosts
and resizes, cold- and live-migrates, evacuates, shelves and unshelves them, asserting the
allocations and usages placement holds at every step. It takes its virt driver from the class's
``compute_driver``: here that is this driver, each compute service on its own simulated NovaLink
host (``host1``, ``host2``, and those some tests start, such as ``selection``), the hosts sharing the SSP
cluster ``cluster1`` (the simulators replicate its logical units, as the cluster does), so every
move works on real partitions. nova's image ``155d900f-...`` gets a small body to boot from and
architecture ``ppc64le`` (nova's ``x86_64`` would not pass the scheduler's image filter on POWER).

A test nova wrote for its fake driver's internals (it patches ``nova.virt.fake`` or expects the fake
driver's behaviour) is skipped with the reason in ``SKIPPED``; it is not counted as a pass.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import fixtures
from nova.tests.functional import test_servers
from nova.virt import node as nova_node

from powervm_openstack.deploy.aio.hosts import host_topology
from tests.compute.nova_harness.base import (
    HOST_TOPOLOGY,
    Simulator,
    repair_executor_factory,
    stop_driver,
    tolerate_sqlalchemy_noload,
)
from tests.compute.nova_harness.test_functional import IMAGE_DATA
from tests.compute.nova_harness.test_live_migration import _admin

NOVA_IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # the image nova's move tests boot from

# nova's test -> why it does not apply to this driver (skipped, never counted as passed)
_BLOCK = "it asks for block migration; PowerVM moves partitions on shared storage and copies no disks (refused)"
_FAKE = "it patches nova's fake driver (nova.virt.fake.FakeDriver.{}), which this driver does not run"
SKIPPED: dict[str, str] = {
    "test_live_migrate": _BLOCK,
    "test_live_migrate_force": _BLOCK,
    "test_live_migrate_forced_v268": _BLOCK,
    "test_resize_not_enough_resource": "it sizes its flavor from nova's fake driver (MediumFakeDriver.vcpus + 1); "
    "a simulated POWER host has more processors",
    "test_migration_confirm_resize_error": _FAKE.format("confirm_migration"),
    "test_live_migrate_pre_check_fails": _FAKE.format("check_can_live_migrate_destination"),
    "test_live_migrate_rollback_cleans_dest_node_allocations": _FAKE.format("pre_live_migration"),
    "test_live_migrate_rollback_cleans_dest_node_allocations_forced": _FAKE.format("pre_live_migration"),
}


class PowerVMServerMovingTests(test_servers.ServerMovingTests):
    compute_driver = "powervm.PowerVMDriver"
    # nova's helper polls 10 times every 0.5 s, sized for its in-memory fake driver; moves here are REST calls
    WAIT_RETRIES = 120

    def _wait_for_server_parameter(self, server, expected_params, max_retries=WAIT_RETRIES, api=None,
                                   wait_for_fault_key=True):  # fmt: skip
        return super()._wait_for_server_parameter(server, expected_params, max(max_retries, self.WAIT_RETRIES),
                                                  api, wait_for_fault_key)  # fmt: skip

    def setUp(self) -> None:
        reason = SKIPPED.get(self._testMethodName)
        if reason:
            self.skipTest(reason)
        self.sims: dict[str, Simulator] = {}
        self.node_uuids: dict[str, str] = {}
        self.flags(api_paste_config=os.path.join(sys.prefix, "etc/nova/api-paste.ini"), group="wsgi")
        self._simulator("host1").configure(self, "ssp")
        self.useFixture(fixtures.MockPatch("nova.thread_pool_factory.shutdown_all_executors"))
        repair_executor_factory()
        super().setUp()
        tolerate_sqlalchemy_noload()
        image = self.glance.images[NOVA_IMAGE]
        image.update(size=len(IMAGE_DATA), disk_format="raw", container_format="bare")
        image["properties"]["architecture"] = "ppc64le"  # nova's x86_64 would be filtered out on a POWER host
        self.glance._imagedata[NOVA_IMAGE] = IMAGE_DATA

    def _simulator(self, host: str) -> Simulator:
        """The simulated NovaLink host of compute ``host`` (``hostN``), started on first use, in the one SSP."""
        if host not in self.sims:
            index = 1 if host == "host1" else len(self.sims) + 1  # host1 first; others ("selection", ...) after
            topology = HOST_TOPOLOGY if index == 1 else host_topology(
                HOST_TOPOLOGY, Path(tempfile.mkdtemp(prefix=f"pvm-{host}-")), index)  # fmt: skip
            sim = Simulator(topology)
            self.addCleanup(sim.stop)  # after nova's services have stopped
            for other in self.sims.values():
                _admin(sim, "/sim/ssp/peers", {"url": other.server.url})
                _admin(other, "/sim/ssp/peers", {"url": sim.server.url})
            self.sims[host] = sim
        return self.sims[host]

    def _point_at(self, host: str) -> None:
        """Make the next compute service started be ``host``: its simulator, its node UUID (a new one at first)."""
        self.flags(port=self._simulator(host).server.port, group="powervm_rest")  # read at init_host
        nova_node.LOCAL_NODE_UUID = self.node_uuids.get(host)  # each host is another machine

    def _started(self, host: str, compute):
        self.node_uuids[host] = next(iter(compute.manager.driver.get_nodenames_by_uuid()))
        self.addCleanup(stop_driver, compute.manager.driver)
        start = compute.start

        def start_here() -> None:  # some tests start a stopped service again in place
            self._point_at(host)
            start()

        compute.start = start_here
        return compute

    def _start_compute(self, host, cell_name=None):
        self._point_at(host)
        return self._started(host, super()._start_compute(host, cell_name=cell_name))

    def restart_compute_service(self, compute, keep_hypervisor_state=True):
        self._point_at(compute.host)
        return self._started(compute.host, super().restart_compute_service(compute, keep_hypervisor_state))
