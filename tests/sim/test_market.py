"""The synthetic market: determinism, fills against a resting quote, CSV replay."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from hlmaker.sim.engine import Engine, OrderEntry
from hlmaker.sim.market import MAKER_ADDRESS, MarketConfig, SyntheticMarket, TradeReplay

T = 1_700_000_000_000
BOT = "0x00000000000000000000000000000000000000b7"


def run(seed: int, steps: int = 600) -> tuple[list[object], Engine]:
    eng = Engine()
    market = SyntheticMarket(eng, random.Random(seed), MarketConfig(taker_rate_per_s=3))
    market.step(T)
    eng.fund(BOT, D(100_000))
    mid = eng.mids()["SOL"]
    eng.place(
        BOT,
        [
            OrderEntry(2, True, str(mid - D("0.02")), "5"),
            OrderEntry(2, False, str(mid + D("0.02")), "5"),
        ],
        T,
    )
    for i in range(1, steps + 1):
        market.step(T + i * 100)
    return [f.wire() for f in eng.fills_for(BOT)], eng


def test_same_seed_same_history() -> None:
    a, eng = run(5)
    b, _ = run(5)
    c, _ = run(6)
    assert a == b
    assert a != c
    assert a, "the taker flow should fill the bot's top-of-book quote within a minute"
    # Conservation across all engine users (bot, maker, taker).
    for coin in ("BTC", "ETH", "SOL"):
        assert sum(eng.position(u, coin) for u in eng.accounts) == 0
    for book in eng.books:
        assert book.bids.best() < book.asks.best()  # type: ignore[operator]
    assert len(eng.open_orders_for(MAKER_ADDRESS)) == 60


def test_replay_csv_fills_resting_orders() -> None:
    csv_text = "time,px,sz,side\n1000,150.5,3,buy\n1500,149.0,2,A\n2000,151,1,B\n"
    replay = TradeReplay.from_csv(csv_text, "SOL")
    eng = Engine()
    market = SyntheticMarket(
        eng, random.Random(1), MarketConfig(taker_rate_per_s=0, levels=0), replay=replay
    )
    eng.fund(BOT, D(100_000))
    eng.place(BOT, [OrderEntry(2, False, "150.4", "2"), OrderEntry(2, True, "149.5", "1")], T)
    market.step(T)  # first row plays at the first step
    assert [(f.px, f.sz) for f in eng.fills_for(BOT)] == [(D("150.4"), D("2"))]
    market.step(T + 499)
    assert len(eng.fills_for(BOT)) == 1
    market.step(T + 500)
    assert [(f.side, f.px) for f in eng.fills_for(BOT)][-1] == ("B", D("149.5"))
    assert market.mid("SOL") == D("149")


def test_replay_csv_errors() -> None:
    with pytest.raises(ValueError, match="line 2"):
        TradeReplay.from_csv("time,px,sz,side\n1,abc,1,B\n", "BTC")
    with pytest.raises(ValueError, match="line 2"):
        TradeReplay.from_csv("time,px,sz,side\n1,1,1,sideways\n", "BTC")
