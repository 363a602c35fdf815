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
    fired: int = 0

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
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


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
        parsed = [FaultRule(**rule) for rule in rules]
        with self._lock:
            self._rules = parsed
        LOG.info("Fault rules set: %s", [f"{r.kind} {r.method} {r.path!r} rate={r.rate}" for r in parsed])

    def add_rule(self, rule: dict[str, Any]) -> None:
        parsed = FaultRule(**rule)
        with self._lock:
            self._rules.append(parsed)
        LOG.info("Fault rule added: %s %s %r rate=%s", parsed.kind, parsed.method, parsed.path, parsed.rate)

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def apply(self, method: str, path: str) -> list[FaultRule]:
        """Apply the matching rules to one request: sleep, or raise ApiError/DropConnection.

        :returns: the ``malformed`` rules that fired, for ``spoil`` to apply to the answer.
        """
        spoilers = []
        for rule in self._firing(method, path):
            self.injected[rule.kind] += 1
            if rule.kind == "malformed":
                spoilers.append(rule)
            else:
                self._act(rule, method, path)
        return spoilers

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
        LOG.info("Injecting %s on %s %s", rule.kind, method, path)
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
