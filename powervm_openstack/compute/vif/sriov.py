"""``pvm_sriov``: an SR-IOV vNIC whose backing devices sit on the physical ports neutron chose.

``vif_details`` (from the pvm_sriov mechanism driver) carry the VLAN, the physical port location
codes, the redundancy (backing devices) and capacity / max capacity (fractions of a port).
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import sriov as pvm_sriov
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import logical_partition as pvm_lpar

from powervm_openstack.compute.vif.base import VifDriver, find_vnic
from powervm_openstack.network import constants as const
from powervm_openstack.pvm.vif_event import pvm_mac

LOG = logging.getLogger(__name__)


def _float(details: dict, key: str) -> float | None:
    value = details.get(key)
    return None if value in (None, "") else float(value)


class SriovVifDriver(VifDriver):
    vif_type = const.VIF_TYPE_SRIOV

    def plug(self, lpar_uuid: str, vif: Any) -> str:
        details = vif.get("details") or {}
        ports = list(details.get(const.DETAIL_PHYSICAL_PORTS) or [])
        if not ports:
            raise nova_exc.VirtualInterfacePlugException(
                f"Port {vif['id']} has no vif_details {const.DETAIL_PHYSICAL_PORTS}; the pvm_sriov mechanism driver "
                "sets them when it binds the port."
            )
        existing = find_vnic(self.adapter, lpar_uuid, vif["address"])
        if existing is not None:
            return existing.href
        vlan = int(details.get("vlan") or 0)
        vnic = pvm_card.VNIC.bld(self.adapter, pvid=vlan or None, mac_addr=pvm_mac(vif["address"]))
        try:
            pvm_sriov.set_vnic_back_devs(vnic, ports, redundancy=int(details.get(const.DETAIL_REDUNDANCY) or 1),
                                         capacity=_float(details, const.DETAIL_CAPACITY),
                                         max_capacity=_float(details, const.DETAIL_MAXCAPACITY),
                                         check_port_status=True)  # fmt: skip
            vnic = vnic.create(parent_type=pvm_lpar.LPAR, parent_uuid=lpar_uuid)
        except (pvm_exc.Error, ValueError) as err:
            raise nova_exc.VirtualInterfaceCreateException(
                f"Could not create the vNIC for port {vif['id']} on partition {lpar_uuid} over ports {ports}: {err}"
            ) from err
        LOG.info("Plugged port %s (%s) on partition %s as a vNIC on %s, VLAN %s", vif["id"], vif["address"],
                 lpar_uuid, ", ".join(ports), vlan or "untagged")  # fmt: skip
        return vnic.href

    def unplug(self, lpar_uuid: str, vif: Any) -> bool:
        vnic = find_vnic(self.adapter, lpar_uuid, vif["address"])
        if vnic is None:
            return False
        vnic.delete()
        LOG.info("Unplugged vNIC of port %s (%s) from partition %s", vif["id"], vif["address"], lpar_uuid)
        return True
