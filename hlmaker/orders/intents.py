"""Intents → commands: the half of the order core that strategies drive.

A mixin of :class:`hlmaker.orders.core.OrderBookCore` (kept in its own module to keep each file
about one concept). Every new order is registered as pending under a fresh cloid *before* its
command is returned; every command carries a request id and the ``expiresAfter`` the book chose.
Refused intents (unknown coin, bad px/sz, caps reached) are bad input: counted, logged, never
raised.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from hlmaker.messages import (
    SIDES,
    TIFS,
    CancelAll,
    CancelOrder,
    CancelOrders,
    CancelRequest,
    ModifyOrder,
    ModifyOrders,
    ModifyRequest,
    OrderRequest,
    PlaceOrder,
    PlaceOrders,
    ScheduleCancel,
    TargetLadder,
)
from hlmaker.orders.records import NoteKind
from hlmaker.orders.states import Ev, OrderState
from hlmaker.orders.tracked import TrackedOrder

if TYPE_CHECKING:
    from hlmaker.orders.core import Action, OrderBookCore

    _Base = OrderBookCore
else:
    _Base = object


class IntentsMixin(_Base):
    """Strategy intents in, executor commands out (see the module docstring)."""

    def place(self, intent: PlaceOrder, now_ms: int) -> list[Action]:
        """Register a pending order for ``intent`` and return the :class:`PlaceOrders` command."""
        reason = self._check_order(intent.coin, intent.side, intent.px, intent.sz, intent.tif)
        if reason:
            return self._bad(f"place refused: {reason} intent={intent!r}")
        order = self._new_order(intent.coin, intent.side, intent.px, intent.sz, intent.tif,
                                intent.reduce_only, intent.tag, now_ms)
        if order is None:
            return []
        return [self._place_command([order], now_ms)]

    def _check_order(self, coin: str, side: str, px: Decimal, sz: Decimal, tif: str) -> str:
        if self.config.coins is not None and coin not in self.config.coins:
            return f"unknown coin {coin!r}"
        if side not in SIDES:
            return f"bad side {side!r}"
        if tif not in TIFS:
            return f"bad tif {tif!r}"
        if not isinstance(px, Decimal) or not px.is_finite() or px <= 0:
            return f"bad px {px!r}"
        if not isinstance(sz, Decimal) or not sz.is_finite() or sz <= 0:
            return f"bad sz {sz!r}"
        return ""

    def _new_order(self, coin: str, side: str, px: Decimal, sz: Decimal, tif: str,
                   reduce_only: bool, tag: str, now_ms: int) -> TrackedOrder | None:
        open_here = sum(
            1 for o in self.orders.values() if o.coin == coin and not o.state.is_terminal
        )
        if open_here >= self.config.max_open_orders_per_coin:
            self._bad(f"place refused: {open_here} open orders on {coin} (cap reached)")
            return None
        if len(self.orders) >= self.config.max_tracked_orders:
            self.evict(now_ms, force=True)
            if len(self.orders) >= self.config.max_tracked_orders:
                self._bad("place refused: tracked-order cap reached")
                return None
        order = TrackedOrder(cloid=self.new_cloid(), coin=coin, side=side,  # type: ignore[arg-type]
                             px=px, sz=sz, tif=tif, reduce_only=reduce_only,  # type: ignore[arg-type]
                             created_ms=now_ms, tag=tag)
        self.orders[order.cloid] = order
        return order

    def _place_command(self, orders: list[TrackedOrder], now_ms: int) -> PlaceOrders:
        rid, exp = self._register("place", [o.cloid for o in orders], now_ms)
        for o in orders:
            o.expires_after_ms = exp
        return PlaceOrders(
            request_id=rid,
            expires_after_ms=exp,
            orders=tuple(
                OrderRequest(cloid=o.cloid, coin=o.coin, side=o.side, px=o.px, sz=o.sz,
                             tif=o.tif, reduce_only=o.reduce_only)
                for o in orders
            ),
        )

    def cancel(self, intent: CancelOrder, now_ms: int) -> list[Action]:
        """Cancel one tracked order (by oid when known, else by cloid)."""
        order = self.orders.get(intent.cloid)
        if order is None:
            return self._bad(f"cancel refused: unknown cloid {intent.cloid}")
        cmd = self._cancel_command([order], now_ms)
        return [cmd] if cmd else []

    def cancel_all(self, intent: CancelAll, now_ms: int) -> list[Action]:
        """Cancel every non-terminal order (of ``intent.coin`` if given)."""
        targets = [
            o for o in self.orders.values()
            if not o.state.is_terminal and (intent.coin is None or o.coin == intent.coin)
        ]
        cmd = self._cancel_command(targets, now_ms)
        actions: list[Action] = [cmd] if cmd else []
        # Orders the exchange lists that this book does not track are ours too: "all" includes
        # them, without waiting for their grace (nothing is wanted any more).
        orphans = [(oid, o) for oid, o in self.orphans.items()
                   if o.cancel_sent_ms is None and (intent.coin is None or o.coin == intent.coin)]
        if orphans:
            rid, exp = self._register("cancel", [], now_ms)
            self.requests[rid].remaining = len(orphans)
            for _, o in orphans:
                o.cancel_sent_ms = now_ms
            actions.append(CancelOrders(request_id=rid, expires_after_ms=exp, cancels=tuple(
                CancelRequest(coin=o.coin, cloid=o.cloid, oid=oid) for oid, o in orphans)))
        return actions

    def _cancel_command(self, orders: list[TrackedOrder], now_ms: int) -> CancelOrders | None:
        chosen: list[TrackedOrder] = []
        for o in orders:
            if o.state.is_terminal:
                continue
            if o.state is OrderState.PENDING_CANCEL and o.inflight is not None:
                continue  # a cancel is already on its way
            o.cancel_wanted = True
            if not self._transition(o, Ev.CANCEL_SENT, now_ms):
                continue
            chosen.append(o)
        if not chosen:
            return None
        rid, exp = self._register("cancel", [o.cloid for o in chosen], now_ms)
        return CancelOrders(
            request_id=rid,
            expires_after_ms=exp,
            cancels=tuple(
                CancelRequest(coin=o.coin, cloid=o.cloid,
                              oid=o.oid if o.state is not OrderState.UNKNOWN else None)
                for o in chosen
            ),
        )

    def modify(self, intent: ModifyOrder, now_ms: int) -> list[Action]:
        """Move a resting order to a new px/sz with ``batchModify`` (cancel-replace)."""
        order = self.orders.get(intent.cloid)
        if order is None:
            return self._bad(f"modify refused: unknown cloid {intent.cloid}")
        reason = self._check_order(order.coin, order.side, intent.px, intent.sz, order.tif)
        if reason:
            return self._bad(f"modify refused: {reason}")
        cmd = self._modify_command([(order, intent.px, intent.sz)], now_ms)
        return [cmd] if cmd else []

    def modifiable(self, order: TrackedOrder) -> bool:
        """True when ``order`` rests with an oid and no request is outstanding on it."""
        return (
            order.state in (OrderState.RESTING, OrderState.PARTIALLY_FILLED)
            and order.oid is not None
            and order.inflight is None
        )

    def _modify_command(self, items: list[tuple[TrackedOrder, Decimal, Decimal]],
                        now_ms: int) -> ModifyOrders | None:
        chosen = []
        for order, px, sz in items:
            if not self.modifiable(order):
                self._note(NoteKind.BAD_INPUT,
                           f"modify skipped: cloid={order.cloid} state={order.state.value}")
                continue
            self._transition(order, Ev.MODIFY_SENT, now_ms)
            order.pending_px, order.pending_sz = px, sz
            chosen.append(order)
        if not chosen:
            return None
        rid, exp = self._register("modify", [o.cloid for o in chosen], now_ms)
        mods = []
        for o in chosen:
            o.expires_after_ms = exp
            assert o.oid is not None and o.pending_px is not None and o.pending_sz is not None
            mods.append(ModifyRequest(oid=o.oid, order=OrderRequest(
                cloid=o.cloid, coin=o.coin, side=o.side, px=o.pending_px, sz=o.pending_sz,
                tif=o.tif, reduce_only=o.reduce_only)))
        return ModifyOrders(request_id=rid, expires_after_ms=exp, modifies=tuple(mods))

    def target_ladder(self, intent: TargetLadder, now_ms: int) -> list[Action]:
        """Diff ``intent`` against the tracked orders of its coin (see :mod:`.ladder`)."""
        from hlmaker.orders.ladder import diff_ladder

        return diff_ladder(self, intent, now_ms)

    def schedule_cancel(self, at_ms: int | None, now_ms: int) -> list[Action]:
        """Arm (or clear, with ``None``) the exchange's dead-man switch."""
        rid = self._request_id()
        return [ScheduleCancel(request_id=rid, expires_after_ms=now_ms + self.config.action_ttl_ms,
                               at_ms=at_ms)]

    def flush_cancels(self, now_ms: int) -> list[Action]:
        """Cancels for orders we asked to cancel that the exchange has since shown alive (the
        cancel lost a race with the placement, or the placement's outcome was unknown)."""
        orders = [self.orders[c] for c in sorted(self._resend_cancel) if c in self.orders]
        self._resend_cancel.clear()
        orders = [o for o in orders if o.inflight is None and not o.state.is_terminal
                  and o.state is not OrderState.UNKNOWN]
        for o in orders:
            if o.state is OrderState.PENDING_CANCEL:
                o.state = OrderState.RESTING if o.leg_filled == 0 else OrderState.PARTIALLY_FILLED
        cmd = self._cancel_command(orders, now_ms)
        return [cmd] if cmd else []

