"""What the client can take: ingest and tick-to-trade against the feeder in its own process.

The feeder (``benchmarks/feeder.py``, a separate process on loopback) pushes pre-rendered frames
of the exchange's shapes, so every CPU µs measured here is the client's. Sections (one client at
a time, never two at once — on a shared 2-core machine they would steal each other's CPU):

* **feeder**: a raw-socket client that only walks WebSocket frame headers and counts them:
  the feeder's own ceiling (``feeder_frames_per_s``), which must be far above every figure
  below.
* **account** (hlmaker): trio-websocket → ``WsClient`` reader → codec → ``run_feed`` → the
  book's inbox → ``run_book`` with a real ``OrderBookCore`` (synced by a startup snapshot, 20
  resting orders acknowledged through the inbox, as the executor/reconciler would). One event
  = one frame of one fill (``userFills`` or ``user``) or one ``orderUpdates`` row. *Applied* is
  stamped by the book's observer right after the core returned. At the end the core must show
  every fill applied once, no gap (each fill's ``startPosition`` checked), no duplicate, the
  feeder's position, one connection.
* **sdk**: the official SDK's ``WebsocketManager`` (websocket-client in its own thread) with
  callbacks for ``userFills``, ``userEvents`` and ``orderUpdates`` that only record the time:
  the same frames, the same feeder.
* **market** (hlmaker): ``l2Book`` (20 levels a side) of 50 coins and ``trades``, through the
  feed to the quoter: a recording strategy's ``on_market`` stamps each frame it is given (the
  quoter coalesces per coin what it has not taken yet — newest wins — so *seen* may be fewer
  than *sent* under load; frames dropped in ``WsClient`` or the feed are counted).
* **t2t** (tick-to-trade): ``open_maker`` on the feeder (it answers ``meta``, the start-up sweep
  and ``/exchange``) with the reference ladder on BTC; every 50 ms a ``bbo`` moves BTC's mid by
  10 bps (past ``requote_bps`` 2) with ``market`` frames at 2,000/s in between; latency = the
  feeder's arrival time of the signed ``batchModify`` (WS post) − the time it wrote the
  ``bbo``. Both stamps are taken in the feeder.

Rates: paced 1k / 5k / 20k events/s (``--rates``) and ``max`` (as fast as the kernel takes
them). Latency = applied − the feeder's write of the chunk holding the frame
(``time.perf_counter``, CLOCK_MONOTONIC, one clock for both processes). CPU µs/event = this
process's CPU time (``time.process_time``, all threads) over the run / events.

Run: ``.venv/bin/python benchmarks/ingest.py`` (≈ 60 s; ``--only account,sdk`` for a part;
``--transport trio-websocket`` runs the account section over trio-websocket instead of hlmaker's
own RFC 6455 client).
Last line: ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import math
import os
import platform
import random
import socket
import subprocess
import sys
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager, suppress
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

FEEDER = str(Path(__file__).with_name("feeder.py"))
COIN = "BTC"
N_ORDERS = 20
USER = "0x" + "11" * 20
USER_SDK = "0x" + "33" * 20
USER_COUNT = "0x" + "44" * 20


# ---- the feeder process -------------------------------------------------------------------------

class FeederProcess:
    """``benchmarks/feeder.py`` as a child process, driven line by line (see its docstring)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, FEEDER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None
        self.port = json.loads(self.proc.stdout.readline())["port"]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()

    def call(self, **cmd: Any) -> dict[str, Any]:
        """Send one command, wait for its answer (blocking: call from a thread in trio code)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"feeder: {answer['error']}")
        return answer

    async def acall(self, **cmd: Any) -> dict[str, Any]:
        return await trio.to_thread.run_sync(partial(self.call, **cmd))

    def cpu_s(self) -> float:
        """The feeder process's CPU time so far (user + system, from /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return math.nan

    def close(self) -> None:
        with suppress(OSError, ValueError, RuntimeError):
            self.call(op="quit")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---- stamps and figures -------------------------------------------------------------------------

