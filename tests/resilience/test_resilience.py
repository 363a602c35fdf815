"""The network agent under faults and load (issue: networking under faults and load).

``test_resilience_short`` runs in the normal suite (a couple of minutes); the long run is
``./run test -m resilience_long`` (``PVM_RESILIENCE_MINUTES``, default 30). Set
``PVM_RESILIENCE_SEED`` to replay a sequence. Each run prints its summary table and writes it
as JSON next to the run's logs.
"""

from __future__ import annotations

import json
import os
import random
import time

import pytest

from tests.resilience.scenario import Scenario
from tests.resilience.world import World

pytestmark = pytest.mark.integration

#: After the faults stop, every plugged port must be ACTIVE with its VLAN on every SEA within this.
LIVENESS_BOUND_S = 120
HEAL_INTERVAL_S = 30
VLANS = [1500 + i for i in range(8)]
LONG_MINUTES = float(os.environ.get("PVM_RESILIENCE_MINUTES", "30"))


@pytest.fixture(scope="module")
def neutron(neutron_server):
    return neutron_server(mechanism_drivers=("pvm_sea",))


#: The short run in the normal suite always plays this sequence, so that whether a change lands does
#: not depend on luck; the long run draws a new seed each time. ``PVM_RESILIENCE_SEED`` overrides both.
SHORT_SEED = 20261201


def _seed(default: int | None) -> int:
    chosen = os.environ.get("PVM_RESILIENCE_SEED") or default
    return int(chosen or random.SystemRandom().randrange(1, 10**6))


def _run(neutron, service_run, operations: int | None, seconds: float | None, vms: int, seed: int) -> dict:
    print(f"resilience seed {seed}")
    try:
        return _run_seeded(neutron, service_run, operations, seconds, vms, seed)
    except Exception as exc:  # whatever failed, the seed replays it
        exc.add_note(f"resilience seed {seed}; replay: PVM_RESILIENCE_SEED={seed} ./run test tests/resilience")
        raise


def _run_seeded(neutron, service_run, operations: int | None, seconds: float | None, vms: int, seed: int) -> dict:
    world = World(neutron, service_run, VLANS, vms=vms, heal=HEAL_INTERVAL_S, seed=seed)
    try:
        _wait(lambda: _agent_alive(world), "the SEA agent alive", 90)
        scenario = Scenario(world, seed)
        started = time.monotonic()
        scenario.run(operations=operations, seconds=seconds)
        scenario.quiesce()
        converged = _liveness(world, scenario)
        stale = _no_stale_vlans(world, scenario)
        secrets = _secrets_in_logs(world)
        duplicates = world.duplicates()
        summary = _summary(scenario, seed, time.monotonic() - started, converged, stale, secrets, duplicates)
        (world.work / "resilience-summary.json").write_text(json.dumps(summary, indent=2))
        print(_table(summary))
        _fail_on_violations(scenario, summary)
        return summary
    finally:
        world.close()


def _agent_alive(world: World) -> bool:
    agents = world.neutron.get("/v2.0/agents", params={"host": world.host})["agents"]
    return any(a["alive"] for a in agents)


def _wait(check, what: str, timeout: float) -> float:  # noqa: ANN001
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"{what} not reached within {timeout}s")


def _liveness(world: World, scenario: Scenario) -> float | None:
    """Invariants 2 and 4: every plugged port ACTIVE with its VLAN on every SEA, within the bound."""

    def converged() -> bool:
        plugged = [s for s in scenario.slots.values() if s.port]
        seas = world.sea_vlans()
        return all(world.port_status(s.port["id"]) == "ACTIVE" and all(s.vlan in v for v in seas) for s in plugged)

    try:
        return _wait(converged, "convergence", LIVENESS_BOUND_S)
    except AssertionError:
        seas = world.sea_vlans()
        for name, slot in scenario.slots.items():
            if slot.port:
                status = world.port_status(slot.port["id"])
                print(f"not converged: {name} port {slot.port['id']} {status}, VLAN {slot.vlan} on SEAs "
                      f"{[slot.vlan in v for v in seas]}")  # fmt: skip
        return None


