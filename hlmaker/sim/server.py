"""The simulator's real server: one port, ``POST /info``, ``POST /exchange``, WebSocket ``/ws``.

A thin plain-ASGI app over :class:`~hlmaker.sim.service.SimService`, served by hypercorn's trio
worker. Fault decisions come from :class:`~hlmaker.sim.faults.FaultInjector`; this module only
applies them (``trio.sleep`` for latency, closing sockets, withholding responses). A clock task
steps the market and the engine's timers every ``step_ms``.

Use from trio::

    async with open_simulator(seed=1, faults="none", epoch_ms=1_700_000_000_000) as sim:
        sim.base_url          # "http://127.0.0.1:<port>" (port 0 picks a free one)
        sim.engine            # ground truth: fills_for / open_orders_for / position / order_status

and from blocking code (the official SDK, ``hlmaker run``)::

    with SimulatorThread(seed=1, epoch_ms=int(time.time() * 1000)) as sim:   # hlmaker.sim.thread
        Info(sim.base_url, skip_ws=True)
        sim.call(lambda: sim.engine.position(addr, "BTC"))   # runs in the simulator's thread

Time comes from the :class:`~hlmaker.clock.Clock` passed in (default: a
:class:`~hlmaker.clock.WallClock` anchored at ``epoch_ms``); randomness from ``random.Random``
seeded with ``seed`` (separate streams for the market and the faults).

Hypercorn notes: in 0.18 its trio worker still lets an exception from one connection take the
whole server down (pgjones/hypercorn#225: a WebSocket upgrade with trailing bytes; reproduced by
``tests/sim/test_server.py``), so :func:`_serve` runs hypercorn's per-connection ``TCPServer``
under our own accept loop that contains such errors. Cancellation skips socket shutdown (#106),
so shutdown first closes our WebSockets and lets connections finish (bounded) before cancelling.
"""

from __future__ import annotations

import json
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import wrap_app

from hlmaker.clock import Clock, WallClock
from hlmaker.sim.engine import Engine, EngineConfig
from hlmaker.sim.faults import (
    ERROR_TEXT,
    ConnectionEvent,
    FaultInjector,
    FaultProfile,
    PushFate,
    RequestDecision,
    RequestFault,
)
from hlmaker.sim.market import MarketConfig, SyntheticMarket, TradeReplay
from hlmaker.sim.pushes import PushRouter
from hlmaker.sim.rules import DEFAULT_UNIVERSE, AssetSpec
from hlmaker.sim.service import ServiceConfig, SimService
from hlmaker.sim.ws import Push, WsSession, dumps, post_error

log = logging.getLogger("hlmaker.sim")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY = 1 << 20
FAULT_TICK_S = 0.25


@dataclass
class _Conn:
    """Transport state of one WebSocket connection."""

    session: WsSession
    queue: deque[tuple[str, Push | None]] = field(default_factory=deque)  # (text, push or reply)
    wake: trio.Event = field(default_factory=trio.Event)
    stalled_until: float = 0.0
    closed: bool = False
    sent: int = 0
    enqueued: int = 0
    cancel: trio.CancelScope = field(default_factory=trio.CancelScope)

    def put(self, text: str, push: Push | None) -> None:
        self.queue.append((text, push))
        self.enqueued += 1
        self.wake.set()


