"""Bring the all-in-one cloud up in order, wait for each part, describe it, and take it all down again.

:class:`Cloud` runs in one process (the ``up`` command's supervisor, or a test fixture): every
service is its child, started from the calling thread (children get SIGTERM when that thread
ends, so nothing outlives a crashed supervisor). Databases (``<run id>_keystone`` ...) and the
vhost (``<run id>_aio``) are private to the run; :meth:`down` stops every process and drops them.
With ``hosts=N`` one controller serves N simulated NovaLink hosts (:mod:`.hosts`); ``cloud.sim`` and
:meth:`Cloud.settings` are host 1's.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from powervm_openstack.deploy import render, settings
from powervm_openstack.deploy.aio import catalog, compute, identity, image, network, novalink, placement
from powervm_openstack.deploy.aio import ovs as aio_ovs
from powervm_openstack.deploy.aio import telemetry as telemetry_mod
from powervm_openstack.deploy.aio.base import Proc
from powervm_openstack.deploy.aio.hosts import HOST_NAME, NovaLinkHost, check_count, link_ssp_peers
from powervm_openstack.deploy.child import ServiceStartError, stop_children
from powervm_openstack.deploy.services import ServiceRun
from powervm_openstack.simulator.topology import loader as topology_loader

COMPUTE_HOST = HOST_NAME  # host 1
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


class Cloud:
    """One all-in-one cloud under ``work_root/<run id>``; :attr:`steps` holds ``(step, seconds)`` of :meth:`up`.

    ``ovs=True`` adds Open vSwitch and the neutron OVS agent on host 1 (``aio/ovs.py``).
    """

    def __init__(self, work_root: Path | str, topology: Path | str | None = None, hosts: int = 1,
                 telemetry: bool = False, ovs: bool = False, shared_storage: bool = False) -> None:  # fmt: skip
        """``hosts``: how many NovaLink hosts (1 to :data:`~.hosts.MAX_HOSTS`; ValueError naming the value else).

        ``shared_storage``: boot disks in the SSP every host's VIOSes share (``disk_driver = ssp``, the
        simulators linked as one cluster: :func:`~.hosts.link_ssp_peers`), so servers can live-migrate,
        cold-migrate and resize between the hosts; else localdisk on each host's ``datavg``.
        """
        count = check_count(hosts)
        self.run = ServiceRun(Path(work_root).resolve())
        self.dir = self.run.work_dir
        self.hosts = [NovaLinkHost(i, self.dir) for i in range(1, count + 1)]
        self.ovs = aio_ovs.OvsPart(self.dir / "ovs") if ovs else None  # Open vSwitch + its agent (deploy/aio/ovs.py)
        self.topology = Path(topology or topology_loader.DEFAULT)
        self.shared_storage = shared_storage
        self.procs: list[Proc] = []
        self.endpoints: dict[str, str] = {}
        self.steps: list[tuple[str, float]] = []
        self.keystone_url = ""
        self.sim: Any = None  # host 1's simulator
        self.neutron: Any = None
        self._conn: Any = None
        # optional: ceilometer-polling with the PowerVM pollsters on the compute node (aio.telemetry)
        self.telemetry = telemetry_mod.Telemetry(self.dir, COMPUTE_HOST) if telemetry else None

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
        source = self.topology
        ovs_args = self._step("Open vSwitch", self.ovs.start_switch) if self.ovs else []
        for host in self.hosts:
            sim_args = ovs_args if host.index == 1 else []
            self.procs.append(
                self._step(
                    f"simulator (NovaLink host {host.name})", lambda h=host, a=sim_args: h.start_simulator(source, *a)
                )
            )
            self.endpoints["novalink" if host.index == 1 else f"novalink-{host.index}"] = host.sim.url
        self.sim, self.topology = self.hosts[0].sim, self.hosts[0].topology
        if self.shared_storage and len(self.hosts) > 1:  # one SSP cluster seen from every host
            self._step("SSP cluster links", lambda: link_ssp_peers([h.sim.url for h in self.hosts]))
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
        self.procs += nova.start_controller()
        for host in self.hosts:
            files = render.render("compute", self.settings(host.sim))
            self.procs += host.start_services(host.compute_service(nova), files, self.neutron)
            if self.telemetry is not None and host is self.hosts[0]:
                polling = functools.partial(self.telemetry.start, files, host.sim.url)
                self.procs.append(self._step("ceilometer-polling", polling))
        if self.ovs:
            self.procs.append(self.ovs.start_agent(self.neutron, COMPUTE_HOST))
        self.write_state("starting")
        self._step("nova services and PowerVM agents up", lambda: self._wait_compute(timeout))
        self._step("flavors", lambda: catalog.create_flavors(self.connection()))

    def settings(self, sim: Any = None) -> settings.Settings:
        """The PowerVM settings of host 1 (of the host whose simulator is ``sim``): localdisk on its ``datavg``,
        or with ``shared_storage`` the SSP of the topology's one cluster (``cluster1``, on every host).

        ``sriov_physical_networks`` names every SR-IOV physical port of the host by its label and
        address, so nova-compute's ``[pci] device_spec`` tags each port's pseudo-VFs with its network.
        """
        sim = sim or self.sim
        rest = sim.rest_options()
        extra = {"telemetry": self.telemetry.settings()} if self.telemetry is not None else {}
        disks = {"disk_driver": "ssp"} if self.shared_storage else {"disk_driver": "localdisk",
                                                                     "volume_group_name": "datavg"}  # fmt: skip
        return settings.from_dict({"novalink": {**rest, "port": int(rest["port"])}, "agents": ["sea", "sriov"],
                                   "ml2_mechanism_drivers": ["openvswitch"] if self.ovs else [],
                                   "sriov_physical_networks": novalink.sriov_physical_networks(sim.url),
                                   "compute": disks,
                                   **extra})  # fmt: skip

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
        physnets = network.physical_networks(self.topology) + ([aio_ovs.PHYSNET] if self.ovs else [])
        server = network.start_neutron(self.dir, self.run.create_database("neutron"), transport_url, vhost,
                                       self.run.rabbitmq, self.keystone_url, drivers, physnets)  # fmt: skip
        self.neutron = server
        for name, child in (("neutron-api", server._api), ("neutron-rpc-server", server._rpc)):
            self.procs.append(Proc(name, child, server.port if name == "neutron-api" else None))
        catalog.register(self.connection(), "neutron", "network", server.url)
        self.endpoints["network"] = server.url
        self._conn = None  # the next connection's token carries the complete catalog

    def _wait_compute(self, timeout: float) -> None:
        """Until conductor and scheduler are up and every host's nova-compute (with its hypervisor) and agents."""
        conn = self.connection()
        deadline = time.monotonic() + timeout
        missing: list[str] = []
        while time.monotonic() < deadline:
            for proc in self.procs:
                _check_alive(proc)
            up = {(s.binary, s.host) for s in conn.compute.services() if s.state == "up"}
            missing = [b for b in ("nova-conductor", "nova-scheduler") if b not in {binary for binary, _ in up}]
            hypervisors = {h.name for h in conn.compute.hypervisors()}
            agents = {(a.binary, a.host) for a in conn.network.agents() if a.is_alive}
            computes = {host for binary, host in up if binary == "nova-compute"}
            waiting = [p for host in self.hosts for p in host.missing(computes, hypervisors, agents)]
            missing += [f"{p.service} on {p.host}" for p in waiting]
            if not missing:
                return
            time.sleep(1.0)
        names = {m.split(" on ")[0] for m in missing}
        logs = ", ".join(str(p.child.log) for p in self.procs if p.service in names)
        raise ServiceStartError(f"not up after {timeout:.0f} s: {', '.join(missing)}; see {logs or self.dir}")

    def status(self) -> list[dict[str, object]]:
        """One row per process: service, port, pid, log, and whether it still runs."""
        rows = [{**p.row(), "running": p.child.alive()} for p in self.procs]
        return rows + (self.ovs.switch.status() if self.ovs else [])

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
        if self.ovs:
            self.ovs.stop()
        problems = self.run.close()
        if self.dir.exists():
            self.write_state("down")
        return problems
