"""``pvm_sriov``: an SR-IOV vNIC whose backing devices sit on the physical ports neutron chose.

``vif_details`` (from the pvm_sriov mechanism driver) carry the VLAN, the physical port location
codes, the redundancy (backing devices) and capacity / max capacity (fractions of a port).

The binding counts a labelled port whose link is down (PowerVM accepts a VF there; the vNIC fails
over to it once the link is up). The vNIC is built on the ports whose link is up first and takes
link-down ones only to reach the redundancy the binding asked for (with a warning): refusing them,
as pypowervm's ``check_port_status`` does, would fail every boot neutron bound on such ports.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import sriov as pvm_sriov
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms

from powervm_openstack.compute import evacuate
from powervm_openstack.compute.vif.base import VifDriver, find_vnic
from powervm_openstack.network import constants as const
from powervm_openstack.pvm.vif_event import pvm_mac

LOG = logging.getLogger(__name__)


def _float(details: dict, key: str) -> float | None:
    value = details.get(key)
    return None if value in (None, "") else float(value)


def links_up_first(system: Any, ports: list[str], redundancy: int, port_id: str) -> list[str]:
    """``ports`` to build the vNIC on: all whose link is up, or as many link-down ones as the redundancy lacks."""
    link = {p.loc_code: bool(p.link_status) for a in system.asio_config.sriov_adapters for p in a.phys_ports}
    up = [p for p in ports if link.get(p, True)]
    if len(up) >= redundancy:
        return up
    down = [p for p in ports if not link.get(p, True)][: redundancy - len(up)]
    if down:
        LOG.warning("Port %s: the vNIC needs %d backing devices and %d of its ports have their link up; it also "
                    "uses %s, whose link is down (it fails over to them once the link is up)",
                    port_id, redundancy, len(up), ", ".join(down))  # fmt: skip
    return up + down


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
        vnic = pvm_card.VNIC.bld(self.adapter, pvid=vlan or None, mac_addr=pvm_mac(vif["address"]),
                                 slot_num=evacuate.vnic_slot(vif["address"]))  # fmt: skip
        redundancy = int(details.get(const.DETAIL_REDUNDANCY) or 1)
        try:
            system = pvm_ms.System.get(self.adapter)[0]
            ports = links_up_first(system, ports, redundancy, vif["id"])
            pvm_sriov.set_vnic_back_devs(vnic, ports, sys_w=system, redundancy=redundancy,
                                         capacity=_float(details, const.DETAIL_CAPACITY),
                                         max_capacity=_float(details, const.DETAIL_MAXCAPACITY))  # fmt: skip
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
