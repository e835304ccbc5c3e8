"""Seeds that found real bugs in hlmaker, kept as regression tests.

Each seed failed before its fix and passes after it (checked by running the campaign with the
fixes reverted; the swarm plan generator of this commit is part of a seed's meaning — if
``swarm_plan`` changes, re-derive the seeds). Seeds inside the CI campaign's range run there
(``test_campaign.py``); the others run here.
"""

from __future__ import annotations

import pytest

from hlmaker.chaos.runner import run_seed
from tests.chaos.test_campaign import CI_SEEDS, CI_SIM_MINUTES

REGRESSIONS: list[tuple[int, float, str]] = [
    (18, 2, "WS post answered with an error (a 5xx after the action landed) was taken as a "
            "refusal: orders believed rejected rested on the exchange (actors/posting.py)"),
    (41, 2, "same as seed 18"),
    (19, 2, "'duplicate nonce' for a WS post whose connection died, re-sent over REST in the "
            "same attempt, was taken as a refusal (actors/executor.py)"),
    (53, 2, "same as seed 19"),
    (64, 2, "same as seed 19"),
    (52, 2, "a refusal of a re-send after a copy may have landed (rate limit, expiry) was "
            "taken as a refusal of the action (actors/executor.py)"),
    (24, 2, "a rejected batchModify replacement seen first rebound the cloid and made the "
            "order 'resting' (orders/core.py)"),
    (32, 2, "same as seed 24"),
    (46, 2, "a late 'canceled' of an older replaced oid was taken for the cancel of the leg a "
            "later, refused, modify was replacing: a live order finalized (orders/core.py)"),
    (34, 2, "the reconciler read fills before the position: a fill between the reads was in the "
            "adopted position and counted again when it arrived (actors/reconciler.py)"),
    (59, 2, "same as seed 34"),
    (36, 2, "the WS heartbeat spun forever when woken exactly at its silence deadline (float "
            "rounding) (hyperliquid/ws.py)"),
    (7050, 10, "a book restarted after a crash took a sweep windowed for the dead incarnation "
               "as its first sync; older fills were counted again (orders/reconcile.py)"),
    (524, 10, "a backward wall-clock jump between a sweep's request and a fill made the book's "
              "own finalize look older than the sweep (actors/book.py: the book's time is "
              "now monotonic)"),
    (1008, 10, "an orderStatus naming a rejected modify replacement rebound the cloid to it "
               "(orders/reconcile.py)"),
    (919, 10, "a restarted book waited out the reconciler's 30 s retry backoff, blind, with "
              "our orders resting unmanaged (actors/reconciler.py: startup resets it)"),
]


def test_regression_seeds_inside_the_ci_campaign_are_run_there() -> None:
    inside = [s for s, m, _ in REGRESSIONS if s in CI_SEEDS and m == CI_SIM_MINUTES]
    assert inside, "the CI campaign should cover some regression seeds"


@pytest.mark.parametrize(("seed", "minutes", "bug"), [
    r for r in REGRESSIONS if not (r[0] in CI_SEEDS and r[1] == CI_SIM_MINUTES)])
def test_regression_seed(seed: int, minutes: float, bug: str) -> None:
    r = run_seed(seed, minutes)
    assert not r.violations, (
        f"seed {seed} ({minutes:g} min) regressed — {bug}\n  reproduce: hlmaker chaos --seed "
        f"{seed} --sim-minutes {minutes:g}\n  {r.violations[:3]}")
