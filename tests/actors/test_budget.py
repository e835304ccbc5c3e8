"""The address request budget: learned, counted, exhausted (only cancels), the re-quote scale;
and the executor holding placements back once it is spent."""

from __future__ import annotations

from decimal import Decimal

import httpx
import trio
import trio.testing

from hlmaker.actors.budget import HELD_TEXT, MAX_SCALE, AddressBudget
from hlmaker.messages import (
    Bbo,
    BookView,
    CancelOk,
    CancelOrders,
    CancelRequest,
    Counters,
    Level,
    OrderRejected,
)
from hlmaker.strategy.base import MarketInfo
from hlmaker.strategy.ladder import LadderConfig, LadderQuoter

from .conftest import FakeVenue, cloid, ok_cancel
from .test_executor import executor_rig, order, place


def rate(used: int, cap: int, surplus: int = 0) -> dict[str, object]:
    return {"cumVlm": "0.0", "nRequestsUsed": used, "nRequestsCap": cap,
            "nRequestsSurplus": surplus}


def test_unknown_allows_everything_then_learned_numbers_are_counted() -> None:
    b = AddressBudget()
    assert b.allows(10**6, is_cancel=False) and b.requote_scale() == 1
    assert not b.learn({"nRequestsUsed": "x"}) and not b.known
    assert b.learn(rate(4000, 10_000))
    b.spend(1000)
    assert (b.used, b.cap, b.headroom) == (5000, 10_000, 5000)
    assert b.requote_scale() == 1
    b.spend(2500)  # a quarter left: threshold doubled
    assert b.requote_scale() == 2
    b.spend(2000)  # 5 % left
    assert b.requote_scale() == 10
    assert b.learn(rate(4000, 10_000, surplus=500))  # a fresh read replaces the count
    assert b.used == 3500


def test_spent_budget_lets_only_cancels_out_up_to_their_cap() -> None:
    b = AddressBudget()
    b.learn(rate(100, 100))
    assert b.exhausted and b.requote_scale() == MAX_SCALE
    assert not b.allows(1, is_cancel=False)
    assert b.allows(100, is_cancel=True)  # cancel cap min(100 + 100000, 200) = 200
    assert not b.allows(101, is_cancel=True)
    b.learn(rate(50, 100))
    assert not b.exhausted and b.allows(50, is_cancel=False) and not b.allows(51, is_cancel=False)
    b.refused(1)  # the exchange said no: trust it over the count
    assert b.exhausted and b.refusals == 1 and b.used == 49


def _bbo(mid: int) -> Bbo:
    return Bbo(coin="BTC", time_ms=0, bid=Level(px=Decimal(mid - 10), sz=Decimal(1)),
               ask=Level(px=Decimal(mid + 10), sz=Decimal(1)))


def test_ladder_widens_its_requote_threshold_by_the_scale() -> None:
    view = BookView(at_ms=0, orders=(), positions={}, counters=Counters(), is_synced=True,
                    last_fill_ms=None, unresolved=0, ready=True)

    def moves(scale: Decimal) -> list[object]:
        ladder = LadderQuoter(LadderConfig(coins=("BTC",), size=Decimal("0.001"),
                                           max_position=Decimal("0.01"),
                                           requote_bps=Decimal(5)))
        ladder.start({"BTC": MarketInfo(coin="BTC", sz_decimals=5)}, 0)
        ladder.set_requote_scale(scale)
        assert ladder.on_market(_bbo(100_000), view, 1)  # the first ladder
        return list(ladder.on_market(_bbo(100_100), view, 2))  # the mid moved 10 bps

    assert moves(Decimal(1)) != []  # 10 bps > 5 bps: re-quoted
    assert moves(Decimal("0.5")) != []  # never narrower than configured
    assert moves(Decimal(4)) == []  # 10 bps < 20 bps: held


async def test_executor_holds_placements_but_sends_cancels_when_spent(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange_default = lambda body: ok_cancel(["success"])
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            rig.deps.budget.learn(rate(10, 10))
            await rig.commands.send(place(rig, order(1), rid=1))
            held = await rig.outcome()
            cancel = CancelOrders(request_id=2, expires_after_ms=rig.clock.now_ms() + 10_000,
                                  cancels=(CancelRequest(coin="BTC", cloid=cloid(9), oid=9),))
            await rig.commands.send(cancel)
            ok = await rig.outcome()
    assert held == OrderRejected(request_id=1, cloid=cloid(1), error=HELD_TEXT)
    assert ok == CancelOk(request_id=2, cloid=cloid(9), oid=9)
    assert [s.kind for s in venue.of("/exchange")] == ["cancel"]
    assert rig.deps.stats.budget_held == 1 and rig.deps.budget.used == 11


async def test_the_exchanges_budget_refusal_marks_it_spent(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    text = ("Too many cumulative requests sent (10001 > 10000) for cumulative volume traded "
            "$0.0. Place taker orders to free up 1 request per USDC traded.")
    venue.exchange.append(httpx.Response(200, json={"status": "err", "response": text}))
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            rig.deps.budget.learn(rate(9_999, 10_000))
            await rig.commands.send(place(rig, order(1), rid=1))
            refused = await rig.outcome()
            await rig.commands.send(place(rig, order(2), rid=2))
            held = await rig.outcome()
    assert refused == OrderRejected(request_id=1, cloid=cloid(1), error=text)
    assert held == OrderRejected(request_id=2, cloid=cloid(2), error=HELD_TEXT)
    assert len(venue.of("/exchange")) == 1 and rig.deps.budget.exhausted
