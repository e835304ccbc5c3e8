"""The one fault-applying exchange of the simulator, apart from any transport.

:class:`FaultedExchange` owns the engine, the synthetic market, the protocol service
(:class:`~hlmaker.sim.service.SimService`), a fault policy (a
:class:`~hlmaker.sim.faults.FaultInjector`) and one :class:`Outbox` per open WebSocket, and
applies every fault decision the way the real exchange misbehaves:

* a request (REST ``POST /info`` / ``/exchange`` or a WebSocket ``post``) is delayed by the
  drawn latency, answered 429/5xx with or without effect, or never answered (the action landed,
  F6, or not, F7); the pushes an action produced are held back and released after its reply, or
  flushed before it (F3);
* each push is delivered, duplicated (F1), swapped with the next (F2) or dropped;
* a connection is dropped with its queued pushes lost (F4) or goes silent for a while (F5).

It never touches a socket: a transport hands it request bodies and WebSocket text and gets text
back. Two thin adapters exist: the socket server (:mod:`hlmaker.sim.server`, h11 + wsproto over
trio streams) and the deterministic campaign's in-memory exchange
(:mod:`hlmaker.chaos.exchange` with :mod:`hlmaker.chaos.transport`), which adds the catalogue's
interventions through the two hooks :meth:`FaultedExchange.shape_reply` and
:meth:`FaultedExchange.filter_reply`.

A transport drives it like this (trio; every method runs in the exchange's trio run)::

    exchange = FaultedExchange(clock=clock, engine=engine, market=market, faults=injector)
    async with trio.open_nursery() as nursery:
        await nursery.start(exchange.serve)        # market/timer clock every step_ms
        await exchange.http("info", body, respond, lost_hold_s=30.0)   # one REST request
        outbox = exchange.open_connection(ws)      # ws: a WsTransport
        await exchange.serve_connection(outbox)    # until the client or the exchange closes it

Time: exchange time is ``clock.now_ms()`` (ms since the epoch); delays are trio time
(``trio.sleep``), so the whole exchange runs under ``trio.testing.MockClock`` as well.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, deque
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from hlmaker.clock import Clock
from hlmaker.sim.engine import Engine
from hlmaker.sim.faults import (
    ERROR_TEXT,
    ConnectionEvent,
    FaultInjector,
    PushFate,
    RequestDecision,
    RequestFault,
)
from hlmaker.sim.limits import ERR_WS_INFLIGHT_POSTS
from hlmaker.sim.market import SyntheticMarket
from hlmaker.sim.pushes import PushRouter
from hlmaker.sim.service import RequestIntercept, ServiceConfig, SimService
from hlmaker.sim.ws import Push, WsSession, dumps, post_error

log = logging.getLogger("hlmaker.sim")

FAULT_TICK_S = 0.25
"""Period (trio seconds) at which each connection draws its disconnect / stall faults."""
FLUSH_TIMEOUT_S = 1.0
"""How long a reply waits, at most, for its flushed pushes to be taken by the writers (F3)."""
WRITE_BATCH = 256
"""Frames a writer hands to a socket transport in one write (``send_many``)."""

HttpReply = tuple[int, str, bytes]
"""``(status, content type, body)`` of one REST answer, exactly as the server sends it."""
Respond = Callable[[HttpReply | None], Awaitable[None]]
"""Called once per request with its reply, or ``None`` when the response is lost."""
Captured = list[tuple["Outbox", Push]]
"""Pushes an action produced, held back in order with the outbox each belongs to."""


class WsTransport(Protocol):
    """One WebSocket as the exchange sees it; the adapter owns the socket or the channels.

    ``incoming`` yields the client's frames as text and ends when the client closed (it may
    raise ``trio.ClosedResourceError`` once :meth:`close` was called). :meth:`send` hands one
    text frame to the client and raises ``trio.BrokenResourceError`` or
    ``trio.ClosedResourceError`` when the connection is gone. :meth:`close` is the exchange
    dropping the connection (synchronous, idempotent). A transport may also offer
    ``async send_many(texts: list[str])`` (the socket one does: one write for many frames,
    ~5× the pushes per second); the writer then hands it every queued frame at once, each
    with its push fault applied as one by one.
    """

    @property
    def incoming(self) -> AsyncIterable[str]:
        """The client's frames, as text."""
        ...

    async def send(self, text: str) -> None:
        """Hand one text frame to the client."""
        ...

    def close(self) -> None:
        """Drop the connection from the exchange's side."""
        ...


