"""The reconciler actor against a fake ``/info`` (httpx.MockTransport)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from typing import Any

import attrs
import httpx
import trio
import trio.testing

from hlmaker.actors.budget import AddressBudget
from hlmaker.actors.latest import Latest
from hlmaker.actors.ratelimit import IpWeightBudget, Priority
from hlmaker.actors.reconciler import FILL_PAGE_MIN, MAX_FILL_PAGES, ReconcileStatus, run_reconciler
from hlmaker.clock import WallClock
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.messages import ReconcileRequest, ReconcileSnapshot

from .conftest import EPOCH, USER, FakeVenue, cloid

D = Decimal


def fill_row(tid: int, time_ms: int, oid: int = 3) -> dict[str, Any]:
    return {"coin": "BTC", "px": "60000.0", "sz": "0.001", "side": "B", "time": time_ms,
            "startPosition": "0", "dir": "Open Long", "closedPnl": "0.0", "hash": "0xab",
            "oid": oid, "crossed": False, "fee": "0.01", "feeToken": "USDC", "tid": tid}


def open_row(oid: int, c: str | None) -> dict[str, Any]:
    row = {"coin": "BTC", "side": "B", "limitPx": "60000.0", "sz": "0.001", "oid": oid,
           "timestamp": EPOCH - 5, "origSz": "0.001", "reduceOnly": False,
           "orderType": "Limit", "tif": "Alo", "isTrigger": False, "triggerPx": "0.0",
           "triggerCondition": "N/A", "isPositionTpsl": False, "children": []}
    row["cloid"] = c
    return row


def order_status(body: dict[str, Any]) -> dict[str, Any]:
    if body["oid"] == cloid(1):
        return {"status": "order", "order": {"order": open_row(11, cloid(1)), "status": "open",
                                             "statusTimestamp": EPOCH - 5}}
    return {"status": "unknownOid"}


def standard(venue: FakeVenue) -> FakeVenue:
    venue.info.update({
        "frontendOpenOrders": [open_row(11, cloid(1)), open_row(12, None)],
        "clearinghouseState": {"assetPositions": [
            {"type": "oneWay", "position": {"coin": "BTC", "szi": "-0.25", "entryPx": "61000.5"}},
            {"type": "oneWay", "position": {"coin": "ETH", "szi": "0.5", "entryPx": None}},
            {"type": "oneWay", "position": {"coin": "SOL", "szi": "0"}}],
            "time": EPOCH + 3},
        "userFills": [fill_row(1, EPOCH - 100)],
        "userFillsByTime": lambda body: [fill_row(2, EPOCH - 50), fill_row(3, EPOCH - 40)],
        "orderStatus": order_status,
    })
    return venue


@attrs.define
class ReconRig:
    requests: trio.MemorySendChannel[ReconcileRequest]
    book: trio.MemoryReceiveChannel[object]
    status: Latest[ReconcileStatus]
    clock: WallClock

    def snapshots(self) -> list[ReconcileSnapshot]:
        out = []
        while True:
            try:
                msg = self.book.receive_nowait()
            except trio.WouldBlock:
                return out
            assert isinstance(msg, ReconcileSnapshot)
            out.append(msg)


@asynccontextmanager
async def reconciler_rig(venue: FakeVenue, *, first: ReconcileRequest | None = None,
                         interval_s: float = 5.0, min_gap_s: float = 0.5,
                         budget: AddressBudget | None = None,
                         ip_weight: IpWeightBudget | None = None) -> AsyncIterator[ReconRig]:
    clock = WallClock(EPOCH)
    raw = RestClient("http://fake", transport=venue.transport(), timeout_s=2.0)
    rest = raw if ip_weight is None else raw.gated(ip_weight.gate(Priority.READ))
    urgent = None if ip_weight is None else raw.gated(ip_weight.gate(Priority.CANCEL))
    req_s, req_r = trio.open_memory_channel[ReconcileRequest](math.inf)
    book_s, book_r = trio.open_memory_channel[object](math.inf)
    status = Latest(ReconcileStatus(at_ms=0, sweeps=0))
    if first is not None:
        req_s.send_nowait(first)
    async with raw, trio.open_nursery() as nursery:
        await nursery.start(partial(run_reconciler, req_r, book_s, status, rest=rest, user=USER,
                                    clock=clock, interval_s=interval_s, min_gap_s=min_gap_s,
                                    budget=budget, ip_weight=ip_weight, urgent_rest=urgent))
        yield ReconRig(req_s, book_r, status, clock)
        nursery.cancel_scope.cancel()


async def test_one_sweep_sends_one_snapshot_with_everything(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    since = EPOCH - 60_000
    req = ReconcileRequest(reason="unknown", since_ms=since, cloids=(cloid(1), cloid(2)))
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=req) as rig:
            snap = await rig.book.receive()
            await trio.testing.wait_all_tasks_blocked()
            assert rig.snapshots() == []  # exactly one
            status = rig.status.value
    assert snap.requested_at_ms == EPOCH and snap.taken_at_ms >= EPOCH
    assert [(o.oid, o.cloid) for o in snap.open_orders] == [(11, cloid(1)), (12, None)]
    assert snap.positions == {"BTC": D("-0.25"), "ETH": D("0.5"), "SOL": D(0)}
    assert snap.entry_px == {"BTC": D("61000.5")}  # a null entryPx is left out
    assert snap.positions_time_ms == EPOCH + 3
    assert [(f.tid, f.time_ms) for f in snap.fills] == [(2, EPOCH - 50), (3, EPOCH - 40)]
    assert snap.fills_complete
    by_cloid = {s.cloid: s for s in snap.order_statuses}
    assert set(by_cloid) == {cloid(1), cloid(2)}
    assert by_cloid[cloid(1)].status == "open" and by_cloid[cloid(1)].order is not None
    assert by_cloid[cloid(1)].order.oid == 11
    assert by_cloid[cloid(2)].status is None  # unknownOid
    bodies = [s.body for s in venue.seen]
    # the position is read before the fills (a fill between the reads must be in the snapshot)
    assert [b["type"] for b in bodies] == ["orderStatus", "orderStatus", "frontendOpenOrders",
                                           "clearinghouseState", "userFillsByTime"]
    assert {b["oid"] for b in bodies[:2]} == {cloid(1), cloid(2)}
    assert all(b["user"] == USER for b in bodies)
    assert bodies[4]["startTime"] == since
    assert status.sweeps == 1 and status.at_ms == snap.taken_at_ms
    assert status.exchange_open == snap.open_orders and status.positions == snap.positions
    assert status.entry_px == {"BTC": D("61000.5")}


async def test_without_since_it_reads_user_fills(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=ReconcileRequest(reason="startup",
                                                                since_ms=None)) as rig:
            snap = await rig.book.receive()
    assert [f.tid for f in snap.fills] == [1]
    assert [s.kind for s in venue.seen] == ["frontendOpenOrders", "clearinghouseState",
                                            "userFills"]
    assert snap.order_statuses == ()


async def test_fills_are_paged_while_pages_come_back_full(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    base = EPOCH - 100_000
    pages = {
        base: [fill_row(i, base + i) for i in range(FILL_PAGE_MIN)],
        # the next page starts at the last row's time: that row comes again (de-duplicated)
        base + FILL_PAGE_MIN - 1: [fill_row(i, base + i)
                                   for i in range(FILL_PAGE_MIN - 1, FILL_PAGE_MIN + 120)],
    }
    venue.info["userFillsByTime"] = lambda body: pages[body["startTime"]]
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=ReconcileRequest(reason="gap",
                                                                since_ms=base)) as rig:
            snap = await rig.book.receive()
    starts = [s.body["startTime"] for s in venue.seen if s.kind == "userFillsByTime"]
    assert starts == [base, base + FILL_PAGE_MIN - 1]
    assert [f.tid for f in snap.fills] == list(range(FILL_PAGE_MIN + 120))
    assert snap.fills_complete


async def test_fills_still_full_after_the_page_limit_are_flagged_incomplete(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    venue.info["userFillsByTime"] = lambda body: [
        fill_row(body["startTime"] * 1000 + i, body["startTime"] + i)
        for i in range(FILL_PAGE_MIN)]
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=ReconcileRequest(reason="gap",
                                                                since_ms=1)) as rig:
            snap = await rig.book.receive()
    assert len([s for s in venue.seen if s.kind == "userFillsByTime"]) == MAX_FILL_PAGES
    assert not snap.fills_complete


async def test_requests_within_min_gap_are_merged_into_one_sweep(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=ReconcileRequest(reason="startup",
                                                                since_ms=None)) as rig:
            first = await rig.book.receive()
            t_first = trio.current_time()
            for req in (ReconcileRequest(reason="unknown", since_ms=EPOCH - 5_000,
                                         cloids=(cloid(1),)),
                        ReconcileRequest(reason="gap", since_ms=EPOCH - 9_000),
                        ReconcileRequest(reason="unknown", since_ms=EPOCH - 7_000,
                                         cloids=(cloid(2), cloid(1)))):
                await rig.requests.send(req)
                await trio.sleep(0.1)
            second = await rig.book.receive()
            t_second = trio.current_time()
            await trio.sleep(1.0)
            assert rig.snapshots() == []
    assert first.requested_at_ms == EPOCH
    assert t_second - t_first >= 0.5 - 1e-9  # not before min_gap_s
    second_sweep = [s for s in venue.seen if s.at >= t_first]
    status_bodies = [s.body for s in second_sweep if s.kind == "orderStatus"]
    assert sorted(b["oid"] for b in status_bodies) == [cloid(1), cloid(2)]  # union, once each
    [by_time] = [s.body for s in second_sweep if s.kind == "userFillsByTime"]
    assert by_time["startTime"] == EPOCH - 9_000  # the earliest since
    assert {s.cloid for s in second.order_statuses} == {cloid(1), cloid(2)}


async def test_a_request_during_a_slow_sweep_is_merged_into_the_next(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    state = venue.info["clearinghouseState"]

    async def slow(request: httpx.Request) -> httpx.Response:
        await trio.sleep(1.5)
        return httpx.Response(200, json=state)

    venue.info["clearinghouseState"] = lambda body: slow
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=ReconcileRequest(reason="startup",
                                                                since_ms=None)) as rig:
            await trio.sleep(0.5)  # the first sweep is waiting for clearinghouseState
            await rig.requests.send(ReconcileRequest(reason="unknown", since_ms=None,
                                                     cloids=(cloid(1),)))
            await rig.requests.send(ReconcileRequest(reason="unknown", since_ms=None,
                                                     cloids=(cloid(2),)))
            first = await rig.book.receive()
            second = await rig.book.receive()
            await trio.sleep(2.0)
            assert rig.snapshots() == []
    assert first.order_statuses == ()
    assert {s.cloid for s in second.order_statuses} == {cloid(1), cloid(2)}


async def test_failures_are_retried_with_backoff_and_never_crash(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    failures: list[Any] = [
        httpx.ConnectError("connection refused"),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"unexpected": True}),  # no assetPositions
    ]
    good = venue.info["clearinghouseState"]
    venue.info["clearinghouseState"] = lambda body: failures.pop(0) if failures else good
    req = ReconcileRequest(reason="unknown", since_ms=None, cloids=(cloid(1),))
    with trio.fail_after(60):
        async with reconciler_rig(venue, first=req) as rig:
            t0 = trio.current_time()
            snap = await rig.book.receive()
            done = trio.current_time() - t0
            status = await rig.status.wait_for(lambda s: s.sweeps == 1)
    attempts = [round(s.at - t0, 3) for s in venue.seen if s.kind == "clearinghouseState"]
    assert attempts == [0, 1, 3, 7, 15]  # backoff 1, 2, 4, 8 s
    assert round(done) == 15
    assert {s.cloid for s in snap.order_statuses} == {cloid(1)}  # the request was kept
    assert status.failures == 4 and status.sweeps == 1


async def test_the_timer_triggers_sweeps(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    with trio.fail_after(60):
        async with reconciler_rig(venue, interval_s=5.0) as rig:
            t0 = trio.current_time()
            await trio.sleep(16)
            snaps = rig.snapshots()
    times = [round(s.at - t0, 3) for s in venue.seen if s.kind == "frontendOpenOrders"]
    assert times == [0, 5, 10, 15]
    assert len(snaps) == 4
    assert all(s.order_statuses == () for s in snaps)
    assert rig.status.value.sweeps == 4


async def test_closing_the_request_channel_ends_the_actor(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    clock = WallClock(EPOCH)
    req_s, req_r = trio.open_memory_channel[ReconcileRequest](math.inf)
    book_s, book_r = trio.open_memory_channel[object](math.inf)
    with trio.fail_after(30):
        async with RestClient("http://fake", transport=venue.transport()) as rest, \
                trio.open_nursery() as nursery:
            await nursery.start(partial(
                run_reconciler, req_r, book_s, Latest(ReconcileStatus(at_ms=0, sweeps=0)),
                rest=rest, user=USER, clock=clock))
            await book_r.receive()  # the first (timer) sweep
            await req_s.aclose()
            # the nursery exits on its own: the actor returned


async def test_an_unreadable_entry_price_never_fails_the_sweep(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    venue.info["clearinghouseState"] = {"assetPositions": [
        {"type": "oneWay", "position": {"coin": "BTC", "szi": "-0.25", "entryPx": "n/a"}}],
        "time": EPOCH + 3}
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=ReconcileRequest(reason="timer",
                                                                 since_ms=None)) as rig:
            snap = await rig.book.receive()
    assert snap.positions == {"BTC": D("-0.25")} and snap.entry_px == {}
    assert rig.status.value.failures == 0


async def test_each_sweep_is_followed_by_a_user_rate_limit_read(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    standard(venue)
    venue.info["userRateLimit"] = {"cumVlm": "12.5", "nRequestsUsed": 700,
                                   "nRequestsCap": 10_012, "nRequestsSurplus": 0}
    budget = AddressBudget()
    budget.spend(5)
    with trio.fail_after(10):
        async with reconciler_rig(venue, first=ReconcileRequest(reason="start", since_ms=None),
                                  budget=budget) as rig:
            await rig.book.receive()
            await trio.testing.wait_all_tasks_blocked()
    assert venue.seen[-1].body == {"type": "userRateLimit", "user": USER}
    assert (budget.used, budget.cap, budget.headroom) == (700, 10_012, 9312)


async def _spend_the_reads_share(ip_weight: IpWeightBudget) -> None:
    """Fill the last 60 s of ``ip_weight`` up to the reads' ceiling (answered now)."""
    ticket = await ip_weight.acquire(
        ip_weight.ceiling(Priority.READ) - ip_weight.used(), Priority.READ)
    ip_weight.settle(ticket)


