"""Import captured PowerVM REST responses as simulator seed state, and capture a live system.

``load_file`` reads one capture (a response file, see ``capture_files``, or a raw Atom XML
body) and turns every Atom entry whose content is a UOM or WEB object into a ``Record``:

- kind: local name of the content element; uuid: the entry ``<id>``; etag: ``<etag:etag>``
  (for a single entry without one, the captured ``etag`` header); title: ``<title>``;
- parent: from the entry's SELF link (``/rest/api/uom/<Parent>/<u>/<Kind>/<u>``); partitions
  served at the root (``/LogicalPartition/<u>``) get the system named by their
  ``AssociatedManagedSystem`` link; an entry without a SELF link falls back to INFO ``path``;
- element: the content element rebuilt with a default namespace and base-relative links.

What cannot be seed state is skipped with a reason, never an exception: raw files that are not
Atom XML, SECTION snippet files, JSON (PCM) bodies, error statuses, malformed XML (the reason
names the file line), entries without content, and JobRequest/JobResponse/HttpErrorResponse/
Event/LogonResponse objects. A file that uses the section format but breaks it raises
``CaptureError`` naming the file and line. ``snapshot`` (from ``capture_files``) writes a live
system's state in the same format.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from powervm_openstack.simulator.capture.files import (
    CaptureError,
    ResponseFile,
    is_response_text,
    parse_response,
    read_text,
    snapshot,
)
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

__all__ = [
    "CaptureError",
    "CaptureResult",
    "load_file",
    "load_many",
    "merge",
    "load_dir",
    "records_from_body",
    "snapshot",
]

NOT_SEED_STATE = {
    "JobRequest": "job request templates are not object state",
    "JobResponse": "job results are not object state",
    "HttpErrorResponse": "error responses are not object state",
    "Event": "events are not object state",
    "LogonResponse": "logon responses are not object state",
}
_OBJECT_NS = (xml.UOM_NS, xml.WEB_NS)
_PARTITIONS = ("LogicalPartition", "VirtualIOServer")
_PATH = re.compile(r"/rest/api/(?:uom|web)/(.*)$")
_PARSER = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True, huge_tree=True)
_A = f"{{{xml.ATOM_NS}}}"


@dataclasses.dataclass
class CaptureResult:
    """What one capture file yields.

    ``records`` are the importable objects; ``skipped_reason`` is None when at least one record
    was found, otherwise why the file is not seed state. ``notes`` lists entries left out of a
    file that did yield records (e.g. an entry without content).
    """

    records: list[Record]
    skipped_reason: str | None = None
    source: str = ""
    notes: list[str] = dataclasses.field(default_factory=list)


def _skip(source: str, reason: str) -> CaptureResult:
    return CaptureResult([], reason, source)


def load_file(path: str | os.PathLike[str]) -> CaptureResult:
    """Read one capture file; see the module docstring for what is imported and what is skipped."""
    source = str(path)
    text = read_text(path)
    if is_response_text(text):
        return _from_response(parse_response(text, source))
    if any(line.startswith("SECTION:") for line in text.splitlines()):
        return _skip(source, "SECTION-format snippet file, not a captured response")
    if text.lstrip().startswith("<"):
        return records_from_body(text, source)
    return _skip(source, "raw file, not a response file (no INFO{/HEADERS{/BODY{ sections)")


def load_many(paths: Iterable[str | os.PathLike[str]]) -> list[Record]:
    """Records of all files in order; on a duplicate UUID the later file's record wins."""
    return merge(load_file(path) for path in paths)


def merge(results: Iterable[CaptureResult]) -> list[Record]:
    """The records of ``results`` in order; on a duplicate UUID the later one wins."""
    merged: dict[str, Record] = {}
    for result in results:
        for rec in result.records:
            merged[rec.uuid.lower()] = rec
    return list(merged.values())


def load_dir(path: str | os.PathLike[str], pattern: str = "*") -> list[Record]:
    """``load_many`` over the regular, non-hidden files of a directory matching ``pattern``, by name."""
    files = sorted(p for p in Path(path).glob(pattern) if p.is_file() and not p.name.startswith("."))
    return load_many(files)


def _from_response(resp: ResponseFile) -> CaptureResult:
    source = resp.source
    if resp.status is not None and not 200 <= resp.status < 300:
        return _skip(source, f"captured HTTP {resp.status} response, not object state")
    body = resp.body
    if body is None:
        return _skip(source, "response file has no BODY section")
    if not body.strip():
        return _skip(source, "empty body (no entries)")
    if body.lstrip()[:1] in ("{", "["):
        return _skip(source, "JSON body (PCM metrics), not Atom XML")
    return records_from_body(body, source, resp.body_line, resp.header("etag"), resp.info.get("path"))


