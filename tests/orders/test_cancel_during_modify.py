"""A cancel wanted while a modify (cancel-replace) is in flight waits for the modify's outcome:
sent by the old oid it would race the replace, and the old leg's `canceled` (the replace itself)
would finalize an order whose new leg rests untracked (an orphan of our own)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from hlmaker.messages import (
    CancelAll,
    CancelOrders,
    ModifyOrder,
    ModifyOrders,
    ModifyRejected,
    ModifyResting,
    OrderResting,
    PlaceOrder,
    PlaceOrders,
)
from hlmaker.orders import BookConfig, OrderBookCore, OrderState

from .helpers import EPOCH, open_row, snapshot, update

D = Decimal


def modifying() -> tuple[OrderBookCore, str, ModifyOrders]:
    core = OrderBookCore(BookConfig(coins=("BTC",)), random.Random(1))
    core.handle(snapshot(EPOCH), EPOCH)
    (place,) = core.handle(PlaceOrder(coin="BTC", side="B", px=D(100), sz=D(1)), EPOCH)
    assert isinstance(place, PlaceOrders)
    cloid = place.orders[0].cloid
    core.handle(OrderResting(request_id=place.request_id, cloid=cloid, oid=7), EPOCH + 1)
    (mod,) = core.handle(ModifyOrder(cloid=cloid, px=D(99), sz=D(1)), EPOCH + 2)
    assert isinstance(mod, ModifyOrders)
    return core, cloid, mod


def cancelled_oids(actions: list[object]) -> list[int | None]:
    return [c.oid for a in actions if isinstance(a, CancelOrders) for c in a.cancels]


def test_a_cancel_during_a_modify_goes_to_the_new_leg_once_the_modify_landed() -> None:
    core, cloid, mod = modifying()
    assert cancelled_oids(core.handle(CancelAll(), EPOCH + 3)) == []  # waits for the modify
    assert core.orders[cloid].cancel_wanted
    core.handle(update(7, "canceled", cloid=cloid), EPOCH + 4)  # the replace itself
    assert core.orders[cloid].state is OrderState.PENDING_MODIFY
    actions = core.handle(ModifyResting(request_id=mod.request_id, cloid=cloid, old_oid=7,
                                        new_oid=8), EPOCH + 5)
    assert cancelled_oids(actions) == [8]
    assert core.orders[cloid].state is OrderState.PENDING_CANCEL
    core.handle(snapshot(EPOCH + 6_000, (open_row(8, cloid=cloid, px="99"),)), EPOCH + 6_000)
    assert core.orphans == {} and core.counters.illegal_transitions == 0


@pytest.mark.parametrize("old_leg_canceled", [False, True])
def test_a_cancel_during_a_refused_modify_goes_to_the_old_leg(old_leg_canceled: bool) -> None:
    core, cloid, mod = modifying()
    core.handle(CancelAll(), EPOCH + 3)
    if old_leg_canceled:  # the exchange cancelled it meanwhile: nothing rests, nothing to send
        core.handle(update(7, "canceled", cloid=cloid), EPOCH + 4)
    actions = core.handle(ModifyRejected(request_id=mod.request_id, cloid=cloid, old_oid=7,
                                         error="Order was never placed"), EPOCH + 5)
    if old_leg_canceled:
        assert cancelled_oids(actions) == []
        assert core.orders[cloid].state is OrderState.CANCELED
    else:
        assert cancelled_oids(actions) == [7]
        assert core.orders[cloid].state is OrderState.PENDING_CANCEL
