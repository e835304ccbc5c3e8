"""hlmaker lives within the exchange's per-IP REST weight (1,200/min, protocol reference §8):
a fault-free run against the simulator with its default limits draws no HTTP 429."""

from __future__ import annotations

from hlmaker.chaos.harness import RunSpec, simulate
from hlmaker.chaos.plan import FaultPlan

SEED = 7


def test_a_fault_free_run_with_the_default_ip_limit_draws_no_429() -> None:
    r = simulate(RunSpec(seed=SEED, sim_seconds=120.0, plan=FaultPlan()))
    assert r.fault_kinds == {} and not r.violations, f"seed {SEED}: {r.violations[:3]}"
    # counted by the simulator (its own 429s for the weight) and by the bot
    assert r.exchange["ip_429"] == 0 and r.executor["ip_429_seen"] == 0, \
        f"seed {SEED}: {r.exchange} {r.executor}"
    # the reconciler's sweeps alone would use ~750/min; the window got close to the reads'
    # share (900) and never past the limit
    assert 600 <= r.exchange["ip_weight_peak"] <= 1200, f"seed {SEED}: {r.exchange}"
    assert r.executor["ip_weight_peak"] <= 1200
