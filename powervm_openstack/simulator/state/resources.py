"""Read, create, update and delete REST objects: the generic part of every endpoint.

Kind-specific rules come from ``kinds.behaviour(kind)`` and run inside the same store
transaction, so a refused or failed change leaves nothing behind.
"""

from __future__ import annotations

import copy
import dataclasses
import logging

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request, etag_mismatch, not_found
from powervm_openstack.simulator.http.routes import Route
from powervm_openstack.simulator.state import atom, kinds, quick, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store, Transaction, new_uuid

LOG = logging.getLogger(__name__)

#: Kinds whose UUIDs NovaLink writes in upper case.
_UPPER_UUID_KINDS = ("LogicalPartition", "VirtualIOServer")


@dataclasses.dataclass
class Reply:
    status: int
    body: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/atom+xml"


class Resources:
    """The object endpoints over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- GET -------------------------------------------------------------------------------
    def read(self, route: Route, group: str | None, base: str, if_none_match: str | None) -> Reply:
        groups = atom.wanted_groups(group)
        # SELF links echo the groups asked for: pypowervm's refresh() re-reads by that link.
        query = "" if group is None else f"?group={group}"
        with self.store.reading() as view:
            if route.suffix == "quick":
                return self._quick(view, route, base)
            if route.is_collection or route.suffix == "search":
                return self._feed(view, route, groups, base, query)
            rec = self._get(view, route)
        if if_none_match and if_none_match == rec.etag:
            return Reply(304)
        href = f"{route.collection_path()}/{rec.uuid}{query}"
        return Reply(200, atom.render_entry(rec, href, base, groups), {"ETag": rec.etag})

    def _feed(self, view: Transaction, route: Route, groups: set[str] | None, base: str, query: str) -> Reply:
        records = self._collection(view, route)
        if route.suffix == "search":
            prop, value, negated = route.search()
            records = [r for r in records if (xml.text(r.element, prop) == value) != negated]
        path = route.collection_path()
        body = atom.render_feed([(r, f"{path}/{r.uuid}{query}") for r in records], path + query, base, groups)
        return Reply(200, body, {"ETag": atom.feed_etag(records)})

    def _collection(self, view: Transaction, route: Route) -> list[Record]:
        if route.parent_kind is None:
            _check_root_feed(route.kind)
            return view.find(route.kind)
        parent_uuid = route.parent_uuid or ""
        parent = view.get(route.parent_kind, parent_uuid)
        if parent is None:
            # A partial capture may hold children whose parent it did not capture: serve those;
            # any other missing parent is 404, whatever the child kind.
            found = view.find(route.kind, parent_uuid)
            if not found:
                raise not_found(f"The {route.parent_kind} {route.parent_uuid}")
            return found
        if route.parent_kind == "ManagedSystem" and view.count("ManagedSystem") <= 1:
            # A NovaLink manages one system: everything in the state belongs to it, also
            # objects imported from captures of other systems.
            return view.find(route.kind)
        return view.find(route.kind, parent_uuid)

    def _get(self, view: Transaction, route: Route) -> Record:
        rec = view.get(route.kind, route.uuid or "")
        if rec is None:
            raise not_found(f"The {route.kind} {route.uuid}")
        if route.parent_kind is None:
            _check_root_feed(route.kind)
        elif (rec.parent_uuid or "").lower() != (route.parent_uuid or "").lower():
            if view.get(route.parent_kind, route.parent_uuid or "") is None:
                raise not_found(f"The {route.parent_kind} {route.parent_uuid}")
        return rec

    def _quick(self, view: Transaction, route: Route, base: str) -> Reply:
        if route.is_collection and route.suffix_arg is None:  # the anchor: an Atom feed of the names
            body = quick.anchor(route.kind, self._collection(view, route), route.collection_path() + "/quick", base)
            return Reply(200, body, content_type="application/atom+xml")
        if route.is_collection:
            body = quick.answer_all(self._collection(view, route), route.suffix_arg)
            return Reply(200, body, content_type="application/json")
        rec = self._get(view, route)
        return Reply(200, quick.answer(rec, route.suffix_arg), content_type="application/json")

    # -- PUT (create) ----------------------------------------------------------------------
    def create(self, route: Route, body: bytes, base: str) -> Reply:
        if not route.is_collection:
            raise ApiError(405, f"Create (PUT) goes to a collection, not to {route.kind} {route.uuid}.")
        elem = _object_from_body(body, route.kind)
        with self.store.transaction() as txn:
            parent = self._parent_for_create(txn, route)
            rec = Record(route.kind, _uuid_for(route.kind, elem), elem)
            if parent is not None:
                rec.parent_kind, rec.parent_uuid = parent.kind, parent.uuid
            _set_atom_id(rec)
            kinds.behaviour(route.kind).on_create(txn, rec, parent)
            txn.put(rec)
        LOG.info(
            "Created %s %s%s",
            rec.kind,
            rec.uuid,
            f" under {rec.parent_kind} {rec.parent_uuid}" if parent else "",
        )
        href = f"{route.collection_path()}/{rec.uuid}"
        return Reply(200, atom.render_entry(rec, href, base, None), {"ETag": rec.etag})

    def _parent_for_create(self, txn: Transaction, route: Route) -> Record | None:
        if route.parent_kind:
            parent = txn.get(route.parent_kind, route.parent_uuid or "")
            if parent is None:
                raise not_found(f"The {route.parent_kind} {route.parent_uuid}")
            return parent
        kind = kinds.lookup(route.kind)
        if kind is not None and not kind.root:
            raise ApiError(405, f"A {route.kind} is created under its parent ({', '.join(kind.parents)}).")
        if kind is not None and "ManagedSystem" in kind.parents:
            systems = txn.find("ManagedSystem")
            return systems[0] if systems else None
        return None

    # -- POST (update) ---------------------------------------------------------------------
    def update(self, route: Route, body: bytes, if_match: str | None, base: str) -> Reply:
        if route.is_collection:
            raise ApiError(405, f"Update (POST) goes to one {route.kind}, not to the collection.")
        elem = _object_from_body(body, route.kind)
        with self.store.transaction() as txn:
            old = self._get(txn, route)
            if if_match and if_match != old.etag:
                raise etag_mismatch(old.kind, old.uuid, if_match, old.etag)
            new = dataclasses.replace(old, element=_keep_unsent_groups(old.element, elem))
            _set_atom_id(new)
            kinds.behaviour(route.kind).on_update(txn, old, new)
            txn.put(new)
        LOG.info("Updated %s %s (etag %s -> %s)", new.kind, new.uuid, old.etag, new.etag)
        href = f"{route.collection_path()}/{new.uuid}"
        return Reply(200, atom.render_entry(new, href, base, None), {"ETag": new.etag})

    # -- DELETE ----------------------------------------------------------------------------
    def delete(self, route: Route, if_match: str | None) -> Reply:
        if route.is_collection:
            raise ApiError(405, f"Delete goes to one {route.kind}, not to the collection.")
        with self.store.transaction() as txn:
            rec = self._get(txn, route)
            if if_match and if_match != rec.etag:
                raise etag_mismatch(rec.kind, rec.uuid, if_match, rec.etag)
            kinds.behaviour(route.kind).on_delete(txn, rec)
            txn.delete(rec)
        LOG.info("Deleted %s %s", rec.kind, rec.uuid)
        return Reply(204)


def _check_root_feed(kind: str) -> None:
    """Refuse a root URI for a kind that lives only under a parent, as NovaLink does (404).

    Real NovaLink has no system-wide ``/rest/api/uom/ClientNetworkAdapter`` (or NetworkBridge, ...)
    collection: pypowervm always reads adapters as children of their partition.
    """
    known = kinds.lookup(kind)
    if known is not None and not known.root:
        raise not_found(f"The resource {kind} (it exists only under its {' or '.join(known.parents)})")


def _object_from_body(body: bytes, kind: str) -> etree._Element:
    if not body:
        raise bad_request(f"The request has no body; expected a {kind} element.")
    elem = xml.normalize(xml.parse(body))
    if xml.local(elem) != kind:
        raise bad_request(f"The request body is a {xml.local(elem)} element; this URI takes a {kind}.")
    return elem


def _uuid_for(kind: str, elem: etree._Element) -> str:
    given = xml.text(elem, "Metadata/Atom/AtomID")
    uuid = given or new_uuid()
    return uuid.upper() if kind in _UPPER_UUID_KINDS else uuid


def _set_atom_id(rec: Record) -> None:
    atom_el = xml.find(rec.element, "Metadata/Atom")
    if atom_el is None:
        rec.element.insert(0, xml.metadata(rec.uuid))
        return
    if xml.find(atom_el, "AtomID") is None:
        xml.leaf(atom_el, "AtomID", rec.uuid).attrib.clear()
        xml.leaf(atom_el, "AtomCreated", xml.now_ms()).attrib.clear()


def _keep_unsent_groups(old: etree._Element, new: etree._Element) -> etree._Element:
    """Keep extended-group sections the client did not fetch (and so did not send back)."""
    sent = {child.tag for child in new}
    for index, child in enumerate(old):
        if child.get("group") and child.tag not in sent:
            new.insert(min(index, len(new)), copy.deepcopy(child))
    return new
