"""Unit tests of the pure engine's exchange rules and ground truth."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from hlmaker.sim import rules
from hlmaker.sim.engine import Engine, EngineConfig, ModifyEntry, OrderEntry

T = 1_700_000_000_000
A, B, C = "0xaaaa", "0xbbbb", "0xcccc"


@pytest.fixture
def eng() -> Engine:
    e = Engine()
    for user in (A, B, C):
        e.fund(user, D(100_000))
    return e


def R(asset: int, buy: bool, px: str, sz: str, tif: str = "Gtc", **kw: object) -> OrderEntry:
    return OrderEntry(asset, buy, px, sz, tif=tif, **kw)  # type: ignore[arg-type]


def test_price_rules() -> None:
    assert rules.price_is_valid(D("1234.5"), 1)
    assert not rules.price_is_valid(D("1234.56"), 1)
    assert rules.price_is_valid(D("123456"), 5)
    assert not rules.price_is_valid(D("12345.6"), 0)
    assert rules.price_is_valid(D("0.001234"), 0)
    assert not rules.price_is_valid(D("0.0012345"), 0)
    assert rules.price_is_valid(D("0.01234"), 1) and not rules.price_is_valid(D("0.012345"), 1)
    assert rules.size_is_valid(D("1.001"), 3) and not rules.size_is_valid(D("1.0001"), 3)
    assert rules.fmt(D("100")) == "100.0" and rules.fmt(D("0.0147")) == "0.0147"
    assert rules.fmt(D("0")) == "0.0" and rules.fmt(D("-0.00")) == "0.0"
    assert rules.round_price(D("100012.6"), 5) == D("100013")
    assert rules.round_price(D("3500.123"), 4) == D("3500.1")
    assert rules.price_is_valid(rules.round_price(D("0.123456789"), 0), 0)


def test_validation_errors_carry_asset(eng: Engine) -> None:
    st, _ = eng.place(A, [R(0, True, "99000.5", "0.01")], T)
    assert st == [{"error": "Price must be divisible by tick size. asset=0"}]
    st, _ = eng.place(A, [R(1, True, "3000", "0.001")], T)
    assert st == [{"error": "Order must have minimum value of $10. asset=1"}]
    st, _ = eng.place(A, [R(1, True, "3000", "0.00001")], T)
    assert st == [{"error": "Order has invalid size. asset=1"}]
    st, _ = eng.place(A, [R(1, True, "3000", "1", reduce_only=True)], T)
    assert st == [{"error": "Reduce only order would increase position. asset=1"}]
    st, _ = eng.place(A, [R(2, True, "150", "1", "Ioc")], T)
    assert st == [
        {"error": "Order could not immediately match against any resting orders. asset=2"}
    ]
    st, _ = eng.place(A, [R(0, True, "100000", "100")], T)
    assert st == [{"error": "Insufficient margin to place order. asset=0"}]
    st, _ = eng.cancel(A, [(1, 42)], T)
    assert st == [{"error": "Order was never placed, already canceled, or filled. asset=1"}]
    # Rejections keep a history status (§2.10).
    acct = eng.account(A)
    assert acct is not None
    statuses = [o.status for o in acct.history.values()]
    assert statuses == [
        "tickRejected",
        "minTradeNtlRejected",
        "rejected",
        "reduceOnlyRejected",
        "iocCancelRejected",
        "perpMarginRejected",
    ]


def test_alo_cross_reports_bbo(eng: Engine) -> None:
    eng.place(B, [R(1, True, "3499", "1"), R(1, False, "3501.5", "1")], T)
    st, _ = eng.place(A, [R(1, True, "3502", "1", "Alo")], T)
    assert st == [
        {"error": "Post only order would have immediately matched, bbo was 3499@3501.5. asset=1"}
    ]
    st, _ = eng.place(A, [R(1, True, "3500", "1", "Alo")], T)
    assert "resting" in st[0]


def test_price_time_priority_and_fill_fields(eng: Engine) -> None:
    (s1,), _ = eng.place(A, [R(1, False, "3500", "1", cloid="0x" + "0" * 31 + "1")], T)
    (s2,), _ = eng.place(B, [R(1, False, "3500", "1")], T + 1)
    (s3,), _ = eng.place(B, [R(1, False, "3499", "0.5")], T + 2)
    st, fx = eng.place(C, [R(1, True, "3500", "1.2", "Ioc")], T + 3)
    filled = st[0]["filled"]
    assert filled["totalSz"] == "1.2" and filled["avgPx"] == "3499.58333333"
    # 0.5 @ 3499 from B first (better price), then 0.7 @ 3500 from A (earlier than B's).
    maker_fills = [(f.user, f.px, f.sz) for f in fx.fills if not f.crossed]
    assert maker_fills == [(B, D("3499"), D("0.5")), (A, D("3500"), D("0.7"))]
    assert eng.position(C, "ETH") == D("1.2")
    assert eng.position(A, "ETH") == D("-0.7") and eng.position(B, "ETH") == D("-0.5")
    taker = [f for f in fx.fills if f.crossed]
    assert all(f.user == C and f.dir == "Open Long" for f in taker)
    assert taker[0].fee == rules.usd(D("3499") * D("0.5") * D("0.00045"))
    a_fill = next(f for f in fx.fills if f.user == A)
    assert a_fill.cloid == "0x" + "0" * 31 + "1" and a_fill.wire()["cloid"] == a_fill.cloid
    assert a_fill.tid == next(f.tid for f in taker if f.px == D("3500"))
    # The partly filled maker order stays with its remaining size.
    (order,) = eng.open_orders_for(A)
    assert order.sz == D("0.3") and order.orig_sz == D("1")
    assert s1 and s2 and s3


def test_close_flip_pnl_and_dir(eng: Engine) -> None:
    eng.place(B, [R(2, False, "100", "10")], T)
    eng.place(A, [R(2, True, "100", "10", "Ioc")], T)
    eng.place(B, [R(2, True, "110", "15")], T)
    _, fx = eng.place(A, [R(2, False, "110", "15", "Ioc")], T)
    (fill,) = [f for f in fx.fills if f.user == A]
    assert fill.start_position == D("10") and fill.dir == "Long > Short"
    assert fill.closed_pnl == D("100")  # 10 × (110 − 100)
    assert eng.position(A, "SOL") == D("-5")
    pos = eng.account(A).positions["SOL"]  # type: ignore[union-attr]
    assert pos.entry_px == D("110")
    (bfill,) = [f for f in fx.fills if f.user == B]
    assert bfill.dir == "Short > Long" and bfill.closed_pnl == D("-100")


def test_reduce_only_clamped_and_canceled_when_flat(eng: Engine) -> None:
    eng.place(B, [R(2, False, "100", "2")], T)
    eng.place(A, [R(2, True, "100", "2", "Ioc")], T)
    st, _ = eng.place(A, [R(2, False, "120", "5", reduce_only=True)], T)
    oid = st[0]["resting"]["oid"]
    assert eng.open_orders_for(A)[0].sz == D("2")
    # Closing the position with a normal order cancels the resting reduce-only order.
    eng.place(C, [R(2, True, "101", "2")], T)
    _, fx = eng.place(A, [R(2, False, "101", "2", "Ioc")], T + 5)
    assert eng.position(A, "SOL") == 0
    assert [(e.oid, e.status) for e in fx.order_events if e.oid == oid] == [
        (oid, "reduceOnlyCanceled")
    ]


def test_self_trade_cancels_resting(eng: Engine) -> None:
    st, _ = eng.place(A, [R(2, False, "100", "1")], T)
    eng.place(B, [R(2, False, "100.5", "1")], T)
    st2, fx = eng.place(A, [R(2, True, "101", "1", "Ioc")], T)
    assert "filled" in st2[0]
    assert (st[0]["resting"]["oid"], "selfTradeCanceled") in [
        (e.oid, e.status) for e in fx.order_events
    ]
    assert eng.position(A, "SOL") == 1 and eng.position(B, "SOL") == -1


def test_modify_is_cancel_replace(eng: Engine) -> None:
    cl = "0x" + "ab" * 16
    st, _ = eng.place(A, [R(1, True, "3000", "1", cloid=cl)], T)
    old = st[0]["resting"]["oid"]
    st, fx = eng.batch_modify(A, [ModifyEntry(cl, R(1, True, "3001", "2"))], T + 1)
    new = st[0]["resting"]["oid"]
    assert new > old
    assert [(e.oid, e.status) for e in fx.order_events] == [(old, "canceled"), (new, "open")]
    assert eng.order_status(A, cl).oid == new  # type: ignore[union-attr]
    assert eng.order_status(A, old).status == "canceled"  # type: ignore[union-attr]
    (o,) = eng.open_orders_for(A)
    assert o.cloid == cl and o.tif == "Alo" and o.sz == D("2")
    st, _ = eng.batch_modify(A, [ModifyEntry(old, R(1, True, "3001", "2"))], T + 2)
    assert "error" in st[0]


def test_cancel_by_cloid_and_unknown(eng: Engine) -> None:
    cl = "0x" + "cd" * 16
    eng.place(A, [R(1, True, "3000", "1", cloid=cl)], T)
    assert eng.cancel_by_cloid(A, [(1, cl)], T)[0] == ["success"]
    assert eng.cancel_by_cloid(A, [(1, cl)], T)[0][0]["error"].endswith("asset=1")
    assert eng.order_status(A, "0x" + "ef" * 16) is None
    assert eng.order_status(B, cl) is None  # scoped to the user


def test_schedule_cancel_fires(eng: Engine) -> None:
    eng.place(A, [R(1, True, "3000", "1"), R(1, True, "2999", "1")], T)
    assert eng.schedule_cancel(A, T + 4_999, T) == rules.ERR_SCHEDULE_TOO_EARLY
    assert eng.schedule_cancel(A, T + 10_000, T) is None
    assert not eng.advance(T + 9_999)
    fx = eng.advance(T + 12_000)
    assert [(e.status, e.status_ts) for e in fx.order_events] == [
        ("scheduledCancel", T + 10_000)
    ] * 2
    assert eng.open_orders_for(A) == []
    # Renewing as a lease: it never fires while renewed ahead of time.
    eng.place(A, [R(1, True, "3000", "1")], T + 13_000)
    for k in range(5):
        assert eng.schedule_cancel(A, T + 20_000 + k * 5_000, T + 14_000 + k * 5_000) is None
    assert len(eng.open_orders_for(A)) == 1


def test_schedule_cancel_volume_gate_and_daily_cap() -> None:
    e = Engine(config=EngineConfig(schedule_cancel_min_volume=D(1000), schedule_cancel_daily_max=1))
    e.fund(A, D(1000))
    assert e.schedule_cancel(A, T + 10_000, T) == rules.ERR_SCHEDULE_VOLUME
    e2 = Engine(config=EngineConfig(schedule_cancel_daily_max=1))
    e2.fund(A, D(1000))
    assert e2.schedule_cancel(A, T + 10_000, T) is None
    e2.advance(T + 10_000)
    assert e2.schedule_cancel(A, T + 30_000, T + 20_000) == rules.ERR_SCHEDULE_DAILY


def test_too_many_open_orders() -> None:
    e = Engine(config=EngineConfig(max_open_orders=2))
    e.fund(A, D(100_000))
    st, _ = e.place(A, [R(2, True, str(90 + i), "1") for i in range(3)], T)
    assert st[2] == {"error": "Too many open orders. asset=2"}


def test_ids_are_deterministic() -> None:
    def run() -> list[object]:
        e = Engine()
        e.fund(A, D(10_000))
        e.fund(B, D(10_000))
        e.place(A, [R(2, True, "100", "1")], T)
        st, fx = e.place(B, [R(2, False, "100", "1", "Ioc")], T)
        return [st, [f.wire() for f in fx.fills]]

    assert run() == run()
