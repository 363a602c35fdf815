"""The ``[powervm]`` volume options (names and defaults of the retired nova-powervm driver).

``fabric_<X>_port_wwpns`` is registered for each fabric named in ``fabrics`` (``register``), so
``list_opts`` shows the two the sample configuration documents (A and B).
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "powervm"

OPTS = [
    cfg.StrOpt("fc_attach_strategy", default="vscsi", choices=["vscsi", "npiv"], ignore_case=True,
               help="How fibre_channel volumes reach a partition: 'vscsi' (each VIOS discovers the LUN as an "
                    "hdisk and maps it through vSCSI) or 'npiv' (virtual FC adapters give the partition its own "
                    "WWPNs on the SAN)."),
    cfg.IntOpt("vscsi_vios_connections_required", default=1, min=1,
               help="vSCSI (FC and iSCSI): how many VIOSes must see and map a volume for the attach to succeed."),
    cfg.BoolOpt("volume_use_multipath", default=False,
                help="iSCSI: log in to every portal Cinder gives (target_portals) and report multipath in the "
                     "connector."),
    cfg.StrOpt("iscsi_iface", default="default",
               help="iSCSI interface (iscsiadm iface) the VIOSes use; 'iser' for iSER volumes is set per volume."),
    cfg.StrOpt("rbd_user", default="",
               help="Ceph user of rbd volumes mapped from the NovaLink partition (RbdUser of the mapping; "
                    "empty: NovaLink's default)."),
    cfg.StrOpt("nfs_mount_point_base", default="/var/lib/nova/mnt",
               help="nfs volumes: where the NovaLink partition has each Cinder export mounted, as "
                    "<nfs_mount_point_base>/<md5 of the export>/ (os-brick's layout); the driver does not mount."),
    cfg.StrOpt("fabrics", default="A",
               help="NPIV: comma-separated fabric names; each needs fabric_<name>_port_wwpns."),
    cfg.IntOpt("ports_per_fabric", default=1, min=1,
               help="NPIV: virtual FC adapters (WWPN pairs) per fabric and partition."),
]  # fmt: skip


def fabric_opt(fabric: str) -> cfg.ListOpt:
    return cfg.ListOpt(f"fabric_{fabric}_port_wwpns", default=[],
                       help=f"NPIV: WWPNs of the VIOS physical FC ports on fabric {fabric}.")  # fmt: skip


def fabrics(conf: cfg.ConfigOpts) -> list[str]:
    return [f.strip() for f in conf[GROUP].fabrics.split(",") if f.strip()]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the volume options and ``fabric_<X>_port_wwpns`` for A, B and each configured fabric (idempotent)."""
    conf.register_opts(OPTS, group=GROUP)
    for fabric in sorted({"A", "B", *fabrics(conf)}):
        conf.register_opt(fabric_opt(fabric), group=GROUP)


def list_opts() -> list[cfg.Opt]:
    return [*OPTS, fabric_opt("A"), fabric_opt("B")]
