"""Pollsters for the standard compute meters, fed by the PowerVM inspector.

Each class is a stock ceilometer pollster with two changes: ``setup_environment`` gives it the
process-wide ``PowerVMInspector`` (ceilometer 27 only builds the libvirt one), and ``get_samples``
refreshes the PCM data once per polling cycle first. Entry points are named ``powervm.<meter>`` so
they never share a name (and ceilometer's per-name blacklist) with the stock libvirt pollsters; the
samples keep the standard meter names. The default discovery is ``powervm_local_instances``.
"""

from __future__ import annotations

import threading
from typing import Any

from ceilometer.compute.pollsters import disk, instance_stats, net

from powervm_openstack.telemetry.inspector import PowerVMInspector

_LOCK = threading.Lock()
_INSPECTORS: dict[int, PowerVMInspector] = {}


def shared_inspector(conf: Any) -> PowerVMInspector:
    """One inspector (one REST session, one sample cache) per ceilometer configuration object."""
    with _LOCK:
        if id(conf) not in _INSPECTORS:
            _INSPECTORS[id(conf)] = PowerVMInspector(conf)
        return _INSPECTORS[id(conf)]


class _PowerVM:
    def setup_environment(self) -> None:
        self.inspector = shared_inspector(self.conf)

    @property
    def default_discovery(self) -> str:
        return "powervm_local_instances"

    def get_samples(self, manager: Any, cache: dict, resources: list) -> Any:
        if resources:
            self.inspector.begin_cycle(cache)
        return super().get_samples(manager, cache, resources)


class CPUPollster(_PowerVM, instance_stats.CPUPollster):
    pass


class VCPUsPollster(_PowerVM, instance_stats.VCPUsPollster):
    pass


class MemoryUsagePollster(_PowerVM, instance_stats.MemoryUsagePollster):
    pass


class IncomingBytesPollster(_PowerVM, net.IncomingBytesPollster):
    pass


class IncomingPacketsPollster(_PowerVM, net.IncomingPacketsPollster):
    pass


class OutgoingBytesPollster(_PowerVM, net.OutgoingBytesPollster):
    pass


class OutgoingPacketsPollster(_PowerVM, net.OutgoingPacketsPollster):
    pass


class IncomingDropPollster(_PowerVM, net.IncomingDropPollster):
    pass


class OutgoingDropPollster(_PowerVM, net.OutgoingDropPollster):
    pass


class IncomingErrorsPollster(_PowerVM, net.IncomingErrorsPollster):
    pass


class OutgoingErrorsPollster(_PowerVM, net.OutgoingErrorsPollster):
    pass


class IncomingBytesRatePollster(_PowerVM, net.IncomingBytesRatePollster):
    pass


class OutgoingBytesRatePollster(_PowerVM, net.OutgoingBytesRatePollster):
    pass


class PerDeviceReadBytesPollster(_PowerVM, disk.PerDeviceReadBytesPollster):
    pass


class PerDeviceReadRequestsPollster(_PowerVM, disk.PerDeviceReadRequestsPollster):
    pass


class PerDeviceWriteBytesPollster(_PowerVM, disk.PerDeviceWriteBytesPollster):
    pass


class PerDeviceWriteRequestsPollster(_PowerVM, disk.PerDeviceWriteRequestsPollster):
    pass
