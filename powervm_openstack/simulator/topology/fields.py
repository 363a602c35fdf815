"""Validated reading of one topology YAML mapping, with error messages that name the path.

``Fields`` wraps one mapping of a topology file (``network_bridges[0].seas[1]``): unknown keys are
rejected on construction and every accessor checks the value's type and range. Every problem raises
``TopologyError`` whose message names where the value is, the bad value, and what is allowed.
"""

from __future__ import annotations

import re

#: Limit real PowerVM enforces: tagged VLANs on one virtual Ethernet adapter.
MAX_TAGGED_VLANS = 20

#: Marks a required value (``default`` of the accessors): a missing or null value is an error.
REQUIRED = object()


class TopologyError(ValueError):
    """A topology file that is not valid; the message says where, what, and what is allowed."""


class Fields:
    """One mapping of the file; every accessor validates and names ``where`` in its errors."""

    def __init__(self, data: object, where: str, allowed: tuple[str, ...]) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise TopologyError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            raise TopologyError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}")
        self.data, self.where = data, where

    def at(self, key: str) -> str:
        """The path of ``key`` for messages, e.g. ``network_bridges[0].pvid``."""
        return key if self.where == "topology" else f"{self.where}.{key}"

    def raw(self, key: str, default: object = REQUIRED) -> object:
        """The value as written (``default`` when absent or null; error when required)."""
        value = self.data.get(key)
        if value is None:
            if default is REQUIRED:
                raise TopologyError(f"{self.at(key)}: missing (required)")
            return default
        return value

    def items(self, key: str, allowed: tuple[str, ...]) -> list[Fields]:
        """A list of mappings, each checked for unknown keys."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise TopologyError(f"{self.at(key)}: expected a list, got {value!r}")
        return [Fields(v, f"{self.at(key)}[{i}]", allowed) for i, v in enumerate(value)]

    def text(self, key: str, default: object = REQUIRED, choices: tuple[str, ...] = (), max_len: int = 0,
            pattern: str = "", hint: str = "") -> str:  # fmt: skip
        """Text, optionally limited to ``choices``, ``max_len`` characters or a ``pattern``."""
        value = self.raw(key, default)
        if value is None:
            return value  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TopologyError(f"{self.at(key)}: expected text, got {value!r}")
        value = str(value)
        if choices and value not in choices:
            raise TopologyError(f"{self.at(key)}: {value!r} is not allowed; allowed: {', '.join(choices)}")
        if max_len and len(value) > max_len:
            raise TopologyError(f"{self.at(key)}: {value!r} is {len(value)} characters long, at most {max_len} allowed")
        if pattern and not re.fullmatch(pattern, value):
            raise TopologyError(f"{self.at(key)}: {value!r} is not valid ({hint or pattern})")
        return value

    def whole(self, key: str, default: object = REQUIRED, lo: int | None = None, hi: int | None = None) -> int:
        """A whole number within ``lo``-``hi``."""
        value = self.raw(key, default)
        if value is None:
            return value  # type: ignore[return-value]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TopologyError(f"{self.at(key)}: expected a whole number, got {value!r}")
        _in_range(self.at(key), value, lo, hi)
        return value

    def number(self, key: str, default: object = REQUIRED, lo: float | None = None, hi: float | None = None) -> float:
        """A number within ``lo``-``hi``."""
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TopologyError(f"{self.at(key)}: expected a number, got {value!r}")
        _in_range(self.at(key), value, lo, hi)
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        """true or false."""
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise TopologyError(f"{self.at(key)}: expected true or false, got {value!r}")
        return value

    def vlan(self, key: str, default: object = REQUIRED) -> int:
        """A VLAN ID (1-4094)."""
        return _vlan(self.at(key), self.raw(key, default))

    def vlans(self, key: str) -> tuple[int, ...]:
        """Tagged VLAN IDs: each 1-4094, no repeats, at most MAX_TAGGED_VLANS."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise TopologyError(f"{self.at(key)}: expected a list of VLAN IDs, got {value!r}")
        vlans = tuple(_vlan(f"{self.at(key)}[{i}]", v) for i, v in enumerate(value))
        if len(set(vlans)) != len(vlans):
            raise TopologyError(f"{self.at(key)}: a VLAN is listed twice in {list(vlans)}")
        if len(vlans) > MAX_TAGGED_VLANS:
            raise TopologyError(
                f"{self.at(key)}: {len(vlans)} tagged VLANs, at most {MAX_TAGGED_VLANS} allowed on one adapter"
            )
        return vlans

    def strings(self, key: str, default: list[str]) -> list[str]:
        """A list of names."""
        value = self.raw(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TopologyError(f"{self.at(key)}: expected a list of names, got {value!r}")
        return value

    def opt_list(self, key: str, count: int) -> list:
        """An optional list of exactly ``count`` values (``[None] * count`` when absent)."""
        value = self.raw(key, [None] * count)
        if not isinstance(value, list) or len(value) != count:
            raise TopologyError(f"{self.at(key)}: expected a list of {count} values (one per trunk), got {value!r}")
        return value


def _vlan(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4094:
        raise TopologyError(f"{where}: VLAN {value!r} is outside 1-4094")
    return value


def _in_range(where: str, value: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise TopologyError(f"{where}: {value!r} is outside the allowed range {lo}-{hi}")


def check_unique(values: list[tuple[object, str]], what: str) -> None:
    """Raise ``TopologyError`` at the second ``(value, where)`` whose value was already seen."""
    seen: dict[object, str] = {}
    for value, where in values:
        if value in seen:
            raise TopologyError(f"{where}: duplicate {what} {value!r} (already used by {seen[value]})")
        seen[value] = where
