"""Helpers shared by the benchmark commands: a simulated host with REST latency, request counts,
percentiles and text tables.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import requests
from pypowervm import adapter as pvm_adapter

from powervm_openstack.deploy.processes import SIM_PASSWORD, SIM_USER, SimulatorProcess


@dataclasses.dataclass(frozen=True)
class Latency:
    """REST latency the simulator adds: ``write_ms`` to PUT/POST/DELETE, ``read_ms`` to GET."""

    write_ms: float
    read_ms: float
    jitter_ms: float = 0.0

    def rules(self) -> list[dict[str, object]]:
        """Fault rules for ``/sim/faults`` (logon and event polls included: they are REST calls too)."""
        writes = [{"kind": "latency", "method": m, "latency_ms": self.write_ms, "jitter_ms": self.jitter_ms}
                  for m in ("PUT", "POST", "DELETE")]  # fmt: skip
        read = {"kind": "latency", "method": "GET", "latency_ms": self.read_ms, "jitter_ms": self.jitter_ms}
        return [*writes, read]


class SimulatedHost:
    """A ``powervm-sim`` process with a topology and REST latency; counts what reached it."""

    def __init__(self, work_dir: Path, topology: str, latency: Latency, name: str = "sim") -> None:
        self.process = SimulatorProcess(work_dir, "--topology", topology, name=name)
        self.latency = latency

    def start(self) -> SimulatedHost:
        self.process.start()
        reply = requests.put(f"{self.url}/sim/faults", json=self.latency.rules(), timeout=10)
        reply.raise_for_status()
        return self

    @property
    def url(self) -> str:
        return self.process.url

    def connect(self) -> pvm_adapter.Adapter:
        """A pypowervm adapter logged on with a password (as a remote agent would)."""
        session = pvm_adapter.Session(host="127.0.0.1", port=self.process.port, protocol="http", username=SIM_USER,
                                      password=SIM_PASSWORD, timeout=120)  # fmt: skip
        return pvm_adapter.Adapter(session)

    def requests_served(self) -> Counter[str]:
        """Requests served so far, by ``"<METHOD> <kind>"``."""
        reply = requests.get(f"{self.url}/sim/stats", timeout=10)
        reply.raise_for_status()
        return Counter(reply.json()["requests"])

    def stop(self) -> None:
        self.process.stop()


@contextlib.contextmanager
def simulated_host(topology: str, latency: Latency, name: str = "sim") -> Iterator[SimulatedHost]:
    """A started :class:`SimulatedHost` in a temporary folder, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="pvm-bench-") as tmp:
        host = SimulatedHost(Path(tmp), topology, latency, name)
        try:
            yield host.start()
        finally:
            host.stop()


def fill_defaults(args: object, quick: Mapping[str, object], full: Mapping[str, object]) -> None:
    """Give every parameter the user left unset its ``--quick`` or full-size value."""
    for key, value in (quick if getattr(args, "quick", False) else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile {pct} is outside 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(ours: float, reference: float) -> float:
    return math.nan if not reference else ours / reference


def diff(after: Mapping[str, int], before: Mapping[str, int]) -> Counter[str]:
    """What was counted between two snapshots (only positive differences)."""
    return Counter({k: n - before.get(k, 0) for k, n in after.items() if n - before.get(k, 0) > 0})


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns left-aligned (text) or right-aligned (numbers), separated by two spaces."""
    cells = [[_fmt(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] in ("", None) for row in rows) for i in range(len(headers))
    ]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def takes_adapters(lpar: object) -> bool:
    """True for a partition that accepts a new adapter: stopped (offline) or with active RMC (DLPAR).

    Firmware, and the simulator, refuse adding an adapter to a running partition without RMC.
    """
    return getattr(lpar, "state", "") == "not activated" or getattr(lpar, "rmc_state", "") == "active"
