"""``pvm_sea``: a client adapter on the VLAN neutron chose, bridged by the VIOS Shared Ethernet Adapter.

After creating the adapter the driver posts the plug event (``pvm.vif_event``); the SEA agent
reacts by putting the VLAN on the bridge and reporting the port up, which makes neutron send
``network-vif-plugged``. Unplug posts the matching unplug event.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna

from powervm_openstack.compute import committed, evacuate
from powervm_openstack.compute.vif.base import VifDriver, find_cna, find_cna_or_none
from powervm_openstack.network import constants
from powervm_openstack.pvm import vif_event
from powervm_openstack.pvm.vif_event import pvm_mac

LOG = logging.getLogger(__name__)


def vlan_of(vif: Any) -> int:
    """The VLAN from ``vif_details['vlan']`` (set by the pvm_sea mechanism driver)."""
    raw = (vif.get("details") or {}).get("vlan")
    try:
        vlan = int(raw)
    except (TypeError, ValueError):
        raise nova_exc.VirtualInterfacePlugException(
            f"Port {vif['id']} has vif_details vlan {raw!r}; pvm_sea needs a VLAN 1-4094 from the pvm_sea mechanism driver."
        ) from None
    if not 1 <= vlan <= 4094:
        raise nova_exc.VirtualInterfacePlugException(f"Port {vif['id']} has VLAN {vlan}, outside 1-4094.")
    return vlan


class SeaVifDriver(VifDriver):
    vif_type = constants.VIF_TYPE_SEA

    def plug(self, lpar_uuid: str, vif: Any) -> str:
        vlan = vlan_of(vif)
        existing = find_cna(self.adapter, lpar_uuid, vif["address"])
        if existing is not None:
            LOG.info("Port %s is already plugged on partition %s (%s)", vif["id"], lpar_uuid, existing.href)
            return existing.href
        try:
            cna = committed.apply(
                f"Create the adapter of port {vif['id']} on partition {lpar_uuid}",
                lambda: pvm_cna.crt_cna(
                    self.adapter,
                    None,
                    lpar_uuid,
                    vlan,
                    mac_addr=pvm_mac(vif["address"]),
                    slot_num=evacuate.cna_slot(vif["address"]),
                ),
                lambda: find_cna_or_none(self.adapter, lpar_uuid, vif["address"]),
            )
        except pvm_exc.Error as err:
            # a create failure aborts the build (no reschedule) with PowerVM's reason as the server's fault
            raise nova_exc.VirtualInterfaceCreateException(
                f"Could not create the adapter for port {vif['id']} (VLAN {vlan}) on partition {lpar_uuid}: {err}"
            ) from err
        vif_event.post(self.adapter, cna.href, "plug", vif["address"], self.vif_type)
        LOG.info("Plugged port %s (%s) on partition %s: VLAN %d, slot %s", vif["id"], vif["address"], lpar_uuid,
                 vlan, cna.slot)  # fmt: skip
        return cna.href

    def unplug(self, lpar_uuid: str, vif: Any) -> bool:
        cna = find_cna(self.adapter, lpar_uuid, vif["address"])
        if cna is None:
            return False
        href = cna.href
        committed.apply(f"Delete the adapter of port {vif['id']} on partition {lpar_uuid}", cna.delete,
                        lambda: True if find_cna(self.adapter, lpar_uuid, vif["address"]) is None else None)  # fmt: skip
        vif_event.post(self.adapter, href, "unplug", vif["address"], self.vif_type)
        LOG.info("Unplugged port %s (%s) from partition %s", vif["id"], vif["address"], lpar_uuid)
        return True
