"""The simulated exchange inside the simulation's trio run: engine, market, protocol and faults.

:class:`SimExchange` wraps the simulator's sans-IO :class:`~hlmaker.sim.service.SimService`
(engine + synthetic market) and applies fault decisions around it the way the real server
(:mod:`hlmaker.sim.server`) does — latency with ``trio.sleep``, a response lost after the action
landed, 429/5xx with or without effect, pushes flushed before the response, WebSocket pushes
duplicated / reordered / dropped, disconnects that lose queued pushes, silent stalls — but over
in-memory channels, with the decisions drawn by :class:`~hlmaker.chaos.plan.SimFaults`.
On top of the server's repertoire it applies the catalogue's action interventions (F8 address
rate limit, F11, F12, F13, F14, F15) and the timeline events (F4, F5, F10, F14, F16).

Transports (:mod:`hlmaker.chaos.transport`) call :meth:`SimExchange.http` and
:meth:`SimExchange.connect`; every frame is JSON text produced by the service and parsed by the
bot's real codec. An :class:`ExchangeObserver` sees every envelope (nonces, S7) and every action
about to be applied (wrongful cancels, S5). Every request and push is recorded in the trace.

Time: the exchange's clock is the true :class:`~hlmaker.clock.WallClock`; the bot may be given a
skewed one (F14).
"""

from __future__ import annotations

import json
import math
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import httpx
import trio

from hlmaker.chaos.determinism import TraceRecorder
from hlmaker.chaos.interventions import (
    PREVALIDATION_TEXT,
    RATE_LIMIT_TEXT,
    exchange_cancel,
    fill_through,
    liquidation_fill,
    race_fill,
    split_late_cancels,
)
from hlmaker.chaos.plan import SimFaults
from hlmaker.clock import Clock
from hlmaker.sim.effects import Effects
from hlmaker.sim.engine import Engine, EngineConfig
from hlmaker.sim.faults import ERROR_TEXT, ConnectionEvent, PushFate, RequestDecision, RequestFault
from hlmaker.sim.market import MarketConfig, SyntheticMarket
from hlmaker.sim.pushes import PushRouter
from hlmaker.sim.rules import DEFAULT_UNIVERSE
from hlmaker.sim.service import ServiceConfig, SimService
from hlmaker.sim.ws import Push, WsSession, dumps, post_error

FAULT_TICK_S = 0.25
TO_CLIENT_BUFFER = 10_000
TO_SERVER_BUFFER = 1_000


class ExchangeObserver(Protocol):
    """What the invariant checker hooks into (all synchronous, all cheap)."""

    def on_envelope(self, envelope: dict[str, Any], landed: bool) -> None:
        """An ``/exchange`` envelope arrived (``landed``: it will be applied)."""

    def before_action(self, action: dict[str, Any], now_ms: int) -> None:
        """``action`` is about to be applied by the engine."""


class SimWsConnection:
    """The client end of an in-memory WebSocket (a ``hlmaker.hyperliquid.ws.WsConnection``).

    Closed-connection errors are trio's (``EndOfChannel`` on read after the server closed,
    ``BrokenResourceError`` on send), which the WebSocket client treats like a closed socket.
    """

    def __init__(self, send: trio.MemorySendChannel[str],
                 receive: trio.MemoryReceiveChannel[str]) -> None:
        self._send = send
        self._receive = receive

    async def send_message(self, message: str | bytes) -> None:
        await self._send.send(message if isinstance(message, str) else message.decode())

    async def get_message(self) -> str:
        return await self._receive.receive()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()

    def close(self) -> None:
        self._send.close()
        self._receive.close()


@dataclass
class _Conn:
    """Server-side state of one WebSocket connection."""

    session: WsSession
    to_client: trio.MemorySendChannel[str]
    from_client: trio.MemoryReceiveChannel[str]
    queue: deque[tuple[str, Push | None]] = field(default_factory=deque)
    wake: trio.Event = field(default_factory=trio.Event)
    stalled_until: float = 0.0
    closed: bool = False
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def put(self, text: str, push: Push | None) -> None:
        if not self.closed:
            self.queue.append((text, push))
            self.wake.set()


@dataclass
class _Extra:
    """Side instructions an intervention leaves for the transport that carries the reply."""

    latency_ms: int = 0
    late_cancel_oids: tuple[int, ...] = ()
    late_cancel_delay_s: float = 0.0


