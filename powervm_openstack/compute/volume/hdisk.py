"""Volumes that the VIOSes see as hdisks, mapped to the partition through vSCSI (FC vSCSI, iSCSI).

A subclass says how one VIOS discovers the volume (``discover``: an hdisk or the reason it saw
none) and how it lets go of it (``release``: remove the hdisk, log out). This class does the rest:
- attach: discover on every active VIOS, require ``vscsi_vios_connections_required`` of them
  (the error names each VIOS and what it saw), map the hdisk on each through one VIOS update
  (pypowervm's ``WrapperTask``: on 412 it re-reads the VIOS and applies the change again, so
  concurrent attaches lose no mapping), keep the UDID in the connection data (``target_UDID``);
  any failure undoes the mappings and hdisks of this attach before raising;
- detach: on every active VIOS remove this partition's mapping of the hdisk (found by UDID) and
  release the hdisk when nothing else maps it; a vanished hdisk is no error, and a VIOS that
  neither has the hdisk nor maps it costs no REST call;
- extend: rediscover on the VIOSes that map the volume, which re-reads its size.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.utils import transaction as pvm_tx
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute.rollback import rollback_on_error

LOG = logging.getLogger(__name__)
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.STORAGE]


class Found(tuple):
    """``(hdisk name, udid)`` a VIOS discovered."""

    def __new__(cls, name: str, udid: str) -> Found:
        return super().__new__(cls, (name, udid))


class HdiskVolume:
    """One volume of one instance (see the module docstring)."""

    kind = "hdisk"

    def __init__(self, adapter: Any, conf: Any, lpar_uuid: str, lpar_id: int, connection_info: dict,
                 **_unused: Any) -> None:  # fmt: skip
        self.adapter, self.conf = adapter, conf
        self.lpar_uuid, self.lpar_id = lpar_uuid, lpar_id
        self.info = connection_info
        self.data: dict[str, Any] = connection_info.setdefault("data", {})
        self.volume_id = self.data.get("volume_id") or connection_info.get("serial") or "?"

    # -- per protocol ------------------------------------------------------------------------
    def discover(self, vios: Any) -> Found | str:
        """Make ``vios`` see the volume: its hdisk, or what the VIOS saw instead (for the error)."""
        raise NotImplementedError

    def release(self, vios: Any, name: str) -> None:
        """Let go of the volume's hdisk ``name`` on ``vios`` (nothing maps it any more)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    def vioses(self) -> list[Any]:
        return pvm_par.get_active_vioses(self.adapter, xag=XAGS)

    def attach(self) -> None:
        required = self.conf.powervm.vscsi_vios_connections_required
        vioses = self.vioses()
        with rollback_on_error(f"Attach of {self.kind} volume {self.volume_id}") as rb:
            found, missed = {}, {}
            for vios in vioses:
                seen = self.discover(vios)
                if isinstance(seen, Found):
                    found[vios.uuid] = (vios, seen)
                    rb.add(f"hdisk {seen[0]} on {vios.name}", lambda v=vios, s=seen: self._release_unused(v, *s))
                else:
                    missed[vios.name] = seen
            if len(found) < required:
                raise nova_exc.VolumeAttachFailed(volume_id=self.volume_id, reason=self._shortfall(found, missed,
                                                                                                   required))  # fmt: skip
            for vios, (name, udid) in found.values():
                rb.add(f"mapping of {name} on {vios.name}", lambda v=vios, u=udid: self._unmap(v.uuid, u))
                self._map(vios.uuid, name, udid)
        self.data["target_UDID"] = next(iter(found.values()))[1][1]
        LOG.info("Attached %s volume %s to partition %s through %s", self.kind, self.volume_id, self.lpar_uuid,
                 ", ".join(f"{v.name}:{f[0]}" for v, f in found.values()))  # fmt: skip

    def _shortfall(self, found: dict, missed: dict[str, str], required: int) -> str:
        seen = [f"{v.name} found {f[0]}" for v, f in found.values()] + [f"{n}: {why}" for n, why in missed.items()]
        return (f"{len(found)} of the {len(found) + len(missed)} active VIOS(es) see the volume, "
                f"vscsi_vios_connections_required is {required} ({'; '.join(seen) or 'no active VIOS'})")  # fmt: skip

    def detach(self) -> None:
        udid = self.data.get("target_UDID")
        for vios in self.vioses():
            name = _hdisk_by_udid(vios, udid) if udid else None
            if name is None and not udid:
                seen = self.discover(vios)
                name, udid = seen if isinstance(seen, Found) else (None, None)
            mapped = pvm_smap.find_maps(vios.scsi_mappings, client_lpar_id=self.lpar_uuid, match_func=_matches(udid,
                                                                                                              name))  # fmt: skip
            removed = self._unmap(vios.uuid, udid, name) if mapped else 0
            if name is None:
                if removed:
                    LOG.warning("Volume %s: VIOS %s has no hdisk with UDID %s any more; %d mapping(s) removed",
                                self.volume_id, vios.name, udid, removed)  # fmt: skip
                continue
            self._release_unused(vios, name, udid)
        LOG.info("Detached %s volume %s from partition %s", self.kind, self.volume_id, self.lpar_uuid)

    def extend(self) -> None:
        for vios in self.vioses():
            if _hdisk_by_udid(vios, self.data.get("target_UDID")):
                self.discover(vios)

    # -- mappings ----------------------------------------------------------------------------
    def _task(self, vios_uuid: str, name: str) -> pvm_tx.WrapperTask:
        getter = pvm_vios.VIOS.getter(self.adapter, entry_uuid=vios_uuid, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
        return pvm_tx.WrapperTask(f"{name}-{self.volume_id}-{vios_uuid}", getter)

    def _map(self, vios_uuid: str, name: str, udid: str) -> None:
        task = self._task(vios_uuid, "map")

        def _add(vios_w: Any) -> bool:
            pv = pvm_stor.PV.bld(self.adapter, name, udid=udid)
            return pvm_smap.add_map(vios_w, pvm_smap.build_vscsi_mapping(None, vios_w, self.lpar_uuid, pv)) is not None

        task.add_functor_subtask(_add)
        task.execute()

    def _unmap(self, vios_uuid: str, udid: str | None, name: str | None = None) -> int:
        task, removed = self._task(vios_uuid, "unmap"), []

        def _remove(vios_w: Any) -> bool:
            doomed = pvm_smap.remove_maps(vios_w, self.lpar_uuid, match_func=_matches(udid, name))
            removed.append(len(doomed))
            return bool(doomed)

        task.add_functor_subtask(_remove)
        task.execute()
        return removed[-1] if removed else 0

    def release_if_unused(self, vios: Any, name: str, udid: str) -> bool:
        """Let go of hdisk ``name`` on ``vios`` unless a mapping (of any partition) still uses it; True if it went."""
        return self._release_unused(vios, name, udid)

    def _release_unused(self, vios: Any, name: str, udid: str) -> bool:
        fresh = pvm_vios.VIOS.get(self.adapter, uuid=vios.uuid, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
        users = [
            m for m in fresh.scsi_mappings if m.backing_storage is not None and _matches(udid, name)(m.backing_storage)
        ]
        if users:
            LOG.info("Volume %s: hdisk %s on %s is still mapped %d time(s); kept", self.volume_id, name, vios.name,
                     len(users))  # fmt: skip
            return False
        try:
            self.release(vios, name)
        except pvm_exc.JobRequestFailed as err:
            LOG.warning("Volume %s: could not remove hdisk %s from %s: %s", self.volume_id, name, vios.name, err)
            raise
        return True


def _matches(udid: str | None, name: str | None) -> Any:
    def match(stg: Any) -> bool:
        if not isinstance(stg, pvm_stor.PV):
            return False
        return bool((udid and stg.udid == udid) or (name and not udid and stg.name == name))

    return match


def _hdisk_by_udid(vios: Any, udid: str | None) -> str | None:
    return next((pv.name for pv in vios.phys_vols if udid and pv.udid == udid), None)
