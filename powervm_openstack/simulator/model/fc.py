"""FC-attached hdisks on the VIOSes: discovery (``LUARecovery``) and removal (``RemoveDevice``).

``VirtualIOServer/<u>/do/LUARecovery`` is what pypowervm's ``hdisk.discover_hdisk`` /
``lua_recovery`` submit: one ``inputXML`` parameter (CDATA) holding ``XML_LIST/deviceList/device``
with an ``itlList`` of ``itl`` (``Iwwpn`` initiator, ``Twwpn`` target, ``lua`` = the LUN id in
PowerVM's big-endian form, ``hdisk.normalize_lun``). The simulator's choices, from pypowervm's
parser (``_process_lua_result``) and its test data, written down here:
- an ITL is good when ``Iwwpn`` is a physical FC port of this VIOS and a SAN LUN with that LUN id is
  behind ``Twwpn`` and masked to ``Iwwpn`` (``topology.san``); all good LUNs must be the same one
  (ITLs naming two LUNs fail the job: the VIOS takes one device per request);
- the result is ``OutputXML``: ``luaResult/deviceList/device`` with ``status``, ``msg/msgText``,
  ``pvName`` and ``udid``. Status ``3`` (DEVICE_AVAILABLE) when every ITL is good, ``8``
  (FOUND_ITL_ERR) when only some are, ``1`` (DEVICE_IN_USE) when the hdisk already exists and a vSCSI
  mapping uses it, and ``6`` (INCORRECT_ITL, no ``pvName``) when no ITL reaches a device: the
  "device not found" case;
- a discovered LUN becomes a ``PhysicalVolume`` of the VIOS document (``hdiskN``, the first N no
  volume group or hdisk of the VIOS uses; UDID and capacity from the SAN), so the VIOS ETag changes.
  Discovering it again finds the same hdisk. A LUN whose capacity grew is re-read by discovery
  (or by ``RescanVirtualDisk``, ``model.vstor_jobs``, which also answers ``QUERY_INVENTORY``).
``VirtualIOServer/<u>/do/RemoveDevice`` (``devName``, pypowervm ``remove_hdisk`` on NovaLink): removes
the hdisk; refused when it is not a device of this VIOS or a vSCSI mapping still uses it.
``add_lun``/``resize_lun`` are the storage array's side (tests create and extend volumes with them).
"""

from __future__ import annotations

import logging

from lxml import etree

from powervm_openstack.simulator.build.san import SAN_KIND, SAN_UUID, Lun, lun_element
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store, Transaction

LOG = logging.getLogger(__name__)

AVAILABLE, IN_USE, INCORRECT_ITL, ITL_ERR = "3", "1", "6", "8"
PV_ORDER = (
    "Metadata", "AvailablePhysicalPartitions", "Description", "LocationCode", "PersistentReserveKeyValue",
    "ReservePolicy", "ReservePolicyAlgorithm", "TotalPhysicalPartitions", "UniqueDeviceID", "AvailableForUsage",
    "VolumeCapacity", "VolumeName", "VolumeState", "VolumeUniqueID", "IsFibreChannelBacked", "StorageLabel",
    "DescriptorPage83",
)  # fmt: skip
PFC_PORTS = ("PartitionIOConfiguration/ProfileIOSlots/ProfileIOSlot/AssociatedIOSlot/RelatedIOAdapter/"
              "PhysicalFibreChannelAdapter/PhysicalFibreChannelPorts/PhysicalFibreChannelPort")  # fmt: skip


def install() -> None:
    register_job("VirtualIOServer", "LUARecovery", lua_recovery)
    register_job("VirtualIOServer", "RemoveDevice", remove_device)


# -- the SAN (array side) ---------------------------------------------------------------------
def san(txn: Transaction) -> Record:
    rec = txn.get(SAN_KIND, SAN_UUID)
    if rec is None:
        rec = Record(SAN_KIND, SAN_UUID, etree.Element(SAN_KIND), title=SAN_KIND)
    return rec


