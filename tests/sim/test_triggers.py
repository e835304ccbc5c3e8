"""Trigger (TP/SL) orders in the pure engine: waiting, firing on the mark, the groupings, and
the cancellations that follow (hlmaker.sim.triggers, protocol ref §2.6, §4.2, §4.3, §9)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from hlmaker.sim.engine import Engine, ModifyEntry, OrderEntry
from hlmaker.sim.triggers import Trigger, TriggerSpec

T = 1_700_000_000_000
A, LP = "0xaaaa", "0xbbbb"
SOL = 2


@pytest.fixture
def eng() -> Engine:
    """SOL book 149 / 151 (mark 150) from LP; A long 1 SOL bought at 151."""
    e = Engine()
    for user in (A, LP):
        e.fund(user, D(100_000))
    e.place(LP, [lim(False, "151", "10"), lim(True, "149", "10")], T)
    st, _ = e.place(A, [lim(True, "151", "1", "Ioc")], T)
    assert "filled" in st[0]
    assert e.position(A, "SOL") == 1 and e.mark("SOL") == D(150)
    return e


def lim(buy: bool, px: str, sz: str, tif: str = "Gtc", **kw: Any) -> OrderEntry:
    return OrderEntry(SOL, buy, px, sz, tif=tif, **kw)


def trig(buy: bool, px: str, sz: str, tpx: str, tpsl: str, market: bool = True,
         reduce_only: bool = True) -> OrderEntry:
    return OrderEntry(SOL, buy, px, sz, reduce_only, "Trigger", None,
                      TriggerSpec(tpx, market, tpsl))  # type: ignore[arg-type]


def statuses(fx: Any, oid: int) -> list[str]:
    return [e.status for e in fx.order_events if e.oid == oid]


def move_mark_to(eng: Engine, bid: str, ask: str) -> Any:
    """LP re-quotes SOL at ``bid``/``ask`` (mark = their mid); returns the effects."""
    fx = eng.cancel_all(LP, T + 1)
    _, more = eng.place(LP, [lim(False, ask, "10"), lim(True, bid, "10")], T + 1)
    fx.extend(more)
    return fx


def test_trigger_rules() -> None:
    sell_sl = Trigger(D("140"), True, "sl")
    assert sell_sl.fires_below("A") and sell_sl.is_due("A", D("140"))
    assert not sell_sl.is_due("A", D("140.01"))
    assert sell_sl.condition("A") == "Price below 140.0" and sell_sl.order_type() == "Stop Market"
    buy_sl = Trigger(D("0.6"), False, "sl")
    assert buy_sl.condition("B") == "Price above 0.6" and buy_sl.order_type() == "Stop Limit"
    sell_tp = Trigger(D("160"), False, "tp")
    assert sell_tp.is_due("A", D("161")) and not sell_tp.is_due("A", D("159"))
    assert sell_tp.order_type() == "Take Profit Limit"


def test_standalone_stop_market_waits_then_fires_on_the_mark(eng: Engine) -> None:
    st, fx = eng.place(A, [trig(False, "130", "1", "140", "sl")], T)
    oid = st[0]["resting"]["oid"]
    assert statuses(fx, oid) == ["waitingForTrigger"]
    (row,) = [o.wire_frontend() for o in eng.open_orders_for(A)]
    assert row["isTrigger"] is True and row["tif"] is None and row["orderType"] == "Stop Market"
    assert row["triggerPx"] == "140.0" and row["triggerCondition"] == "Price below 140.0"
    assert eng.book("SOL").l2(T)["levels"][0][0]["px"] == "149.0"  # not on the book
    fx = move_mark_to(eng, "139", "141")  # mark 140: due
    assert statuses(fx, oid) == ["triggered", "filled"]
    assert eng.position(A, "SOL") == 0
    (sell,) = [f for f in fx.fills if f.user == A]
    assert (sell.px, sell.sz, sell.oid) == (D("139"), D("1"), oid)
    assert eng.open_orders_for(A) == []
    rec = eng.order_status(A, oid)
    assert rec is not None and rec.status == "filled" and rec.wire_frontend()["tif"] == "Ioc"


def test_limit_take_profit_rests_after_firing(eng: Engine) -> None:
    st, _ = eng.place(A, [trig(False, "165", "1", "160", "tp", market=False)], T)
    oid = st[0]["resting"]["oid"]
    fx = move_mark_to(eng, "159", "161")  # mark 160: due; 165 is above the bid: it rests
    assert statuses(fx, oid) == ["triggered", "open"]
    (order,) = eng.open_orders_for(A)
    assert order.oid == oid and order.wire_frontend()["isTrigger"] is False
    assert eng.book("SOL").asks.best() == D("161")
    assert D("165") in eng.book("SOL").asks.levels


def test_market_trigger_without_liquidity_is_rejected(eng: Engine) -> None:
    st, _ = eng.place(A, [trig(False, "148", "1", "149.5", "sl")], T)
    oid = st[0]["resting"]["oid"]
    fx = move_mark_to(eng, "130", "149")  # mark 139.5: due; no bid at 148 or better
    assert statuses(fx, oid) == ["triggered", "marketOrderNoLiquidityRejected"]
    assert eng.position(A, "SOL") == 1


def test_bad_trigger_px_and_reduce_only_without_position(eng: Engine) -> None:
    st, _ = eng.place(A, [trig(False, "130", "1", "140.123", "sl")], T)
    assert st == [{"error": "Invalid TP/SL price. asset=2"}]
    st, _ = eng.place(A, [trig(True, "160", "1", "155", "sl")], T)  # a buy stop reduces no long
    assert st == [{"error": "Reduce only order would increase position. asset=2"}]
    acct = eng.account(A)
    assert acct is not None
    assert [o.status for o in acct.history.values()][-2:] == ["badTriggerPxRejected",
                                                              "reduceOnlyRejected"]


def test_normal_tpsl_children_wait_for_the_parent_and_die_with_it(eng: Engine) -> None:
    batch = [lim(True, "145", "1"), trig(False, "130", "1", "140", "sl"),
             trig(False, "170", "1", "160", "tp")]
    st, _ = eng.place(A, batch, T, grouping="normalTpsl")
    parent = st[0]["resting"]["oid"]
    assert st[1:] == ["waitingForFill", "waitingForFill"]
    rows = {o.oid: o.wire_frontend() for o in eng.open_orders_for(A)}
    assert len(rows) == 3
    assert [c["orderType"] for c in rows[parent]["children"]] == ["Stop Market",
                                                                 "Take Profit Market"]
    _, fx = eng.cancel(A, [(SOL, parent)], T + 1)
    assert [e.status for e in fx.order_events] == ["canceled", "canceled", "canceled"]
    assert eng.open_orders_for(A) == []


def test_normal_tpsl_filled_parent_arms_children_and_a_fill_cancels_the_sibling(
        eng: Engine) -> None:
    batch = [lim(True, "151", "1", "Ioc"), trig(False, "130", "1", "140", "sl"),
             trig(False, "170", "1", "160", "tp")]
    st, _ = eng.place(A, batch, T, grouping="normalTpsl")
    assert "filled" in st[0] and st[1:] == ["waitingForTrigger", "waitingForTrigger"]
    assert eng.position(A, "SOL") == 2
    sl, tp = (o.oid for o in eng.open_orders_for(A))
    fx = move_mark_to(eng, "139", "141")
    assert statuses(fx, sl) == ["triggered", "filled"]
    assert statuses(fx, tp) == ["siblingFilledCanceled"]
    assert eng.position(A, "SOL") == 1  # the fixed-size child sold 1 of 2


def test_position_tpsl_closes_the_position_and_the_other_is_cancelled(eng: Engine) -> None:
    batch = [trig(False, "130", "0.5", "140", "sl"), trig(False, "170", "0.5", "160", "tp")]
    st, _ = eng.place(A, batch, T, grouping="positionTpsl")
    assert st == ["waitingForTrigger", "waitingForTrigger"]
    sl, tp = (o.oid for o in eng.open_orders_for(A))
    assert all(o.wire_frontend()["isPositionTpsl"] for o in eng.open_orders_for(A))
    fx = move_mark_to(eng, "139", "141")
    assert statuses(fx, sl) == ["triggered", "filled"]
    assert eng.position(A, "SOL") == 0  # sized to the whole position, not 0.5
    assert statuses(fx, tp) == ["reduceOnlyCanceled"]


def test_position_tpsl_cancelled_when_the_position_closes_by_a_trade(eng: Engine) -> None:
    st, _ = eng.place(A, [trig(False, "130", "1", "140", "sl"),
                          trig(False, "170", "1", "160", "tp")], T, grouping="positionTpsl")
    assert st == ["waitingForTrigger", "waitingForTrigger"]
    _, fx = eng.place(A, [lim(False, "149", "1", "Ioc")], T + 1)
    assert eng.position(A, "SOL") == 0
    ends = [e.status for e in fx.order_events if e.user == A and e.status != "filled"]
    assert ends == ["reduceOnlyCanceled", "reduceOnlyCanceled"]
    assert eng.open_orders_for(A) == []


def test_waiting_triggers_are_cancelled_by_cloid_and_by_the_dead_man_switch(eng: Engine) -> None:
    cloid = "0x" + "0" * 31 + "7"
    req = OrderEntry(SOL, False, "130", "1", True, "Trigger", cloid,
                     TriggerSpec("140", True, "sl"))
    eng.place(A, [req], T)
    _, fx = eng.cancel_by_cloid(A, [(SOL, cloid)], T + 1)
    assert [e.status for e in fx.order_events] == ["canceled"]
    eng.place(A, [trig(False, "130", "1", "140", "sl")], T + 2)
    assert eng.schedule_cancel(A, T + 10_000, T + 2) is None
    fx = eng.advance(T + 10_000)
    assert [e.status for e in fx.order_events] == ["scheduledCancel"]
    assert eng.open_orders_for(A) == []


def test_modify_moves_a_trigger_order_to_a_new_trigger(eng: Engine) -> None:
    st, _ = eng.place(A, [trig(False, "130", "1", "140", "sl")], T)
    oid = st[0]["resting"]["oid"]
    st, fx = eng.batch_modify(A, [ModifyEntry(oid, trig(False, "120", "1", "135", "sl"))], T + 1)
    new_oid = st[0]["resting"]["oid"]
    assert statuses(fx, oid) == ["canceled"] and statuses(fx, new_oid) == ["waitingForTrigger"]
    (row,) = [o.wire_frontend() for o in eng.open_orders_for(A)]
    assert row["oid"] == new_oid and row["triggerPx"] == "135.0"
