"""``ovs`` VIFs end to end: the compute driver's plug_vifs, the simulator's trunk devices, a real Open vSwitch
(userspace datapath), the real neutron 29 OVS agent (openvswitch firewall, QoS) and neutron server.

The simulated NovaLink turns each OVS trunk into a veth pair (``simulator.ovs_devices``): the end
named after the port is on br-int, the other end sits in a namespace standing for the partition.
"""

from __future__ import annotations

import subprocess
import types
import uuid

import pytest
from nova.network import model as network_model
from oslo_config import cfg

from powervm_openstack.compute import conf as pvm_conf
from powervm_openstack.compute.vif import driver_for
from powervm_openstack.simulator.runtime.ovs_devices import OvsDeviceHost
from tests.fixtures.ovs import OvsSandbox
from tests.fixtures.ovs_agent import OvsAgent
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.integration

PHYSNET = "physnet1"


@pytest.fixture(scope="module")
def ovs_sandbox(service_run):
    OvsSandbox.check_installed()
    sandbox = OvsSandbox(service_run.work_dir / f"ovs-{uuid.uuid4().hex[:6]}").start()
    sandbox.add_bridge("br-int")
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def neutron(neutron_server):
    return neutron_server(("openvswitch",), extra_ml2={"ml2": {"extension_drivers": "port_security,qos"}},
                          extra_conf={"DEFAULT": {"service_plugins": "qos"}})  # fmt: skip


@pytest.fixture(scope="module")
def agent(ovs_sandbox, neutron, service_run):
    host = f"novalink-{uuid.uuid4().hex[:8]}"
    agent = OvsAgent(ovs_sandbox, neutron, service_run.work_dir / host, host, {PHYSNET: "br-phys"}).start()

    def alive():
        rows = neutron.get("/v2.0/agents", params={"host": host})["agents"]
        return any(a["alive"] and a["agent_type"] == "Open vSwitch agent" for a in rows)

    try:
        wait_for(alive, f"OVS agent {host} alive in neutron", timeout=90)
    except AssertionError:
        agent.stop()
        raise AssertionError(agent.log_tail()) from None
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def host(ovs_sandbox):
    """The simulated NovaLink host, its trunk devices on the sandbox's OVS, a pypowervm session."""
    with running_simulator(event_wait=0.5) as sim:
        devices = OvsDeviceHost(ovs_sandbox.db, netns_prefix=f"pvg{uuid.uuid4().hex[:4]}-").attach(sim.store)
        adapter = connect(sim)
        yield adapter, devices
        disconnect(adapter)
        devices.close()


@pytest.fixture(scope="module")
def conf():
    opts = cfg.ConfigOpts()
    pvm_conf.register_opts(opts)
    opts([], project="nova")
    return opts


@pytest.fixture(scope="module")
def network(neutron):
    net = neutron.post("/v2.0/networks", {"network": {"name": "ovs-e2e", "provider:network_type": "flat",
                                                      "provider:physical_network": PHYSNET}})["network"]  # fmt: skip
    subnet = {"network_id": net["id"], "ip_version": 4, "cidr": "10.77.0.0/24", "enable_dhcp": False}
    neutron.post("/v2.0/subnets", {"subnet": subnet})
    return net


def new_port(neutron, agent, network, instance: str, ip: str, groups: list[str] | None = None) -> dict:
    body = {"network_id": network["id"], "binding:host_id": agent.host, "device_owner": "compute:nova",
            "device_id": instance, "fixed_ips": [{"ip_address": ip}]}  # fmt: skip
    if groups is not None:
        body["security_groups"] = groups
    return neutron.post("/v2.0/ports", {"port": body})["port"]


def vif_of(port: dict, network: dict) -> network_model.VIF:
    """The VIF nova builds from a bound port (what the compute driver's plug_vifs receives)."""
    details = port["binding:vif_details"]
    net = network_model.Network(id=network["id"], bridge=details.get("bridge_name"), meta={"mtu": network["mtu"]})
    return network_model.VIF(id=port["id"], address=port["mac_address"], type=port["binding:vif_type"],
                             details=details, network=net, devname=("tap" + port["id"])[:14])  # fmt: skip


def status(neutron, port: dict) -> str:
    return neutron.get(f"/v2.0/ports/{port['id']}")["port"]["status"]


