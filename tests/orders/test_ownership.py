"""Ownership by cloid namespace (issue 11): our prefix, foreign orders left alone, the orders of
a previous process settled before quoting, history fills not counted as anomalies."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from hlmaker.config import config_from_mapping
from hlmaker.errors import ConfigError
from hlmaker.messages import (
    CancelOk,
    CancelOrders,
    Fills,
    Level,
    OrderResting,
    PlaceOrder,
    PlaceOrders,
    ReconcileRequest,
    TargetLadder,
)
from hlmaker.orders import BookConfig, OrderBookCore
from hlmaker.orders.ownership import CloidSource, Ownership, prefix_for

from .helpers import EPOCH, fill, open_row, snapshot, update

D = Decimal
OURS = Ownership(prefix="a1b2")
THEIRS = "0x" + "ff" * 16  # another client's cloid


def core(**own: str) -> OrderBookCore:
    return OrderBookCore(BookConfig(coins=("BTC",)), random.Random(1),
                         ownership=Ownership(prefix="a1b2", **own))  # type: ignore[arg-type]


def ours(n: int) -> str:
    return f"0xa1b2{n:028x}"


def cancels(actions: list[object]) -> list[int | None]:
    return [c.oid for a in actions if isinstance(a, CancelOrders) for c in a.cancels]


# ---------------------------------------------------------------- cloids
def test_cloids_carry_the_prefix_and_two_processes_never_share_one() -> None:
    a = CloidSource("a1b2", random.Random(5).getrandbits)
    b = CloidSource("a1b2", random.Random(5).getrandbits)  # same seed: same session...
    c = CloidSource("a1b2", random.Random(6).getrandbits)
    first = [a.next() for _ in range(1000)]
    assert len(set(first)) == 1000
    assert all(len(x) == 34 and x.startswith("0xa1b2") and OURS.is_ours(x) for x in first)
    assert not set(first) & {c.next() for _ in range(1000)}
    assert a.placed_here(first[0]) and not c.placed_here(first[0])
    assert b.next() == first[0]  # ...which is why real runs draw the session from the OS


def test_the_core_places_under_its_prefix() -> None:
    c = core()
    (cmd,) = c.handle(PlaceOrder(coin="BTC", side="B", px=D(100), sz=D(1)), EPOCH)
    assert isinstance(cmd, PlaceOrders) and cmd.orders[0].cloid.startswith("0xa1b2")


@pytest.mark.parametrize(("table", "field"), [
    ({"cloid_prefix": "xyz"}, "maker.cloid_prefix"),
    ({"cloid_prefix": "0123456789"}, "maker.cloid_prefix"),
    ({"foreign_orders": "keep"}, "maker.foreign_orders"),
    ({"on_start": "nothing"}, "maker.on_start"),
    ({"name": " "}, "maker.name"),
])
def test_bad_maker_settings_name_the_field(table: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"maker": table})
    assert info.value.field == field


def test_the_prefix_comes_from_the_name_unless_set() -> None:
    assert config_from_mapping({}).maker.prefix == prefix_for("hlmaker")
    assert config_from_mapping({"maker": {"name": "desk-2"}}).maker.prefix == prefix_for("desk-2")
    assert prefix_for("desk-2") != prefix_for("hlmaker")
    assert config_from_mapping({"maker": {"cloid_prefix": "0xBEEF"}}).maker.prefix == "beef"


# ---------------------------------------------------------------- foreign orders
def test_foreign_orders_are_shown_never_cancelled_and_their_fills_move_the_position() -> None:
    c = core(foreign_orders="ignore")
    rows = (open_row(501, cloid=THEIRS), open_row(502))  # another prefix; no cloid at all
    c.handle(snapshot(EPOCH), EPOCH)
    for t in range(0, 60_000, 5_000):  # long past any grace period
        actions = c.handle(snapshot(EPOCH + t, rows), EPOCH + t)
        actions += c.tick(EPOCH + t)
        assert cancels(actions) == []
    view = c.view(EPOCH + 60_000)
    assert [o.oid for o in view.foreign_orders] == [501, 502]
    assert view.is_synced and view.counters.orphans_detected == 0
    c.handle(Fills(fills=(fill(501, 1, "0.5", cloid=THEIRS),)), EPOCH + 61_000)
    c.handle(Fills(fills=(fill(502, 2, "0.25", start="0.5"),)), EPOCH + 61_000)
    view = c.view(EPOCH + 61_000)
    assert view.position("BTC") == D("0.75")  # the position is the account's
    assert view.counters.fills_foreign == 2 and view.counters.gaps_detected == 0
    assert view.counters.fills_untracked == 0 and view.counters.early_events_held == 0


def test_policy_cancel_cancels_foreign_orders_after_the_grace() -> None:
    c = core(foreign_orders="cancel")
    c.handle(snapshot(EPOCH), EPOCH)
    assert cancels(c.handle(snapshot(EPOCH + 1, (open_row(501, cloid=THEIRS),)), EPOCH + 1)) == []
    later = EPOCH + 6_000
    assert cancels(c.handle(snapshot(later, (open_row(501, cloid=THEIRS),)), later)) == [501]


# ---------------------------------------------------------------- start-up
def test_a_new_book_cancels_our_old_orders_at_once_and_is_ready_only_when_they_are_gone() -> None:
    c = core()
    old = (open_row(1, cloid=ours(1)), open_row(2, cloid=ours(2), side="A", px="101"),
           open_row(3, cloid=THEIRS))
    actions = c.handle(snapshot(EPOCH, old), EPOCH)
    assert sorted(cancels(actions)) == [1, 2]  # no grace; the foreign one stays
    assert not c.view(EPOCH).ready  # the strategy may not quote beside them
    (cmd,) = [a for a in actions if isinstance(a, CancelOrders)]
    after = [a for oid in (1, 2) for a in c.handle(
        CancelOk(request_id=cmd.request_id, cloid=None, oid=oid), EPOCH + 50)]
    assert any(isinstance(a, ReconcileRequest) and a.since_ms is None for a in after)
    # a sweep still listing them (taken before the cancels landed) sends nothing twice
    assert cancels(c.handle(snapshot(EPOCH + 60, old), EPOCH + 60)) == []
    assert not c.view(EPOCH + 60).ready
    c.handle(snapshot(EPOCH + 600, (open_row(3, cloid=THEIRS),)), EPOCH + 600)
    view = c.view(EPOCH + 600)
    assert view.ready and view.is_synced
    assert view.counters.leftovers_cancelled == 2 and view.counters.orphans_detected == 0


def test_on_start_adopt_keeps_our_old_orders_as_live() -> None:
    c = core(on_start="adopt")
    c.handle(snapshot(EPOCH, (open_row(1, cloid=ours(1), sz="0.5"),)), EPOCH)
    view = c.view(EPOCH)
    assert view.ready and view.is_synced
    (o,) = view.orders
    assert (o.cloid, o.oid, o.state, o.sz) == (ours(1), 1, "resting", D("0.5"))
    assert view.counters.leftovers_adopted == 1
    # the ladder reuses it: a target with the same level sends nothing
    assert c.handle(TargetLadder(coin="BTC", bids=(Level(px=D(100), sz=D("0.5")),), asks=()),
                    EPOCH + 1) == []


def test_fills_before_start_are_history_and_rereads_are_no_anomaly() -> None:
    c = core()
    history = (fill(1, 1, "1", cloid=ours(1), time_ms=EPOCH - 5_000),
               fill(7, 2, "1", start="1", time_ms=EPOCH - 4_000))  # foreign, no cloid
    c.handle(Fills(fills=history, is_snapshot=True), EPOCH)  # the subscription snapshot
    c.handle(snapshot(EPOCH, positions={"BTC": "2"}, fills=history), EPOCH)
    c.handle(Fills(fills=history, is_snapshot=True), EPOCH + 10)  # a reconnect re-reads them
    c.handle(snapshot(EPOCH + 5_000, positions={"BTC": "2"}, fills=history), EPOCH + 5_000)
    counters = c.view(EPOCH + 5_000).counters
    assert c.view(EPOCH).position("BTC") == D(2)
    assert counters.fills_preexisting == 2 and counters.fills_reread == 6
    for name in ("duplicate_fills_dropped", "fills_untracked", "early_events_held",
                 "orphans_detected", "position_drifts", "gaps_detected"):
        assert getattr(counters, name) == 0, name


def test_after_sync_another_process_order_is_cancelled_at_once_ours_gets_the_grace() -> None:
    c = core()
    c.handle(snapshot(EPOCH), EPOCH)
    drawn_here = c.registry.new_cloid()  # drawn by this very book, tracked nowhere
    rows = (open_row(8, cloid=ours(8)), open_row(9, cloid=drawn_here))
    assert cancels(c.handle(snapshot(EPOCH + 1_000, rows), EPOCH + 1_000)) == [8]
    assert 9 in c.orphans and c.view(EPOCH + 1_000).counters.orphans_detected == 0


def crashed_and_fresh(**own: str) -> tuple[str, OrderBookCore]:
    """A book that placed an order and crashed with it in flight (its cloid), and the fresh
    incarnation the supervisor then builds: one process, one cloid source (F9)."""
    source = CloidSource("a1b2", random.Random(3).getrandbits)
    ownership = Ownership(prefix="a1b2", **own)  # type: ignore[arg-type]
    cfg = BookConfig(coins=("BTC",))
    dead = OrderBookCore(cfg, random.Random(1), ownership=ownership, cloids=source)
    dead.handle(snapshot(EPOCH), EPOCH)
    (cmd,) = dead.handle(PlaceOrder(coin="BTC", side="B", px=D(100), sz=D(1)), EPOCH)
    assert isinstance(cmd, PlaceOrders)
    return cmd.orders[0].cloid, OrderBookCore(cfg, random.Random(2), ownership=ownership,
                                              cloids=source)


@pytest.mark.parametrize("on_start", ["cancel", "adopt"])
def test_a_crashed_books_placement_landing_after_the_first_sync_is_a_leftover(
        on_start: str) -> None:
    late, fresh = crashed_and_fresh(on_start=on_start)
    fresh.handle(snapshot(EPOCH + 100), EPOCH + 100)  # its first sync: nothing listed yet
    assert fresh.view(EPOCH + 100).ready
    # ...this incarnation quotes; its own placement's ack is merely late
    (mine,) = fresh.handle(PlaceOrder(coin="BTC", side="A", px=D(101), sz=D(1)), EPOCH + 200)
    assert isinstance(mine, PlaceOrders)
    own = mine.orders[0].cloid
    rows = (open_row(7, cloid=late), open_row(8, cloid=own, side="A", px="101"))
    actions = fresh.handle(snapshot(EPOCH + 1_000, rows), EPOCH + 1_000)
    assert cancels(actions) == [7]  # at once, no grace, adopt or not: the ladder is up
    assert fresh.orders[own].oid == 8 and fresh.orders[own].state.value == "resting"
    assert 7 not in fresh.orphans and not fresh.view(EPOCH + 1_000).is_synced
    (cmd7,) = [a for a in actions if isinstance(a, CancelOrders)]
    after = fresh.handle(CancelOk(request_id=cmd7.request_id, cloid=late, oid=7), EPOCH + 1_050)
    assert any(isinstance(a, ReconcileRequest) for a in after)
    # a sweep taken before the cancel landed sends nothing twice
    assert cancels(fresh.handle(snapshot(EPOCH + 1_100, rows), EPOCH + 1_100)) == []
    fresh.handle(snapshot(EPOCH + 2_000, rows[1:]), EPOCH + 2_000)
    view = fresh.view(EPOCH + 2_000)
    assert view.is_synced and view.counters.leftovers_cancelled == 1
    assert view.counters.orphans_detected == 0 and view.counters.leftovers_adopted == 0


def test_a_crashed_books_late_landing_seen_live_is_cancelled_without_waiting_for_a_sweep(
        ) -> None:
    late, fresh = crashed_and_fresh()
    assert fresh.handle(update(7, "open", cloid=late), EPOCH + 50) == []  # before its sync
    fresh.handle(snapshot(EPOCH + 100), EPOCH + 100)
    actions = fresh.handle(update(7, "open", cloid=late), EPOCH + 200)
    assert cancels(actions) == [7]
    assert fresh.handle(update(7, "open", cloid=late), EPOCH + 210) == []  # sent once
    fresh.handle(Fills(fills=(fill(7, 1, "0.5", cloid=late),)), EPOCH + 220)  # fills first
    # a sweep requested before the landing does not list it, and forgets nothing
    fresh.handle(snapshot(EPOCH + 230, requested_at=EPOCH + 150), EPOCH + 230)
    (cancel,) = [a for a in actions if isinstance(a, CancelOrders)]
    fresh.handle(CancelOk(request_id=cancel.request_id, cloid=late, oid=7), EPOCH + 300)
    fresh.handle(update(7, "canceled", cloid=late), EPOCH + 310)
    counters = fresh.view(EPOCH + 310).counters
    assert counters.leftovers_cancelled == 1 and counters.orphans_detected == 0
    for name in ("fills_untracked", "early_events_held", "late_events", "bad_inputs"):
        assert getattr(counters, name) == 0, name
    assert fresh.view(EPOCH + 310).position("BTC") == D("0.5")  # the account's position moved


def test_an_order_we_placed_acked_normally_is_ours() -> None:
    c = core()
    c.handle(snapshot(EPOCH), EPOCH)
    (cmd,) = c.handle(PlaceOrder(coin="BTC", side="B", px=D(100), sz=D(1)), EPOCH)
    assert isinstance(cmd, PlaceOrders)
    cloid = cmd.orders[0].cloid
    c.handle(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=9), EPOCH + 5)
    c.handle(snapshot(EPOCH + 9_000, (open_row(9, cloid=cloid),)), EPOCH + 9_000)
    view = c.view(EPOCH + 9_000)
    assert view.foreign_orders == () and view.is_synced
