"""Connect to the PowerVM REST API (NovaLink), waiting for it when it is not up yet.

On a NovaLink partition the default is local (file-based) authentication over http on
localhost, which needs no credentials. A remote endpoint takes a user and password over
https; the password is never logged.

TLS: pypowervm checks the server certificate at logon only and sends every later request
unverified. ``VerifiedSession`` verifies every request (against ``ca_file``, or the system CAs)
unless ``insecure`` is set; plain http is refused for a host that is not this machine.
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
            getattr(conf[group], opt.dest)


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
            adapter = pvm_adapter.Adapter(session)
            LOG.info("Connected to the PowerVM REST API at %s://%s (attempt %d, %s logon)", protocol, rest.host,
                     attempt, "password" if rest.user else "local file")  # fmt: skip
            return adapter
        except (pvm_exc.ConnectionError, pvm_exc.SSLError, pvm_exc.TimeoutError, pvm_exc.HttpNotFound) as exc:
            if isinstance(exc, pvm_exc.SSLError) or (deadline is not None and time.monotonic() > deadline):
                raise
            LOG.warning("PowerVM REST API at %s://%s is not reachable (attempt %d): %s; retrying in %ds",
                        protocol, rest.host, attempt, _short(exc), rest.retry_interval)  # fmt: skip
            time.sleep(rest.retry_interval)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]
