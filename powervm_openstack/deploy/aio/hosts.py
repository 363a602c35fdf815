"""The cloud's NovaLink hosts: each a simulator with a managed system of its own, its nova-compute and agents.

Host 1 is ``novalink-aio``, its files where a single-host cloud has always had them (``novalink/``,
``agents/``, ``nova/``). Host k > 1 is ``novalink-aio-<k>`` under ``host-<k>/``: the same topology
with another serial number (so another machine type-model-serial, system name, NovaLink partition
name, enclosure and IP addresses), so nova sees a distinct hypervisor and every PowerVM UUID on it
(derived from the serial) differs from host 1's, as on two real POWER servers.

Every host's topology names the same SSP (``ssp1`` of ``cluster1``); on real hosts whose VIOSes
are nodes of one cluster each sees every logical unit. Each simulator keeps its own store, so
:func:`link_ssp_peers` links the simulators both ways (``POST /sim/ssp/peers``, see the simulator's
``model/ssp_cluster.py``) for a cloud on shared storage: a boot disk made on one host can then be
mapped on another (cold migration and resize across hosts).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import requests
import yaml

from powervm_openstack.deploy.aio import compute, network
from powervm_openstack.deploy.aio.base import Proc

HOST_NAME = "novalink-aio"
MAX_HOSTS = 8


def host_name(index: int) -> str:
    """``novalink-aio`` for host 1, ``novalink-aio-<k>`` for host k."""
    return HOST_NAME if index == 1 else f"{HOST_NAME}-{index}"


def check_count(value: object) -> int:
    """The number of hosts as an int; raise ValueError naming the value and what is allowed."""
    try:
        count = int(str(value))
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_HOSTS or str(value).strip() != str(count):
        raise ValueError(
            f"--hosts {value!r}: the number of NovaLink hosts must be a whole number from 1 to {MAX_HOSTS}"
        )
    return count


def host_topology(source: Path, run_dir: Path, index: int = 1) -> Path:
    """``source`` without its client partitions (for host k > 1 with its own serial), written to ``run_dir``.

    nova-compute refuses to start as a new service on a host whose driver lists partitions
    already (it suspects a wrong database); the cloud's hosts start with NovaLink and the VIOSes only.
    """
    text = source.read_text()
    data = yaml.safe_load(text) or {}
    if index > 1:
        old = str(data["system"]["serial"])
        new = f"{old[:5]}{index:02d}"
        # Location codes carry the enclosure serial (U78D3.001.WZS<last 4 of the serial>-P1-C6).
        data = yaml.safe_load(text.replace(f"WZS{old[-4:]}", f"WZS{new[-4:]}"))
        _distinct_system(data, new, index)
    data.pop("lpars", None)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "novalink-topology.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _distinct_system(data: dict[str, Any], serial: str, index: int) -> None:
    system = data["system"]
    system.update(serial=serial, name=f"Server-{system['machine_type']}-{system['model']}-SN{serial}")
    system.pop("enclosure", None)  # the default follows the serial
    mgmt = data.setdefault("management_partition", {})
    mgmt["name"] = f"novalink_{serial}"
    for part, key in [(system, "primary_ip"), (mgmt, "rmc_ip")] + [(v, "rmc_ip") for v in data.get("vioses") or []]:
        if part.get(key):
            octets = str(part[key]).split(".")
            octets[2] = str((int(octets[2]) + index - 1) % 256)
            part[key] = ".".join(octets)


def link_ssp_peers(urls: list[str]) -> list[tuple[str, str]]:
    """Make every simulator at ``urls`` a peer of every other (both ways); return the links made.

    :raises requests.HTTPError: a simulator refused a link (its reply names the bad URL).
    """
    links = [(here, there) for here in urls for there in urls if here != there]
    for here, there in links:
        reply = requests.post(f"{here}/sim/ssp/peers", json={"url": there}, timeout=30)
        reply.raise_for_status()
    return links


class NovaLinkHost:
    """One host: :meth:`start_simulator` first, :meth:`start_services` once neutron runs; procs in :attr:`procs`."""

    def __init__(self, index: int, run_dir: Path) -> None:
        self.index = index
        self.name = host_name(index)
        self.dir = run_dir if index == 1 else run_dir / f"host-{index}"
        self.sim: Any = None
        self.topology: Path | None = None
        self.powervm_conf: Path | None = None
        self.procs: list[Proc] = []

    def _add(self, proc: Proc) -> Proc:
        proc = dataclasses.replace(proc, host=self.name)
        self.procs.append(proc)
        return proc

    def start_simulator(self, source: Path, *args: str) -> Proc:
        """The simulator with this host's topology, state and log in ``<host dir>/novalink``; ``args`` to it."""
        self.topology = host_topology(source, self.dir, self.index)
        self.sim, proc = network.start_simulator(self.dir, self.topology, *args)
        return self._add(proc)

    def compute_service(self, controller: compute.Nova) -> compute.Nova:
        """The nova files nova-compute reads: the controller's for host 1, ``<host dir>/nova/etc`` with this host name else."""
        if self.index == 1:
            return controller
        return compute.Nova(self.dir, controller.dbs, controller.transport_url, controller.keystone_url, self.name)

    def start_services(self, nova: compute.Nova, files: dict[str, str], neutron: Any) -> list[Proc]:
        """nova-compute reading ``files['nova-powervm.conf']``, and the agents that ``files`` configures, on this host."""
        self.powervm_conf = nova.write_powervm_conf(files["nova-powervm.conf"])
        started = [self._add(nova.start_compute(self.powervm_conf))]
        started += [self._add(p) for _, p in network.start_agents(self.dir, neutron, files, self.name, self.sim)]
        return started

    def missing(self, computes_up: set[str], hypervisors: set[str], agents_alive: set[tuple[str, str]]) -> list[Proc]:
        """This host's nova-compute and agent processes that do not yet report up (hosts and binaries seen by the APIs)."""
        waiting = []
        for proc in self.procs:
            if proc.service == "nova-compute" and (self.name not in computes_up or self.name not in hypervisors):
                waiting.append(proc)
            elif proc.service.endswith("-agent") and (proc.service, self.name) not in agents_alive:
                waiting.append(proc)
        return waiting
