"""The response-file format of captured PowerVM REST responses (pypowervm's test-data format).

A response file is UTF-8 text made of ``#`` comment lines, blank lines and up to three sections,
each opened by a line starting with its marker and closed by a line starting with
``END OF SECTION}``::

    INFO{
    {'comment': ..., 'path': 'ManagedSystem/<uuid>/NetworkBridge', 'reason': 'OK', 'status': 200}
    END OF SECTION}
    HEADERS{
    {'content-type': 'application/atom+xml', 'etag': '249747277', ...}
    END OF SECTION}
    BODY{
    <feed xmlns="http://www.w3.org/2005/Atom">...</feed>
    END OF SECTION}

INFO and HEADERS hold Python dict literals (read with ``ast.literal_eval``, never evaluated);
BODY holds the raw response body. This module reads and writes that container, and
``snapshot`` writes a live NovaLink's state in it; turning bodies into simulator records is
``capture``'s job.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypowervm.adapter import Adapter

LOG = logging.getLogger(__name__)

INFO = "INFO{"
HEADERS = "HEADERS{"
BODY = "BODY{"
END = "END OF SECTION}"
_MARKERS = (INFO, HEADERS, BODY)
_BANNER = (
    "####################################################\n"
    "# Captured PowerVM REST response (powervm_openstack.simulator.capture.importer.snapshot)\n"
    "# Format: INFO{ dict }, HEADERS{ dict }, BODY{ raw body }, each closed by END OF SECTION}\n"
    "####################################################\n"
)


class CaptureError(ValueError):
    """Input that claims to be a response file but is not; the message names file and line."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


@dataclasses.dataclass
class ResponseFile:
    """One parsed response file.

    ``body_line`` is the 1-based file line of the first body line, so that a position inside
    the body (e.g. an XML parser's line number) can be reported as a position in the file.
    """

    source: str
    info: dict = dataclasses.field(default_factory=dict)
    headers: dict = dataclasses.field(default_factory=dict)
    body: str | None = None
    body_line: int = 0

    @property
    def status(self) -> int | None:
        """The captured HTTP status, when INFO recorded one."""
        status = str(self.info.get("status", "")).strip()
        return int(status) if status.isdigit() else None

    def header(self, name: str) -> str | None:
        """A response header, looked up case-insensitively."""
        for key, value in self.headers.items():
            if str(key).lower() == name.lower():
                return str(value)
        return None


