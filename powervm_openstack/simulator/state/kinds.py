"""Which REST object kinds exist, where they live in the URL space, and their behaviours.

A *kind* is the element name of a REST object (``LogicalPartition``, ``NetworkBridge``).
ROOT kinds have their own collection (``/rest/api/uom/<Kind>``); CHILD kinds live only under
a parent (``/rest/api/uom/ManagedSystem/<u>/NetworkBridge``). Model modules register a
``Behaviour`` per kind: the rules real firmware applies on create, update and delete.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from powervm_openstack.simulator.state.record import Record
    from powervm_openstack.simulator.state.store import Transaction


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    root: bool
    parents: tuple[str, ...] = ()
    service: str = "uom"


_SYSTEM_CHILDREN = (
    "NetworkBridge",
    "VirtualSwitch",
    "VirtualNetwork",
    "SharedProcessorPool",
    "VirtualSerialNumberInformation",
)
_PARTITION = ("LogicalPartition", "VirtualIOServer")

KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind("ManagedSystem", root=True),
        Kind("ManagementConsole", root=True),
        Kind("LogicalPartition", root=True, parents=("ManagedSystem",)),
        Kind("VirtualIOServer", root=True, parents=("ManagedSystem",)),
        *(Kind(name, root=False, parents=("ManagedSystem",)) for name in _SYSTEM_CHILDREN),
        Kind("ClientNetworkAdapter", root=False, parents=_PARTITION),
        Kind("SRIOVEthernetLogicalPort", root=False, parents=_PARTITION),
        Kind("VirtualNICDedicated", root=False, parents=("LogicalPartition",)),
        Kind("VirtualFibreChannelClientAdapter", root=False, parents=("LogicalPartition",)),
        Kind("VolumeGroup", root=False, parents=("VirtualIOServer",)),
        Kind("VirtualSCSIBus", root=False, parents=("VirtualIOServer",)),
        Kind("SharedStoragePool", root=True),
        Kind("Cluster", root=True),
        Kind("Tier", root=True),
        Kind("LogicalUnit", root=False, parents=("Tier",)),
        Kind("PowerEnterprisePool", root=True),
        Kind("PowerEnterprisePoolMember", root=False, parents=("PowerEnterprisePool",)),
        Kind("File", root=True, service="web"),
    ]
}


class Behaviour:
    """Firmware rules for one kind. The default accepts everything as sent.

    Hooks run inside the store transaction: raising ``ApiError`` rolls the whole change back.
    """

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        """Fill in what the server assigns (ids, slots, MACs) and refuse what firmware refuses."""

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        """Apply the side effects of an update (e.g. a bridge change reaching every VIOS)."""

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        """Remove what goes with the object (links in the parent, child objects)."""


_BEHAVIOURS: dict[str, Behaviour] = {}


def register(kind: str, behaviour: Behaviour) -> None:
    _BEHAVIOURS[kind] = behaviour


def behaviour(kind: str) -> Behaviour:
    return _BEHAVIOURS.get(kind, _DEFAULT)


_DEFAULT = Behaviour()


def lookup(name: str) -> Kind | None:
    return KINDS.get(name)
