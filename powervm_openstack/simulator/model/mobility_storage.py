"""Partition mobility of SAN storage: vSCSI-mapped hdisks (FC or iSCSI LUNs) and virtual FC (NPIV) adapters.

The source (``model.mobility``) adds to the package, per client adapter: ``hdisks`` (the vSCSI
mappings of SAN hdisks, with the UDID, the source VIOS and the client slot) and ``vfc`` (each
virtual FC mapping with its client WWPN pair, which of the two is logged in here and the SAN LUNs
masked to that one: the partition's NPIV disks), plus the job parameters ``VirtualSCSIMappings``
and ``VirtualFCMappings`` (formats of pypowervm ``tasks.migration``: ``slot/vios-name/vios-id
[/vios-slot]`` and ``slot/vios-name/vios-id[/vios-slot[/fc-port]]``; name, id or both, as
pypowervm's ``vfc_mapper.build_migration_mappings`` gives both, then they must name one VIOS) parsed.
The source refuses, naming the value: a malformed mapping, a slot that is no virtual SCSI / FC
client adapter of the partition, an hdisk no SAN LUN or iSCSI target backs (a local disk), and an
hdisk whose reserve policy is not ``NoReserve`` (IBM: "the reserve_policy of the physical volume
must be set to no_reserve" on the source and destination VIOS for LPM).

The destination (``model.mobility_target``) places each client adapter on one VIOS:
- vSCSI: the VIOS the mapping names, else one of its VIOSes (the source VIOS's name first, then
  one no other adapter of the partition uses) where every hdisk of the adapter is already
  discovered (a PhysicalVolume with the same UDID: LUARecovery / ISCSIDiscovery ran there), is
  still reachable (masked in this side's SAN to one of the VIOS's FC ports, or the iSCSI target
  lists the VIOS) and has reserve policy ``NoReserve``. An adapter that also carries SSP logical
  units goes to the VIOS that ``mobility_target`` maps those on (the cluster node named as the
  source VIOS, else its first);
- vFC (``model.mobility_vfc``): on the VIOS the mapping names (else any, the source VIOS's name first) a physical FC port
  (the one named, else the one with most free NPIV ports) with a free NPIV port; and every LUN
  of the adapter must be masked in this side's SAN to the pair's *other* WWPN, the one the
  partition logs in with on the destination (IBM: both WWPNs of a client adapter must be zoned
  to the storage). The simulator has no fabric model beyond masking: any port reaches any target.
  The WWPN in use alternates with each move (``vfc.active.<first wwpn>`` in this store's meta);
- a named ``vios-slot`` must be free on that VIOS, else the next free slot is taken.
Anything that fails is a reason naming the disk, LUN, port or mapping, and nothing moves. On
receive the vSCSI mappings are built on the chosen VIOS with its own hdisk (its name may differ)
and target device, the vFC mappings with the chosen port (which loses one free NPIV port); the
source then drops both kinds of mapping (its NPIV ports are given back) and keeps its hdisks
discovered: removing them is the client's job (the nova driver's ``post_live_migration``).
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree

from powervm_openstack.simulator.model import fc, mobility_vfc, vscsi
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.runtime.jobs import JobFailed
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

_MAPS = "VirtualSCSIMappings/VirtualSCSIMapping"
NO_RESERVE = "NoReserve"


# -- source side ---------------------------------------------------------------------------
def package(txn: Transaction, part: Record, params: dict[str, str], mappings: list[tuple[Record, Any]]) -> dict:
    """The SAN storage part of the package (see the module docstring); raises JobFailed naming the refusal."""
    hdisks = [_hdisk_item(txn, part, vios, m) for vios, m in mappings if xml.local(_dev(m)) == "PhysicalVolume"]
    vfcs = [mobility_vfc.vfc_item(txn, vios, m) for vios, m in mobility_vfc.vfc_mappings(txn, part)]
    scsi_slots = {_client_slot(m) for _, m in mappings}
    return {
        "hdisks": hdisks,
        "vfc": vfcs,
        "lu_slots": sorted({(_client_slot(m), xml.text(v.element, "PartitionName"))
                            for v, m in mappings if xml.local(_dev(m)) == "LogicalUnit"}),
        "vscsi_targets": _specs(params.get("VirtualSCSIMappings", ""), "VirtualSCSIMappings", 4, scsi_slots, part),
        "vfc_targets": _specs(params.get("VirtualFCMappings", ""), "VirtualFCMappings", 5,
                              {v["slot"] for v in vfcs}, part),
    }  # fmt: skip


def _dev(mapping: Any) -> Any:
    holder = xml.find(mapping, "Storage")
    return holder[0] if holder is not None and len(holder) else etree.Element("none")


def _client_slot(mapping: Any) -> int:
    return int(xml.text(mapping, "ClientAdapter/VirtualSlotNumber", "0") or 0)


def _hdisk_item(txn: Transaction, part: Record, vios: Record, mapping: Any) -> dict[str, Any]:
    dev, vname = _dev(mapping), xml.text(vios.element, "PartitionName")
    name, udid = xml.text(dev, "VolumeName", "?"), xml.text(dev, "UniqueDeviceID", "")
    if _backing(txn, udid) is None:
        raise JobFailed(f"Partition {_name(part)} uses hdisk {name} of VIOS {vname}, which no SAN LUN or iSCSI "
                        "target backs; only SAN disks and Shared Storage Pool logical units can move.")  # fmt: skip
    pv = next((p for p in fc.hdisks(vios) if xml.text(p, "UniqueDeviceID") == udid), dev)
    policy = xml.text(pv, "ReservePolicy", NO_RESERVE)
    if policy != NO_RESERVE:
        raise JobFailed(f"hdisk {name} (UDID {udid}) of VIOS {vname} has reserve policy {policy}; "
                        f"live migration needs {NO_RESERVE} (no_reserve).")  # fmt: skip
    return {"udid": udid, "name": name, "vios": vname, "slot": _client_slot(mapping), "mapping": xml.tostring(mapping)}


def _specs(raw: str, param: str, most: int, slots: set[int], part: Record) -> dict[str, dict[str, str]]:
    """``{client slot: {name, id, slot, port, raw}}`` of a mappings parameter (refused when malformed)."""
    found = {}
    shape = "slot/vios-name/vios-id[/vios-slot]" + ("[/fc-port]" if most == 5 else "")
    for text in (t.strip() for t in raw.split(",") if t.strip()):
        parts = text.split("/")
        fields = (parts + ["", ""])[:5]
        slot, name, vid, vslot, port = fields
        # pypowervm's own build_migration_mappings gives both name and id, which must then agree
        ok = 3 <= len(parts) <= most and slot.isdigit() and bool(name or vid)
        if not ok or (vid and not vid.isdigit()) or (vslot and not vslot.isdigit()):
            raise JobFailed(f"{param} {text!r} is not {shape} (vios-name, vios-id or both).")
        if int(slot) not in slots:
            kind = "virtual SCSI" if most == 4 else "virtual FC"
            raise JobFailed(f"{param} {text!r}: slot {slot} is no {kind} client adapter of partition {_name(part)} "
                            f"(its slots: {', '.join(map(str, sorted(slots))) or 'none'}).")  # fmt: skip
        found[slot] = {"name": name, "id": vid, "slot": vslot, "port": port, "raw": text}
    return found


# -- destination side ----------------------------------------------------------------------
def validate(txn: Transaction, pkg: dict[str, Any], own: str, lu_vios: Any) -> list[str]:
    """Why this system cannot take the package's SAN storage (empty when it can)."""
    return _plan(txn, pkg, own, lu_vios)[0]


