"""Simulator state in SQLite: objects, their ETags, and the change log that feeds events.

Guarantees:
- one ``transaction()`` is one SQLite transaction: a REST change is applied whole or not at all,
  also when the process dies in the middle (the file is the state; nothing else is kept);
- every committed create, update and delete appends one row to the change log (ADD_URI,
  MODIFY_URI, DELETE_URI, or a client's CUSTOM_CLIENT_EVENT); the row id is the EventID;
- a single lock serialises transactions; readers take it too, so a reader never sees half a change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import sqlite3
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    uuid TEXT PRIMARY KEY COLLATE NOCASE,
    kind TEXT NOT NULL,
    parent_kind TEXT,
    parent_uuid TEXT COLLATE NOCASE,
    etag TEXT NOT NULL,
    title TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_kind ON objects (kind, parent_uuid);
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    event_type TEXT NOT NULL,
    kind TEXT,
    uuid TEXT,
    path TEXT,
    detail TEXT NOT NULL DEFAULT '',
    body TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY COLLATE NOCASE, data BLOB NOT NULL);
"""

_etag_counter = itertools.count(int(time.time()) % 1_000_000 * 1000)


def new_etag() -> str:
    """ETags look like NovaLink's: a signed integer, unique per stored version."""
    return str(-(next(_etag_counter) * 7919 % 2_147_483_647))


def new_uuid() -> str:
    return str(uuidlib.uuid4())


@dataclasses.dataclass(frozen=True)
class Change:
    """One row of the change log (and one event in the event feed)."""

    id: int
    ts: float
    event_type: str
    kind: str | None
    uuid: str | None
    path: str | None
    detail: str
    body: str | None


def object_path(kind: str, uuid: str, parent_kind: str | None = None, parent_uuid: str | None = None) -> str:
    """Canonical base-relative path of an object, as used in event data and SELF links."""
    service = "web" if kind in ("File", "Job") else "uom"
    if parent_kind and parent_uuid:
        return f"/rest/api/{service}/{parent_kind}/{parent_uuid}/{kind}/{uuid}"
    return f"/rest/api/{service}/{kind}/{uuid}"


