"""A journaled campaign run shared by the journal tests (one simulation per test session)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hlmaker.chaos.harness import RunResult, simulate
from hlmaker.chaos.scenarios import SCENARIOS


@pytest.fixture(scope="session")
def journaled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    """The F9 scenario (every actor crashes once — the book too, so the journal holds two
    book incarnations), 61 simulated seconds, journaled: the recorder's once-a-minute snapshot
    falls at 60 s, strictly inside the run (at exactly 60 s it tied with the run's end, and which
    came first depended on the order trio ran the tasks in that instant)."""
    path = tmp_path_factory.mktemp("journal") / "f9.sqlite"
    spec = dataclasses.replace(SCENARIOS["F9"].spec(), journal=str(path), sim_seconds=61.0,
                               quiet_s=6.0)
    result = simulate(spec)
    assert result.error is None, f"seed={spec.seed}: {result.error}"
    return path, result
