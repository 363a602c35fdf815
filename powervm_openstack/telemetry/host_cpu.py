"""Host CPU counters for nova's ``get_host_cpu_stats``, accumulated from the PCM long-term monitor.

One ``HostCpuCounters`` lives as long as the compute driver. Each new PHYP sample adds, in
nanoseconds of the sample's own cycle rate (``procCyclesPerSecond``):
- ``user``: the busy cycles (capped + uncapped - idle) every partition and VIOS did since the
  previous sample; a partition without a previous entry (new, or migrated here with its source
  host's counters) or whose previous entry was all zeros is left out for that interval;
- ``kernel``: the hypervisor firmware's cycles; ``idle``: the rest of the configurable processor
  capacity (time base cycles times configurable processor units); ``iowait`` is not measured: 0.
``frequency`` is the processor clock in MHz from ``/proc/cpuinfo`` (``clock`` on POWER); elsewhere,
e.g. a simulator on x86, the PCM cycle rate in MHz. Errors reading PCM are not hidden.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from powervm_openstack.telemetry import counters
from powervm_openstack.telemetry.pcm import LongTermMonitor, Sample

LOG = logging.getLogger(__name__)


class HostCpuCounters:
    """Accumulating counters over the life of one driver (one ``LongTermMonitor``)."""

    def __init__(self, adapter: Any, host_uuid: str) -> None:
        self.ltm = LongTermMonitor(adapter, host_uuid)
        self.user = self.kernel = self.total = 0
        self.cycles_per_second = 0
        self._counted: Sample | None = None
        self._lock = threading.Lock()

    def stats(self) -> dict[str, int]:
        """nova's dict: kernel, idle, user, iowait (ns) and frequency (MHz)."""
        with self._lock:
            current = self.ltm.refresh()
            if current is not None and current is not self._counted:
                self._add(self.ltm.previous, current)
                self._counted = current
            ns = (lambda c: counters.cycles_to_ns(c, self.cycles_per_second)) if self.cycles_per_second else int
            return {"kernel": ns(self.kernel), "user": ns(self.user),
                    "idle": ns(max(self.total - self.user - self.kernel, 0)), "iowait": 0,
                    "frequency": _frequency_mhz(self.cycles_per_second)}  # fmt: skip

    def _add(self, prev: Sample | None, cur: Sample) -> None:
        sample = cur.phyp.sample
        self.cycles_per_second = sample.processor.proc_cycles_per_sec
        if prev is None:
            return  # the first sample only sets the baseline
        psample = prev.phyp.sample
        kernel = counters.delta(psample.system_firmware.utilized_proc_cycles,
                                sample.system_firmware.utilized_proc_cycles) or 0  # fmt: skip
        user = sum(_busy_delta(p, psample.lpars + psample.vioses) for p in sample.lpars + sample.vioses)
        base = counters.delta(psample.time_based_cycles, sample.time_based_cycles) or 0
        capacity = int(base * sample.processor.configurable_proc_units)
        if user + kernel > capacity:
            LOG.warning("PCM sample %s reports more used cycles (%d) than the host had (%d); counting them all",
                        sample.time_stamp, user + kernel, capacity)  # fmt: skip
        self.user += user
        self.kernel += kernel
        self.total += max(capacity, user + kernel)


def _busy_delta(cur: Any, prevs: list[Any]) -> int:
    prev = next((p for p in prevs if p.id == cur.id and p.uuid == cur.uuid), None)
    if prev is None:
        return 0
    pp, cp = prev.processor, cur.processor
    if counters.is_fresh_entry(pp.util_cap_proc_cycles, pp.util_uncap_proc_cycles, pp.idle_proc_cycles):
        return 0
    before = counters.busy_cycles(pp.util_cap_proc_cycles, pp.util_uncap_proc_cycles, pp.idle_proc_cycles)
    after = counters.busy_cycles(cp.util_cap_proc_cycles, cp.util_uncap_proc_cycles, cp.idle_proc_cycles)
    return counters.delta(before, after) or 0


def _frequency_mhz(cycles_per_second: int) -> int:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("clock"):
                    return int(float(line.split()[-1].rstrip("MHz")))
    except OSError:
        pass
    return int(cycles_per_second // 1_000_000)
