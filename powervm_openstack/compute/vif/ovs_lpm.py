"""Live partition migration of ``ovs`` VIFs: the trunks on both NovaLink partitions.

The client adapter moves with the partition; its trunk does not. Before the migration the
destination gets a trunk per VIF (named after the port, with the OVS attributes) on a VLAN free on
*its* ``NovaLinkVEABridge``; the MAC -> VLAN map is what the migration job needs to put each moved
client adapter on that VLAN (pypowervm's ``vlan_mappings``, ``MAC/PVID``). Creating the trunk first keeps the network
outage short (the device is wired while the memory copies). A trunk of the same name left by a
failed earlier migration is removed first, or the names would collide. After the migration the
source's trunks go; after a failed one the destination's do.

``compute.live_migration_network`` calls these hooks from the driver's live migration steps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import partition as pvm_par
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute.vif import ovs
from powervm_openstack.pvm.vif_event import pvm_mac

LOG = logging.getLogger(__name__)


def _ovs_vifs(vifs: Iterable[Any]) -> list[Any]:
    return [vif for vif in vifs if vif["type"] == ovs.OvsVifDriver.vif_type]


def pre_live_migration_dest(adapter: Any, conf: Any, vifs: Iterable[Any], instance_uuid: str) -> dict[str, int]:
    """On the destination: one trunk per ``ovs`` VIF on a free VLAN; ``{PowerVM MAC: VLAN}``."""
    vswitch = conf.powervm.pvm_vswitch_for_novalink_io
    mgmt = pvm_par.get_mgmt_partition(adapter)
    mappings: dict[str, int] = {}
    for vif in _ovs_vifs(vifs):
        ovs.check_not_hybrid(vif)
        remove_trunks(adapter, [vif], mgmt=mgmt, why="left by an earlier migration")
        (trunk,) = pvm_cna.crt_trunk_with_free_vlan(adapter, None, [mgmt.uuid], vswitch, crt_vswitch=True,
                                                    dev_name=ovs.device_name(vif), ovs_bridge=ovs.bridge_name(vif),
                                                    ovs_ext_ids=ovs.external_ids(vif, instance_uuid),
                                                    configured_mtu=ovs.mtu_of(vif))  # fmt: skip
        mappings[pvm_mac(vif["address"])] = trunk.pvid
        LOG.info("Migration of instance %s: trunk %s for port %s ready on VLAN %s of %s", instance_uuid,
                 trunk.dev_name, vif["id"], trunk.pvid, vswitch)  # fmt: skip
    return mappings


def post_live_migration_source(adapter: Any, vifs: Iterable[Any]) -> list[str]:
    """On the source, after the partition left: remove the trunks of its ``ovs`` VIFs; their names."""
    return remove_trunks(adapter, _ovs_vifs(vifs), why="its partition migrated away")


def rollback_live_migration_dest(adapter: Any, vifs: Iterable[Any]) -> list[str]:
    """On the destination, after a failed migration: remove the trunks made for it; their names."""
    return remove_trunks(adapter, _ovs_vifs(vifs), why="the migration failed")


def remove_trunks(adapter: Any, vifs: Iterable[Any], why: str, mgmt: Any = None) -> list[str]:
    """Delete the NovaLink trunks named after ``vifs``; their names."""
    names = {ovs.device_name(vif): vif["id"] for vif in vifs}
    mgmt = mgmt or pvm_par.get_mgmt_partition(adapter)
    removed = []
    for trunk in pvm_net.CNA.get(adapter, parent=mgmt):
        if trunk.is_trunk and trunk.dev_name in names:
            trunk.delete()
            removed.append(trunk.dev_name)
            LOG.info("Removed trunk %s (VLAN %s) of port %s: %s", trunk.dev_name, trunk.pvid, names[trunk.dev_name],
                     why)  # fmt: skip
    return removed
