"""``ovs``: a client adapter joined point-to-point to a trunk adapter on the NovaLink partition.

The trunk is created on ``[powervm] pvm_vswitch_for_novalink_io`` with the OVS bridge, port
external ids and MTU, so NovaLink attaches it to Open vSwitch under the name ``nic<port id>``.
Unplug removes the trunk as well as the client adapter.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import partition as pvm_par

from powervm_openstack.compute.vif.base import VifDriver, find_cna
from powervm_openstack.pvm.vif_event import pvm_mac

LOG = logging.getLogger(__name__)


def device_name(vif: Any) -> str:
    return ("nic" + vif["id"])[:14]


class OvsVifDriver(VifDriver):
    vif_type = "ovs"

    def plug(self, lpar_uuid: str, vif: Any) -> str:
        existing = find_cna(self.adapter, lpar_uuid, vif["address"])
        if existing is not None:
            return existing.href
        mgmt = pvm_par.get_mgmt_partition(self.adapter)
        bridge = (vif.get("network") or {}).get("bridge") or "br-int"
        ext_ids = f"iface-id={vif['id']},iface-status=active,attached-mac={vif['address']}"
        mtu = (vif.get("network") or {}).get_meta("mtu") if hasattr(vif.get("network"), "get_meta") else None
        try:
            cna, _ = pvm_cna.crt_p2p_cna(self.adapter, None, lpar_uuid, [mgmt.uuid],
                                         self.conf.powervm.pvm_vswitch_for_novalink_io, crt_vswitch=True,
                                         mac_addr=pvm_mac(vif["address"]), dev_name=device_name(vif),
                                         ovs_bridge=bridge, ovs_ext_ids=ext_ids, configured_mtu=mtu)  # fmt: skip
        except pvm_exc.Error as err:
            raise nova_exc.VirtualInterfaceCreateException(
                f"Could not create the OVS adapter pair for port {vif['id']} on partition {lpar_uuid}: {err}"
            ) from err
        LOG.info("Plugged port %s (%s) on partition %s through trunk %s on bridge %s", vif["id"], vif["address"],
                 lpar_uuid, device_name(vif), bridge)  # fmt: skip
        return cna.href

    def unplug(self, lpar_uuid: str, vif: Any) -> bool:
        cna = find_cna(self.adapter, lpar_uuid, vif["address"])
        if cna is None:
            return False
        for trunk in pvm_cna.find_trunks(self.adapter, cna):
            trunk.delete()
        cna.delete()
        LOG.info("Unplugged port %s (%s) from partition %s and its NovaLink trunk", vif["id"], vif["address"],
                 lpar_uuid)  # fmt: skip
        return True