class Run:
    """Stamps of one run: the feeder's writes and the client's applied times per seq."""

    def __init__(self, seq0: int, n: int) -> None:
        self.seq0, self.n = seq0, n
        self.applied: dict[int, float] = {}
        self.done = threading.Event()  # set from trio or from the SDK's thread
        self.cpu0 = time.process_time()
        self.cpu_s = math.nan

    def mark(self, seq: int, t: float) -> None:
        if self.seq0 <= seq < self.seq0 + self.n and seq not in self.applied:
            self.applied[seq] = t
            if len(self.applied) == self.n:
                self.done.set()


def pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return math.nan
    return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


def figures(run: Run, answer: dict[str, Any], rate: float | None) -> dict[str, Any]:
    sent = answer["sent"]
    los = [s[0] for s in sent]
    lat = []
    for seq, t in run.applied.items():
        i = bisect_right(los, seq) - 1
        if i >= 0:
            lat.append(t - sent[i][2])
    lat.sort()
    got = len(run.applied)
    last = max(run.applied.values()) if run.applied else math.nan
    return {"offered_per_s": rate or "max", "events": run.n, "received": got,
            "events_per_s": round(got / (last - answer["t0"])) if got > 1 else 0,
            "sent_per_s": round(run.n / (answer["t1"] - answer["t0"])),
            "p50_ms": round(pct(lat, 0.5) * 1000, 3), "p99_ms": round(pct(lat, 0.99) * 1000, 3),
            "max_ms": round(pct(lat, 1.0) * 1000, 3),
            "cpu_us_per_event": round(run.cpu_s / got * 1e6, 1) if got else math.nan}


def plan(rates: list[float | None], seconds: float, max_events: int) -> list[tuple[float | None,
                                                                                 int]]:
    return [(r, max_events if r is None else max(500, min(max_events, int(r * seconds))))
            for r in rates]


# ---- feeder ceiling: a client that only counts frames -------------------------------------------

def ws_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    return sock


def ws_send_text(sock: socket.socket, text: str) -> None:
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    sock.sendall(bytes((0x81, 0x80 | len(payload))) + mask
                 + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def feeder_ceiling(feeder: FeederProcess, n: int, orders: list[list[Any]]) -> dict[str, Any]:
    sock = ws_connect(feeder.port)
    ws_send_text(sock, json.dumps({"method": "subscribe", "subscription": {
        "type": "userFills", "user": USER_COUNT}}))
    answer: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: answer.update(feeder.call(
        op="push", user=USER_COUNT, kind="account", n=n, rate=None, orders=orders,
        stamps=False)))
    count, want = 0, n + 2  # + the ack and the userFills snapshot
    buf = bytearray(sock.recv(1 << 20))  # the ack: the subscription is in place
    pos = 0
    cpu0 = time.process_time()
    sock.settimeout(30)
    thread.start()
    while True:
        size = len(buf)
        while pos + 2 <= size:
            length = buf[pos + 1] & 0x7F
            if length < 126:
                end = pos + 2 + length
            elif length == 126:
                if pos + 4 > size:
                    break
                end = pos + 4 + int.from_bytes(buf[pos + 2:pos + 4], "big")
            else:
                if pos + 10 > size:
                    break
                end = pos + 10 + int.from_bytes(buf[pos + 2:pos + 10], "big")
            if end > size:
                break
            pos = end
            count += 1
        if count >= want:
            break
        data = sock.recv(1 << 20)
        if not data:
            break
        del buf[:pos]
        pos = 0
        buf += data
    t_end = time.perf_counter()
    cpu = time.process_time() - cpu0
    thread.join()
    sock.close()
    return {"frames": count - 2, "frames_per_s": round((count - 2) / (t_end - answer["t0"])),
            "counter_cpu_us_per_frame": round(cpu / max(1, count) * 1e6, 2)}


# ---- hlmaker: feed + book (+ quoter) wired as in hlmaker.maker ----------------------------------

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


