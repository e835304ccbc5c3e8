"""The simulator's pure matching engine: perps, price-time priority, fees, positions, history.

Sans-IO: no clock, no randomness, no I/O. Every call takes ``now_ms`` (ms since the epoch) and
every mutating call returns an :class:`Effects` describing what happened (order status changes and
fills, per user) so the protocol layer can produce pushes. ids are deterministic: oids count up
from ``EngineConfig.first_oid``; tids count up from ``first_tid`` (one tid per trade, shared by the
maker's and the taker's fill, unique across trades); a fill's ``hash`` is derived from the action's
sequence number.

Exchange rules implemented (sources in ``../shared/hyperliquid-protocol.md``):

* limit orders ``Alo``/``Ioc``/``Gtc`` (§4.2, §9); fills at the resting order's price;
* validation with the exchange's strings and an `` asset=<id>`` suffix (§4.3): tick / 5
  significant figures and lot (§5.5), $10 minimum for non-reduce-only orders, ALO would cross
  (bbo in the text), reduce-only would increase, IOC could not match, insufficient margin (simple
  model, :mod:`hlmaker.sim.accounts`), too many open orders ⚠ text;
* every placed order consumes an oid, rejected ones included, and is kept in the per-user status
  history (``orderStatus``, by oid or cloid) with the history status of §2.10;
* reduce-only: clamped to the position, never flips; resting reduce-only orders shrink with the
  position and end ``reduceOnlyCanceled`` when it closes or flips (§5.5);
* self-trade prevention cancels the resting order (``selfTradeCanceled``);
* ``batchModify`` is cancel-replace: the old oid ends ``canceled``, the new order gets a new oid
  and keeps the cloid (the wire's ``c`` if given, else the old order's); a ``Gtc`` replacement is
  converted to ``Alo`` (§4.2);
* ``scheduleCancel`` (dead-man switch) fires in :meth:`Engine.advance` with status
  ``scheduledCancel`` and ``statusTimestamp`` = the scheduled time (§4.2);
* fees: maker/taker rates on notional, rounded to 6 decimals; ``closedPnl`` excludes fees;
* trigger (TP/SL) orders and the ``normalTpsl``/``positionTpsl`` groupings, fired by the mark
  (:meth:`Engine.mark`) after every call that moves a book — rules, statuses and their
  assumptions in :mod:`hlmaker.sim.triggers`.

Assumptions (⚠, unconfirmed on the live venue): a GTC that partly fills and rests answers
``resting``; an IOC that partly fills answers ``filled`` with the filled part and its history
status is ``canceled`` (``filled`` if complete); partial fills of a resting order push no
``orderUpdates``; ``resting``/``filled`` replies echo ``cloid``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hlmaker.sim import rules
from hlmaker.sim.accounts import Account, FillRecord
from hlmaker.sim.effects import Effects, ModifyEntry, OrderEntry, OrderEvent
from hlmaker.sim.matching import MatchingBook, Order, Side, Tif
from hlmaker.sim.rules import DEFAULT_UNIVERSE, AssetSpec, fmt, with_asset
from hlmaker.sim.triggers import (
    FIRE,
    GROUPINGS,
    WAITING_FOR_FILL,
    WAITING_FOR_TRIGGER,
    Grouping,
    Trigger,
    WaitingTriggers,
    group_roles,
)

ZERO = Decimal(0)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class EngineConfig:
    """Tunable venue parameters (defaults: Hyperliquid tier-0 perps)."""

    maker_fee: Decimal = Decimal("0.00015")
    taker_fee: Decimal = Decimal("0.00045")
    default_leverage: int = 20
    max_open_orders: int = 1000
    order_history_cap: int = 2000
    synthetic_fill_cap: int = 1000
    schedule_cancel_min_delay_ms: int = 5000
    schedule_cancel_daily_max: int = 10
    schedule_cancel_min_volume: Decimal = ZERO
    """Volume gate of ``scheduleCancel``; 0 disables it (the live venue has one, §4.2)."""
    first_oid: int = 1_000_000
    first_tid: int = 1


class Engine:
    """The exchange core. Users are lower-case ``0x`` addresses; ``now_ms`` is ms since epoch."""

    def __init__(
        self, universe: Sequence[AssetSpec] = DEFAULT_UNIVERSE, config: EngineConfig | None = None
    ) -> None:
        self.config = config or EngineConfig()
        self.universe: tuple[AssetSpec, ...] = tuple(universe)
        self.coin_to_asset = {spec.name: i for i, spec in enumerate(self.universe)}
        self.books = [MatchingBook(spec.name, i) for i, spec in enumerate(self.universe)]
        self.accounts: dict[str, Account] = {}
        self._next_oid = self.config.first_oid
        self._next_tid = self.config.first_tid
        self._action_seq = 0
        self._schedules: dict[str, int] = {}
        self.default_lev = {
            s.name: min(self.config.default_leverage, s.max_leverage) for s in self.universe
        }
        self.orders_accepted = 0
        self.trade_count = 0
        self._waiting = WaitingTriggers()

    # ---- accounts ------------------------------------------------------------------------

    def account(self, user: str) -> Account | None:
        """The account of ``user`` (any case), or ``None``."""
        return self.accounts.get(user.lower())

    def fund(self, user: str, amount: Decimal, *, synthetic: bool = False) -> Account:
        """Credit ``amount`` USDC to ``user``, creating the account if needed."""
        user = user.lower()
        acct = self.accounts.get(user)
        if acct is None:
            acct = Account(user, synthetic=synthetic)
            self.accounts[user] = acct
        acct.balance += rules.usd(amount)
        return acct

    def _acct(self, user: str) -> Account:
        acct = self.accounts.get(user.lower())
        if acct is None:
            acct = self.fund(user, ZERO)
        return acct

    # ---- market data ----------------------------------------------------------------------

    def book(self, coin: str) -> MatchingBook:
        """The book of ``coin`` (KeyError if unknown)."""
        return self.books[self.coin_to_asset[coin]]

    def mark(self, coin: str) -> Decimal:
        """Mark price: book mid, else last trade, else the universe's initial price."""
        m = self.book(coin).mid()
        return m if m is not None else self.universe[self.coin_to_asset[coin]].initial_px

    def marks(self) -> dict[str, Decimal]:
        """Mark price of every coin."""
        return {spec.name: self.mark(spec.name) for spec in self.universe}

    def mids(self) -> dict[str, Decimal]:
        """Mid of every coin that has one (``allMids``, §2.3)."""
        out = {}
        for book in self.books:
            m = book.mid()
            if m is not None:
                out[book.coin] = m
        return out

    # ---- ground truth -------------------------------------------------------------------

    def fills_for(self, user: str) -> list[FillRecord]:
        """Every fill of ``user``, oldest first (synthetic users: the latest ``cap`` only)."""
        acct = self.account(user)
        return list(acct.fills) if acct else []

    def open_orders_for(self, user: str) -> list[Order]:
        """The resting orders of ``user``, in placement order (oldest first)."""
        acct = self.account(user)
        return list(acct.open_orders.values()) if acct else []

    def position(self, user: str, coin: str) -> Decimal:
        """Signed size ``szi`` of ``user`` in ``coin`` (0 when flat)."""
        acct = self.account(user)
        if acct is None or coin not in acct.positions:
            return ZERO
        return acct.positions[coin].szi

    def order_status(self, user: str, oid_or_cloid: int | str) -> Order | None:
        """The latest record of an order of ``user`` by oid or cloid; ``None`` = ``unknownOid``."""
        acct = self.account(user)
        if acct is None:
            return None
        if isinstance(oid_or_cloid, str):
            oid = acct.cloids.get(oid_or_cloid.lower())
            if oid is None:
                return None
        else:
            oid = oid_or_cloid
        return acct.history.get(oid)

    # ---- time -----------------------------------------------------------------------------

    def advance(self, now_ms: int) -> Effects:
        """Fire every ``scheduleCancel`` due at or before ``now_ms`` (in time order)."""
        fx = Effects()
        if not self._schedules:
            return fx
        due = sorted((t, u) for u, t in self._schedules.items() if t <= now_ms)
        for t, user in due:
            del self._schedules[user]
            acct = self.accounts[user]
            acct.scheduled_cancel = None
            day = t // DAY_MS
            acct.schedule_fires[day] = acct.schedule_fires.get(day, 0) + 1
            for order in list(acct.open_orders.values()):
                self._end(acct, order, "scheduledCancel", t, fx)
            self._settle(t, "0x" + "0" * 64, fx)
        return fx

    # ---- actions --------------------------------------------------------------------------

    def _begin(self, now_ms: int) -> tuple[Effects, str]:
        fx = self.advance(now_ms)
        self._action_seq += 1
        digest = hashlib.sha256(f"hlmaker-sim-action:{self._action_seq}".encode()).hexdigest()
        return fx, "0x" + digest

    def place(
        self, user: str, orders: Sequence[OrderEntry], now_ms: int, grouping: Grouping = "na"
    ) -> tuple[list[Any], Effects]:
        """Place orders in sequence; returns one status per order (§4.3) and the effects.

        ``grouping`` (§4.2): ``"na"``; ``"normalTpsl"`` (the first order is the parent of the
        trigger orders after it); ``"positionTpsl"`` (every trigger order is sized to the
        position). Raises ``ValueError`` for another grouping (the service refuses it first).
        """
        if grouping not in GROUPINGS:
            raise ValueError(f"unknown grouping {grouping!r}")
        fx, tx = self._begin(now_ms)
        acct = self._acct(user)
        roles = group_roles([req.trigger is not None for req in orders], grouping)
        statuses: list[Any] = []
        parent: Order | None = None
        for i, req in enumerate(orders):
            if req.trigger is None:
                oid = self._next_oid
                statuses.append(self._place_one(acct, req, now_ms, tx, fx, req.tif))
                if i == 0:
                    parent = acct.history.get(oid)
                continue
            if roles[i] is not None:
                first = statuses[0]
                if isinstance(first, dict) and "error" in first:
                    statuses.append(self._reject(acct, req, self._take_oid(), "",
                                                 "rejected", now_ms, fx, text=first["error"]))
                    continue
            statuses.append(self._place_trigger(
                acct, req, now_ms, fx, parent if roles[i] is not None else None,
                grouping))
        self._settle(now_ms, tx, fx)
        return statuses, fx

    def cancel(
        self, user: str, cancels: Sequence[tuple[int, int]], now_ms: int
    ) -> tuple[list[Any], Effects]:
        """Cancel ``(asset, oid)`` pairs: ``"success"`` or ``{"error": …}`` each (§4.3).
        Cancelling a ``normalTpsl`` parent cancels its waiting children (§9)."""
        fx, tx = self._begin(now_ms)
        acct = self._acct(user)
        out: list[Any] = []
        for asset, oid in cancels:
            order = acct.open_orders.get(oid)
            if order is None or order.asset != asset:
                out.append({"error": with_asset(rules.ERR_CANCEL_MISSING, asset)})
            else:
                self._end(acct, order, "canceled", now_ms, fx)
                out.append("success")
        self._settle(now_ms, tx, fx)
        return out, fx

    def cancel_by_cloid(
        self, user: str, cancels: Sequence[tuple[int, str]], now_ms: int
    ) -> tuple[list[Any], Effects]:
        """Cancel ``(asset, cloid)`` pairs, answering like :meth:`cancel`."""
        fx, tx = self._begin(now_ms)
        acct = self._acct(user)
        out: list[Any] = []
        for asset, cloid in cancels:
            oid = acct.cloids.get(cloid.lower()) if isinstance(cloid, str) else None
            order = acct.open_orders.get(oid) if oid is not None else None
            if order is None or order.asset != asset:
                out.append({"error": with_asset(rules.ERR_CANCEL_MISSING, asset)})
            else:
                self._end(acct, order, "canceled", now_ms, fx)
                out.append("success")
        self._settle(now_ms, tx, fx)
        return out, fx

    def batch_modify(
        self, user: str, modifies: Sequence[ModifyEntry], now_ms: int
    ) -> tuple[list[Any], Effects]:
        """Cancel-replace each order; one order status per modify (reply type ``order``)."""
        fx, tx = self._begin(now_ms)
        acct = self._acct(user)
        out: list[Any] = []
        for mod in modifies:
            req = mod.order
            old: Order | None = None
            if isinstance(mod.oid, str):
                old_oid = acct.cloids.get(mod.oid.lower())
                old = acct.open_orders.get(old_oid) if old_oid is not None else None
            else:
                old = acct.open_orders.get(mod.oid)
            if old is None:
                out.append({"error": with_asset(rules.ERR_MODIFY_MISSING, req.asset)})
                continue
            static_err = self._static_check(req)
            if static_err is not None:
                out.append({"error": with_asset(static_err[0], req.asset)})
                continue
            self._end(acct, old, "canceled", now_ms, fx)
            cloid = req.cloid if req.cloid is not None else old.cloid
            if cloid != req.cloid:
                req = dataclasses.replace(req, cloid=cloid)
            if req.trigger is not None:
                out.append(self._place_trigger(acct, req, now_ms, fx, None, "na"))
                continue
            tif = "Alo" if req.tif == "Gtc" else req.tif
            out.append(self._place_one(acct, req, now_ms, tx, fx, tif))
        self._settle(now_ms, tx, fx)
        return out, fx

    def schedule_cancel(self, user: str, time_ms: int | None, now_ms: int) -> str | None:
        """Set (or clear with ``None``) the dead-man switch; returns an error string or ``None``."""
        acct = self._acct(user)
        self.advance(now_ms)
        if time_ms is None:
            acct.scheduled_cancel = None
            self._schedules.pop(acct.address, None)
            return None
        if acct.cum_volume < self.config.schedule_cancel_min_volume:
            return rules.ERR_SCHEDULE_VOLUME
        if time_ms < now_ms + self.config.schedule_cancel_min_delay_ms:
            return rules.ERR_SCHEDULE_TOO_EARLY
        if acct.schedule_fires.get(now_ms // DAY_MS, 0) >= self.config.schedule_cancel_daily_max:
            return rules.ERR_SCHEDULE_DAILY
        acct.scheduled_cancel = time_ms
        self._schedules[acct.address] = time_ms
        return None

    def update_leverage(self, user: str, asset: int, is_cross: bool, leverage: int) -> str | None:
        """Set leverage for ``asset``; error string when out of ``[1, maxLeverage]``."""
        if not 0 <= asset < len(self.universe):
            return rules.ERR_UNKNOWN_ASSET
        spec = self.universe[asset]
        if not 1 <= leverage <= spec.max_leverage:
            return f"Invalid leverage value {leverage} for {spec.name}."  # ⚠ text unconfirmed
        self._acct(user).leverage[spec.name] = (leverage, is_cross)
        return None

    def cancel_all(self, user: str, now_ms: int, status: str = "canceled") -> Effects:
        """Cancel every open order of ``user`` with ``status`` (used by the synthetic market)."""
        fx, tx = self._begin(now_ms)
        acct = self._acct(user)
        for order in list(acct.open_orders.values()):
            self._end(acct, order, status, now_ms, fx)
        self._settle(now_ms, tx, fx)
        return fx

    # ---- internals ------------------------------------------------------------------------

    def _static_check(self, req: OrderEntry) -> tuple[str, str] | None:
        """Payload-only checks: ``(message, history status)`` or ``None``."""
        if not 0 <= req.asset < len(self.universe):
            return rules.ERR_UNKNOWN_ASSET, "rejected"
        spec = self.universe[req.asset]
        px = rules.parse_decimal(req.px)
        sz = rules.parse_decimal(req.sz)
        if px is None or px <= 0:
            return rules.ERR_INVALID_PRICE, "rejected"
        if sz is None or sz < 0 or not rules.size_is_valid(sz, spec.sz_decimals):
            return rules.ERR_INVALID_SIZE, "rejected"
        if sz == 0:
            return rules.ERR_ZERO_SIZE, "rejected"
        if not rules.price_is_valid(px, spec.sz_decimals):
            return rules.ERR_TICK, "tickRejected"
        if req.trigger is not None:
            tpx = rules.parse_decimal(req.trigger.trigger_px)
            if tpx is None or tpx <= 0 or not rules.price_is_valid(tpx, spec.sz_decimals):
                return rules.ERR_BAD_TRIGGER_PX, "badTriggerPxRejected"
        elif req.tif not in ("Alo", "Ioc", "Gtc"):
            return "Invalid TIF.", "rejected"  # ⚠ text unconfirmed
        if not req.reduce_only and px * sz < rules.MIN_NOTIONAL:
            return rules.ERR_MIN_NOTIONAL, "minTradeNtlRejected"
        return None

    def _reject(
        self,
        acct: Account,
        req: OrderEntry,
        oid: int,
        msg: str,
        status: str,
        now_ms: int,
        fx: Effects,
        *,
        text: str | None = None,
    ) -> dict[str, Any]:
        """Record ``req`` as refused with history ``status``; answer ``msg`` with the asset
        suffix (or ``text`` verbatim, already suffixed)."""
        if 0 <= req.asset < len(self.universe):
            px = rules.parse_decimal(req.px) or ZERO
            sz = rules.parse_decimal(req.sz) or ZERO
            order = Order(
                oid,
                acct.address,
                self.universe[req.asset].name,
                req.asset,
                "B" if req.is_buy else "A",
                px,
                sz,
                sz,
                now_ms,
                _tif(req.tif),
                req.reduce_only,
                _norm_cloid(req.cloid),
                status,
                now_ms,
            )
            if not (
                order.cloid is not None
                and order.cloid in acct.cloids
                and acct.cloids[order.cloid] in acct.open_orders
            ):
                acct.record_order(order, self.config.order_history_cap)
            fx.order_events.append(self._event(order))
        return {"error": text if text is not None else with_asset(msg, req.asset)}

    def _take_oid(self) -> int:
        oid = self._next_oid
        self._next_oid += 1
        return oid

    def _place_one(
        self, acct: Account, req: OrderEntry, now_ms: int, tx: str, fx: Effects, tif: str
    ) -> dict[str, Any]:
        oid = self._take_oid()
        err = self._static_check(req)
        if err is not None:
            return self._reject(acct, req, oid, err[0], err[1], now_ms, fx)
        spec = self.universe[req.asset]
        book = self.books[req.asset]
        px = rules.parse_decimal(req.px)
        sz = rules.parse_decimal(req.sz)
        assert px is not None and sz is not None
        side: Side = "B" if req.is_buy else "A"
        cloid = _norm_cloid(req.cloid)
        if cloid is not None and acct.cloids.get(cloid) in acct.open_orders:
            return self._reject(acct, req, oid, rules.ERR_DUPLICATE_CLOID, "rejected", now_ms, fx)
        pos = acct.positions[spec.name].szi if spec.name in acct.positions else ZERO
        if req.reduce_only:
            if pos == 0 or (pos > 0) == req.is_buy:
                return self._reject(
                    acct, req, oid, rules.ERR_REDUCE_ONLY, "reduceOnlyRejected", now_ms, fx
                )
            sz = min(sz, abs(pos))
        if len(acct.open_orders) >= self.config.max_open_orders and tif != "Ioc":
            return self._reject(
                acct, req, oid, rules.ERR_TOO_MANY_OPEN, "tooManyOpenOrdersRejected", now_ms, fx
            )
        if tif == "Alo" and book.crosses(side, px):
            msg = rules.alo_error(book.bids.best(), book.asks.best())
            return self._reject(acct, req, oid, msg, "badAloPxRejected", now_ms, fx)
        if not acct.synthetic and not req.reduce_only:
            increase = sz
            if pos != 0 and (pos > 0) != req.is_buy:
                increase = max(ZERO, sz - abs(pos))
            if increase > 0:
                marks = self.marks()
                lev = acct.lev(spec.name, self.default_lev[spec.name])
                used = acct.position_margin(marks, self.default_lev) + acct.order_margin(
                    self.default_lev
                )
                if px * increase / lev > acct.account_value(marks) - used:
                    return self._reject(
                        acct, req, oid, rules.ERR_MARGIN, "perpMarginRejected", now_ms, fx
                    )
        order = Order(
            oid,
            acct.address,
            spec.name,
            req.asset,
            side,
            px,
            sz,
            sz,
            now_ms,
            _tif(tif),
            req.reduce_only,
            cloid,
            "open",
            now_ms,
            builder=req.builder,
        )
        acct.record_order(order, self.config.order_history_cap)
        self.orders_accepted += 1
        filled, notional = self._match(acct, order, book, now_ms, tx, fx)
        if order.sz == 0:
            order.status = "filled"
            order.status_ts = now_ms
            fx.order_events.append(self._event(order))
            return {"filled": _filled(filled, notional, order)}
        if tif == "Ioc":
            if filled == 0:
                order.status = "iocCancelRejected"
                order.status_ts = now_ms
                fx.order_events.append(self._event(order))
                return {"error": with_asset(rules.ERR_IOC, req.asset)}
            order.status = "canceled"
            order.status_ts = now_ms
            fx.order_events.append(self._event(order))
            return {"filled": _filled(filled, notional, order)}
        self._rest(acct, order, book, fx)
        return {"resting": _resting(order)}

    def _rest(self, acct: Account, order: Order, book: MatchingBook, fx: Effects) -> None:
        """Put ``order`` (status ``open``) on ``book`` and in the account's open orders."""
        book.side(order.side).add(order)
        book.version += 1
        fx.books[book.coin] = None
        acct.open_orders[order.oid] = order
        acct.hold(order, order.sz)
        if order.reduce_only:
            acct.reduce_only[order.oid] = order
        fx.order_events.append(self._event(order))

    # ---- trigger orders -------------------------------------------------------------------

    def _place_trigger(
        self,
        acct: Account,
        req: OrderEntry,
        now_ms: int,
        fx: Effects,
        parent: Order | None,
        grouping: Grouping,
    ) -> Any:
        """Accept a TP/SL order waiting off the book: ``{"resting": …}`` alone, the bare
        waiting status in a group (§4.3), or ``{"error": …}``."""
        oid = self._take_oid()
        err = self._static_check(req)
        if err is not None:
            return self._reject(acct, req, oid, err[0], err[1], now_ms, fx)
        assert req.trigger is not None
        spec = self.universe[req.asset]
        cloid = _norm_cloid(req.cloid)
        if cloid is not None and acct.cloids.get(cloid) in acct.open_orders:
            return self._reject(acct, req, oid, rules.ERR_DUPLICATE_CLOID, "rejected", now_ms, fx)
        if len(acct.open_orders) >= self.config.max_open_orders:
            return self._reject(
                acct, req, oid, rules.ERR_TOO_MANY_OPEN, "tooManyOpenOrdersRejected", now_ms, fx
            )
        armed = parent is None or parent.orig_sz > parent.sz or parent.status == "filled"
        if req.reduce_only and armed:
            pos = acct.positions[spec.name].szi if spec.name in acct.positions else ZERO
            if pos == 0 or (pos > 0) == req.is_buy:
                return self._reject(
                    acct, req, oid, rules.ERR_REDUCE_ONLY, "reduceOnlyRejected", now_ms, fx
                )
        px = rules.parse_decimal(req.px)
        sz = rules.parse_decimal(req.sz)
        tpx = rules.parse_decimal(req.trigger.trigger_px)
        assert px is not None and sz is not None and tpx is not None
        status = WAITING_FOR_TRIGGER if armed else WAITING_FOR_FILL
        order = Order(oid, acct.address, spec.name, req.asset, "B" if req.is_buy else "A", px,
                      sz, sz, now_ms, "Gtc", req.reduce_only, cloid, status, now_ms,
                      trigger=Trigger(tpx, req.trigger.is_market, req.trigger.tpsl),
                      position_tpsl=grouping == "positionTpsl", parent=parent,
                      builder=req.builder)
        if parent is not None:
            parent.children = (*parent.children, order)
        acct.record_order(order, self.config.order_history_cap)
        acct.open_orders[oid] = order
        self._waiting.add(acct, order)
        self.orders_accepted += 1
        fx.order_events.append(self._event(order))
        if grouping == "na":
            return {"resting": _resting(order)}
        return status

    def _settle(self, now_ms: int, tx: str, fx: Effects) -> None:
        """Bring every waiting trigger order up to date with the books and positions (see
        :meth:`WaitingTriggers.next_action`): each step ends or fires one order, and a fired
        order may move the mark for the next."""
        while self._waiting:
            step = self._waiting.next_action(self.mark, now_ms)
            if step is None:
                return
            action, acct, order = step
            if action == FIRE:
                self._fire(acct, order, now_ms, tx, fx)
            else:
                self._end(acct, order, action, now_ms, fx)

    def _fire(self, acct: Account, order: Order, now_ms: int, tx: str, fx: Effects) -> None:
        """The mark reached ``order``'s trigger: push ``triggered``, then execute it."""
        assert order.trigger is not None
        self._waiting.discard(order.oid)
        acct.open_orders.pop(order.oid, None)
        order.triggered = True
        self._finish(order, "triggered", now_ms, fx)
        if order.reduce_only:
            pos = self.position(acct.address, order.coin)
            if pos == 0 or (pos > 0) == (order.side == "B"):
                self._finish(order, "reduceOnlyCanceled", now_ms, fx)
                return
            order.sz = abs(pos) if order.position_tpsl else min(order.sz, abs(pos))
        book = self.books[order.asset]
        order.tif = "Ioc" if order.trigger.is_market else "Gtc"
        filled, _ = self._match(acct, order, book, now_ms, tx, fx)
        if filled and order.parent is not None:
            for sibling in order.parent.children:
                if sibling is not order and sibling.oid in self._waiting:
                    self._end(acct, sibling, "siblingFilledCanceled", now_ms, fx)
        if order.sz == 0:
            self._finish(order, "filled", now_ms, fx)
        elif order.trigger.is_market:
            self._finish(order, "canceled" if filled else "marketOrderNoLiquidityRejected",
                         now_ms, fx)
        else:
            order.status = "open"
            order.status_ts = now_ms
            self._rest(acct, order, book, fx)

    def _finish(self, order: Order, status: str, now_ms: int, fx: Effects) -> None:
        """Set the status of an order that is off the book, and push it."""
        order.status = status
        order.status_ts = now_ms
        fx.order_events.append(self._event(order))

    def _match(
        self, taker: Account, order: Order, book: MatchingBook, now_ms: int, tx: str, fx: Effects
    ) -> tuple[Decimal, Decimal]:
        filled = ZERO
        notional = ZERO
        last_px: Decimal | None = None
        opposite = book.opposite(order.side)
        for px, level in opposite.levels_best_first():
            if order.sz == 0:
                break
            if (order.side == "B" and px > order.limit_px) or (
                order.side == "A" and px < order.limit_px
            ):
                break
            for maker_order in list(level.values()):
                if order.sz == 0:
                    break
                maker = self.accounts[maker_order.user]
                if maker is taker:
                    self._end(maker, maker_order, "selfTradeCanceled", now_ms, fx)
                    continue
                qty = min(order.sz, maker_order.sz)
                self._trade(taker, order, maker, maker_order, px, qty, now_ms, tx, fx)
                filled += qty
                notional += px * qty
                last_px = px
                if maker_order.sz == 0:
                    maker_order.status = "filled"
                    maker_order.status_ts = now_ms
                    opposite.remove(maker_order)
                    del maker.open_orders[maker_order.oid]
                    maker.reduce_only.pop(maker_order.oid, None)
                    fx.order_events.append(self._event(maker_order))
                self._fix_reduce_only(maker, order.coin, now_ms, fx)
        if filled:
            book.version += 1
            fx.books[book.coin] = None
            book.last_trade_px = last_px
            self._fix_reduce_only(taker, order.coin, now_ms, fx)
        return filled, notional

    def _trade(
        self,
        taker: Account,
        t_order: Order,
        maker: Account,
        m_order: Order,
        px: Decimal,
        qty: Decimal,
        now_ms: int,
        tx: str,
        fx: Effects,
    ) -> None:
        tid = self._next_tid
        self._next_tid += 1
        self.trade_count += 1
        t_order.sz -= qty
        m_order.sz -= qty
        maker.hold(m_order, -qty)
        for acct, o, crossed, rate in (
            (maker, m_order, False, self.config.maker_fee),
            (taker, t_order, True, self.config.taker_fee),
        ):
            start, closed, direction, fee, _ = acct.apply_fill(o.coin, o.side, px, qty, rate)
            builder_fee = self._builder_fee(acct, o, px, qty)
            fill = FillRecord(
                acct.address,
                o.coin,
                px,
                qty,
                o.side,
                now_ms,
                start,
                direction,
                closed,
                tx,
                o.oid,
                crossed,
                fee,
                tid,
                o.cloid,
                builder_fee,
            )
            acct.record_fill(fill, self.config.synthetic_fill_cap if acct.synthetic else None)
            fx.fills.append(fill)
        buyer, seller = (taker, maker) if t_order.side == "B" else (maker, taker)
        fx.trades.append(
            {
                "coin": t_order.coin,
                "side": t_order.side,
                "px": fmt(px),
                "sz": fmt(qty),
                "hash": tx,
                "time": now_ms,
                "tid": tid,
                "users": [buyer.address, seller.address],
            }
        )

    def _builder_fee(
        self, acct: Account, order: Order, px: Decimal, qty: Decimal
    ) -> Decimal | None:
        """Charge the fill's builder fee (``px × qty × f / 100000``, builder-codes docs) to
        ``acct`` and credit the builder; ``None`` when the order names no builder."""
        if order.builder is None:
            return None
        builder, tenths_bps = order.builder
        fee = rules.usd(px * qty * tenths_bps / 100_000)
        acct.balance -= fee
        self._acct(builder).balance += fee
        return fee

    def _fix_reduce_only(self, acct: Account, coin: str, now_ms: int, fx: Effects) -> None:
        """Shrink resting reduce-only orders to the position; cancel those that would increase."""
        if not acct.reduce_only:
            return
        pos = acct.positions[coin].szi if coin in acct.positions else ZERO
        for order in list(acct.reduce_only.values()):
            if order.coin != coin:
                continue
            if pos == 0 or (pos > 0) == (order.side == "B"):
                self._end(acct, order, "reduceOnlyCanceled", now_ms, fx)
            elif order.sz > abs(pos):
                order.sz = abs(pos)

    def _end(self, acct: Account, order: Order, status: str, now_ms: int, fx: Effects) -> None:
        """Take a resting (or waiting trigger) order off the book with a terminal ``status``."""
        if order.trigger is not None and self._waiting.discard(order.oid):
            acct.open_orders.pop(order.oid, None)
            self._finish(order, status, now_ms, fx)
            return
        book = self.books[order.asset]
        book.side(order.side).remove(order)
        book.version += 1
        fx.books[book.coin] = None
        if acct.open_orders.pop(order.oid, None) is not None:
            acct.hold(order, -order.sz)
            acct.reduce_only.pop(order.oid, None)
        order.status = status
        order.status_ts = now_ms
        fx.order_events.append(self._event(order))

    @staticmethod
    def _event(order: Order) -> OrderEvent:
        return OrderEvent(
            order.user, order.coin, order.oid, order.status, order.status_ts, order.status_wire()
        )


def _tif(tif: str) -> Tif:
    return tif if tif in ("Alo", "Ioc", "Gtc") else "Gtc"  # type: ignore[return-value]


def _norm_cloid(cloid: str | None) -> str | None:
    return cloid.lower() if isinstance(cloid, str) else None


def _resting(order: Order) -> dict[str, Any]:
    resting: dict[str, Any] = {"oid": order.oid}
    if order.cloid is not None:
        resting["cloid"] = order.cloid
    return resting


def _filled(total: Decimal, notional: Decimal, order: Order) -> dict[str, Any]:
    avg = (notional / total).quantize(Decimal("0.00000001")) if total else ZERO
    out: dict[str, Any] = {"totalSz": fmt(total), "avgPx": fmt(avg), "oid": order.oid}
    if order.cloid is not None:
        out["cloid"] = order.cloid
    return out
