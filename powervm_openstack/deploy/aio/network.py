"""Neutron (API and RPC server, ML2 with the PowerVM drivers), the simulator as the NovaLink host, and the agents.

The ML2 mechanism drivers and the agents' files are rendered from the project's settings model
(``deploy.render``); the VLAN ranges come from the simulator topology's physical networks: its one
network bridge serves ``default`` (the SEA agent's rule for an empty ``bridge_mappings``) and each
SR-IOV port label is a physical network of its own.
"""

from __future__ import annotations

import configparser
from pathlib import Path

import yaml

from powervm_openstack.deploy.aio.base import Proc, authtoken, password_auth
from powervm_openstack.deploy.neutron_server import NeutronServer
from powervm_openstack.deploy.processes import AgentProcess, SimulatorProcess
from powervm_openstack.deploy.rabbitmq import RabbitMQ
from powervm_openstack.network.bridges import DEFAULT_PHYSNET

VLAN_RANGE = (100, 3999)
AGENT_MODULES = {"sea": "powervm_openstack.network.agent.sea", "sriov": "powervm_openstack.network.agent.sriov"}


def physical_networks(topology: Path) -> list[str]:
    """The physical networks the topology offers: ``default`` for its bridge, then its SR-IOV port labels."""
    data = yaml.safe_load(topology.read_text()) or {}
    names = [DEFAULT_PHYSNET] if data.get("network_bridges") else []
    for adapter in data.get("sriov_adapters") or []:
        for port in adapter.get("ports") or []:
            if port.get("label"):
                names.append(str(port["label"]))
    return list(dict.fromkeys(names))


def start_simulator(root: Path, topology: Path, *args: str) -> tuple[SimulatorProcess, Proc]:
    """``powervm-sim serve`` with ``topology``, its state in ``root/novalink`` and ``args`` (``--ovs-db``)."""
    # Disks mapped to NovaLink (snapshots) appear as files there, as nova-compute reads them: see compute.py.
    devices = root / "novalink" / "dev"
    sim = SimulatorProcess(root / "novalink", "--topology", str(topology), "--mgmt-device-dir", str(devices), *args,
                           name="powervm-sim").start()  # fmt: skip
    assert sim.child is not None
    return sim, Proc("powervm-sim", sim.child, sim.port)


def mechanism_drivers(controller_files: dict[str, str]) -> list[str]:
    """``[ml2] mechanism_drivers`` of the rendered ``ml2_conf_powervm.ini``."""
    parser = configparser.ConfigParser()
    parser.read_string(controller_files["ml2_conf_powervm.ini"])
    return [d.strip() for d in parser["ml2"]["mechanism_drivers"].split(",") if d.strip()]


def start_neutron(root: Path, db_url: str, transport_url: str, vhost: str, rabbitmq: RabbitMQ,
                  keystone_url: str, drivers: list[str], physnets: list[str]) -> NeutronServer:  # fmt: skip
    """API plus RPC server with keystone auth, nova notifications and VLAN ranges for ``physnets``."""
    low, high = VLAN_RANGE
    extra_conf = {
        "DEFAULT": {"auth_strategy": "keystone", "notify_nova_on_port_status_changes": True,
                    "notify_nova_on_port_data_changes": True, "use_stderr": True},
        "nova": password_auth(keystone_url, "neutron") | {"username": "nova"},
        **authtoken(keystone_url, "neutron"),
    }  # fmt: skip
    extra_ml2 = {"ml2_type_vlan": {"network_vlan_ranges": ",".join(f"{p}:{low}:{high}" for p in physnets)}}
    server = NeutronServer(root / "neutron", db_url, transport_url, mechanism_drivers=drivers, extra_conf=extra_conf,
                           extra_ml2=extra_ml2, rabbitmq=rabbitmq, vhost=vhost)  # fmt: skip
    return server.start()


def start_agents(root: Path, server: NeutronServer, compute_files: dict[str, str], host: str,
                 sim: SimulatorProcess) -> list[tuple[AgentProcess, Proc]]:  # fmt: skip
    """The agents whose files the settings model rendered (``powervm-<agent>-agent.ini``), on ``host``."""
    started = []
    for agent, module in AGENT_MODULES.items():
        name = f"powervm-{agent}-agent"
        text = compute_files.get(f"{name}.ini")
        if text is None:
            continue
        work = root / "agents"
        work.mkdir(parents=True, exist_ok=True)
        rendered = work / f"{name}-rendered.ini"
        rendered.write_text(text)
        rendered.chmod(0o600)
        proc = AgentProcess(module, work, [*server.config_files, rendered], host, sim.rest_options(), name=name)
        proc.start()
        assert proc.child is not None
        started.append((proc, Proc(name, proc.child)))
    return started
