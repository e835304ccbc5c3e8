"""Trigger (TP/SL) orders of the simulator: what they are, when they fire, how they are shown.

Pure helpers used by :mod:`hlmaker.sim.engine` (which owns the orders and executes a trigger
when it fires). Sources: ``../shared/hyperliquid-protocol.md`` §4.2 (the wire ``t.trigger``
object and the groupings), §4.3 (``waitingForFill``/``waitingForTrigger`` replies), §2.6 and
§2.10 (``orderType``, ``triggerCondition`` and the other frontend fields), §9 (cancelling a
parent cancels its children); the recorded ``frontendOpenOrders`` of the SDK cassette (a sell
stop "Price below 9.995", a sell take-profit "Price above 10.004") and ccxt's buy stop-limit
("Price above 0.6").

Rules (prices in quote currency):

* a ``sl`` sell and a ``tp`` buy fire when the mark falls to the trigger price or below
  ("Price below X"); a ``tp`` sell and a ``sl`` buy when it rises to it or above
  ("Price above X") — ⚠ whether touching the price fires is not documented; here it does;
* ``isMarket`` executes as an immediate-or-cancel order bounded by the order's limit price (the
  worst price the placer accepts), otherwise the order goes to the book at its limit price;
* ``orderType`` is ``"Stop Market"``, ``"Stop Limit"``, ``"Take Profit Market"`` or
  ``"Take Profit Limit"``; ``tif`` is null until the order fires;
* a trigger order waits off the book, holding no margin: ``waitingForTrigger``, or, as a
  ``normalTpsl`` child, ``waitingForFill`` until its parent has a fill (cancelled with a parent
  that ends unfilled, §9). Alone it answers ``{"resting": {"oid"}}``; in a group the bare
  waiting status (§4.3);
* when it fires ``orderUpdates`` pushes ``triggered`` and it executes: a market trigger as an
  IOC bounded by its limit price (``filled``; ``canceled`` for an unfilled rest;
  ``marketOrderNoLiquidityRejected`` when nothing traded), a limit trigger rests (``open``) or
  fills. When a ``normalTpsl`` child trades its waiting siblings end ``siblingFilledCanceled``;
* a ``positionTpsl`` order closes the whole position when it fires; grouped reduce-only TP/SL
  end ``reduceOnlyCanceled`` once their position is closed (or flipped).

Assumptions (⚠, unconfirmed on the live venue): the waiting statuses are what ``orderStatus``
and ``orderUpdates`` (the basic ``WsOrder`` shape, §6.3) report for a waiting order; the
reduce-only rule is checked at placement (unless the order waits for its parent) and again
when it fires; a fired order skips the margin check; a fired limit trigger shows
``isTrigger: false``; the children of a refused parent are refused with the parent's error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from hlmaker.sim.rules import fmt

if TYPE_CHECKING:
    from hlmaker.sim.accounts import Account
    from hlmaker.sim.matching import Order

Tpsl = Literal["tp", "sl"]
Grouping = Literal["na", "normalTpsl", "positionTpsl"]
GROUPINGS: tuple[Grouping, ...] = ("na", "normalTpsl", "positionTpsl")

WAITING_FOR_FILL = "waitingForFill"
"""A TP/SL child (grouping ``normalTpsl``) whose parent has not filled yet: not armed."""
WAITING_FOR_TRIGGER = "waitingForTrigger"
"""An armed trigger order: fires when the mark crosses its trigger price."""
WAITING = (WAITING_FOR_FILL, WAITING_FOR_TRIGGER)


@dataclass(frozen=True)
class TriggerSpec:
    """The ``t.trigger`` object of an order wire as placed (§4.2): ``trigger_px`` is the wire
    string (or a Decimal); the engine validates it like a limit price."""

    trigger_px: str | Decimal
    is_market: bool
    tpsl: Tpsl


@dataclass(frozen=True)
class Trigger:
    """A validated trigger of an order: fires on the mark price crossing ``trigger_px``."""

    trigger_px: Decimal
    is_market: bool
    tpsl: Tpsl

    def fires_below(self, side: str) -> bool:
        """True when the order fires on the mark falling to ``trigger_px`` (a sell stop, a buy
        take-profit); False when it fires on the mark rising to it."""
        return (self.tpsl == "sl") == (side == "A")

    def is_due(self, side: str, mark: Decimal) -> bool:
        """True when ``mark`` (quote currency) has reached the trigger price."""
        if self.fires_below(side):
            return mark <= self.trigger_px
        return mark >= self.trigger_px

    def condition(self, side: str) -> str:
        """The exchange's ``triggerCondition`` text, e.g. ``"Price below 9.995"``."""
        word = "below" if self.fires_below(side) else "above"
        return f"Price {word} {fmt(self.trigger_px)}"

    def order_type(self) -> str:
        """The exchange's ``orderType``: ``"Stop Market"``, ``"Take Profit Limit"``, …"""
        name = "Stop" if self.tpsl == "sl" else "Take Profit"
        return f"{name} {'Market' if self.is_market else 'Limit'}"


