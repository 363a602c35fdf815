"""Fault injection, set per endpoint and method at start (a file) or at run time (``/sim/faults``).

A rule matches requests by method and a path regular expression, fires with a probability
(``rate``) at most ``count`` times, and does one thing:

=================  ============================================================================
``latency``        sleep ``latency_ms`` (+ uniform ``jitter_ms``), then serve normally
``etag_mismatch``  answer 412 as if another client changed the object first
``server_error``   answer ``status`` (default 500) with ``message``
``vios_busy``      answer 500 with the VIOS-busy message real VIOSes send (HSCL3205)
``drop``           close the connection without any response
``session_expiry`` end every session first, so the request answers 401
``event_loss``     drop all queued events (``signalled``: clients then get MISSING_EVENTS)
``malformed``      serve normally, then spoil the answer (``mode``): ``truncate`` (half the
                   body), ``wrong_type`` (VLAN and switch ids that are not numbers), ``huge``
                   (a 16 MiB text node, beyond what an XML parser accepts by default)
=================  ============================================================================

Every rule has ``kind``, ``method``, ``path``, ``rate`` and ``count``; each kind adds only its
own fields (``latency_ms``/``jitter_ms``, ``status``/``message``, ``signalled``, ``mode``).
``server_error``, ``vios_busy`` and ``drop`` also take ``when``: ``before`` (default: the request
is refused and nothing changes) or ``after`` (the request is served and its change committed,
then the answer is replaced by the fault: "committed, but the reply was lost").
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from powervm_openstack.simulator.errors import VIOS_BUSY_MESSAGE, ApiError, DropConnection

LOG = logging.getLogger(__name__)

KINDS = ("latency", "etag_mismatch", "server_error", "vios_busy", "drop", "session_expiry", "event_loss", "malformed")
MALFORMED_MODES = ("truncate", "wrong_type", "huge")
_NUMERIC_FIELDS = re.compile(r"(<(?:PortVLANID|TaggedVLANIDs|VirtualSwitchID|SwitchID)\b[^>]*>)[^<]*")
METHODS = ("*", "GET", "PUT", "POST", "DELETE")
WHEN = ("before", "after")
COMMON_FIELDS = ("kind", "method", "path", "rate", "count")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "latency": ("latency_ms", "jitter_ms"),
    "etag_mismatch": (),
    "server_error": ("status", "message", "when"),
    "vios_busy": ("when",),
    "drop": ("when",),
    "session_expiry": (),
    "event_loss": ("signalled",),
    "malformed": ("mode",),
}


@dataclasses.dataclass
class FaultRule:
    kind: str
    method: str = "*"
    path: str = ""
    rate: float = 1.0
    count: int | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    status: int = 500
    message: str = "Injected server error."
    signalled: bool = True
    mode: str = "truncate"
    when: str = "before"
    fired: int = 0

    @classmethod
    def parse(cls, rule: Any, name: str = "fault rule") -> FaultRule:
        """A rule from a mapping; any unknown field or bad value is refused naming ``name`` and what is allowed."""
        if not isinstance(rule, dict):
            raise ValueError(f"{name} must be a mapping of fields, got {type(rule).__name__}: {rule!r}.")
        kind = rule.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{name}: Unknown fault kind {kind!r}; allowed: {', '.join(KINDS)}.")
        allowed = COMMON_FIELDS + KIND_FIELDS[kind]
        unknown = sorted(set(rule) - set(allowed))
        if unknown:
            raise ValueError(f"{name} ({kind}): unknown field(s) {', '.join(unknown)}; "
                             f"allowed for {kind}: {', '.join(allowed)}.")  # fmt: skip
        try:
            return cls(**rule)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} ({kind}): {exc}") from None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown fault kind {self.kind!r}; allowed: {', '.join(KINDS)}.")
        self.method = self.method.upper()
        if self.method not in METHODS:
            raise ValueError(f"Unknown method {self.method!r} in fault rule; allowed: {', '.join(METHODS)}.")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"Fault rate {self.rate} is outside 0.0-1.0.")
        if self.kind == "malformed" and self.mode not in MALFORMED_MODES:
            raise ValueError(f"Unknown malformed mode {self.mode!r}; allowed: {', '.join(MALFORMED_MODES)}.")
        if self.when not in WHEN:
            raise ValueError(f"'when' is {self.when!r}; allowed: {', '.join(WHEN)}.")
        if self.kind == "server_error" and not 500 <= self.status <= 599:
            raise ValueError(f"server_error status {self.status} is not a 5xx status.")
        try:
            self._regex = re.compile(self.path)
        except re.error as exc:
            raise ValueError(f"Fault path {self.path!r} is not a valid regular expression: {exc}") from exc

    def matches(self, method: str, path: str) -> bool:
        exhausted = self.count is not None and self.fired >= self.count
        return not exhausted and self.method in ("*", method) and bool(self._regex.search(path))

    def as_dict(self) -> dict[str, Any]:
        """The rule's own fields (those of its kind only) and how often it fired."""
        return {name: getattr(self, name) for name in (*COMMON_FIELDS, *KIND_FIELDS[self.kind], "fired")}

    @property
    def late(self) -> bool:
        """Acts on the answer (spoils it, or replaces it after the commit) rather than before dispatch."""
        return self.kind == "malformed" or self.when == "after"


