"""The lean RFC 6455 client: frame parser (fuzzed), connection over in-memory streams, WsClient
on top of it (protocol errors counted, reconnect), and one real loopback round trip."""

from __future__ import annotations

import contextlib
import json
import random
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmaker.hyperliquid.errors import ConsumerOverflow, TransportError, WsProtocolError
from hlmaker.hyperliquid.websocket import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameParser,
    WebSocket,
    accept_key,
    client_frame,
    open_websocket,
)
from hlmaker.hyperliquid.ws import Backoff, WsClient, run_reconnecting
from hlmaker.messages import Fills

FILL = {"coin": "ETH", "px": "3000.5", "sz": "0.1", "side": "B", "time": 5,
        "startPosition": "0", "dir": "Open Long", "closedPnl": "0", "hash": "0xab", "oid": 3,
        "crossed": False, "fee": "0.01", "tid": 9}


def server_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
                 mask: bytes | None = None, length: int | None = None) -> bytes:
    """A server frame, possibly malformed (``mask`` set, ``rsv`` bits, a lying ``length``)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes((b0, mbit | n))
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def read_client_frames(data: bytearray) -> list[tuple[int, bytes]]:
    """Unmask and consume complete client frames from ``data`` (they must be masked)."""
    out = []
    while len(data) >= 2:
        n, pos = data[1] & 0x7F, 2
        assert data[1] & 0x80, "client frames must be masked"
        if n == 126:
            n, pos = struct.unpack_from("!H", data, 2)[0], 4
        elif n == 127:
            n, pos = struct.unpack_from("!Q", data, 2)[0], 10
        if len(data) < pos + 4 + n:
            break
        key = data[pos:pos + 4]
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(data[pos + 4:pos + 4 + n]))
        out.append((data[0] & 0x0F, payload))
        del data[:pos + 4 + n]
    return out


# ---- the parser ---------------------------------------------------------------------------------

def test_fragmented_text_with_a_ping_in_between() -> None:
    p = FrameParser(1000)
    stream = (server_frame(OP_TEXT, b"hel", fin=False) + server_frame(OP_PING, b"x")
              + server_frame(OP_CONTINUATION, b"lo ", fin=False)
              + server_frame(OP_CONTINUATION, b"world") + server_frame(OP_BINARY, b"\x00\x01"))
    assert p.feed(stream) == [(OP_PING, b"x"), (OP_TEXT, b"hello world"),
                              (OP_BINARY, b"\x00\x01")]
    assert p.buffered == 0


def test_extended_lengths_and_byte_by_byte_feeding() -> None:
    big, huge = b"a" * 300, b"b" * 70_000
    stream = server_frame(OP_TEXT, big) + server_frame(OP_BINARY, huge)
    p = FrameParser(100_000)
    got = []
    for i in range(0, len(stream), 7):
        got += p.feed(stream[i:i + 7])
    assert got == [(OP_TEXT, big), (OP_BINARY, huge)]


@pytest.mark.parametrize(("frame", "match", "code"), [
    (server_frame(OP_TEXT, b"x", rsv=0x40), "reserved bits", 1002),
    (server_frame(OP_TEXT, b"x", mask=b"abcd"), "masked", 1002),
    (server_frame(0x3, b"x"), "unknown data opcode", 1002),
    (server_frame(0xB, b"x"), "unknown control opcode", 1002),
    (server_frame(OP_PING, b"x", fin=False), "fragmented control", 1002),
    (server_frame(OP_PING, b"x" * 126), "over 125", 1002),
    (server_frame(OP_CONTINUATION, b"x"), "without a message", 1002),
    (server_frame(OP_TEXT, b"a", fin=False) + server_frame(OP_TEXT, b"b"), "inside a fragmented",
     1002),
    (server_frame(OP_CLOSE, b"\x03"), "1-byte", 1002),
    (server_frame(OP_TEXT, b"", length=2**40)[:10], "over 100 bytes", 1009),  # header alone
    (server_frame(OP_TEXT, b"a" * 60, fin=False) + server_frame(OP_CONTINUATION, b"b" * 60),
     "over 100 bytes", 1009),
])
def test_malformed_frames_are_refused(frame: bytes, match: str, code: int) -> None:
    p = FrameParser(100)
    with pytest.raises(WsProtocolError, match=match) as info:
        p.feed(frame)
    assert info.value.code == code and p.closed and p.error is info.value
    with pytest.raises(WsProtocolError):  # sticky: nothing is parsed after a violation
        p.feed(b"\x81\x01a")


def test_frames_before_a_violation_are_returned_first() -> None:
    p = FrameParser(100)
    assert p.feed(server_frame(OP_TEXT, b"ok") + server_frame(OP_TEXT, b"x", rsv=0x20)) == [
        (OP_TEXT, b"ok")]
    with pytest.raises(WsProtocolError, match="reserved"):
        p.feed(b"")


def test_nothing_after_a_close_frame() -> None:
    p = FrameParser(100)
    assert p.feed(server_frame(OP_CLOSE, struct.pack("!H", 1000)) + b"\x81\x01a") == [
        (OP_CLOSE, b"\x03\xe8")]
    assert p.feed(b"\x81\x01b") == []


_messages = st.lists(st.tuples(st.sampled_from([OP_TEXT, OP_BINARY]), st.binary(max_size=300),
                               st.integers(1, 4)), max_size=8)


@settings(max_examples=200, deadline=None)
@given(_messages, st.lists(st.integers(1, 400), max_size=30))
def test_any_split_of_a_valid_stream_gives_the_same_messages(
        messages: list[tuple[int, bytes, int]], cuts: list[int]) -> None:
    stream = b""
    for op, payload, parts in messages:
        step = max(1, len(payload) // parts)
        chunks = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
        for i, chunk in enumerate(chunks):
            stream += server_frame(op if i == 0 else OP_CONTINUATION, chunk,
                                   fin=i == len(chunks) - 1)
        stream += server_frame(OP_PONG, b"p")
    p = FrameParser(10_000)
    got, pos = [], 0
    for cut in cuts:
        got += p.feed(stream[pos:pos + cut])
        pos += cut
    got += p.feed(stream[pos:])
    assert [g for g in got if g[0] != OP_PONG] == [(op, payload) for op, payload, _ in messages]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_fuzz_random_bytes_raise_only_protocol_errors(data: bytes, step: int) -> None:
    p = FrameParser(200)
    try:
        for i in range(0, len(data), step):
            for op, payload in p.feed(data[i:i + step]):
                assert op in (OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG)
                assert len(payload) <= 200
    except WsProtocolError as exc:
        assert exc.code in (1002, 1009)


def test_client_frames_are_masked_and_round_trip() -> None:
    for n in (0, 1, 5, 125, 126, 65535, 65536):
        data = bytearray(client_frame(OP_TEXT, b"z" * n, b"\x01\x02\x03\x04"))
        assert read_client_frames(data) == [(OP_TEXT, b"z" * n)] and not data


# ---- the connection over an in-memory stream ----------------------------------------------------

async def test_ping_pong_close_echo_and_text_as_str() -> None:
    client, server = trio.testing.memory_stream_pair()
    ws = WebSocket(client, close_timeout_s=1)
    with trio.fail_after(5):
        await server.send_all(server_frame(OP_PING, b"hb") + server_frame(OP_TEXT, "é".encode())
                              + server_frame(OP_BINARY, b"\x00"))
        assert await ws.get_messages() == ["é", b"\x00"]
        sent = bytearray(await server.receive_some())
        assert read_client_frames(sent) == [(OP_PONG, b"hb")] and ws.pings_answered == 1
        await ws.send_message('{"method":"ping"}')
        sent = bytearray(await server.receive_some())
        assert read_client_frames(sent) == [(OP_TEXT, b'{"method":"ping"}')]
        await server.send_all(server_frame(OP_TEXT, b"last") + server_frame(
            OP_CLOSE, struct.pack("!H", 1001) + b"going away"))
        assert await ws.get_messages() == ["last"]  # delivered before the close
        with pytest.raises(TransportError, match="closed by the server"):
            await ws.get_messages()
        assert ws.close_code == 1001
        sent = bytearray(await server.receive_some())
        assert read_client_frames(sent) == [(OP_CLOSE, struct.pack("!H", 1001))]
        with pytest.raises(TransportError):
            await ws.send_message("x")


async def test_aclose_runs_the_close_handshake() -> None:
    client, server = trio.testing.memory_stream_pair()
    ws = WebSocket(client, close_timeout_s=5)

    async def peer() -> None:
        data = bytearray()
        while not (frames := read_client_frames(data)):
            data += await server.receive_some()
        assert frames == [(OP_CLOSE, struct.pack("!H", 1000))]
        await server.send_all(server_frame(OP_CLOSE, struct.pack("!H", 1000)))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer)
            await ws.aclose()
    assert ws.close_code == 1000
    await ws.aclose()  # twice is fine


async def test_aclose_is_bounded_when_the_server_never_answers(autojump_clock: object) -> None:
    client, _server = trio.testing.memory_stream_pair()
    ws = WebSocket(client, close_timeout_s=1)
    with trio.fail_after(5):
        await ws.aclose()
    assert ws.close_code is None


@pytest.mark.parametrize(("bad", "code"), [
    (server_frame(OP_TEXT, b"x", rsv=0x10), 1002),
    (server_frame(OP_TEXT, b"\xff\xfe"), 1007),
    (server_frame(OP_BINARY, b"", length=10_000), 1009),
])
async def test_protocol_error_sends_its_close_code_and_drops_the_socket(bad: bytes,
                                                                        code: int) -> None:
    client, server = trio.testing.memory_stream_pair()
    ws = WebSocket(client, max_message_size=1000)
    with trio.fail_after(5):
        await server.send_all(bad)
        with pytest.raises(WsProtocolError) as info:
            await ws.get_messages()
        assert info.value.code == code
        sent = bytearray()
        while data := await server.receive_some():
            sent += data
        assert read_client_frames(sent) == [(OP_CLOSE, struct.pack("!H", code))]


async def test_eof_without_close_is_a_transport_error() -> None:
    client, server = trio.testing.memory_stream_pair()
    ws = WebSocket(client)
    await server.aclose()
    with trio.fail_after(5), pytest.raises(TransportError, match="without a close frame"):
        await ws.get_messages()


# ---- WsClient on top: batches, protocol errors counted, reconnect -------------------------------

def stream_connector(script: Callable[[trio.abc.Stream, int], object],
                     nursery: trio.Nursery) -> Callable[[], object]:
    """Each call: a WebSocket over a fresh memory stream whose server side runs ``script``."""
    calls = [0]

    @asynccontextmanager
    async def connect() -> AsyncIterator[WebSocket]:
        calls[0] += 1
        client, server = trio.testing.memory_stream_pair()
        nursery.start_soon(script, server, calls[0])
        ws = WebSocket(client)
        try:
            yield ws
        finally:
            await ws.aclose()
    return connect


async def serve_subscribe_then(server: trio.abc.Stream, frames: bytes) -> None:
    """Ack the first subscribe, then write ``frames``; keep reading until the client goes."""
    data = bytearray()
    with trio.move_on_after(10):
        while True:
            chunk = await server.receive_some()
            if not chunk:
                return
            data += chunk
            for op, payload in read_client_frames(data):
                if op == OP_TEXT and json.loads(payload)["method"] == "subscribe":
                    ack = {"channel": "subscriptionResponse",
                           "data": json.loads(payload)}
                    await server.send_all(server_frame(OP_TEXT, json.dumps(ack).encode())
                                          + frames)
                if op == OP_CLOSE:
                    await server.aclose()
                    return


async def test_malformed_frame_is_counted_and_the_feed_reconnects() -> None:
    fills = b"".join(server_frame(OP_TEXT, json.dumps({"channel": "user", "data": {
        "fills": [dict(FILL, tid=i)]}}).encode()) for i in range(3))
    sessions: list[tuple[bool, list[int]]] = []
    errors: list[Exception] = []
    clients: list[WsClient] = []

    async def script(server: trio.abc.Stream, n: int) -> None:
        bad = server_frame(OP_TEXT, b"x", mask=b"abcd") if n == 1 else b""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_subscribe_then, server, fills)
            await trio.sleep(0.2)  # the session takes the fills, then the violation comes
            if bad:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await server.send_all(bad)

    async def session(client: WsClient, reconnect: bool) -> None:
        clients.append(client)
        tids: list[int] = []
        sessions.append((reconnect, tids))
        await client.subscribe({"type": "userEvents", "user": "0x1"})
        async for frame in client.frames:  # the first session is cancelled by the error
            assert isinstance(frame, Fills)
            tids.append(frame.fills[0].tid)
            if len(tids) == 3 and reconnect:
                return

    async def on_disconnect(error: Exception) -> None:
        errors.append(error)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            connect = stream_connector(script, nursery)

            async def run() -> None:
                await run_reconnecting(connect, session, Backoff(random.Random(1), base_s=0.01),
                                       on_disconnect=on_disconnect)
            nursery.start_soon(run)
            while len(sessions) < 2 or len(sessions[1][1]) < 3:  # noqa: ASYNC110
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert sessions[0] == (False, [0, 1, 2]) and sessions[1] == (True, [0, 1, 2])
    assert clients[0].stats.protocol_errors == 1 and clients[1].stats.protocol_errors == 0
    assert isinstance(errors[0], WsProtocolError) and "masked" in str(errors[0])


async def test_reader_pauses_instead_of_overflowing_then_gives_up(autojump_clock: object
                                                                 ) -> None:
    n = 50
    fills = b"".join(server_frame(OP_TEXT, json.dumps({"channel": "user", "data": {
        "fills": [dict(FILL, tid=i)]}}).encode()) for i in range(n))
    client, server = trio.testing.memory_stream_pair()

    @asynccontextmanager
    async def connect() -> AsyncIterator[WebSocket]:
        yield WebSocket(client)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_subscribe_then, server, fills)
            with pytest.raises(ConsumerOverflow, match=r"for 2\.0 s"):
                async with WsClient.open(connect, buffer_size=20, max_pause_s=2.0) as ws:
                    await ws.subscribe({"type": "userEvents", "user": "0x1"})
                    await trio.sleep(1)
                    # paused at the high-water mark (10 of 20), nothing lost: take them all
                    taken = [await ws.frames.receive() for _ in range(n)]
                    assert [f.fills[0].tid for f in taken] == list(range(n))
                    assert ws.stats.pauses >= 1 and ws.stats.market_dropped == 0
                    await server.send_all(fills)
                    await trio.sleep_forever()  # the consumer is stuck: overflow after 2 s
            nursery.cancel_scope.cancel()


# ---- a real socket ------------------------------------------------------------------------------

async def test_real_loopback_handshake_and_round_trip() -> None:
    async def handler(stream: trio.SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive_some()
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key"))
        await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_key(key)
                              + b"\r\n\r\n" + server_frame(OP_TEXT, b"hi"))
        data = bytearray()
        while True:
            data += await stream.receive_some()
            for op, payload in read_client_frames(data):
                if op == OP_TEXT:
                    await stream.send_all(server_frame(OP_TEXT, payload[::-1]))
                elif op == OP_CLOSE:
                    await stream.send_all(server_frame(OP_CLOSE, payload))
                    await stream.aclose()
                    return

    async def refuser(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.send_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(trio.serve_tcp, handler, 0)
            port = listeners[0].socket.getsockname()[1]
            async with open_websocket(f"ws://127.0.0.1:{port}/ws") as ws:
                assert await ws.get_message() == "hi"
                await ws.send_message("abc")
                assert await ws.get_message() == "cba"
            assert ws.close_code == 1000
            listeners = await nursery.start(trio.serve_tcp, refuser, 0)
            port = listeners[0].socket.getsockname()[1]
            with pytest.raises(TransportError, match=r"cannot connect.*HTTP 404"):
                async with open_websocket(f"ws://127.0.0.1:{port}/ws"):
                    raise AssertionError("unreachable")
            nursery.cancel_scope.cancel()


async def test_the_feed_counts_a_protocol_error_and_reconnects(autojump_clock: object) -> None:
    from hlmaker.actors.feed import FeedStats, run_feed
    from hlmaker.clock import WallClock
    from hlmaker.messages import FeedConnected, FeedDisconnected

    async def script(server: trio.abc.Stream, n: int) -> None:
        data, subs = bytearray(), 0
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while chunk := await server.receive_some():
                data += chunk
                for op, payload in read_client_frames(data):
                    if op != OP_TEXT or json.loads(payload)["method"] != "subscribe":
                        continue
                    ack = {"channel": "subscriptionResponse", "data": json.loads(payload)}
                    await server.send_all(server_frame(OP_TEXT, json.dumps(ack).encode()))
                    subs += 1
                    if subs == 6 and n == 1:
                        await trio.sleep(0.1)
                        await server.send_all(server_frame(OP_TEXT, b"{}", rsv=0x40))

    stats = FeedStats()
    book_s, book_r = trio.open_memory_channel[object](100)
    mkt_s, _mkt_r = trio.open_memory_channel[object](100)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: run_feed(
                book_s, mkt_s, connector=stream_connector(script, nursery), user="0x1",
                coins=("BTC",), clock=WallClock(0), rng=random.Random(1), stats=stats,
                task_status=task_status))
            seen = [type(await book_r.receive()) for _ in range(3)]
            nursery.cancel_scope.cancel()
    assert seen == [FeedConnected, FeedDisconnected, FeedConnected]
    assert stats.protocol_errors == 1 and stats.connects == 2


async def test_a_send_on_a_broken_lean_connection_ends_the_session_cleanly() -> None:
    client, server = trio.testing.memory_stream_pair()

    @asynccontextmanager
    async def connect() -> AsyncIterator[WebSocket]:
        yield WebSocket(client)

    with trio.fail_after(10):
        with pytest.raises(TransportError, match="while sending"):
            async with WsClient.open(connect) as ws:
                await server.aclose()  # the peer is gone: the next send fails
                with pytest.raises(TransportError):
                    await ws.subscribe({"type": "userEvents", "user": "0x1"})
                await trio.sleep_forever()


async def test_aclose_while_another_task_reads() -> None:
    client, _server = trio.testing.memory_stream_pair()
    ws = WebSocket(client)
    errors: list[Exception] = []

    async def reader() -> None:
        try:
            await ws.get_messages()
        except TransportError as exc:
            errors.append(exc)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            await ws.aclose()  # no second receive: the reader sees the socket close
    assert len(errors) == 1 and "connection lost" in str(errors[0])
