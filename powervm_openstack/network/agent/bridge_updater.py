"""Converge one network bridge to the VLANs wanted on it: one read, one update per pass.

Concurrency: the update carries the bridge's ETag; a 412 (someone else changed the bridge)
re-reads and re-plans. A busy VIOS, a 5xx or a dropped connection is retried with backoff; a
400 (firmware refused the change) is not retried and raises ``PowerVMApiError`` with the
firmware's message. Callers serialise calls per agent (one worker thread).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Iterable

from pypowervm import adapter as pvm_adapter
from pypowervm import const as pvm_const
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import bridges, vlan_plan
from powervm_openstack.network.exceptions import PowerVMApiError

LOG = logging.getLogger(__name__)

_CONFLICT_TRIES = 20
_TRANSIENT_TRIES = 6


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The bridge after converging: its VLANs, and what the plan refused or left for later."""

    present: frozenset[int]
    refused: tuple[vlan_plan.Refusal, ...] = ()
    deferred: frozenset[int] = frozenset()
    changed: bool = False


class BridgeUpdater:
    def __init__(self, adapter: pvm_adapter.Adapter, host_uuid: str) -> None:
        self.adapter = adapter
        self.host_uuid = host_uuid
        self._vswitches: dict[int, pvm_net.VSwitch] = {}
        self._orphans: dict[str, set[int]] = {}

    def read(self, bridge_uuid: str) -> pvm_net.NetBridge:
        resp = self.adapter.read(pvm_ms.System.schema_type, root_id=self.host_uuid,
                                 child_type=pvm_net.NetBridge.schema_type, child_id=bridge_uuid)  # fmt: skip
        return pvm_net.NetBridge.wrap(resp)

    def read_all(self) -> list[pvm_net.NetBridge]:
        return pvm_net.NetBridge.get(self.adapter, parent_type=pvm_ms.System, parent_uuid=self.host_uuid)

    def refresh_orphans(self, bridge_list: Iterable[pvm_net.NetBridge]) -> None:
        """Re-read the VLANs bridged by VIOS trunk adapters outside any SEA (one VIOS feed GET)."""
        vioses = pvm_vios.VIOS.get(self.adapter, xag=[pvm_const.XAG.VIO_NET])
        self._orphans = {b.uuid.lower(): bridges.orphan_vlans(b, vioses) for b in bridge_list}

    def refresh_vswitches(self) -> None:
        """Re-read the host's virtual switches (one GET), so that opening a trunk in a batch needs no read."""
        switches = pvm_net.VSwitch.get(self.adapter, parent_type=pvm_ms.System, parent_uuid=self.host_uuid)
        self._vswitches = {int(vswitch.switch_id): vswitch for vswitch in switches}

    def converge(
        self,
        bridge_uuid: str,
        wanted: Iterable[int],
        in_use: Iterable[int] = (),
        cleanup: bool = False,
        max_removals: int | None = None,
        recheck: Callable[[], Iterable[int]] | None = None,
    ) -> Outcome:
        """Put ``wanted`` on the bridge (and, with ``cleanup``, take off what nobody uses).

        :param recheck: called once a plan would remove VLANs, just before the update is sent: the
            VLANs in use now (from a scan taken after the decision). What it names is kept; this
            closes the window in which an adapter made after the caller's last scan loses its VLAN.
        """
        wanted, in_use = frozenset(wanted), frozenset(in_use)
        for attempt in range(1, _CONFLICT_TRIES + 1):
            bridge = self._with_retries(lambda: self.read(bridge_uuid), f"read bridge {bridge_uuid}")
            state = _state(bridge)
            plan = self._plan(bridge_uuid, state, wanted, in_use, cleanup, max_removals)
            if recheck is not None and (plan.removals or plan.dropped_trunks):
                still_used = frozenset(recheck()) & frozenset().union(*plan.removals.values(), plan.deferred_removals)
                if still_used:
                    LOG.info("Bridge %s: VLANs %s gained a user since the last scan; kept", bridge_uuid,
                             sorted(still_used))  # fmt: skip
                    in_use |= still_used
                    plan = self._plan(bridge_uuid, state, wanted, in_use, cleanup, max_removals)
            if plan.is_empty:
                return Outcome(vlan_plan.bridge_vlans(state), plan.refused, plan.deferred_removals)
            bridges.apply(self.adapter, bridge, plan, self._vswitch(state.vswitch_id))
            if self._update(bridge, plan, attempt):
                after = vlan_plan.apply_plan(state, plan)
                return Outcome(vlan_plan.bridge_vlans(after), plan.refused, plan.deferred_removals, changed=True)
        raise PowerVMApiError(f"Bridge {bridge_uuid} kept changing under us: gave up after {_CONFLICT_TRIES} tries.")

    def _plan(self, uuid: str, state: vlan_plan.Bridge, wanted: frozenset[int], in_use: frozenset[int],
              cleanup: bool, max_removals: int | None) -> vlan_plan.VlanPlan:  # fmt: skip
        orphans = self._orphans.get(uuid.lower(), ())
        return vlan_plan.plan(state, wanted, in_use=in_use, orphans=orphans, cleanup_enabled=cleanup,
                              max_removals=max_removals)  # fmt: skip

    def _update(self, bridge: pvm_net.NetBridge, plan: vlan_plan.VlanPlan, attempt: int) -> bool:
        """POST the bridge; False on a 412 (re-plan), True on success."""
        try:
            self._with_retries(bridge.update, f"update bridge {bridge.uuid}")
        except pvm_exc.HttpError as exc:
            status = exc.response.status if exc.response is not None else None
            if status == 412:
                LOG.info("Bridge %s changed meanwhile (412, attempt %d): re-reading and re-planning",
                         bridge.uuid, attempt)  # fmt: skip
                time.sleep(random.uniform(0, min(1.0, 0.05 * attempt)))
                return False
            raise PowerVMApiError(f"PowerVM refused the update of bridge {bridge.uuid}: {_message(exc)}") from exc
        LOG.info("Bridge %s updated: added %s, new trunks %s, removed %s, dropped trunks %s",
                 bridge.uuid, _fmt(plan.additions), [sorted(t.vlans) for t in plan.new_trunks],
                 _fmt(plan.removals), sorted(plan.dropped_trunks))  # fmt: skip
        return True

    def _with_retries(self, call, what: str):  # noqa: ANN001, ANN202 - small private helper
        for attempt in range(1, _TRANSIENT_TRIES + 1):
            try:
                return call()
            except pvm_exc.HttpError as exc:
                status = exc.response.status if exc.response is not None else None
                if not _is_transient(exc, status) or attempt == _TRANSIENT_TRIES:
                    raise
                LOG.warning("%s: PowerVM answered %s (%s); retry %d", what, status, _message(exc), attempt)
            except (pvm_exc.ConnectionError, pvm_exc.TimeoutError) as exc:
                if attempt == _TRANSIENT_TRIES:
                    raise
                LOG.warning("%s: %s; retry %d", what, str(exc).splitlines()[0][:160], attempt)
            time.sleep(min(5.0, 0.2 * 2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def _vswitch(self, switch_id: int) -> pvm_net.VSwitch:
        if switch_id not in self._vswitches:
            for vswitch in pvm_net.VSwitch.get(self.adapter, parent_type=pvm_ms.System, parent_uuid=self.host_uuid):
                self._vswitches[int(vswitch.switch_id)] = vswitch
        return self._vswitches[switch_id]


def _state(bridge: pvm_net.NetBridge) -> vlan_plan.Bridge:
    """The planner's view of a bridge; a document that does not make sense is refused, not guessed at."""
    try:
        return bridges.state_of(bridge)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise PowerVMApiError(
            f"The REST API returned a malformed NetworkBridge {bridge.uuid} ({type(exc).__name__}: {exc}); "
            "no change is made to it"
        ) from exc


def _is_transient(exc: pvm_exc.HttpError, status: int | None) -> bool:
    """A 5xx or a busy VIOS; the busy test lives on pypowervm's wrapper of the error body, when it parsed."""
    her = getattr(exc, "her_wrap", None)
    return (status is not None and status >= 500) or (her is not None and her.is_vios_busy())


def _message(exc: pvm_exc.HttpError) -> str:
    her = getattr(exc, "her_wrap", None)
    return her.message if her is not None and her.message else str(exc).splitlines()[0][:300]


def _fmt(changes: dict[int, frozenset[int]]) -> dict[int, list[int]]:
    return {pvid: sorted(vlans) for pvid, vlans in changes.items()}
