"""VIFs of a partition, one driver per vif type: ``pvm_sea``, ``pvm_sriov``, ``ovs``.

``plug`` creates the adapter for a neutron port on the partition; ``unplug`` removes it (a missing
adapter is not an error, so destroy can clean up after a half-failed spawn). ``mgmt`` adds the RMC
management adapter, which has no neutron port.
"""

from __future__ import annotations

from typing import Any

from nova import exception as nova_exc

from powervm_openstack.compute.vif import ovs, sea, sriov
from powervm_openstack.compute.vif.base import VifDriver

_DRIVERS: dict[str, type[VifDriver]] = {
    sea.SeaVifDriver.vif_type: sea.SeaVifDriver,
    sriov.SriovVifDriver.vif_type: sriov.SriovVifDriver,
    ovs.OvsVifDriver.vif_type: ovs.OvsVifDriver,
}
SUPPORTED = tuple(_DRIVERS)


def driver_for(adapter: Any, conf: Any, vif: Any, instance_uuid: str) -> VifDriver:
    """The driver of ``vif['type']``.

    :raises nova.exception.VirtualInterfacePlugException: a vif type this driver cannot plug.
    """
    cls = _DRIVERS.get(vif["type"])
    if cls is None:
        raise nova_exc.VirtualInterfacePlugException(
            f"Instance {instance_uuid}: vif type {vif['type']!r} of port {vif['id']} is not supported on PowerVM; "
            f"supported: {', '.join(SUPPORTED)}."
        )
    return cls(adapter, conf, instance_uuid)
