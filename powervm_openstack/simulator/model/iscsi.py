"""iSCSI on the VIOSes: initiator name, discovery + login (``ISCSIDiscovery``), logout (``ISCSIRemove``).

The jobs and parameters are those pypowervm's ``hdisk.discover_iscsi``, ``discover_iscsi_initiator``
and ``remove_iscsi`` submit on ``VirtualIOServer/<u>/do/``. Choices, from pypowervm's result parsing
(``_process_iscsi_result``) and its status codes (``ISCSIStatus``):
- ``ISCSIDiscovery`` without ``targetIQN`` answers the VIOS's initiator name (``InitiatorName``,
  ``iqn.1986-03.com.ibm:<vios uuid prefix>``) and ``RETURN_CODE`` 0;
- with ``hostIP`` (a portal ``ip:port`` or ``[p1,p2]`` for multipath), ``targetIQN`` (one or a
  list), ``targetLUN`` and CHAP (``user``/``password``) and discovery CHAP (``discoveryUser``/
  ``discoveryPassword``) it logs in: the target must be one of the SAN's (``topology.san``),
  reachable from this VIOS, with matching credentials. The job completes with ``RETURN_CODE`` ``0``
  (new session), ``15`` (session already exists: another LUN of the target is logged in), ``24``
  (CHAP or discovery CHAP refused), ``8`` (portal unreachable from this VIOS) or ``21`` (no such
  target/LUN behind the portal), and ``DEV_OUTPUT`` ``['<iqn> <hdisk> <udid>']`` on success. The
  LUN becomes a ``PhysicalVolume`` of the VIOS document (not FC-backed);
- ``ISCSIRemove`` (``targetIQN``, ``targetPORTAL``, ``targetLUN``) removes that hdisk and logs the
  session out when it was the target's last LUN on this VIOS: ``0``, ``21`` when nothing was
  logged in, ``1`` when a vSCSI mapping still uses the hdisk (nothing removed).
Sessions are kept in the internal SAN record (``Session`` elements).
"""

from __future__ import annotations

import logging

from lxml import etree

from powervm_openstack.simulator.model import fc
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.runtime.jobs import register_job
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

LOG = logging.getLogger(__name__)
OK, ERR, TIMEOUT, NO_OBJS, SESS_EXISTS, AUTH_FAILED = "0", "1", "8", "21", "15", "24"


def install() -> None:
    register_job("VirtualIOServer", "ISCSIDiscovery", discovery)
    register_job("VirtualIOServer", "ISCSIRemove", remove)


def initiator_name(vios: Record) -> str:
    return f"iqn.1986-03.com.ibm:{vios.uuid.lower()[:8]}.vios"


