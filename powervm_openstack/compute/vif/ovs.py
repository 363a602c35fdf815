"""``ovs``: a client adapter joined point-to-point to a trunk adapter on the NovaLink partition.

Both adapters sit on the private virtual switch ``[powervm] pvm_vswitch_for_novalink_io``
(``NovaLinkVEABridge``, created when missing) on a VLAN no other adapter uses there. The trunk
carries the OVS bridge, the port's external ids and the network's MTU, and is named after the
port (nova's ``devname``); NovaLink creates that Linux device and plugs it into Open vSwitch,
where the stock neutron OVS agent or ovn-controller wires it like any other hypervisor's port.

Hybrid plugging (a Linux bridge per port for the iptables firewall) cannot be done here: the
partition's traffic reaches Linux only as the trunk device, so it is refused; security groups
need the ``openvswitch`` firewall driver (or OVN). A plug of a port that is already there
re-applies the trunk's OVS attributes, which makes NovaLink re-create a device it lost in a
reboot, and re-creates a missing trunk.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import partition as pvm_par
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute import evacuate
from powervm_openstack.compute.vif.base import VifDriver, find_cna
from powervm_openstack.pvm.vif_event import pvm_mac

LOG = logging.getLogger(__name__)

NIC_NAME_LEN = 14  # nova's limit for devname (Linux allows 15; nova keeps one for prefixes)
DEFAULT_BRIDGE = "br-int"


def device_name(vif: Any) -> str:
    """The trunk's Linux device name: nova's ``devname`` (``tap`` + port id), at most 14 characters."""
    return (vif.get("devname") or ("tap" + vif["id"]))[:NIC_NAME_LEN]


def bridge_name(vif: Any) -> str:
    """The OVS bridge: ``vif_details['bridge_name']``, else the network's bridge, else ``br-int``."""
    details = vif.get("details") or {}
    network = vif.get("network") or {}
    return details.get("bridge_name") or network.get("bridge") or DEFAULT_BRIDGE


def mtu_of(vif: Any) -> int | None:
    """The network's MTU from nova's network model (``meta['mtu']``), or None."""
    network = vif.get("network") or {}
    meta = network.get("meta") or {}
    mtu = meta.get("mtu")
    return int(mtu) if mtu else None


def external_ids(vif: Any, instance_uuid: str | None) -> str:
    """The OVS Interface external ids the agents key on, in pypowervm's ``k=v,k=v`` form."""
    ids = {"iface-id": vif["id"], "iface-status": "active", "attached-mac": vif["address"]}
    if instance_uuid:
        ids["vm-uuid"] = instance_uuid
    return ",".join(f"{key}={value}" for key, value in ids.items())


def check_not_hybrid(vif: Any) -> None:
    """Refuse a port bound for hybrid plugging (iptables_hybrid firewall), naming the fix."""
    if (vif.get("details") or {}).get("ovs_hybrid_plug"):
        # The fix comes first: nova keeps 255 characters of a server's fault message.
        raise nova_exc.VirtualInterfacePlugException(
            "Set [securitygroup] firewall_driver = openvswitch in the neutron OVS agent on the NovaLink partition "
            f"(or use OVN): port {vif['id']} is bound with ovs_hybrid_plug=True (the iptables_hybrid firewall "
            "driver), and PowerVM cannot put a Linux bridge between a partition and Open vSwitch."
        )


