"""Options of the PowerVM SR-IOV agent, group ``[AGENT]`` (next to the common ones in ``config``).

``vnic_required_vfs`` and ``vnic_vf_capacity`` keep the names and defaults networking-powervm had;
the others are new. The capacities are the defaults the ``pvm_sriov`` mechanism driver puts into a
port's ``binding:vif_details`` when the port's ``binding:profile`` does not set its own.
"""

from __future__ import annotations

from decimal import Decimal

from oslo_config import cfg

from powervm_openstack.network import sriov_capacity as cap
from powervm_openstack.network.agent.config import GROUP

SRIOV_OPTS = [
    cfg.IntOpt(
        "vnic_required_vfs",
        default=2,
        min=1,
        help="Redundancy of an SR-IOV backed vNIC: how many VFs, each on its own physical port labelled with the "
        "port's physical network, back it. Binding fails when fewer such ports have room. Minimum 1.",
    ),
    cfg.FloatOpt(
        "vnic_vf_capacity",
        help="Guaranteed capacity of each VF backing a vNIC, as a fraction of its physical port: greater than 0.0, "
        "at most 1.0, at most 4 decimals (0.02 is 2 %), and a multiple of each port's minimum capacity "
        "granularity. Unset: each port's granularity.",
    ),
    cfg.FloatOpt(
        "vnic_vf_max_capacity",
        help="Maximum capacity of each VF backing a vNIC, a fraction like vnic_vf_capacity and not below it. "
        "Unset: the platform's default (1.0).",
    ),
    cfg.IntOpt(
        "vnic_wait_timeout",
        default=1200,
        min=5,
        help="Seconds to wait for a vNIC the compute side announced to appear on its partition before giving "
        "up on it (its port is then marked DOWN).",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(SRIOV_OPTS, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, SRIOV_OPTS)]


def default_capacities(conf: cfg.ConfigOpts) -> tuple[Decimal | None, Decimal | None]:
    """The configured capacity and max capacity, validated.

    :raises InvalidCapacity: naming the option, its value and what is allowed.
    """
    agent = conf[GROUP]
    capacity = cap.parse_capacity(agent.vnic_vf_capacity, f"[{GROUP}] vnic_vf_capacity")
    maximum = cap.parse_capacity(agent.vnic_vf_max_capacity, f"[{GROUP}] vnic_vf_max_capacity")
    cap.check_maxcapacity(capacity, maximum)
    return capacity, maximum
