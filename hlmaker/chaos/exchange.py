"""The simulated exchange inside the campaign's trio run: the simulator's one fault-applying
exchange plus the reliability catalogue's interventions, reached over in-memory transports.

:class:`SimExchange` is a :class:`~hlmaker.sim.exchange.FaultedExchange` (engine, synthetic
market, protocol service, fault application and per-connection outboxes — the same code the
socket server runs) whose decisions are drawn by :class:`~hlmaker.chaos.plan.SimFaults`. On top
it applies the catalogue's action interventions (F8 address rate limit, F11, F12, F13, F14,
F15, through the exchange's ``shape_reply`` / ``filter_reply`` hooks and a wrapper around the
service's handlers) and the timeline events (F4, F5, F10, F14, F16: partitions, fill-history
horizon, exchange cancels, liquidation fills).

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
import random
from collections import Counter
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
    foreign_activity,
    liquidation_fill,
    race_fill,
    split_late_cancels,
)
from hlmaker.chaos.plan import SimFaults
from hlmaker.chaos.transport import SimWsConnection, memory_websocket
from hlmaker.clock import Clock
from hlmaker.sim.effects import Effects
from hlmaker.sim.engine import Engine, EngineConfig
from hlmaker.sim.exchange import Captured, FaultedExchange, HttpReply, encode_reply
from hlmaker.sim.market import MarketConfig, SyntheticMarket
from hlmaker.sim.rules import DEFAULT_UNIVERSE
from hlmaker.sim.service import Handler, ServiceConfig
from hlmaker.sim.ws import dumps


class ExchangeObserver(Protocol):
    """What the invariant checker hooks into (all synchronous, all cheap)."""

    def on_envelope(self, envelope: dict[str, Any], landed: bool) -> None:
        """An ``/exchange`` envelope arrived (``landed``: it will be applied)."""

    def before_action(self, action: dict[str, Any], now_ms: int) -> None:
        """``action`` is about to be applied by the engine."""


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
    budget_exhaustions: int = 0
    push_faults: Counter[str] = field(default_factory=Counter)



class SimExchange(FaultedExchange):
    """The exchange of one simulation run. Create inside ``trio.run``; start :meth:`serve`.

    Args:
        clock: the exchange's true time.
        faults: the run's fault decisions (profile draws, scripted rules, interventions).
        market_rng: the synthetic market's random stream.
        recorder: the run's trace (every request, connection, frame and push fault).
        market / engine_config / service_config: simulator settings.
        step_ms: market/timer clock period (trio ms).

    Attributes read by the harness and the checker: ``engine``, ``service``, ``stats``,
    ``observer`` (an :class:`ExchangeObserver`), ``after_action``, ``bot_user``,
    ``rate_limited_until``, ``history_gaps``, ``slow_acks_in_flight``, :meth:`forgotten`.
    """

    observer: ExchangeObserver | None  # type: ignore[assignment]

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
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.recorder = recorder or TraceRecorder()
        self.stats = ExchangeStats()
        engine = Engine(DEFAULT_UNIVERSE, engine_config)
        super().__init__(
            clock=clock, engine=engine, market=SyntheticMarket(engine, market_rng, market),
            faults=faults, service_config=service_config, step_ms=step_ms, stats=self.stats,
            trace=self.recorder.event, on_step=on_step, intercept=self)
        self.faults: SimFaults = faults
        self.after_action: Callable[[], None] | None = None
        """Called after every action the engine applied (the checker's exchange-side checks)."""
        self.bot_user = ""
        self.partition_until = -math.inf
        self.rate_limited_until = -math.inf
        self._budget_restore: tuple[float, int] | None = None
        """F19: (trio time, count) — when the bot's exhausted budget is given back."""
        self.history_gaps: list[tuple[int, int]] = []
        """F16: ``(start_ms, cut_ms)`` — fills of ours in ``[start, cut)`` fell out of the
        exchange's history (they happened while cut off, longer ago than the history reaches
        when the connection came back): never served again by ``userFills`` /
        ``userFillsByTime`` / the subscription snapshot."""
        self._extra = _Extra()
        self._nonces_seen: set[int] = set()

    @property
    def partitioned(self) -> bool:
        """Whether the network is cut now (requests and connects refused)."""
        return trio.current_time() < self.partition_until

    # ---- the exchange's hooks ------------------------------------------------------------------

    def shape_reply(self, captured: Captured) -> tuple[Captured, int]:
        """F12: hold back the ``canceled`` rows of replaced oids; F13: the slow ack's extra
        latency (both left by the action's intervention in :meth:`exchange`)."""
        extra, self._extra = self._extra, _Extra()
        if extra.late_cancel_oids:
            keep, late = split_late_cancels(captured, set(extra.late_cancel_oids))
            if late and self._nursery is not None:
                self._nursery.start_soon(self._release_later, extra.late_cancel_delay_s, late)
            captured = keep
        return captured, extra.latency_ms

    def filter_reply(self, text: str) -> str:
        """F16: the ``userFills`` subscription snapshot lacks the forgotten fills."""
        if not self.history_gaps or not text.startswith('{"channel":"userFills"'):
            return text
        msg = json.loads(text)
        msg["data"]["fills"] = [f for f in msg["data"]["fills"]
                                if not self.forgotten(f.get("time", 0))]
        return dumps(msg)

    async def _release_later(self, delay_s: float, items: Captured) -> None:
        await trio.sleep(delay_s)
        self._release(items)

    # ---- the service's RequestIntercept (both REST and WS post go through these) -------------

    def info(self, body: Any, now_ms: int, serve: Handler) -> tuple[int, Any]:
        """F16: fills the exchange forgot are not served; counts snapshots read while an ack
        is held back (F13)."""
        self._budget_due()
        status, reply = serve(body, now_ms)
        if self.history_gaps and status == 200 and isinstance(body, dict) and body.get(
                "type") in ("userFills", "userFillsByTime") and isinstance(reply, list):
            reply = [f for f in reply if not self.forgotten(f.get("time", 0))]
        if self.slow_acks_in_flight and isinstance(body, dict) and body.get("type") in (
                "openOrders", "frontendOpenOrders"):
            self.stats.snapshots_during_slow_ack += 1
        return status, reply

    def exchange(self, body: Any, now_ms: int, serve: Handler) -> tuple[int, Any]:
        """The action interventions: the F8 address rate limit, F10 nonce and prevalidation
        refusals, the F11 cancel/fill race, F12 late cancels of a modify, F13 slow acks."""
        env = body if isinstance(body, dict) else _loads(body)
        action = env.get("action") if isinstance(env, dict) else None
        if not isinstance(action, dict):
            return serve(body, now_ms)
        atype = str(action.get("type"))
        self.stats.actions += 1
        self._budget_due()
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
        result = serve(env, now_ms)
        if self.after_action is not None:
            self.after_action()
        return result

    def _race_fill(self, action: dict[str, Any], now_ms: int) -> None:
        race_fill(self.engine, self.service, self.bot_user, action, now_ms)

    def fill_through(self, coin: str, side: str, px: Decimal, oid: int, now_ms: int) -> Effects:
        """See :func:`.interventions.fill_through`."""
        return fill_through(self.engine, self.service, coin, side, px, oid, now_ms)

    # ---- HTTP ---------------------------------------------------------------------------------
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

    # ---- transports -----------------------------------------------------------------------

    async def http(self, path: str, body: bytes, read_timeout_s: float) -> HttpReply:
        """Serve one ``POST``; returns ``(status, content type, body)`` (the server's bytes).

        Raises:
            httpx.ConnectError: during a partition.
            httpx.ReadTimeout: the response is lost (after ``read_timeout_s``).
        """
        await trio.lowlevel.checkpoint()
        if path not in ("/info", "/exchange"):
            return encode_reply(404, "Not Found")
        if self.partitioned:
            raise httpx.ConnectError("simulated network partition")
        self.stats.requests += 1
        replies: list[HttpReply | None] = []

        async def keep(reply: HttpReply | None) -> None:
            replies.append(reply)

        await super().http(path[1:], body, keep, lost_hold_s=read_timeout_s)
        if replies[0] is None:
            raise httpx.ReadTimeout("simulated lost response")
        return replies[0]

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
        server_end, client = memory_websocket()
        self.start_connection(server_end)
        try:
            yield client
        finally:
            client.close()

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

    def exhaust_budget(self, duration_s: float) -> None:
        """F19: the bot's address request budget is spent for ``duration_s`` (the simulator's
        own limit then refuses placements with the exchange's text; cancels have their cap);
        afterwards the count is given back."""
        acct = self.engine.account(self.bot_user)
        volume = acct.cum_volume if acct else Decimal(0)
        before = self.service.budget.exhaust(self.bot_user, volume, self.now_ms())
        if self._budget_restore is not None:  # overlapping windows: keep the first count
            before = self._budget_restore[1]
        self._budget_restore = (trio.current_time() + duration_s, before)
        self.stats.budget_exhaustions += 1

    def _budget_due(self) -> None:
        if self._budget_restore is not None and trio.current_time() >= self._budget_restore[0]:
            self.service.budget.restore(self.bot_user, self._budget_restore[1])
            self._budget_restore = None

    def exchange_cancel(self, status: str, non_user_cancel: bool) -> int:
        """See :func:`.interventions.exchange_cancel` (F10)."""
        return exchange_cancel(self.engine, self.service, self.bot_user, status,
                               non_user_cancel, self.now_ms())

    def liquidation_fill(self, coin: str) -> bool:
        """See :func:`.interventions.liquidation_fill` (F10)."""
        return liquidation_fill(self.engine, self.service, self.bot_user, coin, self.now_ms())

    def foreign_activity(self, coin: str, rng: random.Random,
                         is_ours: Callable[[str | None], bool]) -> str | None:
        """See :func:`.interventions.foreign_activity` (F18)."""
        return foreign_activity(self.engine, self.service, self.bot_user, coin, rng, is_ours,
                                self.now_ms())




def _loads(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
