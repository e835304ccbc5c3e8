"""Channel-level scenarios: the book actor driven through its inbox, time moved by the clock."""

from __future__ import annotations

from decimal import Decimal

import trio

from hlmaker.actors.book import DRAIN_BATCH
from hlmaker.messages import (
    CancelFailed,
    CancelOk,
    CancelOrder,
    CancelOrders,
    FeedConnected,
    Level,
    ModifyOrder,
    ModifyOrders,
    ModifyResting,
    NonUserCancel,
    OrderFilled,
    OrderResting,
    OrderStatusReport,
    PlaceOrder,
    PlaceOrders,
    RequestUnknown,
    TargetLadder,
)
from hlmaker.observer import Observer
from hlmaker.orders import BookConfig

from .helpers import D, as_fills, book_rig, fill, open_row, snapshot, update

BID = PlaceOrder(coin="BTC", side="B", px=D("100"), sz=D("1"))


async def place(rig, intent=BID):  # type: ignore[no-untyped-def]
    await rig.send(intent)
    cmd = await rig.command()
    assert isinstance(cmd, PlaceOrders)
    return cmd, cmd.orders[0].cloid


async def modifying(rig):  # type: ignore[no-untyped-def]
    """Place the bid, rest it at oid 7 and ask to move it to 99: ``(cloid, the ModifyOrders)``."""
    cmd, cloid = await place(rig)
    await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
    await rig.send(ModifyOrder(cloid=cloid, px=D("99"), sz=D("1")))
    mod = await rig.command()
    assert isinstance(mod, ModifyOrders)
    return cloid, mod


