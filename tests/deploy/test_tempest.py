"""Tempest 47 against the all-in-one cloud: the named subset (etc/tempest/powervm-subset.txt) passes.

The cloud is the shared ``aio_cloud``; tempest gets its workspace in the cloud's run directory
(``<run dir>/tempest``, output in ``tempest-output.log`` there) and leaves no server, image or network.
"""

from __future__ import annotations

import time

import pytest

from powervm_openstack.deploy.aio import tempest
from powervm_openstack.deploy.aio.cloud import Cloud

# The subset took 580 s with the suite's four steps on 2 cores, and more than 600 s once.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


def test_the_tempest_subset_passes(aio_cloud: Cloud) -> None:
    conn = aio_cloud.connection()
    resources = tempest.prepare(conn)
    try:
        workspace = tempest.configure(conn, aio_cloud.keystone_url, aio_cloud.dir, resources)
        started = time.monotonic()
        with open(workspace / "tempest-output.log", "w") as out:
            counts = tempest.run(workspace, out=out)
        seconds = time.monotonic() - started
    finally:
        problems = tempest.cleanup(conn, resources)
    print(f"{counts.line()} in {seconds:.0f} s (subset {tempest.SUBSET.name}; output {workspace}/tempest-output.log)")
    assert counts.failed == 0, "\n".join(counts.failures)
    assert counts.returncode == 0, f"tempest run exited {counts.returncode}; see {workspace}/tempest-output.log"
    assert counts.passed > 0
    assert problems == []
    assert not list(conn.compute.servers(all_projects=True)), "tempest left servers behind"
