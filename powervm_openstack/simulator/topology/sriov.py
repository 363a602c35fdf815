"""The ``sriov_adapters`` section of a topology: SR-IOV adapters and their physical ports."""

from __future__ import annotations

from powervm_openstack.simulator.build import SriovAdapter, SriovPort, System
from powervm_openstack.simulator.topology.fields import Fields, TopologyError, check_unique

_SRIOV_KEYS = ("id", "location", "description", "mode", "state", "personality", "max_logical_ports", "ports")
_PORT_KEYS = ("label", "sublabel", "location", "link", "speed", "granularity", "allocated_capacity",
              "max_logical_ports", "supported_max_logical_ports", "configured_logical_ports", "type")  # fmt: skip
_SPEEDS = ("E100Mbps", "E1Gbps", "E10Gbps", "E25Gbps", "E40Gbps", "E100Gbps")


def parse_sriov(top: Fields, sysm: System) -> list[SriovAdapter]:
    """The SR-IOV adapters of ``sysm``; adapter ids and physical port locations are unique."""
    sriov = [_sriov(f, sysm) for f in top.items("sriov_adapters", _SRIOV_KEYS)]
    check_unique([(a.adapter_id, f"sriov_adapters[{i}].id") for i, a in enumerate(sriov)], "SR-IOV adapter id")
    ports = [(p.location, f"sriov_adapters[{i}].ports[{p.port_id}]") for i, a in enumerate(sriov) for p in a.ports]
    check_unique(ports, "physical port location")
    return sriov


def _sriov(f: Fields, sysm: System) -> SriovAdapter:
    adapter_id = f.whole("id", lo=1, hi=255)
    location = f.text("location", f"{sysm.enclosure}-P1-C{adapter_id + 5}")
    ports = [_port(p, i, location) for i, p in enumerate(f.items("ports", _PORT_KEYS))]
    if not ports:
        raise TopologyError(f"{f.at('ports')}: an SR-IOV adapter needs at least one physical port")
    return SriovAdapter(
        adapter_id=adapter_id,
        drc_index=0x21010000 + 0x20 * adapter_id,
        location=location,
        description=f.text("description", "PCIe3 4-port 10GbE SR Adapter"),
        mode=f.text("mode", "Sriov", choices=("Sriov", "Dedicated", "Unknown")),
        state=f.text("state", "Running", choices=("Running", "NotConfigured", "Failed", "Missing", "Initializing")),
        personality=f.text("personality", "MIN_CAPACITY"),
        max_logical_ports=f.whole("max_logical_ports", 48, lo=1, hi=255),
        ports=ports,
    )


def _port(f: Fields, index: int, adapter_loc: str) -> SriovPort:
    supported = f.whole("supported_max_logical_ports", 20, lo=1, hi=255)
    maximum = f.whole("max_logical_ports", supported, lo=1, hi=supported)
    return SriovPort(
        port_id=index,
        location=f.text("location", f"{adapter_loc}-T{index + 1}"),
        label=f.text("label", "", max_len=16, pattern=r"\S*", hint="no whitespace"),
        sublabel=f.text("sublabel", "", max_len=8, pattern=r"\S*", hint="no whitespace"),
        link_up=f.flag("link", True),
        speed=f.text("speed", "E10Gbps", choices=_SPEEDS),
        granularity=f.number("granularity", 2.0, lo=0.01, hi=100.0),
        allocated_capacity=f.number("allocated_capacity", 0.0, lo=0.0, hi=100.0),
        max_logical_ports=maximum,
        supported_max_logical_ports=supported,
        configured_logical_ports=f.whole("configured_logical_ports", 0, lo=0, hi=maximum),
        port_type=f.text("type", "ethernet", choices=("ethernet", "converged")),
    )
