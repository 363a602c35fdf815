"""SR-IOV physical ports and the vNICs they back, as the SR-IOV agent reports and checks them.

A physical port serves the physical network named by its label; an unlabelled port serves
``default``. Only ports of adapters in shared mode (``Sriov``) that are ``Running`` can back a vNIC,
so only those are reported. What the agent reports (see :mod:`.mech_sriov` for the contract)::

    device_mappings = {"prod": ["U78D3.001.WZS0A1B-P1-C6-T2", ...], ...}
    physnet_ports   = {"prod": [{"location_code": ..., "free_capacity": 0.96, "granularity": 0.02,
                                 "free_logical_ports": 19}, ...], ...}

Capacities are fractions of the port (0.02 is 2 %) with at most four decimals, as PowerVM keeps
them. Everything here is pure except :func:`scan_vnics` and :func:`read_vnic`, which read REST.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms

from powervm_openstack.network import constants as c
from powervm_openstack.network import exceptions as exc
from powervm_openstack.network import sriov_capacity as cap
from powervm_openstack.pvm.vif_event import norm_mac

LOG = logging.getLogger(__name__)

DEFAULT_PHYSNET = "default"
_FOUR_DECIMALS = Decimal("0.0001")
_VNIC_URI = re.compile(r"/LogicalPartition/([^/?]+)/VirtualNICDedicated/([^/?]+)")


@dataclasses.dataclass(frozen=True)
class PhysicalPort:
    """One SR-IOV physical port of the host, as read from the ManagedSystem."""

    location_code: str
    label: str
    adapter_id: int
    port_id: int
    link_up: bool
    granularity: Decimal
    allocated: Decimal
    logical_ports: int
    max_logical_ports: int
    usable: bool

    @property
    def physnet(self) -> str:
        return self.label or DEFAULT_PHYSNET

    @property
    def free_capacity(self) -> Decimal:
        return max(Decimal(1) - self.allocated, Decimal(0))

    @property
    def free_logical_ports(self) -> int:
        return max(self.max_logical_ports - self.logical_ports, 0)


@dataclasses.dataclass(frozen=True)
class Vnic:
    """One SR-IOV backed vNIC of a partition; ``mac`` in neutron's form."""

    uuid: str
    href: str
    mac: str
    partition_uuid: str
    pvid: int
    backing: tuple[tuple[int, int], ...]  # (SR-IOV adapter id, physical port id) per backing device


def _fraction(value: float | None) -> Decimal:
    return Decimal(0) if value is None else Decimal(repr(float(value))).quantize(_FOUR_DECIMALS)


def read_ports(system: pvm_ms.System) -> list[PhysicalPort]:
    """Every SR-IOV physical port of ``system``, in adapter and port order."""
    ports = []
    for adapter in system.asio_config.sriov_adapters:
        usable = adapter.mode == pvm_iocard.SRIOVAdapterMode.SRIOV and adapter.state == "Running"
        for pport in adapter.phys_ports:
            ports.append(
                PhysicalPort(
                    location_code=pport.loc_code,
                    label=(pport.label or "").strip(),
                    adapter_id=int(adapter.sriov_adap_id),
                    port_id=int(pport.port_id),
                    link_up=bool(pport.link_status),
                    granularity=_fraction(pport.min_granularity),
                    allocated=_fraction(pport.allocated_capacity),
                    logical_ports=int(pport.cfg_lps or 0),
                    max_logical_ports=int(pport.cfg_max_lps or 0),
                    usable=usable,
                )
            )
    return ports


def device_mappings(ports: Iterable[PhysicalPort]) -> dict[str, list[str]]:
    """``{physical network: [location codes]}`` of the usable ports, sorted."""
    found: dict[str, list[str]] = {}
    for port in ports:
        if port.usable:
            found.setdefault(port.physnet, []).append(port.location_code)
    return {physnet: sorted(locs) for physnet, locs in sorted(found.items())}


def physnet_ports(ports: Iterable[PhysicalPort]) -> dict[str, list[dict[str, Any]]]:
    """The ``physnet_ports`` report: per physical network, each usable port's free room."""
    found: dict[str, list[dict[str, Any]]] = {}
    for port in sorted((p for p in ports if p.usable), key=lambda p: p.location_code):
        found.setdefault(port.physnet, []).append(
            {
                c.PORT_LOCATION_CODE: port.location_code,
                c.PORT_FREE_CAPACITY: float(port.free_capacity),
                c.PORT_GRANULARITY: float(port.granularity),
                c.PORT_FREE_LOGICAL_PORTS: port.free_logical_ports,
            }
        )
    return dict(sorted(found.items()))


