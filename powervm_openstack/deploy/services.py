"""Real MariaDB, RabbitMQ and neutron 29 services for the integration tests and the demo.

Everything a run creates carries a private run id (``pvm<pid>x<hex>``): its databases, RabbitMQ
vhosts and the work directory holding configuration and logs. Concurrent runs on the same machine
therefore never share state, and leftovers of runs whose process is gone can be swept safely.

The classes here are plain Python so that a script (the demo) can use them as well as the pytest
fixtures in ``tests/fixtures``:

* :class:`MariaDB` and :class:`RabbitMQ` talk to servers that are already running (``./run`` starts them).
* :class:`NeutronServer` writes neutron.conf/ml2_conf.ini, migrates a fresh database, and runs the API
  (``neutron.wsgi.api:application`` under gunicorn) and ``neutron-rpc-server`` as child processes.
* :class:`ServiceRun` ties them together for one run and cleans up everything it created.

Connection settings come from the environment (``PVM_DB_HOST``, ``PVM_DB_PORT``, ``PVM_DB_USER``,
``PVM_DB_PASSWORD``, ``PVM_RABBIT_HOST``, ``PVM_RABBIT_PORT``, ``PVM_RABBIT_USER``,
``PVM_RABBIT_PASSWORD``, ``PVM_RABBITMQCTL``); the defaults match what ``./run`` sets up.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import requests

DEFAULT_DB_USER = "pvmtest"
DEFAULT_DB_PASSWORD = "pvmtest"

# Values accepted in the extra configuration sections passed to NeutronServer.
IniValue = str | int | float | bool | Sequence[str]
IniSections = Mapping[str, Mapping[str, IniValue]]

_RUN_ID_RE = re.compile(r"^pvm(\d+)x[0-9a-f]{6}")


class ServiceUnavailable(RuntimeError):
    """A service that must already be running (MariaDB, RabbitMQ) cannot be used."""


class ServiceStartError(RuntimeError):
    """A service started by this module did not come up; the message carries its log tail."""


class NeutronHTTPError(RuntimeError):
    """A neutron REST call answered with a non-2xx status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]}")
        self.method = method
        self.url = url
        self.status = status
        self.body = body


def make_run_id() -> str:
    """Return a new run id, ``pvm<pid>x<6 hex digits>``, usable as a database and vhost name."""
    return f"pvm{os.getpid()}x{secrets.token_hex(3)}"


def run_id_is_stale(name: str) -> bool:
    """Tell whether ``name`` starts with a run id whose process no longer exists on this machine.

    Names that do not start with a run id are never stale.
    """
    match = _RUN_ID_RE.match(name)
    if not match:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"--- last {lines} lines of {path} ---\n{tail}"


class MariaDB:
    """A MariaDB/MySQL server reached over TCP with a user allowed to create and drop databases."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3306,
        user: str = DEFAULT_DB_USER,
        password: str = DEFAULT_DB_PASSWORD,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password

    @classmethod
    def from_env(cls) -> MariaDB:
        """Build from ``PVM_DB_*`` environment variables, defaulting to what ``./run`` sets up."""
        return cls(
            host=os.environ.get("PVM_DB_HOST", "127.0.0.1"),
            port=int(os.environ.get("PVM_DB_PORT", "3306")),
            user=os.environ.get("PVM_DB_USER", DEFAULT_DB_USER),
            password=os.environ.get("PVM_DB_PASSWORD", DEFAULT_DB_PASSWORD),
        )

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of ``database`` (``mysql+pymysql://user:pw@host:port/db``)."""
        return (
            f"mysql+pymysql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{database}"
        )

    def _connect(self, timeout: float = 10.0) -> Any:
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            connect_timeout=timeout,
            autocommit=True,
        )

    def check(self, timeout: float = 5.0) -> None:
        """Raise :class:`ServiceUnavailable` with the reason unless the server accepts our login."""
        if not port_is_open(self.host, self.port, timeout):
            raise ServiceUnavailable(
                f"MariaDB is not answering on {self.host}:{self.port}. "
                "`./run test` starts it; or start it yourself and rerun."
            )
        try:
            conn = self._connect(timeout)
        except Exception as exc:  # pymysql raises several unrelated classes here
            raise ServiceUnavailable(
                f"MariaDB on {self.host}:{self.port} refused user {self.user!r}: {exc}. "
                "`./run test` creates this user; or set PVM_DB_USER/PVM_DB_PASSWORD."
            ) from exc
        conn.close()

    def _execute(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (dropping any previous one) and return its URL."""
        _check_identifier(name)
        self._execute(f"DROP DATABASE IF EXISTS `{name}`")
        self._execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists."""
        _check_identifier(name)
        self._execute(f"DROP DATABASE IF EXISTS `{name}`")

    def list_databases(self) -> list[str]:
        """Return the names of all databases the user can see."""
        return [row[0] for row in self._execute("SHOW DATABASES")]


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
        _check_identifier(name)
        if name not in self.list_vhosts():
            self._ctl("add_vhost", name)
        self._ctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")
        return self.transport_url(name)

    def delete_vhost(self, name: str) -> None:
        """Delete vhost ``name`` and everything in it; a missing vhost is not an error."""
        _check_identifier(name)
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


def _check_identifier(name: str) -> None:
    # Names go into SQL and URLs unquoted, so keep them to a safe alphabet.
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
        raise ValueError(f"unsafe service object name {name!r}: use letters, digits and '_' (max 64)")


def render_ini(sections: Mapping[str, Mapping[str, IniValue]]) -> str:
    out: list[str] = []
    for section, options in sections.items():
        out.append(f"[{section}]")
        for key, value in options.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str | int | float):
                text = str(value)
            else:
                text = ",".join(str(v) for v in value)
            out.append(f"{key} = {text}".rstrip())
        out.append("")
    return "\n".join(out)


