"""NPIV: virtual FC mappings on the VIOS document and the system's virtual WWPN generator.

A client POSTs its VIOS with ``VirtualFibreChannelMappings`` entries added or removed (pypowervm
``vfc_mapper.add_map``/``remove_maps``). Inside the VIOS update's transaction (after the vSCSI
rules, ``model.vscsi``) the server, for a new mapping:
- requires the client partition (``AssociatedLogicalPartition``) and a ``Port`` naming a physical
  FC port of this VIOS with a free NPIV port (``AvailablePorts``, which the mapping then takes);
- takes the client adapter's two ``WWPNs`` as given (16 hex digits each, used by no other mapping
  of the system) or generates a pair;
- assigns the server adapter (slot, ``vfchostN``, ``MapPort``, ``PhysicalPort``) and the client
  adapter (the slot the client asked for, refused when in use or out of range, else the first free
  one; connecting ids and slots), as the capture ``fake_vios_ssp_npiv.txt``
  shows them.
A removed mapping gives its NPIV port back. A mapping whose client partition was deleted stays as an
orphan (``lpar_rules``: no ``ClientAdapter``, the server adapter keeps ``ConnectingPartitionID``),
known by its ``vfchostN``; ``unmap_port`` is the VIOS administrator's ``vfcmap -vadapter vfchostN
-fcp`` (no port): the mapping stays without ``Port`` (pypowervm: "the vfcmap isn't done") and gives
its NPIV port back, which is what pypowervm's ``ScrubPortlessVFCMaps`` removes. ``ManagedSystem/<u>/do/GetNextWWPNs``
(``numberPairsRequested``, 1-8 as the real API allows) answers ``wwpnList``: comma-separated
WWPNs, two per pair, never handed out before.
"""

from __future__ import annotations

import copy
import re

from lxml import etree

from powervm_openstack.simulator.errors import bad_request
from powervm_openstack.simulator.model import adapters, fc, vscsi
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store, Transaction

VFC_MAPS = "VirtualFibreChannelMappings/VirtualFibreChannelMapping"
MAX_PAIRS = 8
_WWPN = re.compile(r"[0-9a-fA-F]{16}")
_CLIENT_ORDER = (
    "Metadata", "AdapterType", "DynamicReconfigurationConnectorName", "LocationCode", "LocalPartitionID",
    "RequiredAdapter", "VariedOn", "UseNextAvailableSlotID", "UseNextAvailableHighSlotID", "VirtualSlotNumber",
    "ConnectingPartitionID", "ConnectingVirtualSlotNumber", "WWPNs",
)  # fmt: skip
_SERVER_ORDER = (*_CLIENT_ORDER[:-1], "AdapterName", "UniqueDeviceID", "MapPort", "PhysicalPort")


def install() -> None:
    kinds.register("VirtualIOServer", VfcRules(kinds.behaviour("VirtualIOServer")))
    register_job("ManagedSystem", "GetNextWWPNs", next_wwpns)


def next_wwpns(txn: Transaction, system: Record | None, params: dict[str, str]) -> dict[str, str]:
    count = params.get("numberPairsRequested", "1")
    if not count.isdigit() or not 1 <= int(count) <= MAX_PAIRS:
        raise JobFailed(f"numberPairsRequested {count!r} must be a whole number from 1 to {MAX_PAIRS}.")
    return {"wwpnList": ",".join(w for _ in range(int(count)) for w in _new_pair(txn))}


def _new_pair(txn: Transaction) -> tuple[str, str]:
    seq = int(txn.meta("vfc-wwpn-seq", "0") or 0) + 1
    txn.set_meta("vfc-wwpn-seq", str(seq))
    base = 0xC050760000000000 + seq * 2
    return f"{base:016X}", f"{base + 1:016X}"


def client_wwpns(mapping: etree._Element) -> frozenset[str]:
    return frozenset((xml.text(mapping, "ClientAdapter/WWPNs") or "").lower().split())