def link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def test_plugged_port_goes_active_with_firewall_flows_and_qos(ovs_sandbox, neutron, agent, host, conf, network):
    adapter, devices = host
    group = neutron.post("/v2.0/security-groups", {"security_group": {"name": "ssh-2222"}})["security_group"]
    rule = {"security_group_id": group["id"], "direction": "ingress", "protocol": "tcp", "ethertype": "IPv4",
            "port_range_min": 2222, "port_range_max": 2222}  # fmt: skip
    neutron.post("/v2.0/security-group-rules", {"security_group_rule": rule})
    instance = str(uuid.uuid4())
    port = new_port(neutron, agent, network, instance, "10.77.0.5", [group["id"]])
    assert port["binding:vif_type"] == "ovs", port
    vif = vif_of(port, network)
    new_lpar(adapter, "ovs", instance_uuid=instance)
    compute = _compute_driver(adapter)
    server = types.SimpleNamespace(uuid=instance, name="ovs-e2e")
    compute.plug_vifs(server, [vif])

    dev = vif["devname"]
    ids = ovs_sandbox.vsctl("get", "Interface", dev, "external_ids")
    for expected in (f'iface-id="{port["id"]}"', f'attached-mac="{port["mac_address"]}"', f'vm-uuid="{instance}"',
                     "iface-status=active"):  # fmt: skip
        assert expected in ids
    wait_for(lambda: status(neutron, port) == "ACTIVE", f"port {port['id']} ACTIVE", timeout=60)

    ofport = int(ovs_sandbox.vsctl("get", "Interface", dev, "ofport"))
    flows = wait_for(lambda: _flows_with(ovs_sandbox, "tp_dst=2222"), "the SG rule's OpenFlow flow", timeout=30)
    assert f"reg5=0x{ofport:x}" in flows  # the openvswitch firewall's per-port flows

    policy = neutron.post("/v2.0/qos/policies", {"policy": {"name": "limit-3000"}})["policy"]
    neutron.post(f"/v2.0/qos/policies/{policy['id']}/bandwidth_limit_rules",
                 {"bandwidth_limit_rule": {"max_kbps": 3000, "max_burst_kbps": 300, "direction": "egress"}})  # fmt: skip
    neutron.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": policy["id"]}})
    wait_for(lambda: ovs_sandbox.vsctl("get", "Interface", dev, "ingress_policing_rate") == "3000",
             "QoS bandwidth limit on the trunk's OVS interface", timeout=30)  # fmt: skip

    # A NovaLink reboot loses the device; nova's plug_vifs on host start brings it back.
    assert dev in devices.reboot() and not link_exists(dev)
    compute.plug_vifs(server, [vif])
    assert link_exists(dev)
    assert port["id"] in ovs_sandbox.vsctl("get", "Interface", dev, "external_ids:iface-id")
    wait_for(lambda: status(neutron, port) == "ACTIVE" and _ofport(ovs_sandbox, dev) > 0, "port ACTIVE after re-plug")

    compute.unplug_vifs(server, [vif])
    assert not link_exists(dev) and dev not in ovs_sandbox.vsctl("list-ports", "br-int").split()
    wait_for(lambda: status(neutron, port) == "DOWN", f"port {port['id']} DOWN after unplug", timeout=60)


def _compute_driver(adapter):
    """The PowerVM compute driver on this session (init_host's connection is covered by nova's harness)."""
    from powervm_openstack.compute.driver import PowerVMDriver

    compute = PowerVMDriver(virtapi=None)
    compute.adapter = adapter
    return compute


def _flows_with(sandbox: OvsSandbox, text: str) -> str | None:
    flows = sandbox.ofctl_flows("br-int")
    return flows if text in flows else None


def _ofport(sandbox: OvsSandbox, dev: str) -> int:
    try:
        return int(sandbox.vsctl("get", "Interface", dev, "ofport"))
    except (RuntimeError, ValueError):
        return -1


def test_partitions_ping_through_br_int_unless_the_group_forbids_icmp(neutron, agent, host, conf, network):
    adapter, devices = host
    allow = _group(neutron, "icmp-in", {"protocol": "icmp"})
    deny = _group(neutron, "no-icmp", {"protocol": "tcp", "port_range_min": 2222, "port_range_max": 2222})
    plugged = []
    for ip in ("10.77.0.21", "10.77.0.22"):
        instance = str(uuid.uuid4())
        port = new_port(neutron, agent, network, instance, ip, [allow["id"]])
        vif = vif_of(port, network)
        lpar = new_lpar(adapter, "ping")
        driver_for(adapter, conf, vif, instance).plug(lpar.uuid, vif)
        netns = devices.guest_netns(lpar.id)
        dev = next(d for d in devices.devices.values() if d.name == vif["devname"])
        assert dev.guest_netns == netns  # the partition's end of the trunk, with the port's MAC
        subprocess.run(["ip", "-n", netns, "addr", "add", f"{ip}/24", "dev", dev.peer], check=True)
        plugged.append((port, vif, lpar, netns))
    for port, *_ in plugged:
        wait_for(lambda port=port: status(neutron, port) == "ACTIVE", f"port {port['id']} ACTIVE", timeout=60)
    source = plugged[0][3]
    wait_for(lambda: _ping(source, "10.77.0.22"), "ping between the partitions through br-int", timeout=30)

    for port, *_ in plugged:
        neutron.put(f"/v2.0/ports/{port['id']}", {"port": {"security_groups": [deny["id"]]}})
    wait_for(lambda: not _ping(source, "10.77.0.22"), "ICMP blocked by a group without an ICMP rule", timeout=30)
    assert not _ping(source, "10.77.0.22")
    for port, vif, lpar, _ in plugged:
        driver_for(adapter, conf, vif, port["device_id"]).unplug(lpar.uuid, vif)


def _group(neutron, name: str, rule: dict) -> dict:
    group = neutron.post("/v2.0/security-groups", {"security_group": {"name": name}})["security_group"]
    body = {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", **rule}
    neutron.post("/v2.0/security-group-rules", {"security_group_rule": body})
    return group


def _ping(netns: str, ip: str) -> bool:
    argv = ["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "1", ip]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0
