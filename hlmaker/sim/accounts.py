"""Users of the simulated exchange: USDC balance, positions, fills, order history and a simple
cross-margin model.

Units: USDC amounts are :class:`~decimal.Decimal` rounded to 6 decimals; ``szi`` is signed size
in coin (positive long); prices in quote currency; times in ms since the epoch.

Margin model (a deliberate simplification of §2.7, documented as such): every position and every
resting non-reduce-only order needs ``notional / leverage`` of initial margin, at the coin's mark
price for positions and at the limit price for orders; ``accountValue = balance + unrealized
PnL``. An order is refused (``Insufficient margin to place order.``) when the margin it adds
exceeds ``accountValue - margin already used``. No funding, no liquidations.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hlmaker.sim.matching import Order, Side
from hlmaker.sim.rules import fmt, usd

ZERO = Decimal(0)


@dataclass(frozen=True)
class FillRecord:
    """One fill of one user (§2.8). ``crossed`` = taker. ``fee`` negative would be a rebate."""

    user: str
    coin: str
    px: Decimal
    sz: Decimal
    side: Side
    time: int
    start_position: Decimal
    dir: str
    closed_pnl: Decimal
    hash: str
    oid: int
    crossed: bool
    fee: Decimal
    tid: int
    cloid: str | None
    builder_fee: Decimal | None = None
    """USDC paid to the order's builder (included in ``fee``), ``None`` without a builder."""

    def wire(self) -> dict[str, Any]:
        """The exchange's fill object (§2.8, §6.4) in the current key order (recordings from
        2024-10 on): ``…, fee, [builderFee], tid, [cloid], feeToken, twapId`` — ``cloid`` only
        when the order had one, ``builderFee`` only when it named a builder."""
        out: dict[str, Any] = {
            "coin": self.coin,
            "px": fmt(self.px),
            "sz": fmt(self.sz),
            "side": self.side,
            "time": self.time,
            "startPosition": fmt(self.start_position),
            "dir": self.dir,
            "closedPnl": fmt(self.closed_pnl),
            "hash": self.hash,
            "oid": self.oid,
            "crossed": self.crossed,
            "fee": fmt(self.fee),
        }
        if self.builder_fee is not None:
            out["builderFee"] = fmt(self.builder_fee)
        out["tid"] = self.tid
        if self.cloid is not None:
            out["cloid"] = self.cloid
        out["feeToken"] = "USDC"
        out["twapId"] = None
        return out


@dataclass
class Position:
    """A one-way perp position: ``szi`` signed size, ``cost`` = |szi| × entry price."""

    szi: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def entry_px(self) -> Decimal | None:
        """Average entry price, ``None`` when flat."""
        if self.szi == 0:
            return None
        return self.cost / abs(self.szi)


def fill_dir(start: Decimal, side: Side, end: Decimal) -> str:
    """The ``dir`` of a perp fill (§2.8): Open/Close Long/Short or a flip ``Long > Short``."""
    if side == "B":
        if start >= 0:
            return "Open Long"
        return "Short > Long" if end > 0 else "Close Short"
    if start <= 0:
        return "Open Short"
    return "Long > Short" if end < 0 else "Close Long"


