"""The sans-IO WebSocket session of the simulator: subscriptions, acks, ping/pong, ``post``
requests and the pushes of every subscribed feed.

One :class:`WsSession` per connection. Feed it text with :meth:`WsSession.on_text` (returns the
direct replies: acks, snapshots, pong, post responses) and read pushes produced by actions and
market steps from :meth:`WsSession.take_pushes`. No sockets, no clock: ``now_ms`` (ms since the
epoch) is passed in. Wire shapes: ``../shared/hyperliquid-protocol.md`` §6.

Subscriptions (``type``): ``allMids``, ``l2Book``/``bbo``/``trades`` (``coin``), ``orderUpdates``,
``userEvents`` (alias ``user`` ⚠), ``userFills``, ``openOrders``, ``clearinghouseState`` (``user``).
Snapshots on subscribe: ``userFills`` (``isSnapshot: true``, newest first like REST ⚠), ``l2Book``,
``bbo``, ``allMids``, ``openOrders``, ``clearinghouseState``; none for ``orderUpdates``,
``userEvents``, ``trades`` (§12.2). Streaming ``userFills`` pushes omit ``isSnapshot`` (§12.3, as
``[NK]`` types it).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hlmaker.sim import limits, views
from hlmaker.sim.engine import Effects, Engine
from hlmaker.sim.funding import Payment
from hlmaker.sim.info import InfoDesk
from hlmaker.sim.tape import INTERVAL_MS

USER_FEEDS = (
    "orderUpdates",
    "userEvents",
    "user",
    "userFills",
    "openOrders",
    "clearinghouseState",
    "userFundings",
    "userNonFundingLedgerUpdates",
    "userTwapSliceFills",
    "userTwapHistory",
)
COIN_FEEDS = ("l2Book", "bbo", "trades", "candle")
N_SIG_FIGS = (None, 2, 3, 4, 5)
MANTISSAS = (None, 1, 2, 5)


def dumps(obj: Any) -> str:
    """Compact JSON text."""
    return json.dumps(obj, separators=(",", ":"))


@dataclass(frozen=True)
class Push:
    """One server → client message queued for a session. ``channel`` lets the transport apply
    per-feed faults; ``text`` is the JSON frame."""

    channel: str
    text: str


@dataclass
class _Sub:
    kind: str
    sub: dict[str, Any]
    user: str | None = None
    coin: str | None = None
    last_version: int = -1
    last_push_ms: int = -(10**15)
    last_payload: Any = None


class PushIntervals(Protocol):
    """The push throttles a session applies (``ServiceConfig`` has them), in ms."""

    @property
    def l2_push_interval_ms(self) -> int:
        """Least time between two ``l2Book`` pushes of one subscription."""
        ...

    @property
    def mids_push_interval_ms(self) -> int:
        """Least time between two ``allMids`` pushes of one subscription."""
        ...


class SessionConfig(PushIntervals, Protocol):
    """The settings a session reads: push throttles and limits (``ServiceConfig`` has them)."""

    @property
    def limits(self) -> limits.Limits:
        """The WS limits."""
        ...


class SessionHost(Protocol):
    """What a :class:`WsSession` needs of the service that opened it.

    :class:`~hlmaker.sim.service.SimService` is the one implementation; the protocol keeps this
    module from importing the service (which imports it): a session answers ``post`` requests
    through ``handle_info`` / ``handle_exchange`` (``(http_status, body)``, §6.5), reads the
    engine for snapshots and pushes, and unregisters itself on close.
    """

    @property
    def engine(self) -> Engine:
        """The matching engine whose state the session's snapshots and pushes show."""
        ...

    @property
    def config(self) -> SessionConfig:
        """The push throttles and the limits."""
        ...

    @property
    def sessions(self) -> Mapping[int, WsSession]:
        """Every open session (the WS limits count across them)."""
        ...

    @property
    def ws_messages(self) -> limits.SlidingWindow:
        """Client messages per minute, across sessions."""
        ...

    @property
    def info_desk(self) -> InfoDesk:
        """The ``/info`` reads (asset contexts, tape, funding, ledger) the feeds share."""
        ...

    def handle_info(self, body: Any, now_ms: int) -> tuple[int, Any]:
        """Answer an ``/info`` body."""
        ...

    def handle_exchange(self, body: Any, now_ms: int) -> tuple[int, Any]:
        """Verify and apply an ``/exchange`` envelope."""
        ...

    def close_session(self, session: WsSession) -> None:
        """Unregister ``session`` (idempotent)."""
        ...


