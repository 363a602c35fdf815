"""The optional Open vSwitch part of the all-in-one cloud (``Cloud(ovs=True)``, ``up --ovs``).

What a NovaLink partition runs for the ``ovs`` VIF driver (``docs/ovs.md``): a private Open vSwitch
(ovsdb-server and ovs-vswitchd with the userspace ``netdev`` datapath, as this machine's kernel has
no openvswitch module; database, sockets and logs under ``<run dir>/ovs``, nothing in /etc or
/var/run) and the real neutron Open vSwitch agent (``openvswitch`` firewall) on the compute host.
The simulator gets ``--ovs-db``, so the trunk adapters the driver creates become veth devices on
br-int. The agent maps physical network :data:`PHYSNET` (bridge :data:`PHYS_BRIDGE`) which the SEA
agent does not: a flat network there is bound by the ``openvswitch`` mechanism driver, a VLAN
network on ``default`` still by ``pvm_sea``.

Only one netdev ovs-vswitchd can run per network namespace (its ``ovs-netdev`` and bridge devices
are global), so the switch holds :data:`LOCK` (shared with the OVS test sandboxes) while it runs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sysconfig
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from powervm_openstack.deploy.aio.base import Proc
from powervm_openstack.deploy.child import ChildProcess, ServiceStartError, free_port, stop_children
from powervm_openstack.deploy.neutron_config import render_ini

LOCK = Path("/tmp/powervm-openstack-ovs-sandbox.lock")
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
PHYSNET = "ovsnet"
PHYS_BRIDGE = "br-ovsnet"
AGENT = "neutron-openvswitch-agent"
TOOLS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl")
PRIVSEP_SECTIONS = ("privsep", "privsep_ovs_vsctl", "privsep_namespace", "privsep_conntrack", "privsep_link",
                    "privsep_dhcp_release")  # fmt: skip


class OpenVSwitch:
    """ovsdb-server + ovs-vswitchd (netdev datapath) in ``work_dir``; :meth:`stop` removes bridges and daemons."""

    def __init__(self, work_dir: Path) -> None:
        self.dir = Path(work_dir)
        self.db = f"unix:{self.dir / 'db.sock'}"
        self.env = {**os.environ, **{v: str(self.dir) for v in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR")}}
        self._pidfiles: list[Path] = []
        self._lock_fd: int | None = None

    @staticmethod
    def check_installed() -> None:
        """Raise naming what is missing: the OVS tools (and the package with them) or root."""
        missing = [t for t in TOOLS if shutil.which(t) is None]
        if missing:
            raise ServiceStartError(f"Open vSwitch tools missing: {', '.join(missing)} "
                                    "(apt-get install openvswitch-switch)")  # fmt: skip
        if os.geteuid() != 0:
            raise ServiceStartError("the OVS part needs root (veth devices and the netdev datapath)")

    def run(self, *argv: str) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=60, check=False)
        if proc.returncode != 0:
            raise ServiceStartError(f"{' '.join(argv[:3])} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout.strip()

    def vsctl(self, *args: str) -> str:
        return self.run("ovs-vsctl", f"--db={self.db}", "--timeout=20", *args)

    def start(self, lock_timeout: float = 600.0) -> OpenVSwitch:
        """Take the machine's OVS lock (waiting up to ``lock_timeout`` s), then start both daemons."""
        self.check_installed()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock(lock_timeout)
        conf_db = self.dir / "conf.db"
        conf_db.unlink(missing_ok=True)
        self.run("ovsdb-tool", "create", str(conf_db), str(SCHEMA))
        self._daemon("ovsdb-server", str(conf_db), f"--remote=p{self.db}", f"--unixctl={self.dir}/ovsdb-server.ctl")
        self.vsctl("--no-wait", "init")
        self._daemon("ovs-vswitchd", self.db, f"--unixctl={self.dir}/ovs-vswitchd.ctl")
        return self

    def _lock(self, timeout: float) -> None:
        self._lock_fd = os.open(LOCK, os.O_CREAT | os.O_RDWR)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self._lock_fd)
                    self._lock_fd = None
                    raise ServiceStartError(f"another netdev Open vSwitch holds {LOCK} (one per machine) "
                                            f"for over {timeout:.0f} s") from None  # fmt: skip
                time.sleep(1.0)

    def _daemon(self, name: str, *argv: str) -> None:
        pid = self.dir / f"{name}.pid"
        self.run(name, *argv, f"--pidfile={pid}", f"--log-file={self.dir / name}.log", "--detach", "-vconsole:off")
        self._pidfiles.append(pid)

    def add_bridge(self, name: str) -> None:
        self.vsctl("--may-exist", "add-br", name, "--", "set", "Bridge", name, "datapath_type=netdev")

    def status(self) -> list[dict[str, object]]:
        """Rows as the cloud's ``status`` has them (the daemons detach: they are not children)."""
        rows = []
        for pidfile in self._pidfiles:
            pid = _read_pid(pidfile)
            if pid is not None:
                rows.append({"service": pidfile.stem, "port": None, "pid": pid,
                             "log": str(self.dir / f"{pidfile.stem}.log"), "running": _alive(pid)})  # fmt: skip
        return rows

    def stop(self) -> None:
        """Delete the bridges (else vswitchd leaves tap devices), kill the daemons newest first, release the lock."""
        if self._pidfiles:
            try:
                for bridge in self.vsctl("list-br").split():
                    self.vsctl("--if-exists", "del-br", bridge)
            except ServiceStartError:
                pass
        for pidfile in reversed(self._pidfiles):
            kill_pidfile(pidfile)
        if self._pidfiles:
            subprocess.run(["ip", "link", "del", "ovs-netdev"], capture_output=True, check=False)
        self._pidfiles.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def agent_sections(switch: OpenVSwitch, work: Path, host: str, mappings: Mapping[str, str], helper: str,
                   firewall_driver: str) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``openvswitch_agent.ini`` as on a NovaLink partition: netdev br-int, no sudo (privsep runs ``helper``)."""
    return {
        "DEFAULT": {"host": host, "state_path": str(work / "state"), "use_stderr": True},
        "oslo_concurrency": {"lock_path": str(work / "lock")},
        "agent": {"root_helper": "", "root_helper_daemon": "", "tunnel_types": "", "extensions": "qos"},
        "ovs": {"integration_bridge": "br-int", "datapath_type": "netdev", "ovsdb_connection": switch.db,
                "of_listen_port": free_port(), "bridge_mappings": ",".join(f"{k}:{v}" for k, v in mappings.items())},
        "securitygroup": {"firewall_driver": firewall_driver, "enable_security_group": True},
        **{name: {"helper_command": helper} for name in PRIVSEP_SECTIONS},
    }  # fmt: skip


class OvsPart:
    """The switch and the agent of one cloud; the agent's :class:`Proc` is the one in the cloud's list."""

    def __init__(self, work_dir: Path) -> None:
        self.dir = Path(work_dir)
        self.switch = OpenVSwitch(self.dir)
        self.proc: Proc | None = None
        self._agent_args: tuple[Any, str] | None = None

    def start_switch(self) -> list[str]:
        """Start Open vSwitch with br-int and the physical bridge; return the simulator's extra arguments."""
        self.switch.start()
        for bridge in ("br-int", PHYS_BRIDGE):
            self.switch.add_bridge(bridge)
        return ["--ovs-db", self.switch.db]

    def start_agent(self, neutron: Any, host: str) -> Proc:
        """The neutron OVS agent on ``host`` reading the server's ``neutron.conf`` (transport) and its own ini."""
        self._agent_args = (neutron, host)
        self.proc = Proc(AGENT, self._spawn_agent("openvswitch", {}))
        return self.proc

    def restart_agent(self, firewall_driver: str, env: Mapping[str, str] | None = None) -> None:
        """Restart the agent with ``firewall_driver`` (``env`` added to its environment), in the same :class:`Proc`."""
        assert self.proc is not None, "the agent was not started"
        stop_children([self.proc.child], timeout=5)  # it may ignore SIGTERM: SIGKILL soon
        self.proc.child = self._spawn_agent(firewall_driver, env or {})

    def _spawn_agent(self, firewall_driver: str, env: Mapping[str, str]) -> ChildProcess:
        assert self._agent_args is not None
        neutron, host = self._agent_args
        work = self.dir / "agent"
        work.mkdir(parents=True, exist_ok=True)
        ini = work / "openvswitch_agent.ini"
        config = [str(neutron.config_files[0]), str(ini)]
        scripts = Path(sysconfig.get_path("scripts"))
        helper = f"{scripts / 'privsep-helper'} " + " ".join(f"--config-file {f}" for f in config)
        sections = agent_sections(self.switch, work, host, {PHYSNET: PHYS_BRIDGE}, helper, firewall_driver)
        ini.write_text(render_ini(sections))
        argv = [str(scripts / AGENT), *[a for f in config for a in ("--config-file", f)]]
        return ChildProcess(AGENT, argv, work / f"{AGENT}.log", {**self.switch.env, **env}, work)

    def stop(self) -> None:
        """Stop the agent (if the cloud has not) and the switch."""
        if self.proc is not None and self.proc.child.alive():
            stop_children([self.proc.child], timeout=5)
        self.switch.stop()


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_pidfile(pidfile: Path, timeout: float = 5.0) -> None:
    """SIGTERM the process named in ``pidfile``, SIGKILL it after ``timeout`` s; nothing when there is none."""
    pid = _read_pid(pidfile)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