class VfcRules(kinds.Behaviour):
    """The vSCSI rules (``inner``), then the vFC mappings' (see the module docstring)."""

    def __init__(self, inner: kinds.Behaviour) -> None:
        self.inner = inner

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        self.inner.on_create(txn, rec, parent)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        self.inner.on_delete(txn, rec)

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        self.inner.on_update(txn, old, new)
        before = {_key(m): m for m in xml.findall(old.element, VFC_MAPS) if _key(m)}
        kept = set()
        for mapping in xml.findall(new.element, VFC_MAPS):
            key = _key(mapping)
            if key in before and key not in kept:
                kept.add(key)
                mapping.getparent().replace(mapping, copy.deepcopy(before[key]))
            else:
                _new_mapping(txn, new, mapping)
        for key, mapping in before.items():
            if key not in kept and xml.text(mapping, "Port/PortName"):
                _npiv_port(new, xml.text(mapping, "Port/PortName") or "", +1)


def _key(mapping: etree._Element) -> frozenset[str] | str | None:
    """A mapping's identity: its client WWPNs, or for an orphan (no client adapter) its ``vfchostN``."""
    if xml.find(mapping, "ClientAdapter") is not None:
        return client_wwpns(mapping) or None
    return xml.text(mapping, "ServerAdapter/AdapterName")


def unmap_port(store: Store, vios_uuid: str, vfchost: str) -> None:
    """``vfcmap -vadapter <vfchost> -fcp`` on the VIOS: the mapping loses its backing port."""
    with store.transaction() as txn:
        vios = txn.get("VirtualIOServer", vios_uuid)
        mapping = next((m for m in xml.findall(vios.element, VFC_MAPS) if xml.text(m, "ServerAdapter/AdapterName")
                        == vfchost), None) if vios is not None else None  # fmt: skip
        if mapping is None:
            raise KeyError(f"no virtual FC mapping {vfchost} on VIOS {vios_uuid}")
        _npiv_port(vios, xml.text(mapping, "Port/PortName") or "", +1)
        for holder, tag in ((mapping, "Port"), (xml.find(mapping, "ServerAdapter"), "PhysicalPort"),
                            (xml.find(mapping, "ServerAdapter"), "MapPort")):  # fmt: skip
            node = xml.find(holder, tag)
            if node is not None:
                holder.remove(node)
        txn.put(vios, detail="VirtualFibreChannelMappings")


def _physical_port(vios: Record, name: str) -> etree._Element:
    for port in xml.findall(vios.element, fc.PFC_PORTS):
        if xml.text(port, "PortName") == name:
            return port
    known = ", ".join(xml.text(p, "PortName") or "" for p in xml.findall(vios.element, fc.PFC_PORTS)) or "none"
    raise bad_request(f"Physical FC port {name!r} is not on VIOS {vios.uuid} (its ports: {known}).")


def _npiv_port(vios: Record, name: str, delta: int) -> etree._Element:
    port = _physical_port(vios, name)
    free = int(xml.text(port, "AvailablePorts") or 0) + delta
    if free < 0:
        raise bad_request(f"Physical FC port {name} of VIOS {vios.uuid} has no free NPIV port.")
    xml.set_text(port, "AvailablePorts", min(free, int(xml.text(port, "TotalPorts") or 0)))
    return port


def _wwpns_in_use(txn: Transaction, vios: Record, mapping: etree._Element) -> set[str]:
    """Client WWPNs of every VIOS's stored mappings and of this update's other mappings."""
    used = {w for other in txn.find("VirtualIOServer") for m in xml.findall(other.element, VFC_MAPS)
            for w in client_wwpns(m)}  # fmt: skip
    return used | {w for m in xml.findall(vios.element, VFC_MAPS) if m is not mapping for w in client_wwpns(m)}