def _merge(base: dict[str, dict[str, IniValue]], extra: IniSections | None) -> dict[str, dict[str, IniValue]]:
    merged = {section: dict(options) for section, options in base.items()}
    for section, options in (extra or {}).items():
        merged.setdefault(section, {}).update(options)
    return merged


class ChildProcess:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.log = log
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


class NeutronClient:
    """A tiny JSON client for a noauth neutron API: every call returns the decoded body or raises.

    Paths are relative to the API root, e.g. ``client.get("/v2.0/networks")``. Non-2xx answers raise
    :class:`NeutronHTTPError` carrying the status and body.
    """

    def __init__(self, url: str, timeout: float = 60.0, project_id: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if project_id:
            self.session.headers["X-Project-Id"] = project_id

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.url + path
        resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if not 200 <= resp.status_code < 300:
            raise NeutronHTTPError(method, url, resp.status_code, resp.text)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` with query ``params``; return the decoded JSON body."""
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` as JSON to ``path``; return the decoded JSON body."""
        return self._request("POST", path, json=body)

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        """PUT ``body`` as JSON to ``path``; return the decoded JSON body."""
        return self._request("PUT", path, json=body)

    def delete(self, path: str) -> None:
        """DELETE ``path``; return None (neutron answers 204)."""
        self._request("DELETE", path)


_WSGI_WRAPPER = """\
# Generated by powervm_openstack.deploy.services: gunicorn's command line must not reach
# oslo.config, which parses sys.argv when neutron's WSGI module boots the API.
import sys

sys.argv = [sys.argv[0]]

from neutron.wsgi.api import application  # noqa: E402,F401
"""


class NeutronServer:
    """A real neutron 29 server (REST API under gunicorn plus ``neutron-rpc-server``) for one config.

    ``work_dir`` receives ``etc/neutron.conf``, ``etc/plugins/ml2/ml2_conf.ini``, a copy of the venv's
    ``api-paste.ini``, the state and lock directories and ``log/*.log``. ``database_url`` must name an
    empty database (:meth:`start` migrates it to head) and ``transport_url`` a RabbitMQ vhost that no
    other neutron server uses. ``extra_conf``/``extra_ml2`` are ``{section: {option: value}}`` merged
    over the defaults of neutron.conf/ml2_conf.ini (a given option replaces the default).

    After :meth:`start` returns, ``GET /v2.0/networks`` answers and the RPC server consumes the
    ``q-plugin`` and ``q-reports-plugin`` queues. :meth:`stop` ends both processes (and their
    workers). The processes get SIGTERM if the thread that started them exits, so start them from a
    thread that outlives their use (the main thread, normally).
    """

    def __init__(
        self,
        work_dir: Path | str,
        database_url: str,
        transport_url: str,
        *,
        mechanism_drivers: Sequence[str] = ("openvswitch",),
        extra_ml2: IniSections | None = None,
        extra_conf: IniSections | None = None,
        rabbitmq: RabbitMQ | None = None,
        vhost: str | None = None,
        bind_host: str = "127.0.0.1",
    ) -> None:
        self.work_dir = Path(work_dir)
        self.database_url = database_url
        self.transport_url = transport_url
        self.mechanism_drivers = tuple(mechanism_drivers)
        self.extra_ml2 = extra_ml2
        self.extra_conf = extra_conf
        self.rabbitmq = rabbitmq
        self.vhost = vhost
        self.bind_host = bind_host
        self.port: int | None = None
        self.etc_dir = self.work_dir / "etc"
        self.log_dir = self.work_dir / "log"
        self.neutron_conf = self.etc_dir / "neutron.conf"
        self.ml2_conf = self.etc_dir / "plugins" / "ml2" / "ml2_conf.ini"
        self.log_files: dict[str, Path] = {
            "db-manage": self.log_dir / "neutron-db-manage.log",
            "api": self.log_dir / "neutron-api.log",
            "api-access": self.log_dir / "neutron-api-access.log",
            "rpc": self.log_dir / "neutron-rpc-server.log",
        }
        self._api: ChildProcess | None = None
        self._rpc: ChildProcess | None = None
        self._client: NeutronClient | None = None

    # -- public attributes -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:40123`` (valid after :meth:`start`)."""
        if self.port is None:
            raise RuntimeError("NeutronServer.url is only known after start()")
        return f"http://{self.bind_host}:{self.port}"

    @property
    def config_files(self) -> list[Path]:
        """``[neutron.conf, ml2_conf.ini]``, in the order neutron's ``--config-file`` options take them."""
        return [self.neutron_conf, self.ml2_conf]

    @property
    def client(self) -> NeutronClient:
        """A :class:`NeutronClient` for :attr:`url`."""
        if self._client is None:
            self._client = NeutronClient(self.url)
        return self._client

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Shortcut for ``self.client.get``."""
        return self.client.get(path, params)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """Shortcut for ``self.client.post``."""
        return self.client.post(path, body)

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        """Shortcut for ``self.client.put``."""
        return self.client.put(path, body)

    def delete(self, path: str) -> None:
        """Shortcut for ``self.client.delete``."""
        self.client.delete(path)

    # -- life cycle --------------------------------------------------------------------------

    def write_config(self) -> list[Path]:
        """Write neutron.conf, ml2_conf.ini, api-paste.ini and the WSGI wrapper; return the config files."""
        for d in (self.ml2_conf.parent, self.log_dir, self.work_dir / "state", self.work_dir / "lock"):
            d.mkdir(parents=True, exist_ok=True)
        paste_src = Path(sys.prefix) / "etc" / "neutron" / "api-paste.ini"
        if not paste_src.exists():
            raise ServiceStartError(f"{paste_src} is missing: is neutron==29 installed in this venv?")
        shutil.copyfile(paste_src, self.etc_dir / "api-paste.ini")
        (self.work_dir / "neutron_api_wsgi.py").write_text(_WSGI_WRAPPER)

        neutron_conf = {
            "DEFAULT": {
                "core_plugin": "ml2",
                "service_plugins": "",
                "auth_strategy": "noauth",
                "transport_url": self.transport_url,
                # neutron sets this default in code only; agents that load these files with their
                # own ConfigOpts must see it too, or their RPC goes to the "openstack" exchange.
                "control_exchange": "neutron",
                "api_paste_config": str(self.etc_dir / "api-paste.ini"),
                "state_path": str(self.work_dir / "state"),
                "api_workers": 1,
                "rpc_workers": 1,
                "rpc_state_report_workers": 1,
                # No nova here: without these the server tries to reach keystone on port changes.
                "notify_nova_on_port_status_changes": False,
                "notify_nova_on_port_data_changes": False,
                "debug": False,
            },
            "database": {"connection": self.database_url},
            "oslo_concurrency": {"lock_path": str(self.work_dir / "lock")},
        }
        ml2_conf = {
            "ml2": {
                "type_drivers": "vlan,flat",
                "project_network_types": "vlan",
                "mechanism_drivers": ",".join(self.mechanism_drivers),
                "extension_drivers": "port_security",
            },
            "ml2_type_vlan": {"network_vlan_ranges": "default:1:4094"},
            "ml2_type_flat": {"flat_networks": "*"},
        }
        self.neutron_conf.write_text(render_ini(_merge(neutron_conf, self.extra_conf)))
        self.ml2_conf.write_text(render_ini(_merge(ml2_conf, self.extra_ml2)))
        return self.config_files

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["OS_NEUTRON_CONFIG_DIR"] = str(self.etc_dir)
        env["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf;plugins/ml2/ml2_conf.ini"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _config_args(self) -> list[str]:
        return ["--config-file", str(self.neutron_conf), "--config-file", str(self.ml2_conf)]

    def migrate(self, timeout: float = 300.0) -> None:
        """Run ``neutron-db-manage upgrade head`` on the (empty) database; raise with the log tail on failure."""
        log = self.log_files["db-manage"]
        with open(log, "ab") as out:
            proc = subprocess.run(
                [_script("neutron-db-manage"), *self._config_args(), "upgrade", "head"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(),
                timeout=timeout,
                check=False,
            )
        if proc.returncode != 0:
            raise ServiceStartError(f"neutron-db-manage upgrade head failed ({proc.returncode})\n{_log_tail(log)}")

    def start(self, timeout: float = 180.0) -> Self:
        """Write the config, migrate the database, start API and RPC server and wait until both serve.

        Raises :class:`ServiceStartError` (with log tails) if either does not come up within
        ``timeout`` seconds; anything already started is stopped first.
        """
        self.write_config()
        self.migrate()
        try:
            self._start_processes()
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_processes(self) -> None:
        env = self._env()
        self._rpc = ChildProcess(
            "neutron-rpc-server",
            [_script("neutron-rpc-server"), *self._config_args()],
            self.log_files["rpc"],
            env,
            self.work_dir,
        )
        # A free port can be taken between probing and binding; gunicorn then exits at once.
        for _attempt in range(3):
            self.port = free_port(self.bind_host)
            self._api = ChildProcess(
                "neutron-api",
                [
                    _script("gunicorn"),
                    "--chdir",
                    str(self.work_dir),
                    "--pythonpath",
                    str(self.work_dir),
                    "-b",
                    f"{self.bind_host}:{self.port}",
                    "-w",
                    "1",
                    "--threads",
                    "4",
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "10",
                    "--access-logfile",
                    str(self.log_files["api-access"]),
                    "neutron_api_wsgi:application",
                ],
                self.log_files["api"],
                env,
                self.work_dir,
            )
            time.sleep(1.0)
            if self._api.alive():
                return
        raise ServiceStartError(f"gunicorn did not stay up\n{_log_tail(self.log_files['api'])}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        api_ok = rpc_ok = False
        while time.monotonic() < deadline:
            for child in (self._api, self._rpc):
                if child is not None and not child.alive():
                    raise ServiceStartError(
                        f"{child.name} exited with {child.popen.returncode} during start-up\n{_log_tail(child.log)}"
                    )
            if not api_ok:
                try:
                    requests.get(self.url + "/v2.0/networks", timeout=5).raise_for_status()
                    api_ok = True
                except requests.RequestException:
                    pass
            if not rpc_ok:
                rpc_ok = self._rpc_consuming()
            if api_ok and rpc_ok:
                return
            time.sleep(1.0)
        waiting = [name for name, ok in (("neutron-api", api_ok), ("neutron-rpc-server", rpc_ok)) if not ok]
        tails = "\n".join(_log_tail(self.log_files[k]) for k in ("api", "rpc"))
        raise ServiceStartError(f"{', '.join(waiting)} not ready after {timeout:.0f} s\n{tails}")

    def restart_rpc_server(self, kill: bool = False, timeout: float = 120.0) -> None:
        """Stop ``neutron-rpc-server`` (SIGTERM, or SIGKILL with ``kill``) and start it again.

        Returns once the new one consumes its queues; the API keeps running throughout.
        """
        old, self._rpc = self._rpc, None
        if old is not None:
            if kill:
                old.kill_group()
            else:
                stop_children([old], timeout=25)
        self._rpc = ChildProcess(
            "neutron-rpc-server", [_script("neutron-rpc-server"), *self._config_args()],
            self.log_files["rpc"], self._env(), self.work_dir,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self._rpc_consuming():
            if time.monotonic() > deadline or not self._rpc.alive():
                raise ServiceStartError(f"neutron-rpc-server did not come back\n{_log_tail(self.log_files['rpc'])}")
            time.sleep(0.5)

    def _rpc_consuming(self) -> bool:
        if self.rabbitmq is None or self.vhost is None:
            # Without broker admin access the best we can tell is that the process is still up.
            return self._rpc is not None and self._rpc.alive()
        try:
            consumers = self.rabbitmq.queue_consumers(self.vhost)
        except ServiceUnavailable:
            return False
        return consumers.get("q-plugin", 0) > 0 and consumers.get("q-reports-plugin", 0) > 0

    def _take_children(self) -> list[ChildProcess]:
        children = [c for c in (self._api, self._rpc) if c is not None]
        self._api = self._rpc = None
        return children

    def stop(self, timeout: float = 25.0) -> None:
        """Stop API and RPC server by pid (SIGTERM, then SIGKILL after ``timeout`` s). Idempotent."""
        stop_children(self._take_children(), timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _script(name: str) -> str:
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        raise ServiceStartError(f"{path} not found: install the project with the network and test extras")
    return str(path)


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
