"""SR-IOV physical ports of the ManagedSystem: their capacity and logical ports, and their labels.

- ``take``/``give_back`` account one logical port (a VF) on a physical port: the capacity must be a
  positive multiple of the port's ``MinimumEthernetCapacityGranularity`` with at most two decimals
  (in percent) and fit in what the port has left (100 % in all), and the port
  (``ConfiguredMaxEthernetLogicalPorts``) and its adapter (``MaximumLogicalPortsSupported``) must
  have a free logical port; only adapters in shared mode (Sriov) that are Running take them;
- a ManagedSystem update may change port labels (at most 16 printable characters), sublabels (8)
  and the configured maximum of logical ports; every other adapter and port field (allocations,
  link state, ...) stays the server's, whatever the client sent.
A port whose link is down still takes VFs, as on real hardware.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model import adapters
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

MAX_LABEL = 16
MAX_SUBLABEL = 8
FULL = Decimal(100)
_CENT = Decimal("0.01")

_ADAPTERS = "AssociatedSystemIOConfiguration/SRIOVAdapters/IOAdapterChoice/SRIOVAdapter"
_PORT_PATHS = (
    "ConvergedEthernetPhysicalPorts/SRIOVConvergedNetworkAdapterPhysicalPort",
    "SRIOVRoCEPhysicalPorts/SRIOVRoCEPhysicalPort",
    "EthernetPhysicalPorts/SRIOVEthernetPhysicalPort",
)
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")

PORT_ORDER = (
    "Metadata", "ConfiguredConnectionSpeed", "ConfiguredFlowControl", "ConfiguredMTU", "ConfiguredOptions",
    "ConfiguredPortSwitchMode", "CurrentConnectionSpeed", "CurrentOptions", "Label", "LocationCode",
    "MaximumDiagnosticsLogicalPorts", "MaximumPromiscuousLogicalPorts", "PhysicalPortID", "PortCapabilities",
    "PortType", "PortLogicalPortLimit", "SubLabel",
)  # fmt: skip


# -- percentages and ports -------------------------------------------------------------------
def percent(value: str | None, what: str) -> Decimal | None:
    """``"2.0%"`` -> ``Decimal("2.0")``; None when absent; 400 when not a percentage."""
    if value is None or not value.strip():
        return None
    try:
        number = Decimal(value.strip().rstrip("%").strip())
    except InvalidOperation:
        raise bad_request(f"{what} {value!r} is not a percentage (e.g. 2.0%).") from None
    if not number.is_finite():
        raise bad_request(f"{what} {value!r} is not a percentage (e.g. 2.0%).")
    return number


def format_percent(value: Decimal) -> str:
    """NovaLink's format: ``2.0%``, ``42.42%``."""
    text = format(value.quantize(_CENT).normalize(), "f")
    return f"{text}%" if "." in text else f"{text}.0%"


def physical_ports(adapter: etree._Element) -> list[etree._Element]:
    return [port for path in _PORT_PATHS for port in xml.findall(adapter, path)]


def find_port(
    system: etree._Element, adapter_id: int, port_id: int, where: str
) -> tuple[etree._Element, etree._Element]:
    """The SR-IOV adapter and physical port a backing device or logical port names; 400 if unusable."""
    adapter = next((a for a in xml.findall(system, _ADAPTERS) if num(a, "SRIOVAdapterID") == adapter_id), None)
    if adapter is None:
        known = sorted(num(a, "SRIOVAdapterID") for a in xml.findall(system, _ADAPTERS))
        raise bad_request(f"{where}: SR-IOV adapter {adapter_id} does not exist (adapters: {known or 'none'}).")
    mode, state = xml.text(adapter, "AdapterMode"), xml.text(adapter, "AdapterState")
    if mode != "Sriov" or state != "Running":
        raise bad_request(
            f"{where}: SR-IOV adapter {adapter_id} is in mode {mode}, state {state}; logical ports need an "
            "adapter in shared mode (Sriov) that is Running."
        )
    port = next((p for p in physical_ports(adapter) if num(p, "PhysicalPortID") == port_id), None)
    if port is None:
        known = sorted(num(p, "PhysicalPortID") for p in physical_ports(adapter))
        raise bad_request(f"{where}: SR-IOV adapter {adapter_id} has no physical port {port_id} (ports: {known}).")
    return adapter, port