def read_text(path: str | os.PathLike[str]) -> str:
    """The file's text; raise CaptureError naming the line when it is not UTF-8."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CaptureError(str(path), line, f"not UTF-8 text ({exc.reason})") from None


def is_response_text(text: str) -> bool:
    """Whether ``text`` uses the section format (some line opens INFO{, HEADERS{ or BODY{)."""
    return any(line.startswith(_MARKERS) for line in text.splitlines())


def parse_response(text: str, source: str) -> ResponseFile:
    """Parse response-file text; raise CaptureError (file and line) on any malformed part.

    Lines outside sections must be blank or ``#`` comments; every section must be closed; INFO
    and HEADERS must be dict literals; a section may appear at most once.
    """
    lines = text.splitlines(keepends=True)
    resp = ResponseFile(source)
    seen: set[str] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            i += 1
            continue
        marker = next((m for m in _MARKERS if line.startswith(m)), None)
        if marker is None:
            raise CaptureError(source, i + 1, f"unexpected line outside a section: {line.strip()[:60]!r}")
        if marker in seen:
            raise CaptureError(source, i + 1, f"second {marker} section")
        seen.add(marker)
        end = _section_end(lines, i, marker, source)
        _store_section(resp, marker, "".join(lines[i + 1 : end]), i + 2)
        i = end + 1
    return resp


def _section_end(lines: list[str], start: int, marker: str, source: str) -> int:
    for j in range(start + 1, len(lines)):
        if lines[j].startswith(END):
            return j
    raise CaptureError(source, start + 1, f"{marker} section is never closed by {END!r}")


def _store_section(resp: ResponseFile, marker: str, content: str, first_line: int) -> None:
    if marker == BODY:
        resp.body = content[:-1] if content.endswith("\n") else content
        resp.body_line = first_line
        return
    value = _literal_dict(content, resp.source, first_line, marker)
    if marker == INFO:
        resp.info = value
    else:
        resp.headers = value


def _literal_dict(content: str, source: str, first_line: int, marker: str) -> dict:
    try:
        value = ast.literal_eval(content.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        line = first_line + (getattr(exc, "lineno", None) or 1) - 1
        raise CaptureError(source, line, f"{marker} section is not a Python dict literal ({exc})") from None
    if not isinstance(value, dict):
        raise CaptureError(source, first_line, f"{marker} section holds a {type(value).__name__}, not a dict")
    return value


def format_response(info: Mapping[str, object], headers: Mapping[str, object], body: str) -> str:
    """Response-file text for one response; ``parse_response`` reads it back unchanged."""
    sections = ((INFO, repr(dict(info))), (HEADERS, repr(dict(headers))), (BODY, body))
    return _BANNER + "".join(f"{marker}\n{content}\n{END}\n" for marker, content in sections)


def write_response(
    path: str | os.PathLike[str], info: Mapping[str, object], headers: Mapping[str, object], body: str
) -> Path:
    """Write one response file (UTF-8) and return its path."""
    out = Path(path)
    out.write_text(format_response(info, headers, body), encoding="utf-8")
    return out


# -- capturing a live system ------------------------------------------------------------------

#: Extended attribute groups requested per kind, so that a snapshot holds every group's elements.
SNAPSHOT_GROUPS: dict[str, list[str]] = {
    "ManagedSystem": ["Advanced", "EnergyManagement", "Hypervisor", "SystemNetwork"],
    "LogicalPartition": ["Advanced", "NVRAM"],
    "VirtualIOServer": [
        "Advanced",
        "NVRAM",
        "ViosFCMapping",
        "ViosNetwork",
        "ViosSCSIMapping",
        "ViosStorage",
    ],
    "ClientNetworkAdapter": ["Advanced"],
    "VirtualNICDedicated": ["Advanced", "VNIC"],
    "SRIOVEthernetLogicalPort": ["Advanced"],
}
_SYSTEM_CHILDREN = ("NetworkBridge", "VirtualSwitch", "VirtualNetwork")
_PARTITION_CHILDREN = {
    "LogicalPartition": ("ClientNetworkAdapter", "VirtualNICDedicated", "SRIOVEthernetLogicalPort"),
    "VirtualIOServer": ("ClientNetworkAdapter", "SRIOVEthernetLogicalPort"),
}
_PRIVATE_HEADERS = ("set-cookie", "x-api-session", "authorization", "cookie")


def connect(url: str, username: str, password: str, certpath: str = "/etc/ssl/certs/") -> Adapter:
    """A logged-on pypowervm Adapter for ``url`` (``http[s]://host[:port]``)."""
    from urllib.parse import urlsplit

    from pypowervm import adapter as pvm_adapter

    parts = urlsplit(url)
    session = pvm_adapter.Session(
        host=parts.hostname or "localhost",
        username=username,
        password=password,
        protocol=parts.scheme or "https",
        port=parts.port,
        certpath=certpath,
    )
    return pvm_adapter.Adapter(session)


def snapshot(
    source: Adapter | str,
    out_dir: str | os.PathLike[str],
    username: str = "",
    password: str = "",
) -> list[Path]:
    """Capture a NovaLink's state into response files in ``out_dir``; return the files written.

    ``source`` is a pypowervm Adapter or a URL (then ``username``/``password`` log on). GETs the
    ManagedSystem feed, each system's NetworkBridge/VirtualSwitch/VirtualNetwork feeds, the
    LogicalPartition and VirtualIOServer feeds, and each partition's ClientNetworkAdapter,
    VirtualNICDedicated (LPARs) and SRIOVEthernetLogicalPort feeds, with every extended group.
    Session cookies and tokens are not written. ``load_dir(out_dir)`` imports the result.
    """
    adapter = connect(source, username, password) if isinstance(source, str) else source
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for system in _capture(adapter, out, written, "ManagedSystem"):
        for child in _SYSTEM_CHILDREN:
            _capture(adapter, out, written, "ManagedSystem", system, child)
    for kind, children in _PARTITION_CHILDREN.items():
        for part in _capture(adapter, out, written, kind):
            for child in children:
                _capture(adapter, out, written, kind, part, child)
    return written


def _capture(
    adapter: Adapter,
    out: Path,
    written: list[Path],
    root: str,
    root_id: str | None = None,
    child: str | None = None,
) -> list[str]:
    """GET one collection, write it as a response file, and return the UUIDs it lists."""
    from pypowervm import exceptions as pvm_exc

    kind = child or root
    try:
        resp = adapter.read(root, root_id=root_id, child_type=child, xag=SNAPSHOT_GROUPS.get(kind, []))
    except pvm_exc.HttpNotFound:
        LOG.info("Snapshot: %s/%s/%s is not served (404); skipped", root, root_id or "", child or "")
        return []
    path = "/".join(p for p in (root, root_id, child) if p)
    headers = {str(k).lower(): str(v) for k, v in dict(resp.headers or {}).items()}
    headers = {k: v for k, v in headers.items() if k not in _PRIVATE_HEADERS}
    info = {
        "comment": "powervm_openstack snapshot",
        "path": path,
        "reason": resp.reason,
        "status": resp.status,
    }
    body = resp.body or ""
    written.append(write_response(out / (path.replace("/", "_") + ".txt"), info, headers, body))
    return [entry.uuid for entry in resp.feed.entries] if resp.feed is not None else []