@dataclass
class ExchangeStats:
    """What the exchange saw (for the report)."""

    requests: int = 0
    actions: int = 0
    order_actions: int = 0
    pushes: int = 0
    connects: int = 0
    refused_connects: int = 0
    snapshots_during_slow_ack: int = 0
    partitions: int = 0
    cancels_during_rate_limit: int = 0
    push_faults: Counter[str] = field(default_factory=Counter)


class SimExchange:
    """The exchange of one simulation run. Create inside ``trio.run``; start :meth:`serve`."""

    def __init__(
        self,
        *,
        clock: Clock,
        faults: SimFaults,
        market_rng: Any,
        recorder: TraceRecorder | None = None,
        market: MarketConfig | None = None,
        engine_config: EngineConfig | None = None,
        service_config: ServiceConfig | None = None,
        step_ms: int = 100,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.recorder = recorder or TraceRecorder()
        self.engine = Engine(DEFAULT_UNIVERSE, engine_config)
        self.market = SyntheticMarket(self.engine, market_rng, market)
        self.service = SimService(self.engine, self.market, service_config)
        self._pushes: PushRouter[_Conn] = PushRouter()
        self._conns = self._pushes.conns
        self.service.on_push = self._pushes.on_push
        self.service.handle_exchange = self._handle_exchange  # type: ignore[method-assign]
        self.service.handle_info = self._handle_info  # type: ignore[method-assign]
        self.step_ms = step_ms
        self.observer: ExchangeObserver | None = None
        self.after_action: Callable[[], None] | None = None
        """Called after every action the engine applied (the checker's exchange-side checks)."""
        self.bot_user = ""
        self.stats = ExchangeStats()
        self.partition_until = -math.inf
        self.rate_limited_until = -math.inf
        self.history_gaps: list[tuple[int, int]] = []
        """F16: ``(start_ms, cut_ms)`` — fills of ours in ``[start, cut)`` fell out of the
        exchange's history (they happened while cut off, longer ago than the history reaches
        when the connection came back): never served again by ``userFills`` /
        ``userFillsByTime`` / the subscription snapshot."""
        self.slow_acks_in_flight = 0
        self._extra = _Extra()
        self._nursery: trio.Nursery | None = None
        self._progress = trio.Event()
        self._nonces_seen: set[int] = set()

    # ---- lifecycle ------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the market/timer clock and host connection tasks until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self.step()
            nursery.start_soon(self._clock_task)
            task_status.started()
            await trio.sleep_forever()

    async def _clock_task(self) -> None:
        while True:
            await trio.sleep(self.step_ms / 1000)
            self.step()

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def step(self) -> None:
        """Advance the market and the engine's timers to now."""
        self.service.step(self.now_ms())

    @property
    def partitioned(self) -> bool:
        return trio.current_time() < self.partition_until

    @property
    def connections(self) -> int:
        return len(self._conns)

    # ---- pushes -----------------------------------------------------------------------------

    def _captured(self, fn: Callable[[], Any]) -> tuple[Any, list[tuple[_Conn, Push]]]:
        self._extra = _Extra()
        return self._pushes.captured(fn)

    _release = staticmethod(PushRouter.release)

    async def _flush(self, captured: list[tuple[_Conn, Push]], timeout_s: float = 1.0) -> None:
        """Release ``captured`` and wait (bounded) until the writers have taken them (F3)."""
        self._release(captured)
        with trio.move_on_after(timeout_s):
            while any(push in [p for _, p in c.queue] for c, push in captured if not c.closed):
                await self._progress.wait()

    def _split_late_cancels(self, captured: list[tuple[_Conn, Push]]
                            ) -> list[tuple[_Conn, Push]]:
        """F12: hold back the ``canceled`` rows of replaced oids; deliver them later."""
        keep, late = split_late_cancels(captured, set(self._extra.late_cancel_oids))
        if late and self._nursery is not None:
            self._nursery.start_soon(self._release_later, self._extra.late_cancel_delay_s, late)
        return keep

    async def _release_later(self, delay_s: float, items: list[tuple[_Conn, Push]]) -> None:
        await trio.sleep(delay_s)
        self._release(items)

    # ---- protocol wrappers (both REST and WS post go through these) ------------------------

    def _handle_info(self, body: Any, now_ms: int) -> tuple[int, Any]:
        status, reply = SimService.handle_info(self.service, body, now_ms)
        if self.history_gaps and status == 200 and isinstance(body, dict) and body.get(
                "type") in ("userFills", "userFillsByTime") and isinstance(reply, list):
            reply = [f for f in reply if not self.forgotten(f.get("time", 0))]
        if self.slow_acks_in_flight and isinstance(body, dict) and body.get("type") in (
                "openOrders", "frontendOpenOrders"):
            self.stats.snapshots_during_slow_ack += 1
        return status, reply

    def _handle_exchange(self, body: Any, now_ms: int) -> tuple[int, Any]:
        env = body if isinstance(body, dict) else _loads(body)
        action = env.get("action") if isinstance(env, dict) else None
        if not isinstance(action, dict):
            return SimService.handle_exchange(self.service, body, now_ms)
        atype = str(action.get("type"))
        self.stats.actions += 1
        if trio.current_time() < self.rate_limited_until:
            if atype in ("order", "batchModify"):
                self.faults.count("address_rate_limit")
                return 200, {"status": "err", "response": RATE_LIMIT_TEXT}
            if atype in ("cancel", "cancelByCloid"):
                self.stats.cancels_during_rate_limit += 1
        nonce = env.get("nonce")
        replay = nonce in self._nonces_seen
        if isinstance(nonce, int) and not replay:
            self._nonces_seen.add(nonce)
        # A re-sent envelope meets the nonce check first: interventions (which model refusals
        # and races of a fresh action) apply to fresh nonces only.
        kind = None if replay else self.faults.action(atype)
        if kind == "nonce_reject":
            return 200, {"status": "err",
                         "response": f"Invalid nonce: duplicate nonce {env.get('nonce')}"}
        if kind == "address_rate_limit":
            return 200, {"status": "err", "response": RATE_LIMIT_TEXT}
        if kind == "batch_prevalidation":
            return 200, {"status": "ok", "response": {"type": "order", "data": {
                "statuses": [{"error": PREVALIDATION_TEXT}]}}}
        if self.observer is not None:
            self.observer.before_action(action, now_ms)
        if kind == "cancel_fill_race":
            self._race_fill(action, now_ms)
        elif kind == "slow_ack":
            self._extra.latency_ms = self.faults.rng.randint(1_000, 3_500)
        elif kind == "modify_late_cancel":
            mods = action.get("modifies") or []
            self._extra.late_cancel_oids = tuple(
                m.get("oid") for m in mods if isinstance(m, dict) and isinstance(m.get("oid"), int))
            self._extra.late_cancel_delay_s = self.faults.rng.uniform(0.2, 2.0)
        if atype == "order":
            self.stats.order_actions += 1
        result = SimService.handle_exchange(self.service, env, now_ms)
        if self.after_action is not None:
            self.after_action()
        return result

    def _race_fill(self, action: dict[str, Any], now_ms: int) -> None:
        race_fill(self.engine, self.service, self.bot_user, action, now_ms)

    def fill_through(self, coin: str, side: str, px: Decimal, oid: int, now_ms: int) -> Effects:
        """See :func:`.interventions.fill_through`."""
        return fill_through(self.engine, self.service, coin, side, px, oid, now_ms)

    # ---- HTTP ---------------------------------------------------------------------------------

    async def http(self, path: str, body: bytes, read_timeout_s: float) -> tuple[int, str, bytes]:
        """Serve one ``POST``; returns ``(status, content type, body)``.

        Raises:
            httpx.ConnectError: during a partition.
            httpx.ReadTimeout: the response is lost (after ``read_timeout_s``).
        """
        await trio.lowlevel.checkpoint()
        if path not in ("/info", "/exchange"):
            return _encode(404, "Not Found")
        if self.partitioned:
            raise httpx.ConnectError("simulated network partition")
        self.stats.requests += 1
        endpoint = path[1:]
        req = _loads(body)
        on = _request_type(endpoint, req)
        decision = self.faults.request_for(endpoint, on)
        if endpoint == "exchange" and isinstance(req, dict) and self.observer is not None:
            self.observer.on_envelope(req, decision.applies)
        handler = self._handle_exchange if endpoint == "exchange" else self._handle_info
        status, reply, captured = 0, None, []
        if decision.applies:
            payload = req if isinstance(req, dict) else body
            (status, reply), captured = self._captured(lambda: _checked(handler, payload,
                                                                        self.now_ms()))
            if self._extra.late_cancel_oids:
                captured = self._split_late_cancels(captured)
        extra = self._extra.latency_ms if decision.applies else 0
        self.recorder.event("http", endpoint, on, decision.fault.value, status)
        slow = extra > 0
        if slow:
            self.slow_acks_in_flight += 1
        try:
            if decision.push_first:
                await self._flush(captured)
                captured = []
            latency = decision.latency_ms + extra
            if latency:
                await trio.sleep(latency / 1000)
            if not decision.responds:
                self._release(captured)
                captured = []
                await trio.sleep(read_timeout_s)
                raise httpx.ReadTimeout("simulated lost response")
            if decision.fault is not RequestFault.NONE:
                status, reply = decision.status, ERROR_TEXT[decision.status]
            return _encode(status, reply)
        finally:
            if slow:
                self.slow_acks_in_flight -= 1
            self._release(captured)

    # ---- WebSocket ------------------------------------------------------------------------

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[SimWsConnection]:
        """Open one in-memory WebSocket (a ``Connector`` call).

        Raises:
            OSError: during a partition (the client reports it as a failed connect).
        """
        await trio.lowlevel.checkpoint()
        if self.partitioned or self._nursery is None:
            self.stats.refused_connects += 1
            raise OSError("simulated network partition: connection refused")
        c2s_send, c2s_recv = trio.open_memory_channel[str](TO_SERVER_BUFFER)
        s2c_send, s2c_recv = trio.open_memory_channel[str](TO_CLIENT_BUFFER)
        conn = _Conn(self.service.open_session(), s2c_send, c2s_recv)
        self._conns[conn.session.session_id] = conn
        self.stats.connects += 1
        self.recorder.event("ws-open", conn.session.session_id)
        self._nursery.start_soon(self._serve_conn, conn)
        client = SimWsConnection(c2s_send, s2c_recv)
        try:
            yield client
        finally:
            client.close()

    async def _serve_conn(self, conn: _Conn) -> None:
        try:
            with conn.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, conn)
                    if self.faults.enabled:
                        nursery.start_soon(self._conn_faults, conn)
                    try:
                        async for text in conn.from_client:
                            self._ws_text(conn, text, nursery)
                    except trio.ClosedResourceError:
                        pass  # dropped by the server (fault or partition)
                    nursery.cancel_scope.cancel()
        finally:
            self._close(conn)

    def _close(self, conn: _Conn) -> None:
        self._conns.pop(conn.session.session_id, None)
        conn.closed = True
        conn.session.close()
        conn.to_client.close()
        conn.from_client.close()
        conn.scope.cancel()

    def drop(self, conn: _Conn) -> None:
        """Close ``conn`` from the server side, losing its queued pushes (F4)."""
        lost = sum(1 for _, push in conn.queue if push is not None)
        if lost:
            self.faults.count("lost_on_disconnect", lost)
        conn.queue.clear()
        self.recorder.event("ws-drop", conn.session.session_id, lost)
        self._close(conn)

    def disconnect_all(self) -> int:
        """Drop every WebSocket; returns how many."""
        conns = [self._conns[k] for k in sorted(self._conns)]
        for conn in conns:
            self.drop(conn)
        return len(conns)

    def stall_all(self, duration_s: float) -> None:
        """Every WebSocket goes silent for ``duration_s`` (F5)."""
        until = trio.current_time() + duration_s
        for key in sorted(self._conns):
            self._conns[key].stalled_until = until

    def _ws_text(self, conn: _Conn, text: str, nursery: trio.Nursery) -> None:
        session = conn.session
        if '"post"' not in text:
            for reply in session.on_text(text, self.now_ms()):
                conn.put(self._filter_snapshot(reply), None)
            return
        msg = _loads(text)
        request = msg.get("request") if isinstance(msg, dict) else None
        payload = request.get("payload") if isinstance(request, dict) else None
        endpoint = "exchange" if isinstance(request, dict) and request.get(
            "type") == "action" else "info"
        on = _request_type(endpoint, payload)
        decision = self.faults.request_for(endpoint, on)
        if endpoint == "exchange" and isinstance(payload, dict) and self.observer is not None:
            self.observer.on_envelope(payload, decision.applies)
        replies: list[str] = []
        captured: list[tuple[_Conn, Push]] = []
        if decision.applies:
            replies, captured = self._captured(lambda: session.on_text(text, self.now_ms()))
            if self._extra.late_cancel_oids:
                captured = self._split_late_cancels(captured)
        extra = self._extra.latency_ms if decision.applies else 0
        self.recorder.event("post", endpoint, on, decision.fault.value)
        req_id = msg.get("id", 0) if isinstance(msg, dict) else 0
        nursery.start_soon(self._ws_post_reply, conn, req_id, decision, replies, captured, extra)

    async def _ws_post_reply(self, conn: _Conn, req_id: Any, decision: RequestDecision,
                             replies: list[str], captured: list[tuple[_Conn, Push]],
                             extra_ms: int) -> None:
        if extra_ms:
            self.slow_acks_in_flight += 1
        try:
            if decision.push_first:
                await self._flush(captured)
                captured = []
            latency = decision.latency_ms + extra_ms
            if latency:
                await trio.sleep(latency / 1000)
            if decision.responds:
                if decision.fault is not RequestFault.NONE:
                    replies = [post_error(req_id if isinstance(req_id, int) else 0,
                                          ERROR_TEXT[decision.status])]
                for reply in replies:
                    conn.put(reply, None)
        finally:
            if extra_ms:
                self.slow_acks_in_flight -= 1
            self._release(captured)

    def _filter_snapshot(self, reply: str) -> str:
        """F16: the ``userFills`` subscription snapshot lacks the forgotten fills."""
        if not self.history_gaps or not reply.startswith('{"channel":"userFills"'):
            return reply
        msg = json.loads(reply)
        msg["data"]["fills"] = [f for f in msg["data"]["fills"]
                                if not self.forgotten(f.get("time", 0))]
        return dumps(msg)

    def forgotten(self, fill_time_ms: int) -> bool:
        """Whether a fill at ``fill_time_ms`` fell out of the history (F16)."""
        return any(start <= fill_time_ms < cut for start, cut in self.history_gaps)

    async def _writer(self, conn: _Conn) -> None:
        while True:
            while not conn.queue:
                conn.wake = trio.Event()
                await conn.wake.wait()
            now = trio.current_time()
            if conn.stalled_until > now:
                await trio.sleep(conn.stalled_until - now)
                continue
            text, push = conn.queue.popleft()
            self._progress.set()
            self._progress = trio.Event()
            copies = 1
            if push is not None:
                fate = self.faults.push_for(push.channel)
                if fate is not PushFate.DELIVER:
                    self.recorder.event("push-fault", fate.value, push.channel)
                    self.stats.push_faults[f"{fate.value}:{push.channel}"] += 1
                if fate is PushFate.DROP:
                    continue
                if fate is PushFate.DUPLICATE:
                    copies = 2
                elif fate is PushFate.REORDER and conn.queue:
                    conn.queue.insert(1, (text, push))
                    text, push = conn.queue.popleft()
                self.stats.pushes += 1
            self.recorder.event("ws", conn.session.session_id, copies, text)
            for _ in range(copies):
                try:
                    await conn.to_client.send(text)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

    async def _conn_faults(self, conn: _Conn) -> None:
        while not conn.closed:
            await trio.sleep(FAULT_TICK_S)
            event = self.faults.connection_for(FAULT_TICK_S * 1000)
            if event is ConnectionEvent.DISCONNECT:
                self.drop(conn)
                return
            if event is ConnectionEvent.STALL:
                conn.stalled_until = trio.current_time() + self.faults.stall_ms() / 1000

    # ---- timeline faults --------------------------------------------------------------------

    def partition(self, duration_s: float, horizon_s: float = 0.0) -> None:
        """Cut the network for ``duration_s``: sockets dropped, requests and connects refused.

        ``horizon_s`` > 0 (F16): when it comes back, the exchange's fill history reaches only
        ``horizon_s`` back: fills of the first ``duration_s - horizon_s`` seconds of the cut
        are gone for good (they were never pushed either: no socket was open)."""
        if horizon_s > 0:
            now = self.now_ms()
            self.history_gaps.append((now, now + int((duration_s - horizon_s) * 1000)))
        self.stats.partitions += 1
        self.partition_until = max(self.partition_until, trio.current_time() + duration_s)
        self.disconnect_all()

    def exchange_cancel(self, status: str, non_user_cancel: bool) -> int:
        """See :func:`.interventions.exchange_cancel` (F10)."""
        return exchange_cancel(self.engine, self.service, self.bot_user, status,
                               non_user_cancel, self.now_ms())

    def liquidation_fill(self, coin: str) -> bool:
        """See :func:`.interventions.liquidation_fill` (F10)."""
        return liquidation_fill(self.engine, self.service, self.bot_user, coin, self.now_ms())


def _loads(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _checked(handler: Callable[[Any, int], tuple[int, Any]], payload: Any,
             now_ms: int) -> tuple[int, Any]:
    return handler(payload, now_ms)


def _request_type(endpoint: str, req: Any) -> str:
    if not isinstance(req, dict):
        return ""
    if endpoint == "info":
        t = req.get("type")
        return t if isinstance(t, str) else ""
    action = req.get("action")
    t = action.get("type") if isinstance(action, dict) else None
    return t if isinstance(t, str) else ""


def _encode(status: int, body: Any) -> tuple[int, str, bytes]:
    if status >= 400 or isinstance(body, str):
        return status, "text/plain; charset=utf-8", str(body).encode()
    return status, "application/json", dumps(body).encode()