class FaultInjector:
    """Applies fault rules to requests; thread-safe; counts what it injected by kind.

    :param on_session_expiry: called to end every session.
    :param on_event_loss: called with ``signalled`` to drop queued events.
    """

    def __init__(
        self,
        on_session_expiry: Callable[[], object] = lambda: None,
        on_event_loss: Callable[[bool], object] = lambda signalled: None,
        seed: int | None = None,
    ) -> None:
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._on_session_expiry = on_session_expiry
        self._on_event_loss = on_event_loss
        self.injected: Counter[str] = Counter()

    def set_rules(self, rules: list[dict[str, Any]]) -> None:
        """Replace all rules (validated first: a bad rule changes nothing)."""
        if not isinstance(rules, list):
            rules = [rules]
        parsed = [FaultRule.parse(rule, f"fault rule {i}") for i, rule in enumerate(rules, 1)]
        with self._lock:
            self._rules = parsed
        LOG.info("Fault rules set: %s", [f"{r.kind} {r.method} {r.path!r} rate={r.rate}" for r in parsed])

    def add_rule(self, rule: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Add one rule or a list of them (all validated first: a bad one adds nothing)."""
        rules = rule if isinstance(rule, list) else [rule]
        parsed = [FaultRule.parse(r, f"fault rule {i}") for i, r in enumerate(rules, 1)]
        with self._lock:
            self._rules.extend(parsed)
        for new in parsed:
            LOG.info("Fault rule added: %s %s %r rate=%s when=%s", new.kind, new.method, new.path, new.rate, new.when)

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def apply(self, method: str, path: str) -> list[FaultRule]:
        """Apply the matching rules to one request: sleep, or raise ApiError/DropConnection.

        :returns: the rules that act on the answer (``malformed``, ``when: after``), for ``finish``.
        """
        late = []
        for rule in self._firing(method, path):
            self.injected[rule.kind if rule.when == "before" else f"{rule.kind} after commit"] += 1
            if rule.late:
                late.append(rule)
            else:
                self._act(rule, method, path)
        return late

    def finish(self, rules: list[FaultRule], method: str, path: str, body: str) -> str:
        """After the request was served (and committed): raise an after-commit fault, or spoil the body."""
        for rule in rules:
            if rule.when == "after":
                self._act(rule, method, path)
        return self.spoil([r for r in rules if r.kind == "malformed"], body)

    @staticmethod
    def spoil(rules: list[FaultRule], body: str) -> str:
        """The answer body as the ``malformed`` rules leave it."""
        for rule in rules:
            if rule.mode == "truncate":
                body = body[: len(body) // 2]
            elif rule.mode == "wrong_type":
                body = _NUMERIC_FIELDS.sub(r"\1NaN", body)
            else:
                cut = body.rfind("</")
                body = body[:cut] + "<Padding>" + "x" * (16 * 1024 * 1024) + "</Padding>" + body[cut:]
        return body

    def _firing(self, method: str, path: str) -> list[FaultRule]:
        with self._lock:
            fired = []
            for rule in self._rules:
                if rule.matches(method, path) and self._random.random() < rule.rate:
                    rule.fired += 1
                    fired.append(rule)
            return fired

    def _act(self, rule: FaultRule, method: str, path: str) -> None:
        if rule.kind == "latency":
            time.sleep((rule.latency_ms + self._random.uniform(0, rule.jitter_ms)) / 1000.0)
            return
        LOG.info(
            "Injecting %s on %s %s%s", rule.kind, method, path, " after the commit" if rule.when == "after" else ""
        )
        if rule.kind == "session_expiry":
            self._on_session_expiry()
        elif rule.kind == "event_loss":
            self._on_event_loss(rule.signalled)
        elif rule.kind == "drop":
            raise DropConnection()
        elif rule.kind == "etag_mismatch":
            raise ApiError(412, "The object was changed by another request (injected). Read it again and retry.")
        elif rule.kind == "vios_busy":
            raise ApiError(500, VIOS_BUSY_MESSAGE.format(vios="(injected)"))
        else:
            raise ApiError(rule.status, rule.message)
