"""Build a :class:`~hlmaker.ui.status.Status` from a running maker, read through
:class:`MakerView` — the typed, read-only view of :class:`hlmaker.maker.Maker` the UI depends on
(the maker module is not imported, so a test can hand in any object with those attributes).
Event rates are the difference of the feed's cumulative counts between two calls, divided by the
time between them.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

import attrs

from hlmaker.actors.budget import BudgetView
from hlmaker.actors.feed import FeedStats
from hlmaker.actors.latest import Latest
from hlmaker.actors.ratelimit import IpWeightView
from hlmaker.actors.reconciler import ReconcileStatus
from hlmaker.clock import Clock
from hlmaker.messages import BookView
from hlmaker.orders.ownership import Ownership
from hlmaker.pnl import unrealized_pnl
from hlmaker.ui.status import Status


@attrs.define
class RateMeter:
    """Per-second rates of cumulative counts between successive :meth:`rates` calls."""

    last_ms: int | None = None
    last: dict[str, float] = attrs.Factory(dict)

    def rates(self, now_ms: int, totals: Mapping[str, float]) -> dict[str, float]:
        """Rates per kind since the previous call (empty on the first call or if no time
        passed); a count that went down (a restart) counts from zero."""
        out: dict[str, float] = {}
        if self.last_ms is not None and now_ms > self.last_ms:
            dt = (now_ms - self.last_ms) / 1000
            for kind, n in totals.items():
                before = self.last.get(kind, 0.0)
                out[kind] = ((n - before) if n >= before else n) / dt
        if self.last_ms is None or now_ms > self.last_ms:
            self.last_ms, self.last = now_ms, dict(totals)
        return out


class MakerView(Protocol):
    """What the UI reads of a running maker — :class:`hlmaker.maker.Maker` offers exactly this
    (read-only; the UI never sends anything)."""

    @property
    def view(self) -> BookView:
        """The book's newest view."""
        ...

    @property
    def clock(self) -> Clock:
        """The maker's clock (ms since the epoch)."""
        ...

    @property
    def markets(self) -> Mapping[str, object]:
        """The coins the strategy trades (keys)."""
        ...

    @property
    def mids(self) -> Mapping[str, Decimal]:
        """Mid price per coin (quote currency), as the quoter last saw it."""
        ...

    @property
    def feed_stats(self) -> FeedStats:
        """The feed's counters (cumulative) and whether it is connected."""
        ...

    @property
    def reconcile_status(self) -> Latest[ReconcileStatus]:
        """The reconciler's last sweep."""
        ...

    @property
    def ownership(self) -> Ownership:
        """Which orders on the account are ours (the cloid prefix)."""
        ...

    @property
    def restarts(self) -> Mapping[str, int]:
        """Restarts per actor."""
        ...

    @property
    def actor_states(self) -> Mapping[str, str]:
        """Each actor's state."""
        ...

    @property
    def network(self) -> str:
        """``sim``, ``testnet`` or ``mainnet``."""
        ...

    @property
    def budget(self) -> BudgetView:
        """The address request budget."""
        ...

    @property
    def ip_weight(self) -> IpWeightView:
        """The per-IP REST weight."""
        ...

    def totals(self) -> Mapping[str, Any]:
        """The book's counters summed over every incarnation (``fills_applied``, ``closed_pnl``,
        ``fees``…)."""
        ...


_meters: weakref.WeakKeyDictionary[MakerView, RateMeter] = weakref.WeakKeyDictionary()


def status_of(maker: MakerView, base_url: str) -> Status:
    """The :class:`Status` of ``maker`` now (``maker.clock`` time)."""
    view = maker.view
    now = int(maker.clock.now_ms())
    all_mids = maker.mids
    mids = {c: all_mids[c] for c in maker.markets if c in all_mids}
    totals = maker.totals()
    fills_total = int(totals["fills_applied"])
    feed = maker.feed_stats
    counts: dict[str, float] = {"fills": float(fills_total),
                                "order_events": float(feed.order_events),
                                "market_events": float(feed.market_events),
                                "market_dropped": float(feed.market_dropped)}
    rates = _meters.setdefault(maker, RateMeter()).rates(now, counts)
    rstatus = maker.reconcile_status.value
    swept = rstatus.sweeps > 0
    journal = getattr(maker, "journal", None)  # a Maker has one (None when off)
    return Status(
        now_ms=now,
        view=view,
        mids=mids,
        fills_total=fills_total,
        pnl=Decimal(totals["closed_pnl"]) - Decimal(totals["fees"]),  # across book restarts
        upnl=unrealized_pnl(rstatus.positions if swept else None,
                            rstatus.entry_px if swept else None, all_mids),
        events_per_s=rates,
        restarts=dict(maker.restarts),
        actors=dict(maker.actor_states),
        reconcile_age_s=max(0.0, (now - rstatus.at_ms) / 1000) if swept else None,
        exchange_open=sum(1 for o in rstatus.exchange_open if maker.ownership.is_ours(o.cloid))
        if swept else None,
        feed_connected=feed.connected,
        network=maker.network,
        base_url=base_url,
        journal=None if journal is None else {"dropped": journal.dropped,
                                               "write_errors": journal.write_errors},
        budget=maker.budget,
        ip_weight=maker.ip_weight,
    )
