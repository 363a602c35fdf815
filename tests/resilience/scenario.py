"""Random port plug/unplug sequences over many VMs and VLANs, with faults injected meanwhile.

A scenario is reproducible from its seed. Operations play nova's part (a port, then the VM's
client adapter and the plug notification; boot only once the port is ACTIVE; power off before
unplugging) and an operator's or the world's part (the faults). The invariant checker runs
between operations; a violation is reported with the seed and the shortest sequence that led to
it (the operations on the VLAN involved, plus every fault, up to the violation).
"""

from __future__ import annotations

import collections
import dataclasses
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from pypowervm.tasks import network_bridger as bridger

from tests.resilience.invariants import ChangeLogChecker, Violation
from tests.resilience.world import World

FAULTS = (
    "storm_412", "other_client", "server_error", "vios_busy", "drop", "latency_spike", "session_expiry",
    "event_loss", "simulator_restart", "rabbitmq_restart", "rpc_server_restart", "agent_restart",
    "lost_reply",
)  # fmt: skip
#: Faults that fire after the change is committed: the reply is lost, the change is not.
AFTER_COMMIT_KINDS = ("server_error", "vios_busy", "drop")
OTHER_CLIENT_VLAN = 3990


@dataclasses.dataclass
class Op:
    index: int
    name: str
    vm: str = ""
    vlan: int | None = None

    def __str__(self) -> str:
        target = f" {self.vm}" if self.vm else ""
        return f"#{self.index} {self.name}{target}{f' vlan={self.vlan}' if self.vlan else ''}"


@dataclasses.dataclass
class Slot:
    """One VM's port as nova would track it."""

    port: dict | None = None
    cna: Any = None
    vlan: int | None = None
    running: bool = False


