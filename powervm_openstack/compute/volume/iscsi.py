"""``iscsi`` and ``iser`` volumes: each active VIOS logs in and maps the hdisk through vSCSI.

Login is pypowervm's ``hdisk.discover_iscsi`` (the ``ISCSIDiscovery`` job) with CHAP and
discovery CHAP from the connection data, over every portal with ``volume_use_multipath``; the
detach of the last mapping runs ``ISCSIRemove``, which logs the session out when no other LUN of
the target is in use on that VIOS.
"""

from __future__ import annotations

from typing import Any

from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import hdisk as pvm_hdisk

from powervm_openstack.compute.volume import paths
from powervm_openstack.compute.volume.hdisk import Found, HdiskVolume


class IscsiVolume(HdiskVolume):
    kind = "iscsi"

    def _targets(self) -> list[tuple[str, str, int | None]]:
        return paths.iscsi_targets(self.data, self.conf.powervm.volume_use_multipath)

    def _login_args(self) -> dict[str, Any]:
        targets = self._targets()
        multipath = len(targets) > 1
        portals = [t[0] for t in targets] if multipath else targets[0][0]
        iqns = [t[1] for t in targets] if multipath else targets[0][1]
        auth, user, password = paths.chap(self.data)
        d_auth, d_user, d_password = paths.chap(self.data, "discovery_")
        iface = "iser" if self.info.get("driver_volume_type") == "iser" else self.conf.powervm.iscsi_iface
        return {"host_ip": portals, "user": user, "password": password, "iqn": iqns, "lunid": targets[0][2],
                "iface_name": iface, "auth": auth, "discovery_auth": d_auth, "discovery_username": d_user,
                "discovery_password": d_password, "multipath": multipath}  # fmt: skip

    def discover(self, vios: Any) -> Found | str:
        try:
            name, udid = pvm_hdisk.discover_iscsi(self.adapter, vios_uuid=vios.uuid, **self._login_args())
        except pvm_exc.ISCSIDiscoveryFailed as err:
            return f"iSCSI login failed ({err})"
        return Found(name, udid)

    def release(self, vios: Any, name: str) -> None:
        args = self._login_args()
        pvm_hdisk.remove_iscsi(self.adapter, args["iqn"], vios.uuid, iface_name=args["iface_name"],
                               lun=args["lunid"], portal=args["host_ip"], multipath=args["multipath"])  # fmt: skip
