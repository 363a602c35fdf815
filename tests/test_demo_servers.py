"""The demo's server steps (``powervm_openstack.demo_servers``) on the shared cloud: ``./run test`` proves ``./run demo``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from powervm_openstack.demo_servers import ServerDemo

# The first cloud test of a process pays the bring-up in its set-up (minutes on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]


def test_the_demo_steps_pass_on_the_cloud(aio_cloud: Any) -> None:
    names: list[str] = []

    def step(name: str, action: Callable[[], Any]) -> Any:
        names.append(name)
        return action()

    facts = ServerDemo(aio_cloud, step).run()
    assert names[-1] == "partitions gone, VLAN cleaned, vNIC freed" and facts["cleaned"], names
    assert len(facts["vnic_ports"]) == 2, facts  # redundancy 2: one VF on each of the two ports labelled prod
    assert facts["snapshot"]["size"] > 0, facts
    conn = aio_cloud.connection()
    assert not [s for s in conn.compute.servers()], "the demo leaves no server behind"
    assert not [n for n in conn.network.networks() if n.name.startswith("demo-")], "nor a network"
    assert not [i for i in conn.image.images() if i.name.startswith("demo-")], "nor an image"
