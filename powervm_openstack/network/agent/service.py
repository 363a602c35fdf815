"""Process entry for the PowerVM network agents: configuration, logging, signals, run.

Configuration errors (a malformed option, ``bridge_mappings`` naming an unknown VIOS or SEA)
end the process with one clear line and exit status 2; everything after start is retried.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from neutron.common import config as common_config
from neutron.conf.agent import common as agent_conf
from oslo_config import cfg
from pypowervm import exceptions as pvm_exc

from powervm_openstack.network.agent import broker, config, unknown_opts
from powervm_openstack.network.agent.base import PowerVMAgent
from powervm_openstack.network.exceptions import PowerVMNetworkError
from powervm_openstack.pvm import connection

LOG = logging.getLogger(__name__)


def register(conf: cfg.ConfigOpts) -> None:
    """Register what the agents read; neutron's own options first (``init`` needs ``base_mac``)."""
    common_config.register_common_config_options()
    agent_conf.register_agent_state_opts_helper(conf)
    config.register_opts(conf)
    connection.register_opts(conf)


def run(agent_class: type[PowerVMAgent], argv: list[str]) -> int:
    """Configure, start and serve; 2 for a configuration error or a refusal, 0 once stopped by a signal."""
    conf = cfg.CONF
    register(conf)
    try:
        common_config.init(argv)
    except cfg.Error as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    common_config.setup_logging()
    unknown_opts.warn(conf, agent_class.extra_opts())
    agent = agent_class(conf)
    _stop_on_signals(agent)
    binary = agent_class.binary
    try:
        connection.check_opts(conf, dict(config.list_opts() + connection.list_opts() + agent_class.extra_opts()))
        broker.check(conf)
        agent.start()
        agent.run()
    except KeyboardInterrupt:
        agent.stop()
        LOG.info("%s stopped by a signal", binary)
        return 0
    except (PowerVMNetworkError, cfg.Error, connection.InsecureConnectionRefused, broker.BrokerRefused) as exc:
        failure = str(exc)
    except pvm_exc.Error as exc:  # refused logon, certificate not trusted: not worth retrying
        failure = f"the PowerVM REST API at {connection.endpoint(conf)} refused us: {connection.reason(exc)}"
    else:
        LOG.info("%s stopped", binary)
        return 0
    # Logged outside the handlers: oslo.log appends the exception chain to lines logged inside one.
    LOG.error("%s cannot start: %s", binary, failure)
    return 2


def _stop_on_signals(agent: PowerVMAgent) -> None:
    """SIGTERM stops a running agent at the end of its batch, and one still starting at once; SIGINT
    (even when inherited as ignored) raises KeyboardInterrupt, which stops it at once."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigterm(*_: object) -> None:
        if agent.started:
            agent.stop()
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    # A shell starts background jobs with SIGINT ignored, and Python then leaves it ignored: ask for it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
