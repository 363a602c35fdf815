"""A real neutron 29 server: API under gunicorn plus ``neutron-rpc-server``, with its config and database.

The configuration files come from ``neutron_config``; ``NeutronServer.client`` is a ``NeutronClient``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import requests

from powervm_openstack.deploy.child import (
    ChildProcess,
    ServiceStartError,
    ServiceUnavailable,
    free_port,
    log_tail,
    stop_children,
)
from powervm_openstack.deploy.neutron_client import NeutronClient
from powervm_openstack.deploy.neutron_config import (
    WSGI_WRAPPER,
    IniSections,
    merge_sections,
    ml2_conf_sections,
    neutron_conf_sections,
    render_ini,
)
from powervm_openstack.deploy.rabbitmq import RabbitMQ


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
        (self.work_dir / "neutron_api_wsgi.py").write_text(WSGI_WRAPPER)

        neutron_conf = neutron_conf_sections(self.work_dir, self.etc_dir, self.database_url, self.transport_url)
        ml2_conf = ml2_conf_sections(self.mechanism_drivers)
        self.neutron_conf.write_text(render_ini(merge_sections(neutron_conf, self.extra_conf)))
        self.ml2_conf.write_text(render_ini(merge_sections(ml2_conf, self.extra_ml2)))
        return self.config_files

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["OS_NEUTRON_CONFIG_DIR"] = str(self.etc_dir)
        env["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf;plugins/ml2/ml2_conf.ini"
        env["PYTHONUNBUFFERED"] = "1"
        # neutron asks uwsgi/mod_wsgi for the API worker count, else this variable; the OVN driver's
        # hash ring (which delivers port-up events) fails without it. gunicorn runs one worker (-w 1).
        env["ASGI_WORKERS"] = "1"
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
            raise ServiceStartError(f"neutron-db-manage upgrade head failed ({proc.returncode})\n{log_tail(log)}")

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
        raise ServiceStartError(f"gunicorn did not stay up\n{log_tail(self.log_files['api'])}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        api_ok = rpc_ok = False
        while time.monotonic() < deadline:
            for child in (self._api, self._rpc):
                if child is not None and not child.alive():
                    raise ServiceStartError(
                        f"{child.name} exited with {child.popen.returncode} during start-up\n{log_tail(child.log)}"
                    )
            if not api_ok:
                try:
                    # 401: the API is loaded and asks for a token (auth_strategy = keystone).
                    answer = requests.get(self.url + "/v2.0/networks", timeout=5)
                    if answer.status_code != 401:
                        answer.raise_for_status()
                    api_ok = True
                except requests.RequestException:
                    pass
            if not rpc_ok:
                rpc_ok = self._rpc_consuming()
            if api_ok and rpc_ok:
                return
            time.sleep(1.0)
        waiting = [name for name, ok in (("neutron-api", api_ok), ("neutron-rpc-server", rpc_ok)) if not ok]
        tails = "\n".join(log_tail(self.log_files[k]) for k in ("api", "rpc"))
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
                raise ServiceStartError(f"neutron-rpc-server did not come back\n{log_tail(self.log_files['rpc'])}")
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
