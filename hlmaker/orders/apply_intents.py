"""Intents → commands: the part of the order core that strategies drive.

Plain functions over an :class:`~hlmaker.orders.registry.OrderRegistry`. Every new order is
registered as pending under a fresh cloid *before* its command is returned (so a fill for it can
only be handled after it is tracked); every command carries a request id and the
``expiresAfter`` the book chose (issue time + ``action_ttl_ms``, ms since the epoch: the exchange
drops an action it receives after that). Refused intents (unknown coin, bad px/sz, caps reached)
are bad input: counted, noted, ``[]`` — never raised. Prices are in quote currency, sizes in
coin, both exact :class:`~decimal.Decimal`.
"""

from __future__ import annotations

from decimal import Decimal

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
)
from hlmaker.orders.actions import Action
from hlmaker.orders.records import NoteKind
from hlmaker.orders.registry import OrderRegistry
from hlmaker.orders.states import Ev, OrderState
from hlmaker.orders.tracked import TrackedOrder


def place(reg: OrderRegistry, intent: PlaceOrder, now_ms: int) -> list[Action]:
    """Register a pending order for ``intent``; return ``[PlaceOrders]`` (one order), or
    ``[]`` when refused (see :func:`check_order`, :func:`new_order`)."""
    reason = check_order(reg, intent.coin, intent.side, intent.px, intent.sz, intent.tif)
    if reason:
        return reg.bad(f"place refused: {reason} intent={intent!r}")
    order = new_order(reg, intent.coin, intent.side, intent.px, intent.sz, intent.tif,
                      intent.reduce_only, intent.tag, now_ms)
    if order is None:
        return []
    return [place_command(reg, [order], now_ms)]


def check_order(reg: OrderRegistry, coin: str, side: str, px: Decimal, sz: Decimal,
                tif: str) -> str:
    """Why an order of ``sz`` coin at ``px`` (quote currency) would be refused, or ``""``:
    a coin outside ``config.coins``, a side other than ``B``/``A``, an unknown time in force,
    a px or sz that is not a finite positive Decimal."""
    coins = reg.config.coins
    if coins is not None and coin not in coins:
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


def new_order(reg: OrderRegistry, coin: str, side: str, px: Decimal, sz: Decimal, tif: str,
              reduce_only: bool, tag: str, now_ms: int) -> TrackedOrder | None:
    """Track a new ``PENDING_NEW`` order under a fresh cloid; ``None`` (bad input, noted)
    when ``max_open_orders_per_coin`` is reached, or ``max_tracked_orders`` even after
    evicting the oldest terminal orders."""
    open_here = reg.open_orders_on(coin)
    if open_here >= reg.config.max_open_orders_per_coin:
        reg.bad(f"place refused: {open_here} open orders on {coin} (cap reached)")
        return None
    if len(reg.orders) >= reg.config.max_tracked_orders:
        reg.evict(now_ms, force=True)
        if len(reg.orders) >= reg.config.max_tracked_orders:
            reg.bad("place refused: tracked-order cap reached")
            return None
    order = TrackedOrder(cloid=reg.new_cloid(), coin=coin, side=side,  # type: ignore[arg-type]
                         px=px, sz=sz, tif=tif, reduce_only=reduce_only,  # type: ignore[arg-type]
                         created_ms=now_ms, tag=tag)
    reg.add_order(order)
    return order


def place_command(reg: OrderRegistry, orders: list[TrackedOrder], now_ms: int) -> PlaceOrders:
    """One :class:`PlaceOrders` (one exchange ``order`` action) for pending ``orders``; the
    request is registered and its ``expiresAfter`` recorded on each order."""
    rid, exp = reg.open_request("place", [o.cloid for o in orders], now_ms)
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


def cancel(reg: OrderRegistry, intent: CancelOrder, now_ms: int) -> list[Action]:
    """Cancel one tracked order (by oid when known, else by cloid): ``[CancelOrders]``, or
    ``[]`` when it is terminal or already being cancelled; an unknown cloid is bad input."""
    order = reg.orders.get(intent.cloid)
    if order is None:
        return reg.bad(f"cancel refused: unknown cloid {intent.cloid}")
    cmd = cancel_command(reg, [order], now_ms)
    return [cmd] if cmd else []


def cancel_all(reg: OrderRegistry, intent: CancelAll, now_ms: int) -> list[Action]:
    """Cancel every non-terminal order (of ``intent.coin`` if given) and every orphan not
    already being cancelled — "all" includes orders the exchange lists and this book does not
    track, without waiting for their grace. Up to two :class:`CancelOrders`."""
    targets = [
        o for o in reg.orders.values()
        if not o.state.is_terminal and (intent.coin is None or o.coin == intent.coin)
    ]
    cmd = cancel_command(reg, targets, now_ms)
    actions: list[Action] = [cmd] if cmd else []
    orphans = [(oid, o) for oid, o in reg.orphans.items()
               if o.cancel_sent_ms is None and (intent.coin is None or o.coin == intent.coin)]
    if orphans:
        rid, exp = reg.open_request("cancel", [], now_ms, parts=len(orphans))
        for _, o in orphans:
            o.cancel_sent_ms = now_ms
        actions.append(CancelOrders(request_id=rid, expires_after_ms=exp, cancels=tuple(
            CancelRequest(coin=o.coin, cloid=o.cloid, oid=oid) for oid, o in orphans)))
    return actions