def _listed(value: str) -> list[str]:
    """A job parameter that is one value or pypowervm's ``[a,b]`` list form."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return [v.strip() for v in value[1:-1].split(",") if v.strip()]
    return [value] if value else []


def _target(txn: Transaction, iqns: list[str], portals: list[str], lun: str) -> etree._Element | None:
    for target in fc.san(txn).element.iterfind("IscsiTarget"):
        if target.get("iqn") in iqns and target.get("portal") in portals and (not lun or target.get("lun") == lun):
            return target
    return None


def _session(san: etree._Element, vios: Record, iqn: str, lun: str) -> etree._Element | None:
    return san.find(f"Session[@vios='{vios.uuid}'][@iqn='{iqn}'][@lun='{lun}']")


def discovery(txn: Transaction, vios: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Initiator name, or discovery and login of one LUN (see the module docstring)."""
    assert vios is not None
    iqns = _listed(params.get("targetIQN", ""))
    if not iqns:
        return {"RETURN_CODE": OK, "InitiatorName": initiator_name(vios)}
    target = _target(txn, iqns, _listed(params.get("hostIP", "")), params.get("targetLUN", ""))
    if target is None:
        return {"RETURN_CODE": NO_OBJS, "DEV_OUTPUT": "[]"}
    if target.find(f"Vios[@uuid='{vios.uuid}']") is None:
        return {"RETURN_CODE": TIMEOUT, "DEV_OUTPUT": "[]"}
    for prefix, user, password in (("chap", "user", "password"), ("discovery", "discoveryUser", "discoveryPassword")):
        wanted = (target.get(f"{prefix}_user"), target.get(f"{prefix}_password"))
        if wanted != (None, None) and wanted != (params.get(user), params.get(password)):
            LOG.info("ISCSIDiscovery on VIOS %s: %s CHAP refused for %s", vios.uuid, prefix, target.get("iqn"))
            return {"RETURN_CODE": AUTH_FAILED, "DEV_OUTPUT": "[]"}
    rec = fc.san(txn)
    iqn, lun = target.get("iqn", ""), target.get("lun", "")
    others = rec.element.findall(f"Session[@vios='{vios.uuid}'][@iqn='{iqn}']")
    session = _session(rec.element, vios, iqn, lun)
    pv = _hdisk(txn, vios, target, session)
    if session is None:
        etree.SubElement(rec.element, "Session", vios=vios.uuid, iqn=iqn, lun=lun, hdisk=xml.text(pv, "VolumeName"))
        txn.put(rec, event=False)
    code = SESS_EXISTS if others else OK
    LOG.info("ISCSIDiscovery on VIOS %s: %s LUN %s is %s (code %s)", vios.uuid, iqn, lun, xml.text(pv, "VolumeName"),
             code)  # fmt: skip
    return {"RETURN_CODE": code, "DEV_OUTPUT": repr([f"{iqn} {xml.text(pv, 'VolumeName')} "
                                                     f"{xml.text(pv, 'UniqueDeviceID')}"])}  # fmt: skip


def _hdisk(txn: Transaction, vios: Record, target: etree._Element, session: etree._Element | None) -> etree._Element:
    udid = target.get("udid", "")
    size_mb = str(int(target.get("capacity_gb", "1")) * 1024)
    for pv in fc.hdisks(vios):
        if xml.text(pv, "UniqueDeviceID") == udid:
            if xml.text(pv, "VolumeCapacity") != size_mb:
                xml.set_text(pv, "VolumeCapacity", size_mb)
                txn.put(vios, detail="PhysicalVolumes")
            return pv
    pv = xml.complex_el(xml.find(vios.element, "PhysicalVolumes"), "PhysicalVolume")
    for tag, value in (("Description", "MPIO iSCSI Disk Drive"), ("ReservePolicy", "NoReserve"),
                       ("UniqueDeviceID", udid), ("AvailableForUsage", True), ("VolumeCapacity", size_mb),
                       ("VolumeName", fc.next_hdisk(txn, vios)), ("VolumeState", "active"),
                       ("IsFibreChannelBacked", False)):  # fmt: skip
        set_child(pv, tag, value, fc.PV_ORDER)
    txn.put(vios, detail="PhysicalVolumes")
    return pv


def remove(txn: Transaction, vios: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Remove one iSCSI LUN's hdisk; log out when it was the target's last (see the module docstring)."""
    assert vios is not None
    rec = fc.san(txn)
    lun = params.get("targetLUN", "")
    sessions = [s for iqn in _listed(params.get("targetIQN", ""))
                for s in rec.element.findall(f"Session[@vios='{vios.uuid}'][@iqn='{iqn}']")
                if not lun or s.get("lun") == lun]  # fmt: skip
    if not sessions:
        return {"RETURN_CODE": NO_OBJS}
    for session in sessions:
        name = session.get("hdisk")
        pv = next((p for p in fc.hdisks(vios) if xml.text(p, "VolumeName") == name), None)
        if pv is not None:
            mapped = xml.findall(vios.element, "VirtualSCSIMappings/VirtualSCSIMapping/Storage/PhysicalVolume")
            if any(xml.text(m, "VolumeName") == name for m in mapped):
                return {"RETURN_CODE": ERR, "result": f"{name} is mapped; remove the vSCSI mapping first."}
            pv.getparent().remove(pv)
        rec.element.remove(session)
    txn.put(vios, detail="PhysicalVolumes")
    txn.put(rec, event=False)
    LOG.info("ISCSIRemove on VIOS %s: %s removed", vios.uuid, ", ".join(s.get("hdisk", "") for s in sessions))
    return {"RETURN_CODE": OK}
