"""The SR-IOV agent end to end: real neutron (API + RPC server, MariaDB, RabbitMQ) with ``pvm_sriov``,
the agent as its own process, and the simulator driven by pypowervm as the compute side drives it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pypowervm.tasks import sriov as pvm_sriov
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms

from powervm_openstack.deploy.neutron_client import NeutronClient
from powervm_openstack.pvm import vif_event
from tests.fixtures.hosts import AgentHost
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration

AGENT_TYPE = "PowerVM SR-IOV Ethernet agent"
T = "U78D3.001.WZS0A1B-P1-C6-T"  # the default topology's SR-IOV ports: T1 default, T2/T3 prod, T4 unlabelled
# A long heartbeat, so that a report within seconds of a change shows the agent re-reported at once.
AGENT_OPTIONS = {"AGENT": {"report_interval": "30", "vnic_vf_capacity": "0.04", "vnic_wait_timeout": "8"}}


class Host(AgentHost):
    """A simulated NovaLink host with its SR-IOV agent, attached to a real neutron."""

    agent_module = "powervm_openstack.network.agent.sriov"
    agent_type = AGENT_TYPE

    def __init__(self, neutron: Any, work_dir: Any) -> None:
        super().__init__(neutron, work_dir, options=AGENT_OPTIONS)
        # Ports are created as nova does: with the service role, which binding:profile needs.
        self.nova = NeutronClient(neutron.url)
        self.nova.session.headers["X-Roles"] = "admin,service"

    def reported(self, key: str) -> dict:
        return (self.agent_record() or {}).get("configurations", {}).get(key, {})

    def port(self, network_id: str, lpar: pvm_lpar.LPAR, profile: dict | None = None) -> dict:
        body = {"network_id": network_id, "binding:host_id": self.name, "binding:vnic_type": "direct",
                "device_owner": "compute:nova", "device_id": lpar.uuid, "binding:profile": profile or {}}  # fmt: skip
        return self.nova.post("/v2.0/ports", {"port": body})["port"]

    def plug(self, port: dict, lpar: pvm_lpar.LPAR) -> pvm_iocard.VNIC:
        """What the compute driver does: a vNIC built from the port's vif_details, then the event."""
        details = port["binding:vif_details"]
        vnic = pvm_iocard.VNIC.bld(self.pvm, pvid=int(details["vlan"]), mac_addr=vif_event.pvm_mac(port["mac_address"]))
        pvm_sriov.set_vnic_back_devs(vnic, details["physical_ports"], redundancy=details["redundancy"],
                                     capacity=details["capacity"], max_capacity=details["maxcapacity"])  # fmt: skip
        vnic = vnic.create(parent=lpar)
        vif_event.post(self.pvm, vnic.href, "plug", port["mac_address"], "pvm_sriov")
        return vnic

    def unplug(self, port: dict, vnic: pvm_iocard.VNIC) -> None:
        vnic.delete()
        vif_event.post(self.pvm, vnic.href, "unplug", port["mac_address"], "pvm_sriov")

    def agent_log(self) -> str:
        return self.agent.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def neutron(neutron_server):
    ranges = "default:1:4094,prod:1:4094,backup:1:4094"
    return neutron_server(
        mechanism_drivers=("pvm_sriov",), extra_ml2={"ml2_type_vlan": {"network_vlan_ranges": ranges}}
    )


@pytest.fixture
def host(neutron, service_run) -> Iterator[Host]:
    node = Host(neutron, service_run.work_dir / "sriov-e2e")
    try:
        wait_for(node.agent_record, "the SR-IOV agent to report alive", timeout=90)
        yield node
    finally:
        node.close()


