"""Where one driver operation's time goes: waiting on REST, the driver's own CPU, waiting for neutron.

:func:`rest_helper` is a pypowervm adapter helper (it wraps every REST request of the driver's
adapter) that adds each request's wall time and thread CPU time to the measurement open on the
calling thread, if any. :func:`measure` opens one around an operation and logs, at its end, one
INFO line that ``python -m benchmarks cloud`` reads from nova-compute's log::

    Timing of spawn of instance <uuid>: wall 3.210 s, REST 2.100 s in 41 calls (CPU in them 0.150 s),
    driver CPU 0.300 s, network-vif-plugged wait 0.700 s, port allocation wait 0.100 s

*driver CPU* is the operation thread's CPU time (``time.thread_time``) from start to end: the
driver's code and pypowervm's (building requests, parsing the XML answers), none of nova's other
threads or of the REST server. *CPU in them* is the part of it spent inside REST calls. *port
allocation wait* is the time the spawn waited for nova's asynchronous port allocation with neutron
(:func:`wait_for_network`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

LOG = logging.getLogger(__name__)
_local = threading.local()


@dataclasses.dataclass
class Timing:
    """Seconds accumulated by one operation on its thread."""

    rest_s: float = 0.0
    rest_cpu_s: float = 0.0
    calls: int = 0
    wait_s: float = 0.0
    network_s: float = 0.0


def rest_helper(func: Callable[..., Any]) -> Callable[..., Any]:
    """pypowervm adapter helper: time ``func`` (one REST request) into the calling thread's open measurement."""

    def request(*args: Any, **kwargs: Any) -> Any:
        timing: Timing | None = getattr(_local, "timing", None)
        if timing is None:
            return func(*args, **kwargs)
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            timing.rest_s += time.perf_counter() - wall
            timing.rest_cpu_s += time.thread_time() - cpu
            timing.calls += 1

    return request


def add_wait(seconds: float) -> None:
    """Count ``seconds`` of the open measurement (if any) as waiting for another service's event."""
    timing: Timing | None = getattr(_local, "timing", None)
    if timing is not None:
        timing.wait_s += seconds


def wait_for_network(network_info: Any) -> None:
    """Wait for nova's asynchronous port allocation (if ``network_info`` is nova's async wrapper), timing the wait."""
    wait = getattr(network_info, "wait", None)
    if wait is None:
        return
    start = time.perf_counter()
    wait(do_raise=True)
    timing: Timing | None = getattr(_local, "timing", None)
    if timing is not None:
        timing.network_s += time.perf_counter() - start


@contextlib.contextmanager
def measure(what: str) -> Iterator[Timing]:
    """Measure the operation run inside on this thread, then log its timing line (also when it fails)."""
    outer = getattr(_local, "timing", None)
    _local.timing = timing = Timing()
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        yield timing
    finally:
        _local.timing = outer
        LOG.info("Timing of %s: wall %.3f s, REST %.3f s in %d calls (CPU in them %.3f s), driver CPU %.3f s, "
                 "network-vif-plugged wait %.3f s, port allocation wait %.3f s", what, time.perf_counter() - wall,
                 timing.rest_s, timing.calls, timing.rest_cpu_s, time.thread_time() - cpu, timing.wait_s,
                 timing.network_s)  # fmt: skip
