"""The Event long-poll feed (``GET /rest/api/uom/Event``) and client events (``PUT``).

Semantics, as NovaLink serves them:
- each application id (``QUEUE_APPLICATIONID``) has its own queue; its first poll answers
  ``NEW_CLIENT`` at once; after that every committed change arrives once, in order, as
  ADD_URI / MODIFY_URI / DELETE_URI, and client-posted events as CUSTOM_CLIENT_EVENT;
- a poll with nothing queued waits up to ``wait_seconds`` and then answers an empty feed;
- a queue that falls more than ``queue_limit`` events behind is cleared: the client gets one
  ``CACHE_CLEARED`` and must re-read what it caches; lost events (fault injection) are
  announced with ``MISSING_EVENTS`` unless the loss is meant to be silent;
- while *muted* (fault injection, ``POST /sim/events/mute``), committed changes reach no client
  and nothing announces it: what a client caches from events silently goes stale, as when a real
  NovaLink drops an event without knowing.
The queues are cursors into the store's change log, so nothing is copied per client.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid as uuidlib

from powervm_openstack.simulator.state import atom, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Change, Store

LOG = logging.getLogger(__name__)

FEED_PATH = "/rest/api/uom/Event"


class EventFeed:
    """Per-application event queues over the store's change log."""

    def __init__(self, store: Store, wait_seconds: float = 10.0, queue_limit: int = 2000) -> None:
        self.store = store
        self.wait_seconds = wait_seconds
        self.queue_limit = queue_limit
        self._cursors: dict[str, int] = {}
        self._pending: dict[str, str] = {}  # appid -> CACHE_CLEARED / MISSING_EVENTS to announce
        self._muted: list[list[int | None]] = []  # [first change id, last change id or None while muted]
        self._lock = threading.Lock()

    def poll(self, appid: str, base: str) -> str:
        """Answer one long poll for ``appid`` with a feed of events (possibly empty)."""
        events = self._take(appid)
        deadline = time.monotonic() + self.wait_seconds
        while not events and time.monotonic() < deadline:
            with self.store.changed:
                self.store.changed.wait(timeout=min(1.0, max(0.0, deadline - time.monotonic())))
            events = self._take(appid)
        return self._render(events, base)

    def lose_events(self, signalled: bool = True) -> None:
        """Fault injection: drop everything queued for every client.

        ``signalled`` makes each client's next poll answer MISSING_EVENTS, as NovaLink does
        when it knows it lost events; otherwise the loss is silent.
        """
        last = self.store.last_change_id()
        with self._lock:
            for appid in self._cursors:
                self._cursors[appid] = last
                if signalled:
                    self._pending[appid] = "MISSING_EVENTS"
        LOG.warning(
            "Event loss injected for %d client(s) (%s)",
            len(self._cursors),
            "signalled" if signalled else "silent",
        )

    def mute(self, muted: bool) -> None:
        """Fault injection: from now on (``muted``) or no longer, committed changes are dropped silently."""
        last = self.store.last_change_id()
        with self._lock:
            if muted and not (self._muted and self._muted[-1][1] is None):
                self._muted.append([last + 1, None])
            elif not muted and self._muted and self._muted[-1][1] is None:
                self._muted[-1][1] = last
        LOG.warning(
            "Event feed %s (after change %d)", "muted: changes are dropped silently" if muted else "unmuted", last
        )

    def _heard(self, change_id: int) -> bool:
        return not any(first <= change_id and (last is None or change_id <= last) for first, last in self._muted)

    def _take(self, appid: str) -> list[tuple[str, int, str, str]]:
        """Events for ``appid`` as ``(type, id, data path, detail)``; advances its cursor."""
        with self._lock:
            if appid not in self._cursors:
                last = self.store.last_change_id()
                self._cursors[appid] = last
                LOG.info("New event client %s starts after change %d", appid, last)
                return [("NEW_CLIENT", last, "", "")]
            if appid in self._pending:
                kind = self._pending.pop(appid)
                return [(kind, self._cursors[appid], "", "")]
            cursor = self._cursors[appid]
        changes = self.store.changes_since(cursor, limit=self.queue_limit + 1)
        if len(changes) > self.queue_limit:
            return self._overflow(appid)
        if not changes:
            return []
        with self._lock:
            self._cursors[appid] = max(self._cursors.get(appid, 0), changes[-1].id)
            return [_event_tuple(c) for c in changes if self._heard(c.id)]

    def _overflow(self, appid: str) -> list[tuple[str, int, str, str]]:
        last = self.store.last_change_id()
        with self._lock:
            self._cursors[appid] = last
        LOG.warning("Event queue of client %s overflowed (> %d events): CACHE_CLEARED", appid, self.queue_limit)
        return [("CACHE_CLEARED", last, "", "")]

    def _render(self, events: list[tuple[str, int, str, str]], base: str) -> str:
        records = [_event_record(*event) for event in events]
        pairs = [(rec, f"{FEED_PATH}/{rec.uuid}") for rec in records]
        return atom.render_feed(pairs, FEED_PATH, base, None)


def _event_tuple(change: Change) -> tuple[str, int, str, str]:
    return (change.event_type, change.id, change.path or "", change.detail or "")


def _event_record(etype: str, event_id: int, data: str, detail: str) -> Record:
    uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"event/{etype}/{event_id}"))
    elem = xml.root("Event", uuid, schema="V1_3_0")
    xml.leaf(elem, "EventType", etype, kb="ROR")
    xml.leaf(elem, "EventID", event_id, kb="ROR")
    xml.leaf(elem, "EventData", data, kb="ROR")
    xml.leaf(elem, "EventDetail", detail, kb="ROR")
    return Record("Event", uuid, elem, etag=str(event_id))


def parse_custom_event(body: bytes) -> tuple[str, str]:
    """``(data, detail)`` of a client's Event element; raise XMLError/ValueError when malformed."""
    elem = xml.parse(body)
    if xml.local(elem) != "Event":
        raise ValueError(f"Expected an Event element, got {xml.local(elem)}.")
    return xml.text(elem, "EventData", "") or "", xml.text(elem, "EventDetail", "") or ""


def custom_event_reply(data: str, detail: str, base: str) -> str:
    rec = _event_record("CUSTOM_CLIENT_EVENT", 0, xml.strip_base(data), detail)
    return atom.render_entry(rec, f"{FEED_PATH}/{rec.uuid}", base, None)