def sdk_account(feeder: FeederProcess, runs: list[tuple[float | None, int]],
                orders: list[list[Any]]) -> list[dict[str, Any]]:
    from hyperliquid.websocket_manager import WebsocketManager

    current: list[Run | None] = [None]

    def callback(msg: dict[str, Any]) -> None:
        t = time.perf_counter()
        run = current[0]
        if run is None:
            return
        data = msg["data"]
        if msg["channel"] == "orderUpdates":
            run.mark(data[0]["statusTimestamp"] - EPOCH_MS, t)
        elif data.get("fills") and not data.get("isSnapshot"):
            run.mark(data["fills"][0]["tid"], t)

    wm = WebsocketManager(feeder.base_url)
    wm.daemon = True
    wm.start()
    try:
        for sub in ({"type": "userFills", "user": USER_SDK}, {"type": "userEvents",
                                                              "user": USER_SDK},
                    {"type": "orderUpdates", "user": USER_SDK}):
            wm.subscribe(sub, callback)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while sum(len(c["subs"]) for c in feeder.call(op="conns")["conns"] if c["open"]) < 3:
            if time.monotonic() > deadline:
                raise RuntimeError("SDK did not subscribe")
            time.sleep(0.01)
        push = {"kind": "account", "user": USER_SDK, "orders": orders, "position": "0"}
        rows = []
        seq0 = 1
        for idx, (rate, n) in enumerate([(None, 1000), *runs]):
            run = Run(seq0, n)
            current[0] = run
            answer = feeder.call(op="push", n=n, rate=rate, seq0=seq0, **push)
            push["position"] = answer["position"]
            run.done.wait(n / (rate or 5_000) + 15)
            run.cpu_s = time.process_time() - run.cpu0
            current[0] = None
            if idx:
                row = figures(run, answer, rate)
                row["consistent"] = len(run.applied) == n
                rows.append(row)
            seq0 += n
            time.sleep(0.3)
        return rows
    finally:
        wm.stop()


# ---- tick-to-trade ------------------------------------------------------------------------------

async def tick_to_trade(feeder: FeederProcess, n_ticks: int, bg_rate: float) -> dict[str, Any]:
    from hlmaker.config import config_from_mapping
    from hlmaker.hyperliquid.keys import PrivateKey, Wallet
    from hlmaker.maker import open_maker

    config = config_from_mapping({
        "strategy": {"coins": [COIN], "levels": 1, "size": 0.001, "max_position": 0.01,
                     "half_spread_bps": 1, "spacing_bps": 2, "requote_bps": 2},
        "dead_man": {"enabled": False},
        "reconcile": {"interval_s": 600.0},
        # the feeder has no rate limit: the IP-weight bucket (1,200/min, §8) would pace the
        # 20 modifies/s of this test and its waits would be measured as latency
        "executor": {"ip_weight_per_minute": 1_000_000}})
    wallet = Wallet(PrivateKey.from_hex("0x" + "5a" * 32))
    mids = ["100000", "100100"]
    async with open_maker(config, wallet=wallet, base_url=feeder.base_url,
                          rng=random.Random(3)) as maker:
        with trio.fail_after(20):
            while not maker.view.ready:  # noqa: ASYNC110
                await trio.sleep(0.05)
            await feeder.acall(op="ticks", coin=COIN, n=4, interval_ms=200, mids=mids,
                               bg_rate=0)  # first ladder placed, rested
        cpu0 = time.process_time()
        answer = await feeder.acall(op="ticks", coin=COIN, n=n_ticks, interval_ms=50, mids=mids,
                                    bg_rate=bg_rate)
        cpu = time.process_time() - cpu0
    ticks = answer["ticks"]
    lat = []
    missing = 0
    for k, t in enumerate(ticks):
        end = ticks[k + 1] if k + 1 < len(ticks) else math.inf
        hit = [a for a, kind in answer["actions"] if t <= a < end and kind in
               ("batchModify", "order")]
        if hit:
            lat.append(hit[0] - t)
        else:
            missing += 1
    lat.sort()
    return {"ticks": len(ticks), "answered": len(lat), "missing": missing,
            "bg_frames": answer["bg_frames"], "bg_rate": bg_rate,
            "p50_ms": round(pct(lat, 0.5) * 1000, 3), "p99_ms": round(pct(lat, 0.99) * 1000, 3),
            "max_ms": round(pct(lat, 1.0) * 1000, 3),
            "client_cpu_s": round(cpu, 2)}


# ---- main ---------------------------------------------------------------------------------------