class OvsVifDriver(VifDriver):
    vif_type = "ovs"

    @property
    def vswitch(self) -> str:
        return self.conf.powervm.pvm_vswitch_for_novalink_io

    def plug(self, lpar_uuid: str, vif: Any) -> str:
        """Create the adapter pair, or refresh the trunk of a port already plugged; the client's href."""
        check_not_hybrid(vif)
        cna = find_cna(self.adapter, lpar_uuid, vif["address"])
        try:
            if cna is None:
                return self._create(lpar_uuid, vif)
            self._refresh_trunk(lpar_uuid, cna, vif)
        except pvm_exc.Error as err:
            raise nova_exc.VirtualInterfaceCreateException(
                f"Could not plug OVS port {vif['id']} on partition {lpar_uuid} (trunk {device_name(vif)}): {err}"
            ) from err
        return cna.href

    def _create(self, lpar_uuid: str, vif: Any) -> str:
        mgmt = pvm_par.get_mgmt_partition(self.adapter)
        self._remove_trunks_named(mgmt, device_name(vif))  # left by a plug that failed half-way
        cna, trunks = pvm_cna.crt_p2p_cna(self.adapter, None, lpar_uuid, [mgmt.uuid], self.vswitch, crt_vswitch=True,
                                          mac_addr=pvm_mac(vif["address"]), dev_name=device_name(vif),
                                          slot_num=evacuate.cna_slot(vif["address"]),
                                          ovs_bridge=bridge_name(vif),
                                          ovs_ext_ids=external_ids(vif, self.instance_uuid),
                                          configured_mtu=mtu_of(vif))  # fmt: skip
        LOG.info("Plugged OVS port %s (%s) on partition %s: VLAN %s on %s, trunk %s on bridge %s, MTU %s",
                 vif["id"], vif["address"], lpar_uuid, cna.pvid, self.vswitch, device_name(vif), bridge_name(vif),
                 mtu_of(vif) or "default")  # fmt: skip
        return cna.href

    def _refresh_trunk(self, lpar_uuid: str, cna: pvm_net.CNA, vif: Any) -> None:
        trunks = pvm_cna.find_trunks(self.adapter, cna)
        if not trunks:
            mgmt = pvm_par.get_mgmt_partition(self.adapter)
            trunk = pvm_net.CNA.bld(self.adapter, cna.pvid, cna.vswitch_uri, trunk_pri=1, dev_name=device_name(vif),
                                    ovs_bridge=bridge_name(vif), ovs_ext_ids=external_ids(vif, self.instance_uuid),
                                    configured_mtu=mtu_of(vif))  # fmt: skip
            trunk.create(parent=mgmt)
            LOG.warning("Port %s on partition %s had no NovaLink trunk: re-created %s on VLAN %s", vif["id"],
                        lpar_uuid, device_name(vif), cna.pvid)  # fmt: skip
            return
        for trunk in trunks:
            # Re-applying the attributes makes NovaLink re-create the device if a reboot lost it.
            trunk.ovs_bridge = bridge_name(vif)
            trunk.ovs_ext_ids = external_ids(vif, self.instance_uuid)
            trunk.configured_mtu = mtu_of(vif)
            trunk.update()
        LOG.info("Port %s is already plugged on partition %s: refreshed trunk %s (VLAN %s) on bridge %s", vif["id"],
                 lpar_uuid, device_name(vif), cna.pvid, bridge_name(vif))  # fmt: skip

    def unplug(self, lpar_uuid: str, vif: Any) -> bool:
        """Remove the trunk(s) and the client adapter; False when the partition had no adapter for ``vif``."""
        cna = find_cna(self.adapter, lpar_uuid, vif["address"])
        if cna is None:
            self._remove_trunks_named(pvm_par.get_mgmt_partition(self.adapter), device_name(vif))
            return False
        for trunk in pvm_cna.find_trunks(self.adapter, cna):
            trunk.delete()
        cna.delete()
        LOG.info("Unplugged OVS port %s (%s) from partition %s: removed VLAN %s and trunk %s", vif["id"],
                 vif["address"], lpar_uuid, cna.pvid, device_name(vif))  # fmt: skip
        return True

    def _remove_trunks_named(self, mgmt: Any, dev_name: str) -> None:
        for trunk in pvm_net.CNA.get(self.adapter, parent=mgmt):
            if trunk.is_trunk and trunk.dev_name == dev_name:
                trunk.delete()
                LOG.info("Removed trunk %s (VLAN %s) left without its client adapter", dev_name, trunk.pvid)


def remove_orphan_trunks(adapter: Any, vswitch: str) -> list[str]:
    """Delete the trunks on ``vswitch`` that no client adapter uses (failed plugs, migrations); their names."""
    removed = []
    for trunk in pvm_cna.find_orphaned_trunks(adapter, vswitch):
        trunk.delete()
        removed.append(trunk.dev_name)
        LOG.info("Removed orphaned trunk %s (VLAN %s) on %s: no client adapter uses it", trunk.dev_name, trunk.pvid,
                 vswitch)  # fmt: skip
    return removed
