"""The web File API: upload bytes into a VIOS device (pypowervm ``upload_new_vdisk``, ``upload_vopt``, ``upload_lu``).

Flow, as NovaLink serves it:
1. ``PUT /rest/api/web/File`` creates the File metadata (``FileRules``): a name, the type
   (``BROKERED_DISK_IMAGE`` into an existing disk or LU named by ``TargetDeviceUniqueDeviceID``, or
   ``BROKERED_MEDIA_ISO`` into the VIOS's media repository), the target VIOS, optionally the expected
   size and SHA256. The server sets ``FileUUID`` (the entry's id) and ``CurrentFileSizeInBytes`` 0.
2. ``PUT /rest/api/web/File/contents/<FileUUID>`` streams the bytes (chunked or with a length).
   The upload is one transaction: a size or checksum mismatch, a disk too small, or media that
   does not fit the repository leaves nothing behind.
3. ``DELETE /rest/api/web/File/<uuid>`` drops the metadata (the device keeps the bytes).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from powervm_openstack.simulator.errors import ApiError, bad_request, not_found
from powervm_openstack.simulator.model import storage
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.resources import Reply
from powervm_openstack.simulator.state.store import Transaction

if TYPE_CHECKING:
    from powervm_openstack.simulator.http.context import AppContext

LOG = logging.getLogger(__name__)

CONTENTS_PREFIX = "/rest/api/web/File/contents/"
MAX_UPLOAD = 512 * 1024 * 1024
TYPES = ("BROKERED_DISK_IMAGE", "BROKERED_MEDIA_ISO")
_W = xml.WEB_NS


def install() -> None:
    kinds.register("File", FileRules())


def is_contents(path: str) -> bool:
    return path.startswith(CONTENTS_PREFIX)


class FileRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        elem = rec.element
        for stray in elem.findall(xml.q("Metadata")):  # the generic layer's UOM Metadata; Files carry WEB ones
            elem.remove(stray)
        if elem.find(xml.q("Metadata", _W)) is None:
            elem.insert(0, xml.metadata(rec.uuid, ns=_W))
        atom = elem.find(f"{xml.q('Metadata', _W)}/{xml.q('Atom', _W)}")
        if atom is not None and atom.find(xml.q("AtomID", _W)) is None:
            xml.leaf(atom, "AtomID", rec.uuid).attrib.clear()
        name = xml.text(elem, "Filename", ns=_W)
        ftype = xml.text(elem, "FileEnumType", ns=_W)
        vios = xml.text(elem, "TargetVirtualIOServerUUID", ns=_W)
        if not name:
            raise bad_request("A File needs a Filename.")
        if ftype not in TYPES:
            raise bad_request(f"FileEnumType {ftype!r} is not supported; allowed: {', '.join(TYPES)}.")
        if not vios or txn.get("VirtualIOServer", vios) is None:
            raise bad_request(f"TargetVirtualIOServerUUID {vios!r} is not a VIOS of this system.")
        if ftype == "BROKERED_DISK_IMAGE":
            _disk_capacity(txn, vios, xml.text(elem, "TargetDeviceUniqueDeviceID", ns=_W) or "")
        rec.title = "File"
        _set(elem, "FileUUID", rec.uuid, after="InternetMediaType")
        _set(elem, "CurrentFileSizeInBytes", "0", after="ExpectedFileSizeInBytes")
        _set(elem, "DateModified", xml.now_ms(), after="Filename")


def _set(elem: Any, tag: str, value: str, after: str) -> None:
    node = elem.find(xml.q(tag, _W))
    if node is None:
        anchor = elem.find(xml.q(after, _W))
        node = xml.leaf(elem, tag, value, kb="ROR")
        if anchor is not None:
            anchor.addnext(node)
    node.text = value


def _disk_capacity(txn: Transaction, vios_uuid: str, udid: str) -> float:
    """Capacity in GB of the upload's target disk or LU; refused when this VIOS has no such device."""
    found = storage.find_device(txn, vios_uuid, udid)
    if found is not None:
        return storage.gb(found[1], "DiskCapacity")
    for lu in txn.find_containing("LogicalUnit", udid):
        if xml.text(lu.element, "UniqueDeviceID") == udid:
            return storage.gb(lu.element, "UnitCapacity")
    raise bad_request(f"TargetDeviceUniqueDeviceID {udid!r} is not a virtual disk or logical unit of VIOS {vios_uuid}.")


