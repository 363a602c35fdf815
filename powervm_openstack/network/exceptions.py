"""Exceptions of the networking role (mechanism drivers, agents, VLAN planning).

Every message names the value that was refused and what would have been accepted, so that the one
log line an operator sees is enough to fix the request or the configuration. They are plain Python
exceptions so the pure modules (``vlan_plan``, ``sriov_capacity``) need no neutron import.
"""


class PowerVMNetworkError(Exception):
    """Base of every exception raised by ``powervm_openstack.network``."""


class InvalidCapacity(PowerVMNetworkError, ValueError):
    """An SR-IOV capacity or max capacity value cannot be used."""


class InvalidRedundancy(PowerVMNetworkError, ValueError):
    """An SR-IOV redundancy (number of VFs backing one vNIC) cannot be used."""


class InsufficientSriovPorts(PowerVMNetworkError):
    """Fewer usable physical ports carry the physical network than the redundancy asks for."""


class BindingRefused(PowerVMNetworkError):
    """A mechanism driver will not bind a port to a segment; the message says why."""


class InvalidBridgeState(PowerVMNetworkError, ValueError):
    """A NetworkBridge description handed to the VLAN planner is inconsistent."""


class BridgeMappingError(PowerVMNetworkError, ValueError):
    """``bridge_mappings`` is malformed or names a VIOS, SEA or bridge the host does not have."""


class PowerVMApiError(PowerVMNetworkError):
    """The PowerVM REST API refused or failed a change; the message carries its answer."""