@dataclass
class Account:
    """State of one user (lower-case 0x address)."""

    address: str
    balance: Decimal = ZERO
    synthetic: bool = False
    """Synthetic market participants are exempt from margin checks and keep a capped history."""
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, tuple[int, bool]] = field(default_factory=dict)  # coin -> (lev, is_cross)
    open_orders: dict[int, Order] = field(default_factory=dict)  # oid -> order, placement order
    fills: deque[FillRecord] = field(default_factory=deque)
    history: dict[int, Order] = field(default_factory=dict)  # oid -> order (retention-capped)
    cloids: dict[str, int] = field(default_factory=dict)  # cloid -> latest oid
    scheduled_cancel: int | None = None
    schedule_fires: dict[int, int] = field(default_factory=dict)  # UTC day -> triggers fired
    cum_volume: Decimal = ZERO
    reduce_only: dict[int, Order] = field(default_factory=dict)  # resting reduce-only orders
    order_notional: dict[str, Decimal] = field(default_factory=dict)
    """Σ limit px × remaining sz of resting non-reduce-only orders, per coin (kept by the
    engine as orders rest, fill and leave the book)."""

    def position(self, coin: str) -> Position:
        """The position in ``coin`` (created flat on first use)."""
        pos = self.positions.get(coin)
        if pos is None:
            pos = Position()
            self.positions[coin] = pos
        return pos

    def apply_fill(
        self, coin: str, side: Side, px: Decimal, sz: Decimal, fee_rate: Decimal
    ) -> tuple[Decimal, Decimal, str, Decimal, Decimal]:
        """Apply a fill to the position and balance.

        Returns ``(start_position, closed_pnl, dir, fee, end_position)``; the balance changes by
        ``closed_pnl - fee`` (both rounded to 6 decimals).
        """
        pos = self.position(coin)
        start = pos.szi
        delta = sz if side == "B" else -sz
        end = start + delta
        closed = ZERO
        if start == 0 or (start > 0) == (delta > 0):
            pos.cost += px * sz
        else:
            close_sz = min(sz, abs(start))
            if close_sz == abs(start):
                entry_cost = pos.cost
            else:
                entry_cost = pos.cost * close_sz / abs(start)
            sign = 1 if start > 0 else -1
            closed = usd((px * close_sz - entry_cost) * sign)
            pos.cost -= entry_cost
            rest = sz - close_sz
            if rest > 0:
                pos.cost = px * rest
            elif end == 0:
                pos.cost = ZERO
        pos.szi = end
        fee = usd(px * sz * fee_rate)
        self.balance += closed - fee
        self.cum_volume += px * sz
        return start, closed, fill_dir(start, side, end), fee, end

    # ---- margin ------------------------------------------------------------------------

    def lev(self, coin: str, default: int) -> int:
        """Leverage for ``coin`` (cross by default)."""
        return self.leverage.get(coin, (default, True))[0]

    def unrealized(self, marks: dict[str, Decimal]) -> Decimal:
        """Σ (mark − entry) × szi over open positions."""
        total = ZERO
        for coin, pos in self.positions.items():
            if pos.szi != 0 and coin in marks:
                total += marks[coin] * pos.szi - pos.cost * (1 if pos.szi > 0 else -1)
        return total

    def account_value(self, marks: dict[str, Decimal]) -> Decimal:
        """Balance plus unrealized PnL (USDC)."""
        return self.balance + self.unrealized(marks)

    def position_margin(self, marks: dict[str, Decimal], default_lev: dict[str, int]) -> Decimal:
        """Initial margin of positions: Σ |szi| × mark / leverage."""
        total = ZERO
        for coin, pos in self.positions.items():
            if pos.szi != 0 and coin in marks:
                total += abs(pos.szi) * marks[coin] / self.lev(coin, default_lev[coin])
        return total

    def order_margin(self, default_lev: dict[str, int]) -> Decimal:
        """Initial margin held by resting non-reduce-only orders: Σ px × sz / leverage."""
        total = ZERO
        for coin, notional in self.order_notional.items():
            if notional:
                total += notional / self.lev(coin, default_lev[coin])
        return total

    def hold(self, order: Order, sz: Decimal) -> None:
        """Add (``sz`` > 0) or release (``sz`` < 0) the notional of a resting order."""
        if not order.reduce_only:
            self.order_notional[order.coin] = (
                self.order_notional.get(order.coin, ZERO) + order.limit_px * sz
            )

    def record_fill(self, fill: FillRecord, cap: int | None) -> None:
        """Append to the fill ledger, keeping at most ``cap`` fills when a cap is given."""
        self.fills.append(fill)
        if cap is not None:
            while len(self.fills) > cap:
                self.fills.popleft()

    def record_order(self, order: Order, cap: int) -> None:
        """Keep ``order`` in the status history (newest ``cap`` orders) and index its cloid."""
        self.history[order.oid] = order
        if order.cloid is not None:
            self.cloids[order.cloid] = order.oid
        while len(self.history) > cap:
            old_oid = next(iter(self.history))
            old = self.history.pop(old_oid)
            if old.cloid is not None and self.cloids.get(old.cloid) == old_oid:
                del self.cloids[old.cloid]
