"""The ``pvm_sriov`` ML2 mechanism driver: SR-IOV backed vNICs on PowerVM.

It binds ``binding:vnic_type`` ``direct`` ports on ``flat`` and ``vlan`` segments when the live
agent of type ``PowerVM SR-IOV Ethernet agent`` on the port's host has enough physical ports
labelled with the segment's physical network, each with room for one more VF of the requested
capacity. ``binding:vif_type`` is ``pvm_sriov``.

Agent ``configurations`` (what the SR-IOV agent reports; all keys in :mod:`.constants`)::

    {
      "default_redundancy": 2,            # int >= 1: VFs per vNIC, each on its own physical port
      "default_capacity": 0.02,           # float 0 < x <= 1 with <= 4 decimals, or None (= each
                                          # port's minimum granularity)
      "default_maxcapacity": None,        # float like capacity, or None (= PowerVM default, 1.0)
      "physnet_ports": {                  # physical network (port label) -> its physical ports
        "prod": [
          {"location_code": "U78C9.001.WZS094N-P1-C7-T1",
           "free_capacity": 0.96,         # capacity not yet given to logical ports (fraction)
           "granularity": 0.02,           # MinimumEthernetCapacityGranularity of the port
           "free_logical_ports": 18},     # optional: logical ports still allowed (missing = unknown)
        ],
      },
    }

The agent should also report ``device_mappings`` (``{physnet: [location codes]}``): neutron's
segments plugin reads that key to learn which physical networks a host reaches.

``binding:profile`` may override the defaults for one port: ``redundancy`` (or the retired
project's ``vnic_required_vfs``), ``capacity`` and ``maxcapacity``; numbers or numeric strings,
``None``/``"None"`` meaning "use the agent's default".

``binding:vif_details``::

    {"port_filter": False, "connectivity": "legacy",
     "vlan": "1234",                      # str; "0" on a flat network (untagged)
     "physical_network": "prod",
     "physical_ports": ["U78C9...-T1", ...],  # usable labelled ports, most free capacity first
     "redundancy": 2,                     # int
     "capacity": 0.02,                    # float, or None for each port's minimum
     "maxcapacity": None}                 # float or None

Binding is refused (one log line naming the values, nothing raised to ML2) when a value is not
allowed (see :mod:`.sriov_capacity`) or fewer usable ports than ``redundancy`` carry the network.
"""

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from neutron_lib import constants as n_const
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_log import log as logging

from powervm_openstack.network import constants as c
from powervm_openstack.network import exceptions as exc
from powervm_openstack.network import mech_base
from powervm_openstack.network import sriov_capacity as cap

LOG = logging.getLogger(__name__)

# An agent that reports no default asks for the least: one VF per vNIC.
_FALLBACK_REDUNDANCY = 1


@dataclasses.dataclass(frozen=True)
class VnicRequest:
    """What one vNIC asks of the physical ports, after profile overrides and validation."""

    redundancy: int
    capacity: Decimal | None
    maxcapacity: Decimal | None


def _pick(profile: Mapping[str, Any], keys: tuple[str, ...], default: Any, default_name: str) -> tuple[Any, str]:
    """The first set profile value among ``keys``, else the agent's default; with where it came from."""
    for key in keys:
        if not cap.is_unset(profile.get(key)):
            return profile[key], f"binding:profile {key}"
    return default, f"agent {default_name}"


def _redundancy(profile: Mapping[str, Any], configs: Mapping[str, Any]) -> int:
    new, legacy = profile.get(c.PROFILE_REDUNDANCY), profile.get(c.PROFILE_REDUNDANCY_LEGACY)
    if not cap.is_unset(new) and not cap.is_unset(legacy) and str(new).strip() != str(legacy).strip():
        raise exc.InvalidRedundancy(
            f"binding:profile sets both {c.PROFILE_REDUNDANCY} {new!r} and {c.PROFILE_REDUNDANCY_LEGACY} "
            f"{legacy!r}; set only {c.PROFILE_REDUNDANCY}"
        )
    default = configs.get(c.CONF_DEFAULT_REDUNDANCY)
    value, source = _pick(
        profile,
        (c.PROFILE_REDUNDANCY, c.PROFILE_REDUNDANCY_LEGACY),
        _FALLBACK_REDUNDANCY if cap.is_unset(default) else default,
        c.CONF_DEFAULT_REDUNDANCY,
    )
    return cap.parse_redundancy(value, source)


