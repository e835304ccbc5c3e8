"""WebSocket client: subscriptions with ack, heartbeat, ``post`` requests.

Protocol (protocol ref §6): ``{"method": "subscribe"|"unsubscribe", "subscription": {...}}``
acked by ``subscriptionResponse``; ``{"method": "ping"}`` answered by ``{"channel": "pong"}``;
``{"method": "post", "id": n, "request": {"type": "info"|"action", "payload": ...}}`` answered
on channel ``post`` with the same ``id`` (§6.5); at most 100 posts in flight per IP (§8); the
server closes a connection it has sent nothing to for 60 s (§6.1).

Connections. :class:`WsClient` runs on a :class:`WsConnection` — anything with
``send_message(str)``, ``get_message() -> str | bytes`` and ``aclose()``: hlmaker's lean RFC 6455
client :class:`~hlmaker.hyperliquid.websocket.WebSocket` (see :func:`url_connector`; its reader
hands over every message of one socket read at once), a trio-websocket ``WebSocketConnection``
(:func:`trio_websocket_connector`) or the in-memory pair from :func:`memory_connection_pair`
(tests, deterministic simulation: no sockets). A server that breaks RFC 6455 ends the session
with :class:`~hlmaker.hyperliquid.errors.WsProtocolError`, counted in ``stats.protocol_errors``.

Heartbeat and silence (reliability F5). Every received frame counts as life. When nothing has
been received for ``ping_interval_s`` (default 30 s, always ≤ 50 s) a ``ping`` is sent; when
nothing at all — not even a pong — has been received for ``silence_timeout_s`` (default 45 s)
the connection is declared dead with :class:`ConnectionStalled`.

Backpressure policy — the socket reader never blocks while it dispatches a frame (a blocked
reader stops answering the server's pings; trio-websocket's does when its queue is full).
Parsed frames go to a bounded buffer of ``buffer_size`` frames (default 10 000), read through
:attr:`WsClient.frames`, with ``send_nowait``. On a lean
:class:`~hlmaker.hyperliquid.websocket.WebSocket` (batches: one per socket read) the reader
first *pauses between reads* while the buffer holds more than ``buffer_size`` − 4,096 frames
(room for any one read): the socket is then not read, so TCP flow control slows the server
down and nothing is lost; a pause longer than ``max_pause_s`` (default 10 s: the consumer is
stuck) fails the client with :class:`ConsumerOverflow` (counted in ``stats.pauses`` /
``stats.paused_s``); should one read hold more frames than the room left, an account event
waits for room the same way (bounded by ``max_pause_s``). When the buffer is full on other
connections (in-memory, trio-websocket), or with market data:

* market data (``L2Book``, ``Bbo``, ``AllMids``, ``Trades``) and ``WsErrorFrame`` are
  **dropped and counted** (``stats.market_dropped``): each is superseded by the next push;
* an account event (``Fills``, ``OrderUpdates``, ``NonUserCancel``, ``Funding``,
  ``Liquidation``, ``OpenOrdersFrame``, ``ClearinghouseFrame``) is never dropped silently: the
  client fails with :class:`ConsumerOverflow`, a :class:`TransportError`, so the feed takes its
  ordinary reconnect path, which re-syncs (``userFills`` snapshot + sweep, reliability F4).

Control frames (acks, pongs, post responses) are consumed inside the client and never buffered.
Greetings and unhandled channels are counted and dropped.

Failure. When the connection breaks, stalls or overflows, the client records the error, fails
every pending post and subscribe with it, ends :attr:`WsClient.frames`, cancels the body of
:meth:`WsClient.open`'s ``async with`` block and raises the error from it.

All waits use trio time; the only randomness is the injected ``random.Random`` of
:class:`Backoff`.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any, Protocol

import attrs
import trio
import trio_websocket

from hlmaker.hyperliquid.codec import decode_json, parse_exchange_response, parse_frame
from hlmaker.hyperliquid.errors import (
    CodecError,
    ConnectionStalled,
    ConsumerOverflow,
    ExchangeError,
    RequestTimeout,
    ServerError,
    TransportError,
    VenueError,
    WsProtocolError,
)
from hlmaker.hyperliquid.frames import (
    Frame,
    GreetingFrame,
    Pong,
    PostResponse,
    SubscriptionAck,
    UnhandledFrame,
    WsErrorFrame,
)
from hlmaker.hyperliquid.websocket import WebSocket, open_websocket
from hlmaker.messages import (
    AllMids,
    Bbo,
    Fills,
    Funding,
    L2Book,
    Liquidation,
    NonUserCancel,
    OrderUpdates,
    Trades,
)

MAX_PING_INTERVAL_S = 50.0
MAX_IN_FLIGHT_POSTS = 100
_DROPPABLE = (L2Book, Bbo, AllMids, Trades, WsErrorFrame)
_DATA_FRAMES = frozenset((L2Book, Bbo, AllMids, Trades, Fills, OrderUpdates, NonUserCancel,
                          Funding, Liquidation))
_CLOSED_ERRORS = (trio_websocket.ConnectionClosed, trio.BrokenResourceError,
                  trio.ClosedResourceError, trio.EndOfChannel, OSError)


class WsConnection(Protocol):
    """The connection seam: a lean or trio-websocket connection, or an in-memory fake."""

    async def send_message(self, message: str) -> None: ...

    async def get_message(self) -> str | bytes: ...

    async def aclose(self) -> None: ...


Connector = Callable[[], AbstractAsyncContextManager[WsConnection]]
"""Opens one connection per call (used once per (re)connect)."""


def ws_url(base_url: str) -> str:
    """The WebSocket URL of the API at ``base_url`` — the SDK's rule (§3.3): ``ws`` + the base
    URL minus its ``http`` + ``/ws`` (``https://api.hyperliquid.xyz`` →
    ``wss://api.hyperliquid.xyz/ws``, ``http://127.0.0.1:8080`` → ``ws://127.0.0.1:8080/ws``).
    ``base_url`` must start with ``http`` (``http://`` or ``https://``), without a trailing slash.
    """
    return "ws" + base_url[len("http"):] + "/ws"


def url_connector(url: str, *, max_message_size: int = 32 * 1024 * 1024,
                  receive_buffer_size: int = 256 * 1024) -> Connector:
    """A :data:`Connector` for ``ws://host:port/ws`` / ``wss://…/ws`` over hlmaker's lean RFC 6455
    client (:mod:`hlmaker.hyperliquid.websocket`: one batch of messages per socket read).

    ``max_message_size`` (bytes) must fit the largest push (a 2000-fill snapshot is ~1 MB);
    ``receive_buffer_size`` (bytes) is read from the socket at once.
    """
    def connect() -> AbstractAsyncContextManager[WsConnection]:
        return open_websocket(url, max_message_size=max_message_size,
                              receive_buffer_size=receive_buffer_size)
    return connect


def trio_websocket_connector(url: str, *, max_message_size: int = 32 * 1024 * 1024,
                             receive_buffer_size: int = 4096) -> Connector:
    """The same over trio-websocket (one scheduler pass per message): kept for comparison
    (``benchmarks/ingest.py --transport trio-websocket``)."""
    def connect() -> AbstractAsyncContextManager[WsConnection]:
        return trio_websocket.open_websocket_url(  # type: ignore[return-value]
            url, max_message_size=max_message_size, message_queue_size=64,
            receive_buffer_size=receive_buffer_size)
    return connect


class MemoryConnection:
    """One end of an in-memory WebSocket (:func:`memory_connection_pair`)."""

    def __init__(self, send: trio.MemorySendChannel[str | bytes],
                 receive: trio.MemoryReceiveChannel[str | bytes]) -> None:
        self._send = send
        self._receive = receive

    async def send_message(self, message: str | bytes) -> None:
        """Queue ``message`` for the peer; ``trio.ClosedResourceError`` once closed."""
        await self._send.send(message)

    async def get_message(self) -> str | bytes:
        """Next message from the peer; ``trio.EndOfChannel`` when the peer closed."""
        return await self._receive.receive()

    async def aclose(self) -> None:
        """Close both directions (the peer's reads end, its sends fail)."""
        await self._send.aclose()
        await self._receive.aclose()


def memory_connection_pair(buffer: int = 1000) -> tuple[MemoryConnection, MemoryConnection]:
    """Two connected in-memory ends: ``(client side, server side)``; ``buffer`` messages each
    way (the sender waits when it is full)."""
    to_server_send, to_server_recv = trio.open_memory_channel[str | bytes](buffer)
    to_client_send, to_client_recv = trio.open_memory_channel[str | bytes](buffer)
    return (MemoryConnection(to_server_send, to_client_recv),
            MemoryConnection(to_client_send, to_server_recv))


@attrs.define
class WsStats:
    """Counters of one :class:`WsClient` (monotonic)."""

    frames_received: int = 0
    codec_errors: int = 0
    market_dropped: int = 0
    unhandled: int = 0
    pings_sent: int = 0
    pongs: int = 0
    late_post_responses: int = 0
    protocol_errors: int = 0
    """The server broke RFC 6455 (the session then ends and the feed reconnects)."""
    pauses: int = 0
    """Times the reader stopped reading the socket because the frame buffer was nearly full."""
    paused_s: float = 0.0


class _Waiter:
    """One pending post or subscribe: an event and its outcome."""

    __slots__ = ("error", "event", "key", "result")

    def __init__(self, key: Any = None) -> None:
        self.event = trio.Event()
        self.key = key
        self.result: Any = None
        self.error: VenueError | None = None

    def resolve(self, result: Any = None, error: VenueError | None = None) -> None:
        if not self.event.is_set():
            self.result, self.error = result, error
            self.event.set()


def _subscription_matches(ours: dict[str, Any], echo: Any) -> bool:
    """Loose match of a (possibly normalised) ack echo: every key of ours the echo has agrees,
    case-insensitively for strings (§6.1: fields may be added or dropped)."""
    if not isinstance(echo, dict) or echo.get("type") != ours.get("type"):
        return False
    for key, value in ours.items():
        if key in echo:
            other = echo[key]
            if isinstance(value, str) and isinstance(other, str):
                if value.lower() != other.lower():
                    return False
            elif value != other:
                return False
    return True


class WsClient:
    """A live WebSocket session. Create with :meth:`open`; see the module docstring."""

    def __init__(
        self,
        connection: WsConnection,
        *,
        ping_interval_s: float = 30.0,
        silence_timeout_s: float = 45.0,
        request_timeout_s: float = 10.0,
        max_in_flight: int = MAX_IN_FLIGHT_POSTS,
        buffer_size: int = 10_000,
        max_pause_s: float = 10.0,
    ) -> None:
        if not 0 < ping_interval_s <= MAX_PING_INTERVAL_S:
            raise ValueError(f"ping_interval_s must be in (0, {MAX_PING_INTERVAL_S}]")
        if silence_timeout_s <= ping_interval_s:
            raise ValueError("silence_timeout_s must exceed ping_interval_s (room for the pong)")
        if not 1 <= max_in_flight <= MAX_IN_FLIGHT_POSTS:
            raise ValueError(f"max_in_flight must be in [1, {MAX_IN_FLIGHT_POSTS}]")
        self._conn = connection
        self.ping_interval_s = ping_interval_s
        self.silence_timeout_s = silence_timeout_s
        self.request_timeout_s = request_timeout_s
        self.stats = WsStats()
        self._ids = itertools.count(1)
        self._slots = trio.Semaphore(max_in_flight)
        self._posts: dict[int, _Waiter] = {}
        self._acks: list[_Waiter] = []
        self._frames_send, self._frames = trio.open_memory_channel[Frame](buffer_size)
        self._high_water = max(buffer_size // 2, buffer_size - 4096)
        self.max_pause_s = max_pause_s
        self._last_rx = trio.current_time()
        self._last_ping = self._last_rx
        self._failure: VenueError | None = None
        self._closed = trio.Event()
        self._scope: trio.CancelScope | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(cls, connector: Connector | str, **options: Any) -> AsyncIterator[WsClient]:
        """Connect (``connector`` or a ``ws://`` URL), run the reader and heartbeat, yield the
        client; close on exit.

        Raises:
            TransportError: could not connect; or, on exit, the failure that ended the session
                (:class:`ConnectionStalled`, :class:`ConsumerOverflow`, connection closed).
        """
        connect = url_connector(connector) if isinstance(connector, str) else connector
        client: WsClient | None = None
        body_error: Exception | None = None
        try:
            async with connect() as conn:
                client = cls(conn, **options)
                async with trio.open_nursery() as nursery:
                    client._scope = nursery.cancel_scope
                    nursery.start_soon(client._read_loop)
                    nursery.start_soon(client._heartbeat_loop)
                    try:
                        yield client
                    except Exception as exc:  # re-raised below, not wrapped in a group
                        body_error = exc
                    finally:
                        nursery.cancel_scope.cancel()
                        client._fail(TransportError("client closed"), record=False)
        except (trio_websocket.HandshakeError, *_CLOSED_ERRORS) as exc:
            # connecting failed, or the close handshake did (then the session already ended)
            if client is None:
                raise TransportError(f"cannot connect: {type(exc).__name__}: {exc}") from None
        except BaseExceptionGroup as group:
            rest = group.split((trio_websocket.HandshakeError, *_CLOSED_ERRORS))[1]
            if rest is not None:
                raise
            if client is None:
                raise TransportError(f"cannot connect: {group!r:.200}") from None
        if body_error is not None:
            raise body_error
        if client is not None and client._failure is not None:
            raise client._failure

    @property
    def frames(self) -> trio.MemoryReceiveChannel[Frame]:
        """Parsed data frames, in arrival order; iteration ends when the session ends."""
        return self._frames

    @property
    def failure(self) -> VenueError | None:
        """Why the session ended, once it has."""
        return self._failure

    @property
    def in_flight(self) -> int:
        """Posts sent and not yet answered."""
        return len(self._posts)

    def _fail(self, error: VenueError, record: bool = True) -> None:
        if self._closed.is_set():
            return
        if record:
            self._failure = error
        self._closed.set()
        for waiter in [*self._posts.values(), *self._acks]:
            waiter.resolve(error=error)
        self._frames_send.close()
        if record and self._scope is not None:
            self._scope.cancel()  # ends the session body too: `open` then raises `error`

    # ---- background tasks ----------------------------------------------------------------

    async def _read_loop(self) -> None:
        conn = self._conn
        get_batch = conn.get_messages if isinstance(conn, WebSocket) else None
        stats = self.stats
        try:
            while True:
                if get_batch is not None:
                    if self._frames_send.statistics().current_buffer_used > self._high_water:
                        await self._pause()
                    raws: Sequence[str | bytes] = await get_batch()
                else:
                    raws = (await conn.get_message(),)
                self._last_rx = trio.current_time()
                for raw in raws:
                    stats.frames_received += 1
                    try:
                        frame = parse_frame(raw)
                    except CodecError:
                        stats.codec_errors += 1
                        continue
                    if not self._dispatch(frame):
                        if get_batch is None:
                            raise ConsumerOverflow(f"frame buffer full ({type(frame).__name__}"
                                                   " would be lost)")
                        await self._wait_for_room(frame)
        except _CLOSED_ERRORS as exc:
            self._fail(TransportError(f"connection closed: {type(exc).__name__}"))
        except WsProtocolError as exc:
            stats.protocol_errors += 1
            self._fail(exc)
        except VenueError as exc:
            self._fail(exc)
        await self._abort()

    async def _pause(self) -> None:
        """Wait (not reading the socket) until the buffer is back under the high-water mark.

        Raises:
            ConsumerOverflow: it stayed above for ``max_pause_s``.
        """
        self.stats.pauses += 1
        started = trio.current_time()
        stats = self._frames_send.statistics
        try:
            while stats().current_buffer_used > self._high_water:
                if trio.current_time() - started >= self.max_pause_s:
                    raise ConsumerOverflow(
                        f"frame buffer above {self._high_water} for {self.max_pause_s} s")
                await trio.sleep(0.001)
        finally:
            self.stats.paused_s += trio.current_time() - started

    async def _wait_for_room(self, frame: Frame) -> None:
        """Batch mode, buffer full, an account event: wait (the socket is not read meanwhile).

        Raises:
            ConsumerOverflow: no room within ``max_pause_s``.
        """
        self.stats.pauses += 1
        started = trio.current_time()
        with trio.move_on_after(self.max_pause_s):
            await self._frames_send.send(frame)
            self.stats.paused_s += trio.current_time() - started
            return
        raise ConsumerOverflow(f"frame buffer full for {self.max_pause_s} s "
                               f"({type(frame).__name__} would be lost)")

    def _dispatch(self, frame: Frame) -> bool:
        """Route ``frame``; False when it is an account event and the buffer is full."""
        kind = type(frame)
        if kind in _DATA_FRAMES:  # the bulk of the traffic: straight to the buffer
            try:
                self._frames_send.send_nowait(frame)
            except trio.WouldBlock:
                if kind not in _DROPPABLE:
                    return False
                self.stats.market_dropped += 1
        elif isinstance(frame, PostResponse):
            self._on_post(frame)
        elif isinstance(frame, SubscriptionAck):
            self._on_ack(frame)
        elif isinstance(frame, Pong):
            self.stats.pongs += 1
        elif isinstance(frame, GreetingFrame | UnhandledFrame):
            self.stats.unhandled += 1
        elif isinstance(frame, WsErrorFrame) and self._on_error(frame):
            pass
        else:
            try:
                self._frames_send.send_nowait(frame)
            except trio.WouldBlock:
                if not isinstance(frame, _DROPPABLE):
                    return False
                self.stats.market_dropped += 1
        return True

    def _on_post(self, frame: PostResponse) -> None:
        waiter = self._posts.pop(frame.id, None)
        if waiter is None:
            self.stats.late_post_responses += 1
        else:
            waiter.resolve(frame)

    def _on_ack(self, frame: SubscriptionAck) -> None:
        for waiter in self._acks:
            method, ours = waiter.key
            if method == frame.method and _subscription_matches(ours, dict(frame.subscription)):
                self._acks.remove(waiter)
                waiter.resolve(frame)
                return
        self.stats.unhandled += 1

    def _on_error(self, frame: WsErrorFrame) -> bool:
        """Route an error to the post or subscribe it names; True if it was consumed."""
        if frame.request_id is not None and frame.request_id in self._posts:
            self._posts.pop(frame.request_id).resolve(error=ExchangeError(frame.text))
            return True
        start = frame.text.find("{")
        if start < 0 or not self._acks:
            return False
        try:
            echo = decode_json(frame.text[start:])
        except CodecError:
            return False
        for waiter in self._acks:
            if _subscription_matches(waiter.key[1], echo):
                self._acks.remove(waiter)
                waiter.resolve(error=ExchangeError(frame.text))
                return True
        return False

    async def _heartbeat_loop(self) -> None:
        while not self._closed.is_set():
            now = trio.current_time()
            # Compare with the very deadline slept until below: ``now - last_rx >= timeout``
            # can be false at ``now == last_rx + timeout`` by float rounding, and the loop then
            # spun forever at that instant (found by the simulation campaign, seed 56).
            if now >= self._last_rx + self.silence_timeout_s:
                self._fail(ConnectionStalled(
                    f"nothing received for {self.silence_timeout_s} s"))
                await self._abort()
                return
            next_ping = max(self._last_rx, self._last_ping) + self.ping_interval_s
            if now >= next_ping:
                self._last_ping = now
                self.stats.pings_sent += 1
                if not await self._send({"method": "ping"}):
                    return
                continue
            await trio.sleep_until(min(next_ping, self._last_rx + self.silence_timeout_s))

    async def _abort(self) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(1), suppress(*_CLOSED_ERRORS):
            await self._conn.aclose()

    async def _send(self, message: dict[str, Any]) -> bool:
        """Send; on a closed connection record the failure and return False."""
        if self._closed.is_set():
            return False
        try:
            await self._conn.send_message(json.dumps(message, separators=(",", ":")))
        except (*_CLOSED_ERRORS, TransportError) as exc:  # TransportError: the lean client's
            self._fail(TransportError(f"connection closed while sending: {type(exc).__name__}"))
            return False
        return True

    # ---- subscriptions -------------------------------------------------------------------

    async def subscribe(self, subscription: dict[str, Any],
                        timeout_s: float | None = None) -> SubscriptionAck:
        """Send ``{"method": "subscribe", "subscription": subscription}`` and wait for its ack.

        Raises:
            RequestTimeout: no ack within ``timeout_s`` (default ``request_timeout_s``).
            ExchangeError: the server answered on ``error`` (``Invalid subscription …``,
                ``Already subscribed: …``).
            TransportError: the session ended.
        """
        return await self._subscription("subscribe", subscription, timeout_s)

    async def unsubscribe(self, subscription: dict[str, Any],
                          timeout_s: float | None = None) -> SubscriptionAck:
        """Like :meth:`subscribe` with ``"method": "unsubscribe"``."""
        return await self._subscription("unsubscribe", subscription, timeout_s)

    async def _subscription(self, method: str, subscription: dict[str, Any],
                            timeout_s: float | None) -> SubscriptionAck:
        waiter = _Waiter((method, subscription))
        self._acks.append(waiter)
        try:
            if not await self._send({"method": method, "subscription": subscription}):
                raise self._failure or TransportError("client closed")
            result: SubscriptionAck = await self._wait(waiter, timeout_s, f"{method} ack")
            return result
        finally:
            if waiter in self._acks:
                self._acks.remove(waiter)

    async def _wait(self, waiter: _Waiter, timeout_s: float | None, what: str) -> Any:
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        with trio.move_on_after(timeout):
            await waiter.event.wait()
        if not waiter.event.is_set():
            raise RequestTimeout(f"{what}: no answer within {timeout} s")
        if waiter.error is not None:
            raise waiter.error
        return waiter.result

    # ---- post requests -------------------------------------------------------------------

    async def post(self, kind: str, payload: Any, timeout_s: float | None = None) -> PostResponse:
        """Send a ``post`` of ``kind`` (``"info"`` | ``"action"``) and wait for its answer.

        At most ``max_in_flight`` posts are outstanding; extra callers wait for a slot within
        the same ``timeout_s`` (seconds, default ``request_timeout_s``).

        Raises:
            RequestTimeout: ``.sent`` false if it never got a slot, true if the answer is late
                (a late answer is then counted and dropped).
            ExchangeError: an ``error`` channel message naming this id.
            TransportError: the session ended before the answer.
        """
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        deadline = trio.current_time() + timeout
        try:  # a free slot is taken without a cancel scope or a schedule point
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            with trio.move_on_at(deadline) as slot_wait:
                await self._slots.acquire()
            if slot_wait.cancelled_caught:
                raise RequestTimeout(f"post {kind}: no free slot within {timeout} s",
                                     sent=False) from None
        try:
            if self._closed.is_set():
                raise self._failure or TransportError("client closed")
            request_id = next(self._ids)
            waiter = _Waiter()
            self._posts[request_id] = waiter
            message = {"method": "post", "id": request_id,
                       "request": {"type": kind, "payload": payload}}
            if not await self._send(message):
                raise self._failure or TransportError("client closed")
            remaining = max(0.0, deadline - trio.current_time())
            try:
                response: PostResponse = await self._wait(waiter, remaining, f"post {kind}")
            finally:
                self._posts.pop(request_id, None)
            return response
        finally:
            self._slots.release()

    async def post_info(self, payload: dict[str, Any], timeout_s: float | None = None) -> Any:
        """``post`` an ``/info`` body; returns the reply's ``data`` — the same value ``POST
        /info`` returns, so the :mod:`~hlmaker.hyperliquid.codec` payload parsers apply.

        Raises:
            ExchangeError: answered with type ``error``. CodecError: an ``action`` answer or
                no ``data``. Plus the errors of :meth:`post`.
        """
        response = await self.post("info", payload, timeout_s)
        if response.kind == "error":
            raise ExchangeError(str(response.payload))
        if response.kind != "info" or not isinstance(response.payload, dict):
            raise CodecError(f"post {response.id}: expected an info answer")
        if "data" not in response.payload:
            raise CodecError(f"post {response.id}: info answer lacks 'data'")
        return response.payload["data"]

    async def post_action(self, envelope: dict[str, Any],
                          timeout_s: float | None = None) -> dict[str, Any]:
        """``post`` a signed ``/exchange`` envelope; returns the raw ``{"status": "ok", ...}``
        reply, like :meth:`~hlmaker.hyperliquid.rest.RestClient.post_action`.

        Raises:
            ExchangeError, ServerError, CodecError: as :func:`action_reply`. Plus those of
                :meth:`post`.
        """
        return action_reply(await self.post("action", envelope, timeout_s))


def action_reply(response: PostResponse) -> dict[str, Any]:
    """The ``{"status": "ok", ...}`` reply carried by a WS ``post`` action answer.

    Raises:
        ExchangeError: ``{"status": "err"}`` — the exchange refused the action.
        ServerError: an ``error``-typed answer: the server failed to answer the action, which
            may or may not have been applied (like an HTTP 5xx; never a refusal to trust —
            found by the simulation campaign, seeds 18 and 41).
        CodecError: an answer of another type.
    """
    if response.kind == "error":
        raise ServerError(502, f"WS post error: {response.payload}")
    if response.kind != "action":
        raise CodecError(f"post {response.id}: expected an action answer")
    parse_exchange_response(response.payload)
    return response.payload  # type: ignore[no-any-return]


class Backoff:
    """Reconnect delays: exponential with equal jitter from an injected ``random.Random``.

    Attempt n (from 0) waits ``d/2 + U(0, d/2)`` with ``d = min(cap_s, base_s × 2^n)`` seconds,
    so never less than half the nominal delay (the exchange allows 30 new connections a minute
    per IP, §8).
    """

    def __init__(self, rng: random.Random, *, base_s: float = 1.0, cap_s: float = 30.0) -> None:
        self._rng = rng
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt, seconds; advances the attempt counter."""
        nominal = min(self.cap_s, self.base_s * math.pow(2, min(self.attempt, 60)))
        self.attempt += 1
        return nominal / 2 + self._rng.uniform(0, nominal / 2)

    def reset(self) -> None:
        """Back to the first delay (after a connection that stayed up)."""
        self.attempt = 0


async def run_reconnecting(
    connector: Connector | str,
    session: Callable[[WsClient, bool], Awaitable[None]],
    backoff: Backoff,
    *,
    on_disconnect: Callable[[VenueError], Awaitable[None]] | None = None,
    stable_after_s: float = 60.0,
    **options: Any,
) -> None:
    """Run ``session(client, is_reconnect)`` on a fresh connection forever, reconnecting after
    every :class:`TransportError` (close, stall, overflow, failed connect) with ``backoff``.

    ``session`` subscribes and consumes ``client.frames``; when it returns, the connection is
    closed and reopened as well. ``on_disconnect(error)`` runs before each wait (the feed sends
    ``FeedDisconnected`` there). The backoff resets after a session that lasted
    ``stable_after_s``. Other exceptions (and cancellation) propagate. ``options`` go to
    :class:`WsClient`.
    """
    reconnect = False
    while True:
        started = trio.current_time()
        error: VenueError
        try:
            async with WsClient.open(connector, **options) as client:
                await session(client, reconnect)
            error = TransportError("session ended")
        except TransportError as exc:
            error = exc
        if trio.current_time() - started >= stable_after_s:
            backoff.reset()
        if on_disconnect is not None:
            await on_disconnect(error)
        reconnect = True
        await trio.sleep(backoff.next_delay())
