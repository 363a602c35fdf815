"""Port changes waiting to be served, merged so that one batch makes one update per bridge.

Changes are keyed by MAC: a later plug or unplug of the same port replaces an earlier one.
A batch that could not be served is put back without losing what arrived meanwhile. The window
that gathers a batch starts when its first change arrives (a change that came while the previous
batch was served has already waited); an *urgent* plug (its VLAN is known to be on the bridge, so
serving it costs no REST call) ends the window at once, taking what has gathered so far with it.
"""

from __future__ import annotations

import dataclasses
import threading
import time

PLUG = "plug"
UNPLUG = "unplug"


@dataclasses.dataclass
class PortChange:
    mac: str
    action: str
    uri: str | None = None
    since: float = dataclasses.field(default_factory=time.monotonic)
    urgent: bool = False


@dataclasses.dataclass
class Batch:
    """What one pass of the agent serves."""

    changes: dict[str, PortChange] = dataclasses.field(default_factory=dict)
    added_uris: set[str] = dataclasses.field(default_factory=set)
    deleted_adapters: set[str] = dataclasses.field(default_factory=set)
    deleted_partitions: set[str] = dataclasses.field(default_factory=set)
    bridges: set[str] = dataclasses.field(default_factory=set)
    resync: str | None = None
    bindings: dict[str, dict] = dataclasses.field(default_factory=dict)  # mac -> port_update's port + segment
    deleted_ports: set[str] = dataclasses.field(default_factory=set)
    first_at: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.changes or self.added_uris or self.deleted_adapters or self.deleted_partitions
                    or self.bridges or self.resync or self.bindings or self.deleted_ports)  # fmt: skip

    def has_urgent(self) -> bool:
        return any(c.urgent for c in self.changes.values())

    def plugs(self) -> list[PortChange]:
        return [c for c in self.changes.values() if c.action == PLUG]

    def unplugs(self) -> list[PortChange]:
        return [c for c in self.changes.values() if c.action == UNPLUG]


class PendingChanges:
    """Thread-safe accumulation of port changes from events, RPC and heal."""

    def __init__(self) -> None:
        self._batch = Batch()
        self._cond = threading.Condition()

    def port(self, mac: str, action: str, uri: str | None = None, urgent: bool = False) -> None:
        with self._cond:
            self._started()
            old = self._batch.changes.get(mac)
            since = old.since if old else time.monotonic()
            self._batch.changes[mac] = PortChange(mac, action, uri, since, urgent)
            self._cond.notify_all()

    def bound(self, mac: str, binding: dict) -> None:
        """Neutron bound this port here (``port_update``): ``binding`` has the port and its segment."""
        self._update(lambda b: b.bindings.__setitem__(mac, binding))

    def port_deleted(self, port_id: str) -> None:
        self._update(lambda b: b.deleted_ports.add(port_id))

    def adapter_added(self, uri: str) -> None:
        self._update(lambda b: b.added_uris.add(uri))

    def adapter_deleted(self, uuid: str) -> None:
        self._update(lambda b: b.deleted_adapters.add(uuid.lower()))

    def partition_deleted(self, uuid: str) -> None:
        self._update(lambda b: b.deleted_partitions.add(uuid.lower()))

    def bridge_changed(self, uuid: str) -> None:
        self._update(lambda b: b.bridges.add(uuid.lower()))

    def resync(self, reason: str) -> None:
        self._update(lambda b: setattr(b, "resync", b.resync or reason))

    def has_plugs(self) -> bool:
        with self._cond:
            return bool(self._batch.plugs() or self._batch.added_uris)

    def take(self, timeout: float, window: float) -> Batch:
        """Wait up to ``timeout`` for a change, then ``window`` more to gather others; return the batch."""
        with self._cond:
            if not self._batch:
                self._cond.wait(timeout)
            if not self._batch:
                return Batch()
            deadline = self._batch.first_at + window
            while not self._batch.has_urgent() and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
        return self.take_now()

    def take_now(self) -> Batch:
        with self._cond:
            batch, self._batch = self._batch, Batch()
            return batch

    def put_back(self, batch: Batch) -> None:
        """Return an unserved batch; changes that arrived meanwhile win over its older ones."""
        with self._cond:
            newer = self._batch
            batch.changes.update(newer.changes)
            batch.added_uris |= newer.added_uris
            batch.deleted_adapters |= newer.deleted_adapters
            batch.deleted_partitions |= newer.deleted_partitions
            batch.bridges |= newer.bridges
            batch.resync = newer.resync or batch.resync
            batch.bindings.update(newer.bindings)
            batch.deleted_ports |= newer.deleted_ports
            batch.first_at = min(batch.first_at, newer.first_at) if newer else batch.first_at
            self._batch = batch
            self._cond.notify_all()

    def _started(self) -> None:
        if not self._batch:
            self._batch.first_at = time.monotonic()

    def _update(self, change: object) -> None:
        with self._cond:
            self._started()
            change(self._batch)  # type: ignore[operator]
            self._cond.notify_all()