def serve_contents(app: AppContext, environ: dict[str, Any], method: str, path: str) -> Reply:
    """``PUT``/``POST`` the bytes of a File; answers 204 once they are on the device."""
    app.sessions.check(environ.get("HTTP_X_API_SESSION"))
    if method not in ("PUT", "POST"):
        raise ApiError(405, f"{method} is not allowed on File contents; PUT the bytes.")
    file_uuid = path[len(CONTENTS_PREFIX) :].strip("/")
    data = read_upload(environ, MAX_UPLOAD)
    with app.store.transaction() as txn:
        rec = txn.get("File", file_uuid)
        if rec is None:
            raise not_found(f"The File {file_uuid}")
        _deliver(txn, rec, data)
        xml.set_text(rec.element, "CurrentFileSizeInBytes", str(len(data)), ns=_W)
        txn.put(rec, detail="CurrentFileSizeInBytes")
    LOG.info("File %s: %d bytes uploaded", file_uuid, len(data))
    return Reply(204)


def _deliver(txn: Transaction, rec: Record, data: bytes) -> None:
    elem = rec.element
    name = xml.text(elem, "Filename", ns=_W) or ""
    expected = xml.text(elem, "ExpectedFileSizeInBytes", ns=_W)
    if expected and int(expected) != len(data):
        raise bad_request(f"File {name}: received {len(data)} bytes, the File expects {expected}.")
    sha = xml.text(elem, "SHA256", ns=_W)
    if sha and hashlib.sha256(data).hexdigest() != sha.lower():
        raise bad_request(f"File {name}: the SHA256 of the received bytes does not match {sha}.")
    vios = xml.text(elem, "TargetVirtualIOServerUUID", ns=_W) or ""
    if xml.text(elem, "FileEnumType", ns=_W) == "BROKERED_MEDIA_ISO":
        storage.add_medium(txn, vios, name, data)
        return
    udid = xml.text(elem, "TargetDeviceUniqueDeviceID", ns=_W) or ""
    capacity = _disk_capacity(txn, vios, udid)
    if len(data) > capacity * 1024**3:
        raise bad_request(f"File {name}: {len(data)} bytes do not fit device {udid} of {capacity:g} GB.")
    txn.put_blob(udid, data)


def read_upload(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, sent with a Content-Length or chunked (pypowervm streams chunked)."""
    stream = environ["wsgi.input"]
    if (environ.get("HTTP_TRANSFER_ENCODING") or "").lower() == "chunked":
        return _read_chunked(stream, limit)
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise bad_request(f"Content-Length {environ.get('CONTENT_LENGTH')!r} is not a number.") from exc
    if length > limit:
        raise ApiError(413, f"The upload of {length} bytes is larger than the {limit} bytes allowed.")
    return stream.read(length) if length > 0 else b""


def _read_chunked(stream: Any, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(1024).strip()
        try:
            size = int(line.split(b";", 1)[0], 16)
        except ValueError as exc:
            raise bad_request(f"Malformed chunk size {line[:20]!r} in the upload.") from exc
        if size == 0:
            while stream.readline(1024).strip():  # trailers
                pass
            return b"".join(parts)
        total += size
        if total > limit:
            raise ApiError(413, f"The upload is larger than the {limit} bytes allowed.")
        parts.append(stream.read(size))
        stream.readline(8)
