"""The ``[powervm]`` options of the compute driver, and their start-up validation.

Names and defaults follow the retired nova-powervm driver where the option still means the same
thing, so an existing ``nova.conf`` keeps working. The connection to the REST API is configured in
``[powervm_rest]`` (``powervm_openstack.pvm.connection``), shared with the network agents.
``list_opts()`` serves oslo-config-generator (namespace ``powervm_openstack.compute``).
"""

from __future__ import annotations

from oslo_config import cfg

from powervm_openstack.compute.volume import options as volume_opts
from powervm_openstack.pvm import connection

GROUP = "powervm"

OPTS = [
    cfg.StrOpt("disk_driver", default="localdisk", choices=["localdisk", "ssp"], ignore_case=True,
               help="Where boot disks live: 'localdisk' (a logical volume in a VIOS volume group, see "
                    "volume_group_name) or 'ssp' (a linked clone in a Shared Storage Pool, see cluster_name)."),
    cfg.StrOpt("volume_group_name", default="",
               help="Volume group holding boot disks and the image cache. Required with disk_driver = localdisk; "
                    "must not be set with ssp."),
    cfg.StrOpt("cluster_name", default="",
               help="Cluster whose Shared Storage Pool holds boot disks (disk_driver = ssp). Empty: the only "
                    "cluster the host sees; an error when there are several. Must not be set with localdisk."),
    cfg.FloatOpt("proc_units_factor", default=0.1, min=0.05, max=1.0,
                 help="Shared processing units per vCPU when a flavor sets no powervm:proc_units."),
    cfg.IntOpt("uncapped_proc_weight", default=64, min=1, max=255,
               help="Uncapped weight of shared-processor partitions when a flavor sets no powervm:shared_weight."),
    cfg.StrOpt("vopt_media_volume_group", default="rootvg",
               help="Volume group in which to create the virtual media repository for config drives when no VIOS "
                    "has one yet."),
    cfg.IntOpt("vopt_media_rep_size", default=1, min=1,
               help="Size in GB of the virtual media repository created for config drives."),
    cfg.BoolOpt("use_rmc_mgmt_vif", default=True,
                help="Give each partition an adapter on the MGMTSWITCH virtual switch so that RMC (and with it "
                     "DLPAR and OS shutdown) reaches it. Skipped when the host has no MGMTSWITCH."),
    cfg.StrOpt("pvm_vswitch_for_novalink_io", default="NovaLinkVEABridge",
               help="Internal virtual switch joining a partition's 'ovs' VIF to its trunk adapter on the NovaLink "
                    "partition."),
    cfg.BoolOpt("remove_vopt_media_on_boot", default=False,
                help="Eject the config drive media once the partition has been running remove_vopt_media_time "
                     "minutes."),
    cfg.IntOpt("remove_vopt_media_time", default=60, min=0,
               help="Minutes after power-on at which the config drive media is ejected "
                    "(with remove_vopt_media_on_boot)."),
    cfg.BoolOpt("vnc_use_x509_auth", default=False, help="Use X509 authentication for VNC consoles."),
    cfg.StrOpt("vnc_ca_certs", help="CA certificate file for VNC X509 authentication."),
    cfg.StrOpt("vnc_server_cert", help="Server certificate file for VNC X509 authentication."),
    cfg.StrOpt("vnc_server_key", help="Server private key file for VNC X509 authentication."),
]  # fmt: skip


class PowerVMConfigError(ValueError):
    """A ``[powervm]`` value, or combination of values, the driver cannot run with."""


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register ``[powervm]`` and ``[powervm_rest]`` on ``conf`` (idempotent)."""
    conf.register_opts(OPTS, group=GROUP)
    volume_opts.register(conf)
    connection.register_opts(conf)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The compute driver's options for oslo-config-generator."""
    return [(GROUP, [*OPTS, *volume_opts.list_opts()]), *connection.list_opts()]


def _allowed(opt: cfg.Opt) -> str:
    kind = opt.type
    if getattr(kind, "choices", None):
        return ", ".join(str(c) for c in kind.choices)
    low, high = getattr(kind, "min", None), getattr(kind, "max", None)
    name = type(kind).__name__.lower()
    if low is not None or high is not None:
        return f"a {name} from {low if low is not None else '-inf'} to {high if high is not None else 'inf'}"
    return f"a {name}"


def validate(conf: cfg.ConfigOpts) -> None:
    """Check every ``[powervm]`` value now, so a bad one stops nova-compute at start.

    :raises PowerVMConfigError: naming the option, its value and what is allowed.
    """
    opts = {}
    for opt in [*OPTS, *volume_opts.OPTS]:
        try:
            opts[opt.dest] = conf[GROUP][opt.dest]
        except (cfg.ConfigFileValueError, ValueError) as exc:
            raise PowerVMConfigError(f"[{GROUP}] {opt.dest} is not valid; allowed: {_allowed(opt)} ({exc})") from exc
    driver = opts["disk_driver"].lower()
    if driver == "localdisk" and not opts["volume_group_name"]:
        raise PowerVMConfigError(
            f"[{GROUP}] volume_group_name is required with disk_driver = localdisk "
            "(name the VIOS volume group that holds boot disks, e.g. datavg)."
        )
    if driver == "localdisk" and opts["cluster_name"]:
        raise PowerVMConfigError(
            f"[{GROUP}] cluster_name = {opts['cluster_name']!r} applies to disk_driver = ssp only; "
            "unset it or set disk_driver = ssp."
        )
    if driver == "ssp" and opts["volume_group_name"]:
        raise PowerVMConfigError(
            f"[{GROUP}] volume_group_name = {opts['volume_group_name']!r} applies to disk_driver = localdisk "
            "only; unset it or set disk_driver = localdisk."
        )
    if opts["vnc_use_x509_auth"]:
        missing = [k for k in ("vnc_ca_certs", "vnc_server_cert", "vnc_server_key") if not opts[k]]
        if missing:
            raise PowerVMConfigError(f"[{GROUP}] vnc_use_x509_auth = True needs {', '.join(missing)}.")