def fmt(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = [k for k in rows[0] if not k.startswith("_")]
    lines = ["  " + " ".join(f"{k:>14}" for k in keys)]
    for r in rows:
        lines.append("  " + " ".join(f"{r.get(k)!s:>14}" for k in keys))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,5000,20000,max")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of a paced run")
    parser.add_argument("--max-events", type=int, default=30_000, help="events of a max run")
    parser.add_argument("--only", default="feeder,account,sdk,market,t2t")
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--transport", default="lean", choices=("lean", "trio-websocket"),
                        help="hlmaker's WebSocket transport for the account section")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    only = set(args.only.split(","))
    rates = [None if r.strip() == "max" else float(r) for r in args.rates.split(",")]
    runs = plan(rates, args.seconds, args.max_events)
    load0 = os.getloadavg()
    t_start = time.perf_counter()
    feeder = FeederProcess()
    out: dict[str, Any] = {}
    orders = [[1_000_000 + j, f"0x{j:032x}", "B" if j % 2 == 0 else "A",
               str(100_000 - 10 * j if j % 2 == 0 else 100_010 + 10 * j)]
              for j in range(N_ORDERS)]
    try:
        if "feeder" in only:
            out["feeder"] = feeder_ceiling(feeder, 200_000, orders)
            print("feeder → counting client:", out["feeder"], flush=True)
        if "account" in only:
            out["account"] = trio.run(hlmaker_account, feeder, runs, args.transport)
            print("hlmaker account events (feed → codec → book inbox → core):\n"
                  + fmt(out["account"]), flush=True)
        if "sdk" in only:
            out["sdk"] = sdk_account(feeder, runs, orders)
            print("SDK WebsocketManager (callback entered):\n" + fmt(out["sdk"]), flush=True)
        if "market" in only:
            mruns = [(r, n // 3 if r is None else n) for r, n in runs]
            out["l2book"] = trio.run(hlmaker_market, feeder, mruns, "l2book")
            print("hlmaker l2Book 20×2, 50 coins (feed → quoter's strategy):\n"
                  + fmt(out["l2book"]), flush=True)
            out["trades"] = trio.run(hlmaker_market, feeder, mruns, "trades")
            print("hlmaker trades, 50 coins (feed → quoter's strategy):\n"
                  + fmt(out["trades"]), flush=True)
        if "t2t" in only:
            out["t2t"] = trio.run(tick_to_trade, feeder, args.ticks, 2000.0)
            print("tick-to-trade (bbo written → signed batchModify read, in the feeder):",
                  out["t2t"], flush=True)
    finally:
        feeder.close()
    load1 = os.getloadavg()
    print(f"ingest benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs shared "
          f"with other jobs (loadavg {load0[0]:.2f} before, {load1[0]:.2f} after), "
          f"{time.perf_counter() - t_start:.1f} s")

    def at_max(rows: list[dict[str, Any]] | None, key: str) -> Any:
        for r in rows or []:
            if r["offered_per_s"] == "max":
                return r.get(key)
        return None

    acc = at_max(out.get("account"), "events_per_s")
    sdk = at_max(out.get("sdk"), "events_per_s")
    result = {
        "account_events_per_s": acc,
        "account_consistent": all(r.get("consistent") for r in out.get("account", [])) or None,
        "sdk_events_per_s": sdk,
        "ratio_vs_sdk": round(acc / sdk, 2) if acc and sdk else None,
        "client_cpu_us_per_event": at_max(out.get("account"), "cpu_us_per_event"),
        "sdk_cpu_us_per_event": at_max(out.get("sdk"), "cpu_us_per_event"),
        "account_latency_ms": {str(r["offered_per_s"]): [r["p50_ms"], r["p99_ms"]]
                               for r in out.get("account", [])},
        "sdk_latency_ms": {str(r["offered_per_s"]): [r["p50_ms"], r["p99_ms"]]
                           for r in out.get("sdk", [])},
        "l2book_frames_per_s": at_max(out.get("l2book"), "decoded_per_s"),
        "trades_frames_per_s": at_max(out.get("trades"), "decoded_per_s"),
        "tick_to_trade_p50_ms": out.get("t2t", {}).get("p50_ms"),
        "tick_to_trade_p99_ms": out.get("t2t", {}).get("p99_ms"),
        "feeder_frames_per_s": out.get("feeder", {}).get("frames_per_s"),
        "loadavg": [round(load0[0], 2), round(load1[0], 2)], "shared_machine": True,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
