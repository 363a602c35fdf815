"""Partition mobility of virtual FC (NPIV) adapters; the shared rules are ``model.mobility_storage``'s.

Source: each vFC mapping of the partition with its client WWPN pair, which of the two is logged in
here (``vfc.active.<first wwpn>`` in this store's meta; it alternates with each move) and the SAN
LUNs masked to that one. Destination: a physical FC port with a free NPIV port on the VIOS
``VirtualFCMappings`` names (else any, the source VIOS's namesake first; the named port, else the
one with most free NPIV ports), and every LUN masked here to the pair's other WWPN; the mapping is
built there with the same WWPNs and the port loses a free NPIV port. The source's mappings go and
give their NPIV ports back.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from powervm_openstack.simulator.model import adapters, fc, vfc
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

ACTIVE = "vfc.active."


def vfc_mappings(txn: Transaction, part: Record) -> list[tuple[Record, Any]]:
    return [(vios, m) for vios in txn.find("VirtualIOServer") for m in xml.findall(vios.element, vfc.VFC_MAPS)
            if _client_uuid(m) == part.uuid.upper()]  # fmt: skip


def _client_uuid(mapping: Any) -> str:
    link = xml.find(mapping, "AssociatedLogicalPartition")
    return adapters.href_uuid(link.get("href") or "").upper() if link is not None else ""


def vfc_item(txn: Transaction, vios: Record, mapping: Any) -> dict[str, Any]:
    wwpns = (xml.text(mapping, "ClientAdapter/WWPNs") or "").lower().split()
    active = int(txn.meta(ACTIVE + (wwpns[0] if wwpns else ""), "0") or 0)
    luns = [lun.get("udid") for lun in fc.san(txn).element.iterfind("Lun")
            if wwpns and lun.find(f"Initiator[@wwpn='{wwpns[active]}']") is not None]  # fmt: skip
    return {"slot": int(xml.text(mapping, "ClientAdapter/VirtualSlotNumber", "0") or 0), "wwpns": wwpns,
            "active": active, "luns": luns, "vios": xml.text(vios.element, "PartitionName"),
            "port": xml.text(mapping, "Port/PortName", ""), "mapping": xml.tostring(mapping)}  # fmt: skip


def remove_vfc_here(txn: Transaction, part: Record) -> None:
    """Drop the partition's virtual FC mappings from this system's VIOSes, giving their NPIV ports back."""
    touched = {}
    for vios, mapping in vfc_mappings(txn, part):
        vios = touched.setdefault(vios.uuid, vios)
        for stored in xml.findall(vios.element, vfc.VFC_MAPS):
            if vfc.client_wwpns(stored) == vfc.client_wwpns(mapping):
                take_npiv(vios, xml.text(stored, "Port/PortName") or "", +1)
                stored.getparent().remove(stored)
    for vios in touched.values():
        txn.put(vios, detail="VirtualFibreChannelMappings")


def named(vioses: list[Record], spec: dict[str, str]) -> Record | None:
    return next((v for v in vioses if spec["name"] in ("", xml.text(v.element, "PartitionName"))
                 and spec["id"] in ("", xml.text(v.element, "PartitionID"))), None)  # fmt: skip


def ordered(vioses: list[Record], src_vios: str, busy: set[str]) -> list[Record]:
    return sorted(vioses, key=lambda v: (xml.text(v.element, "PartitionName") != src_vios, v.uuid in busy))


def place(txn: Transaction, vioses: list[Record], item: dict, spec: dict | None, own: str,
               used_ports: dict, reasons: list[str]) -> tuple[Record, str] | None:  # fmt: skip
    wwpn = item["wwpns"][1 - item["active"]] if len(item["wwpns"]) == 2 else "?"
    where = f"virtual FC client adapter slot {item['slot']} (WWPN {wwpn} on {own})"
    san = fc.san(txn).element
    unmasked = [u for u in item["luns"] if not any(lun.get("udid") == u and lun.find(f"Initiator[@wwpn='{wwpn}']")
                                                   is not None for lun in san.iterfind("Lun"))]  # fmt: skip
    if unmasked:
        reasons.append(f"LUN(s) {', '.join(unmasked)} of {where} are not masked to that WWPN in {own}'s SAN.")
        return None
    candidates = ordered(vioses, item["vios"], set())
    if spec is not None:
        candidates = [v for v in [named(vioses, spec)] if v is not None]
        if not candidates:
            reasons.append(f"VirtualFCMappings {spec['raw']}: no VIOS {spec['name']}/{spec['id']} on {own}.")
            return None
    for vios in candidates:
        ports = [p for p in xml.findall(vios.element, fc.PFC_PORTS)
                 if not (spec and spec["port"]) or xml.text(p, "PortName") == spec["port"]]  # fmt: skip
        if spec and spec["port"] and not ports:
            reasons.append(f"VirtualFCMappings {spec['raw']}: VIOS {xml.text(vios.element, 'PartitionName')} has no "
                           f"physical FC port {spec['port']}.")  # fmt: skip
            return None
        free = {xml.text(p, "PortName"): int(xml.text(p, "AvailablePorts") or 0)
                - used_ports.get((vios.uuid, xml.text(p, "PortName")), 0) for p in ports}  # fmt: skip
        best = max(free, key=lambda n: free[n], default=None)
        if best is not None and free[best] > 0:
            return vios, best
    port_name = f" {spec['port']}" if spec and spec["port"] else ""
    reasons.append(f"No physical FC port{port_name} with a free NPIV port on "
                   f"{', '.join(xml.text(v.element, 'PartitionName') for v in candidates) or 'no VIOS'} of {own} "
                   f"for {where}.")  # fmt: skip
    return None


def take_npiv(vios: Record, name: str, delta: int) -> etree._Element | None:
    port = next((p for p in xml.findall(vios.element, fc.PFC_PORTS) if xml.text(p, "PortName") == name), None)
    if port is not None:
        free = int(xml.text(port, "AvailablePorts") or 0) + delta
        xml.set_text(port, "AvailablePorts", max(0, min(free, int(xml.text(port, "TotalPorts") or 0))))
    return port


def map_vfc(txn: Transaction, vios: Record, mapping: Any, port_name: str, s_slot: int, lpar_id: int) -> None:
    port = take_npiv(vios, port_name, -1)
    assert port is not None
    vios_id, c_slot = xml.text(vios.element, "PartitionID"), xml.text(mapping, "ClientAdapter/VirtualSlotNumber")
    loc = adapters.location_code(txn, vios, s_slot)
    for path, value in (("ServerAdapter/LocalPartitionID", vios_id), ("ServerAdapter/ConnectingPartitionID", lpar_id),
                        ("ServerAdapter/VirtualSlotNumber", s_slot), ("ServerAdapter/ConnectingVirtualSlotNumber",
                        c_slot), ("ServerAdapter/LocationCode", loc), ("ServerAdapter/DynamicReconfigurationConnectorName",
                        loc), ("ServerAdapter/MapPort", port_name), ("ClientAdapter/LocalPartitionID", lpar_id),
                        ("ClientAdapter/ConnectingPartitionID", vios_id), ("ClientAdapter/ConnectingVirtualSlotNumber",
                        s_slot)):  # fmt: skip
        xml.set_text(mapping, path, value)
    names = {xml.text(m, "ServerAdapter/AdapterName") for m in xml.findall(vios.element, vfc.VFC_MAPS)}
    xml.set_text(mapping, "ServerAdapter/AdapterName", next(f"vfchost{n}" for n in range(10_000)
                                                            if f"vfchost{n}" not in names))  # fmt: skip
    vfc.attach_port(mapping, port)
    holder = xml.find(vios.element, "VirtualFibreChannelMappings")
    if holder is None:
        holder = xml.complex_el(vios.element, "VirtualFibreChannelMappings")
    holder.append(mapping)
