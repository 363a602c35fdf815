"""Serve the simulator over HTTP: in a thread (tests, the demo) or as the ``powervm-sim`` process.

The server is threaded (one thread per request) so that event long-polls do not block other
clients, and it can drop a connection without answering (fault injection).
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from powervm_openstack.simulator import model
from powervm_openstack.simulator.errors import DropConnection
from powervm_openstack.simulator.http.app import SimulatorApp
from powervm_openstack.simulator.runtime.sessions import Sessions
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store

LOG = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["powervm_sim.socket"] = self.connection
        if isinstance(self.connection, ssl.SSLSocket):
            env["HTTPS"] = "on"
        return env

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.parse_request():
            return
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ())
        handler.request_handler = self
        try:
            handler.run(self.server.get_app())
        except (DropConnection, OSError):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        LOG.debug("%s - %s", self.address_string(), format % args)


class _ServerHandler(ServerHandler):
    def handle_error(self) -> None:
        import sys

        if isinstance(sys.exc_info()[1], DropConnection):
            sock = self.environ["powervm_sim.socket"]
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raise DropConnection()
        super().handle_error()


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # pypowervm opens a new connection per request; with socketserver's default backlog of 5, a
    # few parallel readers overflow it and the kernel's SYN retry stalls a request for 1 s.
    request_queue_size = 128


class SimulatorServer:
    """A simulator listening on ``host:port`` (port 0 picks a free one).

    :param store: the state; a ``Store`` or a path to its SQLite file.
    :param seed: records to load when the store is empty.
    :param tls: ``(certificate file, key file)`` to serve https instead of http.
    :param fault_seed: seed of the fault rules' random draws (``rate``, jitter), for replayable runs.
    """

    def __init__(
        self,
        store: Store | str | None = None,
        username: str = "admin",
        password: str = "admin",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: list[Record] | None = None,
        event_wait: float = 10.0,
        job_seconds: float = 0.0,
        session_idle_timeout: float | None = None,
        token_dir: str | None = None,
        tls: tuple[str, str] | None = None,
        fault_seed: int | None = None,
    ) -> None:
        model.install()
        self.store = store if isinstance(store, Store) else Store(store)
        if seed and self.store.is_empty():
            count = self.store.load(seed)
            LOG.info("Seeded the simulator with %d objects", count)
        self.sessions = Sessions(username, password, token_dir=token_dir, idle_timeout=session_idle_timeout)
        self.app = SimulatorApp(
            self.store, self.sessions, event_wait=event_wait, job_seconds=job_seconds, seed=fault_seed
        )
        self._httpd = _ThreadingServer((host, port), _Handler)
        self._httpd.set_app(self.app)
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        """Serve in a daemon thread; return self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="powervm-sim", daemon=True)
        self._thread.start()
        LOG.info("PowerVM simulator listening on %s", self.url)
        return self

    def serve_forever(self) -> None:
        LOG.info("PowerVM simulator listening on %s", self.url)
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the store (safe to call twice)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=10)
        self.store.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
