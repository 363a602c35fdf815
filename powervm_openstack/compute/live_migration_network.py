"""Live migration, the network side: what cannot move, and the ``ovs`` VIFs' trunks and VLAN mappings.

- ``pvm_sriov`` VIFs (SR-IOV vNICs) are refused on the source, naming the port: the Migrate job
  that pypowervm runs for a NovaLink has no parameter naming the destination's SR-IOV backing
  devices (an HMC chooses them by port label and capacity), so the driver cannot say where the
  vNIC's logical ports would go. Detach the port, or cold-migrate (the vNIC is built anew there).
  A partition owning SR-IOV logical ports directly is refused by PowerVM itself (``MigrateValidate``).
- ``ovs`` VIFs: the destination's ``pre_live_migration`` makes a trunk per VIF on a free VLAN of its
  ``NovaLinkVEABridge`` (``vif.ovs_lpm``); the ``MAC/PVID`` list reaches the source in the migrate
  data, whose ``live_migration`` passes it as ``vlan_mappings`` with ``sdn_override`` (the
  adapter's network is hosted on the NovaLink partition, not a VIOS). After the move the source's
  trunks go; after a failed one the destination's do, unless the partition is there after all.

The migrate data is nova's ``VMwareLiveMigrateData`` (see ``live_migration``): its ``datastore_regex``,
a string neither nova's conductor nor its compute manager interpret, holds the destination's
NovaLink REST ``host:port`` and, after ``pre_live_migration``, `` vlan_mappings=MAC/PVID,...``
(a REST address has no space, so the first word is always the address).
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc

from powervm_openstack.compute import vm
from powervm_openstack.compute.vif import ovs, ovs_lpm
from powervm_openstack.network import constants

LOG = logging.getLogger(__name__)
_MAPPINGS = " vlan_mappings="


def refuse_unmovable(instance: Any, network_info: Any) -> None:
    """:raises MigrationPreCheckError: naming the instance's first ``pvm_sriov`` (vNIC) port."""
    for vif in network_info or []:
        if vif.get("type") == constants.VIF_TYPE_SRIOV:
            raise nova_exc.MigrationPreCheckError(
                reason=f"Instance {instance.uuid} has SR-IOV vNIC port {vif['id']} ({vif['address']}); this driver "
                "does not live-migrate vNICs (the Migrate job cannot name the destination's SR-IOV backing "
                "devices). Detach the port or cold-migrate the instance."
            )


def has_ovs(network_info: Any) -> bool:
    return any(vif.get("type") == ovs.OvsVifDriver.vif_type for vif in network_info or [])


def rest_endpoint(data: Any) -> str:
    """The destination's NovaLink REST ``host:port`` from the migrate data."""
    return data.datastore_regex.split(" ", 1)[0]


def vlan_mappings(data: Any) -> list[str]:
    """The ``MAC/PVID`` entries the destination's ``pre_live_migration`` put in the migrate data."""
    _, _, mappings = data.datastore_regex.partition(_MAPPINGS)
    return [m for m in mappings.split(",") if m]


def prepare_destination(driver: Any, conf: Any, instance: Any, network_info: Any, data: Any) -> None:
    """Make the destination's trunks for the ``ovs`` VIFs and record their ``MAC/PVID`` in ``data``."""
    mappings = ovs_lpm.pre_live_migration_dest(driver.adapter, conf, network_info or [], instance.uuid)
    entries = [f"{mac}/{pvid}" for mac, pvid in sorted(mappings.items())]
    data.datastore_regex = rest_endpoint(data) + (_MAPPINGS + ",".join(entries) if entries else "")
    if entries:
        LOG.info("Instance %s: VLAN mappings for the move to %s: %s", instance.uuid, driver.host_name,
                 ", ".join(entries))  # fmt: skip


def cleanup_source(driver: Any, instance: Any, network_info: Any) -> None:
    """The partition left: remove this host's trunks of its ``ovs`` VIFs."""
    removed = ovs_lpm.post_live_migration_source(driver.adapter, network_info or [])
    if removed:
        LOG.info("Instance %s left %s: its trunks %s removed", instance.uuid, driver.host_name, ", ".join(removed))


def rollback_destination(driver: Any, instance: Any, network_info: Any) -> None:
    """The move failed: remove the trunks ``prepare_destination`` made, unless the partition arrived here."""
    if not has_ovs(network_info):
        return
    if vm.exists(driver.adapter, instance):
        LOG.warning("Instance %s rollback: its partition is on %s; its trunks stay", instance.uuid, driver.host_name)
        return
    ovs_lpm.rollback_live_migration_dest(driver.adapter, network_info)