async def test_placed_open_update_then_reconcile_matches(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            assert rig.state(cloid) == "pending_new"
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(update(7, "open", cloid=cloid))
            assert rig.state(cloid) == "resting"
            await trio.sleep(1)
            await rig.send(snapshot(rig.now(), (open_row(7, cloid=cloid),)))
            assert rig.view.is_synced
            assert [o.oid for o in rig.view.orders] == [7]
            rig.no_command()


async def test_fill_then_filled_then_reconcile_matches(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(snapshot(rig.now(), (open_row(7, cloid=cloid),)))
            await rig.send(as_fills(fill(7, 1, "0.4", cloid=cloid)))
            assert rig.state(cloid) == "partially_filled"
            await rig.send(as_fills(fill(7, 2, "0.6", start="0.4", cloid=cloid)),
                           update(7, "filled", sz="0", cloid=cloid))
            assert rig.state(cloid) == "filled"
            assert rig.view.position("BTC") == D("1")
            await trio.sleep(1)
            await rig.send(snapshot(rig.now(), (), {"BTC": "1"}))
            assert rig.view.is_synced and rig.view.counters.position_drifts == 0
            assert rig.view.counters.gaps_detected == 0


async def test_fill_before_ack_attaches_through_cloid(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(snapshot(rig.now()))
            # The WebSocket fill outruns the ack that names oid 9.
            await rig.send(as_fills(fill(9, 1, "1", cloid=cloid)))
            assert rig.view.position("BTC") == D("1")
            assert rig.state(cloid) == "filled"
            await rig.send(OrderFilled(request_id=cmd.request_id, cloid=cloid, oid=9,
                                       total_sz=D("1"), avg_px=D("100")))
            assert rig.state(cloid) == "filled"
            assert rig.view.counters.fills_applied == 1
            assert rig.view.counters.illegal_transitions == 0
            assert rig.view.position("BTC") == D("1")


async def test_fill_before_ack_without_cloid_is_held_until_the_ack(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(snapshot(rig.now()))
            await rig.send(update(9, "open"), as_fills(fill(9, 1, "0.25")))
            assert rig.view.position("BTC") == D("0.25")  # the position moves at once
            assert rig.state(cloid) == "pending_new"
            assert rig.view.counters.early_events_held == 2
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=9))
            assert rig.state(cloid) == "partially_filled"
            assert rig.core.orders[cloid].leg_filled == D("0.25")


async def test_duplicate_fill_counted_once(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            f = fill(7, 1, "0.5", cloid=cloid)
            await rig.send(as_fills(f), as_fills(f), as_fills(f, snapshot=True))
            assert rig.view.position("BTC") == D("0.5")
            assert rig.view.counters.duplicate_fills_dropped == 1  # the live feed's twice
            assert rig.view.counters.fills_reread == 1  # the snapshot's re-read: no anomaly
            assert rig.view.counters.fills_applied == 1


async def test_orphan_gets_grace_then_cancel(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig(BookConfig(coins=("BTC",), orphan_grace_ms=5_000)) as rig:
            await rig.send(snapshot(rig.now()))  # synced: quoting may start
            ours = rig.core.registry.new_cloid()  # this process's, not tracked (a late landing)
            await rig.send(snapshot(rig.now(), (open_row(555, cloid=ours),)))
            assert rig.view.counters.orphans_detected == 0  # not at first sight
            rig.no_command()
            await trio.sleep(2)
            await rig.send(snapshot(rig.now(), (open_row(555, cloid=ours),)))
            rig.no_command()  # still inside the grace window
            await trio.sleep(4)
            reqs = rig.drain_requests()
            assert any(r.reason == "orphan" for r in reqs)  # the book asked for a fresh look
            await rig.send(snapshot(rig.now(), (open_row(555, cloid=ours),)))
            cmd = await rig.command()
            assert isinstance(cmd, CancelOrders) and cmd.cancels[0].oid == 555
            assert rig.view.counters.orphans_detected == 1  # unexplained after the grace
            await rig.send(CancelOk(request_id=cmd.request_id, cloid=None, oid=555))
            assert rig.view.counters.orphans_cancelled == 1
            await rig.send(snapshot(rig.now()))
            assert rig.view.is_synced


async def test_pending_order_listed_before_its_ack_is_not_an_orphan(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig(BookConfig(coins=("BTC",), orphan_grace_ms=0)) as rig:
            cmd, cloid = await place(rig)
            await rig.send(snapshot(rig.now(), (open_row(31, cloid=cloid),)))
            rig.no_command()
            assert rig.view.counters.orphans_detected == 0
            assert rig.core.orders[cloid].oid == 31
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=31))
            assert rig.state(cloid) == "resting" and rig.view.counters.illegal_transitions == 0


async def test_stale_protection_window(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            requested = rig.now()
            await trio.sleep(0.5)
            # Acked after the snapshot was requested: the snapshot may not list it (F13).
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(snapshot(rig.now(), (), requested_at=requested))
            assert rig.state(cloid) == "resting"
            assert rig.view.counters.stale_removed == 0
            await trio.sleep(10)
            await rig.send(snapshot(rig.now()))
            assert rig.state(cloid) == "canceled"
            assert rig.view.counters.stale_removed == 1


async def test_cancel_fill_race(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(snapshot(rig.now(), (open_row(7, cloid=cloid),)))
            await rig.send(CancelOrder(cloid=cloid))
            cancel = await rig.command()
            assert isinstance(cancel, CancelOrders) and cancel.cancels[0].oid == 7
            assert rig.state(cloid) == "pending_cancel"
            await rig.send(CancelFailed(
                request_id=cancel.request_id, cloid=cloid, oid=7,
                error="Order was never placed, already canceled, or filled. asset=0"))
            assert rig.state(cloid) == "pending_cancel"  # await evidence
            assert any(r.reason == "cancel_failed" for r in rig.drain_requests())
            await rig.send(as_fills(fill(7, 3, "1", cloid=cloid)))
            assert rig.state(cloid) == "filled"
            assert rig.view.position("BTC") == D("1")
            assert rig.view.counters.illegal_transitions == 0


async def test_immediate_fill_in_ack_and_ws_fill_counted_once(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig, PlaceOrder(coin="BTC", side="B", px=D("101"),
                                                      sz=D("1"), tif="Ioc"))
            await rig.send(snapshot(rig.now()))
            await rig.send(OrderFilled(request_id=cmd.request_id, cloid=cloid, oid=4,
                                       total_sz=D("1"), avg_px=D("100.5")))
            assert rig.state(cloid) == "filled"
            assert rig.view.position("BTC") == D("0")  # the ack has no tid: the fill moves it
            await rig.send(as_fills(fill(4, 10, "1", cloid=cloid)))
            await rig.send(as_fills(fill(4, 10, "1", cloid=cloid), snapshot=True))
            assert rig.view.position("BTC") == D("1")
            assert rig.view.counters.fills_applied == 1
            assert rig.core.orders[cloid].awaiting_fills_since is None


async def test_ack_filled_but_fill_never_arrives_asks_for_a_sweep(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(snapshot(rig.now()))
            rig.drain_requests()
            await rig.send(OrderFilled(request_id=cmd.request_id, cloid=cloid, oid=4,
                                       total_sz=D("1"), avg_px=D("100")))
            await trio.sleep(6)
            assert any(r.reason == "missing_fills" for r in rig.drain_requests())
            await rig.send(snapshot(rig.now(), (), {"BTC": "1"},
                                    fills=(fill(4, 10, "1", cloid=cloid, time_ms=rig.now()),)))
            assert rig.view.position("BTC") == D("1") and rig.view.is_synced


async def test_late_event_after_clean_up(autojump_clock) -> None:
    with trio.fail_after(60):
        async with book_rig(BookConfig(coins=("BTC",), terminal_retention_ms=1_000)) as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(as_fills(fill(7, 1, "1", cloid=cloid)))
            assert rig.state(cloid) == "filled"
            await trio.sleep(3)
            await rig.send(update(7, "filled", sz="0"))  # wakes a tick after the window
            await trio.sleep(1)
            assert cloid not in rig.core.orders
            await rig.send(as_fills(fill(7, 1, "1", cloid=cloid)), update(7, "canceled"))
            assert rig.view.position("BTC") == D("1")
            assert rig.view.counters.duplicate_fills_dropped == 1
            assert rig.view.counters.late_events >= 1
            assert rig.view.counters.illegal_transitions == 0


async def test_position_drift_adopted(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            await rig.send(snapshot(rig.now(), (), {"BTC": "0"}))
            await trio.sleep(1)
            await rig.send(snapshot(rig.now(), (), {"BTC": "-0.3", "ETH": "2"},
                                    fills_complete=False))
            assert rig.view.position("BTC") == D("-0.3")
            assert rig.view.position("ETH") == D("2")
            assert rig.view.counters.position_drifts == 2
            assert not rig.view.is_synced
            await rig.send(snapshot(rig.now(), (), {"BTC": "-0.3", "ETH": "2"}))
            assert rig.view.is_synced


async def test_start_position_gap_detected(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(snapshot(rig.now(), (open_row(7, cloid=cloid),)))
            rig.drain_requests()
            # The exchange says the position was 0.5 before this fill: one was missed.
            await rig.send(as_fills(fill(7, 2, "0.2", start="0.5", cloid=cloid)))
            assert rig.view.counters.gaps_detected == 1
            reqs = rig.drain_requests()
            assert [r.reason for r in reqs] == ["gap"]
            assert not rig.view.is_synced
            missed = fill(99, 1, "0.5", time_ms=rig.now() - 10)
            await rig.send(snapshot(rig.now(), (open_row(7, sz="0.8", cloid=cloid),),
                                    {"BTC": "0.7"}, fills=(missed,)))
            assert rig.view.position("BTC") == D("0.7")
            assert rig.view.counters.position_drifts == 0


async def test_modify_with_late_canceled_for_old_oid(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(ModifyOrder(cloid=cloid, px=D("99"), sz=D("2")))
            mod = await rig.command()
            assert isinstance(mod, ModifyOrders) and mod.modifies[0].oid == 7
            assert rig.state(cloid) == "pending_modify"
            await rig.send(ModifyResting(request_id=mod.request_id, cloid=cloid, old_oid=7,
                                         new_oid=8))
            await rig.send(update(8, "open", sz="2", orig="2", px="99", cloid=cloid))
            await rig.send(update(7, "canceled", cloid=cloid))  # late, for the old oid
            order = rig.core.orders[cloid]
            assert order.state.value == "resting" and order.oid == 8
            assert (order.px, order.sz) == (D("99"), D("2"))
            await rig.send(snapshot(rig.now(), (open_row(8, sz="2", px="99", cloid=cloid),)))
            assert rig.view.is_synced and rig.view.counters.orphans_detected == 0


async def test_modify_new_oid_seen_before_the_ack(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cloid, mod = await modifying(rig)
            await rig.send(update(7, "canceled", cloid=cloid),
                           update(8, "open", px="99", cloid=cloid),
                           as_fills(fill(8, 5, "0.5", cloid=cloid)))
            assert rig.core.orders[cloid].oid == 8
            assert rig.state(cloid) == "partially_filled"
            await rig.send(ModifyResting(request_id=mod.request_id, cloid=cloid, old_oid=7,
                                         new_oid=8))
            assert rig.state(cloid) == "partially_filled"
            assert rig.view.counters.illegal_transitions == 0


async def test_timed_out_placement_that_landed(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(RequestUnknown(request_id=cmd.request_id, kind="place",
                                          cloids=(cloid,), expires_after_ms=cmd.expires_after_ms,
                                          reason="timeout"))
            assert rig.state(cloid) == "unknown"
            assert rig.view.unresolved == 1
            reqs = [r for r in rig.drain_requests() if r.reason == "unknown_outcome"]
            assert reqs and reqs[0].cloids == (cloid,)
            # A snapshot without it proves nothing: unknown is never guessed dead.
            await rig.send(snapshot(rig.now()))
            assert rig.state(cloid) == "unknown"
            await rig.send(snapshot(rig.now(), (open_row(12, cloid=cloid),)))
            assert rig.state(cloid) == "resting" and rig.core.orders[cloid].oid == 12
            assert rig.view.counters.unknown_resolved == 1 and rig.view.unresolved == 0


async def test_timed_out_placement_that_never_landed(autojump_clock) -> None:
    with trio.fail_after(60):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(RequestUnknown(request_id=cmd.request_id, kind="place",
                                          cloids=(cloid,), expires_after_ms=cmd.expires_after_ms,
                                          reason="timeout"))
            early = OrderStatusReport(cloid=cloid, queried_at_ms=rig.now(), status=None)
            await rig.send(snapshot(rig.now(), order_statuses=(early,)))
            assert rig.state(cloid) == "unknown"  # asked before expiresAfter: not final
            await trio.sleep(11)
            late = OrderStatusReport(cloid=cloid, queried_at_ms=rig.now(), status=None)
            await rig.send(snapshot(rig.now(), order_statuses=(late,)))
            assert rig.state(cloid) == "expired"
            assert rig.view.is_synced


async def test_executor_silence_becomes_unknown(autojump_clock) -> None:
    with trio.fail_after(60):
        async with book_rig() as rig:
            _cmd, cloid = await place(rig)
            await trio.sleep(16)  # past expiresAfter + watchdog grace, no outcome at all
            assert rig.state(cloid) == "unknown"


async def test_exchange_initiated_cancel_and_reconnect(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(NonUserCancel(cancels=(("BTC", 7),)))
            assert rig.state(cloid) == "canceled"
            rig.drain_requests()
            await rig.send(FeedConnected(at_ms=rig.now(), reconnect=True))
            assert [r.reason for r in rig.drain_requests()] == ["reconnect"]


async def test_bad_input_is_counted_not_raised(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            await rig.send(
                OrderResting(request_id=99, cloid="0x" + "0" * 32, oid=1),
                PlaceOrder(coin="DOGE", side="B", px=D("1"), sz=D("10")),
                PlaceOrder(coin="BTC", side="B", px=D("1"), sz=D("-1")),
                "not a message",
                update(5, "weirdStatus"),
            )
            assert rig.view.counters.bad_inputs == 5
            rig.no_command()
            _cmd, cloid = await place(rig)  # the actor is still alive
            assert rig.state(cloid) == "pending_new"


async def test_restarted_book_does_not_replay_old_fills(autojump_clock) -> None:
    with trio.fail_after(30):
        async with book_rig() as rig:
            t = rig.now()
            old = (fill(1, 1, "1", time_ms=t - 5000), fill(2, 2, "1", start="1", time_ms=t - 4000))
            await rig.send(as_fills(*old, snapshot=True))
            assert rig.view.position("BTC") == Decimal(0)
            await rig.send(snapshot(t, (), {"BTC": "2"}, fills=old))
            assert rig.view.position("BTC") == D("2")
            assert rig.view.counters.fills_applied == 0
            assert rig.view.counters.fills_preexisting == 2
            assert rig.view.counters.position_drifts == 0
            await rig.send(as_fills(fill(3, 3, "1", start="2", time_ms=t + 10)))
            assert rig.view.position("BTC") == D("3") and rig.view.counters.gaps_detected == 0


async def test_cancel_in_flight_survives_an_unknown_placement(autojump_clock) -> None:
    """Regression (found by the long Hypothesis run): cancel by cloid in flight, the placement's
    ack lost, then `open` arrives — the order must stay pending_cancel so the CancelOk is legal."""
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(CancelOrder(cloid=cloid))
            cancel = await rig.command()
            assert isinstance(cancel, CancelOrders) and cancel.cancels[0].oid is None
            await rig.send(RequestUnknown(request_id=cmd.request_id, kind="place",
                                          cloids=(cloid,), expires_after_ms=cmd.expires_after_ms,
                                          reason="timeout"))
            assert rig.state(cloid) == "unknown"
            await rig.send(update(103, "open", cloid=cloid))
            assert rig.state(cloid) == "pending_cancel"
            await rig.send(CancelOk(request_id=cancel.request_id, cloid=cloid, oid=None))
            assert rig.state(cloid) == "canceled"
            assert rig.view.counters.illegal_transitions == 0


class _Batches(Observer):
    def __init__(self) -> None:
        self.batches: list[tuple[int, float]] = []

    def book_batch(self, messages: int, seconds: float) -> None:
        self.batches.append((messages, seconds))


async def test_a_backlog_is_applied_in_bounded_batches_each_reported(autojump_clock) -> None:
    # The book drains a busy inbox in batches of at most DRAIN_BATCH (then yields and
    # publishes a view), and reports each batch to its observer (the metrics' feed).
    observer = _Batches()
    batches = observer.batches
    with trio.fail_after(30):
        async with book_rig(inbox_size=1_000, observer=observer) as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            batches.clear()
            f = fill(7, 1, "0.5", cloid=cloid)
            for _ in range(600):
                rig.inbox.send_nowait(as_fills(f))
            await rig.settle()
            assert rig.view.counters.fills_applied == 1
            assert rig.view.counters.duplicate_fills_dropped == 599
    sizes = [n for n, _ in batches]
    assert sum(sizes) == 600 and max(sizes) == DRAIN_BATCH, sizes
    assert all(s >= 0 for _, s in batches)


async def test_a_part_of_a_command_reported_unknown_keeps_the_rest_watched(
        autojump_clock) -> None:
    # The executor sends one command as several actions (over 200 orders; cancels by oid and
    # by cloid): an unknown outcome for one part must not make the book forget the request,
    # or an order of another part that never gets an outcome (the executor died) would stay
    # pending forever instead of turning unknown at the watchdog.
    ladder = TargetLadder(coin="BTC", bids=(Level(px=D(100), sz=D(1)), Level(px=D(99), sz=D(1))))
    with trio.fail_after(60):
        async with book_rig() as rig:
            await rig.send(ladder)
            cmd = await rig.command()
            assert isinstance(cmd, PlaceOrders) and len(cmd.orders) == 2
            first, second = (o.cloid for o in cmd.orders)
            await rig.send(RequestUnknown(request_id=cmd.request_id, kind="place",
                                          cloids=(first,), expires_after_ms=cmd.expires_after_ms,
                                          reason="timeout"))
            assert rig.state(first) == "unknown" and rig.state(second) == "pending_new"
            await trio.sleep((cmd.expires_after_ms - rig.now()) / 1000 + 6)
            assert rig.state(second) == "unknown"


async def test_an_orphan_cancel_answered_after_a_sweep_dropped_the_orphan(autojump_clock) -> None:
    # The exchange lists an oid we finalized (filled here) under our cloid; it is cancelled as
    # an orphan, a sweep taken after the cancel landed no longer lists it (so the book forgot
    # it) before the CancelOk arrives: nothing happens to our filled order.
    with trio.fail_after(30):
        async with book_rig(BookConfig(coins=("BTC",), orphan_grace_ms=0)) as rig:
            cmd, cloid = await place(rig)
            size = str(cmd.orders[0].sz)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7))
            await rig.send(as_fills(fill(7, 1, size, cloid=cloid)))
            await trio.sleep(5)
            rows = (open_row(7, cloid=cloid),)
            await rig.send(snapshot(rig.now(), rows, positions={"BTC": size}))
            await trio.sleep(1)
            await rig.send(snapshot(rig.now(), rows, positions={"BTC": size}))
            cancel = await rig.command()
            assert isinstance(cancel, CancelOrders)
            await trio.sleep(1)
            await rig.send(snapshot(rig.now(), (), positions={"BTC": size}))
            assert 7 not in rig.core.orphans
            illegal = rig.view.counters.illegal_transitions
            await rig.send(CancelOk(request_id=cancel.request_id, cloid=cloid, oid=7))
            assert rig.state(cloid) == "filled"
            assert rig.view.counters.illegal_transitions == illegal
            assert rig.view.is_synced


async def test_a_late_unknown_for_a_superseded_modify_leaves_the_newer_one_in_flight(
        autojump_clock) -> None:
    """Regression (chaos seed 41, S9 double ladder): modify A lands (seen on the order
    stream) but its answer never comes; the watchdog gives A up; modify B is sent; only then
    does the executor report A unknown ("expired while retrying"). That verdict is about A,
    not B: the order must stay pending_modify under B, so a snapshot taken before B lands
    cannot settle it resting, and B's landing (old leg cancelled, new leg open) rebinds the
    cloid instead of finalizing it and leaving the new leg untracked."""
    with trio.fail_after(60):
        async with book_rig() as rig:
            cloid, mod_a = await modifying(rig)
            await rig.send(update(7, "canceled", cloid=cloid),
                           update(8, "open", px="99", cloid=cloid))
            assert rig.state(cloid) == "resting" and rig.core.orders[cloid].oid == 8
            await trio.sleep(16)  # past A's expiresAfter + watchdog grace: A given up
            await rig.send(snapshot(rig.now(), (open_row(8, px="99", cloid=cloid),)))
            assert rig.state(cloid) == "resting"
            await rig.send(ModifyOrder(cloid=cloid, px=D("98"), sz=D("1")))
            mod_b = await rig.command()
            assert isinstance(mod_b, ModifyOrders) and mod_b.modifies[0].oid == 8
            assert rig.state(cloid) == "pending_modify"
            # The executor's own verdict on A, late.
            await rig.send(RequestUnknown(request_id=mod_a.request_id, kind="modify",
                                          cloids=(cloid,), expires_after_ms=mod_a.expires_after_ms,
                                          reason="expired while retrying"))
            assert rig.state(cloid) == "pending_modify"
            # A snapshot taken before B lands lists the old leg: B may still land.
            await rig.send(snapshot(rig.now(), (open_row(8, px="99", cloid=cloid),)))
            assert rig.state(cloid) == "pending_modify"
            # B lands: the old leg is cancelled, the new one rests under the same cloid.
            await rig.send(update(8, "canceled", px="99", cloid=cloid),
                           update(9, "open", px="98", cloid=cloid))
            await rig.send(ModifyResting(request_id=mod_b.request_id, cloid=cloid, old_oid=8,
                                         new_oid=9))
            order = rig.core.orders[cloid]
            assert order.state.value == "resting" and order.oid == 9 and order.px == D("98")
            await rig.send(snapshot(rig.now(), (open_row(9, px="98", cloid=cloid),)))
            assert rig.view.counters.orphans_detected == 0
            assert rig.view.counters.illegal_transitions == 0


async def test_a_late_answer_to_a_superseded_modify_leaves_the_newer_one_in_flight(
        autojump_clock) -> None:
    """Regression (chaos seed 281 × 5 min, S9 double ladder): modify A lands and the order
    stream moves the cloid to A's new leg; the watchdog gives A up (a clock jump); modify B is
    sent from the new leg; only then does A's own answer arrive. It must not take the order
    out of pending_modify: B's landing (its old leg cancelled) would otherwise finalize the
    order as cancelled, leave B's new leg untracked, and the ladder would place anew."""
    with trio.fail_after(60):
        async with book_rig() as rig:
            cloid, mod_a = await modifying(rig)
            await rig.send(update(7, "canceled", cloid=cloid),
                           update(8, "open", px="99", cloid=cloid))
            assert rig.core.orders[cloid].oid == 8
            await rig.send(RequestUnknown(request_id=mod_a.request_id, kind="modify",
                                          cloids=(cloid,), expires_after_ms=mod_a.expires_after_ms,
                                          reason="no outcome from the executor"))
            assert [r.reason for r in rig.drain_requests()][-1] == "unknown_outcome"
            await rig.send(ModifyOrder(cloid=cloid, px=D("98"), sz=D("1")))
            mod_b = await rig.command()
            assert isinstance(mod_b, ModifyOrders) and mod_b.modifies[0].oid == 8
            # A's answer, late: it names the leg the cloid is already at.
            await rig.send(ModifyResting(request_id=mod_a.request_id, cloid=cloid, old_oid=7,
                                         new_oid=8))
            assert rig.state(cloid) == "pending_modify"
            assert rig.core.orders[cloid].inflight == mod_b.request_id
            # B lands: the old leg is cancelled, the new one rests under the same cloid.
            await rig.send(update(8, "canceled", px="99", cloid=cloid),
                           update(9, "open", px="98", cloid=cloid))
            await rig.send(ModifyResting(request_id=mod_b.request_id, cloid=cloid, old_oid=8,
                                         new_oid=9))
            order = rig.core.orders[cloid]
            assert order.state.value == "resting" and order.oid == 9 and order.px == D("98")
            assert rig.view.counters.illegal_transitions == 0


async def test_an_event_for_an_older_leg_of_a_cloid_is_never_a_move_back(autojump_clock) -> None:
    """Regression (chaos seed 115 × 5 min): a fresh book knows an order only at its current
    leg; a late push for a leg replaced before the crash (a lower oid: the exchange gives oids
    in increasing order) must not move the cloid back and finalize it — the order still rests
    at its current leg, and the ladder would place a second one beside it."""
    with trio.fail_after(30):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=20))
            await rig.send(update(20, "open", cloid=cloid))
            await rig.send(update(10, "canceled", cloid=cloid))  # a leg this book never knew
            order = rig.core.orders[cloid]
            assert order.state.value == "resting" and order.oid == 20
            await rig.send(update(30, "open", cloid=cloid))  # a later leg still moves it
            assert rig.core.orders[cloid].oid == 30


async def test_a_restarted_book_drops_placements_from_before_its_start_up_sync(
        autojump_clock) -> None:
    """Regression (chaos seed 13 × 5 min): the inbox may still hold a ladder the quoter
    computed on the crashed book's view; the fresh book must not place it before its start-up
    sync has settled that book's orders (a second ladder). Cancels pass; after the sync,
    targets are applied."""
    ladder = TargetLadder(coin="BTC", bids=(Level(px=D("100"), sz=D("1")),), asks=())
    with trio.fail_after(30):
        async with book_rig(placements_before_ready=False) as rig:
            await rig.send(ladder)
            await rig.send(BID)
            rig.no_command()
            assert rig.core.orders == {}
            await rig.send(snapshot(rig.now(), ()))
            assert rig.view.ready
            await rig.send(ladder)
            cmd = await rig.command()
            assert isinstance(cmd, PlaceOrders) and cmd.orders[0].px == D("100")


async def test_an_order_modified_many_times_keeps_a_bounded_history(autojump_clock) -> None:
    """A resting order modified on every re-quote keeps only its last REPLACED_KEPT legs
    indexed (memory and the per-answer membership check stay flat over a long session); a
    late event for a leg dropped from that history is still late, never a move back."""
    from hlmaker.orders.registry import REPLACED_KEPT

    with trio.fail_after(60):
        async with book_rig() as rig:
            cmd, cloid = await place(rig)
            await rig.send(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=1000))
            oid = 1000
            for n in range(REPLACED_KEPT + 40):
                await rig.send(ModifyOrder(cloid=cloid, px=D(99) - D(n) / 100, sz=D("1")))
                mod = await rig.command()
                assert isinstance(mod, ModifyOrders)
                await rig.send(ModifyResting(request_id=mod.request_id, cloid=cloid,
                                             old_oid=oid, new_oid=oid + 1))
                oid += 1
            order = rig.core.orders[cloid]
            assert order.oid == oid and len(order.replaced_oids) == REPLACED_KEPT
            assert len(rig.core.oid_to_cloid) == REPLACED_KEPT + 1
            await rig.send(update(1000, "canceled", cloid=cloid))  # the very first leg, late
            order = rig.core.orders[cloid]
            assert order.state.value == "resting" and order.oid == oid
            assert rig.view.counters.illegal_transitions == 0
