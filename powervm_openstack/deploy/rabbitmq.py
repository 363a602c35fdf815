"""A running RabbitMQ broker: private vhosts for one run, managed with ``rabbitmqctl``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

from powervm_openstack.deploy.child import (
    ServiceUnavailable,
    port_is_open,
)
from powervm_openstack.deploy.naming import check_identifier


class RabbitMQ:
    """A local RabbitMQ broker, administered with ``rabbitmqctl`` (so the caller must be root)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5672,
        user: str = "guest",
        password: str = "guest",
        rabbitmqctl: str = "rabbitmqctl",
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.rabbitmqctl = rabbitmqctl

    @classmethod
    def from_env(cls) -> RabbitMQ:
        """Build from ``PVM_RABBIT_*``/``PVM_RABBITMQCTL`` environment variables (defaults: guest on localhost)."""
        return cls(
            host=os.environ.get("PVM_RABBIT_HOST", "127.0.0.1"),
            port=int(os.environ.get("PVM_RABBIT_PORT", "5672")),
            user=os.environ.get("PVM_RABBIT_USER", "guest"),
            password=os.environ.get("PVM_RABBIT_PASSWORD", "guest"),
            rabbitmqctl=os.environ.get("PVM_RABBITMQCTL", "rabbitmqctl"),
        )

    def transport_url(self, vhost: str) -> str:
        """Return the oslo.messaging transport URL for ``vhost``."""
        return (
            f"rabbit://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(vhost, safe='')}"
        )

    def _ctl(self, *args: str, timeout: float = 60.0) -> str:
        exe = shutil.which(self.rabbitmqctl) or (
            "/usr/sbin/rabbitmqctl" if Path("/usr/sbin/rabbitmqctl").exists() else None
        )
        if exe is None:
            raise ServiceUnavailable(f"{self.rabbitmqctl} not found; install rabbitmq-server (./run does)")
        proc = subprocess.run(
            [exe, "-q", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            raise ServiceUnavailable(
                f"rabbitmqctl {' '.join(args)} failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[:1000]}"
            )
        return proc.stdout

    def check(self, timeout: float = 5.0) -> None:
        """Raise :class:`ServiceUnavailable` unless the broker listens and ``rabbitmqctl`` can manage it."""
        if not port_is_open(self.host, self.port, timeout):
            raise ServiceUnavailable(
                f"RabbitMQ is not answering on {self.host}:{self.port}. "
                "`./run test` starts it; or run `rabbitmq-server -detached`."
            )
        self._ctl("list_vhosts", timeout=30)

    def create_vhost(self, name: str) -> str:
        """Create vhost ``name``, give the user full permissions on it, and return its transport URL."""
        check_identifier(name)
        if name not in self.list_vhosts():
            self._ctl("add_vhost", name)
        self._ctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")
        return self.transport_url(name)

    def delete_vhost(self, name: str) -> None:
        """Delete vhost ``name`` and everything in it; a missing vhost is not an error."""
        check_identifier(name)
        if name in self.list_vhosts():
            self._ctl("delete_vhost", name)

    def list_vhosts(self) -> list[str]:
        """Return the names of all vhosts."""
        return [row["name"] for row in json.loads(self._ctl("list_vhosts", "--formatter", "json", "name"))]

    def close_connections(self, vhost: str) -> int:
        """Close every client connection to ``vhost`` (what clients see when the broker restarts)."""
        out = self._ctl("list_connections", "--no-table-headers", "pid", "vhost")
        count = 0
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[1] == vhost:
                self._ctl("close_connection", fields[0], "resilience test: simulated broker restart")
                count += 1
        return count

    def queue_consumers(self, vhost: str) -> dict[str, int]:
        """Return ``{queue name: consumer count}`` for every queue in ``vhost``."""
        out = self._ctl("list_queues", "-p", vhost, "--formatter", "json", "name", "consumers")
        return {row["name"]: int(row["consumers"]) for row in json.loads(out)}