def mapping_changes(old: Mapping[str, list[str]], new: Mapping[str, list[str]]) -> list[str]:
    """One line per physical network whose ports changed, e.g. ``'prod': [T2, T3] -> [T2]``."""
    return [
        f"physical network {physnet!r}: {old.get(physnet) or 'no ports'} -> {new.get(physnet) or 'no ports'}"
        for physnet in sorted(set(old) | set(new))
        if old.get(physnet) != new.get(physnet)
    ]


def capacity_warnings(ports: Iterable[PhysicalPort], capacity: Decimal | None) -> list[str]:
    """Why the default ``capacity`` cannot be used on some usable ports (empty when it can everywhere)."""
    if capacity is None:
        return []
    warnings = []
    for port in ports:
        if not port.usable:
            continue
        try:
            cap.check_multiple_of_granularity(capacity, port.granularity, port.location_code)
        except exc.InvalidCapacity as err:
            warnings.append(f"default vnic_vf_capacity cannot be used on physical network {port.physnet!r}: {err}")
    return warnings


# -- vNICs -------------------------------------------------------------------------------------
def vnic_from_wrapper(vnic: pvm_iocard.VNIC, partition_uuid: str) -> Vnic:
    return Vnic(
        uuid=vnic.uuid,
        href=vnic.href,
        mac=norm_mac(vnic.mac),
        partition_uuid=partition_uuid,
        pvid=int(vnic.pvid or 0),
        backing=tuple((int(b.sriov_adap_id), int(b.pport_id)) for b in vnic.back_devs),
    )


def segment_vlan(detail: Mapping[str, Any]) -> int | None:
    """The PVID a vNIC needs for the segment in neutron's device details; None if SR-IOV cannot serve it."""
    network_type = detail.get("network_type")
    if network_type == "flat":
        return c.FLAT_VLAN
    if network_type == "vlan":
        return int(detail["segmentation_id"])
    return None


def check_vnic(vnic: Vnic, detail: Mapping[str, Any], ports: Iterable[PhysicalPort]) -> tuple[str | None, list[str]]:
    """Compare a vNIC with its port's segment.

    :returns: the reason the port must not be marked up (None if it may), and warnings (backing
        ports labelled with another physical network: the VM may reach the wrong network).
    """
    vlan = segment_vlan(detail)
    if vlan is None:
        return f"its segment is a {detail.get('network_type')} network, which SR-IOV vNICs do not serve", []
    if vnic.pvid != vlan:
        return f"vNIC {vnic.uuid} has PVID {vnic.pvid} but the {detail['network_type']} segment needs {vlan}", []
    physnet = detail.get("physical_network")
    by_key = {(p.adapter_id, p.port_id): p for p in ports}
    warnings = []
    for key in vnic.backing:
        port = by_key.get(key)
        if port is not None and port.physnet != physnet:
            warnings.append(f"vNIC {vnic.uuid} is backed by {port.location_code}, labelled for physical network "
                            f"{port.physnet!r}, not {physnet!r}")  # fmt: skip
    return None, warnings


def read_vnic(adapter: pvm_adapter.Adapter, href: str) -> Vnic | None:
    """The vNIC at ``href``; None when it does not exist (or the href is not a vNIC's)."""
    match = _VNIC_URI.search(href)
    if match is None:
        return None
    try:
        wrapper = pvm_iocard.VNIC.wrap(adapter.read_by_href(href))
    except pvm_exc.HttpNotFound:
        return None
    if wrapper.element.tag != pvm_iocard.VNIC.schema_type or not wrapper.mac:
        LOG.warning("%s is not a vNIC with a MAC address (the REST API answered a %s)", href, wrapper.element.tag)
        return None
    return vnic_from_wrapper(wrapper, match.group(1))


def scan_vnics(adapter: pvm_adapter.Adapter, workers: int = 8) -> list[Vnic]:
    """Every vNIC of every client partition (the management partition excluded)."""
    lpars = [lpar for lpar in pvm_lpar.LPAR.get(adapter) if not lpar.is_mgmt_partition]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [vnic for found in pool.map(lambda lpar: _vnics_of(adapter, lpar), lpars) for vnic in found]


def _vnics_of(adapter: pvm_adapter.Adapter, lpar: pvm_lpar.LPAR) -> list[Vnic]:
    try:
        return [vnic_from_wrapper(w, lpar.uuid) for w in pvm_iocard.VNIC.get(adapter, parent=lpar)]
    except pvm_exc.HttpNotFound:
        LOG.debug("Partition %s (%s) vanished during the vNIC scan", lpar.name, lpar.uuid)
        return []
