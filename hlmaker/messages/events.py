"""WebSocket events: what the feed decodes from the exchange and forwards.

Order events (:class:`OrderUpdates`, :class:`Fills`, :class:`NonUserCancel`, feed connection
changes) go to the book; market data (:class:`L2Book`, :class:`Bbo`, :class:`AllMids`) goes to
the quoter. Field names follow the exchange's wire names in snake case
(``../shared/hyperliquid-protocol.md`` §6.3, §6.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

import attrs

from hlmaker.messages.common import Level, OrderKind, Side


@attrs.frozen(kw_only=True)
class OrderUpdate:
    """One element of an ``orderUpdates`` push (``WsOrder``).

    ``status`` is the exchange's status string (``open``, ``filled``, ``canceled``,
    ``triggered``, ``scheduledCancel``, ``marginCanceled``, ``*Rejected``, …, §2.10; mapped by
    :data:`hlmaker.orders.states.STATUS_EVENTS`). ``sz`` is the remaining size, ``orig_sz`` the
    original; ``status_timestamp_ms`` is when the status changed. ``kind`` is ``None`` for the
    documented ``WsOrder`` (§6.3), which has no ``orderType``; it is read when a row carries the
    frontend fields.
    """

    coin: str
    side: Side
    limit_px: Decimal
    sz: Decimal
    orig_sz: Decimal
    oid: int
    timestamp_ms: int
    status: str
    status_timestamp_ms: int
    cloid: str | None = None
    reduce_only: bool = False
    kind: OrderKind | None = None


@attrs.frozen(kw_only=True)
class FillLiquidation:
    """The ``liquidation`` of a fill that was part of a liquidation (§2.8 ``FillLiquidation``):
    ``liquidated_user`` (absent when the exchange omits it), the mark price ``mark_px`` (quote
    currency) at the liquidation, and ``method`` (``"market"`` or ``"backstop"``)."""

    liquidated_user: str | None
    mark_px: Decimal
    method: str


@attrs.frozen(kw_only=True)
class Fill:
    """One fill of one of our orders (``WsFill`` / REST fill object).

    ``sz`` in coin at ``px``; ``start_position`` is the signed position of ``coin`` just before
    this fill, per the exchange. The de-dup key is ``(oid, tid)``.

    ``fee`` includes ``builder_fee`` (0 when the row omits it, as the exchange does when there
    is none); ``liquidation`` is set on a fill of a liquidation; ``twap_id`` on a TWAP slice
    (§2.8; recordings: nautilus ``ws_user_fill_liquidation``, ccxt ``fetchMyTrades``).
    """

    coin: str
    px: Decimal
    sz: Decimal
    side: Side
    time_ms: int
    start_position: Decimal
    dir: str
    closed_pnl: Decimal
    hash: str
    oid: int
    crossed: bool
    fee: Decimal
    tid: int
    cloid: str | None = None
    fee_token: str = "USDC"
    liquidation: FillLiquidation | None = None
    builder_fee: Decimal = Decimal(0)
    twap_id: int | None = None


FillSource = Literal["userFills", "user", "post", "reconcile"]


@attrs.frozen(kw_only=True)
class Fills:
    """A batch of fills. ``is_snapshot`` is true for the ``userFills`` subscription ack, which
    replays recent history and must go through the same de-dup as live fills."""

    fills: tuple[Fill, ...]
    is_snapshot: bool = False
    source: FillSource = "userFills"


@attrs.frozen(kw_only=True)
class TwapSliceFill:
    """One fill of a TWAP slice: the fill and the ``twapId`` of its TWAP order (§6.2)."""

    fill: Fill
    twap_id: int


@attrs.frozen(kw_only=True)
class TwapSliceFills:
    """A ``userTwapSliceFills`` push (``is_snapshot`` on the subscription ack) or ``/info``
    reply; ``user`` is empty for the ``/info`` reply, which does not name it."""

    fills: tuple[TwapSliceFill, ...]
    user: str = ""
    is_snapshot: bool = False


@attrs.frozen(kw_only=True)
class OrderUpdates:
    """One ``orderUpdates`` push: several order status changes, in exchange order."""

    updates: tuple[OrderUpdate, ...]


@attrs.frozen(kw_only=True)
class NonUserCancel:
    """Orders the exchange cancelled on its own (``user`` channel ``nonUserCancel``)."""

    cancels: tuple[tuple[str, int], ...]
    """``(coin, oid)`` pairs."""


@attrs.frozen(kw_only=True)
class Funding:
    """A funding payment (``user`` channel ``funding``); ``usdc`` is signed."""

    time_ms: int
    coin: str
    usdc: Decimal
    szi: Decimal
    funding_rate: Decimal


@attrs.frozen(kw_only=True)
class Liquidation:
    """A liquidation event (``user`` channel ``liquidation``)."""

    lid: int
    liquidator: str
    liquidated_user: str
    liquidated_ntl_pos: Decimal
    liquidated_account_value: Decimal


@attrs.frozen(kw_only=True)
class FeedConnected:
    """The feed (re)connected and its subscriptions are acknowledged at ``at_ms``.

    ``reconnect`` is false for the first connection of the process. Any reconnect may hide a gap:
    the book requests a sweep.
    """

    at_ms: int
    reconnect: bool


@attrs.frozen(kw_only=True)
class FeedDisconnected:
    """The feed lost its connection (or detected a silent one) at ``at_ms``."""

    at_ms: int
    reason: str


@attrs.frozen(kw_only=True)
class L2Book:
    """A full ``l2Book`` snapshot: ``bids`` best first (descending), ``asks`` best first."""

    coin: str
    time_ms: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@attrs.frozen(kw_only=True)
class Bbo:
    """Best bid and offer of ``coin``; either side may be missing."""

    coin: str
    time_ms: int
    bid: Level | None
    ask: Level | None


@attrs.frozen(kw_only=True)
class AllMids:
    """Mid prices by coin (``allMids``). The mapping must not be mutated."""

    mids: Mapping[str, Decimal] = attrs.field(eq=True, hash=False)


@attrs.frozen(kw_only=True)
class Trade:
    """A public trade of ``coin``; ``side`` is the aggressor."""

    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    time_ms: int
    tid: int


@attrs.frozen(kw_only=True)
class Trades:
    """One ``trades`` push."""

    trades: tuple[Trade, ...]


OrderEvent = OrderUpdates | Fills | NonUserCancel | FeedConnected | FeedDisconnected
MarketData = L2Book | Bbo | AllMids | Trades