def add_lun(store: Store, lun: Lun) -> str:
    """Create ``lun`` on the array (replacing one of the same name); returns its UDID.

    :raises ValueError: another LUN has the same LUN id behind one of the targets for one of the
        initiators (an array refuses that host mapping).
    """
    with store.transaction() as txn:
        rec = san(txn)
        for old in rec.element.findall(f"Lun[@name='{lun.name}']"):
            rec.element.remove(old)
        for other in rec.element.iterfind(f"Lun[@lun='{lun.lun}']"):
            same = {t.get("wwpn") for t in other.iterfind("Target")} & {t.lower() for t in lun.targets}
            if same and {i.get("wwpn") for i in other.iterfind("Initiator")} & {i.lower() for i in lun.initiators}:
                raise ValueError(f"LUN id {lun.lun} behind {sorted(same)[0]} is already {other.get('name')}'s")
        lun_element(rec.element, lun)
        txn.put(rec, event=False)
    return lun.udid


def resize_lun(store: Store, name: str, capacity_gb: int) -> None:
    """Grow a LUN on the array (Cinder's extend); VIOSes see it at their next discovery."""
    with store.transaction() as txn:
        rec = san(txn)
        found = rec.element.find(f"Lun[@name='{name}']")
        if found is None:
            raise KeyError(f"no SAN LUN {name}")
        found.set("capacity_gb", str(capacity_gb))
        txn.put(rec, event=False)


# -- the VIOS side ----------------------------------------------------------------------------
def fc_wwpns(vios: Record) -> set[str]:
    return {(xml.text(p, "WWPN") or "").lower() for p in xml.findall(vios.element, PFC_PORTS)}


def hdisks(vios: Record) -> list[etree._Element]:
    return xml.findall(vios.element, "PhysicalVolumes/PhysicalVolume")


def _mapped_udids(vios: Record) -> set[str]:
    found = set()
    for mapping in xml.findall(vios.element, "VirtualSCSIMappings/VirtualSCSIMapping"):
        udid = xml.text(mapping, "Storage/PhysicalVolume/UniqueDeviceID")
        name = xml.text(mapping, "Storage/PhysicalVolume/VolumeName")
        found |= {v for v in (udid, name) if v}
    return found


def _parse_itls(params: dict[str, str]) -> list[tuple[str, str, str]]:
    text = params.get("inputXML")
    if not text:
        raise JobFailed("LUARecovery needs the inputXML parameter (XML_LIST with a deviceList).")
    try:
        root = etree.fromstring(text.encode())
    except etree.XMLSyntaxError as exc:
        raise JobFailed(f"LUARecovery inputXML is not well-formed XML: {exc}") from None
    itls = [((i.findtext("Iwwpn") or "").lower(), (i.findtext("Twwpn") or "").lower(), (i.findtext("lua") or "").lower())
            for i in root.iterfind("deviceList/device/itlList/itl")]  # fmt: skip
    if not itls or not all(all(t) for t in itls):
        raise JobFailed("LUARecovery inputXML has no complete itl (Iwwpn, Twwpn, lua) in deviceList/device/itlList.")
    return itls


def lua_form(lun: int) -> str:
    """A LUN id as PowerVM writes it (pypowervm ``hdisk.normalize_lun``)."""
    hexa = f"{lun:x}"
    return hexa + ("00000000" if len(hexa) == 8 else "000000000000")


def _reached(txn: Transaction, vios: Record, itls: list[tuple[str, str, str]]) -> tuple[etree._Element | None, int]:
    ports = fc_wwpns(vios)
    luns: dict[str, etree._Element] = {}
    good = 0
    for initiator, target, lua in itls:
        if initiator not in ports:
            continue
        for lun in san(txn).element.iterfind("Lun"):
            if (lua_form(int(lun.get("lun", "0"))) == lua and lun.find(f"Target[@wwpn='{target}']") is not None
                    and lun.find(f"Initiator[@wwpn='{initiator}']") is not None):  # fmt: skip
                luns[lun.get("name", "")] = lun
                good += 1
    if len(luns) > 1:
        raise JobFailed(f"The ITLs reach {len(luns)} devices ({', '.join(sorted(luns))}); give one device's ITLs.")
    return (next(iter(luns.values())) if luns else None), good


