"""Real MariaDB, RabbitMQ and neutron 29 services for the integration tests and the demo.

Everything a run creates carries a private run id (``pvm<pid>x<hex>``): its databases, RabbitMQ
vhosts and the work directory holding configuration and logs. Concurrent runs on the same machine
therefore never share state, and leftovers of runs whose process is gone can be swept safely.

The classes here are plain Python so that a script (the demo) can use them as well as the pytest
fixtures in ``tests/fixtures``:

* ``mariadb.MariaDB`` and ``rabbitmq.RabbitMQ`` talk to servers that are already running (``./run``
  starts them).
* ``neutron_server.NeutronServer`` writes neutron.conf/ml2_conf.ini, migrates a fresh database, and runs
  the API (``neutron.wsgi.api:application`` under gunicorn) and ``neutron-rpc-server`` as child processes.
* :class:`ServiceRun` (here) ties them together for one run and cleans up everything it created.

Connection settings come from the environment (``PVM_DB_HOST``, ``PVM_DB_PORT``, ``PVM_DB_USER``,
``PVM_DB_PASSWORD``, ``PVM_RABBIT_HOST``, ``PVM_RABBIT_PORT``, ``PVM_RABBIT_USER``,
``PVM_RABBIT_PASSWORD``, ``PVM_RABBITMQCTL``); the defaults match what ``./run`` sets up.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from powervm_openstack.deploy.child import (
    stop_children,
)
from powervm_openstack.deploy.mariadb import MariaDB
from powervm_openstack.deploy.naming import make_run_id, run_id_is_stale
from powervm_openstack.deploy.neutron_config import IniSections
from powervm_openstack.deploy.neutron_server import NeutronServer
from powervm_openstack.deploy.rabbitmq import RabbitMQ


def _freeze(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=list)


class ServiceRun:
    """The services of one run: private databases, vhosts and neutron servers, all cleaned up by :meth:`close`.

    Object names start with :attr:`run_id`; the work directory is ``work_root/run_id``. Neutron
    servers are cached by configuration, each with its own database and vhost.
    """

    def __init__(
        self,
        work_root: Path | str,
        run_id: str | None = None,
        mariadb: MariaDB | None = None,
        rabbitmq: RabbitMQ | None = None,
    ) -> None:
        self.run_id = run_id or make_run_id()
        self.work_root = Path(work_root)
        self.work_dir = self.work_root / self.run_id
        self.mariadb = mariadb or MariaDB.from_env()
        self.rabbitmq = rabbitmq or RabbitMQ.from_env()
        self._databases: list[str] = []
        self._vhosts: list[str] = []
        self._servers: dict[str, NeutronServer] = {}
        self._lock = threading.Lock()

    def create_database(self, suffix: str) -> str:
        """Create the empty database ``<run_id>_<suffix>`` and return its SQLAlchemy URL."""
        name = f"{self.run_id}_{suffix}"
        url = self.mariadb.create_database(name)
        self._databases.append(name)
        return url

    def create_vhost(self, suffix: str) -> tuple[str, str]:
        """Create the vhost ``<run_id>_<suffix>``; return ``(vhost, transport_url)``."""
        name = f"{self.run_id}_{suffix}"
        url = self.rabbitmq.create_vhost(name)
        self._vhosts.append(name)
        return name, url

    def neutron_server(
        self,
        mechanism_drivers: Sequence[str] = ("openvswitch",),
        extra_ml2: IniSections | None = None,
        extra_conf: IniSections | None = None,
        timeout: float = 180.0,
    ) -> NeutronServer:
        """Return a started :class:`NeutronServer` for this configuration, starting it on first use.

        Each distinct configuration gets its own work dir ``neutron-<n>``, database and vhost.
        """
        key = _freeze([list(mechanism_drivers), extra_ml2 or {}, extra_conf or {}])
        with self._lock:
            if key in self._servers:
                return self._servers[key]
            n = len(self._servers) + 1
            db_url = self.create_database(f"neutron{n}")
            vhost, transport_url = self.create_vhost(f"neutron{n}")
            server = NeutronServer(
                self.work_dir / f"neutron-{n}",
                db_url,
                transport_url,
                mechanism_drivers=mechanism_drivers,
                extra_ml2=extra_ml2,
                extra_conf=extra_conf,
                rabbitmq=self.rabbitmq,
                vhost=vhost,
            )
            server.start(timeout=timeout)
            self._servers[key] = server
            return server

    def close(self, keep_work_dir: bool = True) -> list[str]:
        """Stop all servers, drop the databases, delete the vhosts; return the problems met (if any).

        The work directory (configs and logs) is removed only when ``keep_work_dir`` is false.
        """
        problems: list[str] = []
        servers = list(self._servers.values())
        self._servers.clear()
        # Stopped together: the RPC servers' graceful shutdown takes up to ~20 s each.
        stop_children([child for server in servers for child in server._take_children()])
        for name in self._databases:
            try:
                self.mariadb.drop_database(name)
            except Exception as exc:
                problems.append(f"could not drop database {name}: {exc}")
        for name in self._vhosts:
            try:
                self.rabbitmq.delete_vhost(name)
            except Exception as exc:
                problems.append(f"could not delete vhost {name}: {exc}")
        self._databases.clear()
        self._vhosts.clear()
        if not keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
        return problems

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sweep_stale(mariadb: MariaDB | None, rabbitmq: RabbitMQ | None) -> list[str]:
    """Remove databases and vhosts left by runs whose process is gone; return what was removed.

    Only names starting with a run id (``pvm<pid>x<hex>``) whose pid no longer exists are touched, so
    concurrent runs are safe. Work directories are left alone: they hold the logs of failed runs.
    Errors are ignored: this is best-effort housekeeping.
    """
    removed: list[str] = []
    if mariadb is not None:
        try:
            for name in mariadb.list_databases():
                if run_id_is_stale(name):
                    mariadb.drop_database(name)
                    removed.append(f"database {name}")
        except Exception:
            pass
    if rabbitmq is not None:
        try:
            for name in rabbitmq.list_vhosts():
                if run_id_is_stale(name):
                    rabbitmq.delete_vhost(name)
                    removed.append(f"vhost {name}")
        except Exception:
            pass
    return removed
