"""A PowerVM simulator behind nova's test harness, and the driver's configuration for it.

The driver logs on with the local (file) authentication NovaLink uses on its own partition; devices
mapped to the NovaLink partition appear under a private directory the driver's ``mgmt`` module reads.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import fixtures

from powervm_openstack.compute import conf as pvm_conf
from powervm_openstack.simulator.http.server import SimulatorServer
from powervm_openstack.simulator.model import vscsi
from powervm_openstack.simulator.topology import loader as topology

HOST_TOPOLOGY = Path(__file__).with_name("host.yaml")


class Simulator:
    """One simulator (in a thread) with a device directory for the management partition."""

    def __init__(self, topology_file: str | Path = HOST_TOPOLOGY) -> None:
        self.device_dir = tempfile.mkdtemp(prefix="pvm-sim-dev-")
        self.server = SimulatorServer(seed=topology.load(topology_file), event_wait=0.3).start()
        vscsi.set_mgmt_device_dir(self.server.store, self.device_dir)

    def vterm_commands(self) -> str:
        """A directory with ``mkvterm``/``rmvterm`` for this simulator, to put first on PATH."""
        bindir = Path(self.device_dir) / "bin"
        bindir.mkdir(exist_ok=True)
        for command in ("mkvterm", "rmvterm"):
            script = bindir / command
            script.write_text(
                f'#!/bin/sh\nexec "{sys.executable}" -m powervm_openstack.simulator.http.vterm {command} "$@"\n'
            )
            script.chmod(0o755)
        return str(bindir)

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.device_dir, ignore_errors=True)

    def configure(self, test: Any, disk_driver: str = "localdisk") -> None:
        """Point the driver (via ``test.flags``) at this simulator and its storage."""
        import nova.conf

        pvm_conf.register_opts(nova.conf.CONF)
        test.flags(host="127.0.0.1", port=self.server.port, protocol="http", timeout=60, group="powervm_rest")
        storage = {"volume_group_name": "datavg"} if disk_driver == "localdisk" else {"cluster_name": "cluster1"}
        test.flags(disk_driver=disk_driver, group="powervm", **storage)
        test.useFixture(fixtures.MonkeyPatch("powervm_openstack.compute.mgmt.DEV_ROOT", self.device_dir))
        test.useFixture(fixtures.MonkeyPatch("powervm_openstack.compute.mgmt.SYS_ROOT", self.device_dir))
        test.useFixture(fixtures.EnvironmentVariable("PATH", f"{self.vterm_commands()}:{os.environ['PATH']}"))
        test.useFixture(fixtures.EnvironmentVariable("POWERVM_SIM_URL", self.server.url))


def tolerate_sqlalchemy_noload() -> None:
    """nova 34 still uses ``noload()``, which SQLAlchemy 2.1 deprecates; nova's warnings fixture makes that
    warning an error. It is nova's, not the driver's: ignore it (call after nova's ``setUp``)."""
    from sqlalchemy import exc as sa_exc

    warnings.filterwarnings(
        "ignore", message=r".*noload\(\) option is deprecated", category=sa_exc.SADeprecationWarning
    )


def stop_driver(driver: Any) -> None:
    """Stop the driver's event listener and log off while the simulator still answers."""
    driver.cleanup_host("")


def repair_executor_factory() -> None:
    """Clear the shut-down mark a previous test's late graceful shutdown left on nova's executor factory.

    nova's ServiceFixture patches ``shutdown_all_executors`` only while its fixture lives; the
    compute manager's graceful shutdown runs on a thread and can call the real one afterwards, which
    marks the process-wide factory shut down for good (nova's own fixture asserts it is not).
    """
    from nova import thread_pool_factory

    factory = thread_pool_factory.FACTORY
    if factory._shutdown:
        with factory._shutdown_lock:
            factory._shutdown = False
