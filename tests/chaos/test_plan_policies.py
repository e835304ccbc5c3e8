"""The campaign's plans draw the start-up policy of F17 restarts, and F18's other client places
trigger orders — both seeded, deterministic."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from hlmaker.chaos.interventions import FOREIGN_CLOID_PREFIX, foreign_activity
from hlmaker.chaos.swarm import swarm_plan
from hlmaker.sim.engine import Engine

USER = "0x" + "ab" * 20


def _restart_policies(seed: int) -> list[str]:
    plan = swarm_plan(seed, 120.0, 40.0, ["F17"])
    return [e.on_start for e in plan.events if e.what == "process_crash"]


def test_f17_restarts_draw_adopt_or_cancel_per_seed_deterministically() -> None:
    drawn = [p for seed in range(1, 31) for p in _restart_policies(seed)]
    assert set(drawn) == {"adopt", "cancel"}
    assert all(_restart_policies(s) == _restart_policies(s) for s in range(1, 11))


class _Service:
    def publish(self, fx: Any, now_ms: int) -> None:
        pass


def test_f18_places_trigger_orders_without_our_prefix() -> None:
    engine = Engine()
    engine.fund(USER, Decimal(100_000))
    rng = random.Random(3)
    kinds = [foreign_activity(engine, _Service(), USER, "BTC", rng,  # type: ignore[arg-type]
                              lambda cloid: False, 1_700_000_000_000 + i) for i in range(40)]
    assert kinds.count("foreign_trigger") >= 3
    acct = engine.account(USER)
    assert acct is not None
    waiting = [o for o in acct.open_orders.values() if o.trigger is not None]
    assert waiting and all(o.waiting for o in waiting)
    assert all(o.cloid is None or o.cloid.startswith(FOREIGN_CLOID_PREFIX) for o in waiting)
    mark = engine.mark("BTC")
    for o in waiting:  # each waits on the side it fires from: none fired at placement
        fires_below = (o.side == "A") == (o.trigger.tpsl == "sl")
        assert (o.trigger.trigger_px < mark) == fires_below
