"""One seed of a campaign: :func:`run_seed` → :class:`SeedResult` (picklable, JSON-able).

``run_seed(seed, sim_minutes, faults)`` draws the seed's swarm plan over the allowed faults
(:func:`~.swarm.swarm_plan`), runs it (:func:`~.harness.simulate`) with the last
:func:`quiet_seconds` fault-free for the liveness checks, and condenses the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from hlmaker.chaos.harness import RunResult, RunSpec, simulate
from hlmaker.chaos.plan import FAULT_IDS
from hlmaker.chaos.swarm import swarm_plan


def quiet_seconds(sim_seconds: float) -> float:
    """The fault-free tail of a run: a third of it, between 20 and 90 s."""
    return min(90.0, max(20.0, sim_seconds / 3))


@dataclass
class SeedResult:
    """The condensed outcome of one seed (what a campaign aggregates)."""

    seed: int
    digest: str
    violations: list[dict[str, Any]]
    faults_injected: dict[str, int]
    plan: str
    sim_seconds: float
    wall_seconds: float
    steps: int
    events: int
    stats: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    core_digest: str = ""
    """SHA-256 of every order-core step (:attr:`~.harness.RunResult.core_digest`)."""

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def condense(result: RunResult, plan_name: str) -> SeedResult:
    """A :class:`SeedResult` from a full :class:`RunResult`."""
    stats = asdict(result.check)
    stats.update(
        last_fault_s=result.last_fault_s, shutdown_confirmed=result.shutdown_confirmed,
        exchange=result.exchange, executor=result.executor,
    )
    return SeedResult(
        seed=result.seed, digest=result.digest,
        violations=[{"t_s": v.t_s, "invariant": v.invariant, "detail": v.detail}
                    for v in result.violations],
        faults_injected={k: v for k, v in result.faults.items() if k in FAULT_IDS},
        plan=plan_name, sim_seconds=result.sim_seconds, wall_seconds=result.wall_seconds,
        steps=result.steps, events=result.events, stats=stats, counters=result.counters,
        restarts=result.restarts, error=result.error, core_digest=result.core_digest)


def run_seed(seed: int, sim_minutes: float, faults: Iterable[str] | None = None) -> SeedResult:
    """Run ``seed`` for ``sim_minutes`` simulated minutes in swarm mode over ``faults``
    (catalogue ids; default all)."""
    sim_seconds = sim_minutes * 60.0
    quiet = quiet_seconds(sim_seconds)
    plan = swarm_plan(seed, sim_seconds, quiet, faults)
    result = simulate(RunSpec(seed=seed, sim_seconds=sim_seconds, plan=plan, quiet_s=quiet,
                              label=plan.name))
    return condense(result, plan.name)
