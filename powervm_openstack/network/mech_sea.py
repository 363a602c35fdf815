"""The ``pvm_sea`` ML2 mechanism driver: VLAN networks through a PowerVM Shared Ethernet Adapter.

Binding contract (what nova's PowerVM VIF code and the SEA agent rely on):

* binds ``binding:vnic_type`` ``normal`` ports on ``vlan`` segments only, when the live agent of
  type ``PowerVM Shared Ethernet agent`` on the port's host reports the segment's physical network
  in ``configurations['bridge_mappings']`` (``{physnet: network-bridge-uuid}``);
* ``binding:vif_type`` is ``pvm_sea``;
* ``binding:vif_details`` is ``{'port_filter': False, 'connectivity': 'legacy', 'vlan': '<id>',
  'physical_network': '<physnet>'}`` - ``vlan`` is a string, as the retired driver sent it.

Once a binding is committed the driver casts neutron's ``port_update`` so the host's agent can put
the VLAN on its bridge before the client adapter appears. The cast is a fanout (neutron has no
per-host variant), so the port dict carries ``binding:host_id`` and agents must ignore ports bound
elsewhere - the retired project acted on every notification on every host (LP #1490185). The cast
is sent once per committed binding from ``update_port_postcommit``, never from ``bind_port``,
which ML2 may call for bindings it then throws away.
"""

from neutron.plugins.ml2 import rpc as ml2_rpc
from neutron_lib import constants as n_const
from neutron_lib.agent import topics
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_log import log as logging

from powervm_openstack.network import constants as c
from powervm_openstack.network import mech_base

LOG = logging.getLogger(__name__)

_UNBOUND_VIF_TYPES = (portbindings.VIF_TYPE_UNBOUND, portbindings.VIF_TYPE_BINDING_FAILED)


class PvmSeaMechanismDriver(mech_base.PvmMechanismDriverBase):
    """Binds VLAN ports of PowerVM hosts whose SEA agent bridges the segment's physical network."""

    mappings_key = c.CONF_BRIDGE_MAPPINGS

    def __init__(self) -> None:
        super().__init__(c.AGENT_TYPE_SEA, c.VIF_TYPE_SEA, [n_const.TYPE_VLAN])
        self._notifier: ml2_rpc.AgentNotifierApi | None = None

    def initialize(self) -> None:
        """Create the RPC notifier (here, not at import or construction, so loading has no I/O)."""
        self._notifier = ml2_rpc.AgentNotifierApi(topics.AGENT)

    def update_port_postcommit(self, context: api.PortContext) -> None:
        """Tell the host's agent about a port this driver has just bound.

        Guarantees at most one ``port_update`` cast per committed ``pvm_sea`` binding; nothing for
        other updates. Never raises: a failed cast is logged, the agent's heal pass catches up.
        """
        if not self._binding_just_committed(context):
            return
        segment = context.bottom_bound_segment
        try:
            self._notifier.port_update(
                context.plugin_context,
                context.current,
                segment[api.NETWORK_TYPE],
                segment[api.SEGMENTATION_ID],
                segment[api.PHYSICAL_NETWORK],
            )
        except Exception:  # the binding stands; a lost hint only delays the agent
            LOG.exception("Could not notify the agent on host %s about port %s", context.host, context.current["id"])
            return
        LOG.debug(
            "Notified the agent on host %s of port %s on VLAN %s",
            context.host,
            context.current["id"],
            segment[api.SEGMENTATION_ID],
        )

    def _binding_just_committed(self, context: api.PortContext) -> bool:
        return (
            self._notifier is not None
            and bool(context.host)
            and context.vif_type == self.vif_type
            and context.original_vif_type in _UNBOUND_VIF_TYPES
            and context.bottom_bound_segment is not None
        )
