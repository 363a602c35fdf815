"""Common binding logic of the PowerVM ML2 mechanism drivers.

A driver binds a port when the live agent of the port's host serves the segment's network type
and reports the segment's physical network in its mappings; subclasses only say which agent
configuration key holds the mappings and what goes into ``binding:vif_details``. A refusal is never
an exception towards ML2: the driver logs one line saying why and lets the next segment, agent or
driver try.
"""

import abc
from collections.abc import Iterable, Mapping
from typing import Any

from neutron.plugins.ml2.drivers import mech_agent
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_log import log as logging

from powervm_openstack.network import constants as c
from powervm_openstack.network import exceptions as exc

LOG = logging.getLogger(__name__)


def segment_vlan(segment: Mapping[str, Any]) -> str:
    """The VLAN a client adapter must use on ``segment``, as neutron's ``vif_details['vlan']`` string.

    Flat segments are untagged, which PowerVM and neutron both spell VLAN ``0``.
    """
    vlan = segment.get(api.SEGMENTATION_ID)
    return str(c.FLAT_VLAN if vlan is None else vlan)


class PvmMechanismDriverBase(mech_agent.SimpleAgentMechanismDriverBase, metaclass=abc.ABCMeta):
    """Binds ports to segments whose physical network a PowerVM agent on the host has mapped."""

    #: Key of the agent's ``configurations`` whose dict is keyed by physical network.
    mappings_key: str = c.CONF_BRIDGE_MAPPINGS

    def __init__(
        self,
        agent_type: str,
        vif_type: str,
        network_types: Iterable[str],
        supported_vnic_types: list[str] | None = None,
    ) -> None:
        super().__init__(
            agent_type,
            vif_type,
            {portbindings.CAP_PORT_FILTER: False},
            supported_vnic_types=supported_vnic_types,
        )
        self._network_types = tuple(network_types)

    @property
    def connectivity(self) -> str:
        """``l2``: the VM gets a VLAN or VF and needs no IP from neutron.

        neutron 29 refuses to bind a port without an IP address (an L2-only network, a port
        with no fixed IPs) when every driver says ``legacy``, the retired drivers' default.
        """
        return portbindings.CONNECTIVITY_L2

    def get_allowed_network_types(self, agent: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """Network types this driver binds, whatever the agent."""
        return self._network_types

    def get_mappings(self, agent: Mapping[str, Any]) -> Mapping[str, Any]:
        """The agent's physical-network mappings; an empty dict when missing or malformed."""
        mappings = (agent.get("configurations") or {}).get(self.mappings_key)
        return mappings if isinstance(mappings, Mapping) else {}

    def try_to_bind_segment_for_agent(
        self, context: api.PortContext, segment: Mapping[str, Any], agent: Mapping[str, Any]
    ) -> bool:
        """Bind ``context``'s port to ``segment`` through ``agent`` if both allow it.

        :returns: True when ``context.set_binding`` was called, False (after one log line for a
            refusal an operator can act on) otherwise. Never raises for bad agent reports or
            profiles.
        """
        if not self.check_segment_for_agent(segment, agent):
            self._log_unmapped_physnet(context, segment, agent)
            return False
        try:
            details = self.vif_details_for(context, segment, agent)
        except exc.BindingRefused as err:
            LOG.warning(
                "Not binding port %(port)s to segment %(segment)s on host %(host)s: %(reason)s",
                {
                    "port": context.current["id"],
                    "segment": segment[api.ID],
                    "host": agent.get("host"),
                    "reason": err,
                },
            )
            return False
        context.set_binding(segment[api.ID], self.vif_type, details)
        return True

    def get_vif_details(
        self, context: api.PortContext, agent: Mapping[str, Any], segment: Mapping[str, Any]
    ) -> dict[str, Any]:
        """neutron's hook, kept consistent with :meth:`vif_details_for`.

        :raises BindingRefused: as :meth:`vif_details_for`.
        """
        return self.vif_details_for(context, segment, agent)

    def vif_details_for(
        self, context: api.PortContext, segment: Mapping[str, Any], agent: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``binding:vif_details`` for a binding of ``context``'s port to ``segment`` via ``agent``.

        The base gives neutron's ``port_filter`` and ``connectivity``, the ``vlan`` string and the
        ``physical_network``. Subclasses extend it.

        :raises BindingRefused: the port must not be bound here (the message says why).
        """
        details = dict(self.vif_details)
        details[portbindings.VIF_DETAILS_VLAN] = segment_vlan(segment)
        details[c.DETAIL_PHYSICAL_NETWORK] = segment.get(api.PHYSICAL_NETWORK)
        return details

    def _log_unmapped_physnet(
        self, context: api.PortContext, segment: Mapping[str, Any], agent: Mapping[str, Any]
    ) -> None:
        # Only the case an operator can fix gets a line; unsupported network types are routine
        # when several drivers are loaded and stay at neutron's debug level.
        if segment.get(api.NETWORK_TYPE) not in self._network_types:
            return
        physnet = segment.get(api.PHYSICAL_NETWORK)
        LOG.info(
            "Not binding port %(port)s on host %(host)s: physical network %(physnet)s is not in the "
            "%(key)s of the %(agent_type)s there (it maps %(mapped)s)",
            {
                "port": context.current["id"],
                "host": agent.get("host"),
                "physnet": physnet,
                "key": self.mappings_key,
                "agent_type": self.agent_type,
                "mapped": sorted(self.get_mappings(agent)) or "nothing",
            },
        )
