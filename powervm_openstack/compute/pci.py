"""SR-IOV physical ports as the PCI devices nova's PCI tracker needs to schedule ``direct`` ports.

A neutron port with ``binding:vnic_type = direct`` makes nova add a PCI request
``{physical_network: <the network's physnet>, dev_type: type-VF, remote_managed: False}``; without
a PCI device matching it every such boot ends in NoValidHost. PowerVM has no PCI VF that nova
could hand to the guest: the vNIC is built at plug time from the physical ports the ``pvm_sriov``
mechanism driver chose. So, like the retired nova-powervm driver, this driver reports
*pseudo-VFs*: for every usable SR-IOV physical port (adapter in shared mode and Running, link up),
as many ``type-VF`` devices as the port's configured maximum of logical ports
(``ConfiguredMaxEthernetLogicalPorts``). nova claims one per ``direct`` port; the VFs the vNIC
really uses (one per backing device, ``redundancy`` of them) are PowerVM's to count, and
neutron's ``pvm_sriov`` binding checks their room.

Each pseudo-VF has a synthetic PCI address that names its port::

    <SR-IOV adapter id, 4 hex>:<physical port id, 2 hex>:<1 + n // 8, 2 hex>.<n % 8>
    parent_addr = <adapter>:<port>:00.0   (not reported itself: there is no PF to pass through)

vendor ``1014`` (IBM), product ``0000``, NUMA node unknown, ``label`` ``powervm_<physnet>``.
nova tags the device with the ``physical_network`` of the first ``[pci] device_spec`` entry that
matches it (the tag is not a filter): with one physical network, ``{"physical_network": "default"}``
suffices; with several, each entry selects its ports by address, e.g.
``{"address": "0001:01:*.*", "physical_network": "prod"}`` (adapter 1, port 1). The driver logs
the addresses of each physical network's ports when it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from oslo_serialization import jsonutils

from powervm_openstack.network import sriov_ports

LOG = logging.getLogger(__name__)

VENDOR_ID = "1014"
PRODUCT_ID = "0000"
#: nova stores PCI addresses as dddd:bb:ss.f; a slot holds 8 functions.
_FUNCTIONS_PER_SLOT = 8
_MAX_SLOTS = 31


def port_address(port: sriov_ports.PhysicalPort) -> str:
    """The ``domain:bus`` prefix of a physical port's pseudo-VFs, e.g. ``0001:02``."""
    return f"{port.adapter_id:04x}:{port.port_id:02x}"


def schedulable(port: sriov_ports.PhysicalPort) -> bool:
    """Ports a vNIC can be built on now: usable adapter, link up, logical ports configured."""
    return port.usable and port.link_up and port.max_logical_ports > 0


def pseudo_vfs(ports: Iterable[sriov_ports.PhysicalPort]) -> list[dict[str, Any]]:
    """The ``pci_passthrough_devices`` entries (as dicts) for ``ports``."""
    devices = []
    for port in ports:
        if not schedulable(port):
            continue
        prefix = port_address(port)
        count = min(port.max_logical_ports, _MAX_SLOTS * _FUNCTIONS_PER_SLOT)
        for n in range(count):
            slot, function = divmod(n, _FUNCTIONS_PER_SLOT)
            devices.append({
                "address": f"{prefix}:{slot + 1:02x}.{function}",
                "parent_addr": f"{prefix}:00.0",
                "vendor_id": VENDOR_ID,
                "product_id": PRODUCT_ID,
                "dev_type": "type-VF",
                "numa_node": None,
                "label": f"powervm_{port.physnet}",
                "status": "available",
            })  # fmt: skip
    return devices


def passthrough_devices(system: Any) -> str:
    """``get_available_resource()['pci_passthrough_devices']``: JSON of the pseudo-VFs of ``system``."""
    return jsonutils.dumps(pseudo_vfs(sriov_ports.read_ports(system)))


def describe(system: Any) -> list[str]:
    """One line per physical network: its ports and the addresses of their pseudo-VFs (for the log)."""
    by_physnet: dict[str, list[str]] = {}
    for port in sriov_ports.read_ports(system):
        if schedulable(port):
            by_physnet.setdefault(port.physnet, []).append(
                f"{port.location_code} -> {port_address(port)}:*.* ({port.max_logical_ports} pseudo-VFs)"
            )
    return [f"SR-IOV physical network {net!r}: {', '.join(items)}" for net, items in sorted(by_physnet.items())]
