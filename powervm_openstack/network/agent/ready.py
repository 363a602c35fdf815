"""Ports whose VLAN is on the bridge already, marked ACTIVE at their plug without waiting for the worker.

A plug of a port provisioned at its binding needs no REST call, only neutron's
``update_device_list``. Served by the worker it would wait for whatever the worker is doing
(a bridge update for another binding takes a write's latency, 300 ms and more on a busy
NovaLink), which was the tail of plug -> ACTIVE. The listener thread decides a plug is ready (its
binding is known and its VLAN is present) and hands its MAC here; this reporter's own thread tells
neutron at once. The plug still goes to the worker, which only does the bookkeeping and skips the
report when :meth:`ReadyReporter.reported` says it was made.

Guarantees: a MAC is counted as reported only once neutron answered; on an RPC error nothing is
counted and the worker reports the port as usual. No REST call is made here. Locks: one internal
lock for the reported set; the reporting thread holds none while calling neutron.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)
_STOP = object()


class ReadyReporter:
    """A daemon thread marking ready plugs ACTIVE; ``report(macs)`` is the agent's neutron call."""

    def __init__(self, report: Callable[[list[str]], None], name: str = "ready-plugs") -> None:
        self._report = report
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        self._name = name
        self._thread: threading.Thread | None = None

    def offer(self, mac: str) -> None:
        """Mark this plug's port ACTIVE soon (listener thread; returns at once). Starts the thread on first use."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put(mac)

    def reported(self, mac: str) -> bool:
        """True (once) when the port was marked ACTIVE here since its plug was offered."""
        with self._lock:
            if mac in self._reported:
                self._reported.discard(mac)
                return True
            return False

    def forget(self, mac: str) -> None:
        """The port was unplugged or went away: a report made for an earlier plug no longer counts."""
        with self._lock:
            self._reported.discard(mac)

    def stop(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(_STOP)

    def _loop(self) -> None:
        while True:
            macs = [self._queue.get()]
            while not self._queue.empty():  # plugs that came meanwhile go in the same call
                macs.append(self._queue.get())
            if _STOP in macs:
                return
            self._send([str(m) for m in dict.fromkeys(macs)])

    def _send(self, macs: list[str]) -> None:
        try:
            self._report(macs)
        except Exception as exc:  # the worker reports them with the plug's batch instead
            LOG.warning("Marking ready port(s) %s ACTIVE failed (%s); left to the worker", macs, exc)
            return
        with self._lock:
            self._reported.update(macs)
