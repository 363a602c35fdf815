"""One Shared Storage Pool seen from several simulated hosts: logical units created here appear there.

A real SSP keeps its logical units on SAN disks every node of the cluster reads, so each host's
NovaLink lists the same LUs. Simulators model a cluster only by identity (topologies that name the
same pool and cluster share its Tier UUID), so they are told about each other:
``PUT /sim/ssp/peers`` ``{"peers": ["host:port", ...]}`` (``GET`` answers the list). From then on,
after each committed change this simulator sends the logical units created and deleted since the
previous change to every peer's ``POST /sim/ssp/replica`` (``{"add": [...], "remove": [udid, ...]}``),
which records them under its Tier (and its pool document, whose free space follows) or removes them.
A created LU carries its bytes as they are then (an image LU is written after its creation: the
clones made of it carry the image's bytes). Not modelled: a peer that is down misses changes (real
nodes read the shared disks again), and ``InUse`` counts this host's mappings only, so a peer
removes an LU that one of its own VIOSes maps only after that mapping goes (it logs the refusal).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.request
import weakref
from typing import Any

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.model import ssp
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store, Transaction

LOG = logging.getLogger(__name__)
_TIMEOUT = 30.0
_replicators: weakref.WeakKeyDictionary[Store, _Replicator] = weakref.WeakKeyDictionary()


class _Replicator:
    """Sends this store's LU additions and removals to the peers (after each commit)."""

    def __init__(self, store: Store) -> None:
        self.peers: list[str] = []
        self._lock = threading.Lock()
        self._known = _units(store)
        store.after_commit.append(self.sync)

    def sync(self, store: Store) -> None:
        with self._lock:
            current = _units(store)
            added = [{**current[u], "data": _data(store, u)} for u in current if u not in self._known]
            removed = [u for u in self._known if u not in current]
            self._known = current
            peers = list(self.peers)
        if not (added or removed):
            return
        for peer in peers:
            _send(peer, {"add": added, "remove": removed})


def set_peers(store: Store, peers: list[str]) -> list[str]:
    """Replicate this store's logical units to ``peers`` (``host:port`` each) from now on."""
    if not isinstance(peers, list) or not all(isinstance(p, str) and ":" in p for p in peers):
        raise ValueError(f"peers {peers!r} is not allowed; give a list of 'host:port' strings.")
    rep = _replicators.get(store)
    if rep is None:
        rep = _replicators[store] = _Replicator(store)
    rep.peers = list(peers)
    return rep.peers


def peers_of(store: Store) -> list[str]:
    rep = _replicators.get(store)
    return list(rep.peers) if rep is not None else []


def apply(txn: Transaction, change: dict[str, Any]) -> dict[str, int]:
    """Record the logical units a peer created and remove those it deleted (unknown ones are skipped)."""
    by_udid = {xml.text(r.element, "UniqueDeviceID"): r for r in txn.find("LogicalUnit")}
    added = removed = 0
    for item in change.get("add") or []:
        tier = txn.get("Tier", item["tier"])
        if item["udid"] in by_udid or tier is None:
            continue
        elem = xml.parse(item["lu"])
        xml.set_text(elem, "InUse", "false")  # no VIOS of this host maps it yet
        txn.put(Record("LogicalUnit", item["uuid"], elem, "Tier", tier.uuid, title="LogicalUnit"))
        pool = ssp.pool_of(txn, tier)
        ssp._list_in_pool(pool, elem, add=True)
        ssp._account(pool, item["name"])
        txn.put(pool, detail="LogicalUnits")
        if item.get("data") is not None:
            txn.put_blob(item["udid"], base64.b64decode(item["data"]))
        added += 1
    for udid in change.get("remove") or []:
        rec = by_udid.get(udid)
        if rec is None:
            continue
        tier = txn.get("Tier", rec.parent_uuid or "")
        try:
            ssp.remove_lu(txn, rec.element, ssp.pool_of(txn, tier) if tier is not None else None)
        except ApiError as exc:
            LOG.warning("SSP peer removed logical unit %s; kept here: %s", udid, exc.message)
            continue
        txn.delete(rec)
        removed += 1
    return {"added": added, "removed": removed}


def _units(store: Store) -> dict[str, dict[str, Any]]:
    with store.reading() as view:
        found = {}
        for rec in view.find("LogicalUnit"):
            udid = xml.text(rec.element, "UniqueDeviceID") or ""
            found[udid] = {"udid": udid, "uuid": rec.uuid, "tier": rec.parent_uuid or "",
                           "name": xml.text(rec.element, "UnitName") or "", "lu": xml.tostring(rec.element)}  # fmt: skip
        return found


def _data(store: Store, udid: str) -> str | None:
    with store.reading() as view:
        data = view.blob(udid)
    return base64.b64encode(data).decode() if data is not None else None


def _send(peer: str, change: dict[str, Any]) -> None:
    request = urllib.request.Request(f"http://{peer}/sim/ssp/replica", data=json.dumps(change).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as reply:
            reply.read()
    except OSError as exc:
        LOG.warning("SSP peer %s did not take %d new and %d removed logical unit(s): %s", peer,
                    len(change["add"]), len(change["remove"]), exc)  # fmt: skip


def handle(store: Store, method: str, path: str, body: Any) -> tuple[int, Any]:
    """The ``/sim/ssp`` admin endpoints: (status, JSON answer)."""
    if path == "/sim/ssp/peers" and method == "GET":
        return 200, {"peers": peers_of(store)}
    if path == "/sim/ssp/peers" and method == "PUT":
        return 200, {"peers": set_peers(store, (body or {}).get("peers"))}
    if path == "/sim/ssp/replica" and method == "POST":
        with store.transaction() as txn:
            return 200, apply(txn, body or {})
    return 404, {"error": f"No admin endpoint {method} {path}."}