def receive(txn: Transaction, pkg: dict[str, Any], own: str, lu_vios: Any, lpar_id: int,
            doc: Any) -> None:  # fmt: skip
    """Build the package's hdisk and vFC mappings here (after the partition and its LU mappings)."""
    reasons, scsi, fcs = _plan(txn, pkg, own, lu_vios)
    if reasons:
        raise JobFailed(" ".join(reasons))
    vioses = {v.uuid: v for v in txn.find("VirtualIOServer")}
    for item in pkg.get("hdisks", []):
        vios_uuid, s_slot = scsi[(item["vios"], item["slot"])]
        maps = xml.findall(vioses[vios_uuid].element, _MAPS)
        s_slot = server_slot_of(maps, lpar_id, str(item["slot"])) or s_slot  # shared with its LUs or hdisks
        _map_hdisk(vioses[vios_uuid], item, doc(item["mapping"]), s_slot, lpar_id)
    for item in pkg.get("vfc", []):
        vios_uuid, port, s_slot = fcs[item["slot"]]
        mobility_vfc.map_vfc(txn, vioses[vios_uuid], doc(item["mapping"]), port, s_slot, lpar_id)
        txn.set_meta(mobility_vfc.ACTIVE + item["wwpns"][0], str(1 - item["active"]))
    for vios in vioses.values():
        if vios.uuid in {v for v, _ in scsi.values()} | {v for v, _, _ in fcs.values()}:
            txn.put(vios, detail="VirtualSCSIMappings")


