"""Read-only views the book publishes for the quoter, the reconciler, the UI and metrics.

Views are immutable snapshots of the book's state at ``at_ms``; holding one never blocks the book.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from hlmaker.messages.common import Side, Tif
from hlmaker.messages.snapshot import OpenOrder


@attrs.frozen(kw_only=True)
class OrderView:
    """One order the book tracks. ``state`` is an :class:`hlmaker.orders.states.OrderState` value
    name (``pending_new``, ``resting``, ``partially_filled``, ``pending_cancel``,
    ``pending_modify``, ``unknown``, …); ``oid`` is ``None`` until the exchange gave one."""

    cloid: str
    oid: int | None
    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    filled_sz: Decimal
    tif: Tif
    reduce_only: bool
    state: str
    created_ms: int
    tag: str = ""

    @property
    def remaining_sz(self) -> Decimal:
        """Size still open, in coin."""
        return self.sz - self.filled_sz


@attrs.frozen(kw_only=True)
class Counters:
    """Anomaly and activity counters of the order core (monotonic within one book incarnation)."""

    fills_applied: int = 0
    volume: Decimal = Decimal(0)
    duplicate_fills_dropped: int = 0
    fills_untracked: int = 0
    early_events_held: int = 0
    early_events_expired: int = 0
    orphans_detected: int = 0
    orphans_cancelled: int = 0
    stale_removed: int = 0
    position_drifts: int = 0
    gaps_detected: int = 0
    illegal_transitions: int = 0
    unknown_outcomes: int = 0
    unknown_resolved: int = 0
    bad_inputs: int = 0
    rejects: int = 0
    late_events: int = 0
    acks_unknown_cloid: int = 0
    fills_preexisting: int = 0
    """Fills found at start-up that the adopted position already contained (history)."""
    fills_reread: int = 0
    """Fills met again in a subscription snapshot or a sweep after they were applied (not an
    anomaly: every reconnect and sweep re-reads recent fills)."""
    fills_echoed: int = 0
    """Live fills met a second time on the other channel: the exchange sends each fill on both
    ``userFills`` and ``user`` (not an anomaly)."""
    fills_foreign: int = 0
    """Applied fills of foreign orders (no cloid of ours): they move the account's position."""
    leftovers_cancelled: int = 0
    """Orders of ours a new book found at start-up (placed before it) and cancelled."""
    leftovers_adopted: int = 0
    """Orders of ours a new book found at start-up and adopted (``on_start = "adopt"``)."""
    closed_pnl: Decimal = Decimal(0)
    """Σ ``closedPnl`` of applied fills, quote currency (realized, before fees)."""
    fees: Decimal = Decimal(0)
    """Σ ``fee`` of applied fills, quote currency (negative = rebates)."""


@attrs.frozen(kw_only=True)
class BookView:
    """The book at ``at_ms``: live and in-flight ``orders``, ``positions`` per coin (signed, coin
    units), ``counters``, and whether the last reconcile found the book equal to the exchange."""

    at_ms: int
    orders: tuple[OrderView, ...]
    positions: Mapping[str, Decimal] = attrs.field(hash=False)
    counters: Counters
    is_synced: bool
    last_fill_ms: int | None
    unresolved: int
    """Orders whose outcome is unknown (timed-out requests not yet resolved)."""
    ready: bool = False
    """The book has completed its start-up re-sync with the exchange: quoting may run."""
    foreign_orders: tuple[OpenOrder, ...] = ()
    """Open orders on the account without our cloid prefix, as the last sweep listed them."""

    def orders_for(self, coin: str) -> tuple[OrderView, ...]:
        """The tracked orders of ``coin``."""
        return tuple(o for o in self.orders if o.coin == coin)

    def position(self, coin: str) -> Decimal:
        """Signed position of ``coin`` in coin units (0 when flat)."""
        return self.positions.get(coin, Decimal(0))
