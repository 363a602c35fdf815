"""A look at the message broker before the agent starts: a refusal ends the agent, an outage does not.

oslo.messaging retries every connection failure for ever, including the ones no retry can fix (a
virtual host that does not exist, a refused login), and reports them as a traceback from its own
thread. The agent asks the broker once at start; a refusal is a configuration error (one line,
exit 2). An unreachable broker is left to oslo.messaging, which retries as it always does.
"""

from __future__ import annotations

import logging

import amqp
import amqp.exceptions
import oslo_messaging
from oslo_config import cfg

LOG = logging.getLogger(__name__)


class BrokerRefused(Exception):
    """The broker answered and refused this agent (credentials, virtual host, permissions)."""


def describe(url: oslo_messaging.TransportURL) -> str:
    """The transport URL without its password."""
    host = url.hosts[0] if url.hosts else None
    if host is None:
        return f"{url.transport}://"
    user = f"{host.username}@" if host.username else ""
    return f"{url.transport}://{user}{host.hostname}:{host.port or 5672}/{url.virtual_host or ''}"


def check(conf: cfg.ConfigOpts, timeout: float = 10.0) -> None:
    """Log on to the first broker of ``transport_url`` once (plain AMQP only; TLS set-ups are skipped).

    :raises BrokerRefused: naming the URL (no password) and what was refused.
    """
    url = oslo_messaging.TransportURL.parse(conf, conf.transport_url)
    if url.transport not in ("rabbit", "amqp") or not url.hosts or _uses_tls(conf):
        return
    host = url.hosts[0]
    connection = amqp.Connection(
        host=f"{host.hostname}:{host.port or 5672}",
        userid=host.username or "guest",
        password=host.password or "guest",
        virtual_host=url.virtual_host or "/",
        connect_timeout=timeout,
    )
    try:
        connection.connect()
    except (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed) as exc:
        raise BrokerRefused(f"the message broker at {describe(url)} refused the agent: {_why(exc)}") from exc
    except (OSError, amqp.exceptions.AMQPError) as exc:
        LOG.warning("Message broker at %s not reachable now (%s); oslo.messaging keeps trying", describe(url),
                    type(exc).__name__)  # fmt: skip
        return
    finally:
        try:
            connection.collect()
        except Exception:  # noqa: BLE001 - only cleaning up a probe
            LOG.debug("Could not close the broker probe connection", exc_info=True)
    LOG.info("Message broker at %s accepted the agent", describe(url))


def _why(exc: Exception) -> str:
    text = getattr(exc, "reply_text", "") or str(exc)
    if isinstance(exc, amqp.exceptions.NotAllowed):
        return f"virtual host not allowed or not found ({text})"
    return f"login refused ({text})"


def _uses_tls(conf: cfg.ConfigOpts) -> bool:
    try:
        return bool(conf.oslo_messaging_rabbit.ssl)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return False
