"""Config drive as virtual optical media in a VIOS media repository.

The ISO (volume id ``config-2``, nova's layout from ``ConfigDriveBuilder``) is built in a private
temporary file with pycdlib, so no ``genisoimage`` binary is needed on the NovaLink partition. It is
uploaded as ``cfg_<instance uuid hex>`` into the media repository (created in
``[powervm] vopt_media_volume_group`` when no VIOS has one) and mapped like a disk. Deleting removes
the mapping (by media name, whichever partition holds it) and then the media.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import pycdlib
from nova.api.metadata import base as instance_metadata
from nova.virt import configdrive
from oslo_concurrency import lockutils
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import storage as pvm_stg
from pypowervm.tasks import vopt as pvm_vopt
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute.disk import mapping

LOG = logging.getLogger(__name__)


def media_name(instance: Any) -> str:
    """``cfg_`` + the instance UUID without dashes: 36 characters, within the VIOS's 37."""
    return "cfg_" + instance.uuid.replace("-", "")


class _IsoBuilder(configdrive.ConfigDriveBuilder):
    """nova's config drive layout, written as ISO 9660 (Joliet, Rock Ridge) by pycdlib."""

    def _make_iso9660(self, path: str, tmpdir: str) -> None:
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident="config-2")
        for root, dirs, files in os.walk(tmpdir):
            rel = os.path.relpath(root, tmpdir)
            for name in sorted(dirs):
                iso_path = _iso_path(rel, name)
                iso.add_directory(iso_path, rr_name=name, joliet_path=_joliet(rel, name))
            for name in sorted(files):
                iso.add_file(os.path.join(root, name), _iso_path(rel, name) + ";1", rr_name=name,
                             joliet_path=_joliet(rel, name))  # fmt: skip
        iso.write(path)
        iso.close()


def _iso_path(rel: str, name: str) -> str:
    parts = [p for p in rel.split(os.sep) if p not in (".", "")] + [name]
    return "/" + "/".join(p.upper().replace("-", "_") for p in parts)


def _joliet(rel: str, name: str) -> str:
    parts = [p for p in rel.split(os.sep) if p not in (".", "")] + [name]
    return "/" + "/".join(parts)


class ConfigDrive:
    """Build, upload, map and remove an instance's config drive media."""

    def __init__(self, adapter: Any, conf: Any) -> None:
        self.adapter = adapter
        self.conf = conf
        self._repo: tuple[str, str] | None = None

    def repository(self) -> tuple[str, str]:
        """``(vios uuid, volume group uuid)`` of the media repository, created if no VIOS has one."""
        with lockutils.lock("powervm-vopt-repository"):  # concurrent spawns must not create two repositories
            self._repo = pvm_vopt.validate_vopt_repo_exists(
                self.adapter, self.conf.powervm.vopt_media_volume_group, self.conf.powervm.vopt_media_rep_size
            )
            return self._repo

    def _existing_repository(self) -> tuple[str, str] | None:
        """The media repository if there is one; never creates one (destroy must not)."""
        if self._repo is not None:
            return self._repo
        for vios in pvm_vios.VIOS.get(self.adapter):
            for vg in pvm_stor.VG.get(self.adapter, parent=vios):
                if len(vg.vmedia_repos):
                    self._repo = (vios.uuid, vg.uuid)
                    return self._repo
        return None

    def create(self, context: Any, instance: Any, injected_files: Any, network_info: Any,
               admin_password: str | None) -> tuple[str, Any]:  # fmt: skip
        """Upload the instance's config drive; ``(vios uuid, media reference)`` for the mapping."""
        vios_uuid, _ = self.repository()
        extra_md = {"admin_pass": admin_password} if admin_password else {}
        md = instance_metadata.InstanceMetadata(instance, content=injected_files, extra_md=extra_md,
                                                network_info=network_info)  # fmt: skip
        name = media_name(instance)
        fd, path = tempfile.mkstemp(prefix="cfgdrv-", suffix=".iso")
        os.close(fd)
        try:
            with _IsoBuilder(instance_md=md) as builder:
                builder.make_drive(path)
            size = os.path.getsize(path)
            with open(path, "rb") as data:
                ref, _ = pvm_stg.upload_vopt(self.adapter, vios_uuid, data, name, f_size=size)
        finally:
            os.unlink(path)
        LOG.info("Uploaded config drive %s (%d bytes) for instance %s to VIOS %s", name, size, instance.uuid,
                 vios_uuid)  # fmt: skip
        return vios_uuid, ref

    def delete(self, instance: Any) -> bool:
        """Unmap and delete the instance's config drive media; False when there was none."""
        name = media_name(instance)
        repo = self._existing_repository()
        if repo is None:
            return False
        vios_uuid, vg_uuid = repo
        mapping.remove(self.adapter, [vios_uuid], mapping.named(name), f"config drive {name}")
        try:
            vg = pvm_stor.VG.get(self.adapter, uuid=vg_uuid, parent_type=pvm_vios.VIOS, parent_uuid=vios_uuid)
        except pvm_exc.HttpNotFound:
            self._repo = None  # the repository's volume group went away; look again next time
            return False
        media = [m for repo in vg.vmedia_repos for m in repo.optical_media if m.name == name]
        if not media:
            return False
        pvm_stg.rm_vg_storage(vg, vopts=media)
        LOG.info("Deleted config drive %s of instance %s", name, instance.uuid)
        return True
