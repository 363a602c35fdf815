"""The simulator and the PowerVM agents as their own processes, for the demo and the tests.

Each writes its output to a log file; ``stop`` sends SIGTERM and waits, ``kill`` is SIGKILL (a
crash: nothing gets to clean up).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests

from powervm_openstack.deploy.child import ChildProcess, free_port, stop_children
from powervm_openstack.deploy.neutron_config import IniSections, render_ini

SIM_USER = "admin"
SIM_PASSWORD = "admin"


class SimulatorProcess:
    """``powervm-sim serve`` on a free port, its state in ``work_dir/<name>.sqlite``."""

    def __init__(
        self,
        work_dir: Path,
        *args: str,
        name: str = "sim",
        state: Path | None = None,
        port: int | None = None,
        password: str = SIM_PASSWORD,
    ) -> None:
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = state or self.work_dir / f"{name}.sqlite"
        self.log_path = self.work_dir / f"{name}.log"
        self.args = ["--state", str(self.state), "--port", str(self.port), "--event-wait", "2", *args]
        self.child: ChildProcess | None = None

    def start(self, timeout: float = 30) -> SimulatorProcess:
        argv = [sys.executable, "-m", "powervm_openstack.simulator.cli", "serve", *self.args]
        # /usr/sbin: with --ovs-db the simulator runs ip and ovs-vsctl for the trunk devices
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "POWERVM_SIM_PASSWORD": self.password}
        self.child = ChildProcess("powervm-sim", argv, self.log_path, env, self.work_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise RuntimeError(f"powervm-sim exited; see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/sim/health", timeout=2).ok:
                    return self
            time.sleep(0.2)
        raise TimeoutError(f"powervm-sim did not answer on {self.url} within {timeout}s; see {self.log_path}")

    def rest_options(self) -> dict[str, str]:
        """The ``[powervm_rest]`` options that point an agent or the compute driver here."""
        return {"host": "127.0.0.1", "port": str(self.port), "protocol": "http",
                "user": SIM_USER, "password": self.password}  # fmt: skip

    def kill(self) -> None:
        if self.child:
            self.child.kill_group()

    def stop(self) -> None:
        if self.child:
            stop_children([self.child], timeout=15)


class AgentProcess:
    """A PowerVM network agent (``module`` has ``main``) reading neutron's files plus its own."""

    def __init__(
        self,
        module: str,
        work_dir: Path,
        neutron_config_files: Sequence[Path],
        host: str,
        rest: Mapping[str, str],
        options: IniSections | None = None,
        name: str = "agent",
    ) -> None:
        self.module = module
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.config_path = self.work_dir / f"{name}.ini"
        self.log_path = self.work_dir / f"{name}.log"
        sections: dict[str, dict[str, object]] = {
            "DEFAULT": {"host": host, "debug": "true"},
            "AGENT": {"report_interval": "2", "heal_and_optimize_interval": "600", "batch_window": "0.2"},
            "powervm_rest": dict(rest),
        }
        for section, values in (options or {}).items():
            sections.setdefault(section, {}).update(values)
        self.config_path.write_text(render_ini(sections))
        self.config_files = [*map(Path, neutron_config_files), self.config_path]
        self.child: ChildProcess | None = None

    def start(self) -> AgentProcess:
        argv = [sys.executable, "-c", f"import sys; from {self.module} import main; sys.exit(main())"]
        for path in self.config_files:
            argv += ["--config-file", str(path)]
        self.child = ChildProcess(self.module, argv, self.log_path, {"PATH": "/usr/bin:/bin"}, self.work_dir)
        return self

    def alive(self) -> bool:
        return bool(self.child and self.child.alive())

    def kill(self) -> None:
        if self.child:
            self.child.kill_group()

    def stop(self) -> None:
        if self.child:
            stop_children([self.child], timeout=20)