def group_roles(is_trigger: list[bool], grouping: Grouping) -> list[int | None]:
    """For each order of a batch, the index of its parent in the batch (grouping
    ``normalTpsl``: the first order is the parent when it is not a trigger, the trigger orders
    after it are its children), else ``None``. Under ``na`` and ``positionTpsl`` no order has a
    parent; a ``normalTpsl`` batch without a plain first order is taken as ``na`` ⚠."""
    roles: list[int | None] = [None] * len(is_trigger)
    if grouping != "normalTpsl" or not is_trigger or is_trigger[0]:
        return roles
    for i in range(1, len(is_trigger)):
        if is_trigger[i]:
            roles[i] = 0
    return roles


FIRE = "fire"
"""The action :meth:`WaitingTriggers.next_action` returns for an order whose trigger the mark
reached (any other action is the terminal status to end the order with)."""


class WaitingTriggers:
    """Every waiting trigger order of the simulated exchange, all users, by oid (placement
    order, hence a deterministic firing order). The engine adds an order when it accepts it,
    discards it when it ends or fires, and asks :meth:`next_action` until nothing is left to
    do after every call that moves a book or a position."""

    def __init__(self) -> None:
        self._orders: dict[int, tuple[Account, Order]] = {}

    def __bool__(self) -> bool:
        return bool(self._orders)

    def __contains__(self, oid: object) -> bool:
        return oid in self._orders

    def add(self, acct: Account, order: Order) -> None:
        """Track ``order`` (of ``acct``), which waits with a ``trigger``."""
        self._orders[order.oid] = (acct, order)

    def discard(self, oid: int) -> bool:
        """Stop tracking ``oid``; True if it was tracked."""
        return self._orders.pop(oid, None) is not None

    def next_action(self, mark: Callable[[str], Decimal],
                    now_ms: int) -> tuple[str, Account, Order] | None:
        """The first order needing the engine, with what to do: :data:`FIRE`, or the status to
        end it with — ``canceled`` (a ``normalTpsl`` child whose parent ended unfilled, §9),
        ``reduceOnlyCanceled`` (a grouped reduce-only TP/SL whose position closed or flipped).
        Children whose parent has filled are armed (``waitingForTrigger``) on the way.
        ``mark(coin)`` is the mark price in quote currency. ``None`` when nothing is due."""
        for acct, order in self._orders.values():
            parent = order.parent
            if order.status == WAITING_FOR_FILL and parent is not None:
                if parent.orig_sz > parent.sz or parent.status == "filled":
                    order.status = WAITING_FOR_TRIGGER
                    order.status_ts = now_ms
                elif parent.status != "open":
                    return "canceled", acct, order
                continue
            if order.reduce_only and (order.position_tpsl or parent is not None):
                pos = acct.positions[order.coin].szi if order.coin in acct.positions else 0
                if pos == 0 or (pos > 0) == (order.side == "B"):
                    return "reduceOnlyCanceled", acct, order
            assert order.trigger is not None
            if order.trigger.is_due(order.side, mark(order.coin)):
                return FIRE, acct, order
        return None
