"""The PCM endpoints (``/rest/api/pcm/...``), served as NovaLink serves them.

Shapes (pypowervm 1.1.27 ``tasks/monitor/util`` and ``wrappers/monitor``; captures ``pcm_pref``,
``ltm_feed*``)::

    GET  pcm/ManagedSystem/<uuid>/preferences                 Atom feed, one ManagedSystemPcmPreference
    POST pcm/ManagedSystem/<uuid>/preferences                 update (If-Match: the feed's ETag)
    GET  pcm/ManagedSystem/<uuid>/RawMetrics/LongTermMonitor  Atom feed: one entry per sample file
    GET  pcm/ManagedSystem/<uuid>/RawMetrics/LongTermMonitor/LTM_<mtms>_<phyp|vios_N|lpar>_<time>.json

The long-term monitor answers an empty feed while ``LongTermMonitorEnabled`` is false (as a host
whose monitoring was never switched on), and lists the last two samples once it is on, and the last
two LPAR (RMC memory, category ``lpar``, capture ``ltm_feed_lpars``) files, which are taken less
often. The counters are in ``model.pcm`` and ``model.pcm_io``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import TYPE_CHECKING

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, not_found
from powervm_openstack.simulator.model import pcm as model
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.resources import Reply

if TYPE_CHECKING:
    from powervm_openstack.simulator.state.record import Record
    from powervm_openstack.simulator.state.store import Store, Transaction

PREFIX = "/rest/api/pcm/ManagedSystem/"
_FILE = re.compile(r"^LTM_(?P<mtms>[^_]+)_(?P<src>phyp|lpar|vios_\d+)_(?P<when>\d{8}T\d{6})\+0000\.json$")
_PREF_KEYS = ("LongTermMonitorEnabled", "AggregationEnabled", "ShortTermMonitorEnabled", "ComputeLTMEnabled")
_JSON = "application/vnd.ibm.powervm.pcm.json"


def is_pcm(path: str) -> bool:
    return path.startswith("/rest/api/pcm/")


def serve(store: Store, method: str, path: str, body: bytes, base: str, if_match: str | None) -> Reply:
    """Answer one PCM request (after the session check)."""
    segs = [s for s in path[len(PREFIX) :].split("/") if s] if path.startswith(PREFIX) else []
    if len(segs) < 2:
        raise not_found(f"The resource {path}")
    with store.transaction() as txn:
        system = txn.get("ManagedSystem", segs[0])
        if system is None:
            raise not_found(f"The managed system {segs[0]}")
        if segs[1:] == ["preferences"]:
            return _preferences(txn, system.uuid, method, body, base, if_match)
        if method != "GET":
            raise ApiError(405, f"{method} is not allowed on {path}; the metrics are read-only.")
        if segs[1:] == ["RawMetrics", "LongTermMonitor"]:
            return _ltm_feed(txn, system, base)
        if segs[1:3] == ["RawMetrics", "LongTermMonitor"] and len(segs) == 4:
            return _sample(txn, system, segs[3])
    raise not_found(f"The resource {path}")


def _pref_etag(prefs: dict[str, bool]) -> str:
    return str(int(hashlib.sha1(json.dumps(prefs, sort_keys=True).encode()).hexdigest()[:7], 16))


def _preferences(txn: Transaction, sys_uuid: str, method: str, body: bytes, base: str, if_match: str | None) -> Reply:
    prefs = model.preferences(txn)
    if method == "POST":
        if if_match and if_match != _pref_etag(prefs):
            raise ApiError(412, "The preferences changed since they were read; read them again.")
        elem = xml.parse(body)
        for key in _PREF_KEYS:
            value = xml.text(elem, key, None, ns=xml.PCM_NS)
            if value is not None:
                if value.lower() not in ("true", "false"):
                    raise ApiError(400, f"{key} {value!r} is not a boolean; allowed: true, false.")
                prefs[key] = value.lower() == "true"
        model.set_preferences(txn, prefs)
    elif method != "GET":
        raise ApiError(405, f"{method} is not allowed on preferences; use GET, then POST the update.")
    return Reply(200, _pref_feed(txn, sys_uuid, prefs, base), headers={"ETag": _pref_etag(prefs)})


def _pref_feed(txn: Transaction, sys_uuid: str, prefs: dict[str, bool], base: str) -> str:
    system = txn.get("ManagedSystem", sys_uuid)
    ns = xml.PCM_NS
    root = etree.Element(etree.QName(ns, "ManagedSystemPcmPreference"), nsmap={None: ns},
                         attrib={"schemaVersion": "V1_0"})  # fmt: skip
    root.append(xml.metadata(sys_uuid, ns=ns))
    etree.SubElement(root, etree.QName(ns, "SystemName")).text = xml.text(system.element, "SystemName", "")
    for key in _PREF_KEYS:
        leaf = etree.SubElement(root, etree.QName(ns, key), attrib={"kb": "UOD", "kxe": "false"})
        leaf.text = "true" if prefs[key] else "false"
    etree.SubElement(root, etree.QName(ns, "AssociatedManagedSystem"),
                     attrib={"href": f"{base}/rest/api/uom/ManagedSystem/{sys_uuid}", "rel": "related"})  # fmt: skip
    title = "Performance and Capacity Monitoring Preferences"
    entry = (f"<entry><id>{sys_uuid}</id><updated>{_iso(time.time())}</updated><title type=\"text\">{title}</title>"
             f"<content type=\"application/xml\">{xml.tostring(root)}</content></entry>")  # fmt: skip
    return _feed(sys_uuid, title, f"{base}{PREFIX}{sys_uuid}/preferences", entry)


def _ltm_feed(txn: Transaction, system: Record, base: str) -> Reply:
    entries = []
    if model.preferences(txn)["LongTermMonitorEnabled"]:
        vioses = [v for v in txn.find("VirtualIOServer") if xml.text(v.element, "PartitionState", "") == "running"]
        sources = ["phyp"] + [f"vios_{xml.text(v.element, 'PartitionID', '0')}" for v in vioses]
        now = time.time()
        files = [(at, src) for at in model.sample_times(txn, now) for src in sources]
        files += [(at, "lpar") for at in model.lpar_times(txn, now)]
        for at, src in files:
            name = f"LTM_{model.mtms(system)}_{src}_{time.strftime('%Y%m%dT%H%M%S', time.gmtime(at))}+0000.json"
            href = f"{base}{PREFIX}{system.uuid}/RawMetrics/LongTermMonitor/{name}"
            entries.append(
                f"<entry><id>{_entry_id(name)}</id><updated>{_iso(at)}</updated><title type=\"text\">{name}</title>"
                f"<published>{_iso(at)}</published><link type=\"{_JSON}\" href=\"{href}\"/>"
                f"<author><name>IBM Power Systems Management Console</name></author>"
                f"<category term=\"{src}\"/></entry>"
            )  # fmt: skip
    href = f"{base}{PREFIX}{system.uuid}/RawMetrics/LongTermMonitor"
    return Reply(200, _feed(system.uuid, "LongTermMetrics", href, "".join(entries)))


def _sample(txn: Transaction, system: Record, name: str) -> Reply:
    match = _FILE.match(name)
    if not match or match["mtms"] != model.mtms(system):
        raise not_found(f"The metrics file {name}")
    at = int(time.mktime(time.strptime(match["when"], "%Y%m%dT%H%M%S")) - time.timezone)
    if at > time.time():
        raise not_found(f"The metrics file {name}")
    src = match["src"]
    if src == "phyp":
        return Reply(200, json.dumps(model.phyp_sample(txn, system, at)), content_type=_JSON)
    if src == "lpar":
        return Reply(200, json.dumps(model.lpar_sample(txn, at)), content_type=_JSON)
    vios_id = src.split("_", 1)[1]
    for vios in txn.find("VirtualIOServer"):
        if xml.text(vios.element, "PartitionID", "") == vios_id:
            return Reply(200, json.dumps(model.vios_sample(txn, system, vios, at)), content_type=_JSON)
    raise not_found(f"The metrics file {name}")


def _entry_id(name: str) -> str:
    digest = hashlib.md5(name.encode()).hexdigest()  # noqa: S324 (an id, not security)
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))


def _feed(uuid: str, title: str, self_href: str, entries: str) -> str:
    return ('<feed xmlns="http://www.w3.org/2005/Atom" xmlns:ns2="http://a9.com/-/spec/opensearch/1.1/" '
            f'xmlns:ns3="http://www.w3.org/1999/xhtml"><id>{uuid}</id><updated>{_iso(time.time())}</updated>'
            f'<title type="text">{title}</title><subtitle type="text">ManagedSystem {uuid}</subtitle>'
            f'<link rel="self" href="{self_href}"/><generator uri="IBM Power Systems Management Console" '
            f'version="1"/>{entries}</feed>')  # fmt: skip
