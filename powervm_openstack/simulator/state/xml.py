"""XML vocabulary of the PowerVM REST API: namespaces and small element builders.

Every document the simulator stores is one object element in the UOM (or WEB) namespace,
written the way NovaLink writes it: ``<Kind:Kind xmlns:Kind=NS xmlns=NS schemaVersion=...>``
starting with ``<Metadata><Atom>...</Atom></Metadata>``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
UOM_NS = "http://www.ibm.com/xmlns/systems/power/firmware/uom/mc/2012_10/"
WEB_NS = "http://www.ibm.com/xmlns/systems/power/firmware/web/mc/2012_10/"
PCM_NS = "http://www.ibm.com/xmlns/systems/power/firmware/pcm/mc/2012_10/"
K2_NS = "http://www.w3.org/XML/1998/namespace/k2"

SCHEMA_VERSION = "V1_3_0"

_PARSER = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True, huge_tree=False)

# Absolute links are stored without scheme://host:port so that every response can be
# rendered with the base URL the client actually used (pypowervm compares full hrefs).
_ABS_LINK = re.compile(r'(href="|>)https?://[^/"<>\s]+(/rest/api/)')
_REL_LINK = re.compile(r'(href="|>)(/rest/api/)')


class XMLError(ValueError):
    """A request body that is not well-formed XML or not the expected element."""


def q(tag: str, ns: str = UOM_NS) -> str:
    """Return the Clark name ``{ns}tag``."""
    return f"{{{ns}}}{tag}"


def parse(text: bytes | str) -> etree._Element:
    """Parse one XML document; raise XMLError with the parser's reason on bad input."""
    if isinstance(text, str):
        text = text.encode()
    try:
        return etree.fromstring(text, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"request body is not well-formed XML: {exc}") from exc


def tostring(elem: etree._Element) -> str:
    return etree.tostring(elem, encoding="unicode")


def normalize(elem: etree._Element) -> etree._Element:
    """Rebuild ``elem`` with its namespace as the default one, so no child carries a prefix.

    Clients write ``<uom:ClientNetworkAdapter>``; NovaLink stores and serves unprefixed children.
    Comments and processing instructions are dropped.
    """
    ns = etree.QName(elem).namespace
    new = etree.Element(elem.tag, attrib=dict(elem.attrib), nsmap={None: ns} if ns else None)
    _copy_into(elem, new)
    return new


def _copy_into(src: etree._Element, dst: etree._Element) -> None:
    dst.text = src.text
    for child in src:
        if not isinstance(child.tag, str):
            continue
        sub = etree.SubElement(dst, child.tag, attrib=dict(child.attrib))
        _copy_into(child, sub)


def self_prefixed(body: str, kind: str, ns: str) -> str:
    """Write the root tag of a serialised object as NovaLink does: ``<Kind:Kind xmlns:Kind=..>``."""
    opening = f'<{kind} xmlns="{ns}"'
    if not body.startswith(opening):
        return body
    body = f'<{kind}:{kind} xmlns:{kind}="{ns}" xmlns="{ns}"' + body[len(opening) :]
    closing = f"</{kind}>"
    if body.endswith(closing):
        body = body[: -len(closing)] + f"</{kind}:{kind}>"
    return body


def strip_base(text: str) -> str:
    """Make absolute REST links base-relative (``/rest/api/...``) for storage."""
    return _ABS_LINK.sub(r"\1\2", text)


def add_base(text: str, base: str) -> str:
    """Make stored base-relative REST links absolute under ``base`` for a response."""
    return _REL_LINK.sub(lambda m: f"{m.group(1)}{base}{m.group(2)}", text)


def now_ms() -> str:
    return str(int(time.time() * 1000))


def metadata(uuid: str | None = None, ns: str = UOM_NS) -> etree._Element:
    """``<Metadata><Atom>[<AtomID/><AtomCreated/>]</Atom></Metadata>``."""
    md = etree.Element(q("Metadata", ns))
    atom = etree.SubElement(md, q("Atom", ns))
    if uuid:
        etree.SubElement(atom, q("AtomID", ns)).text = uuid
        etree.SubElement(atom, q("AtomCreated", ns)).text = now_ms()
    return md


def root(kind: str, uuid: str, schema: str = SCHEMA_VERSION, ns: str = UOM_NS) -> etree._Element:
    """A new object root element ``<Kind:Kind schemaVersion=...>`` with its Metadata."""
    elem = etree.Element(q(kind, ns), nsmap={None: ns}, attrib={"schemaVersion": schema})
    elem.append(metadata(uuid, ns))
    return elem


def complex_el(parent: etree._Element, tag: str, group: str | None = None, **attrs: str) -> etree._Element:
    """A nested complex element, which NovaLink marks with schemaVersion and empty Metadata."""
    attrib = {"schemaVersion": SCHEMA_VERSION, **attrs}
    if group:
        attrib["group"] = group
    ns = etree.QName(parent).namespace or UOM_NS
    elem = etree.SubElement(parent, q(tag, ns), attrib=attrib)
    elem.append(metadata(ns=ns))
    return elem


def leaf(parent: etree._Element, tag: str, value: object, kb: str = "CUD") -> etree._Element:
    """A leaf element with text; bools become ``true``/``false``."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    ns = etree.QName(parent).namespace or UOM_NS
    elem = etree.SubElement(parent, q(tag, ns), attrib={"kb": kb, "kxe": "false"})
    elem.text = "" if value is None else str(value)
    return elem


def link(parent: etree._Element, tag: str, href: str, inline: bool = True) -> etree._Element:
    """A link-valued property: ``<Tag href=.. rel="related"/>`` or ``<Tag><link .../></Tag>``."""
    ns = etree.QName(parent).namespace or UOM_NS
    if inline:
        return etree.SubElement(
            parent, q(tag, ns), attrib={"kb": "CUD", "kxe": "false", "href": href, "rel": "related"}
        )
    holder = etree.SubElement(parent, q(tag, ns), attrib={"kb": "CUD", "kxe": "false"})
    etree.SubElement(holder, q("link", ns), attrib={"href": href, "rel": "related"})
    return holder


def find(elem: etree._Element, path: str, ns: str = UOM_NS) -> etree._Element | None:
    """Find by a slash-separated path of local names in ``ns``."""
    return elem.find("/".join(q(p, ns) for p in path.split("/")))


def findall(elem: etree._Element, path: str, ns: str = UOM_NS) -> list[etree._Element]:
    return elem.findall("/".join(q(p, ns) for p in path.split("/")))


def text(elem: etree._Element, path: str, default: str | None = None, ns: str = UOM_NS) -> str | None:
    found = find(elem, path, ns)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def set_text(elem: etree._Element, path: str, value: object, ns: str = UOM_NS) -> bool:
    """Set the text of an existing child; return False when the child is absent."""
    found = find(elem, path, ns)
    if found is None:
        return False
    if isinstance(value, bool):
        value = "true" if value else "false"
    found.text = str(value)
    return True


def vlan_list(value: str | None) -> list[int]:
    """Parse a space-separated VLAN list (``TaggedVLANIDs``)."""
    return [int(v) for v in (value or "").split()]


def format_vlans(vlans: Iterable[int]) -> str:
    return " ".join(str(v) for v in vlans)


def local(elem: etree._Element) -> str:
    """Local name of an element."""
    return etree.QName(elem).localname
