"""Cinder volumes in a live migration: which can move, the destination's hdisks, the source's leftovers.

PowerVM moves a partition's vSCSI and virtual FC mappings with it, but a VIOS of the destination
must already see each vSCSI disk (IBM: the hdisk discovered, reserve_policy no_reserve), and its
FC ports must serve the client adapters' second WWPNs. nova's compute manager drives the rest
(nova 34: ``pre_live_migration`` makes new Cinder attachments for the destination and passes their
connection info in ``block_device_info``; after the move the source gets its old ones in
``post_live_migration``; on rollback the destination gets ``remove_volume_connection`` calls):
- ``check_movable`` (source): ``fibre_channel`` (vSCSI or NPIV), ``iscsi`` and ``iser`` volumes can
  move. ``local``/``nfs``/``gpfs`` files and ``rbd`` images are refused: the NovaLink partition
  itself serves them (``filestore``), and partition mobility moves only VIOS-served storage
  (nova-powervm only checked that the file existed on the destination, which PowerVM then refused);
- ``prepare`` (destination): every hdisk volume is discovered on each active VIOS, as an attach
  does (``hdisk.HdiskVolume.discover``: LUARecovery, iSCSI login). The connection info nova saves
  for the destination gains ``target_UDID`` and ``pvm_lpm_vioses`` (the VIOSes that see it); an NPIV
  volume's gains ``pvm_lpm_vfc`` (per fabric, one ``vios-name/vios-id//fc-port`` per WWPN pair,
  pypowervm ``derive_base_npiv_map`` over the fabric's ports here). A volume no VIOS sees fails the
  call, naming it and what each VIOS saw, after releasing what this call discovered;
- ``mappings`` (source, before the Migrate job): reads those from the BDMs nova saved and builds
  the job's ``VirtualSCSIMappings`` (``slot/vios-name/``, the source VIOS's namesake first) and
  ``VirtualFCMappings`` (``slot/vios-name/vios-id//fc-port``) for the partition's client slots;
- ``release_source`` (source, ``post_live_migration``): removes this host's hdisks of each volume
  (``RemoveDevice``; iSCSI ``ISCSIRemove``, which logs out with the target's last LUN) unless
  something here still maps them, and any vFC mapping left with the instance's WWPNs;
- ``release_here`` (destination rollback, and ``detach_volume`` for a partition not on this host):
  removes the hdisks of a volume that nothing here maps.
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

from nova import exception as nova_exc
from nova import objects
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import vfc_mapper as pvm_vfc
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import vm
from powervm_openstack.compute.volume import flows, options, select
from powervm_openstack.compute.volume.hdisk import Found, HdiskVolume
from powervm_openstack.compute.volume.npiv import NpivVolume, instance_wwpns

LOG = logging.getLogger(__name__)
MOVABLE = ("fibre_channel", "iscsi", "iser")
XAGS = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.STORAGE, pvm_vios.VIOS.xags.FC_MAPPING]


def _infos(block_device_info: Any) -> list[dict]:
    return [b["connection_info"] for b in flows.volumes(block_device_info) if b.get("connection_info")]


def _volume(driver: Any, conf: Any, instance: Any, info: dict) -> Any:
    lpar = SimpleNamespace(uuid=vm.pvm_uuid_of(instance), id=0)  # the partition may not be on this host
    return select.adapter_for(driver.adapter, conf, lpar, info, instance, driver.host_uuid)


def boots_from_volume(block_device_info: Any) -> bool:
    return flows.boots_from_volume(block_device_info)


def has_hdisks(conf: Any, block_device_info: Any) -> bool:
    """Whether a volume reaches the partition through VIOS hdisks (FC vSCSI, iSCSI): validated after discovery."""
    strategy = conf.powervm.fc_attach_strategy.lower()
    kinds = {(i.get("driver_volume_type") or "").lower() for i in _infos(block_device_info)}
    return bool(kinds & {"iscsi", "iser"}) or ("fibre_channel" in kinds and strategy == "vscsi")


def check_movable(instance: Any, block_device_info: Any) -> None:
    """Refuse volumes partition mobility cannot move (see the module docstring)."""
    for info in _infos(block_device_info):
        kind = (info.get("driver_volume_type") or "?").lower()
        if kind not in MOVABLE:
            vol = info.get("data", {}).get("volume_id") or info.get("serial") or "?"
            raise nova_exc.MigrationPreCheckError(
                reason=f"Instance {instance.uuid} has {kind} volume {vol}, which the NovaLink partition serves; "
                f"PowerVM live migration moves only VIOS-served volumes ({', '.join(MOVABLE)}); detach it first."
            )


def prepare(driver: Any, conf: Any, instance: Any, block_device_info: Any) -> list[tuple[str, dict]]:
    """Discover each volume here and note what the source needs; returns ``(vios uuid, connection info)`` found.

    :raises MigrationError: a volume no active VIOS here sees (what this call discovered is released).
    """
    found: list[tuple[str, dict]] = []
    try:
        for info in _infos(block_device_info):
            vol = _volume(driver, conf, instance, info)
            if isinstance(vol, NpivVolume):
                info["data"]["pvm_lpm_vfc"] = _vfc_plan(driver, conf, instance)
            elif isinstance(vol, HdiskVolume):
                found += _discover(vol, info)
    except Exception:
        for vios_uuid, info in found:
            release_here(driver, conf, instance, info, only=vios_uuid)
        raise
    return found


def _discover(vol: HdiskVolume, info: dict) -> list[tuple[str, dict]]:
    seen, missed, names = [], {}, []
    for vios in vol.vioses():
        got = vol.discover(vios)
        if isinstance(got, Found):
            seen.append((vios.uuid, info))
            names.append(vios.name)
            info["data"]["target_UDID"] = got[1]
            LOG.info("Volume %s: %s sees it as %s for the incoming partition %s", vol.volume_id, vios.name, got[0],
                     vol.lpar_uuid)  # fmt: skip
        else:
            missed[vios.name] = got
    if not seen:
        why = "; ".join(f"{n}: {w}" for n, w in missed.items()) or "no active VIOS"
        raise nova_exc.MigrationError(reason=f"Volume {vol.volume_id} ({vol.kind}) is seen by no VIOS of this "
                                             f"host: {why}")  # fmt: skip
    info["data"]["pvm_lpm_vioses"] = names
    return seen


def _vfc_plan(driver: Any, conf: Any, instance: Any) -> dict[str, list[str]]:
    """Per fabric, the VIOS and physical port here for each of the instance's WWPN pairs."""
    vioses = pvm_par.get_active_vioses(driver.adapter, xag=XAGS)
    plan = {}
    for fabric, wwpns in instance_wwpns(driver.adapter, conf, driver.host_uuid, instance).items():
        ports = conf.powervm[f"fabric_{fabric}_port_wwpns"]
        picks = []
        for port_wwpn, _ in pvm_vfc.derive_base_npiv_map(vioses, ports, len(wwpns) // 2):
            vios, port = pvm_vfc.find_vios_for_wwpn(vioses, port_wwpn)
            if vios is None:
                raise nova_exc.MigrationError(reason=f"Fabric {fabric}: physical port {port_wwpn} is on no active VIOS "
                                                     "of this host")  # fmt: skip
            picks.append(f"{vios.name}/{vios.id}//{port.name}")
        plan[fabric] = picks
    return plan


def job_mappings(driver: Any, context: Any, instance: Any, lpar: Any) -> dict[str, list[str]]:
    """``migrate_lpar``'s ``virtual_scsi_mappings``/``virtual_fc_mappings`` (only those that are not empty)."""
    scsi, vfc = mappings(driver, context, instance, lpar)
    found = {k: v for k, v in (("virtual_scsi_mappings", scsi), ("virtual_fc_mappings", vfc)) if v}
    if found:
        LOG.info("Instance %s: Migrate job mappings %s", instance.uuid, found)
    return found


def mappings(driver: Any, context: Any, instance: Any, lpar: Any) -> tuple[list[str], list[str]]:
    """``(VirtualSCSIMappings, VirtualFCMappings)`` for the Migrate job from what the destination noted."""
    infos = [json.loads(b.connection_info) for b in objects.BlockDeviceMappingList.get_by_instance_uuid(
        context, instance.uuid) if b.is_volume and b.connection_info]  # fmt: skip
    vioses = pvm_vios.VIOS.get(driver.adapter, xag=XAGS)
    plan = next((i["data"]["pvm_lpm_vfc"] for i in infos if i.get("data", {}).get("pvm_lpm_vfc")), None)
    return _scsi_mappings(vioses, lpar, infos), _vfc_mappings(instance, vioses, plan) if plan else []


def _scsi_mappings(vioses: list[Any], lpar: Any, infos: list[dict]) -> list[str]:
    """``slot/vios-name/`` for each client adapter that carries only volume hdisks the destination sees."""
    noted = {i["data"]["target_UDID"]: set(i["data"]["pvm_lpm_vioses"]) for i in infos
             if i.get("data", {}).get("target_UDID") and i["data"].get("pvm_lpm_vioses")}  # fmt: skip
    by_slot: dict[int, tuple[str, list[set[str]]]] = {}
    for vios in vioses:
        for m in vios.scsi_mappings:
            href = (m.client_lpar_href or "").upper()
            if m.client_adapter is None or lpar.uuid.upper() not in href:
                continue
            entry = by_slot.setdefault(m.client_adapter.lpar_slot_num, (vios.name, []))
            entry[1].append(noted.get(getattr(m.backing_storage, "udid", None) or "", set()))
    found, used = [], set()
    for slot, (src_vios, dests) in sorted(by_slot.items()):
        if not all(dests):
            continue  # the adapter carries other storage too (an SSP disk): PowerVM places it
        common = set.intersection(*dests)
        pick = src_vios if src_vios in common else next((v for v in sorted(common) if v not in used), None)
        if pick:
            used.add(pick)
            found.append(f"{slot}/{pick}/")
    return found


def _vfc_mappings(instance: Any, vioses: list[Any], plan: dict[str, list[str]]) -> list[str]:
    """``slot/vios-name/vios-id//fc-port`` for each client adapter of the instance's WWPN pairs."""
    slots = {}
    for vios in vioses:
        for m in vios.vfc_mappings:
            if m.client_adapter is not None and m.client_adapter.wwpns:
                slots[m.client_adapter.wwpns[0].lower()] = m.client_adapter.lpar_slot_num
    found = []
    meta = instance.system_metadata
    for fabric, picks in plan.items():
        wwpns = (meta.get(f"npiv_wwpns_{fabric}") or "").split(",")
        for index, pick in enumerate(picks):
            slot = slots.get(wwpns[2 * index].lower()) if len(wwpns) > 2 * index else None
            if slot is not None:
                found.append(f"{slot}/{pick}")
    return found


def release_source(driver: Any, conf: Any, instance: Any, block_device_info: Any) -> None:
    """After the move: drop this host's hdisks of the instance's volumes and vFC mappings left with its WWPNs."""
    npiv = False
    for info in _infos(block_device_info):
        vol = _volume(driver, conf, instance, info)
        if isinstance(vol, HdiskVolume):
            release_here(driver, conf, instance, info)
        npiv = npiv or isinstance(vol, NpivVolume)
    if npiv:
        _drop_vfc_leftovers(driver, conf, instance)


def _drop_vfc_leftovers(driver: Any, conf: Any, instance: Any) -> None:
    options.register(conf)
    mine = {w.lower() for f in options.fabrics(conf) for w in (instance.system_metadata.get(f"npiv_wwpns_{f}") or
                                                               "").split(",") if w}  # fmt: skip
    for vios in pvm_vios.VIOS.get(driver.adapter, xag=[pvm_vios.VIOS.xags.FC_MAPPING]):
        left = [m for m in vios.vfc_mappings if m.client_adapter is not None
                and {w.lower() for w in m.client_adapter.wwpns} & mine]  # fmt: skip
        if left:
            for m in left:
                vios.vfc_mappings.remove(m)
            vios.update()
            LOG.info("Instance %s: %d virtual FC mapping(s) left on %s removed", instance.uuid, len(left), vios.name)


def release_here(driver: Any, conf: Any, instance: Any, info: dict, only: str | None = None) -> None:
    """Remove the volume's hdisks on this host's VIOSes (or VIOS ``only``) that nothing here maps."""
    vol = _volume(driver, conf, instance, info)
    udid = info.get("data", {}).get("target_UDID")
    if not isinstance(vol, HdiskVolume) or not udid:
        return
    for vios in vol.vioses():
        if only and vios.uuid != only:
            continue
        name = next((pv.name for pv in vios.phys_vols if pv.udid == udid), None)
        if name is not None and vol.release_if_unused(vios, name, udid):
            LOG.info("Volume %s: hdisk %s on %s released (instance %s not served from it here)", vol.volume_id,
                     name, vios.name, instance.uuid)  # fmt: skip
