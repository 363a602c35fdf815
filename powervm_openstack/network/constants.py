"""Names shared by the PowerVM mechanism drivers, agents and the compute side.

The agent type strings and vif types are wire contracts: neutron stores the agent type in its
agents table and nova dispatches on the vif type, so they keep the values the retired
networking-powervm used and existing deployments already have in their databases.
"""

from typing import Final

AGENT_TYPE_SEA: Final = "PowerVM Shared Ethernet agent"
AGENT_TYPE_SRIOV: Final = "PowerVM SR-IOV Ethernet agent"

VIF_TYPE_SEA: Final = "pvm_sea"
VIF_TYPE_SRIOV: Final = "pvm_sriov"

AGENT_BINARY_SEA: Final = "powervm-sea-agent"
AGENT_BINARY_SRIOV: Final = "powervm-sriov-agent"

# Keys of the ``configurations`` dict the agents report to neutron.
CONF_BRIDGE_MAPPINGS: Final = "bridge_mappings"
CONF_DEFAULT_REDUNDANCY: Final = "default_redundancy"
CONF_DEFAULT_CAPACITY: Final = "default_capacity"
CONF_DEFAULT_MAXCAPACITY: Final = "default_maxcapacity"
CONF_PHYSNET_PORTS: Final = "physnet_ports"

# Keys of one entry of ``physnet_ports[physnet]`` (one SR-IOV physical port).
PORT_LOCATION_CODE: Final = "location_code"
PORT_FREE_CAPACITY: Final = "free_capacity"
PORT_GRANULARITY: Final = "granularity"
PORT_FREE_LOGICAL_PORTS: Final = "free_logical_ports"

# Keys of ``binding:vif_details`` beyond neutron's own (``port_filter``, ``connectivity``, ``vlan``).
DETAIL_PHYSICAL_NETWORK: Final = "physical_network"
DETAIL_PHYSICAL_PORTS: Final = "physical_ports"
DETAIL_REDUNDANCY: Final = "redundancy"
DETAIL_CAPACITY: Final = "capacity"
DETAIL_MAXCAPACITY: Final = "maxcapacity"

# Keys a user may set in ``binding:profile`` of a ``direct`` port.
PROFILE_REDUNDANCY: Final = "redundancy"
PROFILE_REDUNDANCY_LEGACY: Final = "vnic_required_vfs"
PROFILE_CAPACITY: Final = "capacity"
PROFILE_MAXCAPACITY: Final = "maxcapacity"

# neutron's convention (the sriovnicswitch driver does the same) for "untagged" on a flat network.
FLAT_VLAN: Final = 0
