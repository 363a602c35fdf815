"""``powervm-network-map``: what the network bridges and SR-IOV ports of a PowerVM host carry.

Read-only: it only GETs from the REST API. Connection as the agents do it (``[powervm_rest]`` in
``--config-file``), or ad hoc::

    powervm-network-map --config-file /etc/neutron/plugins/ml2/powervm_sea_agent.ini
    POWERVM_PASSWORD=... powervm-network-map --url https://novalink1:12443 --user neo --json

Exit status: 0 map printed, 1 the REST API could not be read, 2 bad arguments or configuration.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import sys
from urllib.parse import urlsplit

from oslo_config import cfg
from pypowervm import adapter as pvm_adapter
from pypowervm import const as pvm_const
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import host_map, render
from powervm_openstack.network.agent import config as agent_config
from powervm_openstack.pvm import connection, inventory

LOG = logging.getLogger(__name__)

PASSWORD_ENV = "POWERVM_PASSWORD"
DESCRIPTION = "Show what the network bridges and SR-IOV ports of a PowerVM host carry (read-only)."

CLI_OPTS = [
    cfg.BoolOpt("json", default=False, help="Print the map as JSON (schema: docs/network-map.md)."),
    cfg.StrOpt("url", help="REST API to read, e.g. https://novalink1:12443; overrides [powervm_rest] host/port."),
    cfg.StrOpt("user", help=f"REST user for password logon; the password is read from ${PASSWORD_ENV}."),
    cfg.BoolOpt("verbose", default=False, help="Log the connection and pypowervm's messages to stderr."),
]


class UsageError(ValueError):
    """A bad argument; the message names it and what is allowed."""


class NoManagedSystem(Exception):
    """The REST API answers but lists no managed system (not a NovaLink, or not set up yet)."""


def parse_args(argv: list[str]) -> cfg.ConfigOpts:
    """Parse the command line and configuration files into a private ConfigOpts."""
    conf = cfg.ConfigOpts()
    conf.register_cli_opts(CLI_OPTS)
    connection.register_opts(conf)
    agent_config.register_opts(conf)
    conf(argv, project="powervm-network-map", prog="powervm-network-map", default_config_files=[],
         description=DESCRIPTION)  # fmt: skip
    _apply_flags(conf)
    connection.check_opts(conf, dict(connection.list_opts() + agent_config.list_opts()))
    return conf


def _apply_flags(conf: cfg.ConfigOpts) -> None:
    """Turn ``--url``/``--user`` into ``[powervm_rest]`` overrides."""
    group = connection.GROUP
    if conf.url:
        parts = urlsplit(conf.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--url {conf.url!r} is not an http(s) URL with a host, e.g. https://novalink1:12443.")
        try:
            port = parts.port
        except ValueError as err:
            raise UsageError(f"--url {conf.url!r} has a bad port: {err}.") from None
        conf.set_override("host", parts.hostname, group=group)
        conf.set_override("protocol", parts.scheme, group=group)
        conf.set_override("port", port, group=group)
    if conf.user:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise UsageError(f"--user {conf.user!r} needs the password in ${PASSWORD_ENV}, which is not set.")
        conf.set_override("user", conf.user, group=group)
        conf.set_override("password", password, group=group)


def read_host(adapter: pvm_adapter.Adapter, workers: int = 8) -> host_map.HostInputs:
    """Read everything the map shows (GETs only; one adapter and one vNIC feed per partition)."""
    systems = pvm_ms.System.get(adapter)
    if not systems:
        raise NoManagedSystem()
    system = systems[0]
    bridges = pvm_net.NetBridge.get(adapter, parent_type=pvm_ms.System, parent_uuid=system.uuid)
    vioses = pvm_vios.VIOS.get(adapter, xag=[pvm_const.XAG.VIO_NET])
    parts = inventory.partitions(adapter)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        adapters = pool.map(lambda part: inventory.adapters_of(adapter, part), parts)
        lpars = [p for p in parts if isinstance(p.wrapper, pvm_lpar.LPAR)]
        vnics = pool.map(lambda part: _vnics_of(adapter, part), lpars)
        return host_map.HostInputs(
            system=system,
            bridges=bridges,
            vioses=vioses,
            vswitches=inventory.vswitches(adapter, system.uuid),
            adapters=[a for found in adapters for a in found],
            vnics=[v for found in vnics for v in found],
        )


def _vnics_of(
    adapter: pvm_adapter.Adapter, part: inventory.Partition
) -> list[tuple[inventory.Partition, pvm_iocard.VNIC]]:
    try:
        return [(part, vnic) for vnic in pvm_iocard.VNIC.get(adapter, parent=part.wrapper)]
    except pvm_exc.HttpNotFound:
        LOG.debug("Partition %s (%s) vanished during the vNIC scan", part.name, part.uuid)
        return []


def main(argv: list[str] | None = None) -> int:
    """Console script ``powervm-network-map``; returns the exit status."""
    try:
        conf = parse_args(sys.argv[1:] if argv is None else argv)
    except (UsageError, cfg.Error) as err:
        print(f"powervm-network-map: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if conf.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")  # fmt: skip
    if not conf.verbose:
        # pypowervm warns on every http run; bridges warns about an empty bridge_mappings, which the map shows.
        for name in ("pypowervm", "powervm_openstack.network.bridges"):
            logging.getLogger(name).setLevel(logging.ERROR)
    try:
        where = connection.endpoint(conf)
    except connection.InsecureConnectionRefused as err:
        print(f"powervm-network-map: {err}", file=sys.stderr)
        return 2
    try:
        adapter = connection.connect(conf, stop_after=0)
        inputs = read_host(adapter, conf[agent_config.GROUP].rest_workers)
    except NoManagedSystem:
        print(f"powervm-network-map: the PowerVM REST API at {where} lists no managed system; point --url or "
              "[powervm_rest] at a NovaLink that manages one", file=sys.stderr)  # fmt: skip
        return 2
    except pvm_exc.Error as err:
        verb = "reach" if isinstance(err, (pvm_exc.ConnectionError, pvm_exc.TimeoutError)) else "read"
        print(f"powervm-network-map: cannot {verb} the PowerVM REST API at {where}: {connection.reason(err)}",
              file=sys.stderr)  # fmt: skip
        return 1
    agent = conf[agent_config.GROUP]
    result = host_map.build(inputs, agent.bridge_mappings, agent.automated_powervm_vlan_cleanup)
    print(render.as_json(result) if conf.json else render.as_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
