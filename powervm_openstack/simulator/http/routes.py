"""Parse REST paths into what they address.

Shapes served (``<svc>`` is ``uom`` or ``web``)::

    /rest/api/web/Logon
    /rest/api/uom/Event
    /rest/api/uom/jobs/<JobID>[/cancel]
    /rest/api/web/File/contents/<FileUUID>
    /rest/api/<svc>/<Kind>[/<uuid>[/<ChildKind>[/<uuid>]]][/do/<Op> | /quick[/<Prop>] | /search/(<expr>)]
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import unquote

from powervm_openstack.simulator.errors import ApiError, not_found

PREFIX = "/rest/api/"
_SUFFIXES = ("do", "quick", "search")
_SEARCH = re.compile(r"^\((\w+)(==|!=)\s*'?([^')]*)'?\)$")


@dataclasses.dataclass(frozen=True)
class Route:
    """What a request addresses: an object, a collection, or a special endpoint."""

    service: str
    kind: str
    uuid: str | None = None
    parent_kind: str | None = None
    parent_uuid: str | None = None
    suffix: str | None = None
    suffix_arg: str | None = None

    @property
    def is_collection(self) -> bool:
        return self.uuid is None

    def collection_path(self) -> str:
        """The base-relative path of the collection this route addresses (no query)."""
        path = f"{PREFIX}{self.service}/"
        if self.parent_kind:
            path += f"{self.parent_kind}/{self.parent_uuid}/"
        return path + self.kind

    def search(self) -> tuple[str, str, bool]:
        """``(property, value, negated)`` of a ``search/(Prop=='value')`` or ``(Prop!='value')`` route."""
        match = _SEARCH.match(self.suffix_arg or "")
        if not match:
            raise ApiError(
                400,
                f"Search expression {self.suffix_arg!r} is not of the form (Property=='value') or (Property!='value').",
            )
        return match.group(1), match.group(3), match.group(2) == "!="


def parse(path: str) -> Route:
    """Parse a request path; raise ApiError 404 for anything outside the REST API."""
    if not path.startswith(PREFIX):
        raise not_found(f"The resource {path}")
    service, _, rest = path[len(PREFIX) :].partition("/")
    segs = [unquote(s) for s in rest.split("/") if s]
    if service not in ("uom", "web", "pcm") or not segs:
        raise not_found(f"The resource {path}")
    return _parse_segments(service, segs, path)


def _parse_segments(service: str, segs: list[str], path: str) -> Route:
    ids: list[str] = []
    suffix = suffix_arg = None
    for i, seg in enumerate(segs):
        if seg in _SUFFIXES and i > 0:
            suffix, suffix_arg = seg, "/".join(segs[i + 1 :]) or None
            break
        ids.append(seg)
    if len(ids) > 4:
        raise not_found(f"The resource {path}")
    kind, uuid = ids[0], ids[1] if len(ids) > 1 else None
    if len(ids) > 2:
        return Route(service, ids[2], ids[3] if len(ids) > 3 else None, kind, uuid, suffix, suffix_arg)
    return Route(service, kind, uuid, None, None, suffix, suffix_arg)