class Transaction:
    """Reads and writes inside one SQLite transaction (see ``Store.transaction``)."""

    def __init__(self, conn: sqlite3.Connection, log_bodies: bool) -> None:
        self._conn = conn
        self._log_bodies = log_bodies
        self.changed = False

    # -- reads -----------------------------------------------------------------------------
    def get(self, kind: str | None, uuid: str) -> Record | None:
        """The object with this UUID (case-insensitive), or None; ``kind`` None matches any."""
        row = self._conn.execute("SELECT * FROM objects WHERE uuid = ?", (uuid,)).fetchone()
        if row is None or (kind is not None and row["kind"] != kind):
            return None
        return _record(row)

    def find(self, kind: str, parent_uuid: str | None = None) -> list[Record]:
        """All objects of a kind (optionally under one parent), in creation order."""
        if parent_uuid is None:
            rows = self._conn.execute("SELECT * FROM objects WHERE kind = ? ORDER BY seq", (kind,))
        else:
            rows = self._conn.execute(
                "SELECT * FROM objects WHERE kind = ? AND parent_uuid = ? ORDER BY seq", (kind, parent_uuid)
            )
        return [_record(r) for r in rows]

    def find_containing(self, kind: str, fragment: str) -> list[Record]:
        """Objects of a kind whose stored XML contains ``fragment`` (a cheap pre-filter)."""
        rows = self._conn.execute(
            "SELECT * FROM objects WHERE kind = ? AND instr(body, ?) > 0 ORDER BY seq", (kind, fragment)
        )
        return [_record(r) for r in rows]

    def count(self, kind: str) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM objects WHERE kind = ?", (kind,)).fetchone()[0]

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    # -- writes ----------------------------------------------------------------------------
    def put(self, rec: Record, detail: str = "Other", event: bool = True, keep_etag: bool = False) -> Record:
        """Create or replace ``rec``; give it a fresh ETag (unless seeding keeps its own); log the change."""
        existing = self._conn.execute("SELECT seq FROM objects WHERE uuid = ?", (rec.uuid,)).fetchone()
        if not (keep_etag and rec.etag):
            rec.etag = new_etag()
        body = xml.strip_base(xml.tostring(rec.element))
        rec.title = rec.title or rec.kind
        if existing is None:
            seq = self._next_seq()
            self._conn.execute(
                "INSERT INTO objects VALUES (?,?,?,?,?,?,?,?)",
                (rec.uuid, rec.kind, rec.parent_kind, rec.parent_uuid, rec.etag, rec.title, seq, body),
            )
        else:
            self._conn.execute(
                "UPDATE objects SET kind=?, parent_kind=?, parent_uuid=?, etag=?, title=?, body=? WHERE uuid=?",
                (rec.kind, rec.parent_kind, rec.parent_uuid, rec.etag, rec.title, body, rec.uuid),
            )
        if event:
            etype = "ADD_URI" if existing is None else "MODIFY_URI"
            self._log(etype, rec, detail, body)
        return rec

    def delete(self, rec: Record, detail: str = "") -> None:
        """Remove ``rec`` and log DELETE_URI."""
        self._conn.execute("DELETE FROM objects WHERE uuid = ?", (rec.uuid,))
        self._log("DELETE_URI", rec, detail, None)

    def custom_event(self, data: str, detail: str) -> None:
        """Log a CUSTOM_CLIENT_EVENT posted by a client (``data`` is stored base-relative)."""
        self._conn.execute(
            "INSERT INTO changes (ts, event_type, path, detail) VALUES (?,?,?,?)",
            (time.time(), "CUSTOM_CLIENT_EVENT", xml.strip_base(data), detail),
        )
        self.changed = True

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))

    # -- blobs: the bytes behind storage devices (virtual disks, LUs, optical media) ---------
    def blob(self, key: str) -> bytes | None:
        """The bytes stored under ``key`` (a device UDID), or None."""
        row = self._conn.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_blob(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing what was there (no event: bytes are not REST objects)."""
        self._conn.execute("INSERT OR REPLACE INTO blobs VALUES (?,?)", (key, data))

    def delete_blob(self, key: str) -> None:
        self._conn.execute("DELETE FROM blobs WHERE key = ?", (key,))

    def _next_seq(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM objects").fetchone()
        return row[0]

    def _log(self, etype: str, rec: Record, detail: str, body: str | None) -> None:
        path = object_path(rec.kind, rec.uuid, rec.parent_kind, rec.parent_uuid)
        self._conn.execute(
            "INSERT INTO changes (ts, event_type, kind, uuid, path, detail, body) VALUES (?,?,?,?,?,?,?)",
            (time.time(), etype, rec.kind, rec.uuid, path, detail, body if self._log_bodies else None),
        )
        self.changed = True


def _record(row: sqlite3.Row) -> Record:
    return Record(
        kind=row["kind"],
        uuid=row["uuid"],
        element=xml.parse(row["body"]),
        parent_kind=row["parent_kind"],
        parent_uuid=row["parent_uuid"],
        etag=row["etag"],
        title=row["title"],
    )


class Store:
    """The simulator's state: one SQLite file (or memory), safe to share between threads.

    :param path: SQLite file; ``None`` or ``":memory:"`` keeps the state in memory.
    :param log_bodies: keep each changed object's body in the change log (used by the
        resilience suite to check invariants from the simulator's own history).
    """

    def __init__(self, path: str | None = None, log_bodies: bool = True) -> None:
        self.path = path or ":memory:"
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._closed = False
        self._log_bodies = log_bodies
        self.changed = threading.Condition(threading.Lock())
        # called with the store after each committed change, in the committing thread (ovs_devices)
        self.after_commit: list[Callable[[Store], None]] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run a block as one all-or-nothing change; wake event waiters after commit."""
        with self._lock:
            self._check_open()
            txn = Transaction(self._conn, self._log_bodies)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield txn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        if txn.changed:
            with self.changed:
                self.changed.notify_all()
            for hook in list(self.after_commit):
                hook(self)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Transaction]:
        """A consistent read-only view."""
        with self._lock:
            self._check_open()
            yield Transaction(self._conn, self._log_bodies)

    def is_empty(self) -> bool:
        with self.reading() as view:
            return view._conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0

    def load(self, records: Iterable[Record]) -> int:
        """Seed the state with ``records`` (no events are logged); return how many were stored."""
        count = 0
        with self.transaction() as txn:
            for rec in records:
                txn.put(rec, event=False, keep_etag=True)
                count += 1
        return count

    def last_change_id(self) -> int:
        with self.reading() as view:
            return view._conn.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[0]

    def changes_since(self, after_id: int, limit: int = 1000) -> list[Change]:
        """Change-log rows with id > ``after_id``, oldest first."""
        with self.reading() as view:
            rows = view._conn.execute(
                "SELECT * FROM changes WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            ).fetchall()
        return [Change(**dict(r)) for r in rows]

    def close(self) -> None:
        """Close the database; later requests answer 503 (the simulator is stopping)."""
        with self._lock:
            self._closed = True
            self._conn.close()
        with self.changed:
            self.changed.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise ApiError(503, "The PowerVM REST service is stopping.")
