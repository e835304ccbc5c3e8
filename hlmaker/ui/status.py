"""The :class:`Status` snapshot the dashboard and the status log render.

Whoever runs the UI (the supervisor) builds one on demand from the book's view, the feed's mids
and its own bookkeeping; rendering never touches the actors.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import attrs

from hlmaker.actors.budget import BudgetView
from hlmaker.actors.ratelimit import IpWeightView
from hlmaker.messages import BookView, OrderView


@attrs.frozen(kw_only=True)
class CoinQuotes:
    """Our own quotes on one coin, derived from the book's orders: best bid / ask (quote
    currency, ``None`` when that side is empty), number of orders and total remaining size (coin)
    per side."""

    coin: str
    best_bid: Decimal | None
    best_ask: Decimal | None
    bids: int
    asks: int
    bid_sz: Decimal
    ask_sz: Decimal


@attrs.frozen(kw_only=True)
class Status:
    """Everything the operator sees at ``now_ms`` (ms since the epoch).

    * ``view`` — the book's newest view;
    * ``mids`` — mid price per coin (quote currency), the coins the bot trades;
    * ``pnl`` — realized PnL net of fees (Σ ``closedPnl`` − Σ ``fee``), quote currency, since
      the process started (across book restarts, like ``fills_total``);
    * ``upnl`` — unrealized PnL, quote currency: the last sweep's positions at the exchange's
      entry prices, marked to the mids (:func:`hlmaker.pnl.unrealized_pnl`);
    * ``fills_total`` — fills since the process started (across book restarts);
    * ``events_per_s`` — event rate by kind (``l2Book``, ``fills``, ``orderUpdates``…);
    * ``restarts`` — restarts per actor; ``actors`` — actor → ``"running"``/``"restarting"``…;
    * ``reconcile_age_s`` — seconds since the last reconcile snapshot was applied;
    * ``exchange_open`` — open orders of ours (our cloid prefix) the exchange listed at the last
      reconcile (foreign ones are in ``view.foreign_orders``);
    * ``feed_connected``, ``network`` (``mainnet``/``testnet``/``sim``), ``base_url``;
    * ``journal`` — the flight recorder's ``dropped`` (book steps lost to a full channel) and
      ``write_errors`` (failed batch writes), ``None`` when the journal is off;
    * ``budget`` — the address request budget: used / cap / headroom, whether only cancels go
      out (``None``: not tracked);
    * ``ip_weight`` — the per-IP REST weight: used in the last 60 s / limit / headroom, 429s
      seen (``None``: not tracked).
    """

    now_ms: int
    view: BookView
    mids: Mapping[str, Decimal] = attrs.field(factory=dict, hash=False)
    pnl: Decimal | None = None
    upnl: Decimal | None = None
    fills_total: int = 0
    events_per_s: Mapping[str, float] = attrs.field(factory=dict, hash=False)
    restarts: Mapping[str, int] = attrs.field(factory=dict, hash=False)
    actors: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    reconcile_age_s: float | None = None
    exchange_open: int | None = None
    feed_connected: bool = False
    network: str = ""
    base_url: str = ""
    journal: Mapping[str, int] | None = attrs.field(default=None, hash=False)
    budget: BudgetView | None = None
    ip_weight: IpWeightView | None = None

    @property
    def quotes(self) -> dict[str, CoinQuotes]:
        """Our quotes per coin (coins with at least one tracked order)."""
        by_coin: dict[str, list[OrderView]] = {}
        for o in self.view.orders:
            by_coin.setdefault(o.coin, []).append(o)
        out = {}
        for coin, orders in sorted(by_coin.items()):
            bids = [o for o in orders if o.side == "B"]
            asks = [o for o in orders if o.side == "A"]
            out[coin] = CoinQuotes(
                coin=coin,
                best_bid=max((o.px for o in bids), default=None),
                best_ask=min((o.px for o in asks), default=None),
                bids=len(bids), asks=len(asks),
                bid_sz=sum((o.remaining_sz for o in bids), Decimal(0)),
                ask_sz=sum((o.remaining_sz for o in asks), Decimal(0)),
            )
        return out

    @property
    def coins(self) -> list[str]:
        """Coins with a mid, a position or an order, sorted."""
        held = {c for c, q in self.view.positions.items() if q}
        return sorted(set(self.mids) | held | {o.coin for o in self.view.orders})
