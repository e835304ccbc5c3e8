"""Inputs and outputs of the engine: order requests, and the effects a mutating call returns.

Units: ``px`` quote currency, ``sz`` coin, times ms since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hlmaker.sim.accounts import FillRecord
from hlmaker.sim.triggers import TriggerSpec


@dataclass(frozen=True)
class OrderEntry:
    """An order as placed: ``px``/``sz`` as wire strings (or Decimals); ``asset`` id. A trigger
    (TP/SL) order has ``tif="Trigger"`` and its ``trigger`` (§4.2)."""

    asset: int
    is_buy: bool
    px: str | Decimal
    sz: str | Decimal
    reduce_only: bool = False
    tif: str = "Gtc"
    cloid: str | None = None
    trigger: TriggerSpec | None = None
    builder: tuple[str, int] | None = None
    """(builder address, fee in tenths of a basis point) from the action's ``builder``."""


@dataclass(frozen=True)
class ModifyEntry:
    """One element of ``batchModify``: the order to replace (oid or cloid) and its replacement."""

    oid: int | str
    order: OrderEntry


@dataclass(frozen=True)
class OrderEvent:
    """A status change of an order, as pushed on ``orderUpdates`` (§6.3)."""

    user: str
    coin: str
    oid: int
    status: str
    status_ts: int
    wire: dict[str, Any]
    """``{"order": {...}, "status": ..., "statusTimestamp": ...}``."""


@dataclass
class Effects:
    """What a mutating call did: per-user order events and fills, system cancels, trades, and
    the coins whose book changed (an insertion-ordered dict used as an ordered set)."""

    order_events: list[OrderEvent] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    non_user_cancels: list[tuple[str, str, int]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    books: dict[str, None] = field(default_factory=dict)

    def extend(self, other: Effects) -> None:
        """Append ``other`` after this one."""
        self.order_events.extend(other.order_events)
        self.fills.extend(other.fills)
        self.non_user_cancels.extend(other.non_user_cancels)
        self.trades.extend(other.trades)
        self.books.update(other.books)

    def __bool__(self) -> bool:
        return bool(self.order_events or self.fills or self.non_user_cancels or self.books)