def lua_recovery(txn: Transaction, vios: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Discover the LUN the ITLs name as an hdisk of this VIOS (see the module docstring)."""
    assert vios is not None
    itls = sorted(set(_parse_itls(params)))
    lun, good = _reached(txn, vios, itls)
    if lun is None:
        LOG.info("LUARecovery on VIOS %s: no device on %d ITL(s)", vios.uuid, len(itls))
        return {"OutputXML": _result(INCORRECT_ITL, "Device not found on any of the ITL paths.", None, None)}
    pv = _hdisk(txn, vios, lun)
    name, udid = xml.text(pv, "VolumeName"), xml.text(pv, "UniqueDeviceID")
    if udid in _mapped_udids(vios) or name in _mapped_udids(vios):
        status, msg = IN_USE, f"{name} is in use by a virtual target device."
    elif good < len(itls):
        status, msg = ITL_ERR, f"{name} found on {good} of {len(itls)} ITL paths."
    else:
        status, msg = AVAILABLE, f"{name} available."
    LOG.info("LUARecovery on VIOS %s: LUN %s is %s (status %s)", vios.uuid, lun.get("name"), name, status)
    return {"OutputXML": _result(status, msg, name, udid)}


def _hdisk(txn: Transaction, vios: Record, lun: etree._Element) -> etree._Element:
    udid = lun.get("udid", "")
    size_mb = str(int(lun.get("capacity_gb", "1")) * 1024)
    for pv in hdisks(vios):
        if xml.text(pv, "UniqueDeviceID") == udid:
            if xml.text(pv, "VolumeCapacity") != size_mb:
                xml.set_text(pv, "VolumeCapacity", size_mb)
                txn.put(vios, detail="PhysicalVolumes")
            return pv
    holder = xml.find(vios.element, "PhysicalVolumes")
    if holder is None:
        raise JobFailed(f"VIOS {vios.uuid} has no PhysicalVolumes list.")
    pv = xml.complex_el(holder, "PhysicalVolume")
    name = next_hdisk(txn, vios)
    target = lun.find("Target").get("wwpn", "").upper()
    for tag, value in (("Description", "MPIO IBM 2076 FC Disk"), ("LocationCode", f"W{target}-L{lun.get('lun')}"),
                       ("ReservePolicy", "NoReserve"), ("ReservePolicyAlgorithm", "Failover"),
                       ("UniqueDeviceID", udid), ("AvailableForUsage", True), ("VolumeCapacity", size_mb),
                       ("VolumeName", name), ("VolumeState", "active"), ("IsFibreChannelBacked", True)):  # fmt: skip
        set_child(pv, tag, value, PV_ORDER)
    txn.put(vios, detail="PhysicalVolumes")
    return pv


def next_hdisk(txn: Transaction, vios: Record) -> str:
    """The first ``hdiskN`` that no volume group and no hdisk of the VIOS uses."""
    used = {xml.text(pv, "VolumeName") for pv in hdisks(vios)}
    for vg in txn.find("VolumeGroup", vios.uuid):
        used |= {xml.text(pv, "VolumeName") for pv in xml.findall(vg.element, "PhysicalVolumes/PhysicalVolume")}
    return next(f"hdisk{n}" for n in range(10_000) if f"hdisk{n}" not in used)


def _result(status: str, msg: str, name: str | None, udid: str | None) -> str:
    root = etree.Element("luaResult")
    etree.SubElement(root, "version").text = "2.0"
    device = etree.SubElement(etree.SubElement(root, "deviceList"), "device")
    etree.SubElement(device, "deviceTag").text = "1"
    etree.SubElement(device, "status").text = status
    message = etree.SubElement(device, "msg")
    etree.SubElement(message, "msgLen").text = str(len(msg))
    etree.SubElement(message, "msgText").text = msg
    if name:
        etree.SubElement(device, "pvName").text = name
        etree.SubElement(device, "udid").text = udid
    return etree.tostring(root, encoding="unicode")


def remove_device(txn: Transaction, vios: Record | None, params: dict[str, str]) -> dict[str, str]:
    """``rmdev -dev <devName>``: remove an hdisk nothing maps (see the module docstring)."""
    assert vios is not None
    name = params.get("devName", "")
    pv = next((p for p in hdisks(vios) if xml.text(p, "VolumeName") == name), None)
    if pv is None:
        raise JobFailed(f"Device {name!r} is not a physical volume of VIOS {vios.uuid}.")
    if {name, xml.text(pv, "UniqueDeviceID")} & _mapped_udids(vios):
        raise JobFailed(f"Device {name} is busy: a virtual target device maps it; remove the mapping first.")
    pv.getparent().remove(pv)
    txn.put(vios, detail="PhysicalVolumes")
    LOG.info("RemoveDevice on VIOS %s: %s removed", vios.uuid, name)
    return {"result": f"{name} deleted"}
