"""Requests the simulator served, counted by method and object kind (``GET /sim/stats``).

For benchmarks and tests that assert how many REST calls a client made; ``DELETE /sim/stats``
starts the count again. Admin (``/sim``) requests are not counted.
"""

from __future__ import annotations

import threading
from collections import Counter

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.http import routes


class RequestStats:
    """Thread-safe request counter keyed ``"<METHOD> <kind>"``, e.g. ``"POST NetworkBridge"``."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, method: str, path: str) -> None:
        key = f"{method} {kind_of(path)}"
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, object]:
        """``{"total": n, "requests": {"GET NetworkBridge": n, ...}}``."""
        with self._lock:
            counts = dict(self._counts)
        return {"total": sum(counts.values()), "requests": dict(sorted(counts.items()))}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def kind_of(path: str) -> str:
    """The object kind a path addresses (``ClientNetworkAdapter``, ``LogicalPartition/do``), or ``other``."""
    try:
        route = routes.parse(path)
    except ApiError:
        return "other"
    return f"{route.kind}/{route.suffix}" if route.suffix else route.kind
