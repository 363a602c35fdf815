"""Converge one network bridge to the VLANs wanted on it: at most one update per pass, no read.

The bridge document comes from the agent's :class:`HostView` (the last one read or answered by an
update). Concurrency: the update carries that document's ETag; a 412 (someone else changed the
bridge) re-reads and re-plans. A busy VIOS, a 5xx or a dropped connection is retried with
backoff. A 400 (the firmware refused the change) first re-reads the orphan trunks once (a trunk
outside the SEAs made since the view last saw one is the usual cause; the planner then leaves
its VLAN out, as pypowervm's ``OrphanVLANFoundOnProvision`` did); if the update is refused
again, its new VLANs are bisected: each half is sent on its own, so the good VLANs go on (once)
and the refused one(s) come back as ``Refusal(FIRMWARE)`` with the firmware's message. A 400 on
an update that adds nothing raises ``PowerVMApiError``. Callers serialise calls per agent.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Iterable

from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.network import bridges, vlan_plan
from powervm_openstack.network.agent.host_view import HostView
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


class _Refused400(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BridgeUpdater:
    def __init__(self, adapter: pvm_adapter.Adapter, host_uuid: str, view: HostView | None = None) -> None:
        self.adapter = adapter
        self.host_uuid = host_uuid
        self.view = view or HostView(adapter, host_uuid)

    def read_all(self) -> list[pvm_net.NetBridge]:
        found = pvm_net.NetBridge.get(self.adapter, parent_type="ManagedSystem", parent_uuid=self.host_uuid)
        for bridge in found:
            self.view.store_bridge(bridge)
        return found

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
        return self._converge(bridge_uuid, frozenset(wanted), frozenset(in_use), cleanup, max_removals, recheck,
                              orphans_checked=False)  # fmt: skip

    def _converge(self, bridge_uuid: str, wanted: frozenset[int], in_use: frozenset[int], cleanup: bool,
                  max_removals: int | None, recheck: Callable[[], Iterable[int]] | None,
                  orphans_checked: bool) -> Outcome:  # fmt: skip
        for attempt in range(1, _CONFLICT_TRIES + 1):
            bridge = self._with_retries(lambda: self.view.bridge(bridge_uuid), f"read bridge {bridge_uuid}")
            try:
                state = _state(bridge)
            except PowerVMApiError:
                self.view.forget_bridge(bridge_uuid)  # a spoiled answer must not become the cached document
                raise
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
            bridges.apply(self.adapter, bridge, plan, self.view.vswitch(state.vswitch_id))
            try:
                updated = self._update(bridge, plan, attempt)
            except _Refused400 as refusal:
                return self._refused(bridge_uuid, state, wanted, plan, refusal.message, orphans_checked)
            if updated is None:
                continue
            after = vlan_plan.bridge_vlans(_state(updated))
            return Outcome(after, plan.refused, plan.deferred_removals, changed=True)
        raise PowerVMApiError(f"Bridge {bridge_uuid} kept changing under us: gave up after {_CONFLICT_TRIES} tries.")

    def _refused(self, uuid: str, state: vlan_plan.Bridge, wanted: frozenset[int], plan: vlan_plan.VlanPlan,
                 message: str, orphans_checked: bool) -> Outcome:  # fmt: skip
        """The firmware refused an update: find the VLAN(s) it refuses, put the others on."""
        new = _new_vlans(plan)
        if not new:
            raise PowerVMApiError(f"PowerVM refused the update of bridge {uuid}: {message}")
        if not orphans_checked:
            LOG.info("Bridge %s: update with VLANs %s refused (%s); re-reading the orphan trunks", uuid,
                     sorted(new), message)  # fmt: skip
            self.view.orphans_stale()
            return self._converge(uuid, wanted, frozenset(), False, None, None, orphans_checked=True)
        if len(new) == 1:
            vlan = next(iter(new))
            refusal = vlan_plan.Refusal(vlan, vlan_plan.RefusalReason.FIRMWARE, message)
            return Outcome(vlan_plan.bridge_vlans(state), (*plan.refused, refusal))
        ordered = sorted(new)
        later = frozenset(ordered[len(ordered) // 2 :])
        LOG.info("Bridge %s: finding the refused VLAN(s) among %s: trying %s first", uuid, ordered,
                 sorted(new - later))  # fmt: skip
        first = self._converge(uuid, wanted - later, frozenset(), False, None, None, orphans_checked=True)
        refused_first = {r.vlan for r in first.refused}
        second = self._converge(uuid, wanted - refused_first, frozenset(), False, None, None, orphans_checked=True)
        refused = {r.vlan: r for r in (*first.refused, *second.refused)}
        return Outcome(second.present, tuple(refused[v] for v in sorted(refused)), second.deferred,
                       changed=first.changed or second.changed)  # fmt: skip

    def _plan(self, uuid: str, state: vlan_plan.Bridge, wanted: frozenset[int], in_use: frozenset[int],
              cleanup: bool, max_removals: int | None) -> vlan_plan.VlanPlan:  # fmt: skip
        adds = bool(wanted - vlan_plan.bridge_vlans(state))
        orphans = self.view.orphans(uuid, fresh=adds)  # fresh only before a VLAN goes on
        return vlan_plan.plan(state, wanted, in_use=in_use, orphans=orphans, cleanup_enabled=cleanup,
                              max_removals=max_removals)  # fmt: skip

    def _update(self, bridge: pvm_net.NetBridge, plan: vlan_plan.VlanPlan, attempt: int) -> pvm_net.NetBridge | None:
        """POST the bridge (If-Match: its cached ETag); the updated document, or None on a 412 (re-plan).

        :raises _Refused400: the firmware refused the change.
        """
        self.view.expect_echo(bridge.uuid)
        try:
            updated = self._with_retries(bridge.update, f"update bridge {bridge.uuid}")
        except pvm_exc.HttpError as exc:
            self.view.expect_echo(bridge.uuid, -1)
            status = exc.response.status if exc.response is not None else None
            if status == 412:
                LOG.info("Bridge %s changed meanwhile (412, attempt %d): re-reading and re-planning",
                         bridge.uuid, attempt)  # fmt: skip
                self.view.forget_bridge(bridge.uuid)
                time.sleep(random.uniform(0, min(1.0, 0.05 * attempt)))
                return None
            if status == 400:
                raise _Refused400(_message(exc)) from exc
            raise PowerVMApiError(f"PowerVM refused the update of bridge {bridge.uuid}: {_message(exc)}") from exc
        except Exception:
            self.view.expect_echo(bridge.uuid, -1)
            self.view.forget_bridge(bridge.uuid)  # a dropped answer: the update may or may not have happened
            raise
        self.view.store_bridge(updated)
        LOG.info("Bridge %s updated: added %s, new trunks %s, removed %s, dropped trunks %s",
                 bridge.uuid, _fmt(plan.additions), [sorted(t.vlans) for t in plan.new_trunks],
                 _fmt(plan.removals), sorted(plan.dropped_trunks))  # fmt: skip
        return updated

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


def _new_vlans(plan: vlan_plan.VlanPlan) -> frozenset[int]:
    return frozenset().union(*plan.additions.values(), *(t.vlans for t in plan.new_trunks))


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