def _no_stale_vlans(world: World, scenario: Scenario) -> dict[str, list[int]]:
    """Invariant 3: after two heal passes, no VLAN without a user is left on a bridge."""
    heals = world.heal_count()
    _wait(lambda: world.heal_count() >= heals + 2, "two heal passes", 4 * HEAL_INTERVAL_S + 60)
    scenario.checker.poll()
    static = {b.uuid: frozenset({int(b.pvid)}) for b in world.bridges()}
    return {uuid: sorted(v) for uuid, v in scenario.checker.unused_vlans(static).items() if v}


def _secrets_in_logs(world: World) -> list[str]:
    return [str(path) for path in world.logs() if path.exists() and world.password in path.read_text(errors="replace")]


def _summary(
    scenario: Scenario,
    seed: int,
    seconds: float,
    converged: float | None,
    stale: dict,
    secrets: list,
    duplicates: list[str],
) -> dict:
    checker = scenario.checker
    violations = [f"{v.invariant}: {v.detail} (change {v.change_id})" for v, _ in scenario.violation_ops]
    if converged is None:
        violations.append(f"liveness: not converged within {LIVENESS_BOUND_S}s after the faults stopped")
    violations += [
        f"no-stale: bridge {uuid} kept unused VLANs {vlans} after two heal passes" for uuid, vlans in stale.items()
    ]
    violations += [f"secrets: the REST password appears in {path}" for path in secrets]
    violations += [f"no duplicates: {found}" for found in duplicates]
    return {
        "seed": seed,
        "seconds": round(seconds, 1),
        "operations": dict(sorted(scenario.counts.items())),
        "operations_total": len(scenario.ops),
        "faults_injected": scenario.injected(),
        "invariant_checks": {
            "safety: VLAN removals checked against every existing adapter": checker.checks,
            "active: moves to ACTIVE checked against every SEA": checker.active_checks,
            "liveness and nothing lost: final convergence checks": 1,
            "no stale VLAN: final checks after two heal passes": 1,
            "no duplicates: final checks of trunks and adapters": 1,
            "secrets: logs searched for the REST password": len(scenario.world.logs()),
        },
        "converged_after_s": None if converged is None else round(converged, 1),
        "client_errors_during_faults": len(scenario.errors),
        "violations": violations,
    }


def _table(summary: dict) -> str:
    rows = [("seed", summary["seed"]), ("duration (s)", summary["seconds"]),
            ("operations", summary["operations_total"])]  # fmt: skip
    rows += [(f"  {name}", count) for name, count in summary["operations"].items()]
    rows += [("faults injected", "")] + [(f"  {k}", v) for k, v in summary["faults_injected"].items()]
    rows += [("invariant checks", "")] + [(f"  {k}", v) for k, v in summary["invariant_checks"].items()]
    rows += [("converged after faults stopped (s)", summary["converged_after_s"]),
             ("violations", len(summary["violations"]))]  # fmt: skip
    width = max(len(str(r[0])) for r in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _fail_on_violations(scenario: Scenario, summary: dict) -> None:
    if not summary["violations"]:
        return
    lines = [f"{len(summary['violations'])} violation(s), seed {summary['seed']}:", *summary["violations"]]
    for violation, _ in scenario.violation_ops[:1]:
        lines += ["shortest sequence:", *scenario.reproducer(violation)]
    lines.append(f"replay: PVM_RESILIENCE_SEED={summary['seed']} ./run test tests/resilience")
    pytest.fail("\n".join(lines), pytrace=False)


def test_resilience_short(neutron, service_run):
    operations = int(os.environ.get("PVM_RESILIENCE_OPS", "60"))
    _run(neutron, service_run, operations=operations, seconds=None, vms=8, seed=_seed(SHORT_SEED))


@pytest.mark.resilience_long
@pytest.mark.timeout(int(LONG_MINUTES * 60 + 1200))  # the run, then convergence and two heal passes
def test_resilience_long(neutron, service_run):
    _run(neutron, service_run, operations=None, seconds=LONG_MINUTES * 60, vms=16, seed=_seed(None))
