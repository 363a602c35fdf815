"""Connect to the PowerVM REST API (NovaLink), waiting for it when it is not up yet.

On a NovaLink partition the default is local (file-based) authentication over http on
localhost, which needs no credentials. A remote endpoint takes a user and password over
https; the password is never logged.
"""

from __future__ import annotations

import logging
import time

from oslo_config import cfg
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc

LOG = logging.getLogger(__name__)

GROUP = "powervm_rest"

OPTS = [
    cfg.HostAddressOpt("host", default="localhost", help="Host of the PowerVM REST API (the NovaLink partition)."),
    cfg.PortOpt("port", help="Port of the REST API; default 12080 for http, 12443 for https."),
    cfg.StrOpt(
        "protocol",
        choices=["http", "https"],
        help="http (local authentication on the NovaLink partition) or https; default http for localhost "
        "without a user, https otherwise.",
    ),
    cfg.StrOpt("user", help="REST user for password logon; unset means local file-based logon on this partition."),
    cfg.StrOpt("password", secret=True, help="Password of the REST user."),
    cfg.StrOpt(
        "cert_path",
        default="/etc/ssl/certs/",
        help="Folder with the pinned NovaLink certificate (<host>.crt) for https logon.",
    ),
    cfg.IntOpt("timeout", default=300, min=10, help="Seconds one REST request may take."),
    cfg.IntOpt(
        "retry_interval", default=5, min=1, help="Seconds between attempts while the REST API is not reachable."
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, OPTS)]


def _protocol(rest: cfg.ConfigOpts.GroupAttr) -> str:
    if rest.protocol:
        return rest.protocol
    return "http" if rest.user is None and rest.host in ("localhost", "127.0.0.1", "::1") else "https"


def connect(conf: cfg.ConfigOpts, stop_after: float | None = None) -> pvm_adapter.Adapter:
    """A logged-on pypowervm Adapter; retries until the REST API answers.

    :param stop_after: give up after this many seconds (None: wait as long as it takes, logging
        each failed attempt; an agent must not die because NovaLink boots after it).
    :raises pypowervm.exceptions.Error: bad credentials (not retried), or the deadline passed.
    """
    rest = conf[GROUP]
    protocol = _protocol(rest)
    deadline = None if stop_after is None else time.monotonic() + stop_after
    attempt = 0
    while True:
        attempt += 1
        try:
            session = pvm_adapter.Session(
                host=rest.host,
                port=rest.port,
                protocol=protocol,
                username=rest.user,
                password=rest.password,
                certpath=rest.cert_path,
                timeout=rest.timeout,
            )
            adapter = pvm_adapter.Adapter(session)
            LOG.info("Connected to the PowerVM REST API at %s://%s (attempt %d, %s logon)", protocol, rest.host,
                     attempt, "password" if rest.user else "local file")  # fmt: skip
            return adapter
        except (pvm_exc.ConnectionError, pvm_exc.TimeoutError, pvm_exc.HttpNotFound) as exc:
            if deadline is not None and time.monotonic() > deadline:
                raise
            LOG.warning("PowerVM REST API at %s://%s is not reachable (attempt %d): %s; retrying in %ds",
                        protocol, rest.host, attempt, _short(exc), rest.retry_interval)  # fmt: skip
            time.sleep(rest.retry_interval)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]