class EnvelopeObserver(Protocol):
    """A probe on the ``/exchange`` envelopes the exchange receives (synchronous, cheap)."""

    def on_envelope(self, envelope: dict[str, Any], landed: bool) -> None:
        """``envelope`` arrived (REST or WS post); ``landed``: it will be applied."""


class TransportStats(Protocol):
    """The counters the exchange keeps (:class:`Counts`, or a caller's object with these)."""

    pushes: int
    connects: int
    push_faults: Counter[str]


@dataclass
class Counts:
    """Pushes handed to clients, connections opened, push faults by ``"<fate>:<channel>"``."""

    pushes: int = 0
    connects: int = 0
    push_faults: Counter[str] = field(default_factory=Counter)


@dataclass
class Outbox:
    """The exchange side of one WebSocket: its session and its queue of frames to send.

    ``queue`` holds ``(text, push)`` (``push`` is ``None`` for a direct reply: acks, snapshots,
    pong, post responses — never faulted); one writer task drains it in order.
    """

    session: WsSession
    transport: WsTransport
    queue: deque[tuple[str, Push | None]] = field(default_factory=deque)
    wake: trio.Event = field(default_factory=trio.Event)
    stalled_until: float = 0.0
    """Trio time before which nothing is sent (F5)."""
    closed: bool = False
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    posts_in_flight: int = 0
    """``post`` requests received and not yet answered (the per-connection limit, §8)."""

    def put(self, text: str, push: Push | None) -> None:
        """Queue ``text`` for the client (ignored once closed)."""
        if not self.closed:
            self.queue.append((text, push))
            self.wake.set()


def _no_trace(kind: str, *parts: object) -> None:
    return None


