"""The feed actor over in-memory WebSocket connections to a fake server."""

from __future__ import annotations

import json
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import trio
import trio.testing

from hlmaker.actors.feed import FeedStats, run_feed, subscriptions
from hlmaker.clock import WallClock
from hlmaker.hyperliquid.ws import MemoryConnection, WsConnection, memory_connection_pair
from hlmaker.messages import (
    AllMids,
    Bbo,
    FeedConnected,
    FeedDisconnected,
    Fills,
    L2Book,
    NonUserCancel,
    OrderUpdates,
    Trades,
)
from hlmaker.supervisor import ActorSpec, Incarnation, Supervisor

from .conftest import EPOCH, USER, cloid

COINS = ("BTC", "ETH")
LEVEL = {"px": "60000.0", "sz": "1.5", "n": 2}
FILL = {"coin": "BTC", "px": "60000.0", "sz": "0.001", "side": "B", "time": EPOCH,
        "startPosition": "0", "dir": "Open Long", "closedPnl": "0.0", "hash": "0xab", "oid": 11,
        "crossed": False, "fee": "0.01", "feeToken": "USDC", "tid": 9}
ORDER_UPDATE = [{"order": {"coin": "BTC", "side": "B", "limitPx": "60000.0", "sz": "0.001",
                           "oid": 11, "timestamp": EPOCH, "origSz": "0.001", "cloid": cloid(1)},
                 "status": "open", "statusTimestamp": EPOCH}]
L2 = {"coin": "BTC", "time": EPOCH, "levels": [[LEVEL], [{**LEVEL, "px": "60001.0"}]]}
BBO = {"coin": "BTC", "time": EPOCH, "bbo": [LEVEL, {**LEVEL, "px": "60001.0"}]}
MIDS = {"mids": {"BTC": "60000.5", "ETH": "3000"}}
TRADES = [{"coin": "BTC", "side": "A", "px": "60000.0", "sz": "0.1", "hash": "0x1",
           "time": EPOCH, "tid": 5, "users": ["0x1", "0x2"]}]


class FeedServer:
    """Speaks the exchange's WS protocol: greeting, pong, subscription acks; records subs."""

    def __init__(self) -> None:
        self.conns: list[MemoryConnection] = []
        self.subs: list[list[dict[str, Any]]] = []
        self.hold_acks_after: int | None = None
        self.held: list[dict[str, Any]] = []

    async def serve(self, conn: MemoryConnection) -> None:
        self.conns.append(conn)
        subs: list[dict[str, Any]] = []
        self.subs.append(subs)
        try:
            await conn.send_message("Websocket connection established.")
            while True:
                message = json.loads(await conn.get_message())
                if message["method"] == "ping":
                    await conn.send_message('{"channel":"pong"}')
                elif message["method"] == "subscribe":
                    subs.append(message["subscription"])
                    ack = {"method": "subscribe", "subscription": message["subscription"]}
                    if self.hold_acks_after is not None and len(subs) > self.hold_acks_after:
                        self.held.append(ack)
                    else:
                        await self.push("subscriptionResponse", ack)
        except (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    async def release(self) -> None:
        held, self.held, self.hold_acks_after = self.held, [], None
        for ack in held:
            await self.push("subscriptionResponse", ack)

    async def push(self, channel: str, data: Any) -> None:
        await self.conns[-1].send_message(json.dumps({"channel": channel, "data": data}))

    async def drop(self) -> None:
        await self.conns[-1].aclose()


def connector(nursery: trio.Nursery, server: FeedServer) -> Callable[[], Any]:
    @asynccontextmanager
    async def connect() -> AsyncIterator[WsConnection]:
        client_end, server_end = memory_connection_pair()
        nursery.start_soon(server.serve, server_end)
        try:
            yield client_end
        finally:
            await client_end.aclose()
    return connect


@attrs.define
class FeedRig:
    server: FeedServer
    book: trio.MemoryReceiveChannel[object]
    market: trio.MemoryReceiveChannel[object]
    stats: FeedStats
    clock: WallClock

    async def next_book(self) -> object:
        return await self.book.receive()

    def drain(self, channel: trio.MemoryReceiveChannel[object]) -> list[object]:
        out = []
        while True:
            try:
                out.append(channel.receive_nowait())
            except trio.WouldBlock:
                return out


@asynccontextmanager
async def feed_rig(*, market_size: float = math.inf,
                   server: FeedServer | None = None) -> AsyncIterator[FeedRig]:
    server = server or FeedServer()
    clock = WallClock(EPOCH)
    book_s, book_r = trio.open_memory_channel[object](math.inf)
    mkt_s, mkt_r = trio.open_memory_channel[object](market_size)
    stats = FeedStats()
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(
            run_feed, book_s, mkt_s, connector=connector(nursery, server), user=USER,
            coins=COINS, clock=clock, rng=random.Random(1), stats=stats))
        yield FeedRig(server, book_r, mkt_r, stats, clock)
        nursery.cancel_scope.cancel()


