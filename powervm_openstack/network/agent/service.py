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

from powervm_openstack.network.agent import config
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
    conf = cfg.CONF
    register(conf)
    try:
        common_config.init(argv)
    except cfg.Error as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    common_config.setup_logging()
    agent = agent_class(conf)
    try:
        connection.check_opts(conf, dict(config.list_opts() + connection.list_opts() + agent_class.extra_opts()))
        agent.start()
    except (PowerVMNetworkError, cfg.Error, connection.InsecureConnectionRefused) as exc:
        LOG.error("%s cannot start: %s", agent_class.binary, exc)
        return 2
    except pvm_exc.Error as exc:  # refused logon, certificate not trusted: not worth retrying
        LOG.error("%s cannot start: the PowerVM REST API refused us: %s", agent_class.binary,
                  str(exc).splitlines()[0])  # fmt: skip
        return 2
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    try:
        agent.run()
    except KeyboardInterrupt:
        agent.stop()
    LOG.info("%s stopped", agent_class.binary)
    return 0