def vnic_request(profile: Mapping[str, Any] | None, configs: Mapping[str, Any]) -> VnicRequest:
    """Resolve a port's vNIC request: ``binding:profile`` values first, the agent's defaults next.

    :raises InvalidRedundancy, InvalidCapacity: a value is not allowed; the message names it and
        where it came from.
    """
    profile = profile or {}
    capacity, cap_source = _pick(
        profile, (c.PROFILE_CAPACITY,), configs.get(c.CONF_DEFAULT_CAPACITY), c.CONF_DEFAULT_CAPACITY
    )
    maxcap, max_source = _pick(
        profile, (c.PROFILE_MAXCAPACITY,), configs.get(c.CONF_DEFAULT_MAXCAPACITY), c.CONF_DEFAULT_MAXCAPACITY
    )
    request = VnicRequest(
        redundancy=_redundancy(profile, configs),
        capacity=cap.parse_capacity(capacity, cap_source),
        maxcapacity=cap.parse_capacity(maxcap, max_source),
    )
    cap.check_maxcapacity(request.capacity, request.maxcapacity)
    return request


def reported_ports(agent: Mapping[str, Any], physnet: str) -> list[cap.SriovPort]:
    """The physical ports ``agent`` reports for ``physnet``; malformed entries are logged and skipped."""
    entries = ((agent.get("configurations") or {}).get(c.CONF_PHYSNET_PORTS) or {}).get(physnet) or []
    ports = []
    for entry in entries:
        try:
            ports.append(cap.port_from_report(entry))
        except (exc.InvalidCapacity, TypeError, ValueError, AttributeError) as err:
            LOG.warning("Ignoring SR-IOV port %r reported by the agent on host %s: %s", entry, agent.get("host"), err)
    return ports


def _as_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class PvmSriovMechanismDriver(mech_base.PvmMechanismDriverBase):
    """Binds ``direct`` ports to SR-IOV physical ports labelled with the segment's physical network."""

    mappings_key = c.CONF_PHYSNET_PORTS

    def __init__(self) -> None:
        super().__init__(
            c.AGENT_TYPE_SRIOV,
            c.VIF_TYPE_SRIOV,
            [n_const.TYPE_FLAT, n_const.TYPE_VLAN],
            supported_vnic_types=[portbindings.VNIC_DIRECT],
        )

    def vif_details_for(
        self, context: api.PortContext, segment: Mapping[str, Any], agent: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Add the vNIC request and the chosen physical ports to the base details.

        :raises BindingRefused: a value is not allowed, or too few usable ports carry the network.
        """
        physnet = segment[api.PHYSICAL_NETWORK]
        try:
            request = vnic_request(context.current.get(portbindings.PROFILE), agent.get("configurations") or {})
            ports = cap.choose_ports(physnet, reported_ports(agent, physnet), request.redundancy, request.capacity)
        except (exc.InvalidCapacity, exc.InvalidRedundancy, exc.InsufficientSriovPorts) as err:
            raise exc.BindingRefused(str(err)) from err
        details = super().vif_details_for(context, segment, agent)
        details.update(
            {
                c.DETAIL_PHYSICAL_PORTS: [p.location_code for p in ports],
                c.DETAIL_REDUNDANCY: request.redundancy,
                c.DETAIL_CAPACITY: _as_float(request.capacity),
                c.DETAIL_MAXCAPACITY: _as_float(request.maxcapacity),
            }
        )
        return details
