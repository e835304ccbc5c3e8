"""Order records and the per-coin limit order book with price-time priority.

Pure data structures: no clock, no I/O. Prices are :class:`~decimal.Decimal` in quote currency,
sizes in coin, times in ms since the epoch. The engine (:mod:`hlmaker.sim.engine`) is the only
mutator.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from hlmaker.sim.rules import fmt
from hlmaker.sim.triggers import WAITING, Trigger

Side = Literal["B", "A"]
Tif = Literal["Alo", "Ioc", "Gtc"]


@dataclass(eq=False)
class Order:
    """One order as the exchange records it.

    ``sz`` is the remaining size, ``orig_sz`` the size at placement (after a reduce-only clamp).
    ``status`` follows the exchange vocabulary (§2.10): ``open``, ``filled``, ``canceled``,
    ``*Rejected``, ``*Canceled``, ``scheduledCancel``, and for trigger orders
    ``waitingForFill``/``waitingForTrigger``, ``triggered``.

    A trigger order (:mod:`hlmaker.sim.triggers`) carries ``trigger`` and waits off the book
    until it fires (``triggered`` becomes true; ``tif`` is then ``Ioc`` for a market trigger,
    ``Gtc`` for a limit one). ``position_tpsl`` marks grouping ``positionTpsl``; ``parent`` and
    ``children`` link a ``normalTpsl`` parent and its TP/SL.
    """

    oid: int
    user: str
    coin: str
    asset: int
    side: Side
    limit_px: Decimal
    sz: Decimal
    orig_sz: Decimal
    timestamp: int
    tif: Tif
    reduce_only: bool = False
    cloid: str | None = None
    status: str = "open"
    status_ts: int = 0
    trigger: Trigger | None = None
    triggered: bool = False
    position_tpsl: bool = False
    parent: Order | None = field(default=None, repr=False)
    children: tuple[Order, ...] = field(default=(), repr=False)

    @property
    def waiting(self) -> bool:
        """True while a trigger order waits for its trigger (or its parent's fill)."""
        return self.trigger is not None and self.status in WAITING
    builder: tuple[str, int] | None = None
    """(builder address, fee in tenths of a basis point) the order pays on its fills."""

    def wire(self) -> dict[str, Any]:
        """The basic order shape of ``openOrders`` / ``orderUpdates`` (§2.5, §6.3); ``cloid`` and
        ``reduceOnly`` only when present/true."""
        out: dict[str, Any] = {
            "coin": self.coin,
            "side": self.side,
            "limitPx": fmt(self.limit_px),
            "sz": fmt(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "origSz": fmt(self.orig_sz),
        }
        if self.cloid is not None:
            out["cloid"] = self.cloid
        if self.reduce_only:
            out["reduceOnly"] = True
        return out

    def wire_frontend(self) -> dict[str, Any]:
        """The ``frontendOpenOrders`` / ``orderStatus`` shape (§2.6, §2.10); ``cloid`` is null when
        the order has none. A trigger order shows ``isTrigger`` (while it waits), its
        ``triggerPx`` and ``triggerCondition``, ``tif`` null until it fires, and its
        ``orderType``; a parent lists its TP/SL children that still wait (§2.6: the SDK cassette
        nests them and also lists them at top level). ⚠ A fired limit trigger resting on the
        book is shown with ``isTrigger: false`` and its original ``orderType``."""
        trig = self.trigger
        return {
            "coin": self.coin,
            "side": self.side,
            "limitPx": fmt(self.limit_px),
            "sz": fmt(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "triggerCondition": trig.condition(self.side) if trig else "N/A",
            "isTrigger": trig is not None and not self.triggered,
            "triggerPx": fmt(trig.trigger_px) if trig else "0.0",
            "children": [c.wire_frontend() for c in self.children if c.waiting],
            "isPositionTpsl": self.position_tpsl,
            "reduceOnly": self.reduce_only,
            "orderType": trig.order_type() if trig else "Limit",
            "origSz": fmt(self.orig_sz),
            "tif": None if trig is not None and not self.triggered else self.tif,
            "cloid": self.cloid,
        }

    def status_wire(self) -> dict[str, Any]:
        """``{"order": …, "status": …, "statusTimestamp": …}`` of ``orderUpdates`` (§6.3)."""
        return {"order": self.wire(), "status": self.status, "statusTimestamp": self.status_ts}


@dataclass
class BookSide:
    """One side of a book: price levels, each a FIFO (insertion-ordered dict oid → order)."""

    is_bid: bool
    prices: list[Decimal] = field(default_factory=list)  # ascending
    levels: dict[Decimal, dict[int, Order]] = field(default_factory=dict)

    def best(self) -> Decimal | None:
        """Best price (highest bid / lowest ask), or ``None`` when empty."""
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def add(self, order: Order) -> None:
        """Append ``order`` at the back of its price level (time priority)."""
        level = self.levels.get(order.limit_px)
        if level is None:
            level = {}
            self.levels[order.limit_px] = level
            bisect.insort(self.prices, order.limit_px)
        level[order.oid] = order

    def remove(self, order: Order) -> None:
        """Remove ``order`` from its level (no-op when absent)."""
        level = self.levels.get(order.limit_px)
        if level is None or level.pop(order.oid, None) is None:
            return
        if not level:
            del self.levels[order.limit_px]
            i = bisect.bisect_left(self.prices, order.limit_px)
            del self.prices[i]

    def levels_best_first(self) -> Iterator[tuple[Decimal, dict[int, Order]]]:
        """Iterate ``(px, level)`` from the best price outwards."""
        seq = reversed(self.prices) if self.is_bid else iter(self.prices)
        for px in list(seq):
            level = self.levels.get(px)
            if level:
                yield px, level

    def depth(self, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` aggregated levels ``{"px","sz","n"}``, best first (§2.4)."""
        out: list[dict[str, Any]] = []
        for px, level in self.levels_best_first():
            total = sum((o.sz for o in level.values()), Decimal(0))
            out.append({"px": fmt(px), "sz": fmt(total), "n": len(level)})
            if len(out) >= n:
                break
        return out

    def top(self) -> dict[str, Any] | None:
        """The best level as ``{"px","sz","n"}``, or ``None``."""
        d = self.depth(1)
        return d[0] if d else None

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels.values())


@dataclass
class MatchingBook:
    """The order book of one coin. ``version`` increases on every change (for feed pushes)."""

    coin: str
    asset: int
    bids: BookSide = field(default_factory=lambda: BookSide(True))
    asks: BookSide = field(default_factory=lambda: BookSide(False))
    version: int = 0
    last_trade_px: Decimal | None = None

    def side(self, side: Side) -> BookSide:
        """The side an order of ``side`` rests on."""
        return self.bids if side == "B" else self.asks

    def opposite(self, side: Side) -> BookSide:
        """The side an order of ``side`` matches against."""
        return self.asks if side == "B" else self.bids

    def crosses(self, side: Side, px: Decimal) -> bool:
        """Would a limit order at ``px`` on ``side`` match immediately?"""
        best = self.opposite(side).best()
        if best is None:
            return False
        return best <= px if side == "B" else best >= px

    def mid(self) -> Decimal | None:
        """Mid of the bbo; last trade price when a side is empty; ``None`` if neither."""
        bid, ask = self.bids.best(), self.asks.best()
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        return self.last_trade_px

    def l2(self, now_ms: int, n: int = 20) -> dict[str, Any]:
        """``l2Book`` data ``{"coin","time","levels":[bids, asks]}`` (§2.4)."""
        return {
            "coin": self.coin,
            "time": now_ms,
            "levels": [self.bids.depth(n), self.asks.depth(n)],
        }

    def bbo(self, now_ms: int) -> dict[str, Any]:
        """``bbo`` data ``{"coin","time","bbo":[bid|null, ask|null]}`` (§6.2)."""
        return {"coin": self.coin, "time": now_ms, "bbo": [self.bids.top(), self.asks.top()]}
