"""One Shared Storage Pool seen by two simulated hosts: logical units replicated between simulators.

On real PowerVM every VIOS node of an SSP cluster sees every logical unit of the pool, whichever
host created it: a boot disk made on one host can be mapped on another (cold migration, evacuate).
Each simulator keeps its own store, so simulators whose topologies name the same pool and cluster
(hence the same Tier UUID, see ``mobility_target``) are linked at run time, both ways:
``POST /sim/ssp/peers {"url": "http://host:port"}`` (``GET`` lists them). A peer new to this side is
sent every logical unit this side has (a node that joins the cluster sees the whole pool, whenever
it joins); from then on every logical unit created, grown or deleted through the REST API on one side is posted to each peer's
``/sim/ssp/replicate`` and applied there under the same Tier, with the same UDID and bytes (a peer
without that Tier ignores it: it is not in the cluster). A delete is refused (409) while a peer maps
the unit, as the cluster refuses removing an LU in use on any node; ``InUse`` is per host. A peer
that does not answer is logged and skipped (the cluster goes on without a node). Bytes uploaded
into an existing LU later (an image LU's upload) are not replicated: only a linked clone's bytes,
copied at its creation, are.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

from lxml import etree

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.resources import Reply
from powervm_openstack.simulator.state.store import Transaction

if TYPE_CHECKING:
    from powervm_openstack.simulator.http.context import AppContext

LOG = logging.getLogger(__name__)
PEERS_KEY = "ssp.peers"
_TIMEOUT = 30.0


def peers(txn: Transaction) -> list[str]:
    return json.loads(txn.meta(PEERS_KEY, "[]") or "[]")


def push(txn: Transaction, op: str, lu: etree._Element, lu_uuid: str = "", tier_uuid: str = "") -> None:
    """Tell every peer about a logical unit created or grown (``put``) or deleted (``delete``) here.

    :raises ApiError: 409 when a peer refuses the delete (the unit is mapped there).
    """
    urls = peers(txn)
    if not urls:
        return
    body = _change(txn, op, lu, lu_uuid, tier_uuid)
    for url in urls:
        _post(url, body, op)


def _change(txn: Transaction, op: str, lu: etree._Element, lu_uuid: str, tier_uuid: str) -> dict[str, Any]:
    udid = xml.text(lu, "UniqueDeviceID") or ""
    body: dict[str, Any] = {"op": op, "udid": udid, "tier": tier_uuid, "lu_uuid": lu_uuid}
    if op == "put":
        data = txn.blob(udid) or b""
        body.update(lu=etree.tostring(lu).decode(), blob=base64.b64encode(data).decode())
    return body


def _join(txn: Transaction, url: str) -> int:
    """A new node joined: send it every logical unit this side has (it sees the whole pool); their number."""
    units = txn.find("LogicalUnit")
    for rec in units:
        _post(url, _change(txn, "put", rec.element, rec.uuid, rec.parent_uuid or ""), "put")
    return len(units)


def _post(url: str, body: dict[str, Any], op: str) -> None:
    """Send one change to one peer; a 409 refusal is raised, other failures are logged and skipped."""
    udid = body["udid"]
    req = urllib.request.Request(f"{url}/sim/ssp/replicate", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT):
            pass
    except urllib.error.HTTPError as err:
        if err.code == 409:
            raise ApiError(409, json.loads(err.read() or b"{}").get("error", f"{url} refused")) from None
        LOG.warning("SSP peer %s answered %s to %s of LU %s", url, err.code, op, udid)
    except (urllib.error.URLError, OSError) as err:
        LOG.warning("SSP peer %s is unreachable (%s); LU %s not replicated there", url, err, udid)


def _find(txn: Transaction, udid: str) -> Record | None:
    return next((r for r in txn.find_containing("LogicalUnit", udid)
                 if xml.text(r.element, "UniqueDeviceID") == udid), None)  # fmt: skip


def apply(txn: Transaction, body: dict[str, Any]) -> str:
    """Apply a peer's change here; what was done, for the reply."""
    from powervm_openstack.simulator.model import ssp

    udid = body.get("udid") or ""
    existing = _find(txn, udid)
    if body.get("op") == "delete":
        if existing is None:
            return "absent"
        if (xml.text(existing.element, "InUse") or "false").lower() == "true":
            name = xml.text(existing.element, "UnitName")
            raise ApiError(
                409, f"Logical unit {name} ({udid}) is mapped to a partition on another node of the cluster."
            )
        tier = txn.get("Tier", existing.parent_uuid or "")
        txn.delete(existing, detail="RemovedFromPool")
        txn.delete_blob(udid)
        if tier is not None:
            _relist(txn, ssp, ssp.pool_of(txn, tier), existing.element, add=False)
        return "deleted"
    tier = txn.get("Tier", body.get("tier") or "")
    if tier is None:
        return "not in this cluster"
    incoming = xml.parse(body["lu"])
    if existing is not None:
        xml.set_text(existing.element, "UnitCapacity", xml.text(incoming, "UnitCapacity"))
        txn.put(existing)
        _relist(txn, ssp, ssp.pool_of(txn, tier), existing.element, add=True)
        return "updated"
    xml.set_text(incoming, "InUse", "false")
    txn.put(Record("LogicalUnit", body["lu_uuid"], incoming, "Tier", tier.uuid, title="LogicalUnit"))
    txn.put_blob(udid, base64.b64decode(body.get("blob") or ""))
    _relist(txn, ssp, ssp.pool_of(txn, tier), incoming, add=True)
    return "created"


def _relist(txn: Transaction, ssp: Any, pool: Record, lu: etree._Element, add: bool) -> None:
    ssp._list_in_pool(pool, lu, add=add)
    ssp._account(pool, xml.text(lu, "UnitName") or "-")
    txn.put(pool, detail="LogicalUnits")


def handle(app: AppContext, method: str, path: str, environ: dict[str, Any]) -> Reply:
    """``/sim/ssp/peers`` (GET, POST) and ``/sim/ssp/replicate`` (POST, from a peer)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length > 0 else {}
    try:
        if path == "/sim/ssp/peers" and method in ("GET", "POST"):
            with app.store.transaction() as txn:
                known = peers(txn)
                if method == "POST":
                    url = str(body.get("url") or "").rstrip("/")
                    if not url.startswith(("http://", "https://")):
                        raise ValueError(f"peer url {url!r} is not allowed; give http(s)://host:port of a simulator.")
                    if url not in known:
                        LOG.info("SSP peer %s joined: %d logical units sent to it", url, _join(txn, url))
                    known = sorted({*known, url})
                    txn.set_meta(PEERS_KEY, json.dumps(known))
            return _json(200, {"peers": known})
        if path == "/sim/ssp/replicate" and method == "POST":
            with app.store.transaction() as txn:
                return _json(200, {"result": apply(txn, body)})
    except ApiError as err:
        return _json(err.status, {"error": err.message})
    return _json(404, {"error": f"No admin endpoint {method} {path}."})


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, json.dumps(payload), content_type="application/json")
