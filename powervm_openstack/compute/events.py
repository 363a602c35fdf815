"""PowerVM partition events -> nova lifecycle events.

pypowervm's event listener thread hands every batch of events to ``PartitionEvents.process``. A
``MODIFY_URI`` of a LogicalPartition whose detail names ``PartitionState`` becomes a lifecycle event
for the nova instance of that partition: started, stopped, suspended or resumed. A stop is held
back ``STOP_DELAY`` seconds and dropped when the partition starts again meanwhile, so a reboot does
not make nova think the instance stopped. Partitions that belong to no nova instance are ignored.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from nova.compute import power_state
from nova.virt import event as virtevent
from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import logical_partition as pvm_lpar

from powervm_openstack.compute import vm

LOG = logging.getLogger(__name__)

STOP_DELAY = 15.0
_LPAR_URI = re.compile(r"/LogicalPartition/([0-9A-Fa-f-]{36})$")
_TRANSITIONS = {
    power_state.RUNNING: virtevent.EVENT_LIFECYCLE_STARTED,
    power_state.SHUTDOWN: virtevent.EVENT_LIFECYCLE_STOPPED,
    power_state.SUSPENDED: virtevent.EVENT_LIFECYCLE_SUSPENDED,
    power_state.CRASHED: virtevent.EVENT_LIFECYCLE_STOPPED,
}


class PartitionEvents(pvm_adapter.RawEventHandler):
    """Turns partition state changes into ``virtevent.LifecycleEvent`` for ``emit``.

    :param instance_uuid_of: PowerVM partition UUID -> nova instance UUID, or None for a partition
        nova does not own.
    """

    def __init__(self, adapter: Any, emit: Callable[[virtevent.Event], None],
                 instance_uuid_of: Callable[[str], str | None], stop_delay: float = STOP_DELAY) -> None:  # fmt: skip
        self.adapter = adapter
        self.emit = emit
        self.instance_uuid_of = instance_uuid_of
        self.stop_delay = stop_delay
        self._pending: dict[str, threading.Timer] = {}
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def process(self, events: list[dict[str, str]]) -> None:
        for event in events:
            try:
                self._one(event)
            except Exception:
                LOG.exception("Could not turn PowerVM event %s into a lifecycle event", event.get("EventID"))

    def _one(self, event: dict[str, str]) -> None:
        if event.get("EventType") != "MODIFY_URI" or "PartitionState" not in (event.get("EventDetail") or ""):
            return
        match = _LPAR_URI.search((event.get("EventData") or "").split("?", 1)[0])
        if not match:
            return
        pvm_uuid = match.group(1).upper()
        instance_uuid = self.instance_uuid_of(pvm_uuid)
        if instance_uuid is None:
            return
        try:
            state = self.adapter.read(pvm_lpar.LPAR.schema_type, root_id=pvm_uuid, suffix_type="quick",
                                      suffix_parm="PartitionState").body.strip('"')  # fmt: skip
        except pvm_exc.HttpNotFound:
            return
        transition = _TRANSITIONS.get(vm.power_state_of(state))
        if transition is not None:
            self._deliver(instance_uuid, transition, state)

    def _deliver(self, instance_uuid: str, transition: int, state: str) -> None:
        with self._lock:
            pending = self._pending.pop(instance_uuid, None)
            if pending is not None:
                pending.cancel()
            if transition == virtevent.EVENT_LIFECYCLE_STOPPED and self.stop_delay > 0:
                timer = threading.Timer(self.stop_delay, self._emit, (instance_uuid, transition, state))
                timer.daemon = True
                self._pending[instance_uuid] = timer
                timer.start()
                return
        self._emit(instance_uuid, transition, state)

    def _emit(self, instance_uuid: str, transition: int, state: str) -> None:
        with self._lock:
            self._pending.pop(instance_uuid, None)
            if self._last.get(instance_uuid) == transition:
                return  # several events for one change (state, then current values) report it once
            self._last[instance_uuid] = transition
        LOG.info("Instance %s: partition state %s -> lifecycle event %s", instance_uuid, state, transition)
        self.emit(virtevent.LifecycleEvent(instance_uuid, transition))

    def stop(self) -> None:
        """Cancel held-back events (on driver shutdown)."""
        with self._lock:
            for timer in self._pending.values():
                timer.cancel()
            self._pending.clear()
