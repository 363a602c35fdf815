"""The ``/sim`` admin API: fault rules, the change log, request counts, PCM settings, device contents, and a health check.

``GET /sim/devices/<udid>`` answers the size and SHA256 of the bytes behind a storage device (a
virtual disk, logical unit or optical medium), 404 when none were written to it.

It is for tests and operators on the same machine; it needs no session. Answers are JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.http import vterm
from powervm_openstack.simulator.runtime.jobs import JobFailed
from powervm_openstack.simulator.state.resources import Reply

if TYPE_CHECKING:
    from powervm_openstack.simulator.http.context import AppContext


def handle(app: AppContext, method: str, path: str, environ: dict[str, Any]) -> Reply:
    """Serve one admin request; bad input answers 400 with the reason."""
    try:
        return _route(app, method, path.rstrip("/"), environ)
    except (ValueError, TypeError) as exc:
        return _json(400, {"error": str(exc)})


def _route(app: AppContext, method: str, path: str, environ: dict[str, Any]) -> Reply:
    if path == "/sim/health":
        return _json(200, {"status": "ok", "last_change": app.store.last_change_id()})
    for prefix, handler in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return handler(app, method, path, environ)
    if path == "/sim/faults":
        return _faults(app, method, environ)
    if path == "/sim/stats" and method in ("GET", "DELETE"):
        if method == "DELETE":
            app.stats.reset()
        return _json(200, app.stats.snapshot())
    if path == "/sim/changes" and method == "GET":
        query = parse_qs(environ.get("QUERY_STRING", ""))
        since = int(query.get("since", ["0"])[0])
        limit = int(query.get("limit", ["1000"])[0])
        return _json(200, [dataclasses.asdict(c) for c in app.store.changes_since(since, limit)])
    if path == "/sim/sessions" and method == "DELETE":
        return _json(200, {"expired": app.sessions.expire_all()})
    if path.startswith("/sim/events/") and method == "POST":
        return _events(app, path, _body(environ) or {})
    return _json(404, {"error": f"No admin endpoint {method} {path}."})


def _events(app: AppContext, path: str, body: dict[str, Any]) -> Reply:
    if path == "/sim/events/lose":
        app.events.lose_events(bool(body.get("signalled", True)))
        return _json(200, {"lost": True})
    if path == "/sim/events/mute":
        app.events.mute(bool(body.get("muted", True)))
        return _json(200, {"muted": bool(body.get("muted", True))})
    return _json(404, {"error": f"No admin endpoint POST {path}."})


def _devices(app: AppContext, method: str, path: str, environ: dict[str, Any]) -> Reply:
    if method != "GET" or path.count("/") != 3:
        return _json(404, {"error": f"No admin endpoint {method} {path}."})
    return _device(app, path.rsplit("/", 1)[1])


def _device(app: AppContext, udid: str) -> Reply:
    with app.store.transaction() as txn:
        data = txn.blob(udid)
    if data is None:
        return _json(404, {"error": f"No bytes were written to device {udid}."})
    return _json(200, {"udid": udid, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})


def _faults(app: AppContext, method: str, environ: dict[str, Any]) -> Reply:
    if method == "PUT":
        app.faults.set_rules(_body(environ) or [])
    elif method == "POST":
        app.faults.add_rule(_body(environ))
    elif method == "DELETE":
        app.faults.set_rules([])
    return _json(200, {"rules": app.faults.rules(), "injected": dict(app.faults.injected)})


def _pcm(app: AppContext, method: str, path: str, environ: dict[str, Any]) -> Reply:
    """``PUT /sim/pcm`` ``{"interval": s}``; ``PUT /sim/pcm/rates/<partition uuid>`` with ``Rates`` fields."""
    from powervm_openstack.simulator.model import pcm

    with app.store.transaction() as txn:
        if path == "/sim/pcm" and method == "PUT":
            seconds = (_body(environ) or {}).get("interval")
            if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= 3600:
                raise ValueError(f"interval {seconds!r} is not allowed; give whole seconds from 1 to 3600.")
            txn.set_meta("pcm.interval", str(seconds))
        elif path.startswith("/sim/pcm/rates/") and method == "PUT":
            uuid = path.rsplit("/", 1)[1]
            if txn.get("LogicalPartition", uuid) is None:
                return _json(404, {"error": f"No client partition {uuid}."})
            pcm.set_rates(
                txn, uuid, pcm.Rates(**{**dataclasses.asdict(pcm.rates_of(txn, uuid)), **(_body(environ) or {})})
            )
            return _json(200, dataclasses.asdict(pcm.rates_of(txn, uuid)))
        elif method != "GET" or path != "/sim/pcm":
            return _json(404, {"error": f"No admin endpoint {method} {path}."})
        return _json(200, {"interval": pcm.interval(txn), "preferences": pcm.preferences(txn)})


def _mobility(app: AppContext, method: str, path: str, environ: dict[str, Any]) -> Reply:
    """The destination side of partition mobility (``model.mobility``); fault rules apply here."""
    # imported here, as _pcm does: the firmware models import each other and must load after the front
    from powervm_openstack.simulator.model import mobility, mobility_target

    if path == "/sim/mobility" and method == "GET":
        with app.store.reading() as txn:
            return _json(200, json.loads(txn.meta(mobility.LAST_KEY, "{}") or "{}"))
    phase = path.rsplit("/", 1)[-1]
    if method != "POST" or phase not in ("validate", "receive", "status"):
        return _json(404, {"error": f"No admin endpoint {method} {path}."})
    try:
        late = app.faults.apply(method, path)
        package = _body(environ) or {}
        if phase == "status":
            with app.store.reading() as txn:
                reply = _json(200, {"present": txn.get("LogicalPartition", package.get("uuid", "")) is not None})
        elif phase == "validate":
            with app.store.reading() as txn:
                reasons = mobility_target.validate(txn, package)
            reply = _json(409 if reasons else 200, {"reasons": reasons})
        else:
            with app.store.transaction() as txn:
                part = mobility_target.receive(txn, package)
                txn.set_meta(mobility.LAST_KEY, json.dumps({"partition": part.uuid, "received": True}))
            reply = _json(200, {"partition": part.uuid})
        if late:
            reply.body = app.faults.finish(late, method, path, reply.body or "")
        return reply
    except JobFailed as exc:
        return _json(409, {"reasons": [str(exc)]})
    except ApiError as exc:
        return _json(exc.status, {"error": exc.message})


def _ssp(app: AppContext, method: str, path: str, environ: dict[str, Any]) -> Reply:
    """Logical units shared with peer simulators (``model.ssp_peers``)."""
    from powervm_openstack.simulator.model import ssp_peers

    return _json(*ssp_peers.handle(app.store, method, path, _body(environ)))


def _body(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The body is not valid JSON: {exc}") from exc


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload), content_type="application/json")


# Path prefixes whose handlers take (app, method, path, environ).
_PREFIXES: tuple[tuple[str, Callable[[AppContext, str, str, dict[str, Any]], Reply]], ...] = (
    ("/sim/vterm", lambda app, method, path, _environ: vterm.handle(app, method, path)),
    ("/sim/mobility", _mobility),
    ("/sim/pcm", _pcm),
    ("/sim/devices", _devices),
    ("/sim/ssp", _ssp),
)
