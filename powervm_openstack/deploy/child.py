"""Child processes with their output in a log file, ports, and start-up errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    """A service that must already be running (MariaDB, RabbitMQ) cannot be used."""


class ServiceStartError(RuntimeError):
    """A service started by this module did not come up; the message carries its log tail."""


def port_is_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Return True when a TCP connection to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (the caller must cope with a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"--- last {lines} lines of {path} ---\n{tail}"


class ChildProcess:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.log = log
        self._spawn = (argv, env, cwd)
        # setpriv --pdeathsig makes the child get SIGTERM if the thread that started it dies, so a
        # killed test run does not leave a neutron server behind on a shared machine.
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                prefix + argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )

    def respawn(self) -> ChildProcess:
        """A new child with the same command, environment, directory and log (this one must have ended)."""
        argv, env, cwd = self._spawn
        return ChildProcess(self.name, argv, self.log, env, cwd)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def terminate(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)

    def kill_group(self) -> None:
        # The group was created by start_new_session for this child only, so it holds just its workers.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def stop_children(children: Sequence[ChildProcess], timeout: float = 25.0) -> None:
    """SIGTERM all children at once, wait up to ``timeout`` s for them (and their workers), then SIGKILL."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            child.popen.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        while child._group_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        if child.alive() or child._group_alive():
            child.kill_group()
