"""Ladder diffing: turn a strategy's :class:`~hlmaker.messages.TargetLadder` into the fewest
commands against the orders the book tracks.

Per side, best level first:

1. an order already resting (or on its way) at a wanted ``px`` with the wanted size is kept;
2. remaining wanted levels are paired with remaining *modifiable* orders (resting, oid known,
   nothing in flight) and moved with one ``batchModify`` (cancel-replace keeps the cloid);
3. modifiable orders left over are cancelled in one ``cancel``; wanted levels left over are
   placed in one ``order`` action.

Orders with a request in flight or an unknown outcome are never touched here: they keep their
slot until the exchange says what became of them, so a ladder is never doubled by a retry.
"""

from __future__ import annotations

from decimal import Decimal

from hlmaker.messages import Level, TargetLadder
from hlmaker.orders.actions import Action
from hlmaker.orders.apply_intents import (
    cancel_command,
    check_order,
    modifiable,
    modify_command,
    new_order,
    place_command,
)
from hlmaker.orders.registry import OrderRegistry
from hlmaker.orders.states import OrderState
from hlmaker.orders.tracked import TrackedOrder


def _target(o: TrackedOrder) -> tuple[Decimal, Decimal]:
    if o.pending_px is not None and o.pending_sz is not None:
        return o.pending_px, o.pending_sz
    return o.px, o.remaining


def diff_ladder(reg: OrderRegistry, intent: TargetLadder, now_ms: int) -> list[Action]:
    """The commands that move the tracked orders of ``intent.coin`` to ``intent``'s levels
    (prices in quote currency, sizes in coin; bids best first = highest px): at most one
    :class:`~hlmaker.messages.CancelOrders`, one :class:`~hlmaker.messages.ModifyOrders` and one
    :class:`~hlmaker.messages.PlaceOrders`, in that order. A level with a bad px/sz, or a coin
    outside ``config.coins``, refuses the whole ladder (bad input, ``[]``)."""
    for lv in (*intent.bids, *intent.asks):
        reason = check_order(reg, intent.coin, "B", lv.px, lv.sz, intent.tif)
        if reason:
            return reg.bad(f"ladder refused: {reason}")
    to_cancel: list[TrackedOrder] = []
    to_modify: list[tuple[TrackedOrder, Decimal, Decimal]] = []
    to_place: list[tuple[str, Level]] = []
    for side, levels in (("B", intent.bids), ("A", intent.asks)):
        existing = [
            o for o in reg.orders.values()
            if o.coin == intent.coin and o.side == side and not o.state.is_terminal
            and o.state is not OrderState.PENDING_CANCEL and not o.cancel_wanted
        ]
        wanted = list(levels)
        free: list[TrackedOrder] = []
        for o in existing:
            px, sz = _target(o)
            match = next((lv for lv in wanted if lv.px == px and lv.sz == sz), None)
            if match is not None:
                wanted.remove(match)
            else:
                free.append(o)
        movable = [o for o in free if modifiable(o)]
        busy = len(free) - len(movable)
        # Busy orders keep their slot: place fewer so the ladder is never doubled.
        wanted = wanted[: max(0, len(wanted) - busy)] if busy else wanted
        reverse = side == "B"
        movable.sort(key=lambda o: o.px, reverse=reverse)
        for o, lv in zip(movable, wanted, strict=False):
            to_modify.append((o, lv.px, lv.sz))
        to_cancel += movable[len(wanted):]
        to_place += [(side, lv) for lv in wanted[len(movable):]]
    actions: list[Action] = []
    cancel = cancel_command(reg, to_cancel, now_ms)
    if cancel is not None:
        actions.append(cancel)
    modify = modify_command(reg, to_modify, now_ms)
    if modify is not None:
        actions.append(modify)
    new_orders = []
    for side, lv in to_place:
        o = new_order(reg, intent.coin, side, lv.px, lv.sz, intent.tif, False, "ladder", now_ms)
        if o is not None:
            new_orders.append(o)
    if new_orders:
        actions.append(place_command(reg, new_orders, now_ms))
    return actions
