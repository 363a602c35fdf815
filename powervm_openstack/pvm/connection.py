"""Connect to the PowerVM REST API (NovaLink), waiting for it when it is not up yet.

On a NovaLink partition the default is local (file-based) authentication over http on
localhost, which needs no credentials. A remote endpoint takes a user and password over
https; the password is never logged.

TLS: pypowervm checks the server certificate at logon only and sends every later request
unverified. ``VerifiedSession`` verifies every request (against ``ca_file``, or the system CAs)
unless ``insecure`` is set; plain http is refused for a host that is not this machine.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from oslo_config import cfg
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc

LOG = logging.getLogger(__name__)
T = TypeVar("T")

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
    cfg.StrOpt(
        "ca_file",
        help="CA bundle (or the NovaLink certificate) to verify https against; default: the system CAs. "
        "$REQUESTS_CA_BUNDLE, when set in the environment, takes precedence (pypowervm builds its own "
        "requests sessions).",
    ),
    cfg.BoolOpt(
        "insecure",
        default=False,
        help="Do not verify the https certificate, and allow plain http to another host. For test set-ups only.",
    ),
    cfg.IntOpt("timeout", default=300, min=10, help="Seconds one REST request may take."),
    cfg.IntOpt(
        "retry_interval", default=5, min=1, help="Seconds between attempts while the REST API is not reachable."
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(OPTS, group=GROUP)


def check_opts(conf: cfg.ConfigOpts, groups: dict[str, list[cfg.Opt]]) -> None:
    """Read every option once so a malformed value fails now, not at first use.

    :raises oslo_config.cfg.Error: naming the option and the bad value.
    """
    for group, opts in groups.items():
        for opt in opts:
            try:
                getattr(conf[group], opt.dest)
            except (cfg.ConfigFileValueError, ValueError) as exc:
                # oslo.config's text names a LocationInfo object, not the file or the value.
                reason = str(exc).split("is not valid: ", 1)[-1]
                raw = _raw_value(conf, group, opt.dest)
                shown = f" = {raw!r}" if raw is not None else ""
                raise cfg.Error(f"[{group}] {opt.dest}{shown} is not valid: {reason}") from None


def _raw_value(conf: cfg.ConfigOpts, group: str, name: str) -> str | None:
    """The value as written in the last configuration file that sets it (None when none does)."""
    import configparser

    found = None
    for path in conf.config_file or []:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path)
        except configparser.Error:
            continue
        if parser.has_option(group, name):
            found = parser.get(group, name)
    return found


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, OPTS)]


_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class InsecureConnectionRefused(ValueError):
    """Plain http to another machine without ``insecure``: credentials would cross the network in clear."""


class VerifiedSession(pvm_adapter.Session):
    """A pypowervm Session that verifies the server certificate on every request, not only at logon.

    :param verify: what ``requests`` takes: True (system CAs), a CA bundle path, or False.
    """

    def __init__(self, *args: object, verify: bool | str = True, **kwargs: object) -> None:
        self._verify = verify  # set before Session.__init__, which logs on
        super().__init__(*args, **kwargs)

    def request(self, method: str, path: str, *args: object, **kwargs: object) -> pvm_adapter.Response:
        if self.protocol == "https":
            kwargs["verify"] = self._verify
        return super().request(method, path, *args, **kwargs)


def _protocol(rest: cfg.ConfigOpts.GroupAttr) -> str:
    if rest.protocol:
        protocol = rest.protocol
    else:
        protocol = "http" if rest.user is None and rest.host in _LOCAL_HOSTS else "https"
    if protocol == "http" and rest.host not in _LOCAL_HOSTS and not rest.insecure:
        raise InsecureConnectionRefused(
            f"[powervm_rest] protocol http to host {rest.host!r} would send the REST credentials in clear: "
            "use https, or set insecure = true for a test set-up."
        )
    return protocol


def _verify(rest: cfg.ConfigOpts.GroupAttr) -> bool | str:
    if rest.insecure:
        LOG.warning("[powervm_rest] insecure = true: the certificate of %s is not verified", rest.host)
        return False
    return rest.ca_file or True


def endpoint(conf: cfg.ConfigOpts) -> str:
    """``protocol://host:port`` of the REST API as configured (the default port filled in)."""
    rest = conf[GROUP]
    protocol = _protocol(rest)
    port = rest.port or (12080 if protocol == "http" else 12443)
    return f"{protocol}://{rest.host}:{port}"


