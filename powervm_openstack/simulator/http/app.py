"""The simulator as a WSGI application: NovaLink's REST API plus a small ``/sim`` admin API.

Every request ends in a well-formed answer: an Atom feed/entry, an empty 204, or an
HttpErrorResponse naming what was wrong. No traceback ever reaches a client, and a failed
change leaves the state as it was (see ``store``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from powervm_openstack.simulator.errors import ApiError, DropConnection, reason
from powervm_openstack.simulator.http import admin, files, pcm, routes, vterm
from powervm_openstack.simulator.runtime import events, stats
from powervm_openstack.simulator.runtime.faults import FaultInjector
from powervm_openstack.simulator.runtime.jobs import Jobs
from powervm_openstack.simulator.runtime.sessions import Sessions
from powervm_openstack.simulator.state import atom
from powervm_openstack.simulator.state.resources import Reply, Resources
from powervm_openstack.simulator.state.store import Store
from powervm_openstack.simulator.state.xml import XMLError

LOG = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 16 * 1024 * 1024
StartResponse = Callable[..., Any]


class SimulatorApp:
    """NovaLink REST API over one store.

    :param max_body: largest request body accepted (413 above it).
    """

    def __init__(
        self,
        store: Store,
        sessions: Sessions,
        event_wait: float = 10.0,
        job_seconds: float = 0.0,
        max_body: int = DEFAULT_MAX_BODY,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.resources = Resources(store)
        self.events = events.EventFeed(store, wait_seconds=event_wait)
        self.jobs = Jobs(store, job_seconds=job_seconds)
        self.faults = FaultInjector(sessions.expire_all, self.events.lose_events, seed=seed)
        self.max_body = max_body
        self.stats = stats.RequestStats()
        self.vterms = vterm.VTerms()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        path = environ.get("PATH_INFO", "")
        base = _base_url(environ)
        if path.startswith("/sim/"):
            reply = admin.handle(self, method, path, environ)
        else:
            self.stats.count(method, path)
            reply = self._serve(environ, method, path, base)
        headers = [
            ("Content-Type", reply.content_type),
            ("X-MC-Type", "PVM"),
            ("X-HMC-Schema-Version", "V1_3_0"),
        ]
        headers += list(reply.headers.items())
        body = reply.body.encode() if reply.body else b""
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{reply.status} {reason(reply.status)}", headers)
        return [body]

    def _serve(self, environ: dict[str, Any], method: str, path: str, base: str) -> Reply:
        try:
            late = self.faults.apply(method, path)
            if files.is_contents(path):  # device bytes: streamed, larger than any XML body
                return files.serve_contents(self, environ, method, path)
            body = _read_body(environ, self.max_body)
            reply = self._dispatch(environ, method, path, base, body)
            if late:
                reply.body = self.faults.finish(late, method, path, reply.body or "")
            return reply
        except ApiError as exc:
            if exc.status >= 500 or exc.status in (401, 412):
                LOG.info("%s %s -> %d %s", method, path, exc.status, exc.message)
            return _error(exc.status, exc.reason_code, exc.message, path, method, base)
        except XMLError as exc:
            return _error(400, "Bad Request", str(exc), path, method, base)
        except DropConnection:
            raise
        except Exception as exc:
            LOG.exception("Internal error serving %s %s", method, path)
            return _error(500, "Internal Server Error", f"Internal error: {type(exc).__name__}", path, method, base)

    def _dispatch(self, environ: dict[str, Any], method: str, path: str, base: str, body: bytes) -> Reply:
        if path.rstrip("/") == "/rest/api/web/Logon":
            return self._logon(environ, method, body)
        self.sessions.check(environ.get("HTTP_X_API_SESSION"))
        if pcm.is_pcm(path):
            return pcm.serve(self.store, method, path, body, base, environ.get("HTTP_IF_MATCH"))
        route = routes.parse(path)
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if route.service == "uom" and route.kind == "Event":
            return self._events(method, query, body, base)
        if route.service == "uom" and "jobs" in (route.kind, route.parent_kind):
            return self._job(method, route, base)
        if route.suffix == "do":
            return self._do(method, route, body, base)
        return self._object(environ, method, route, query, body, base)

    def _logon(self, environ: dict[str, Any], method: str, body: bytes) -> Reply:
        if method == "PUT":
            return Reply(200, self.sessions.logon(body), content_type=_WEB_XML.format("LogonResponse"))
        if method == "DELETE":
            self.sessions.logoff(environ.get("HTTP_X_API_SESSION"))
            return Reply(204)
        raise ApiError(405, f"{method} is not allowed on Logon; use PUT to log on and DELETE to log off.")

    def _events(self, method: str, query: dict[str, str], body: bytes, base: str) -> Reply:
        if method == "GET":
            appid = query.get("QUEUE_APPLICATIONID", "default")
            return Reply(200, self.events.poll(appid, base))
        if method == "PUT":
            try:
                data, detail = events.parse_custom_event(body)
            except ValueError as exc:
                raise ApiError(400, str(exc)) from exc
            with self.store.transaction() as txn:
                txn.custom_event(data, detail)
            return Reply(200, events.custom_event_reply(data, detail, base))
        raise ApiError(405, f"{method} is not allowed on Event; use GET to poll and PUT to post an event.")

    def _job(self, method: str, route: routes.Route, base: str) -> Reply:
        job_id = route.uuid or ""
        if route.kind == "cancel" and method in ("POST", "PUT"):  # pypowervm's cancel_job: POST jobs/<id>/cancel
            self.jobs.cancel(route.parent_uuid or "")
            return Reply(200, self.jobs.status(route.parent_uuid or "", base))
        if method == "GET":
            return Reply(200, self.jobs.status(job_id, base))
        if method == "DELETE":
            self.jobs.delete(job_id)
            return Reply(204)
        if method == "POST" and route.parent_kind is None:
            self.jobs.cancel(job_id)
            return Reply(200, self.jobs.status(job_id, base))
        raise ApiError(405, f"{method} is not allowed on jobs.")

    def _do(self, method: str, route: routes.Route, body: bytes, base: str) -> Reply:
        if method == "GET":
            return Reply(200, self.jobs.template(route, base))
        if method == "PUT":
            return Reply(200, self.jobs.submit(route, body, base))
        raise ApiError(405, f"{method} is not allowed on a job; GET the template, then PUT it.")

    def _object(
        self,
        environ: dict[str, Any],
        method: str,
        route: routes.Route,
        query: dict[str, str],
        body: bytes,
        base: str,
    ) -> Reply:
        if method == "GET":
            return self.resources.read(route, query.get("group"), base, environ.get("HTTP_IF_NONE_MATCH"))
        if method == "PUT":
            return self.resources.create(route, body, base)
        if method == "POST":
            return self.resources.update(route, body, environ.get("HTTP_IF_MATCH"), base)
        if method == "DELETE":
            return self.resources.delete(route, environ.get("HTTP_IF_MATCH"))
        raise ApiError(405, f"{method} is not allowed; use GET, PUT (create), POST (update) or DELETE.")


_WEB_XML = "application/vnd.ibm.powervm.web+xml; type={}"


def _base_url(environ: dict[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise ApiError(400, f"Content-Length {environ.get('CONTENT_LENGTH')!r} is not a number.") from exc
    if length > limit:
        raise ApiError(413, f"The request body of {length} bytes is larger than the {limit} bytes allowed.")
    if length <= 0:
        return b""
    return environ["wsgi.input"].read(length)


def _error(status: int, reason_code: str, message: str, path: str, method: str, base: str) -> Reply:
    body = atom.render_error(status, reason_code, message, path, method, base)
    return Reply(status, body, content_type=_WEB_XML.format("HttpErrorResponse"))
