"""Memory and processor changes of a Virtual I/O Server: the partition rules, applied to a VIOS.

A VIOS is a partition like any other to the hypervisor: pypowervm's ``VIOS`` wrapper extends the
same ``BasePartition`` as ``LPAR`` (memory and processor configuration, RMC state, DLPAR
capabilities), and firmware changes a running partition's memory or processors only through DLPAR
over an active RMC connection. So a VIOS update that changes the desired memory, processing units
(or dedicated processors) or virtual processors is, while the VIOS runs:
- refused (409, HSCL294C) when its RMC connection is not active;
- otherwise a DLPAR (``dlpar.apply``): within the current minimum and maximum, by what the system
  has free, moving the VIOS's current values and the system's available memory and units.
A stopped VIOS takes the change offline. The storage and network rules of the VIOS document (vSCSI,
vFC mappings, trunk adapters) run after this check, unchanged.

The same update is where a client partition gains or loses a virtual FC client adapter: each NPIV
mapping has its own client adapter, so a new mapping adds one and a removed mapping removes one.
For a running client partition without active RMC both are refused (409, HSCL294C,
``adapters.check_live_change``), as for every other live adapter change; the vFC rules themselves
(``model.vfc``) are not changed by this.
"""

from __future__ import annotations

from powervm_openstack.simulator.errors import ApiError
from powervm_openstack.simulator.model import adapters, dlpar
from powervm_openstack.simulator.model.lpar_resources import DOWN_STATES, managed_system, resources
from powervm_openstack.simulator.model.vfc import VFC_MAPS, client_wwpns
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction


def install() -> None:
    """Wrap the VIOS behaviour registered so far (after vscsi and vfc)."""
    kinds.register("VirtualIOServer", ViosResourceRules(kinds.behaviour("VirtualIOServer")))


class ViosResourceRules(kinds.Behaviour):
    def __init__(self, inner: kinds.Behaviour) -> None:
        self.inner = inner

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        self.inner.on_create(txn, rec, parent)

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        if xml.find(new.element, "PartitionMemoryConfiguration") is not None:
            check_resources(txn, old, new)
        check_vfc_clients(txn, old, new)
        self.inner.on_update(txn, old, new)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        self.inner.on_delete(txn, rec)


def check_resources(txn: Transaction, old: Record, new: Record) -> None:
    """Refuse or perform a live memory/processor change of a VIOS (see the module docstring)."""
    state = xml.text(old.element, "PartitionState", "") or ""
    if state in DOWN_STATES or resources(old.element) == resources(new.element):
        return
    rmc = xml.text(old.element, "ResourceMonitoringControlState", "inactive") or "inactive"
    if rmc != "active":
        raise ApiError(
            409,
            f"HSCL294C Virtual I/O Server {xml.text(old.element, 'PartitionName')} ({old.uuid}) is {state} and its "
            f"RMC connection is {rmc}: memory and processors of a running partition change only through an "
            "active RMC connection (DLPAR).",
        )
    dlpar.apply(txn, managed_system(txn), old, new)


def check_vfc_clients(txn: Transaction, old: Record, new: Record) -> None:
    """Refuse a vFC client adapter added to or removed from a running partition without RMC."""
    before = {client_wwpns(m) for m in xml.findall(old.element, VFC_MAPS) if client_wwpns(m)}
    after = {client_wwpns(m) for m in xml.findall(new.element, VFC_MAPS) if client_wwpns(m)}
    for mapping in xml.findall(new.element, VFC_MAPS):
        if not client_wwpns(mapping) or client_wwpns(mapping) not in before:
            _check_client(txn, mapping, adapters.check_live_add)
    for mapping in xml.findall(old.element, VFC_MAPS):
        if client_wwpns(mapping) and client_wwpns(mapping) not in after:
            _check_client(txn, mapping, adapters.check_live_remove)


def _check_client(txn: Transaction, mapping, check) -> None:  # noqa: ANN001 - an element and one of adapters' checks
    link = xml.find(mapping, "AssociatedLogicalPartition")
    client = txn.get("LogicalPartition", adapters.href_uuid(link.get("href") or "")) if link is not None else None
    if client is not None and xml.find(mapping, "ClientAdapter") is not None:
        check(client, "a virtual FC client adapter")
