"""hlmaker's side of the ingest benchmark: feed + book (+ quoter) wired as in hlmaker.maker.

:func:`open_pipeline` runs the real ``run_feed`` and ``run_book`` (and ``run_quoter`` with a
recording strategy) against the feeder, the benchmark standing in for the executor and the
reconciler; :func:`hlmaker_account` and :func:`hlmaker_market` push paced runs through it and
return one row of figures per rate (see ``benchmarks/ingest.py``).
"""

from __future__ import annotations

import math
import random
import sys
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import trio

from hlmaker.actors.book import open_book_channels, run_book
from hlmaker.actors.feed import FeedStats, run_feed
from hlmaker.actors.latest import Latest
from hlmaker.actors.quoter import run_quoter
from hlmaker.clock import WallClock
from hlmaker.hyperliquid.ws import ws_url

try:
    from hlmaker.hyperliquid.ws import trio_websocket_connector
except ImportError:  # an older hlmaker (the "before" figures): trio-websocket was the transport
    from hlmaker.hyperliquid.ws import url_connector as trio_websocket_connector
from hlmaker.maker import INBOX_SIZE, MARKET_SIZE
from hlmaker.messages import (
    BookView,
    Fills,
    L2Book,
    OrderResting,
    OrderUpdates,
    PlaceOrder,
    PlaceOrders,
    ReconcileSnapshot,
    Trades,
)
from hlmaker.observer import Observer
from hlmaker.orders import BookConfig, OrderBookCore
from hlmaker.strategy.base import MarketInfo

sys.path.insert(0, str(Path(__file__).parent))
from feeder import COINS, EPOCH_MS
from feeder_process import COIN, N_ORDERS, USER, FeederProcess
from stamps import Run, figures, pct


class Pipeline(Observer):
    """hlmaker's feed and book actors, the benchmark standing in for executor and reconciler;
    also their observer: ``core_step`` stamps *applied* for each fill ``tid`` / update."""

    def __init__(self, order_sz: Decimal = Decimal(1000)) -> None:
        self.clock = WallClock(EPOCH_MS)
        self.core = OrderBookCore(BookConfig(coins=(COIN,)), random.Random(1))
        self.feed_stats = FeedStats()
        self.order_sz = order_sz
        self.run: Run | None = None
        self.orders: list[list[Any]] = []
        self.stray_actions = 0
        self.market_seen = 0
        self.ws_buffered: Callable[[], int] = lambda: 0

    def core_step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        run = self.run
        if run is None:
            return
        kind = type(msg)
        if kind is Fills:
            t = time.perf_counter()
            for f in msg.fills:  # type: ignore[union-attr]
                run.mark(f.tid, t)
        elif kind is OrderUpdates:
            t = time.perf_counter()
            for u in msg.updates:  # type: ignore[union-attr]
                run.mark(u.status_timestamp_ms - EPOCH_MS, t)

    def feed_connected(self, reconnect: bool, buffered: Callable[[], int]) -> None:
        self.ws_buffered = buffered

    def check(self, fills: int, position: str) -> dict[str, Any]:
        c = self.core.counters
        ok = (c.gaps_detected == 0 and c.duplicate_fills_dropped == 0 and c.bad_inputs == 0
              and c.illegal_transitions == 0 and c.fills_applied == fills
              and self.core.positions.get(COIN, Decimal(0)) == Decimal(position)
              and self.core.is_synced and self.feed_stats.connects == 1
              and self.stray_actions == 0)
        return {"fills_applied": c.fills_applied, "gaps": c.gaps_detected,
                "dups": c.duplicate_fills_dropped, "feed_connects": self.feed_stats.connects,
                "stray_actions": self.stray_actions, "consistent": ok}


