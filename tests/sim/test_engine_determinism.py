"""Harness-style use: the sans-IO service + fault decisions under trio's MockClock replay
exactly for a seed (the determinism contract of ../shared/reliability.md)."""

from __future__ import annotations

import hashlib
import json
import random

import trio

from hlmaker.sim.engine import Engine
from hlmaker.sim.faults import FaultInjector, PushFate
from hlmaker.sim.market import MarketConfig, SyntheticMarket
from hlmaker.sim.service import SimService
from tests.sim.helpers import KEY_A, T0, Client, cloid, order_action, order_wire


class _Clock:
    """Epoch ms from trio time, rounded (``WallClock`` truncates, so float error in
    ``current_time() - t0`` can move a timestamp by 1 ms between runs that start at different
    mock times)."""

    def __init__(self) -> None:
        self.t0 = trio.current_time()

    def now_ms(self) -> int:
        return T0 + round((trio.current_time() - self.t0) * 1000)


async def run(seed: int) -> tuple[str, dict[str, int]]:
    clock = _Clock()
    engine = Engine()
    market = SyntheticMarket(engine, random.Random(f"m{seed}"), MarketConfig(taker_rate_per_s=4.0))
    service = SimService(engine, market)
    faults = FaultInjector("harsh", random.Random(f"f{seed}"))
    bot = Client(service, KEY_A)
    ws = service.open_session()
    digest = hashlib.sha256()
    for sub in ("orderUpdates", "userFills"):
        for text in ws.on_text(
            json.dumps({"method": "subscribe", "subscription": {"type": sub, "user": bot.address}}),
            clock.now_ms(),
        ):
            digest.update(text.encode())
    n = 0
    for step in range(600):  # 60 s of simulated time
        await trio.sleep(0.1)
        now = clock.now_ms()
        service.step(now)
        if step % 10 == 0:
            mid = engine.mids()["SOL"]
            n += 1
            wires = [
                order_wire(2, True, str(mid - 1 + n % 3 * 0), "1", cloid=cloid(2 * n)),
                order_wire(2, False, str(mid + 1), "1", "Alo", cloid=cloid(2 * n + 1)),
            ]
            reply = bot.exchange(order_action(*wires), now_ms=now)
            decision = faults.request("exchange")
            digest.update(json.dumps([reply, decision.fault.value, decision.latency_ms]).encode())
        for push in ws.take_pushes():
            fate = faults.push()
            if fate is not PushFate.DROP:
                digest.update(push.text.encode())
        faults.connection(100)
    digest.update(json.dumps([f.wire() for f in engine.fills_for(bot.address)]).encode())
    return digest.hexdigest(), faults.catalogue()


async def test_same_seed_same_transcript(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(600):  # virtual seconds
        a = await run(1)
        b = await run(1)
        c = await run(2)
    assert a == b
    assert a[0] != c[0]
    assert sum(a[1].values()) > 0
