"""``fibre_channel`` volumes over NPIV (``[powervm] fc_attach_strategy = npiv``).

The partition gets its own SAN identity: per fabric (``fabrics``) ``ports_per_fabric`` virtual FC
client adapters, each with a WWPN pair the REST API generates (``GetNextWWPNs``), mapped on the
VIOSes to physical ports listed in ``fabric_<X>_port_wwpns`` (pypowervm ``derive_npiv_map``
spreads them over the VIOSes). The LUN is then seen by the partition, not by a VIOS: attach and
detach only manage the vFC mappings, which all NPIV volumes of a partition share.
State kept with the instance (``system_metadata``, one key per fabric, as the retired driver's fix
for oversized values did): ``npiv_wwpns_<X>`` the fabric's pairs, ``npiv_volumes`` the attached
volume ids. The connector gives Cinder **both** WWPNs of each pair, so that zoning also covers the
WWPN a partition uses on the target host of a live migration (IBM HSCLA319 otherwise).
The mappings go when the last NPIV volume is detached; the WWPNs stay with the instance.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

from nova import exception as nova_exc
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import vfc_mapper as pvm_vfc
from pypowervm.utils import transaction as pvm_tx
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute.volume import options, paths

LOG = logging.getLogger(__name__)
FMAP = [pvm_vios.VIOS.xags.FC_MAPPING]
_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)  # one WWPN generation per instance


def wwpn_key(fabric: str) -> str:
    return f"npiv_wwpns_{fabric}"


def instance_wwpns(adapter: Any, conf: Any, host_uuid: str, instance: Any) -> dict[str, list[str]]:
    """``{fabric: [wwpn, ...]}`` of the instance, generated and saved with it on first use."""
    options.register(conf)
    meta = instance.system_metadata
    with _LOCKS[instance.uuid]:
        missing = [f for f in options.fabrics(conf) if not meta.get(wwpn_key(f))]
        for fabric in missing:
            wwpns = pvm_vfc.build_wwpn_pair(adapter, host_uuid, pair_count=conf.powervm.ports_per_fabric)
            meta[wwpn_key(fabric)] = ",".join(w.lower() for w in wwpns)
        if missing:
            instance.save()
            LOG.info("Instance %s: virtual WWPNs for fabric(s) %s generated", instance.uuid, ", ".join(missing))
    return {f: meta[wwpn_key(f)].split(",") for f in options.fabrics(conf)}


class NpivVolume:
    kind = "fibre_channel (NPIV)"

    def __init__(self, adapter: Any, conf: Any, lpar_uuid: str, lpar_id: int, connection_info: dict,
                 instance: Any = None, host_uuid: str = "") -> None:  # fmt: skip
        if instance is None or not hasattr(instance, "system_metadata"):
            raise nova_exc.VolumeDriverNotFound(driver_type="fibre_channel (npiv) without a nova instance")
        self.adapter, self.conf, self.instance, self.host_uuid = adapter, conf, instance, host_uuid
        self.lpar_uuid, self.lpar_id = lpar_uuid, lpar_id
        self.data = connection_info.setdefault("data", {})
        self.volume_id = self.data.get("volume_id") or connection_info.get("serial") or "?"

    def _volumes(self) -> list[str]:
        return [v for v in (self.instance.system_metadata.get("npiv_volumes") or "").split(",") if v]

    def _set_volumes(self, volumes: list[str]) -> None:
        self.instance.system_metadata["npiv_volumes"] = ",".join(volumes)
        self.instance.save()

    def attach(self) -> None:
        vioses = pvm_par.get_active_vioses(self.adapter, xag=FMAP)
        for fabric, wwpns in instance_wwpns(self.adapter, self.conf, self.host_uuid, self.instance).items():
            ports = self.conf.powervm[f"fabric_{fabric}_port_wwpns"]
            if not ports:
                raise nova_exc.VolumeAttachFailed(volume_id=self.volume_id, reason=(
                    f"[powervm] fabric_{fabric}_port_wwpns is empty; list the physical FC port WWPNs of fabric "
                    f"{fabric}"))  # fmt: skip
            paths.npiv_pairs(wwpns)  # refuse a stored list that is not whole pairs
            for port_map in pvm_vfc.derive_npiv_map(vioses, ports, wwpns):
                vios, _ = pvm_vfc.find_vios_for_wwpn(vioses, port_map[0])
                if vios is None:
                    raise nova_exc.VolumeAttachFailed(volume_id=self.volume_id, reason=(
                        f"fabric {fabric}: physical port {port_map[0]} is on no active VIOS"))  # fmt: skip
                self._map(vios.uuid, port_map)
        with _LOCKS[self.instance.uuid]:
            self._set_volumes(sorted({*self._volumes(), self.volume_id}))
        self.data["npiv_fabrics"] = options.fabrics(self.conf)
        LOG.info("Attached NPIV volume %s to partition %s", self.volume_id, self.lpar_uuid)

    def _map(self, vios_uuid: str, port_map: tuple[str, str]) -> None:
        getter = pvm_vios.VIOS.getter(self.adapter, entry_uuid=vios_uuid, xag=FMAP)
        task = pvm_tx.WrapperTask(f"vfc-map-{self.lpar_uuid}-{vios_uuid}", getter)
        task.add_functor_subtask(
            lambda vios_w: pvm_vfc.add_map(vios_w, self.host_uuid, self.lpar_uuid, port_map) is not None
        )
        task.execute()

    def detach(self) -> None:
        with _LOCKS[self.instance.uuid]:
            left = [v for v in self._volumes() if v != self.volume_id]
            if not left:
                remove_all(self.adapter, self.lpar_id)
            self._set_volumes(left)
        LOG.info("Detached NPIV volume %s from partition %s (%d NPIV volume(s) left)", self.volume_id,
                 self.lpar_uuid, len(left))  # fmt: skip

    def extend(self) -> None:
        """Nothing on the host: the partition itself sees the LUN and rescans it."""


def remove_all(adapter: Any, lpar_id: int) -> int:
    """Remove every vFC mapping of the client partition ``lpar_id`` from every VIOS."""
    removed = 0
    for vios in pvm_vios.VIOS.get(adapter, xag=FMAP):
        if not pvm_vfc.find_maps(vios.vfc_mappings, lpar_id):
            continue
        task = pvm_tx.WrapperTask(f"vfc-unmap-{lpar_id}-{vios.uuid}", pvm_vios.VIOS.getter(
            adapter, entry_uuid=vios.uuid, xag=FMAP))  # fmt: skip
        counts: list[int] = []

        def _remove(vios_w: Any, counts: list[int] = counts) -> bool:
            counts.append(len(pvm_vfc.remove_maps(vios_w, lpar_id)))
            return bool(counts[-1])

        task.add_functor_subtask(_remove)
        task.execute()
        removed += counts[-1] if counts else 0
    return removed
