"""LadderQuoter: config validation, ladder shape, skew, limits, re-quote rules, mid sources."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmaker.errors import ConfigError
from hlmaker.hyperliquid.numbers import validate_px, validate_sz
from hlmaker.messages import AllMids, CancelAll, L2Book, Level, TargetLadder, Trades
from hlmaker.strategy.base import MarketInfo
from hlmaker.strategy.ladder import CoinOverride, LadderConfig, LadderQuoter

from .helpers import EPOCH, D, bbo, order, view

MARKETS = {"BTC": MarketInfo(coin="BTC", sz_decimals=5),
           "ETH": MarketInfo(coin="ETH", sz_decimals=4)}


def cfg(**kw: object) -> LadderConfig:
    base: dict[str, object] = dict(coins=("BTC",), levels=3, size=D("0.001"),
                                   max_position=D("0.01"), half_spread_bps=D(10),
                                   spacing_bps=D(10), requote_bps=D(5))
    base.update(kw)
    return LadderConfig(**base)  # type: ignore[arg-type]


def started(config: LadderConfig) -> LadderQuoter:
    q = LadderQuoter(config)
    assert q.start(MARKETS, EPOCH) == []
    return q


def only_ladder(intents: object) -> TargetLadder:
    assert isinstance(intents, list) and len(intents) == 1
    assert isinstance(intents[0], TargetLadder)
    return intents[0]


# ---------------------------------------------------------------------- config
@pytest.mark.parametrize(("kw", "field"), [
    ({"coins": ()}, "strategy.coins"),
    ({"coins": ("BTC", "BTC")}, "strategy.coins"),
    ({"levels": 0}, "strategy.levels"),
    ({"levels": 101}, "strategy.levels"),
    ({"levels": "3"}, "strategy.levels"),
    ({"size": 0}, "strategy.size"),
    ({"size": "abc"}, "strategy.size"),
    ({"max_position": -1}, "strategy.max_position"),
    ({"half_spread_bps": 0}, "strategy.half_spread_bps"),
    ({"spacing_bps": 0}, "strategy.spacing_bps"),
    ({"spacing_bps": 5000}, "strategy.spacing_bps"),
    ({"skew_bps_per_unit": -1}, "strategy.skew_bps_per_unit"),
    ({"requote_bps": D("NaN")}, "strategy.requote_bps"),
    ({"refill_ms": -1}, "strategy.refill_ms"),
    ({"by_coin": {"ETH": {"size": 1}}}, "strategy.by_coin.ETH"),
    ({"by_coin": {"BTC": {"sise": 1}}}, "strategy.by_coin.BTC"),
    ({"by_coin": {"BTC": {"size": 0}}}, "strategy.by_coin.BTC.size"),
])
def test_config_errors_name_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        cfg(**kw)
    assert info.value.field == field
    assert info.value.message


@pytest.mark.parametrize(("mid", "sz_decimals"), [
    (D("0.16789"), 0), (D("97000"), 5), (D("3.1"), 1), (D("0.0123"), 0)])
def test_coins_alone_quote_a_notional_size_above_the_exchange_minimum(
        mid: Decimal, sz_decimals: int) -> None:
    # A [strategy] table with only coins: every other key takes its default (issue 11)
    c = LadderConfig(coins=["DOGE"])  # type: ignore[arg-type]
    assert c.size is None and c.max_position is None and c.notional == D(15)
    q = LadderQuoter(c)
    q.start({"DOGE": MarketInfo(coin="DOGE", sz_decimals=sz_decimals)}, EPOCH)
    ladder = q.ladder("DOGE", mid, D(0))
    assert len(ladder.bids) == len(ladder.asks) == 3
    for lv in (*ladder.bids, *ladder.asks):
        assert lv.px * lv.sz >= D(10)  # the exchange's minimum
        validate_sz(lv.sz, sz_decimals)
    assert q.ladder("DOGE", mid * D("1.001"), D(0)).bids[0].sz == ladder.bids[0].sz  # no churn


def test_config_defaults() -> None:
    assert LadderConfig().coins == ("BTC", "ETH")
    c = LadderConfig(coins=["BTC"], size=0.001, max_position="0.01")  # type: ignore[arg-type]
    assert c.coins == ("BTC",) and c.size == D("0.001") and c.max_position == D("0.01")
    assert c.levels == 3 and c.min_notional == D(10) and c.requote_bps == D(5)


def test_by_coin_overrides() -> None:
    c = cfg(coins=("BTC", "ETH"), skew_bps_per_unit=2,
            by_coin={"ETH": {"size": "0.05", "max_position": 1}})
    eth = c.params("ETH")
    assert (eth.size, eth.max_position, eth.skew_bps_per_unit) == (D("0.05"), D(1), D(2))
    assert c.params("BTC").size == D("0.001")
    assert isinstance(c.by_coin["ETH"], CoinOverride)


def test_start_refuses_unknown_market() -> None:
    q = LadderQuoter(cfg(coins=("DOGE",)))
    with pytest.raises(ConfigError) as info:
        q.start(MARKETS, EPOCH)
    assert info.value.field == "strategy.coins" and "DOGE" in info.value.message


# ---------------------------------------------------------------------- shape
def test_symmetric_ladder_rounded_passively() -> None:
    q = started(cfg())
    ladder = q.ladder("BTC", D("100000"), D(0))
    assert [lv.px for lv in ladder.bids] == [D(99900), D(99800), D(99700)]
    assert [lv.px for lv in ladder.asks] == [D(100100), D(100200), D(100300)]
    assert all(lv.sz == D("0.001") for lv in (*ladder.bids, *ladder.asks))
    assert ladder.tif == "Alo" and ladder.coin == "BTC"
    # an off-tick mid: bids round down, asks up (5 significant figures)
    ladder = started(cfg(size=D("0.01"))).ladder("BTC", D("3333.33"), D(0))
    assert ladder.bids[0].px == D("3329.9") and ladder.asks[0].px == D("3336.7")


def test_size_rounds_down_and_small_levels_are_skipped() -> None:
    q = started(cfg(size=D("0.0012345")))
    assert q.ladder("BTC", D(100000), D(0)).bids[0].sz == D("0.00123")
    # $9.99 notional at level 0 is skipped; asks are higher so they pass
    q = started(cfg(size=D("0.0001"), half_spread_bps=1, spacing_bps=1, levels=2))
    ladder = q.ladder("BTC", D("100000"), D(0))
    assert ladder.bids == ()  # 99990 × 0.0001 = 9.999 < 10
    assert [lv.px for lv in ladder.asks] == [D(100010), D(100020)]


def test_levels_rounding_onto_the_same_price_are_dropped() -> None:
    q = started(cfg(size=D(1), spacing_bps=D("0.01"), max_position=D(100)))
    ladder = q.ladder("BTC", D("50"), D(0))  # 0.01 bps of $50 is far below one tick
    assert len(ladder.bids) == 1 and len(ladder.asks) == 1


def test_skew_moves_the_ladder_against_the_position() -> None:
    q = started(cfg(skew_bps_per_unit=D(1000)))
    long = q.ladder("BTC", D(100000), D("0.005"))  # 5 bps down
    assert long.bids[0].px == D(99850) and long.asks[0].px == D(100050)
    short = q.ladder("BTC", D(100000), D("-0.005"))
    assert short.bids[0].px == D(99950) and short.asks[0].px == D(100150)
    # clamped at half_spread: the best ask touches the mid, never below
    huge = started(cfg(skew_bps_per_unit=D(1000), max_position=D(1))).ladder(
        "BTC", D(100000), D("0.02"))
    assert huge.asks[0].px == D(100000) and huge.bids[0].px == D(99800)


def test_max_position_limits_each_side() -> None:
    q = started(cfg(max_position=D("0.0025")))
    flat = q.ladder("BTC", D(100000), D(0))
    assert len(flat.bids) == 2 and len(flat.asks) == 2
    at_max = q.ladder("BTC", D(100000), D("0.0025"))
    assert at_max.bids == () and len(at_max.asks) == 3
    short_max = q.ladder("BTC", D(100000), D("-0.0025"))
    assert short_max.asks == () and len(short_max.bids) == 3


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    mid=st.decimals(min_value=D("0.01"), max_value=D(200000), places=4),
    position=st.decimals(min_value=D(-2), max_value=D(2), places=3),
    levels=st.integers(1, 6),
    half=st.decimals(min_value=D("0.5"), max_value=D(100), places=1),
    spacing=st.decimals(min_value=D("0.5"), max_value=D(100), places=1),
    skew=st.decimals(min_value=D(0), max_value=D(50), places=1),
    szd=st.integers(0, 5),
)
def test_ladder_invariants(mid: Decimal, position: Decimal, levels: int, half: Decimal,
                           spacing: Decimal, skew: Decimal, szd: int) -> None:
    q = LadderQuoter(cfg(levels=levels, half_spread_bps=half, spacing_bps=spacing,
                         skew_bps_per_unit=skew, size=D(1) / (D(10) ** szd) * 7,
                         max_position=D(1)))
    q.start({"BTC": MarketInfo(coin="BTC", sz_decimals=szd)}, EPOCH)
    ladder = q.ladder("BTC", mid, position)
    bids, asks = ladder.bids, ladder.asks
    assert all(lv.px <= mid for lv in bids) and all(lv.px >= mid for lv in asks)
    assert all(a.px > b.px for a, b in pairwise(bids))
    assert all(a.px < b.px for a, b in pairwise(asks))
    for lv in (*bids, *asks):
        validate_px(lv.px, szd)
        validate_sz(lv.sz, szd)
        assert lv.px * lv.sz >= 10
    assert position + sum(lv.sz for lv in bids) <= max(D(1), position)
    assert position - sum(lv.sz for lv in asks) >= min(D(-1), position)


# ---------------------------------------------------------------------- driving
def test_requotes_only_beyond_threshold_or_on_position_change() -> None:
    q = started(cfg())
    v = view()
    first = only_ladder(q.on_market(bbo("99990", "100010"), v, EPOCH))
    assert first.bids[0].px == D(99900)
    # 4 bps move: below requote_bps=5
    assert q.on_market(bbo("100030", "100050"), v, EPOCH + 1) == []
    moved = only_ladder(q.on_market(bbo("100050", "100070"), v, EPOCH + 2))
    assert moved.bids[0].px == D(99959)  # 100060 × (1 - 10 bps), floored
    # a position change re-quotes even without a move (here the max limit bites)
    limited = only_ladder(q.on_view(view(positions={"BTC": "0.009"}), EPOCH + 3))
    assert len(limited.bids) == 1
    # same inputs again: nothing
    assert q.on_view(view(positions={"BTC": "0.009"}), EPOCH + 4) == []


def test_nothing_before_ready_or_start_and_stop_cancels_all() -> None:
    q = LadderQuoter(cfg())
    assert q.on_market(bbo("99990", "100010"), view(), EPOCH) == []  # not started
    q.start(MARKETS, EPOCH)
    assert q.on_market(bbo("99990", "100010"), view(ready=False), EPOCH) == []
    assert q.on_market(Trades(trades=()), view(), EPOCH) == []
    only_ladder(q.on_view(view(), EPOCH))  # the mid was remembered
    assert q.stop(view(), EPOCH) == [CancelAll()]


def test_restart_forgets_the_built_ladder() -> None:
    q = started(cfg())
    only_ladder(q.on_market(bbo("99990", "100010"), view(), EPOCH))
    q.start(MARKETS, EPOCH + 1)
    only_ladder(q.on_view(view(), EPOCH + 1))


def test_mid_sources() -> None:
    q = started(cfg(coins=("BTC", "ETH"), mid_max_age_ms=1000))
    out = q.on_market(AllMids(mids={"BTC": D(50000), "ETH": D(2000), "SOL": D(1)}), view(),
                      EPOCH)
    assert {x.coin for x in out} == {"BTC", "ETH"}  # type: ignore[union-attr]
    assert q.mid("BTC", EPOCH) == D(50000)
    q.on_market(bbo("49000", "49002"), view(), EPOCH)
    assert q.mid("BTC", EPOCH) == D(49001)
    q.on_market(AllMids(mids={"BTC": D(50000)}), view(), EPOCH + 500)
    assert q.mid("BTC", EPOCH + 500) == D(49001)  # bbo preferred while fresh
    assert q.mid("BTC", EPOCH + 1001) == D(50000)  # stale bbo gives way
    l2 = L2Book(coin="ETH", time_ms=EPOCH, bids=(Level(px=D(1999), sz=D(1)),),
                asks=(Level(px=D(2003), sz=D(1)),))
    q.on_market(l2, view(), EPOCH)
    assert q.mid("ETH", EPOCH) == D(2001)
    # a crossed or one-sided book gives no mid
    assert q.on_market(bbo("2010", "2000", coin="ETH"), view(), EPOCH) == []
    assert q.mid("ETH", EPOCH) == D(2001)


def test_refills_an_unchanged_ladder_the_book_lost() -> None:
    q = started(cfg(levels=1, refill_ms=1000))
    ladder = only_ladder(q.on_market(bbo("99990", "100010"), view(), EPOCH))
    full = (order("B", "99900", "0.001"), order("A", "100100", "0.001"))
    assert q.on_view(view(orders=full), EPOCH + 5000) == []
    lost = (order("B", "99900", "0.001"),)  # the ask was cancelled by the exchange
    assert q.on_view(view(orders=lost), EPOCH + 5000) == [ladder]
    assert q.on_view(view(orders=lost), EPOCH + 5500) == []  # at most once per refill_ms
    busy = (order("B", "99900", "0.001"), order("A", "100100", "0.001", state="pending_new"))
    assert q.on_view(view(orders=busy), EPOCH + 9000) == []  # something in flight: wait
