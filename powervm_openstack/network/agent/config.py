"""Options of the PowerVM network agents, group ``[AGENT]``.

Names and defaults of the options networking-powervm had are kept, so existing configuration
files keep working; the rest are new.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "AGENT"

COMMON_OPTS = [
    cfg.IntOpt(
        "heal_and_optimize_interval",
        default=1800,
        min=30,
        help="Seconds between two full heal passes (re-check every port and VLAN on the host).",
    ),
    cfg.IntOpt(
        "exception_interval",
        default=5,
        min=1,
        help="Seconds to wait before retrying after an unexpected error; the agent never exits on one.",
    ),
    cfg.FloatOpt(
        "batch_window",
        default=0.3,
        min=0.0,
        help="Seconds to gather port changes after the first one, so that one REST update serves them all.",
    ),
    cfg.IntOpt("rest_workers", default=8, min=1, help="Parallel REST reads during a full scan of the host."),
]

SEA_OPTS = [
    cfg.StrOpt(
        "bridge_mappings",
        default="",
        help="Comma-separated <physical network>:<SEA device>:<VIOS name>, e.g. default:ent5:vios1,"
        "prod:ent8:vios1. Naming one SEA of a redundant pair maps its bridge. Empty: the host's single "
        "network bridge serves physical network 'default'.",
    ),
    cfg.BoolOpt(
        "automated_powervm_vlan_cleanup",
        default=True,
        help="Remove a VLAN from its network bridge once no partition on the host uses it.",
    ),
    cfg.IntOpt(
        "max_vlan_removals_per_update",
        default=10,
        min=1,
        help="At most this many stale VLANs are removed in one bridge update during a heal pass, so that "
        "new port plugs are served in between.",
    ),
    cfg.IntOpt(
        "full_scan_interval",
        default=21600,
        min=10,
        help="Seconds between two backstop full scans of the host. Between them the agent's view of the host "
        "is kept from the PowerVM event feed (a heal re-reads only what events named); the backstop re-reads "
        "every partition and logs what the events had missed.",
    ),
    cfg.IntOpt(
        "binding_provision_lifetime",
        default=600,
        min=10,
        help="Seconds a VLAN put on its bridge when neutron bound a port to this host is kept for that port "
        "while no adapter has been plugged for it; then it is cleaned up like any unused VLAN (logged).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(COMMON_OPTS + SEA_OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, COMMON_OPTS + SEA_OPTS)]
