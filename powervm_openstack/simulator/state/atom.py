"""Atom envelopes as NovaLink writes them: feeds, entries and HttpErrorResponse bodies.

Rendering takes stored records (base-relative links) and a base URL, and returns the text a
client receives. Extended attribute groups (``?group=``) are applied here: an element that carries
``group="X"`` is left out unless X (or ``All``) was asked for; with no ``group`` parameter at all,
everything is served.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
from collections.abc import Iterable
from xml.sax.saxutils import escape

from lxml import etree

from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record

GENERATOR = "IBM Power Systems Management Console"


def timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def wanted_groups(group_param: str | None) -> set[str] | None:
    """``None`` means serve every group; otherwise the set asked for (``None`` value = none)."""
    if group_param is None:
        return None
    names = {g.strip() for g in group_param.split(",") if g.strip()}
    if "All" in names:
        return None
    names.discard("None")
    return names


def filter_groups(elem: etree._Element, groups: set[str] | None) -> etree._Element:
    """A copy of ``elem`` without the extended-group elements that were not asked for."""
    elem = copy.deepcopy(elem)
    if groups is None:
        return elem
    for child in list(elem.iter()):
        grp = child.get("group")
        if grp and grp not in groups and child.getparent() is not None:
            child.getparent().remove(child)
    return elem


def content_type(kind: str, service: str = "uom") -> str:
    return f"application/vnd.ibm.powervm.{service}+xml; type={kind}"


def _service(elem: etree._Element) -> str:
    ns = etree.QName(elem).namespace
    return "web" if ns == xml.WEB_NS else "uom"


def entry_xml(rec: Record, self_href: str, groups: set[str] | None) -> str:
    """One ``<entry>`` (without the XML declaration), links still base-relative."""
    kind = xml.local(rec.element)
    ns = etree.QName(rec.element).namespace or xml.UOM_NS
    body = xml.self_prefixed(xml.tostring(filter_groups(rec.element, groups)), kind, ns)
    ctype = content_type(kind, _service(rec.element))
    return (
        "<entry>"
        f"<id>{escape(rec.uuid)}</id>"
        f"<title>{escape(rec.title or rec.kind)}</title>"
        f"<published>{timestamp()}</published>"
        f'<link rel="SELF" href="{escape(self_href)}"/>'
        f"<author><name>{GENERATOR}</name></author>"
        f'<etag:etag xmlns:etag="{xml.UOM_NS}" xmlns="{xml.UOM_NS}">{escape(rec.etag)}</etag:etag>'
        f'<content type="{ctype}">{body}</content>'
        "</entry>"
    )


def render_entry(rec: Record, self_href: str, base: str, groups: set[str] | None) -> str:
    """A single-entry response body."""
    text = (
        f'<entry xmlns="{xml.ATOM_NS}" xmlns:ns2="http://a9.com/-/spec/opensearch/1.1/" '
        f'xmlns:ns3="http://www.w3.org/1999/xhtml">' + entry_xml(rec, self_href, groups)[len("<entry>") :]
    )
    return xml.add_base(text, base)


def render_feed(records: Iterable[tuple[Record, str]], feed_href: str, base: str, groups: set[str] | None) -> str:
    """A feed response body from ``(record, self_href)`` pairs."""
    entries = "".join(entry_xml(rec, href, groups) for rec, href in records)
    feed_id = hashlib.md5(feed_href.encode(), usedforsecurity=False).hexdigest()
    text = (
        f'<feed xmlns="{xml.ATOM_NS}" xmlns:ns2="http://a9.com/-/spec/opensearch/1.1/" '
        f'xmlns:ns3="http://www.w3.org/1999/xhtml">'
        f"<id>{_uuid_like(feed_id)}</id><updated>{timestamp()}</updated>"
        f'<link rel="SELF" href="{escape(feed_href)}"/>'
        f"<generator>{GENERATOR}</generator>{entries}</feed>"
    )
    return xml.add_base(text, base)


def feed_etag(records: Iterable[Record]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for rec in records:
        digest.update(rec.etag.encode())
    return str(int(digest.hexdigest()[:8], 16) - 2**31)


def render_error(status: int, reason: str, message: str, path: str, method: str, base: str) -> str:
    """An HttpErrorResponse entry, the shape pypowervm parses into ``HttpError.her_wrap``."""
    elem = xml.root("HttpErrorResponse", _ERROR_UUID, schema="V1_2_0", ns=xml.WEB_NS)
    xml.leaf(elem, "HTTPStatus", status, kb="ROR")
    xml.leaf(elem, "RequestURI", f"{base}{path}", kb="ROR")
    xml.leaf(elem, "ReasonCode", reason, kb="ROR")
    xml.leaf(elem, "Message", message, kb="ROR")
    xml.leaf(elem, "RequestBody", "", kb="ROR")
    xml.leaf(elem, "RequestHeaders", method, kb="ROR")
    rec = Record(kind="HttpErrorResponse", uuid=_ERROR_UUID, element=elem, etag="0")
    return render_entry(rec, path, base, None)


def _uuid_like(hexstr: str) -> str:
    return f"{hexstr[:8]}-{hexstr[8:12]}-{hexstr[12:16]}-{hexstr[16:20]}-{hexstr[20:32]}"


_ERROR_UUID = "00000000-0000-0000-0000-000000000000"