@dataclass
class WsSession:
    """State of one WebSocket connection (created by :meth:`SimService.open_session`)."""

    service: SessionHost
    session_id: int
    subs: dict[str, _Sub] = field(default_factory=dict)
    outbox: deque[Push] = field(default_factory=deque)
    closed: bool = False

    # ---- client → server --------------------------------------------------------------------

    def on_text(self, text: str, now_ms: int) -> list[str]:
        """Handle one client frame; returns the direct replies in order (never raises)."""
        if not self.service.ws_messages.take("loopback", 1, now_ms):
            limit = self.service.config.limits.ws_messages_per_min
            return [self._error(limits.ERR_WS_MESSAGES.format(n=limit))]
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            return [self._error(f"Error parsing JSON into valid websocket request: {text[:200]}")]
        if not isinstance(msg, dict):
            return [self._error(f"Error parsing JSON into valid websocket request: {text[:200]}")]
        method = msg.get("method")
        if method == "ping":
            return [dumps({"channel": "pong"})]
        if method in ("subscribe", "unsubscribe"):
            sub = msg.get("subscription")
            if method == "subscribe":
                return self._subscribe(sub, now_ms)
            return self._unsubscribe(sub)
        if method == "post":
            return [self._post(msg, now_ms)]
        return [self._error(f"Error parsing JSON into valid websocket request: {text[:200]}")]

    def take_pushes(self) -> list[Push]:
        """Remove and return the queued pushes, oldest first."""
        out = list(self.outbox)
        self.outbox.clear()
        return out

    def close(self) -> None:
        """Forget the session (its queued pushes are dropped)."""
        self.closed = True
        self.outbox.clear()
        self.service.close_session(self)

    # ---- subscriptions -----------------------------------------------------------------------

    @staticmethod
    def _error(text: str) -> str:
        return dumps({"channel": "error", "data": text})

    def _normalise(self, sub: Any) -> _Sub | None:
        if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
            return None
        kind = sub["type"]
        engine = self.service.engine
        if kind == "allMids":
            return _Sub(kind, {"type": "allMids"})
        if kind == "allDexsAssetCtxs":
            return _Sub(kind, {"type": "allDexsAssetCtxs"})
        if kind in COIN_FEEDS:
            coin = sub.get("coin")
            if not isinstance(coin, str) or coin not in engine.coin_to_asset:
                return None
            echo: dict[str, Any] = {"type": kind, "coin": coin}
            if kind == "l2Book":
                # The ack echoes the defaults filled in (clients match acks on every key sent).
                n_sig, mantissa = sub.get("nSigFigs"), sub.get("mantissa")
                if n_sig not in N_SIG_FIGS or mantissa not in MANTISSAS:
                    return None
                echo["nSigFigs"], echo["mantissa"] = n_sig, mantissa
            if kind == "candle":
                if sub.get("interval") not in INTERVAL_MS:
                    return None
                echo["interval"] = sub["interval"]
            return _Sub(kind, echo, coin=coin)
        if kind in USER_FEEDS:
            user = sub.get("user")
            if not isinstance(user, str) or not user.startswith("0x") or len(user) != 42:
                return None
            norm: dict[str, Any] = {"type": kind, "user": user.lower()}
            if kind == "userFills":
                norm["aggregateByTime"] = bool(sub.get("aggregateByTime", False))
            if kind in ("openOrders", "clearinghouseState"):
                norm["dex"] = ""
            return _Sub(kind, norm, user=user.lower())
        return None

    def _subscribe(self, raw: Any, now_ms: int) -> list[str]:
        sub = self._normalise(raw)
        if sub is None:
            return [self._error(f"Invalid subscription {dumps(raw)}")]
        key = dumps(sub.sub)
        if key in self.subs:
            return [self._error(f"Already subscribed: {dumps(raw)}")]
        refusal = self._over_limits(sub)
        if refusal is not None:
            return [self._error(refusal)]
        self.subs[key] = sub
        out = [
            dumps(
                {
                    "channel": "subscriptionResponse",
                    "data": {"method": "subscribe", "subscription": sub.sub},
                }
            )
        ]
        snap = self._snapshot(sub, now_ms)
        if snap is not None:
            out.append(snap)
        return out

    def _over_limits(self, sub: _Sub) -> str | None:
        """The refusal text when ``sub`` would pass the per-IP subscription or user limits
        (every session of the service is one loopback IP)."""
        cfg = self.service.config.limits
        sessions = self.service.sessions.values()
        if cfg.ws_max_subscriptions is not None and sum(
            len(s.subs) for s in sessions
        ) >= cfg.ws_max_subscriptions:
            return limits.ERR_WS_SUBSCRIPTIONS.format(n=cfg.ws_max_subscriptions)
        if cfg.ws_max_users is not None and sub.user is not None:
            users = {x.user for s in sessions for x in s.subs.values() if x.user is not None}
            if sub.user not in users and len(users) >= cfg.ws_max_users:
                return limits.ERR_WS_USERS.format(n=cfg.ws_max_users)
        return None

    def _unsubscribe(self, raw: Any) -> list[str]:
        sub = self._normalise(raw)
        key = dumps(sub.sub) if sub is not None else None
        if sub is None or key not in self.subs:
            return [self._error(f"Already unsubscribed: {dumps(raw)}")]
        del self.subs[key]
        return [
            dumps(
                {
                    "channel": "subscriptionResponse",
                    "data": {"method": "unsubscribe", "subscription": sub.sub},
                }
            )
        ]

    def _snapshot(self, sub: _Sub, now_ms: int) -> str | None:
        engine = self.service.engine
        if sub.kind == "userFills":
            assert sub.user is not None
            fills = views.user_fills(engine, sub.user)
            data = {"isSnapshot": True, "user": sub.user, "fills": fills}
            return dumps({"channel": "userFills", "data": data})
        if sub.kind in ("l2Book", "bbo", "allMids", "openOrders", "clearinghouseState",
                        "allDexsAssetCtxs"):
            return self._market_or_state(sub, now_ms, force=True)
        desk = self.service.info_desk
        user = sub.user
        if sub.kind == "userFundings":
            assert user is not None
            rows = [p.event() for p in desk.funding.payments.get(user, ())]
            data = {"isSnapshot": True, "user": user, "fundings": rows}
        elif sub.kind == "userNonFundingLedgerUpdates":
            assert user is not None
            rows = desk.ledger.ledger_updates(user, 0, None)
            data = {"isSnapshot": True, "user": user, "nonFundingLedgerUpdates": rows}
        elif sub.kind == "userTwapSliceFills":
            data = {"isSnapshot": True, "user": user, "twapSliceFills": []}
        elif sub.kind == "userTwapHistory":
            data = {"isSnapshot": True, "user": user, "history": []}
        elif sub.kind == "candle":
            assert sub.coin is not None
            candle = desk.tape.current_candle(sub.coin, sub.sub["interval"])
            if candle is None:
                return None
            return dumps({"channel": "candle", "data": candle})
        else:
            return None
        return dumps({"channel": sub.kind, "data": data})

    # ---- server → client ---------------------------------------------------------------------

    def _push(self, channel: str, data: Any) -> None:
        self.outbox.append(Push(channel, dumps({"channel": channel, "data": data})))

    def deliver(self, fx: Effects, now_ms: int) -> bool:
        """Queue the pushes that ``fx`` produces for this session's subscriptions. Returns
        whether anything was queued."""
        before = len(self.outbox)
        engine = self.service.engine
        for sub in self.subs.values():
            user = sub.user
            if sub.kind == "orderUpdates":
                rows = [ev.wire for ev in fx.order_events if ev.user == user]
                if rows:
                    self._push("orderUpdates", rows)
            elif sub.kind == "userFills":
                rows = [f.wire() for f in fx.fills if f.user == user]
                if rows:
                    self._push("userFills", {"user": user, "fills": rows})
            elif sub.kind in ("userEvents", "user"):
                rows = [f.wire() for f in fx.fills if f.user == user]
                if rows:
                    self._push("user", {"fills": rows})
                cancels = [{"coin": c, "oid": o} for u, c, o in fx.non_user_cancels if u == user]
                if cancels:
                    self._push("user", {"nonUserCancel": cancels})
            elif sub.kind == "openOrders":
                if any(ev.user == user for ev in fx.order_events):
                    assert user is not None
                    orders = views.open_orders(engine, user, frontend=True)
                    self._push("openOrders", {"dex": "", "user": user, "orders": orders})
            elif sub.kind == "clearinghouseState":
                if any(f.user == user for f in fx.fills) or any(
                    ev.user == user for ev in fx.order_events
                ):
                    assert user is not None
                    state = self.service.info_desk.clearinghouse_state(user, now_ms)
                    self._push(
                        "clearinghouseState", {"dex": "", "user": user, "clearinghouseState": state}
                    )
            elif sub.kind == "trades":
                rows = [t for t in fx.trades if t["coin"] == sub.coin]
                if rows:
                    self._push("trades", rows)
            elif sub.kind == "candle":
                assert sub.coin is not None
                if any(t["coin"] == sub.coin for t in fx.trades):
                    candle = self.service.info_desk.tape.current_candle(
                        sub.coin, sub.sub["interval"]
                    )
                    if candle is not None:
                        self._push("candle", candle)
        return len(self.outbox) > before

    def deliver_funding(self, payments: list[Payment]) -> bool:
        """Queue the ``userFundings`` and ``userEvents`` (``funding``) pushes of hourly funding
        payments. Returns whether anything was queued."""
        before = len(self.outbox)
        for sub in self.subs.values():
            mine = [p for p in payments if p.user == sub.user]
            if not mine:
                continue
            if sub.kind == "userFundings":
                rows = [p.event() for p in mine]
                self._push("userFundings", {"user": sub.user, "fundings": rows})
            elif sub.kind in ("userEvents", "user"):
                for p in mine:
                    self._push("user", {"funding": p.event()})
        return len(self.outbox) > before

    def deliver_ledger(self, user: str, row: dict[str, Any]) -> bool:
        """Queue a ``userNonFundingLedgerUpdates`` push of ``user``'s new ledger ``row``."""
        before = len(self.outbox)
        for sub in self.subs.values():
            if sub.kind == "userNonFundingLedgerUpdates" and sub.user == user:
                self._push(sub.kind, {"user": user, "nonFundingLedgerUpdates": [row]})
        return len(self.outbox) > before

    def market_data(self, now_ms: int) -> bool:
        """Queue due ``l2Book`` / ``bbo`` / ``allMids`` pushes (throttled, only on change)."""
        before = len(self.outbox)
        for sub in self.subs.values():
            if sub.kind in ("l2Book", "bbo", "allMids", "allDexsAssetCtxs"):
                text = self._market_or_state(sub, now_ms, force=False)
                if text is not None:
                    self.outbox.append(Push(sub.kind, text))
        return len(self.outbox) > before

    def _market_or_state(self, sub: _Sub, now_ms: int, force: bool) -> str | None:
        engine = self.service.engine
        cfg = self.service.config
        if sub.kind == "l2Book":
            assert sub.coin is not None
            book = engine.book(sub.coin)
            due = now_ms - sub.last_push_ms >= cfg.l2_push_interval_ms
            if not force and (book.version == sub.last_version or not due):
                return None
            sub.last_version = book.version
            sub.last_push_ms = now_ms
            return dumps({"channel": "l2Book", "data": book.l2(now_ms)})
        if sub.kind == "bbo":
            assert sub.coin is not None
            book = engine.book(sub.coin)
            top = [book.bids.top(), book.asks.top()]
            if not force and top == sub.last_payload:
                return None
            sub.last_payload = top
            return dumps({"channel": "bbo", "data": {"coin": sub.coin, "time": now_ms, "bbo": top}})
        if sub.kind == "allMids":
            due = now_ms - sub.last_push_ms >= cfg.mids_push_interval_ms
            if not force and not due:
                return None
            mids = views.all_mids(engine)
            if not force and mids == sub.last_payload:
                return None
            sub.last_payload = mids
            sub.last_push_ms = now_ms
            return dumps({"channel": "allMids", "data": {"mids": mids}})
        if sub.kind == "allDexsAssetCtxs":
            due = now_ms - sub.last_push_ms >= cfg.mids_push_interval_ms
            if not force and not due:
                return None
            ctxs = self.service.info_desk.asset_ctxs(now_ms)
            if not force and ctxs == sub.last_payload:
                return None
            sub.last_payload = ctxs
            sub.last_push_ms = now_ms
            return dumps({"channel": "allDexsAssetCtxs", "data": {"ctxs": [["", ctxs]]}})
        if sub.kind == "openOrders":
            assert sub.user is not None
            orders = views.open_orders(engine, sub.user, frontend=True)
            return dumps(
                {"channel": "openOrders", "data": {"dex": "", "user": sub.user, "orders": orders}}
            )
        if sub.kind == "clearinghouseState":
            assert sub.user is not None
            state = self.service.info_desk.clearinghouse_state(sub.user, now_ms)
            return dumps(
                {
                    "channel": "clearinghouseState",
                    "data": {"dex": "", "user": sub.user, "clearinghouseState": state},
                }
            )
        return None

    # ---- post ----------------------------------------------------------------------------------

    def _post(self, msg: dict[str, Any], now_ms: int) -> str:
        req_id = msg.get("id")
        request = msg.get("request")
        if not isinstance(req_id, int) or isinstance(req_id, bool) or not isinstance(request, dict):
            return self._error(f"Invalid post request: {dumps(msg)[:200]}")
        kind = request.get("type")
        payload = request.get("payload")
        if kind == "info":
            status, body = self.service.handle_info(payload, now_ms)
            if status != 200:
                return post_error(req_id, str(body))
            info_type = payload.get("type") if isinstance(payload, dict) else None
            return post_reply(req_id, "info", {"type": info_type, "data": body})
        if kind == "action":
            status, body = self.service.handle_exchange(payload, now_ms)
            if status != 200:
                return post_error(req_id, str(body))
            return post_reply(req_id, "action", body)
        return post_error(req_id, f"Unknown post request type: {kind!r}")


def post_reply(req_id: int, kind: str, payload: Any) -> str:
    """``{"channel":"post","data":{"id":…,"response":{"type":kind,"payload":…}}}`` (§6.5)."""
    return dumps(
        {"channel": "post", "data": {"id": req_id, "response": {"type": kind, "payload": payload}}}
    )


def post_error(req_id: int, text: str) -> str:
    """A post answered with ``{"type":"error","payload":"<text>"}`` (§6.5)."""
    return post_reply(req_id, "error", text)