async def test_subscribes_then_announces_the_connection(
        autojump_clock: trio.testing.MockClock) -> None:
    server = FeedServer()
    server.hold_acks_after = len(subscriptions(USER, COINS)) - 1  # hold the last ack
    with trio.fail_after(30):
        async with feed_rig(server=server) as rig:
            await trio.sleep(1.0)
            assert rig.drain(rig.book) == []  # not before every subscription is acked
            assert rig.stats.connects == 0
            await server.release()
            connected = await rig.next_book()
            assert connected == FeedConnected(at_ms=rig.clock.now_ms(), reconnect=False)
            assert rig.stats.connects == 1 and rig.stats.connected
    assert server.subs == [subscriptions(USER, COINS)]
    assert server.subs[0] == [
        {"type": "orderUpdates", "user": USER}, {"type": "userFills", "user": USER},
        {"type": "userEvents", "user": USER}, {"type": "allMids"},
        {"type": "l2Book", "coin": "BTC"}, {"type": "bbo", "coin": "BTC"},
        {"type": "l2Book", "coin": "ETH"}, {"type": "bbo", "coin": "ETH"},
    ]


async def test_a_dropped_connection_is_reported_and_reopened(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with feed_rig() as rig:
            assert await rig.next_book() == FeedConnected(at_ms=EPOCH, reconnect=False)
            await rig.server.drop()
            down = await rig.next_book()
            assert isinstance(down, FeedDisconnected) and "closed" in down.reason
            assert not rig.stats.connected
            up = await rig.next_book()
            assert isinstance(up, FeedConnected) and up.reconnect
            assert up.at_ms > down.at_ms  # after a backoff
            # the new connection works like the first
            await rig.server.push("orderUpdates", ORDER_UPDATE)
            assert isinstance(await rig.next_book(), OrderUpdates)
    assert rig.server.subs == [subscriptions(USER, COINS)] * 2
    assert rig.stats.connects == 2


async def test_order_events_go_to_the_book_and_market_data_to_the_market(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with feed_rig() as rig:
            await rig.next_book()
            server = rig.server
            await server.push("orderUpdates", ORDER_UPDATE)
            await server.push("l2Book", L2)
            await server.push("userFills", {"isSnapshot": True, "user": USER, "fills": [FILL]})
            await server.push("bbo", BBO)
            await server.push("user", {"fills": [FILL]})
            await server.push("allMids", MIDS)
            await server.push("user", {"nonUserCancel": [{"coin": "BTC", "oid": 11}]})
            await server.push("trades", TRADES)
            book = [await rig.next_book() for _ in range(4)]
            market = [await rig.market.receive() for _ in range(4)]
            await trio.sleep(1.0)
            assert rig.drain(rig.book) == [] and rig.drain(rig.market) == []
    updates, snap, live, nuc = book
    assert isinstance(updates, OrderUpdates) and updates.updates[0].cloid == cloid(1)
    assert isinstance(snap, Fills) and snap.is_snapshot and snap.source == "userFills"
    assert isinstance(live, Fills) and not live.is_snapshot and live.source == "user"
    assert snap.fills == live.fills and snap.fills[0].tid == 9
    assert nuc == NonUserCancel(cancels=(("BTC", 11),))
    assert [type(m) for m in market] == [L2Book, Bbo, AllMids, Trades]
    assert rig.stats.order_events == 4 and rig.stats.market_events == 4
    assert rig.stats.market_dropped == 0


async def test_a_full_market_channel_drops_market_data_not_order_events(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with feed_rig(market_size=1) as rig:  # nobody reads the market channel
            await rig.next_book()
            server = rig.server
            for _ in range(3):
                await server.push("l2Book", L2)
            await server.push("orderUpdates", ORDER_UPDATE)
            await server.push("bbo", BBO)
            await server.push("allMids", MIDS)
            await server.push("userFills", {"user": USER, "fills": [FILL]})
            assert isinstance(await rig.next_book(), OrderUpdates)
            assert isinstance(await rig.next_book(), Fills)
            market = rig.drain(rig.market)
            stats = rig.stats
    assert [type(m) for m in market] == [L2Book]  # the one that fitted
    assert stats.market_dropped == 4 and stats.market_events == 5
    assert stats.order_events == 2 and stats.connects == 1  # never reconnected


class _CrashOnOrderUpdates:
    """A book inbox whose first OrderUpdates makes the feed crash (an injected bug)."""

    def __init__(self, inner: trio.MemorySendChannel[object]) -> None:
        self.inner = inner
        self.armed = True

    def _check(self, msg: object) -> None:
        if self.armed and isinstance(msg, OrderUpdates):
            self.armed = False
            raise RuntimeError("injected feed crash")

    async def send(self, msg: object) -> None:
        self._check(msg)
        await self.inner.send(msg)

    def send_nowait(self, msg: object) -> None:
        self._check(msg)
        self.inner.send_nowait(msg)

    def close(self) -> None:
        pass


async def test_a_restarted_feed_announces_a_reconnect(
        autojump_clock: trio.testing.MockClock) -> None:
    server = FeedServer()
    book_s, book_r = trio.open_memory_channel[object](math.inf)
    mkt_s, _mkt_r = trio.open_memory_channel[object](math.inf)
    stats = FeedStats()  # shared by every incarnation, as open_maker does
    sup = Supervisor(max_restarts=3, window_s=60)
    clock = WallClock(EPOCH)
    wrapped = _CrashOnOrderUpdates(book_s)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:

            def make() -> Incarnation:
                return Incarnation(run=partial(
                    run_feed, wrapped, mkt_s, connector=connector(nursery, server),  # type: ignore[arg-type]
                    user=USER, coins=COINS, clock=clock, rng=random.Random(1), stats=stats))

            await sup.start(nursery, ActorSpec("feed", make))
            assert await book_r.receive() == FeedConnected(at_ms=EPOCH, reconnect=False)
            await server.push("orderUpdates", ORDER_UPDATE)  # lost in the crash
            again = await book_r.receive()
            nursery.cancel_scope.cancel()
    assert sup.restarts["feed"] == 1 and stats.connects == 2
    # the update being forwarded was lost: the book must be told to re-sync
    assert isinstance(again, FeedConnected) and again.reconnect


def test_reconnects_stay_within_30_new_connections_a_minute() -> None:
    # Worst case: every connect of both links (feed, post) fails at once, and every jitter
    # draws its minimum (half the nominal delay). The exchange allows 30 new WebSocket
    # connections a minute per IP (§8): no 60 s window may hold more.
    import random

    from hlmaker.actors.feed import FEED_BACKOFF_S
    from hlmaker.actors.posting import POST_BACKOFF_S
    from hlmaker.hyperliquid.ws import Backoff

    class Lowest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a

    starts: list[float] = []
    for base, cap in (FEED_BACKOFF_S, POST_BACKOFF_S):
        backoff, t = Backoff(Lowest(), base_s=base, cap_s=cap), 0.0
        while t < 600:
            starts.append(t)
            t += backoff.next_delay()
    starts.sort()
    most = max(sum(1 for s in starts if t0 <= s < t0 + 60) for t0 in starts)
    assert most <= 30, most
