"""VLANs a bridge refused, kept apart so that they never hold up the others, retried with backoff.

A VLAN is refused by the planner (an orphan trunk carries it, out of range, the SEA is full) or by
the firmware (an update answered 400, the VLAN found by bisecting the update's new VLANs). While
refused it is left out of every other update of its bridge; it is retried alone after ``delay``
seconds, the delay doubling on every failed try (from ``FIRST_DELAY`` up to ``MAX_DELAY``), so
never more than once per second. The refusal is logged once, when first seen.
"""

from __future__ import annotations

import dataclasses
import time

FIRST_DELAY = 1.0
MAX_DELAY = 300.0


@dataclasses.dataclass
class Refused:
    bridge: str
    vlan: int
    reason: str
    message: str
    tries: int = 1
    delay: float = FIRST_DELAY
    next_try: float = 0.0


class RefusedVlans:
    """The refused VLANs of every bridge, by ``(bridge, vlan)``. Used on the worker thread only."""

    def __init__(self, clock=time.monotonic) -> None:  # noqa: ANN001 - a callable returning seconds
        self._clock = clock
        self._refused: dict[tuple[str, int], Refused] = {}

    def refuse(self, bridge: str, vlan: int, reason: str, message: str) -> bool:
        """Record a refusal (or a failed retry); True the first time, when the caller logs it."""
        key = (bridge.lower(), vlan)
        known = self._refused.get(key)
        if known is None:
            self._refused[key] = Refused(bridge, vlan, reason, message, next_try=self._clock() + FIRST_DELAY)
            return True
        known.tries += 1
        known.delay = min(MAX_DELAY, known.delay * 2)
        known.next_try = self._clock() + known.delay
        known.message = message
        return False

    def clear(self, bridge: str, vlan: int) -> Refused | None:
        return self._refused.pop((bridge.lower(), vlan), None)

    def blocked(self, bridge: str) -> set[int]:
        """The VLANs of ``bridge`` to leave out of its updates now."""
        return {vlan for (b, vlan) in self._refused if b == bridge.lower()}

    def due(self) -> list[Refused]:
        now = self._clock()
        return [r for r in self._refused.values() if r.next_try <= now]

    def get(self, bridge: str, vlan: int) -> Refused | None:
        return self._refused.get((bridge.lower(), vlan))

    def next_due_in(self) -> float | None:
        """Seconds until the next retry is due (None when nothing is refused)."""
        if not self._refused:
            return None
        return max(0.0, min(r.next_try for r in self._refused.values()) - self._clock())
