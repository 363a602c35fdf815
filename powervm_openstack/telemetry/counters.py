"""Counter arithmetic on PCM samples (pure functions).

PCM counters are unsigned 64-bit and restart at zero when a partition is activated again. A counter
that went down is told apart as follows: from a value in the upper half of the range it wrapped
(the delta runs through 2**64); otherwise the partition restarted and the delta is the new value.
"""

from __future__ import annotations

WRAP = 2**64
NS_PER_S = 1_000_000_000


def delta(prev: int | float | None, cur: int | float | None) -> int | None:
    """Increase of a counter between two samples; None when either sample lacks it."""
    if prev is None or cur is None:
        return None
    prev, cur = int(prev), int(cur)
    if cur >= prev:
        return cur - prev
    if prev >= WRAP // 2:
        return cur + WRAP - prev
    return cur


def rate(prev: int | float | None, cur: int | float | None, seconds: float) -> float | None:
    """Per-second rate between two samples ``seconds`` apart; None without two samples."""
    moved = delta(prev, cur)
    if moved is None or seconds <= 0:
        return None
    return moved / seconds


def busy_cycles(capped: int, uncapped: int, idle: int) -> int:
    """Cycles a partition did work: capped plus uncapped, less the idle cycles it was given."""
    return max(int(capped or 0) + int(uncapped or 0) - int(idle or 0), 0)


def cycles_to_ns(cycles: int, cycles_per_second: int | float) -> int:
    """Processor cycles (of the PCM time base) to nanoseconds, as ceilometer's ``cpu`` meter wants."""
    if not cycles_per_second:
        raise ValueError("procCyclesPerSecond is missing or zero in the PHYP sample")
    return int(int(cycles) * NS_PER_S // int(cycles_per_second))


def is_fresh_entry(capped: int, uncapped: int, idle: int) -> bool:
    """PHYP lists a just-migrated partition with all-zero counters first; such a sample has no history."""
    return capped == uncapped == idle == 0


def used_mib(logical_mb: int, pct_available: int | float) -> int:
    """Memory in use (MiB) from the partition's memory and the percentage its OS reports available."""
    pct = min(max(float(pct_available), 0.0), 100.0)
    return int(round(int(logical_mb) * (100.0 - pct) / 100.0))