@asynccontextmanager
async def _rig_with_the_reads_share_spent(
        venue: FakeVenue) -> AsyncIterator[tuple[ReconRig, IpWeightBudget]]:
    """A rig (hourly timer) whose per-IP ledger has the reads' share of the minute spent."""
    standard(venue)
    ip_weight = IpWeightBudget(1200)
    await _spend_the_reads_share(ip_weight)
    async with reconciler_rig(venue, interval_s=3600, ip_weight=ip_weight) as rig:
        yield rig, ip_weight


async def test_the_shutdown_sweep_is_not_paced_behind_the_reads_share_of_the_ip_weight(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    # The reads' share of the minute is spent: a timer sweep waits for the window to slide,
    # the shutdown's confirmation goes out at once at the cancels' priority (a 10 s shutdown
    # was seen in a 10-minute run before this).
    with trio.fail_after(120):
        async with _rig_with_the_reads_share_spent(venue) as (rig, ip_weight):
            start = trio.current_time()
            await rig.requests.send(ReconcileRequest(reason="timer", since_ms=None))
            await rig.book.receive()
            assert trio.current_time() - start > 50  # waited for the reads' share to free
            await _spend_the_reads_share(ip_weight)  # spent again
            start = trio.current_time()
            await rig.requests.send(ReconcileRequest(reason="shutdown", since_ms=None))
            await rig.book.receive()
            assert trio.current_time() - start < 1


async def test_a_shutdown_asked_while_a_sweep_waits_for_room_goes_at_once(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    # A sweep is waiting for the reads' share of the minute when the shutdown asks for its
    # confirming sweep: that one must not wait behind it (a 10-minute run took 10.6 s to
    # confirm its shutdown this way).
    with trio.fail_after(120):
        async with _rig_with_the_reads_share_spent(venue) as (rig, _):
            start = trio.current_time()
            await rig.requests.send(ReconcileRequest(reason="orphan", since_ms=None))
            await trio.sleep(2)  # the orphan sweep waits for room
            assert rig.snapshots() == []
            await rig.requests.send(ReconcileRequest(reason="shutdown", since_ms=None))
            await rig.book.receive()
            assert trio.current_time() - start < 3