class Simulator:
    """A running simulator: engine, market, service, faults and the ASGI app."""

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int = 0,
        faults: str | FaultProfile = "none",
        universe: tuple[AssetSpec, ...] = DEFAULT_UNIVERSE,
        engine_config: EngineConfig | None = None,
        market: MarketConfig | None = None,
        with_market: bool = True,
        service_config: ServiceConfig | None = None,
        replay: TradeReplay | None = None,
        step_ms: int = 100,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.engine = Engine(universe, engine_config)
        self.market = (
            SyntheticMarket(
                self.engine, random.Random(f"hlmaker-sim/{seed}/market"), market, replay
            )
            if with_market
            else None
        )
        self.service = SimService(self.engine, self.market, service_config)
        self.faults = FaultInjector(faults, random.Random(f"hlmaker-sim/{seed}/faults"))
        self.step_ms = step_ms
        self.base_url = ""
        self.port = 0
        self._pushes: PushRouter[_Conn] = PushRouter()
        self._conns = self._pushes.conns
        self._progress = trio.Event()
        self.service.on_push = self._pushes.on_push

    # ---- public helpers ----------------------------------------------------------------------

    def now_ms(self) -> int:
        """Current simulator time, ms since the epoch."""
        return self.clock.now_ms()

    def step(self) -> None:
        """Step market and timers to now (the clock task does this every ``step_ms``)."""
        self.service.step(self.now_ms())

    def disconnect_all(self) -> int:
        """Force-close every WebSocket, losing queued pushes (as fault F4); returns how many."""
        conns = list(self._conns.values())
        for conn in conns:
            self._drop(conn)
        return len(conns)

    @property
    def connections(self) -> int:
        """Open WebSocket connections."""
        return len(self._conns)

    # ---- pushes -------------------------------------------------------------------------------

    async def _flush(self, captured: list[tuple[_Conn, Push]], timeout_s: float = 1.0) -> None:
        """Release ``captured`` now and wait (bounded) until the writers have sent them."""
        targets = {}
        for conn, push in captured:
            if not conn.closed:
                conn.put(push.text, push)
                targets[id(conn)] = (conn, conn.enqueued)
        with trio.move_on_after(timeout_s):
            while any(c.sent < n and not c.closed for c, n in targets.values()):
                await self._progress.wait()

    def _drop(self, conn: _Conn) -> None:
        lost = sum(1 for _, push in conn.queue if push is not None)
        if lost:
            self.faults.count("lost_on_disconnect", lost)
        conn.queue.clear()
        conn.closed = True
        conn.wake.set()
        conn.cancel.cancel()

    # ---- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    @staticmethod
    async def _respond(send: Send, status: int, body: Any) -> None:
        if status >= 400 or isinstance(body, str):
            data, ctype = str(body).encode(), b"text/plain; charset=utf-8"
        else:
            data, ctype = dumps(body).encode(), b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path not in ("/info", "/exchange"):
            await self._respond(send, 404, "Not Found")
            return
        if scope.get("method") != "POST":
            await self._respond(send, 405, "Method Not Allowed")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await self._respond(send, 413, "Payload Too Large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            await self._http_request(path, body, send)
        except Exception:  # never take the server down for one request
            log.exception("simulator request failed")
            await self._respond(send, 500, "Internal Server Error")

    async def _http_request(self, path: str, body: bytes, send: Send) -> None:
        endpoint = "info" if path == "/info" else "exchange"
        decision = self.faults.request(endpoint)
        handler = self.service.handle_info if endpoint == "info" else self.service.handle_exchange
        status, reply, captured = 0, None, []
        if decision.applies:
            (status, reply), captured = self._pushes.captured(lambda: handler(body, self.now_ms()))
        if decision.push_first:
            await self._flush(captured)
            captured = []
        if decision.latency_ms:
            await trio.sleep(decision.latency_ms / 1000)
        if not decision.responds:
            self._pushes.release(captured)
            await trio.sleep(self.faults.profile.lost_response_hold_ms / 1000)
            await self._respond(send, 504, ERROR_TEXT[504])
            return
        if decision.fault is not RequestFault.NONE:
            status, reply = decision.status, ERROR_TEXT[decision.status]
        await self._respond(send, status, reply)
        self._pushes.release(captured)

    # ---- WebSocket ------------------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") != "/ws":
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008})
            return
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        conn = _Conn(self.service.open_session())
        self._conns[conn.session.session_id] = conn
        try:
            with conn.cancel:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._ws_writer, conn, send)
                    nursery.start_soon(self._ws_faults, conn)
                    await self._ws_reader(conn, receive, nursery)
                    nursery.cancel_scope.cancel()
        finally:
            self._conns.pop(conn.session.session_id, None)
            conn.closed = True
            conn.session.close()
            if conn.cancel.cancelled_caught or conn.cancel.cancel_called:
                with trio.move_on_after(1) as scope_:
                    scope_.shield = True
                    with suppress(Exception):  # the peer may be gone already
                        await send({"type": "websocket.close", "code": 1012})

    async def _ws_reader(self, conn: _Conn, receive: Receive, nursery: trio.Nursery) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message["type"] != "websocket.receive":
                continue
            text = message.get("text")
            if text is None:
                raw = message.get("bytes") or b""
                text = raw.decode("utf-8", "replace")
            try:
                await self._ws_text(conn, text, nursery)
            except Exception:
                log.exception("simulator websocket frame failed")
                conn.put(dumps({"channel": "error", "data": "Internal error"}), None)

    async def _ws_text(self, conn: _Conn, text: str, nursery: trio.Nursery) -> None:
        session = conn.session
        if '"post"' not in text:
            for reply in session.on_text(text, self.now_ms()):
                conn.put(reply, None)
            return
        decision = self.faults.request(_post_endpoint(text))
        if decision.applies:
            replies, captured = self._pushes.captured(lambda: session.on_text(text, self.now_ms()))
        else:
            replies, captured = [], []
        nursery.start_soon(self._ws_post_reply, conn, text, decision, replies, captured)

    async def _ws_post_reply(
        self,
        conn: _Conn,
        text: str,
        decision: RequestDecision,
        replies: list[str],
        captured: list[tuple[_Conn, Push]],
    ) -> None:
        if decision.push_first:
            await self._flush(captured)
            captured = []
        if decision.latency_ms:
            await trio.sleep(decision.latency_ms / 1000)
        if decision.responds:
            if decision.fault is not RequestFault.NONE:
                replies = [post_error(_post_id(text), ERROR_TEXT[decision.status])]
            for reply in replies:
                conn.put(reply, None)
        self._pushes.release(captured)

    async def _ws_writer(self, conn: _Conn, send: Send) -> None:
        while True:
            while not conn.queue:
                conn.wake = trio.Event()
                await conn.wake.wait()
            now = trio.current_time()
            if conn.stalled_until > now:
                await trio.sleep(conn.stalled_until - now)
                continue
            text, push = conn.queue.popleft()
            copies = 1
            if push is not None:
                fate = self.faults.push()
                if fate is PushFate.DROP:
                    conn.sent += 1
                    self._progress.set()
                    self._progress = trio.Event()
                    continue
                if fate is PushFate.DUPLICATE:
                    copies = 2
                elif fate is PushFate.REORDER and conn.queue:
                    conn.queue.insert(1, (text, push))
                    text, push = conn.queue.popleft()
            try:
                for _ in range(copies):
                    await send({"type": "websocket.send", "text": text})
            except Exception:  # the peer went away; the reader sees the disconnect
                conn.closed = True
                return
            conn.sent += 1
            self._progress.set()
            self._progress = trio.Event()

    async def _ws_faults(self, conn: _Conn) -> None:
        if not self.faults.enabled:
            return
        while not conn.closed:
            await trio.sleep(FAULT_TICK_S)
            event = self.faults.connection(FAULT_TICK_S * 1000)
            if event is ConnectionEvent.DISCONNECT:
                self._drop(conn)
                return
            if event is ConnectionEvent.STALL:
                conn.stalled_until = trio.current_time() + self.faults.stall_ms() / 1000

    # ---- clock ---------------------------------------------------------------------------------

    async def _clock_task(self) -> None:
        while True:
            try:
                self.step()
            except Exception:
                log.exception("simulator step failed")
            await trio.sleep(self.step_ms / 1000)


