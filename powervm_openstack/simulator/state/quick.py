"""Quick properties: ``<object>/quick`` and ``<object>/quick/All`` (all, as one JSON object),
``<object>/quick/<Prop>`` and ``<Kind>/quick/All`` (every object of a collection).

NovaLink answers quick properties as JSON (pypowervm sends ``Accept: application/json`` for these
URLs): a whole number is a JSON number, anything else (decimals and booleans included) a string. For partitions the set is the
flat list of names clients read - nova-powervm's instance info reads ``PartitionState``,
``PartitionID``, ``CurrentMemory`` and ``AllocatedVirtualProcessors``, pypowervm's vterm task reads
``PartitionID`` and ``PartitionType`` - even where the document nests the value (``CurrentMemory``
lives in ``PartitionMemoryConfiguration``). A dedicated-processor partition reports its current
processors as ``AllocatedVirtualProcessors``. Other kinds offer their top-level simple properties.
A name outside the set is 404, as is a property the object does not carry.

Collections (pypowervm asks for anything under ``/quick/`` as JSON):
- ``<Kind>/quick/All`` (root or under its ManagedSystem) is a JSON list with one object per entry
  of the collection: its quick properties plus ``UUID``, in the collection's order;
- any other ``<Kind>/quick/<name>`` is 404 (the API offers one property of one object only);
- ``<Kind>/quick``, the anchor: pypowervm's adapter tests call it the "XML report of available
  quick properties" and ask for it as ``application/atom+xml`` (only ``<uuid>/quick``, ``/quick/``
  and ``.json`` paths are asked for as JSON), then parse the answer as Atom, which accepts only a
  feed or an entry. Neither pypowervm nor its test data show the report's content, so the choice
  written here is the one form pypowervm reads: an Atom feed with one entry per name the kind
  offers (``<title>`` the name, ``<id>`` derived from it), without content. Partitions offer the
  set above; another kind offers what its objects carry (none: an empty feed).
"""

from __future__ import annotations

import hashlib
import json
from xml.sax.saxutils import escape

from powervm_openstack.simulator.errors import not_found
from powervm_openstack.simulator.state import atom, xml
from powervm_openstack.simulator.state.record import Record

_PROC = "PartitionProcessorConfiguration/"
_PARTITION_QUICK = {
    name: name
    for name in (
        "PartitionName", "PartitionID", "PartitionUUID", "PartitionState", "PartitionType",
        "ResourceMonitoringControlState", "ResourceMonitoringIPAddress", "OperatingSystemVersion",
        "ReferenceCode", "Uptime", "MigrationState", "IsManagementPartition", "CurrentProcessorCompatibilityMode",
        "ProgressState", "RemoteRestartState", "IsVirtualServiceAttentionLEDOn",
    )
} | {
    "CurrentMemory": "PartitionMemoryConfiguration/CurrentMemory",
    "DesiredMemory": "PartitionMemoryConfiguration/DesiredMemory",
    "HasDedicatedProcessors": _PROC + "HasDedicatedProcessors",
    "CurrentProcessingUnits": _PROC + "CurrentSharedProcessorConfiguration/CurrentProcessingUnits",
    "AllocatedVirtualProcessors": _PROC + "CurrentSharedProcessorConfiguration/AllocatedVirtualProcessors",
    "CurrentProcessors": _PROC + "CurrentDedicatedProcessorConfiguration/CurrentProcessors",
}  # fmt: skip
_PARTITION_KINDS = ("LogicalPartition", "VirtualIOServer")
ALL = "All"


def properties(rec: Record) -> dict[str, object]:
    """Every quick property of ``rec`` with its JSON value."""
    if rec.kind not in _PARTITION_KINDS:
        return {xml.local(c): _scalar(c.text or "") for c in rec.element if len(c) == 0 and c.text}
    found = {}
    for name, path in _PARTITION_QUICK.items():
        value = xml.text(rec.element, path)
        if value is not None:
            found[name] = _scalar(value)
    if (xml.text(rec.element, _PROC + "HasDedicatedProcessors") or "").lower() == "true":
        if "CurrentProcessors" in found:
            found["AllocatedVirtualProcessors"] = found["CurrentProcessors"]
    return found


def answer(rec: Record, name: str | None) -> str:
    """The JSON body for ``quick`` (``name`` None) or ``quick/<name>``; 404 for an unknown name."""
    props = properties(rec)
    if name is None or name == ALL:
        return json.dumps(props)
    if name not in props:
        raise not_found(f"The quick property {name} of {rec.kind} {rec.uuid}")
    return json.dumps(props[name])


def answer_all(records: list[Record], name: str | None) -> str:
    """The JSON body for ``<Kind>/quick/All``: each record's quick properties and its ``UUID``."""
    if name != ALL:
        raise not_found(f"The collection quick property {name} (only {ALL} is offered for a collection)")
    return json.dumps([{**properties(rec), "UUID": rec.uuid} for rec in records])


def names(kind: str, records: list[Record]) -> list[str]:
    """The quick property names ``kind`` offers: the partition set, else what its objects carry."""
    if kind in _PARTITION_KINDS:
        return list(_PARTITION_QUICK)
    found: dict[str, None] = {}
    for rec in records:
        found.update(dict.fromkeys(properties(rec)))
    return list(found)


def anchor(kind: str, records: list[Record], path: str, base: str) -> str:
    """The Atom feed body for ``<Kind>/quick``: one content-less entry per name (see the module docstring)."""
    entries = "".join(
        f"<entry><id>{_name_id(kind, name)}</id><title>{escape(name)}</title>"
        f"<author><name>{atom.GENERATOR}</name></author></entry>"
        for name in names(kind, records)
    )
    text = (
        f'<feed xmlns="{xml.ATOM_NS}"><id>{_name_id(kind, "quick")}</id><updated>{atom.timestamp()}</updated>'
        f'<link rel="SELF" href="{escape(path)}"/><generator>{atom.GENERATOR}</generator>{entries}</feed>'
    )
    return xml.add_base(text, base)


def _name_id(kind: str, name: str) -> str:
    digest = hashlib.md5(f"{kind}/{name}".encode(), usedforsecurity=False).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _scalar(value: str) -> object:
    try:
        return int(value)
    except ValueError:  # decimals and booleans stay strings, as the simulator always served them
        return value