class FaultedExchange:
    """Engine + market + service + faults + per-connection outboxes; no transport.

    Args:
        clock: exchange time (``now_ms``).
        engine: the matching engine (ground truth: ``fills_for``, ``open_orders_for`` …).
        market: the synthetic market stepped with the engine's timers, or ``None``.
        faults: the fault policy; its ``request_for`` / ``push_for`` / ``connection_for``
            decide every fault (a :class:`~hlmaker.sim.faults.FaultInjector` or a subclass).
        service_config: auto-funding, signature flavour, push throttles.
        step_ms: period of the market/timer clock (trio time, ms).
        stats: where to count pushes, connects and push faults (default: a new :class:`Counts`).
        trace: ``trace(kind, *parts)`` for every request, connection and frame (the campaign's
            digest); parts are str / int.
        on_frame: ``on_frame(session_id, text)`` right before a text frame is handed to a
            WebSocket (once per copy); for probes (benchmarks, tests).
        on_step: called after every :meth:`step` (the campaign's exchange-side checks).
        intercept: a :class:`~hlmaker.sim.service.RequestIntercept` around both endpoints
            (REST and WebSocket ``post`` alike).
        contain_errors: log an exception of a market step or of one client frame (the frame is
            answered ``{"channel":"error","data":"Internal error"}``) instead of raising it —
            a served simulator keeps running; the campaign lets it end the run.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        engine: Engine,
        market: SyntheticMarket | None,
        faults: FaultInjector,
        service_config: ServiceConfig | None = None,
        step_ms: int = 100,
        stats: TransportStats | None = None,
        trace: Callable[..., None] | None = None,
        on_frame: Callable[[int, str], None] | None = None,
        on_step: Callable[[], None] | None = None,
        intercept: RequestIntercept | None = None,
        contain_errors: bool = False,
    ) -> None:
        self.clock = clock
        self.engine = engine
        self.market = market
        self.service = SimService(engine, market, service_config, intercept=intercept)
        self.faults = faults
        self.step_ms = step_ms
        self.stats: TransportStats = stats if stats is not None else Counts()
        self.observer: EnvelopeObserver | None = None
        """Sees every ``/exchange`` envelope (set it before requests arrive)."""
        self.on_frame = on_frame
        self.on_step = on_step
        self.contain_errors = contain_errors
        self.slow_acks_in_flight = 0
        """Replies currently held by an extra latency from :meth:`shape_reply`."""
        self._trace = trace or _no_trace
        self._pushes: PushRouter[Outbox] = PushRouter()
        self._conns = self._pushes.conns
        self.service.on_push = self._pushes.on_push
        self._nursery: trio.Nursery | None = None
        self._progress = trio.Event()

    # ---- lifecycle ------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Step once, then run the market/timer clock every ``step_ms`` and host the
        connections of :meth:`start_connection` until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.step()
            nursery.start_soon(self._clock_task)
            task_status.started()
            await trio.sleep_forever()

    async def _clock_task(self) -> None:
        while True:
            await trio.sleep(self.step_ms / 1000)
            try:
                self.step()
            except Exception:
                if not self.contain_errors:
                    raise
                log.exception("simulator step failed")

    def now_ms(self) -> int:
        """Exchange time, ms since the epoch."""
        return self.clock.now_ms()

    def step(self) -> None:
        """Advance the market and the engine's timers (``scheduleCancel``) to now; queue the
        resulting pushes; then call ``on_step``."""
        self.service.step(self.now_ms())
        if self.on_step is not None:
            self.on_step()

    @property
    def connections(self) -> int:
        """Open WebSocket connections."""
        return len(self._conns)

    # ---- hooks (the campaign's interventions override these) ------------------------------

    def shape_reply(self, captured: Captured) -> tuple[Captured, int]:
        """Called right after a request was applied, with the pushes it produced; returns the
        pushes to release with the reply and an extra reply latency in ms (default: all, 0)."""
        return captured, 0

    def filter_reply(self, text: str) -> str:
        """A direct WebSocket reply (ack, snapshot, pong) about to be queued (default: as is)."""
        return text

    # ---- pushes -------------------------------------------------------------------------------

    def _captured(self, fn: Callable[[], Any]) -> tuple[Any, Captured]:
        return self._pushes.captured(fn)

    _release = staticmethod(PushRouter.release)

    async def _flush(self, captured: Captured, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Release ``captured`` and wait (bounded) until the writers have taken them (F3)."""
        self._release(captured)
        with trio.move_on_after(timeout_s):
            while any(push in [p for _, p in c.queue] for c, push in captured if not c.closed):
                await self._progress.wait()

    # ---- requests (REST and WS post) ------------------------------------------------------

    async def http(self, endpoint: str, body: bytes, respond: Respond, *,
                   lost_hold_s: float, ip: str = "loopback") -> None:
        """Serve one REST request to ``endpoint`` (``"info"`` or ``"exchange"``) with its fault.

        ``body`` is the raw JSON request body. ``respond`` is awaited exactly once: with
        ``(status, content type, body)`` — JSON for 200, plain text for 4xx/5xx (the SDK reads
        a non-JSON error body as text, §1.1) — after the drawn latency, or with ``None`` after
        ``lost_hold_s`` (trio seconds) when the response is lost (F6: the action landed; F7: it
        did not). Pushes the action produced are released after ``respond`` returns, or flushed
        before it (F3). ``ip``: the client's address, whose per-IP weight (§8) the request
        spends. Raises only what ``respond`` raises.
        """
        req = _loads(body)
        on = _request_type(endpoint, req)
        decision = self.faults.request_for(endpoint, on)
        if endpoint == "exchange" and isinstance(req, dict) and self.observer is not None:
            self.observer.on_envelope(req, decision.applies)
        service = self.service
        handler = service.handle_exchange if endpoint == "exchange" else service.handle_info
        status, reply, captured, extra = 0, None, [], 0
        if decision.applies:
            payload = req if isinstance(req, dict) else body
            now = self.now_ms()
            if not service.admit_ip(endpoint, payload, now, ip):
                status, reply = 429, ERROR_TEXT[429]  # the per-IP weight (§8)
            else:
                (status, reply), captured = self._captured(lambda: handler(payload, now))
                captured, extra = self.shape_reply(captured)
                if endpoint == "info" and status == 200:
                    service.charge_reply(payload, reply, now, ip)
        self._trace("http", endpoint, on, decision.fault.value, status)

        async def answer(responds: bool) -> None:
            if not responds:
                await trio.sleep(lost_hold_s)
                await respond(None)
            elif decision.fault is not RequestFault.NONE:
                await respond(encode_reply(decision.status, ERROR_TEXT[decision.status]))
            else:
                await respond(encode_reply(status, reply))

        await self._answer(decision, captured, extra, answer)

    async def _answer(self, decision: RequestDecision, captured: Captured, extra_ms: int,
                      answer: Callable[[bool], Awaitable[None]]) -> None:
        """Apply ``decision`` to one reply: flush ``captured`` first (F3) or release it after
        the reply; wait the latency (plus ``extra_ms``); then ``answer(responds)`` — when the
        reply is lost the pushes are released before ``answer(False)``."""
        if extra_ms:
            self.slow_acks_in_flight += 1
        try:
            if decision.push_first:
                await self._flush(captured)
                captured = []
            latency = decision.latency_ms + extra_ms
            if latency:
                await trio.sleep(latency / 1000)
            if not decision.responds:
                self._release(captured)
                captured = []
            await answer(decision.responds)
        finally:
            if extra_ms:
                self.slow_acks_in_flight -= 1
            self._release(captured)

    # ---- WebSocket ------------------------------------------------------------------------

    def open_connections(self) -> int:
        """How many WebSocket connections are open."""
        return len(self._conns)

    def open_connection(self, transport: WsTransport) -> Outbox:
        """Register a new WebSocket (a fresh session) and return its outbox; run it with
        :meth:`serve_connection`."""
        conn = Outbox(self.service.open_session(), transport)
        self._conns[conn.session.session_id] = conn
        self.stats.connects += 1
        self._trace("ws-open", conn.session.session_id)
        return conn

    def start_connection(self, transport: WsTransport) -> Outbox:
        """:meth:`open_connection` and run it in :meth:`serve`'s nursery.

        Raises:
            RuntimeError: :meth:`serve` is not running.
        """
        if self._nursery is None:
            raise RuntimeError("start_connection needs FaultedExchange.serve running")
        conn = self.open_connection(transport)
        self._nursery.start_soon(self.serve_connection, conn)
        return conn

    async def serve_connection(self, conn: Outbox) -> None:
        """Read the client's frames and write the outbox until the client closes, the
        transport breaks or the exchange drops the connection; then close it (the session
        ends, the transport is closed)."""
        try:
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, conn)
                    if self.faults.enabled:
                        nursery.start_soon(self._conn_faults, conn)
                    try:
                        async for text in conn.transport.incoming:
                            self._on_text(conn, text, nursery)
                    except trio.ClosedResourceError:
                        pass  # dropped by the exchange (fault or partition)
                    nursery.cancel_scope.cancel()
        finally:
            self._close(conn)

    def _close(self, conn: Outbox) -> None:
        self._conns.pop(conn.session.session_id, None)
        conn.closed = True
        conn.session.close()
        conn.transport.close()
        conn.scope.cancel()

    def drop(self, conn: Outbox) -> None:
        """Close ``conn`` from the exchange's side, losing its queued pushes (F4; counted as
        ``lost_on_disconnect``)."""
        lost = sum(1 for _, push in conn.queue if push is not None)
        if lost:
            self.faults.count("lost_on_disconnect", lost)
        conn.queue.clear()
        self._trace("ws-drop", conn.session.session_id, lost)
        self._close(conn)

    def disconnect_all(self) -> int:
        """Drop every WebSocket (F4), oldest session first; returns how many."""
        conns = [self._conns[k] for k in sorted(self._conns)]
        for conn in conns:
            self.drop(conn)
        return len(conns)

    def stall_all(self, duration_s: float) -> None:
        """Every WebSocket goes silent for ``duration_s`` trio seconds (F5)."""
        until = trio.current_time() + duration_s
        for key in sorted(self._conns):
            self._conns[key].stalled_until = until

    def _on_text(self, conn: Outbox, text: str, nursery: trio.Nursery) -> None:
        try:
            self._ws_text(conn, text, nursery)
        except Exception:
            if not self.contain_errors:
                raise
            log.exception("simulator websocket frame failed")
            conn.put(dumps({"channel": "error", "data": "Internal error"}), None)

    def _ws_text(self, conn: Outbox, text: str, nursery: trio.Nursery) -> None:
        session = conn.session
        if '"post"' not in text:
            for reply in session.on_text(text, self.now_ms()):
                conn.put(self.filter_reply(reply), None)
            return
        msg = _loads(text)
        req_id = msg.get("id", 0) if isinstance(msg, dict) else 0
        cap = self.service.config.limits.ws_max_inflight_posts
        if cap is not None and conn.posts_in_flight >= cap:
            # past the in-flight posts (§8): answered at once, not applied
            self._trace("post-refused", conn.session.session_id)
            conn.put(dumps({"channel": "error", "data": ERR_WS_INFLIGHT_POSTS.format(
                id=req_id if isinstance(req_id, int) else 0)}), None)
            return
        request = msg.get("request") if isinstance(msg, dict) else None
        payload = request.get("payload") if isinstance(request, dict) else None
        endpoint = "exchange" if isinstance(request, dict) and request.get(
            "type") == "action" else "info"
        on = _request_type(endpoint, payload)
        decision = self.faults.request_for(endpoint, on)
        if endpoint == "exchange" and isinstance(payload, dict) and self.observer is not None:
            self.observer.on_envelope(payload, decision.applies)
        replies: list[str] = []
        captured: Captured = []
        extra = 0
        if decision.applies:
            replies, captured = self._captured(lambda: session.on_text(text, self.now_ms()))
            captured, extra = self.shape_reply(captured)
        self._trace("post", endpoint, on, decision.fault.value)
        conn.posts_in_flight += 1
        nursery.start_soon(self._ws_post_reply, conn, req_id, decision, replies, captured, extra)

    async def _ws_post_reply(self, conn: Outbox, req_id: Any, decision: RequestDecision,
                             replies: list[str], captured: Captured, extra_ms: int) -> None:
        async def answer(responds: bool) -> None:
            if not responds:
                return
            if decision.fault is not RequestFault.NONE:
                rid = req_id if isinstance(req_id, int) else 0
                conn.put(post_error(rid, ERROR_TEXT[decision.status]), None)
                return
            for reply in replies:
                conn.put(reply, None)

        try:
            await self._answer(decision, captured, extra_ms, answer)
        finally:
            conn.posts_in_flight -= 1

    async def _writer(self, conn: Outbox) -> None:
        send_many = getattr(conn.transport, "send_many", None)
        idle_ms = self.service.config.limits.ws_idle_close_ms
        idle_s = math.inf if idle_ms is None else idle_ms / 1000
        while True:
            while not conn.queue:
                conn.wake = trio.Event()
                with trio.move_on_after(idle_s) as idle:
                    await conn.wake.wait()
                if idle.cancelled_caught:
                    # The exchange closes a connection it has sent nothing to for 60 s (§6.1).
                    self._trace("ws-idle-close", conn.session.session_id)
                    conn.scope.cancel()
                    return
            now = trio.current_time()
            if conn.stalled_until > now:
                await trio.sleep(conn.stalled_until - now)
                continue
            if send_many is not None:  # a socket: every queued frame in one write
                batch: list[str] = []
                while conn.queue and len(batch) < WRITE_BATCH:
                    text, copies = self._take(conn)
                    for _ in range(copies):
                        if self.on_frame is not None:
                            self.on_frame(conn.session.session_id, text)
                        batch.append(text)
                if batch:
                    try:
                        await send_many(batch)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        return
                continue
            text, copies = self._take(conn)
            for _ in range(copies):
                if self.on_frame is not None:
                    self.on_frame(conn.session.session_id, text)
                try:
                    await conn.transport.send(text)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

    def _take(self, conn: Outbox) -> tuple[str, int]:
        """Pop the next frame and apply its push fault: ``(text, copies)``, 0 copies when
        dropped (F1 drop, duplicate, reorder)."""
        text, push = conn.queue.popleft()
        self._progress.set()
        self._progress = trio.Event()
        copies = 1
        if push is not None:
            fate = self.faults.push_for(push.channel)
            if fate is not PushFate.DELIVER:
                self._trace("push-fault", fate.value, push.channel)
                self.stats.push_faults[f"{fate.value}:{push.channel}"] += 1
            if fate is PushFate.DROP:
                return text, 0
            if fate is PushFate.DUPLICATE:
                copies = 2
            elif fate is PushFate.REORDER and conn.queue:
                conn.queue.insert(1, (text, push))
                text, push = conn.queue.popleft()
            self.stats.pushes += 1
        self._trace("ws", conn.session.session_id, copies, text)
        return text, copies

    async def _conn_faults(self, conn: Outbox) -> None:
        while not conn.closed:
            await trio.sleep(FAULT_TICK_S)
            event = self.faults.connection_for(FAULT_TICK_S * 1000)
            if event is ConnectionEvent.DISCONNECT:
                self.drop(conn)
                return
            if event is ConnectionEvent.STALL:
                conn.stalled_until = trio.current_time() + self.faults.stall_ms() / 1000


def _loads(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _request_type(endpoint: str, req: Any) -> str:
    """The ``type`` of an ``/info`` body or of an ``/exchange`` envelope's action ('' if none)."""
    if not isinstance(req, dict):
        return ""
    if endpoint == "info":
        t = req.get("type")
        return t if isinstance(t, str) else ""
    action = req.get("action")
    t = action.get("type") if isinstance(action, dict) else None
    return t if isinstance(t, str) else ""


def encode_reply(status: int, body: Any) -> HttpReply:
    """``(status, content type, bytes)`` as the exchange sends them: compact JSON for a
    JSON-able 200 body (a JSON string too: ``userAbstraction`` answers ``"default"``);
    ``text/plain; charset=utf-8`` for any 4xx/5xx (§1.1)."""
    if status >= 400:
        return status, "text/plain; charset=utf-8", str(body).encode()
    return status, "application/json", dumps(body).encode()
