"""Reconcile snapshots: the exchange's view of our account, fetched by the reconciler.

The reconciler mutates nothing: it fetches, packs one :class:`ReconcileSnapshot` and sends it to
the book, which compares and returns commands. ``requested_at_ms`` is when the fetch *started*:
an order acknowledged after that instant may legitimately be missing from ``open_orders``, so the
book protects it (no wrongful stale removal, ``../shared/reliability.md`` F13).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

import attrs

from hlmaker.messages.common import OrderKind, Side
from hlmaker.messages.events import Fill


@attrs.frozen(kw_only=True)
class OpenOrder:
    """One row of ``openOrders`` / ``frontendOpenOrders``, or the order of an ``orderStatus``.

    ``sz`` is the remaining size and ``orig_sz`` the original, in coin. ``kind`` is ``None`` for
    the basic ``openOrders`` row (no ``orderType``); the frontend rows carry it, and a parent's
    TP/SL ``children`` (grouping ``normalTpsl``, §2.6) as rows of their own. A trigger order is
    open but not on the book: ``kind.is_trigger``.
    """

    coin: str
    side: Side
    limit_px: Decimal
    sz: Decimal
    oid: int
    timestamp_ms: int
    orig_sz: Decimal | None = None
    cloid: str | None = None
    reduce_only: bool = False
    kind: OrderKind | None = None
    children: tuple[OpenOrder, ...] = ()

    @property
    def is_trigger(self) -> bool:
        """True for a TP/SL order waiting for its trigger (not on the book)."""
        return self.kind is not None and self.kind.is_trigger


@attrs.frozen(kw_only=True)
class OrderStatusReport:
    """The answer of ``orderStatus`` by cloid.

    ``status`` is ``None`` when the exchange answered ``unknownOid``; otherwise the status string
    (``open``, ``filled``, ``canceled``, ``triggered``, ``waitingForTrigger``, …, mapped by
    :data:`hlmaker.orders.states.STATUS_EVENTS`) with the order as the exchange has it.
    ``queried_at_ms`` is when the query was sent: an ``unknownOid`` is final only if it is later
    than the action's ``expiresAfter``.
    """

    cloid: str
    queried_at_ms: int
    status: str | None
    order: OpenOrder | None = None
    status_timestamp_ms: int | None = None


@attrs.frozen(kw_only=True)
class ReconcileSnapshot:
    """Everything the book needs to compare itself with the exchange.

    * ``open_orders`` — every open order of the account (all coins);
    * ``positions`` — signed ``szi`` per coin, flat coins absent or zero, as of the exchange
      time ``positions_time_ms`` (``clearinghouseState.time``): later fills are not in it;
    * ``fills`` — recent fills (``userFillsByTime`` from the book's last applied fill time minus a
      margin), applied through the normal de-dup before any stale decision;
    * ``order_statuses`` — ``orderStatus`` by cloid for orders whose outcome is unknown;
    * ``fills_complete`` — false when paging ``userFillsByTime`` could not cover the whole gap
      (information for logs and tests: the book needs no flag, since a position that the
      applied fills cannot explain is adopted from ``positions`` after its usual deferral,
      ``../shared/reliability.md`` F16);
    * ``entry_px`` — the exchange's average entry price per coin with a position (quote
      currency), for display (unrealized PnL); the book does not use it;
    * ``fills_since_ms`` — where ``fills`` start (``None``: the whole history the exchange
      serves). Only a whole-history snapshot can be a book's first sync: with a window, older
      fills would be re-applied when they arrive again (the ``userFills`` subscription snapshot).
    """

    requested_at_ms: int
    taken_at_ms: int
    open_orders: tuple[OpenOrder, ...]
    positions: Mapping[str, Decimal] = attrs.field(hash=False)
    positions_time_ms: int | None = None
    fills: tuple[Fill, ...] = ()
    order_statuses: tuple[OrderStatusReport, ...] = ()
    fills_complete: bool = True
    fills_since_ms: int | None = None
    entry_px: Mapping[str, Decimal] = attrs.field(factory=dict, hash=False)


ReconcileReason = Literal[
    "timer",
    "startup",
    "gap",
    "reconnect",
    "unknown_outcome",
    "cancel_failed",
    "orphan",
    "missing_fills",
    "shutdown",
    "manual",
]


@attrs.frozen(kw_only=True)
class ReconcileRequest:
    """The book asks the reconciler for a snapshot now.

    ``since_ms`` is the book's last applied fill time minus its margin (``None``: from the start of
    the exchange's history); ``cloids`` are the orders to query by ``orderStatus``.
    """

    reason: ReconcileReason
    since_ms: int | None
    cloids: tuple[str, ...] = ()
