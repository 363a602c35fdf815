"""Glance images: download one to a private temporary file (so its true size is known before the
upload to the VIOS), and stream a disk back to Glance for a snapshot (raw, bare)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from nova.image import glance

LOG = logging.getLogger(__name__)
_API: glance.API | None = None


def api() -> glance.API:
    global _API
    if _API is None:
        _API = glance.API()
    return _API


@contextlib.contextmanager
def downloaded(context: Any, image_id: str, directory: str | None = None) -> Iterator[tuple[str, int]]:
    """``(path, size in bytes)`` of the image in a 0600 temporary file, removed on exit."""
    if directory:
        os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"image-{image_id}-", dir=directory)
    os.close(fd)
    try:
        api().download(context, image_id, dest_path=path)
        size = os.path.getsize(path)
        LOG.info("Downloaded image %s (%d bytes) to stage it for upload to the VIOS", image_id, size)
        yield path, size
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def upload_snapshot(context: Any, image_id: str, instance: Any, data: IO[bytes]) -> None:
    """Store ``data`` as the contents of the snapshot image ``image_id`` (raw disk, bare container)."""
    meta = {"disk_format": "raw", "container_format": "bare",
            "properties": {"image_location": "snapshot", "image_state": "available",
                           "owner_id": instance.project_id}}  # fmt: skip
    api().update(context, image_id, meta, data=data, purge_props=False)
    LOG.info("Uploaded snapshot image %s of instance %s", image_id, instance.uuid)
