"""Builders for exchange-shaped messages used by the order-core tests."""

from __future__ import annotations

import random
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import attrs
import trio

from hlmaker.actors.book import open_book_channels, run_book
from hlmaker.actors.latest import Latest
from hlmaker.clock import WallClock
from hlmaker.messages import (
    BookView,
    Command,
    Fill,
    Fills,
    OpenOrder,
    OrderUpdate,
    OrderUpdates,
    ReconcileRequest,
    ReconcileSnapshot,
)
from hlmaker.observer import NO_OBSERVER, Observer
from hlmaker.orders import BookConfig, OrderBookCore

EPOCH = 1_700_000_000_000
D = Decimal


def fill(oid: int, tid: int, sz: str, *, side: str = "B", px: str = "100", coin: str = "BTC",
         start: str = "0", cloid: str | None = None, time_ms: int = EPOCH) -> Fill:
    return Fill(coin=coin, px=D(px), sz=D(sz), side=side, time_ms=time_ms,  # type: ignore[arg-type]
                start_position=D(start), dir="Open Long", closed_pnl=D(0), hash="0x0",
                oid=oid, crossed=False, fee=D("0.01"), tid=tid, cloid=cloid)


def update(oid: int, status: str, *, sz: str = "1", orig: str = "1", cloid: str | None = None,
           coin: str = "BTC", side: str = "B", px: str = "100") -> OrderUpdates:
    return OrderUpdates(updates=(OrderUpdate(
        coin=coin, side=side, limit_px=D(px), sz=D(sz), orig_sz=D(orig), oid=oid,  # type: ignore
        timestamp_ms=EPOCH, status=status, status_timestamp_ms=EPOCH, cloid=cloid),))


def open_row(oid: int, *, sz: str = "1", cloid: str | None = None, coin: str = "BTC",
             side: str = "B", px: str = "100") -> OpenOrder:
    return OpenOrder(coin=coin, side=side, limit_px=D(px), sz=D(sz), oid=oid,  # type: ignore
                     timestamp_ms=EPOCH, orig_sz=D(sz), cloid=cloid)


def snapshot(now: int, rows: tuple[OpenOrder, ...] = (), positions: dict[str, str] | None = None,
             fills: tuple[Fill, ...] = (), requested_at: int | None = None,
             **kw: Any) -> ReconcileSnapshot:
    return ReconcileSnapshot(
        requested_at_ms=requested_at if requested_at is not None else now, taken_at_ms=now,
        open_orders=rows, positions={k: D(v) for k, v in (positions or {}).items()},
        positions_time_ms=now, fills=fills, **kw)


def as_fills(*fs: Fill, snapshot: bool = False) -> Fills:
    return Fills(fills=fs, is_snapshot=snapshot)


@attrs.define
class BookRig:
    """A running book actor with the test standing in for every other actor."""

    inbox: trio.MemorySendChannel[object]
    commands: trio.MemoryReceiveChannel[Command]
    requests: trio.MemoryReceiveChannel[ReconcileRequest]
    views: Latest[BookView]
    core: OrderBookCore
    clock: WallClock

    async def send(self, *msgs: object) -> None:
        for m in msgs:
            await self.inbox.send(m)
        await self.settle()

    async def settle(self) -> None:
        await trio.testing.wait_all_tasks_blocked()

    async def command(self) -> Command:
        with trio.fail_after(5):
            return await self.commands.receive()

    def no_command(self) -> None:
        try:
            cmd = self.commands.receive_nowait()
        except trio.WouldBlock:
            return
        raise AssertionError(f"unexpected command {cmd!r}")

    def drain_requests(self) -> list[ReconcileRequest]:
        out = []
        while True:
            try:
                out.append(self.requests.receive_nowait())
            except trio.WouldBlock:
                return out

    def now(self) -> int:
        return self.clock.now_ms()

    @property
    def view(self) -> BookView:
        return self.views.value

    def state(self, cloid: str) -> str:
        return self.core.orders[cloid].state.value


@asynccontextmanager
async def book_rig(config: BookConfig | None = None, seed: int = 0,  # type: ignore[no-untyped-def]
                   *, inbox_size: int = 100,
                   observer: Observer = NO_OBSERVER, placements_before_ready: bool = True):
    clock = WallClock(EPOCH)
    core = OrderBookCore(config or BookConfig(coins=("BTC", "ETH")), random.Random(seed),
                         observer=observer)
    ch = open_book_channels(inbox_size)
    views: Latest[BookView] = Latest(core.view(clock.now_ms()))
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: run_book(  # type: ignore[misc]
            ch.inbox_receive, ch.commands_send, ch.requests_send, views, core=core, clock=clock,
            observer=observer, placements_before_ready=placements_before_ready,
            task_status=task_status))
        yield BookRig(ch.inbox_send, ch.commands_receive, ch.requests_receive, views, core,
                      clock)
        nursery.cancel_scope.cancel()