def records_from_body(
    body: str,
    source: str = "<body>",
    first_line: int = 1,
    header_etag: str | None = None,
    info_path: object = None,
) -> CaptureResult:
    """Records from one Atom feed or entry body; ``first_line`` is the body's line in its file."""
    stripped = body.lstrip()
    offset = first_line + body[: len(body) - len(stripped)].count("\n")
    try:
        root = etree.fromstring(stripped.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        return _skip(source, _xml_error(exc, source, offset))
    if root.tag == _A + "feed":
        entries = root.findall(_A + "entry")
    elif root.tag == _A + "entry":
        entries = [root]
    else:
        what = etree.QName(root).localname
        return _skip(source, f"body is not an Atom feed or entry (root <{what}>)")
    if not entries:
        return _skip(source, "feed has no entries")
    etag = header_etag if len(entries) == 1 and root.tag == _A + "entry" else None
    return _collect(source, entries, etag, info_path if isinstance(info_path, str) else None)


def _xml_error(exc: etree.XMLSyntaxError, source: str, offset: int) -> str:
    """A malformed-XML reason with every line number made file-relative."""
    msg = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
    msg = re.sub(r"\bline (\d+)", lambda m: f"line {int(m.group(1)) + offset - 1}", msg)
    return f"malformed XML at {source}:{(exc.lineno or 1) + offset - 1}: {msg}"


def _collect(source: str, entries: list[etree._Element], etag: str | None, path: str | None) -> CaptureResult:
    records: dict[str, Record] = {}
    notes: list[str] = []
    for entry in entries:
        rec, why = _entry_record(entry, etag, path)
        if rec is None:
            notes.append(why)
        else:
            records[rec.uuid.lower()] = rec
    if records:
        return CaptureResult(list(records.values()), None, source, notes)
    return CaptureResult([], _summarise(notes), source, notes)


def _summarise(notes: list[str]) -> str:
    counts: dict[str, int] = {}
    for note in notes:
        counts[note] = counts.get(note, 0) + 1
    return "; ".join(f"{n} x {note}" if n > 1 else note for note, n in counts.items())


def _entry_record(entry: etree._Element, etag: str | None, path: str | None) -> tuple[Record | None, str]:
    """The record of one entry, or None and why it is not seed state."""
    content = entry.find(_A + "content")
    objs = [c for c in content if isinstance(c.tag, str)] if content is not None else []
    if len(objs) != 1:
        return None, "entry without a single content object (e.g. PCM metrics links)"
    obj = objs[0]
    qname = etree.QName(obj)
    if qname.namespace not in _OBJECT_NS:
        return None, f"{qname.localname} is not a UOM/WEB object (namespace {qname.namespace})"
    kind = qname.localname
    if kind in NOT_SEED_STATE:
        return None, f"{kind} entry: {NOT_SEED_STATE[kind]}"
    uuid = _text(entry.find(_A + "id")) or xml.text(obj, "Metadata/Atom/AtomID", ns=qname.namespace)
    if not uuid:
        return None, f"{kind} entry without an <id>"
    element = xml.parse(xml.strip_base(xml.tostring(xml.normalize(obj))))
    parent_kind, parent_uuid = _parent(entry, element, kind, path)
    etag = _text(entry.find(f"{{{xml.UOM_NS}}}etag")) or etag or ""
    title = _text(entry.find(_A + "title")) or kind
    return Record(kind, uuid, element, parent_kind, parent_uuid, etag, title), ""


def _text(elem: etree._Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def _parent(
    entry: etree._Element, element: etree._Element, kind: str, info_path: str | None
) -> tuple[str | None, str | None]:
    links = entry.findall(_A + "link")
    self_href = next((ln.get("href") for ln in links if ln.get("rel", "").upper() == "SELF"), None)
    parent = _path_parent(self_href, kind) if self_href else _path_parent(info_path or "", kind)
    link = xml.find(element, "AssociatedManagedSystem")
    if parent == (None, None) and kind in _PARTITIONS and link is not None:
        segs = [s for s in link.get("href", "").split("?", 1)[0].split("/") if s]
        if len(segs) >= 2 and segs[-2] == "ManagedSystem":
            return "ManagedSystem", segs[-1]
    return parent


def _path_parent(href: str, kind: str) -> tuple[str | None, str | None]:
    """``(ParentKind, parent_uuid)`` from ``.../<Parent>/<u>/<kind>[/<u>]``, else ``(None, None)``."""
    path = href.split("?", 1)[0]
    match = _PATH.search(path)
    segs = [s for s in (match.group(1) if match else path).split("/") if s]
    if kind not in segs:
        return None, None
    at = segs.index(kind)
    if at >= 2:
        return segs[at - 2], segs[at - 1]
    return None, None
