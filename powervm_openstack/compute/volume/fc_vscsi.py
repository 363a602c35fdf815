"""``fibre_channel`` volumes over vSCSI (``fc_attach_strategy = vscsi``, the default).

Each active VIOS discovers the LUN through pypowervm's ``hdisk.discover_hdisk`` (the REST API's
``LUARecovery`` job) from the ITLs of its own physical FC ports to the volume's targets
(``paths.fc_paths``: Cinder's ``initiator_target_map`` when it gives one). The hdisk is removed
with ``RemoveDevice`` when the last mapping of it goes.
"""

from __future__ import annotations

from typing import Any

from pypowervm.tasks import hdisk as pvm_hdisk

from powervm_openstack.compute.volume import paths
from powervm_openstack.compute.volume.hdisk import Found, HdiskVolume

_STATUS = {
    pvm_hdisk.LUAStatus.INCORRECT_ITL: "device not found on any ITL",
    pvm_hdisk.LUAStatus.ITL_NOT_RELIABLE: "ITLs not reliable",
    pvm_hdisk.LUAStatus.FOUND_DEVICE_UNKNOWN_UDID: "device found with an unknown UDID",
    pvm_hdisk.LUAStatus.STORAGE_NOT_INTEREST: "storage not of interest",
    pvm_hdisk.LUAStatus.LUA_NOT_INTEREST: "LUA not of interest",
}


class FcVscsiVolume(HdiskVolume):
    kind = "fibre_channel (vSCSI)"

    def discover(self, vios: Any) -> Found | str:
        ports = [p.wwpn for p in vios.pfc_ports]
        if not ports:
            return "no physical FC ports"
        itls = [pvm_hdisk.ITL(i, t, paths.fc_lun(self.data)) for i, t in paths.fc_paths(ports, self.data)]
        if not itls:
            return f"none of its ports ({', '.join(ports)}) is in the initiator_target_map"
        status, name, udid = pvm_hdisk.discover_hdisk(self.adapter, vios.uuid, itls)
        if pvm_hdisk.good_discovery(status, name):
            return Found(name, udid)
        return f"LUA recovery status {status} ({_STATUS.get(status, 'no device')}) on {len(itls)} ITL(s)"

    def release(self, vios: Any, name: str) -> None:
        pvm_hdisk.remove_hdisk(self.adapter, self.conf.host, name, vios.uuid)
