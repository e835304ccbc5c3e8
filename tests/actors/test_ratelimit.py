"""The per-IP REST weight ledger (hlmaker.actors.ratelimit): weights per §8, the sliding
window, priorities, the 429 backoff — and that a client paced by it is never refused by the
simulator's own per-IP window."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from hlmaker.actors.ratelimit import (
    IpWeightBudget,
    Priority,
    action_weight,
    request_weight,
)
from hlmaker.sim.limits import SlidingWindow, exchange_weight, info_weight


def test_weights_are_the_exchanges() -> None:
    assert action_weight(1) == 1 and action_weight(39) == 1 and action_weight(79) == 2
    assert request_weight("/exchange", {"action": {"type": "order", "orders": [{}] * 80}}) \
        == (3, "")
    assert request_weight("/info", {"type": "l2Book"}) == (2, "l2Book")
    assert request_weight("/info", {"type": "frontendOpenOrders"}) == (20, "frontendOpenOrders")
    assert request_weight("/info", {"type": "userRole"}) == (60, "userRole")
    # heavy reads are charged their largest per-item extra up front (2,000 rows / 20)
    assert request_weight("/info", {"type": "userFillsByTime"}) == (120, "userFillsByTime")
    with pytest.raises(ValueError):
        IpWeightBudget(5)


async def test_reads_wait_for_the_window_cancels_do_not(
        autojump_clock: trio.testing.MockClock) -> None:
    ledger = IpWeightBudget(100)  # reads up to 75, actions 90, cancels 100
    t0 = trio.current_time()
    ledger.settle(await ledger.acquire(70, Priority.READ))
    assert ledger.view().used == 70 and ledger.view().headroom == 30
    assert not ledger.fits(10, Priority.READ) and ledger.fits(10, Priority.ACTION)
    ledger.settle(await ledger.acquire(20, Priority.ACTION))  # at once
    ledger.settle(await ledger.acquire(10, Priority.CANCEL))  # at once: the whole limit
    assert trio.current_time() == t0
    assert not ledger.fits(1, Priority.CANCEL)
    await ledger.acquire(10, Priority.READ)  # waits until the first 70 left the window
    assert 60.0 <= trio.current_time() - t0 <= 60.01
    view = ledger.view()
    assert view.peak == 100 and view.waited_s > 59


async def test_an_answer_restamps_the_request_and_trues_up_a_heavy_read(
        autojump_clock: trio.testing.MockClock) -> None:
    ledger = IpWeightBudget(1200)
    gate = ledger.gate(Priority.READ)
    token = await gate.enter("/info", {"type": "userFillsByTime"})
    assert ledger.used() == 120  # in flight: the largest extra is held
    await trio.sleep(30)
    gate.leave(token, 200, [{}] * 45)  # 45 rows: 20 + 2
    assert ledger.used() == 22
    await trio.sleep(45)  # 75 s after it was sent, 45 s after its answer: still counted
    assert ledger.used() == 22
    await trio.sleep(15)
    assert ledger.used() == 0


async def test_a_429_holds_reads_and_actions_with_a_doubling_backoff(
        autojump_clock: trio.testing.MockClock) -> None:
    ledger = IpWeightBudget(1200)
    gate = ledger.gate(Priority.READ)
    t0 = trio.current_time()
    gate.leave(await gate.enter("/info", {"type": "l2Book"}), 429, None)
    assert not ledger.fits(2, Priority.READ) and not ledger.fits(1, Priority.ACTION)
    assert ledger.fits(1, Priority.CANCEL)
    await ledger.acquire(2, Priority.READ)
    assert trio.current_time() - t0 == pytest.approx(1.0, abs=0.01)
    ledger.on_rate_limited()
    ledger.on_rate_limited()  # 2 s, then 4 s
    t1 = trio.current_time()
    await ledger.acquire(1, Priority.ACTION)
    assert trio.current_time() - t1 == pytest.approx(4.0, abs=0.01)
    ledger.on_answered()
    ledger.on_rate_limited(retry_after_s=7.0)  # the server's Retry-After wins
    t2 = trio.current_time()
    await ledger.acquire(2, Priority.READ)
    assert trio.current_time() - t2 == pytest.approx(7.0, abs=0.01)
    assert ledger.view().rate_limited == 4


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_client_paced_by_the_ledger_is_never_refused_by_the_simulators_window(
        seed: int, autojump_clock: trio.testing.MockClock) -> None:
    # Concurrent callers of every priority, random weights and latencies, far more demand than
    # 1,200/min: the simulator's window (which counts a request when it arrives, and a heavy
    # read's rows after) refuses none of them.
    rng = random.Random(seed)
    ledger = IpWeightBudget(1200)
    server = SlidingWindow(1200)
    refused: list[tuple[float, str]] = []
    kinds = [("/info", {"type": "frontendOpenOrders"}), ("/info", {"type": "clearinghouseState"}),
             ("/info", {"type": "userFillsByTime"}), ("/info", {"type": "orderStatus"}),
             ("/exchange", {"action": {"type": "order", "orders": [{}] * 3}}),
             ("/exchange", {"action": {"type": "cancel", "cancels": [{}] * 45}})]

    async def caller(priority: Priority, n: int) -> None:
        gate = ledger.gate(priority)
        for _ in range(n):
            path, body = kinds[rng.randrange(len(kinds))]
            token = await gate.enter(path, body)
            await trio.sleep(rng.uniform(0.0, 0.3))  # on the way
            now = round(trio.current_time() * 1000)
            w = exchange_weight(body) if path == "/exchange" else info_weight(body)
            if not server.take("ip", w, now):
                refused.append((trio.current_time(), body.get("type", "action")))
            rows = [{}] * rng.randrange(0, 2000) if body.get("type") == "userFillsByTime" \
                else []
            extra = info_weight(body, rows) - info_weight(body) if path == "/info" else 0
            if extra:
                server.take("ip", extra, now, force=True)
            await trio.sleep(rng.uniform(0.0, 0.3))  # the answer's way back
            ledger_reply: object = rows if path == "/info" else {"status": "ok"}
            gate.leave(token, 200, ledger_reply)
            await trio.sleep(rng.uniform(0.0, 0.5))

    async with trio.open_nursery() as nursery:
        for i in range(6):
            nursery.start_soon(caller, Priority(i % 3), 60)
    assert refused == [], f"seed {seed}: {refused[:5]}"
    assert ledger.view().peak <= 1200


async def test_try_acquire_charges_only_with_room_and_nobody_waiting(
        autojump_clock: trio.testing.MockClock) -> None:
    ledger = IpWeightBudget(100)  # actions up to 90
    first = ledger.try_acquire(60, Priority.ACTION)
    assert first is not None and ledger.used() == 60
    assert ledger.try_acquire(40, Priority.ACTION) is None  # 100 > 90: nothing charged
    assert ledger.used() == 60
    ledger.refund(first)  # went as a WS post: uncharged and out of the ledger
    ledger.refund(first)  # twice is harmless
    assert ledger.used() == 0 and ledger.view().peak == 60
    # a caller of the same priority waiting for room holds try_acquire back (arrival order)
    ledger.settle(await ledger.acquire(80, Priority.ACTION))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(ledger.acquire, 20, Priority.ACTION)  # waits for the window
        await trio.sleep(1)
        assert ledger.try_acquire(1, Priority.ACTION) is None
        assert ledger.try_acquire(1, Priority.CANCEL) is not None  # another class: not held
        nursery.cancel_scope.cancel()