def network(neutron: Any, physnet: str, vlan: int | None) -> dict:
    body = {"name": f"{physnet}-{vlan}", "provider:physical_network": physnet,
            "provider:network_type": "flat" if vlan is None else "vlan"}  # fmt: skip
    if vlan is not None:
        body["provider:segmentation_id"] = vlan
    net = neutron.post("/v2.0/networks", {"network": body})["network"]
    cidr = f"10.{(vlan or 7) % 250}.{len(physnet)}.0/24"
    neutron.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": 4}})
    return net


def test_direct_port_is_active_while_its_vnic_exists(host):
    assert host.reported("device_mappings") == {"default": [f"{T}1", f"{T}4"], "prod": [f"{T}2", f"{T}3"]}
    net = network(host.neutron, "prod", 1200)
    web = host.lpar("web-01")
    port = host.port(net["id"], web)
    details = port["binding:vif_details"]
    assert port["binding:vif_type"] == "pvm_sriov"
    assert (details["vlan"], details["physical_network"], sorted(details["physical_ports"])) == (
        "1200", "prod", [f"{T}2", f"{T}3"],
    )  # fmt: skip
    assert (details["redundancy"], details["capacity"], details["maxcapacity"]) == (2, 0.04, None)

    vnic = host.plug(port, web)
    assert sorted(d.pport_id for d in vnic.back_devs) == [1, 2]  # redundancy 2: one VF on each prod port
    wait_for(lambda: host.port_status(port) == "ACTIVE", "port ACTIVE")
    prod = wait_for(lambda: [p for p in host.reported("physnet_ports").get("prod", []) if p["free_capacity"] == 0.96],
                    "the taken capacity reported", timeout=10)  # fmt: skip
    assert len(prod) == 2

    host.unplug(port, vnic)
    wait_for(lambda: host.port_status(port) == "DOWN", "port DOWN")
    assert "marking up" in host.agent_log() and "marking down" in host.agent_log()


def test_relabelled_port_changes_the_mappings_without_restart(host):
    def relabel(system: pvm_ms.System) -> bool:
        for pport in (p for a in system.asio_config.sriov_adapters for p in a.phys_ports):
            if pport.loc_code == f"{T}4":
                pport.label = "backup"
        return True

    pvm_sriov.safe_update_pports(pvm_ms.System.get(host.pvm)[0], relabel)
    mappings = wait_for(lambda: "backup" in host.reported("device_mappings") and host.reported("device_mappings"),
                        "the new label reported", timeout=10)  # fmt: skip
    assert mappings == {"backup": [f"{T}4"], "default": [f"{T}1"], "prod": [f"{T}2", f"{T}3"]}
    net = network(host.neutron, "backup", 1300)
    port = host.port(net["id"], host.lpar("web-01"), profile={"redundancy": 1})
    assert port["binding:vif_type"] == "pvm_sriov" and port["binding:vif_details"]["physical_ports"] == [f"{T}4"]


def test_more_redundancy_than_labelled_ports_fails_to_bind(host):
    net = network(host.neutron, "prod", 1400)
    port = host.port(net["id"], host.lpar("web-01"), profile={"redundancy": 3})
    assert port["binding:vif_type"] == "binding_failed"
    log = wait_for(lambda: "needs 3 SR-IOV physical port" in (text := host.neutron.log_files["api"].read_text())
                   and text, "the refusal in neutron's log", timeout=10)  # fmt: skip
    assert "found 2 of 2 labelled" in log


def test_a_vnic_that_never_appears_is_given_up_on(host):
    net = network(host.neutron, "default", None)
    web = host.lpar("web-01")
    port = host.port(net["id"], web)
    assert port["binding:vif_details"]["vlan"] == "0"  # flat: untagged
    missing = f"{web.href.split('?')[0]}/VirtualNICDedicated/{uuid.uuid4()}"
    vif_event.post(host.pvm, missing, "plug", port["mac_address"], "pvm_sriov")
    wait_for(lambda: "did not appear within 8s; giving up" in host.agent_log(), "the agent to give up", timeout=30)
    assert host.port_status(port) == "DOWN"
