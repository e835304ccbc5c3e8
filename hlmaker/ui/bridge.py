"""Build a :class:`~hlmaker.ui.status.Status` from a running :class:`hlmaker.maker.Maker`.

Duck-typed on purpose (the maker is not imported): every figure the maker does not offer is left
at its default, so the display never takes the bot down. Event rates are the difference of the
feed's cumulative counts between two calls, divided by the time between them.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

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


_meters: weakref.WeakKeyDictionary[Any, RateMeter] = weakref.WeakKeyDictionary()


def status_of(maker: Any, base_url: str) -> Status:
    """The :class:`Status` of ``maker`` now (``maker.clock`` time)."""
    view = maker.view
    now = int(maker.clock.now_ms())
    markets: Mapping[str, Any] = getattr(maker, "markets", {}) or {}
    all_mids: Mapping[str, Decimal] = getattr(maker, "mids", {}) or {}
    mids = {c: all_mids[c] for c in markets if c in all_mids} if markets else dict(all_mids)
    holder = getattr(maker, "holder", None)
    totals: Mapping[str, Any] = holder.totals() if holder is not None else {}
    fills_total = int(totals.get("fills_applied", view.counters.fills_applied))
    feed = getattr(maker, "feed_stats", None)
    counts: dict[str, float] = {"fills": float(fills_total)}
    for kind in ("order_events", "market_events", "market_dropped"):
        if feed is not None and hasattr(feed, kind):
            counts[kind] = float(getattr(feed, kind))
    try:
        meter = _meters.setdefault(maker, RateMeter())
    except TypeError:  # not weak-referenceable: no rates
        meter = RateMeter()
    rates = meter.rates(now, counts)
    sup = getattr(maker, "supervisor", None)
    rstatus = getattr(getattr(maker, "reconcile_status", None), "value", None)
    swept = rstatus is not None and getattr(rstatus, "sweeps", 0) > 0
    config = getattr(maker, "config", None)
    network = str(getattr(getattr(config, "endpoint", None), "network", "") or "")
    return Status(
        now_ms=now,
        view=view,
        mids=mids,
        fills_total=fills_total,
        pnl=(Decimal(totals["closed_pnl"]) - Decimal(totals["fees"])
             if "closed_pnl" in totals and "fees" in totals
             else view.counters.closed_pnl - view.counters.fees),  # across book restarts
        upnl=unrealized_pnl(getattr(rstatus, "positions", None) if swept else None,
                            getattr(rstatus, "entry_px", None) if swept else None, all_mids),
        events_per_s=rates,
        restarts=dict(getattr(sup, "restarts", {}) or {}),
        actors=dict(getattr(sup, "states", {}) or {}),
        reconcile_age_s=max(0.0, (now - rstatus.at_ms) / 1000) if swept else None,
        exchange_open=len(rstatus.exchange_open) if swept else None,
        feed_connected=bool(getattr(feed, "connected", False)),
        network=network,
        base_url=base_url,
    )
