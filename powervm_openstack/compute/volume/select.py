"""Choose the volume adapter for a connection, and build the host's volume connector."""

from __future__ import annotations

import logging
import threading
from typing import Any

from nova import exception as nova_exc
from pypowervm.tasks import hdisk as pvm_hdisk
from pypowervm.tasks import partition as pvm_par

from powervm_openstack.compute.volume.fc_vscsi import FcVscsiVolume
from powervm_openstack.compute.volume.filestore import NovaLinkVolume, RbdVolume
from powervm_openstack.compute.volume.hdisk import HdiskVolume
from powervm_openstack.compute.volume.iscsi import IscsiVolume
from powervm_openstack.compute.volume.npiv import NpivVolume, instance_wwpns

LOG = logging.getLogger(__name__)

SUPPORTED: dict[tuple[str, str | None], type] = {
    ("fibre_channel", "vscsi"): FcVscsiVolume, ("fibre_channel", "npiv"): NpivVolume,
    ("iscsi", None): IscsiVolume, ("iser", None): IscsiVolume,
    ("local", None): NovaLinkVolume, ("nfs", None): NovaLinkVolume, ("gpfs", None): NovaLinkVolume,
    ("rbd", None): RbdVolume,
}  # fmt: skip


def select(driver_volume_type: str | None, fc_attach_strategy: str) -> type[HdiskVolume | NpivVolume | NovaLinkVolume]:
    """The adapter class for a connection's type (pure).

    :raises nova.exception.VolumeDriverNotFound: an unsupported type or FC strategy (named, with
        the supported ones in the log).
    """
    kind = (driver_volume_type or "").lower()
    strategy = fc_attach_strategy.lower() if kind == "fibre_channel" else None
    found = SUPPORTED.get((kind, strategy))
    if found is None:
        supported = ", ".join(sorted(f"{k}" + (f" ({s})" if s else "") for k, s in SUPPORTED))
        what = f"fibre_channel with fc_attach_strategy = {strategy}" if strategy else repr(driver_volume_type)
        LOG.error("Volume type %s is not supported by the PowerVM driver; supported: %s", what, supported)
        raise nova_exc.VolumeDriverNotFound(driver_type=what)
    return found


def adapter_for(adapter: Any, conf: Any, lpar: Any, connection_info: dict, instance: Any = None,
                host_uuid: str = "") -> HdiskVolume | NpivVolume | NovaLinkVolume:  # fmt: skip
    cls = select(connection_info.get("driver_volume_type"), conf.powervm.fc_attach_strategy)
    return cls(adapter, conf, lpar.uuid, lpar.id, connection_info, instance=instance, host_uuid=host_uuid)


class Connector:
    """``get_volume_connector``: the host's FC port WWPNs and iSCSI initiator name (cached per VIOS)."""

    def __init__(self, adapter: Any, conf: Any, host_uuid: str = "") -> None:
        self.adapter, self.conf, self.host_uuid = adapter, conf, host_uuid
        self._initiators: dict[str, str] = {}
        self._lock = threading.Lock()

    def _initiator(self, vios_uuid: str) -> str | None:
        with self._lock:
            if vios_uuid not in self._initiators:
                try:
                    self._initiators[vios_uuid] = pvm_hdisk.discover_iscsi_initiator(self.adapter, vios_uuid)
                except Exception as err:  # a VIOS without iSCSI support must not break FC attaches
                    LOG.warning("VIOS %s reports no iSCSI initiator name: %s", vios_uuid, err)
                    return None
            return self._initiators[vios_uuid]

    def get(self, host: str, instance: Any = None) -> dict[str, Any]:
        """With NPIV the instance's virtual WWPNs (both of each pair), else the VIOSes' physical ones."""
        vioses = pvm_par.get_active_vioses(self.adapter)
        if self.conf.powervm.fc_attach_strategy.lower() == "npiv" and hasattr(instance, "system_metadata"):
            fabric_wwpns = instance_wwpns(self.adapter, self.conf, self.host_uuid, instance)
            wwpns = [w for f in fabric_wwpns.values() for w in f]
        else:
            wwpns = sorted({p.wwpn.lower() for v in vioses for p in v.pfc_ports})
        connector: dict[str, Any] = {"host": host, "ip": self.conf.my_block_storage_ip, "platform": "ppc64", "os_type": "linux",
                                     "multipath": self.conf.powervm.volume_use_multipath}  # fmt: skip
        if wwpns:
            connector["wwpns"] = wwpns
        initiator = next((i for i in (self._initiator(v.uuid) for v in vioses) if i), None)
        if initiator:
            connector["initiator"] = initiator
        return connector