def take(adapter: etree._Element, port: etree._Element, capacity: Decimal | None, where: str) -> Decimal:
    """Give one logical port of ``capacity`` (None: the granularity) on ``port``; return the capacity."""
    loc = xml.text(port, "LocationCode")
    granularity = percent(xml.text(port, "MinimumEthernetCapacityGranularity"), "granularity") or Decimal(2)
    capacity = granularity if capacity is None else capacity
    if capacity <= 0 or capacity > FULL or capacity != capacity.quantize(_CENT):
        raise bad_request(f"{where}: capacity {format_percent(capacity)} is not allowed: 0.01% to 100.0%, 2 decimals.")
    if capacity % granularity:
        raise bad_request(
            f"{where}: capacity {format_percent(capacity)} is not a multiple of the minimum capacity granularity "
            f"{format_percent(granularity)} of physical port {loc}."
        )
    allocated = percent(xml.text(port, "AllocatedCapacity"), "AllocatedCapacity") or Decimal(0)
    if allocated + capacity > FULL:
        raise bad_request(
            f"{where}: physical port {loc} has {format_percent(FULL - allocated)} capacity left; "
            f"{format_percent(capacity)} asked."
        )
    used, limit = num(port, "ConfiguredEthernetLogicalPorts"), num(port, "ConfiguredMaxEthernetLogicalPorts")
    if used >= limit:
        raise bad_request(f"{where}: physical port {loc} has no free logical port ({used} of {limit} configured).")
    on_adapter = sum(num(p, "ConfiguredEthernetLogicalPorts") for p in physical_ports(adapter))
    adapter_limit = num(adapter, "MaximumLogicalPortsSupported", 1 << 30)
    if on_adapter >= adapter_limit:
        raise bad_request(f"{where}: SR-IOV adapter {xml.text(adapter, 'SRIOVAdapterID')} has no free logical port "
                          f"({on_adapter} of {adapter_limit}).")  # fmt: skip
    _account(port, capacity, +1)
    return capacity


def give_back(system: etree._Element, adapter_id: int, port_id: int, capacity: Decimal) -> None:
    """Return one logical port of ``capacity`` to its physical port (gone ports are ignored)."""
    for adapter in xml.findall(system, _ADAPTERS):
        if num(adapter, "SRIOVAdapterID") == adapter_id:
            for port in physical_ports(adapter):
                if num(port, "PhysicalPortID") == port_id:
                    _account(port, capacity, -1)


def _account(port: etree._Element, capacity: Decimal, sign: int) -> None:
    allocated = percent(xml.text(port, "AllocatedCapacity"), "AllocatedCapacity") or Decimal(0)
    xml.set_text(port, "AllocatedCapacity", format_percent(max(allocated + sign * capacity, Decimal(0))))
    xml.set_text(port, "ConfiguredEthernetLogicalPorts", max(num(port, "ConfiguredEthernetLogicalPorts") + sign, 0))


def num(elem: etree._Element, tag: str, default: int = 0) -> int:
    return adapters.int_text(elem, tag, default)


def system_of(txn: Transaction) -> Record:
    systems = txn.find("ManagedSystem")
    if not systems:
        raise ApiError(409, "There is no managed system to take SR-IOV logical ports from.")
    return systems[0]


# -- the ManagedSystem: port labels ----------------------------------------------------------
class SystemRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        raise ApiError(405, "A managed system is discovered by the management console, not created.")

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        """Keep the server's SR-IOV state; take only labels, sublabels and logical-port maxima."""
        kept = xml.find(old.element, "AssociatedSystemIOConfiguration")
        if kept is None:
            return
        kept = copy.deepcopy(kept)
        sent = xml.find(new.element, "AssociatedSystemIOConfiguration")
        if sent is None:
            new.element.insert(list(old.element).index(xml.find(old.element, "AssociatedSystemIOConfiguration")), kept)
            return
        ports = {_port_key(a, p): p for a in xml.findall(kept, "SRIOVAdapters/IOAdapterChoice/SRIOVAdapter")
                 for p in physical_ports(a)}  # fmt: skip
        for adapter in xml.findall(sent, "SRIOVAdapters/IOAdapterChoice/SRIOVAdapter"):
            for port in physical_ports(adapter):
                key = _port_key(adapter, port)
                if key not in ports:
                    raise bad_request(f"SR-IOV adapter {key[0]} has no physical port {key[1]}; ports cannot be added.")
                _take_settings(port, ports[key])
        new.element.replace(sent, kept)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        raise ApiError(405, "A managed system is removed from the management console, not deleted.")


def _port_key(adapter: etree._Element, port: etree._Element) -> tuple[int, int]:
    return num(adapter, "SRIOVAdapterID"), num(port, "PhysicalPortID")


def _take_settings(sent: etree._Element, kept: etree._Element) -> None:
    loc = xml.text(kept, "LocationCode")
    for tag, limit in (("Label", MAX_LABEL), ("SubLabel", MAX_SUBLABEL)):
        value = xml.text(sent, tag, "") or ""
        if len(value) > limit or not _PRINTABLE.match(value):
            raise bad_request(f"{tag} {value!r} of SR-IOV port {loc} is not allowed: at most {limit} printable "
                              "ASCII characters.")  # fmt: skip
        set_child(kept, tag, value, PORT_ORDER, kb="CUR")
    wanted = xml.text(sent, "ConfiguredMaxEthernetLogicalPorts")
    if wanted is not None and wanted != xml.text(kept, "ConfiguredMaxEthernetLogicalPorts"):
        value, low = num(sent, "ConfiguredMaxEthernetLogicalPorts"), num(kept, "ConfiguredEthernetLogicalPorts")
        high = num(kept, "MaxSupportedEthernetLogicalPorts", value)
        if not low <= value <= high:
            raise bad_request(f"ConfiguredMaxEthernetLogicalPorts {value} of SR-IOV port {loc} must be from {low} "
                              f"(configured now) to {high}.")  # fmt: skip
        xml.set_text(kept, "ConfiguredMaxEthernetLogicalPorts", value)