def cancel_command(reg: OrderRegistry, orders: list[TrackedOrder],
                   now_ms: int) -> CancelOrders | None:
    """One :class:`CancelOrders` for those of ``orders`` that can take a cancel now (not
    terminal, no cancel already on its way); each is marked as wanting a cancel and moved by
    ``CANCEL_SENT`` — except an order whose modify is in flight: marked only, its cancel goes
    out when the modify's outcome arrives (by the new oid if it landed). Cancels by oid, by
    cloid when the oid is not known or the order's outcome is unknown (the exchange accepts
    either). ``None`` when nothing is to be sent."""
    chosen: list[TrackedOrder] = []
    for o in orders:
        if o.state.is_terminal:
            continue
        if o.state is OrderState.PENDING_CANCEL and o.inflight is not None:
            continue  # a cancel is already on its way
        o.cancel_wanted = True
        if o.state is OrderState.PENDING_MODIFY and reg.inflight_kind(o) == "modify":
            # A cancel by the old oid races the replace: it fails once the modify has landed,
            # and the old leg's `canceled` (the replace itself) would then finalize an order
            # whose new leg rests untracked (found by tests/test_maker.py's book-crash test at
            # shutdown). Wanted now, sent when the modify's outcome settles (the state tables'
            # Flag.CANCEL_UNSENT: a resend on MODIFY_OK / MODIFY_REJECTED).
            continue
        if not reg.transition(o, Ev.CANCEL_SENT, now_ms):
            continue
        chosen.append(o)
    if not chosen:
        return None
    rid, exp = reg.open_request("cancel", [o.cloid for o in chosen], now_ms)
    return CancelOrders(
        request_id=rid,
        expires_after_ms=exp,
        cancels=tuple(
            CancelRequest(coin=o.coin, cloid=o.cloid,
                          oid=o.oid if o.state is not OrderState.UNKNOWN else None)
            for o in chosen
        ),
    )


def modify(reg: OrderRegistry, intent: ModifyOrder, now_ms: int) -> list[Action]:
    """Move a resting order to a new px/sz with ``batchModify`` (Hyperliquid's modify is
    cancel-replace: a new oid under the same cloid): ``[ModifyOrders]`` or ``[]`` (an unknown
    cloid or a bad px/sz is bad input; an order not :func:`modifiable` is noted)."""
    order = reg.orders.get(intent.cloid)
    if order is None:
        return reg.bad(f"modify refused: unknown cloid {intent.cloid}")
    reason = check_order(reg, order.coin, order.side, intent.px, intent.sz, order.tif)
    if reason:
        return reg.bad(f"modify refused: {reason}")
    cmd = modify_command(reg, [(order, intent.px, intent.sz)], now_ms)
    return [cmd] if cmd else []


def modifiable(order: TrackedOrder) -> bool:
    """True when ``order`` rests with an oid and no request is outstanding on it."""
    return (
        order.state in (OrderState.RESTING, OrderState.PARTIALLY_FILLED)
        and order.oid is not None
        and order.inflight is None
    )


def modify_command(reg: OrderRegistry, items: list[tuple[TrackedOrder, Decimal, Decimal]],
                   now_ms: int) -> ModifyOrders | None:
    """One :class:`ModifyOrders` moving each ``(order, px, sz)`` that is :func:`modifiable`
    (others are noted and skipped); each goes ``MODIFY_SENT`` and keeps the new px/sz as
    pending until the new oid is seen. ``None`` when nothing is to be sent."""
    chosen = []
    for order, px, sz in items:
        if not modifiable(order):
            reg.note(NoteKind.BAD_INPUT,
                     f"modify skipped: cloid={order.cloid} state={order.state.value}")
            continue
        reg.transition(order, Ev.MODIFY_SENT, now_ms)
        order.pending_px, order.pending_sz = px, sz
        chosen.append(order)
    if not chosen:
        return None
    rid, exp = reg.open_request("modify", [o.cloid for o in chosen], now_ms)
    mods = []
    for o in chosen:
        o.expires_after_ms = exp
        assert o.oid is not None and o.pending_px is not None and o.pending_sz is not None
        mods.append(ModifyRequest(oid=o.oid, order=OrderRequest(
            cloid=o.cloid, coin=o.coin, side=o.side, px=o.pending_px, sz=o.pending_sz,
            tif=o.tif, reduce_only=o.reduce_only)))
    return ModifyOrders(request_id=rid, expires_after_ms=exp, modifies=tuple(mods))


def schedule_cancel(reg: OrderRegistry, at_ms: int | None, now_ms: int) -> list[Action]:
    """Arm the exchange's dead-man switch (``scheduleCancel``: every open order is cancelled at
    ``at_ms``, ms since the epoch) or clear it (``None``): ``[ScheduleCancel]``."""
    rid = reg.next_request_id()
    return [ScheduleCancel(request_id=rid, expires_after_ms=now_ms + reg.config.action_ttl_ms,
                           at_ms=at_ms)]


def flush_cancels(reg: OrderRegistry, now_ms: int) -> list[Action]:
    """Cancels for orders we asked to cancel that the exchange has since shown alive (the
    cancel lost a race with the placement, or the placement's outcome was unknown): the
    state tables flag them (:attr:`~hlmaker.orders.states.Flag.CANCEL_UNSENT`). Orders with a
    request in flight, terminal or ``UNKNOWN`` wait. ``[CancelOrders]`` or ``[]``."""
    orders = [o for o in reg.take_cancel_resends() if o.inflight is None
              and not o.state.is_terminal and o.state is not OrderState.UNKNOWN]
    cmd = cancel_command(reg, orders, now_ms)
    return [cmd] if cmd else []
