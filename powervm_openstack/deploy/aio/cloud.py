"""Bring the all-in-one cloud up in order, wait for each part, describe it, and take it all down again.

:class:`Cloud` runs in one process (the ``up`` command's supervisor, or a test fixture): every
service is its child, started from the calling thread (children get SIGTERM when that thread
ends, so nothing outlives a crashed supervisor). Databases (``<run id>_keystone`` ...) and the
vhost (``<run id>_aio``) are private to the run; :meth:`down` stops every process and drops them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from powervm_openstack.deploy import render, settings
from powervm_openstack.deploy.aio import catalog, compute, identity, image, network, novalink, placement
from powervm_openstack.deploy.aio.base import Proc
from powervm_openstack.deploy.child import ServiceStartError, stop_children
from powervm_openstack.deploy.services import ServiceRun
from powervm_openstack.simulator.topology import loader as topology_loader

COMPUTE_HOST = "novalink-aio"
STATE_FILE = "aio.json"


def _check_alive(proc: Proc) -> None:
    """Raise naming the service and its log if it exited or logged a CRITICAL error (nova may then hang on)."""
    if not proc.child.alive():
        raise ServiceStartError(f"{proc.service} exited during start-up; see {proc.child.log}")
    try:
        text = proc.child.log.read_text(errors="replace")
    except OSError:
        return
    critical = [line for line in text.splitlines() if " CRITICAL " in line]
    if critical:
        raise ServiceStartError(f"{proc.service} failed: {critical[0]}; see {proc.child.log}")


def host_topology(source: Path, run_dir: Path) -> Path:
    """``source`` without its client partitions, written to the run directory.

    nova-compute refuses to start as a new service on a host whose driver lists partitions
    already (it suspects a wrong database); the cloud's host starts with NovaLink and the VIOSes only.
    """
    data = yaml.safe_load(source.read_text()) or {}
    data.pop("lpars", None)
    path = run_dir / "novalink-topology.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Cloud:
    """One all-in-one cloud under ``work_root/<run id>``; :attr:`steps` holds ``(step, seconds)`` of :meth:`up`."""

    def __init__(self, work_root: Path | str, topology: Path | str | None = None) -> None:
        self.run = ServiceRun(Path(work_root).resolve())
        self.dir = self.run.work_dir
        self.topology = Path(topology or topology_loader.DEFAULT)
        self.procs: list[Proc] = []
        self.endpoints: dict[str, str] = {}
        self.steps: list[tuple[str, float]] = []
        self.keystone_url = ""
        self.sim: Any = None
        self.neutron: Any = None
        self._conn: Any = None

    @property
    def state_path(self) -> Path:
        return self.dir / STATE_FILE

    def _step(self, name: str, action: Callable[[], Any]) -> Any:
        started = time.monotonic()
        result = action()
        self.steps.append((name, time.monotonic() - started))
        return result

    def connection(self) -> Any:
        """The admin openstacksdk connection (made once)."""
        if self._conn is None:
            self._conn = catalog.connect(self.keystone_url)
        return self._conn

    def up(self, timeout: float = 240.0) -> Cloud:
        """Start everything and wait until compute and agents report up; on failure stop what started and raise."""
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self._up(timeout)
        except BaseException:
            self.down()
            raise
        self.write_state("up")
        return self

    def _up(self, timeout: float) -> None:
        self.write_state("starting")
        self.topology = host_topology(self.topology, self.dir)
        self.sim, proc = self._step(
            "simulator (NovaLink host)", lambda: network.start_simulator(self.dir, self.topology)
        )
        self.procs.append(proc)
        self.endpoints["novalink"] = self.sim.url
        transport_vhost, transport_url = self.run.create_vhost("aio")
        self._step("keystone", lambda: self._keystone())
        self._step("glance", lambda: self._wsgi("glance", "image", image.start, self.run.create_database("glance")))
        self._step("placement", lambda: self._wsgi("placement", "placement", placement.start,
                                                   self.run.create_database("placement")))  # fmt: skip
        dbs = compute.NovaDatabases(*(self.run.create_database(n) for n in ("nova_api", "nova_cell0", "nova")))
        nova = compute.Nova(self.dir, dbs, transport_url, self.keystone_url, COMPUTE_HOST)
        self._step("nova databases", nova.prepare)
        self._step("nova-api", lambda: self._nova_api(nova))
        self._step("neutron", lambda: self._neutron(transport_url, transport_vhost))
        files = render.render("compute", self.settings())
        powervm_conf = nova.write_powervm_conf(files["nova-powervm.conf"])
        self.procs += nova.start_services(powervm_conf)
        self.procs += [p for _, p in network.start_agents(self.dir, self.neutron, files, COMPUTE_HOST, self.sim)]
        self.write_state("starting")
        self._step("nova services and PowerVM agents up", lambda: self._wait_compute(timeout))
        self._step("flavors", lambda: catalog.create_flavors(self.connection()))

    def settings(self) -> settings.Settings:
        """The PowerVM settings of this cloud: the simulator as NovaLink, localdisk on its ``datavg``.

        ``sriov_physical_networks`` names every SR-IOV physical port of the host by its label and
        address, so nova-compute's ``[pci] device_spec`` tags each port's pseudo-VFs with its network.
        """
        rest = self.sim.rest_options()
        return settings.from_dict({"novalink": {**rest, "port": int(rest["port"])}, "agents": ["sea", "sriov"],
                                   "sriov_physical_networks": novalink.sriov_physical_networks(self.sim.url),
                                   "compute": {"disk_driver": "localdisk", "volume_group_name": "datavg"}})  # fmt: skip

    def restart(self, service: str) -> None:
        """Stop the process of ``service`` (e.g. ``nova-compute``) and start it again with the same command."""
        proc = next((p for p in self.procs if p.service == service), None)
        if proc is None:
            raise ValueError(
                f"no service {service!r} in this cloud; services: {', '.join(p.service for p in self.procs)}"
            )
        stop_children([proc.child])
        proc.child = proc.child.respawn()
        self.write_state("up")

    def _keystone(self) -> None:
        proc, self.keystone_url = identity.start(self.dir, self.run.create_database("keystone"))
        self.procs.append(proc)
        self.endpoints["identity"] = self.keystone_url
        catalog.create_service_users(self.connection())

    def _wsgi(self, name: str, kind: str, start: Callable[..., Proc], db_url: str) -> None:
        proc = start(self.dir, db_url, self.keystone_url)
        self.procs.append(proc)
        url = f"http://127.0.0.1:{proc.port}"
        catalog.register(self.connection(), name, kind, url)
        self.endpoints[kind] = url

    def _nova_api(self, nova: compute.Nova) -> None:
        proc, url = nova.start_api()
        self.procs.append(proc)
        catalog.register(self.connection(), "nova", "compute", url)
        self.endpoints["compute"] = url

    def _neutron(self, transport_url: str, vhost: str) -> None:
        drivers = network.mechanism_drivers(render.render("controller", self.settings()))
        physnets = network.physical_networks(self.topology)
        server = network.start_neutron(self.dir, self.run.create_database("neutron"), transport_url, vhost,
                                       self.run.rabbitmq, self.keystone_url, drivers, physnets)  # fmt: skip
        self.neutron = server
        for name, child in (("neutron-api", server._api), ("neutron-rpc-server", server._rpc)):
            self.procs.append(Proc(name, child, server.port if name == "neutron-api" else None))
        catalog.register(self.connection(), "neutron", "network", server.url)
        self.endpoints["network"] = server.url
        self._conn = None  # the next connection's token carries the complete catalog

    def _wait_compute(self, timeout: float) -> None:
        conn = self.connection()
        deadline = time.monotonic() + timeout
        missing: list[str] = []
        while time.monotonic() < deadline:
            for proc in self.procs:
                _check_alive(proc)
            up = {s.binary for s in conn.compute.services() if s.state == "up"}
            missing = [b for b in ("nova-conductor", "nova-scheduler", "nova-compute") if b not in up]
            if not list(conn.compute.hypervisors()):
                missing.append("hypervisor of nova-compute")
            alive = {a.binary for a in conn.network.agents(host=COMPUTE_HOST) if a.is_alive}
            missing += [p.service for p in self.procs if p.service.endswith("-agent") and p.service not in alive]
            if not missing:
                return
            time.sleep(1.0)
        logs = ", ".join(str(p.child.log) for p in self.procs if any(m.startswith(p.service) for m in missing))
        raise ServiceStartError(f"not up after {timeout:.0f} s: {', '.join(missing)}; see {logs or self.dir}")

    def status(self) -> list[dict[str, object]]:
        """One row per process: service, port, pid, log, and whether it still runs."""
        return [{**p.row(), "running": p.child.alive()} for p in self.procs]

    def write_state(self, phase: str, supervisor: int | None = None) -> None:
        state = {"phase": phase, "run_id": self.run.run_id, "dir": str(self.dir), "endpoints": self.endpoints,
                 "keystone_url": self.keystone_url, "services": self.status(),
                 "databases": list(self.run._databases), "vhosts": list(self.run._vhosts),
                 "steps": self.steps}  # fmt: skip
        if supervisor is not None:
            state["supervisor"] = supervisor
        elif self.state_path.exists():
            old = json.loads(self.state_path.read_text())
            if "supervisor" in old:
                state["supervisor"] = old["supervisor"]
        self.state_path.write_text(json.dumps(state, indent=1))

    def down(self) -> list[str]:
        """Stop every process (SIGTERM, SIGKILL after 25 s), drop the databases and the vhost; return problems."""
        children = [p.child for p in self.procs]
        if self.neutron is not None:
            self.neutron._take_children()
        stop_children(children)
        self.procs.clear()
        problems = self.run.close()
        if self.dir.exists():
            self.write_state("down")
        return problems
