"""Gathers the networking role's oslo.config options for oslo-config-generator.

Options are declared next to the code that reads them. Each module listed in
:data:`OPTION_MODULES` exposes ``list_opts() -> list[tuple[str, list[oslo_config.cfg.Opt]]]``
(group name, options) and registers nothing at import; this module imports them only when the
generator asks, so loading a mechanism driver in neutron-server pulls in no agent code.
"""

import importlib
from collections.abc import Iterable

from oslo_config import cfg

# Modules that declare networking options, in the order the sample file should show them.
# The mechanism drivers declare none. The agent adds its options here.
OPTION_MODULES: tuple[str, ...] = (
    "powervm_openstack.network.agent.config",
    "powervm_openstack.network.agent.sriov_config",
    "powervm_openstack.pvm.connection",
)


def _gather(modules: Iterable[str]) -> list[tuple[str, list[cfg.Opt]]]:
    groups: dict[str, list[cfg.Opt]] = {}
    for name in modules:
        for group, opts in importlib.import_module(name).list_opts():
            known = groups.setdefault(group, [])
            known.extend(opt for opt in opts if opt not in known)
    return list(groups.items())


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Every networking option as ``(group, [options])`` pairs, one pair per group.

    :raises ImportError: a module in :data:`OPTION_MODULES` cannot be imported.
    """
    return _gather(OPTION_MODULES)