class Recorder:
    """A strategy that quotes nothing and stamps each market frame the quoter hands it."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe

    def start(self, markets: object, now_ms: int) -> list[object]:
        return []

    def on_market(self, data: object, view: object, now_ms: int) -> list[object]:
        t = time.perf_counter()
        self.pipe.market_seen += 1
        run = self.pipe.run
        if run is not None:
            if isinstance(data, L2Book):
                run.mark(data.time_ms - EPOCH_MS, t)
            elif isinstance(data, Trades):
                for tr in data.trades:
                    run.mark(tr.tid, t)
        return []

    def on_view(self, view: object, now_ms: int) -> list[object]:
        return []

    def stop(self, view: object, now_ms: int) -> list[object]:
        return []


@asynccontextmanager
async def open_pipeline(url: str, user: str, *, quoter: bool = False,
                        order_sz: Decimal = Decimal(1000),
                        transport: str = "lean"):  # type: ignore[no-untyped-def]
    """The book (synced, ``N_ORDERS`` resting of ``order_sz``) and the feed on ``url``
    (``transport``: ``lean`` = hlmaker's RFC 6455 client, ``trio-websocket``)."""
    connector = trio_websocket_connector(url) if transport == "trio-websocket" else url
    p = Pipeline(order_sz)
    ch = open_book_channels(INBOX_SIZE)
    inbox_s, cmd_r, req_r = ch.inbox_send, ch.commands_receive, ch.requests_receive
    mkt_s, mkt_r = trio.open_memory_channel[object](MARKET_SIZE)
    views: Latest[BookView] = Latest(p.core.view(p.clock.now_ms()))
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: run_book(  # type: ignore[misc]
            ch.inbox_receive, ch.commands_send, ch.requests_send, views, core=p.core,
            clock=p.clock, observer=p, task_status=task_status))
        with trio.fail_after(5):  # stand in for the reconciler's start-up sweep and the executor
            await req_r.receive()
            now = p.clock.now_ms()
            await inbox_s.send(ReconcileSnapshot(
                requested_at_ms=now, taken_at_ms=now, open_orders=(),
                positions={COIN: Decimal(0)}, positions_time_ms=now))
            for j in range(N_ORDERS):
                side = "B" if j % 2 == 0 else "A"
                px = Decimal(100_000 - 10 * j) if side == "B" else Decimal(100_010 + 10 * j)
                await inbox_s.send(PlaceOrder(coin=COIN, side=side, px=px, sz=order_sz))
            for j in range(N_ORDERS):
                cmd = await cmd_r.receive()
                assert isinstance(cmd, PlaceOrders), cmd
                req = cmd.orders[0]
                oid = 1_000_000 + j
                await inbox_s.send(OrderResting(request_id=cmd.request_id, cloid=req.cloid,
                                                oid=oid))
                p.orders.append([oid, req.cloid, req.side, str(req.px)])
            await views.wait_for(lambda v: v.is_synced and len(v.orders) == N_ORDERS
                                 and all(o.oid is not None for o in v.orders))

        async def drain(rx: trio.MemoryReceiveChannel[Any], count: bool) -> None:
            async for _ in rx:
                if count:
                    p.stray_actions += 1

        nursery.start_soon(drain, cmd_r, True)
        nursery.start_soon(drain, req_r, True)
        if quoter:
            await nursery.start(partial(
                run_quoter, mkt_r, views, inbox_s.clone(), strategy=Recorder(p),
                markets={COIN: MarketInfo(coin=COIN, sz_decimals=5)}, clock=p.clock))
        else:
            nursery.start_soon(drain, mkt_r, False)
        await nursery.start(partial(run_feed, inbox_s.clone(), mkt_s, connector=connector,
                                    user=user,
                                    coins=(COIN,), clock=p.clock, rng=random.Random(2),
                                    stats=p.feed_stats, observer=p))
        with trio.fail_after(10):
            while not (p.feed_stats.connected and p.core.feed_up):  # noqa: ASYNC110
                await trio.sleep(0.01)
        yield p
        nursery.cancel_scope.cancel()


