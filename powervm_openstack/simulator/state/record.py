"""The unit of simulator state: one REST object (an Atom entry's content) and where it lives."""

from __future__ import annotations

import copy
import dataclasses

from lxml import etree


@dataclasses.dataclass
class Record:
    """One object as the REST API serves it.

    ``element`` is the object root element (e.g. ``<LogicalPartition:LogicalPartition>``), with
    links made base-relative. ``parent_kind``/``parent_uuid`` place CHILD objects (a NetworkBridge
    under its ManagedSystem, a ClientNetworkAdapter under its partition). ROOT objects that also
    appear under the ManagedSystem (LogicalPartition, VirtualIOServer) carry the system as parent.
    """

    kind: str
    uuid: str
    element: etree._Element
    parent_kind: str | None = None
    parent_uuid: str | None = None
    etag: str = ""
    title: str = ""

    def copy(self) -> Record:
        return dataclasses.replace(self, element=copy.deepcopy(self.element))
