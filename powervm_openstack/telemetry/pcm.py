"""The PCM long-term monitor of one host: the last two samples, read with one feed read per refresh.

``refresh()`` reads the LongTermMonitor feed once; only when the feed has a newer PHYP sample than
the one held does it read that sample's PHYP JSON and the VIOS JSONs of the same time (pypowervm's
``PhypInfo``/``ViosInfo`` parse them), and the held sample becomes the previous one. The LPAR file
(RMC memory, ``LparInfo``; taken about every two minutes) of the same or an earlier time is read
only when it is newer than the one held, else the held one is kept. So a poll costs one REST call
when nothing new was sampled, and 2 + VIOSes (+1 for a new LPAR file) when something was, whatever
the number of partitions. ``ensure_enabled`` switches long-term monitoring on when it is off (logged), as no
sample is taken otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
from typing import Any

from pypowervm.tasks.monitor import util as pcm_util
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import monitor as pvm_mon
from pypowervm.wrappers.pcm import lpar as pcm_lpar
from pypowervm.wrappers.pcm import phyp as pcm_phyp
from pypowervm.wrappers.pcm import vios as pcm_vios

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Sample:
    """One long-term-monitor sample: its time, the PHYP data, the VIOS data of the same time, and the
    latest LPAR (RMC memory) data not newer than it (None when the host has none yet)."""

    when: datetime.datetime
    phyp: Any
    vioses: list[Any]
    lpars: Any = None
    lpars_when: datetime.datetime | None = None

    def partitions(self) -> dict[str, Any]:
        """Per-partition metrics (pypowervm ``LparMetric``) keyed by upper-case partition UUID."""
        return {u.upper(): m for u, m in pcm_util.vm_metrics(self.phyp, self.vioses, None).items()}

    def memory(self, uuid: str) -> Any:
        """The RMC memory entry (``LparUtil``) of a partition, or None (no LPAR file, or an error entry)."""
        return self.lpars.find(uuid.upper()) if self.lpars is not None else None

    def raw(self, uuid: str) -> Any:
        """The PHYP ``lparsUtil`` entry of a partition, or None."""
        return next((p for p in self.phyp.sample.lpars if p.uuid.upper() == uuid.upper()), None)


class LongTermMonitor:
    """The current and previous samples of one host (thread-safe)."""

    def __init__(self, adapter: Any, host_uuid: str) -> None:
        self.adapter, self.host_uuid = adapter, host_uuid
        self.current: Sample | None = None
        self.previous: Sample | None = None
        self.feed_reads = 0
        self._lock = threading.Lock()
        self._enabled = False

    def ensure_enabled(self) -> None:
        """Switch long-term monitoring on if it is off (one preferences read when it is on)."""
        href = self.adapter.build_href(pvm_ms.System.schema_type, root_id=self.host_uuid,
                                       child_type=pvm_mon.PREFERENCES, service=pvm_mon.PCM_SERVICE)  # fmt: skip
        pref = pvm_mon.PcmPref.wrap(self.adapter.read_by_href(href))[0]
        if not pref.ltm_enabled:
            LOG.info("PCM long-term monitoring is off on system %s; switching it on (samples every 30 s)",
                     self.host_uuid)  # fmt: skip
            pcm_util.ensure_ltm_monitors(self.adapter, self.host_uuid)
        self._enabled = True

    def refresh(self) -> Sample | None:
        """Take in a newer sample if the host has one; return the current sample (None before the first)."""
        with self._lock:
            if not self._enabled:
                self.ensure_enabled()
            feed = pcm_util.query_ltm_feed(self.adapter, self.host_uuid)
            self.feed_reads += 1
            phyps = sorted((m for m in feed if m.category == "phyp"), key=lambda m: m.updated_datetime)
            if not phyps:
                LOG.info("No PCM sample on system %s yet (long-term monitoring was just switched on?)", self.host_uuid)
                return self.current
            if self.current is None and len(phyps) > 1:
                self.current = self._read(feed, phyps[-2])
            if self.current is None or phyps[-1].updated_datetime > self.current.when:
                self.previous, self.current = self.current, self._read(feed, phyps[-1])
            return self.current

    def _read(self, feed: list[Any], phyp_entry: Any) -> Sample:
        phyp = pcm_phyp.PhypInfo(self.adapter.read_by_href(phyp_entry.link, xag=[]).body)
        vioses = [pcm_vios.ViosInfo(self.adapter.read_by_href(m.link, xag=[]).body) for m in feed
                  if m.category.startswith("vios_") and m.updated_datetime == phyp_entry.updated_datetime]  # fmt: skip
        lpars, lpars_when = self._lpars(feed, phyp_entry.updated_datetime)
        return Sample(phyp_entry.updated_datetime, phyp, vioses, lpars, lpars_when)

    def _lpars(self, feed: list[Any], until: datetime.datetime) -> tuple[Any, datetime.datetime | None]:
        entries = sorted((m for m in feed if m.category == "lpar" and m.updated_datetime <= until),
                         key=lambda m: m.updated_datetime)  # fmt: skip
        held = self.current
        if not entries:
            return (held.lpars, held.lpars_when) if held is not None else (None, None)
        newest = entries[-1]
        if held is not None and held.lpars_when is not None and held.lpars_when >= newest.updated_datetime:
            return held.lpars, held.lpars_when
        return pcm_lpar.LparInfo(self.adapter.read_by_href(newest.link, xag=[]).body), newest.updated_datetime

    def seconds_between(self) -> float:
        """Seconds from the previous to the current sample (0 without both)."""
        if self.current is None or self.previous is None:
            return 0.0
        return (self.current.when - self.previous.when).total_seconds()
