"""WebSocket client against an in-process fake server over in-memory connections."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
import trio_websocket

from hlmaker.hyperliquid.errors import (
    ConnectionStalled,
    ConsumerOverflow,
    ExchangeError,
    RequestTimeout,
    ServerError,
    TransportError,
    VenueError,
)
from hlmaker.hyperliquid.frames import SubscriptionAck
from hlmaker.hyperliquid.ws import (
    Backoff,
    MemoryConnection,
    WsClient,
    WsConnection,
    memory_connection_pair,
    run_reconnecting,
)
from hlmaker.messages import Fills, L2Book

FILL = {"coin": "ETH", "px": "3000.5", "sz": "0.1", "side": "B", "time": 5,
        "startPosition": "0", "dir": "Open Long", "closedPnl": "0", "hash": "0xab", "oid": 3,
        "crossed": False, "fee": "0.01", "tid": 9}
BOOK = {"coin": "ETH", "time": 1, "levels": [[{"px": "1", "sz": "1", "n": 1}], []]}


class FakeServer:
    """Answers pings, subscribes (with a normalised echo) and posts; records what it saw."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answer_posts = True
        self.answer_pings = True
        self.held_posts: list[dict[str, Any]] = []
        self.max_pending = 0
        self.connections = 0
        self.conn: MemoryConnection | None = None

    async def send(self, channel: str, data: Any = None) -> None:
        assert self.conn is not None
        await self.conn.send_message(json.dumps({"channel": channel, "data": data}))

    async def serve(self, conn: MemoryConnection) -> None:
        self.conn = conn
        self.connections += 1
        await conn.send_message("Websocket connection established.")
        try:
            while True:
                message = json.loads(await conn.get_message())
                self.received.append(message)
                await self.handle(conn, message)
        except (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    async def handle(self, conn: MemoryConnection, message: dict[str, Any]) -> None:
        method = message["method"]
        if method == "ping" and self.answer_pings:
            await conn.send_message('{"channel":"pong"}')
        elif method in ("subscribe", "unsubscribe"):
            sub = dict(message["subscription"])
            if sub["type"] == "bogus":
                await self.send("error", f"Invalid subscription {json.dumps(sub)}")
                return
            if sub["type"] == "userFills":
                sub["aggregateByTime"] = False
                sub["user"] = sub["user"].lower()
            await self.send("subscriptionResponse", {"method": method, "subscription": sub})
        elif method == "post":
            self.held_posts.append(message)
            self.max_pending = max(self.max_pending, len(self.held_posts))
            if self.answer_posts:
                await self.release()

    async def release(self, reverse: bool = False) -> None:
        posts, self.held_posts = self.held_posts, []
        for message in reversed(posts) if reverse else posts:
            await self.send("post", {"id": message["id"], "response": self.answer(message)})

    @staticmethod
    def answer(message: dict[str, Any]) -> dict[str, Any]:
        request = message["request"]
        if request["type"] == "info":
            return {"type": "info", "payload": {"type": request["payload"]["type"],
                                                "data": {"echo": request["payload"]}}}
        payload = request["payload"]
        if payload["action"]["type"] == "crash":
            return {"type": "error", "payload": "internal error"}
        if payload["action"]["type"] == "bad":
            return {"type": "action", "payload": {"status": "err", "response": "bad action"}}
        return {"type": "action", "payload": {"status": "ok", "response": {"type": "default"}}}


def connector(nursery: trio.Nursery, server: FakeServer,
              buffer: int = 1000) -> Callable[[], Any]:
    @asynccontextmanager
    async def connect() -> AsyncIterator[WsConnection]:
        client_end, server_end = memory_connection_pair(buffer)
        server.conn = server_end
        nursery.start_soon(server.serve, server_end)
        try:
            yield client_end
        finally:
            await client_end.aclose()
    return connect


async def test_subscribe_ack_and_frames(autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            async with WsClient.open(connector(nursery, server)) as ws:
                ack = await ws.subscribe({"type": "userFills", "user": "0xABC"})
                assert isinstance(ack, SubscriptionAck)
                assert ack.subscription["aggregateByTime"] is False
                await ws.subscribe({"type": "l2Book", "coin": "ETH"})
                await server.send("userFills", {"isSnapshot": True, "user": "0xabc",
                                                "fills": [FILL]})
                await server.send("l2Book", BOOK)
                await server.send("candle", {"s": "ETH"})
                await server.send("userFills", {"user": "0xabc", "fills": [FILL]})
                snapshot = await ws.frames.receive()
                book = await ws.frames.receive()
                live = await ws.frames.receive()
                assert isinstance(snapshot, Fills) and snapshot.is_snapshot
                assert isinstance(book, L2Book)
                assert isinstance(live, Fills) and not live.is_snapshot
                assert ws.stats.unhandled == 2  # greeting + candle
                with pytest.raises(ExchangeError, match="Invalid subscription"):
                    await ws.subscribe({"type": "bogus"})
            nursery.cancel_scope.cancel()
    assert server.received[0] == {"method": "subscribe",
                                  "subscription": {"type": "userFills", "user": "0xABC"}}


async def test_posts_are_correlated_by_id(autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    server.answer_posts = False
    results: dict[int, Any] = {}
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            async with WsClient.open(connector(nursery, server)) as ws:
                async def ask(i: int) -> None:
                    results[i] = await ws.post_info({"type": "l2Book", "coin": f"C{i}"})

                async with trio.open_nursery() as askers:
                    for i in range(5):
                        askers.start_soon(ask, i)
                    await trio.testing.wait_all_tasks_blocked()
                    assert ws.in_flight == 5
                    await server.release(reverse=True)  # answers in the opposite order
                server.answer_posts = True
                reply = await ws.post_action({"action": {"type": "noop"}, "nonce": 1})
                assert reply == {"status": "ok", "response": {"type": "default"}}
                with pytest.raises(ExchangeError, match="bad action"):
                    await ws.post_action({"action": {"type": "bad"}, "nonce": 2})
                # an error-typed answer is no refusal: the action may have been applied
                with pytest.raises(ServerError, match="internal error"):
                    await ws.post_action({"action": {"type": "crash"}, "nonce": 3})
            nursery.cancel_scope.cancel()
    assert results == {i: {"echo": {"type": "l2Book", "coin": f"C{i}"}} for i in range(5)}


async def test_at_most_100_posts_in_flight(autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    server.answer_posts = False
    done = 0
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            async with WsClient.open(connector(nursery, server)) as ws:
                async def ask() -> None:
                    nonlocal done
                    await ws.post_info({"type": "allMids"}, timeout_s=30)
                    done += 1

                async with trio.open_nursery() as askers:
                    for _ in range(150):
                        askers.start_soon(ask)
                    await trio.testing.wait_all_tasks_blocked()
                    assert ws.in_flight == 100 and len(server.held_posts) == 100
                    await server.release()
                    await trio.testing.wait_all_tasks_blocked()
                    assert len(server.held_posts) == 50
                    await server.release()
            nursery.cancel_scope.cancel()
    assert done == 150 and server.max_pending == 100


async def test_post_timeouts(autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    server.answer_posts = False
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            async with WsClient.open(connector(nursery, server), max_in_flight=1) as ws:
                start = trio.current_time()
                with pytest.raises(RequestTimeout) as late:
                    await ws.post_info({"type": "allMids"}, timeout_s=2)
                assert late.value.sent is True
                assert trio.current_time() - start == pytest.approx(2)
                await server.release()  # the late answer is counted and dropped
                await trio.testing.wait_all_tasks_blocked()
                assert ws.stats.late_post_responses == 1 and ws.in_flight == 0

                async with trio.open_nursery() as inner:
                    inner.start_soon(ws.post_info, {"type": "slow"}, 20)
                    await trio.testing.wait_all_tasks_blocked()
                    with pytest.raises(RequestTimeout) as no_slot:
                        await ws.post_info({"type": "allMids"}, timeout_s=1)
                    assert no_slot.value.sent is False
                    await server.release()
            nursery.cancel_scope.cancel()


async def test_error_frame_with_id_fails_that_post(
        autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    server.answer_posts = False
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            async with WsClient.open(connector(nursery, server)) as ws:
                async def refuse() -> None:
                    await trio.testing.wait_all_tasks_blocked()
                    post_id = server.held_posts[0]["id"]
                    await server.send("error", f"too many pending post requests id={post_id}")

                nursery.start_soon(refuse)
                with pytest.raises(ExchangeError, match="too many pending"):
                    await ws.post_info({"type": "allMids"})
            nursery.cancel_scope.cancel()


async def test_pings_when_idle_and_detects_silence(
        autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            with pytest.raises(ConnectionStalled):
                async with WsClient.open(connector(nursery, server), ping_interval_s=20,
                                         silence_timeout_s=30) as ws:
                    await trio.sleep(110)  # pongs keep the connection alive
                    assert ws.stats.pings_sent == 5 and ws.stats.pongs == 5
                    server.answer_pings = False
                    await trio.sleep_forever()  # the stall cancels this body
            stalled_after = trio.current_time() - start
            nursery.cancel_scope.cancel()
    # last pong at t=100; ping at 120 unanswered; stalled at 100 + 30.
    assert stalled_after == pytest.approx(130)
    assert all(m["method"] == "ping" for m in server.received)


async def test_market_data_dropped_account_events_overflow(
        autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            with pytest.raises(ConsumerOverflow):
                async with WsClient.open(connector(nursery, server, buffer=100),
                                         buffer_size=10) as ws:
                    for _ in range(15):
                        await server.send("l2Book", BOOK)
                    await trio.testing.wait_all_tasks_blocked()
                    assert ws.stats.market_dropped == 5
                    assert ws.frames.statistics().current_buffer_used == 10
                    await server.send("userFills", {"user": "0x", "fills": [FILL]})
                    await trio.sleep_forever()
            nursery.cancel_scope.cancel()


async def test_server_close_fails_pending_posts(autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    server.answer_posts = False
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            with pytest.raises(TransportError) as session_error:
                async with WsClient.open(connector(nursery, server)) as ws:
                    async def close_soon() -> None:
                        await trio.testing.wait_all_tasks_blocked()
                        assert server.conn is not None
                        await server.conn.aclose()

                    nursery.start_soon(close_soon)
                    with pytest.raises(TransportError) as post_error:
                        await ws.post_action({"action": {"type": "noop"}})
                    assert not isinstance(post_error.value, RequestTimeout)
                    await trio.sleep_forever()
            nursery.cancel_scope.cancel()
    assert "closed" in str(session_error.value)


def test_backoff_is_seeded_bounded_and_resets() -> None:
    delays = [Backoff(random.Random(7), base_s=1, cap_s=8).next_delay() for _ in range(3)]
    assert delays[0] == delays[1] == delays[2]  # same seed, same draw
    backoff = Backoff(random.Random(1), base_s=1, cap_s=8)
    seq = [backoff.next_delay() for _ in range(6)]
    for nominal, delay in zip([1, 2, 4, 8, 8, 8], seq):
        assert nominal / 2 <= delay <= nominal
    backoff.reset()
    assert backoff.next_delay() <= 1


async def test_run_reconnecting(autojump_clock: trio.testing.MockClock) -> None:
    server = FakeServer()
    sessions: list[bool] = []
    errors: list[VenueError] = []
    third = trio.Event()

    async def session(ws: WsClient, reconnect: bool) -> None:
        sessions.append(reconnect)
        if len(sessions) == 3:
            third.set()
        await ws.subscribe({"type": "allMids"})
        if len(sessions) < 3:
            assert server.conn is not None
            await server.conn.aclose()  # server drops us
        async for _ in ws.frames:
            pass

    async def on_disconnect(error: VenueError) -> None:
        errors.append(error)

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_reconnecting(
                connector(nursery, server), session, Backoff(random.Random(3)),
                on_disconnect=on_disconnect))
            await third.wait()
            nursery.cancel_scope.cancel()
    assert sessions == [False, True, True] and server.connections == 3
    assert len(errors) == 2 and all(isinstance(e, TransportError) for e in errors)


async def test_real_loopback_websocket() -> None:
    """One real trio-websocket round trip on 127.0.0.1 (no mock clock: real sockets)."""
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        conn = await request.accept()
        try:
            while True:
                message = json.loads(await conn.get_message())
                if message["method"] == "subscribe":
                    await conn.send_message(json.dumps({"channel": "subscriptionResponse",
                                                        "data": message}))
                    await conn.send_message(json.dumps({"channel": "l2Book", "data": BOOK}))
        except trio_websocket.ConnectionClosed:
            pass

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1",
                                         0, None)
            port = server.port
            async with WsClient.open(f"ws://127.0.0.1:{port}/ws") as ws:
                await ws.subscribe({"type": "l2Book", "coin": "ETH"})
                assert isinstance(await ws.frames.receive(), L2Book)
            nursery.cancel_scope.cancel()


async def test_connect_refused_is_a_transport_error() -> None:
    with trio.fail_after(10), pytest.raises(TransportError, match="cannot connect"):
        async with WsClient.open("ws://127.0.0.1:1/ws"):
            raise AssertionError("unreachable")