def _post_endpoint(text: str) -> str:
    return "exchange" if '"action"' in text else "info"


def _post_id(text: str) -> int:
    try:
        value = json.loads(text).get("id", 0)
        return value if isinstance(value, int) else 0
    except (ValueError, AttributeError):
        return 0


@asynccontextmanager
async def open_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    faults: str | FaultProfile = "none",
    clock: Clock | None = None,
    epoch_ms: int | None = None,
    universe: tuple[AssetSpec, ...] = DEFAULT_UNIVERSE,
    engine_config: EngineConfig | None = None,
    market: MarketConfig | None = None,
    with_market: bool = True,
    service_config: ServiceConfig | None = None,
    replay: TradeReplay | None = None,
    step_ms: int = 100,
) -> AsyncIterator[Simulator]:
    """Serve a simulator on ``host:port`` for the duration of the block (trio only).

    Args:
        port: 0 picks a free port; the actual one is ``sim.port`` / in ``sim.base_url``.
        seed: seeds the market and the fault decisions (separate streams).
        faults: a profile name (``none``, ``default``, ``harsh``) or a :class:`FaultProfile`.
        clock: time source; default ``WallClock(epoch_ms)`` (one of them is required).
        market / with_market: synthetic market settings, or none at all.
        service_config: auto-funding, signature flavour, push throttles.
        step_ms: period of the market/timer clock task (trio time).

    Raises:
        ValueError: neither ``clock`` nor ``epoch_ms`` given, or an unknown fault profile.
        OSError: the port cannot be bound.
    """
    if clock is None:
        if epoch_ms is None:
            raise ValueError("open_simulator needs clock= or epoch_ms= (the wall-clock anchor)")
        clock = WallClock(epoch_ms)
    sim = Simulator(
        clock=clock,
        seed=seed,
        faults=faults,
        universe=universe,
        engine_config=engine_config,
        market=market,
        with_market=with_market,
        service_config=service_config,
        replay=replay,
        step_ms=step_ms,
    )
    config = HypercornConfig()
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = 1.0
    config.keep_alive_timeout = 75.0
    listeners = await trio.open_tcp_listeners(port, host=host)
    shutdown = trio.Event()
    served = trio.Event()

    async def run_server() -> None:
        try:
            await _serve(sim, config, listeners, shutdown)
        finally:
            served.set()

    async with trio.open_nursery() as nursery:
        sim.step()
        nursery.start_soon(sim._clock_task)
        nursery.start_soon(run_server)
        bound = listeners[0].socket.getsockname()
        sim.port = int(bound[1])
        sim.base_url = f"http://{host}:{sim.port}"
        try:
            yield sim
        finally:
            # Close our WebSockets, then let the connections finish gracefully (bounded) before
            # cancelling, so clients see closed sockets rather than a hang (hypercorn#106).
            sim.disconnect_all()
            shutdown.set()
            with trio.move_on_after(3) as cs:
                cs.shield = True
                await served.wait()
            nursery.cancel_scope.cancel()


