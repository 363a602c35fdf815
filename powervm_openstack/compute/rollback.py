"""Undo what a multi-step operation did when a later step fails.

Each completed step registers how to undo itself; on failure the undo actions run newest first.
An undo that fails is logged and the rest still run, and the original error is the one raised, so
a cleanup problem never hides why the operation failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

LOG = logging.getLogger(__name__)


class Rollback:
    def __init__(self, what: str) -> None:
        self.what = what
        self._undo: list[tuple[str, Callable[[], Any]]] = []

    def add(self, description: str, undo: Callable[[], Any]) -> None:
        """Register ``undo`` for a step that has just completed."""
        self._undo.append((description, undo))

    def run(self) -> None:
        for description, undo in reversed(self._undo):
            try:
                undo()
                LOG.info("%s: rolled back: %s", self.what, description)
            except Exception:
                LOG.exception("%s: could not roll back %s; it may need manual cleanup", self.what, description)
        self._undo.clear()


@contextmanager
def rollback_on_error(what: str) -> Iterator[Rollback]:
    """``with rollback_on_error('spawn of X') as rb: ...; rb.add(...)``: undo everything on an exception."""
    rb = Rollback(what)
    try:
        yield rb
    except BaseException:
        LOG.warning("%s failed; rolling back %d step(s)", what, len(rb._undo))
        rb.run()
        raise
