"""Logon and sessions: password logon, local file-based logon, expiry.

Tokens and passwords are never logged; a session is named in logs by a short fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import tempfile
import threading
import time

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.state import xml

LOG = logging.getLogger(__name__)


def fingerprint(token: str) -> str:
    """A short, non-reversible name for a token, safe to log."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


class Sessions:
    """The logged-on sessions of one simulator.

    :param username: / :param password: the only account accepted by password logon.
    :param token_dir: where local (file-based) logon writes token files (mode 0600).
    :param idle_timeout: seconds after which an unused session answers 401; None = never.
    """

    def __init__(
        self, username: str, password: str, token_dir: str | None = None, idle_timeout: float | None = None
    ) -> None:
        self._username = username
        self._password = password
        self._token_dir = token_dir or tempfile.mkdtemp(prefix="powervm-sim-tokens-")
        self._idle_timeout = idle_timeout
        self._last_used: dict[str, float] = {}
        self._lock = threading.Lock()

    def logon(self, body: bytes) -> str:
        """Handle a LogonRequest; return the LogonResponse XML; raise ApiError 401 on bad credentials."""
        req = xml.parse(body)
        if xml.local(req) != "LogonRequest":
            raise ApiError(400, f"Expected a LogonRequest, got {xml.local(req)}.")
        user = xml.text(req, "UserID", "", ns=xml.WEB_NS)
        file_auth = (xml.text(req, "GenerateX-API-SessionFile", "", ns=xml.WEB_NS) or "").lower() == "true"
        token = secrets.token_urlsafe(96)
        if file_auth:
            field, value = "X-API-SessionFile", self._write_token_file(token)
        elif secrets.compare_digest(user, self._username) and secrets.compare_digest(
            xml.text(req, "Password", "", ns=xml.WEB_NS) or "", self._password
        ):
            field, value = "X-API-Session", token
        else:
            LOG.warning("Logon refused for user %r: wrong user name or password", user)
            raise ApiError(401, "Logon failed: the user name or password is not valid.")
        with self._lock:
            self._last_used[token] = time.monotonic()
        LOG.info(
            "Logon of user %r (%s), session %s",
            user,
            "local file" if file_auth else "password",
            fingerprint(token),
        )
        resp = xml.root("LogonResponse", "", schema="V1_1_0", ns=xml.WEB_NS)
        xml.leaf(resp, field, value, kb="ROR")
        return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml.tostring(resp)

    def check(self, token: str | None) -> None:
        """Raise ApiError 401 unless ``token`` is a live session; refresh its idle time."""
        now = time.monotonic()
        with self._lock:
            last = self._last_used.get(token or "")
            if last is None or (self._idle_timeout is not None and now - last > self._idle_timeout):
                self._last_used.pop(token or "", None)
                raise ApiError(401, "The session is not valid or has expired. Log on again.")
            self._last_used[token] = now

    def logoff(self, token: str | None) -> None:
        with self._lock:
            self._last_used.pop(token or "", None)

    def expire_all(self) -> int:
        """End every session (fault injection, or a simulated restart); return how many."""
        with self._lock:
            count = len(self._last_used)
            self._last_used.clear()
        LOG.info("Expired %d session(s)", count)
        return count

    def _write_token_file(self, token: str) -> str:
        fd, path = tempfile.mkstemp(prefix="token-", dir=self._token_dir)
        with os.fdopen(fd, "w") as handle:
            handle.write(token)
        os.chmod(path, 0o600)
        return path