async def _serve(
    sim: Simulator,
    config: HypercornConfig,
    listeners: list[trio.SocketListener],
    shutdown: trio.Event,
) -> None:
    """Accept connections and run hypercorn's per-connection protocol on each.

    A reduced ``hypercorn.trio.serve``: the same :class:`TCPServer`, but an exception escaping
    one connection (pgjones/hypercorn#225: trailing bytes after a WebSocket upgrade make h11
    raise inside hypercorn) only loses that connection instead of crashing the whole server.
    No lifespan (the app needs none), no TLS, one worker.
    """
    app = wrap_app(sim, config.wsgi_max_body_size, "asgi")
    context = WorkerContext(None)

    async def handle(stream: trio.SocketStream) -> None:
        try:
            await TCPServer(app, config, context, ConnectionState({}), stream)
        except Exception as exc:
            log.warning("connection dropped after an internal server error: %r", exc)
            sim.faults.count("server_connection_errors")
            with suppress(Exception):
                await stream.aclose()

    async with trio.open_nursery() as conn_nursery:
        async with trio.open_nursery() as accept_nursery:
            accept_nursery.start_soon(
                partial(trio.serve_listeners, handle, listeners, handler_nursery=conn_nursery)
            )
            await shutdown.wait()
            accept_nursery.cancel_scope.cancel()
        await context.terminated.set()
        conn_nursery.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