class Scenario:
    def __init__(self, world: World, seed: int, faults: tuple[str, ...] = FAULTS) -> None:
        self.world = world
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults = faults
        self.slots = {vm.name: Slot() for vm in world.vms}
        self.vms = {vm.name: vm for vm in world.vms}
        self.vlans = sorted(world.networks)
        self.ops: list[Op] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.checker = ChangeLogChecker(world.sim.url)
        self.checker.snapshot(world.adapters(), world.bridges(), world.partitions())
        self.violation_ops: list[tuple[Violation, int]] = []
        self.schedule: dict[int, str] = {}
        self.broken: list[Slot] = []  # half-made or half-removed ports, finished once faults stop
        self.errors: list[str] = []
        self.last_status: dict[str, str] = {}  # port id -> status last seen, to spot each move to ACTIVE

    # -- the run ---------------------------------------------------------------------------
    def run(self, operations: int | None = None, seconds: float | None = None) -> None:
        """Run ``operations`` operations (every fault kind at least once, at random places) or for ``seconds``."""
        if operations:
            places = self.rng.sample(range(1, operations + 1), min(len(self.faults), operations))
            self.schedule = dict(zip(places, self.rng.sample(self.faults, len(places)), strict=True))
        deadline = time.monotonic() + (seconds or 1e9)
        while (operations is None or len(self.ops) < operations) and time.monotonic() < deadline:
            op = self._next()
            self.ops.append(op)
            self.counts[op.name] += 1
            try:
                self._do(op)
            except Exception as exc:  # a fault may fail nova's call too; nova would retry or fail the VM
                self.errors.append(f"{op}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            for violation in self.checker.poll() + self._check_transitions():
                self.violation_ops.append((violation, len(self.ops)))
            time.sleep(self.rng.uniform(0, 0.3))

    def _check_transitions(self) -> list[Violation]:
        """Invariant 2 at every transition: each port newly seen ACTIVE has its VLAN on every SEA already."""
        try:
            ports = self.world.port_statuses()
        except Exception:  # neutron may be restarting; the next poll catches up
            return []
        found = []
        for slot in [s for s in self.slots.values() if s.port and s.cna is not None]:
            port_id = slot.port["id"]
            status = ports.get(port_id)
            if status == "ACTIVE" and self.last_status.get(port_id) != "ACTIVE":
                found += self.checker.check_active(port_id, slot.cna.uuid, slot.vlan)
            if status:
                self.last_status[port_id] = status
        return found

    def _next(self) -> Op:
        index = len(self.ops) + 1
        if index in self.schedule:
            return Op(index, self.schedule[index])
        if self.faults and self.rng.random() < 0.12:
            return Op(index, self.rng.choice(self.faults))
        vm = self.rng.choice(sorted(self.slots))
        slot = self.slots[vm]
        if slot.port is None:
            return Op(index, "plug", vm, self.rng.choice(self.vlans))
        if not slot.running and self.rng.random() < 0.6:
            return Op(index, "boot", vm, slot.vlan)
        return Op(index, "unplug", vm, slot.vlan)

    def _do(self, op: Op) -> None:
        action: Callable[[Op], None] = getattr(self, f"_op_{op.name}")
        action(op)

    # -- nova's operations -----------------------------------------------------------------
    def _op_plug(self, op: Op) -> None:
        slot, vm = self.slots[op.vm], self.vms[op.vm]
        slot.port, slot.vlan = self.world.create_port(vm, op.vlan), op.vlan
        try:
            slot.cna = self.world.create_adapter(vm, slot.port, op.vlan)
        except Exception:
            # nova fails the spawn and removes what it made, including an adapter whose creation
            # was committed though its reply was lost
            slot.cna = self.world.find_adapter(vm, slot.port)
            self.broken.append(slot)
            self.slots[op.vm] = Slot()
            raise

    def _op_boot(self, op: Op) -> None:
        slot = self.slots[op.vm]
        if self.world.port_status(slot.port["id"]) == "ACTIVE":  # nova waits for network-vif-plugged
            self.world.power(self.vms[op.vm], on=True)
            slot.running = True

    def _op_unplug(self, op: Op) -> None:
        slot = self.slots[op.vm]
        if slot.running:
            self.world.power(self.vms[op.vm], on=False)
            slot.running = False
        self.slots[op.vm] = Slot()
        self.broken.append(slot)
        self._tear_down(slot)
        self.broken.remove(slot)

    def _tear_down(self, slot: Slot) -> None:
        if slot.cna is not None:
            self.world.remove_adapter(slot.port, slot.cna)
            slot.cna = None
        if slot.port is not None:
            self.world.neutron.delete(f"/v2.0/ports/{slot.port['id']}")
            slot.port = None

    # -- faults ----------------------------------------------------------------------------
    def _rule(self, **rule: Any) -> None:
        requests.post(f"{self.world.sim.url}/sim/faults", json=rule, timeout=10).raise_for_status()

    def _op_storm_412(self, op: Op) -> None:
        self._rule(kind="etag_mismatch", method="POST", path="NetworkBridge", rate=0.7, count=6)

    def _op_other_client(self, op: Op) -> None:
        """Another client changes the same bridge concurrently: genuine 412s for the agent."""
        bridge = self.world.bridges()[0].uuid
        pvm, host = self.world.pvm, self.world.pvm.sys_uuid

        def churn() -> None:
            for _ in range(3):
                bridger.ensure_vlan_on_nb(pvm, host, bridge, OTHER_CLIENT_VLAN)
                bridger.remove_vlan_from_nb(pvm, host, bridge, OTHER_CLIENT_VLAN)

        thread = threading.Thread(target=churn, daemon=True)
        thread.start()
        thread.join(timeout=60)

    def _op_server_error(self, op: Op) -> None:
        self._rule(
            kind="server_error", status=self.rng.choice([500, 502, 503]), path="NetworkBridge|VirtualIOServer", count=3
        )

    def _op_vios_busy(self, op: Op) -> None:
        self._rule(kind="vios_busy", path="NetworkBridge|ClientNetworkAdapter", count=3)

    def _op_drop(self, op: Op) -> None:
        self._rule(kind="drop", path="NetworkBridge|LogicalPartition", count=2)

    def _op_latency_spike(self, op: Op) -> None:
        self._rule(kind="latency", latency_ms=400, jitter_ms=400, count=15)

    def _op_session_expiry(self, op: Op) -> None:
        self._rule(kind="session_expiry", path="NetworkBridge", count=1)

    def _op_event_loss(self, op: Op) -> None:
        signalled = self.rng.random() < 0.5
        requests.post(f"{self.world.sim.url}/sim/events/lose", json={"signalled": signalled}, timeout=10)

    def _op_simulator_restart(self, op: Op) -> None:
        self._rule(kind="latency", method="POST", path="NetworkBridge", latency_ms=300, count=2)
        self.world.restart_simulator()  # rules are gone with the process; state is not

    def _op_rabbitmq_restart(self, op: Op) -> None:
        self.world.run.rabbitmq.close_connections(self.world.neutron.vhost)

    def _op_rpc_server_restart(self, op: Op) -> None:
        self.world.neutron.restart_rpc_server(kill=self.rng.random() < 0.5)

    def _op_lost_reply(self, op: Op) -> None:
        """A change is committed but its reply is lost (5xx, VIOS busy or a dropped connection after commit)."""
        kind = self.rng.choice(AFTER_COMMIT_KINDS)
        target = self.rng.choice([("POST", "NetworkBridge"), ("PUT", "ClientNetworkAdapter")])
        rule = {"kind": kind, "when": "after", "method": target[0], "path": target[1], "count": 2}
        if kind == "server_error":
            rule["status"] = self.rng.choice([500, 503])
        self._rule(**rule)

    def _op_agent_restart(self, op: Op) -> None:
        time.sleep(self.rng.uniform(0, 0.4))  # somewhere inside whatever batch is in flight
        self.world.restart_agent()

    # -- after the faults ------------------------------------------------------------------
    def quiesce(self) -> None:
        """Stop the faults, and finish what nova left half done (as its periodic tasks would)."""
        requests.delete(f"{self.world.sim.url}/sim/faults", timeout=10)
        if not self.world.agent.alive():
            self.world.agent.start()
        for slot in list(self.broken):
            for _attempt in range(5):
                try:
                    self._tear_down(slot)
                    self.broken.remove(slot)
                    break
                except Exception:
                    time.sleep(2)

    def injected(self) -> dict[str, int]:
        server = requests.get(f"{self.world.sim.url}/sim/faults", timeout=10).json()["injected"]
        by_kind = {name: self.counts[name] for name in FAULTS if self.counts[name]}
        by_kind.update({f"sim:{k}": v for k, v in server.items()})
        return by_kind

    def reproducer(self, violation: Violation) -> list[str]:
        """The shortest known sequence: ops on the violating VLAN and every fault, up to the violation."""
        upto = next(n for v, n in self.violation_ops if v is violation)
        vlan = int(violation.detail.split()[1])
        return [str(op) for op in self.ops[:upto] if op.vlan == vlan or op.name in FAULTS]