def server_slot_of(maps: list[Any], lpar_id: int, client_slot: str | None) -> int:
    """The server slot of the mapping of client adapter ``client_slot`` of partition ``lpar_id`` (0: none)."""
    for m in maps:
        if (xml.text(m, "ServerAdapter/RemoteLogicalPartitionID") == str(lpar_id)
                and xml.text(m, "ClientAdapter/VirtualSlotNumber") == client_slot):  # fmt: skip
            return int(xml.text(m, "ServerAdapter/VirtualSlotNumber", "0") or 0)
    return 0


def _plan(txn: Transaction, pkg: dict[str, Any], own: str, lu_vios: Any) -> tuple[list[str], dict, dict]:
    """Reasons, and the VIOS and slot of each adapter; ``lu_vios(source VIOS name)``: where its LUs go here."""
    vioses = list(txn.find("VirtualIOServer"))
    reasons: list[str] = []
    taken: dict[str, set[int]] = {v.uuid: vscsi._server_slots(txn, v) for v in vioses}
    scsi: dict[tuple[str, int], tuple[str, int]] = {}
    groups: dict[tuple[str, int], list[dict]] = {}
    for item in pkg.get("hdisks", []):
        groups.setdefault((item["vios"], item["slot"]), []).append(item)
    for (src_vios, slot), items in groups.items():
        spec = pkg.get("vscsi_targets", {}).get(str(slot))
        with_lu = [slot, src_vios] in pkg.get("lu_slots", [])  # JSON made the (slot, VIOS) pairs lists
        choice = _place_scsi(txn, vioses, items, spec, src_vios, own, with_lu, lu_vios(src_vios),
                             {v for v, _ in scsi.values()}, reasons)  # fmt: skip
        if choice is not None:
            scsi[(src_vios, slot)] = (choice.uuid, _server_slot(choice, spec, taken, reasons))
    fcs: dict[int, tuple[str, str, int]] = {}
    used_ports: dict[tuple[str, str], int] = {}
    for item in pkg.get("vfc", []):
        placed = mobility_vfc.place(txn, vioses, item, pkg.get("vfc_targets", {}).get(str(item["slot"])), own, used_ports,
                            reasons)  # fmt: skip
        if placed is not None:
            vios, port = placed
            used_ports[(vios.uuid, port)] = used_ports.get((vios.uuid, port), 0) + 1
            fcs[item["slot"]] = (vios.uuid, port, _server_slot(vios, pkg.get("vfc_targets", {}).get(str(item["slot"])),
                                                               taken, reasons))  # fmt: skip
    return reasons, scsi, fcs


def _place_scsi(txn: Transaction, vioses: list[Record], items: list[dict], spec: dict | None, src_vios: str,
                own: str, with_lu: bool, lu_vios: Record | None, busy: set[str],
                reasons: list[str]) -> Record | None:  # fmt: skip
    disks = ", ".join(f"hdisk {i['name']} (UDID {i['udid']})" for i in items)
    where = f"client slot {items[0]['slot']} ({disks}, from {src_vios})"
    if spec is not None:
        candidates = [v for v in [mobility_vfc.named(vioses, spec)] if v is not None]
        if not candidates:
            reasons.append(f"VirtualSCSIMappings {spec['raw']}: no VIOS {spec['name']}/{spec['id']} on {own}.")
            return None
    else:
        candidates = mobility_vfc.ordered(vioses, src_vios, busy)
    if with_lu and lu_vios is not None:
        if all(v.uuid != lu_vios.uuid for v in candidates):
            reasons.append(f"The adapter of {where} also carries Shared Storage Pool logical units, which go to "
                           f"VIOS {xml.text(lu_vios.element, 'PartitionName')} of {own}.")  # fmt: skip
            return None
        candidates = [lu_vios]
    why = []
    for vios in candidates:
        missing = [m for m in (_usable(txn, vios, i) for i in items) if m]
        if not missing:
            return vios
        why.append(f"{xml.text(vios.element, 'PartitionName')}: {'; '.join(missing)}")
    reasons.append(f"No VIOS of {own} can serve {where}: {'; '.join(why) or 'it has no VIOS'}.")
    return None