def is_transient(exc: BaseException) -> bool:
    """True for what a later attempt may not meet: unreachable, timed out, 5xx, VIOS busy, not up yet (404).

    An authentication refusal (401, 403), a certificate nobody trusts and any other 4xx are not.
    """
    if isinstance(exc, (pvm_exc.ConnectionError, pvm_exc.TimeoutError, pvm_exc.HttpNotFound)):
        return True
    if isinstance(exc, pvm_exc.HttpError):
        status = exc.response.status if exc.response is not None else None
        her = getattr(exc, "her_wrap", None)
        return (status is not None and status >= 500) or (her is not None and her.is_vios_busy())
    return False


def reason(exc: BaseException) -> str:
    """What went wrong, in a few words, without pypowervm's and urllib3's chains."""
    if isinstance(exc, pvm_exc.HttpError):
        status = exc.response.status if exc.response is not None else "?"
        her = getattr(exc, "her_wrap", None)
        message = her.message if her is not None and her.message else (exc.response.reason if exc.response else "")
        return f"HTTP {status} {message}".strip()
    text = str(exc)
    for needle, short in _REASONS:
        if needle in text:
            return short
    if isinstance(exc, pvm_exc.TimeoutError):
        return "timed out"
    return (text.splitlines() or [type(exc).__name__])[0][:200]


_REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "host name not known"),
    ("Temporary failure in name resolution", "host name not resolved"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("timed out", "timed out"),
    ("RemoteDisconnected", "the connection was closed without an answer"),
    ("Connection aborted", "the connection was closed without an answer"),
    ("Connection reset", "connection reset"),
)


def connect(
    conf: cfg.ConfigOpts, stop_after: float | None = None, helpers: list[Callable[..., Any]] | None = None
) -> pvm_adapter.Adapter:
    """A logged-on pypowervm Adapter; retries while the REST API is unreachable or answers 5xx/busy.

    :param stop_after: give up after this many seconds (None: wait as long as it takes, logging
        each failed attempt; an agent must not die because NovaLink boots after it).
    :raises pypowervm.exceptions.Error: refused logon or untrusted certificate (not retried), or
        the deadline passed.
    :param helpers: pypowervm adapter helpers wrapping every request (the compute driver's timing).
    """
    rest = conf[GROUP]
    protocol = _protocol(rest)

    def logon() -> pvm_adapter.Adapter:
        session = VerifiedSession(
            verify=_verify(rest),
            host=rest.host,
            port=rest.port,
            protocol=protocol,
            username=rest.user,
            password=rest.password,
            certpath=rest.cert_path,
            timeout=rest.timeout,
        )
        return pvm_adapter.Adapter(session, helpers=helpers)

    adapter = wait_out(logon, conf, "log on", stop_after=stop_after)
    LOG.info("Connected to the PowerVM REST API at %s (%s logon)", endpoint(conf),
             "password" if rest.user else "local file")  # fmt: skip
    return adapter


def wait_out(call: Callable[[], T], conf: cfg.ConfigOpts, what: str, stop_after: float | None = None) -> T:
    """``call()``, retried every ``retry_interval`` while it fails transiently (one log line per attempt).

    :raises pypowervm.exceptions.Error: a failure that is not transient, or any once ``stop_after``
        seconds have passed.
    """
    rest = conf[GROUP]
    deadline = None if stop_after is None else time.monotonic() + stop_after
    attempt = 0
    while True:
        attempt += 1
        try:
            with _quiet_pypowervm():
                return call()
        except pvm_exc.Error as exc:
            if not is_transient(exc) or (deadline is not None and time.monotonic() >= deadline):
                raise
            failure = reason(exc)
        # Logged outside the handler: oslo.log appends the whole exception chain to lines logged inside one.
        LOG.warning("Cannot %s: PowerVM REST API at %s: %s (attempt %d); next attempt in %ds", what,
                    endpoint(conf), failure, attempt, rest.retry_interval)  # fmt: skip
        time.sleep(rest.retry_interval)


@contextlib.contextmanager
def _quiet_pypowervm() -> Iterator[None]:
    """pypowervm logs each failed request with urllib3's whole chain; the caller logs one line instead."""
    logger = logging.getLogger("pypowervm.adapter")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
