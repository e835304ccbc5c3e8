"""The fault catalogue F1–F19 as scripted scenarios: each injects its fault, shows its mark
(the recovery path ran), violates no invariant and ends converged with nothing resting."""

from __future__ import annotations

import pytest

from hlmaker.chaos.scenarios import SCENARIOS, run_scenario


@pytest.mark.parametrize("fault", list(SCENARIOS))
def test_scenario(fault: str) -> None:
    sc = SCENARIOS[fault]
    result, problems = run_scenario(fault)
    assert not problems, (
        f"scenario {fault} (seed {sc.seed}; reproduce: hlmaker chaos --scenario {fault}) "
        f"failed:\n  " + "\n  ".join(problems))
    assert result.faults[fault] >= 1, f"scenario {fault}: the fault was never injected"


def test_every_fault_has_a_scenario() -> None:
    assert list(SCENARIOS) == [f"F{i}" for i in range(1, 20)]