def _usable(txn: Transaction, vios: Record, item: dict) -> str:
    """Why ``vios`` cannot serve the hdisk (empty when it can)."""
    pv = next((p for p in fc.hdisks(vios) if xml.text(p, "UniqueDeviceID") == item["udid"]), None)
    if pv is None:
        return f"hdisk with UDID {item['udid']} not discovered"
    name = xml.text(pv, "VolumeName")
    backing = _backing(txn, item["udid"])
    if backing is None or not _reaches(vios, backing):
        return f"{name} no longer reachable (not masked to this VIOS in the SAN)"
    policy = xml.text(pv, "ReservePolicy", NO_RESERVE)
    if policy != NO_RESERVE:
        return f"{name} has reserve policy {policy}, not {NO_RESERVE}"
    return ""


def _backing(txn: Transaction, udid: str) -> etree._Element | None:
    san = fc.san(txn).element
    return next((e for e in [*san.iterfind("Lun"), *san.iterfind("IscsiTarget")] if e.get("udid") == udid), None)


def _reaches(vios: Record, backing: etree._Element) -> bool:
    if backing.tag == "IscsiTarget":
        return backing.find(f"Vios[@uuid='{vios.uuid}']") is not None
    return any(backing.find(f"Initiator[@wwpn='{w}']") is not None for w in fc.fc_wwpns(vios))


def _server_slot(vios: Record, spec: dict | None, taken: dict[str, set[int]], reasons: list[str]) -> int:
    used = taken[vios.uuid]
    if spec and spec["slot"]:
        slot = int(spec["slot"])
        if slot in used:
            reasons.append(f"Mapping {spec['raw']}: slot {slot} of VIOS {xml.text(vios.element, 'PartitionName')} "
                           "is in use.")  # fmt: skip
    else:
        slot = vscsi._free_slot(vios, used)
    used.add(slot)
    return slot


def _map_hdisk(vios: Record, item: dict, mapping: Any, s_slot: int, lpar_id: int) -> None:
    pv = next(p for p in fc.hdisks(vios) if xml.text(p, "UniqueDeviceID") == item["udid"])
    holder = xml.find(mapping, "Storage")
    holder.replace(holder[0], copy.deepcopy(pv))
    vios_id = xml.text(vios.element, "PartitionID")
    for path, value in (("ServerAdapter/LocalPartitionID", vios_id), ("ServerAdapter/RemoteLogicalPartitionID", lpar_id),
                        ("ServerAdapter/VirtualSlotNumber", s_slot), ("ServerAdapter/BackingDeviceName",
                        xml.text(pv, "VolumeName")), ("ClientAdapter/LocalPartitionID", lpar_id),
                        ("ClientAdapter/RemoteLogicalPartitionID", vios_id), ("ClientAdapter/RemoteSlotNumber",
                        s_slot)):  # fmt: skip
        xml.set_text(mapping, path, value)
    server = xml.find(mapping, "ServerAdapter")
    same = next((m for m in xml.findall(vios.element, _MAPS)
                 if xml.text(m, "ServerAdapter/VirtualSlotNumber") == str(s_slot)), None)  # fmt: skip
    names = {xml.text(m, "ServerAdapter/AdapterName") for m in xml.findall(vios.element, _MAPS)}
    vhost = xml.text(same, "ServerAdapter/AdapterName") if same is not None else next(
        f"vhost{n}" for n in range(10_000) if f"vhost{n}" not in names)  # fmt: skip
    set_child(server, "AdapterName", vhost, vscsi.ADAPTER_ORDER)
    vscsi._target_device(vios, mapping, pv, server)
    holder = xml.find(vios.element, "VirtualSCSIMappings")
    if holder is None:
        holder = xml.complex_el(vios.element, "VirtualSCSIMappings")
    holder.append(mapping)


def _name(part: Record) -> str:
    return f"{xml.text(part.element, 'PartitionName', '?')} ({part.uuid})"