def _new_mapping(txn: Transaction, vios: Record, mapping: etree._Element) -> None:
    client = vscsi._client(txn, mapping)
    name = xml.text(mapping, "Port/PortName")
    if not name:
        raise bad_request("A new virtual FC mapping needs a Port (the physical FC port's PortName).")
    port = _npiv_port(vios, name, -1)
    given = (xml.text(mapping, "ClientAdapter/WWPNs") or "").split()
    if given:
        if len(given) != 2 or not all(_WWPN.fullmatch(w) for w in given):
            raise bad_request(f"Client WWPNs {' '.join(given)!r} must be two WWPNs of 16 hex digits.")
        if {w.lower() for w in given} & _wwpns_in_use(txn, vios, mapping):
            raise bad_request(f"Client WWPNs {' '.join(given)} are already used by another virtual FC adapter.")
    wwpns = " ".join(w.lower() for w in given) or " ".join(_new_pair(txn)).lower()
    used_server = vscsi._server_slots(txn, vios)
    s_slot = vscsi._free_slot(vios, used_server)
    asked = xml.text(mapping, "ClientAdapter/VirtualSlotNumber")
    if asked:  # a rebuild keeps the source's slots (pypowervm ``add_map(lpar_slot_num=)``)
        adapters.check_slot(txn, client, int(asked))
    c_slot = int(asked) if asked else vscsi._free_slot(client, vscsi._client_slots(txn, client))
    vios_id, client_id = adapters.partition_id(vios), adapters.partition_id(client)
    s_loc, c_loc = adapters.location_code(txn, vios, s_slot), adapters.location_code(txn, client, c_slot)
    server, client_adpt = _adapter(mapping, "ServerAdapter"), _adapter(mapping, "ClientAdapter")
    for adpt, kind, loc, local, remote, slot, rslot, order in (
        (client_adpt, "Client", c_loc, client_id, vios_id, c_slot, s_slot, _CLIENT_ORDER),
        (server, "Server", s_loc, vios_id, client_id, s_slot, c_slot, _SERVER_ORDER),
    ):
        for tag, value in (("AdapterType", kind), ("DynamicReconfigurationConnectorName", loc), ("LocationCode", loc),
                           ("LocalPartitionID", local), ("RequiredAdapter", False), ("VariedOn", True),
                           ("VirtualSlotNumber", slot), ("ConnectingPartitionID", remote),
                           ("ConnectingVirtualSlotNumber", rslot)):  # fmt: skip
            set_child(adpt, tag, value, order)
    set_child(client_adpt, "WWPNs", wwpns, _CLIENT_ORDER)
    names = {xml.text(m, "ServerAdapter/AdapterName") for m in xml.findall(vios.element, VFC_MAPS)}
    for tag, value in (("AdapterName", next(f"vfchost{n}" for n in range(10_000) if f"vfchost{n}" not in names)),
                       ("UniqueDeviceID", f"1d{s_loc}"), ("MapPort", name)):  # fmt: skip
        set_child(server, tag, value, _SERVER_ORDER)
    attach_port(mapping, port)


def _adapter(mapping: etree._Element, tag: str) -> etree._Element:
    adpt = xml.find(mapping, tag)
    if adpt is None:
        adpt = xml.complex_el(mapping, tag)
    return adpt


def attach_port(mapping: etree._Element, port: etree._Element) -> None:
    """Put physical FC ``port`` (its VIOS document element) in ``mapping``: the server adapter's and the mapping's."""
    server = xml.find(mapping, "ServerAdapter")
    physical = copy.deepcopy(port)
    physical.tag = xml.q("PhysicalPort")
    for child in xml.findall(physical, "PhysicalVolumes"):
        physical.remove(child)
    old = xml.find(server, "PhysicalPort")
    if old is not None:
        server.remove(old)
    server.append(physical)
    ref = copy.deepcopy(physical)
    ref.tag = xml.q("Port")
    old_ref = xml.find(mapping, "Port")
    if old_ref is not None:
        mapping.replace(old_ref, ref)
    else:
        mapping.append(ref)