async def run_paced(feeder: FeederProcess, pipe: Pipeline, runs: list[tuple[float | None, int]],
                    push: dict[str, Any], seq0: int) -> tuple[list[dict[str, Any]], int]:
    """Push each (rate, n) and wait until every event was stamped; returns rows, next seq."""
    rows = []
    for rate, n in runs:
        run = Run(seq0, n)
        pipe.run = run
        max_buf = 0
        async with trio.open_nursery() as nursery:
            async def waiter(run: Run = run, n: int = n, rate: float | None = rate) -> None:
                nonlocal max_buf
                with trio.move_on_after(n / (rate or 5_000) + 15):
                    while not run.done.is_set():
                        max_buf = max(max_buf, pipe.ws_buffered())
                        await trio.sleep(0.005)
                run.cpu_s = time.process_time() - run.cpu0
            nursery.start_soon(waiter)
            answer = await feeder.acall(op="push", n=n, rate=rate, seq0=seq0, **push)
        pipe.run = None
        row = figures(run, answer, rate)
        row["max_ws_buffer"] = max_buf
        if len(run.applied) < n:
            row["error"] = f"timeout: {len(run.applied)}/{n}"
        if "position" in answer and push.get("kind") == "account":
            push["position"] = answer["position"]
            row["_fills"] = answer["fills"]
        rows.append(row)
        seq0 += n
        await trio.sleep(0.3)
    return rows, seq0


async def hlmaker_account(feeder: FeederProcess, runs: list[tuple[float | None, int]],
                          transport: str = "lean") -> list[dict[str, Any]]:
    async with open_pipeline(ws_url(feeder.base_url), USER, transport=transport) as pipe:
        push = {"kind": "account", "user": USER, "orders": pipe.orders, "position": "0"}
        await run_paced(feeder, pipe, [(None, 1000)], push, 1)  # warm-up
        rows, _ = await run_paced(feeder, pipe, runs, push, 1001)
        fills = 750 + sum(r.pop("_fills") for r in rows)
        check = pipe.check(fills, push["position"])
    for r in rows:
        r["consistent"] = check["consistent"] and "error" not in r
    rows[-1].update(check)
    return rows


async def hlmaker_market(feeder: FeederProcess, runs: list[tuple[float | None, int]],
                         kind: str) -> list[dict[str, Any]]:
    async with open_pipeline(ws_url(feeder.base_url), USER, quoter=True) as pipe:
        push = {"kind": kind, "coin": COIN, "coins": COINS}
        await run_paced(feeder, pipe, [(None, 500)], push, 1)
        out = []
        seq0 = 1000
        for rate, n in runs:
            before = (pipe.market_seen, pipe.feed_stats.market_events,
                      pipe.feed_stats.market_dropped)
            # the quoter coalesces per coin: only the last frame of each coin is sure to be seen
            run = Run(seq0, n)
            pipe.run = run
            cpu0 = time.process_time()
            answer = await feeder.acall(op="push", n=n, rate=rate, seq0=seq0, **push)
            last = set(range(seq0 + n - len(COINS) * 2, seq0 + n))
            with trio.move_on_after(10):
                while not last <= run.applied.keys() and not (  # noqa: ASYNC110
                        kind == "l2book" and all(s in run.applied for s in
                                                 range(seq0 + n - len(COINS), seq0 + n))):
                    await trio.sleep(0.005)
            cpu = time.process_time() - cpu0
            pipe.run = None
            t_last = max(run.applied.values()) if run.applied else math.nan
            lat = sorted(run.applied[s] - answer["sent"][bisect_right(
                [x[0] for x in answer["sent"]], s) - 1][2] for s in run.applied)
            taken = pipe.feed_stats.market_events - before[1]
            out.append({
                "offered_per_s": rate or "max", "frames": n,
                "decoded_per_s": round(n / (t_last - answer["t0"])),
                "sent_per_s": round(n / (answer["t1"] - answer["t0"])),
                "seen_by_strategy": pipe.market_seen - before[0],
                "dropped_in_wsclient": n - taken,
                "dropped_in_feed": pipe.feed_stats.market_dropped - before[2],
                "p50_ms": round(pct(lat, 0.5) * 1000, 3), "p99_ms": round(pct(lat, 0.99) * 1000, 3),
                "cpu_us_per_frame": round(cpu / n * 1e6, 1)})
            seq0 += n
            await trio.sleep(0.3)
        return out

