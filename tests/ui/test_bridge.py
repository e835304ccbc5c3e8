"""status_of: a Status from a running maker (through its typed MakerView), with event rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from hlmaker.actors.budget import BudgetView
from hlmaker.actors.feed import FeedStats
from hlmaker.actors.latest import Latest
from hlmaker.actors.ratelimit import IpWeightView
from hlmaker.actors.reconciler import ReconcileStatus
from hlmaker.clock import FixedClock
from hlmaker.messages import BookView, Counters, OpenOrder
from hlmaker.orders.ownership import Ownership
from hlmaker.ui.bridge import MakerView, RateMeter, status_of

D = Decimal


def _row(oid: int, *, ours: bool) -> OpenOrder:
    cloid = f"0x{Ownership().prefix}{oid:024x}" if ours else None
    return OpenOrder(coin="BTC", side="B", limit_px=D(1), sz=D(1), oid=oid, timestamp_ms=0,
                     cloid=cloid)


class FakeMaker:
    def __init__(self) -> None:
        self.clock = FixedClock(1_700_000_010_000)
        self.view = BookView(at_ms=0, orders=(), positions={"BTC": D("0.1")},
                             counters=Counters(fills_applied=2), is_synced=True,
                             last_fill_ms=None, unresolved=0, ready=True)
        self.markets = {"BTC": object()}
        self.mids = {"BTC": D(100000), "DOGE": D("0.1")}
        self.feed_stats = FeedStats(connects=1, order_events=10, market_events=100,
                                    market_dropped=0, connected=True)
        self.restarts = {"feed": 1}
        self.actor_states = {"feed": "running", "book": "running"}
        self.ownership = Ownership()
        self.reconcile_status = Latest(ReconcileStatus(
            at_ms=1_700_000_007_000, sweeps=3, exchange_open=(
                _row(1, ours=True), _row(2, ours=True), _row(3, ours=False))))
        self.network = "sim"
        self.budget = BudgetView(known=True, used=120, cap=10_500, headroom=10_380)
        self.ip_weight = IpWeightView(limit=1200, used=300, headroom=900, peak=800,
                                      waited_s=0.0, rate_limited=0, thinned=0)

    def totals(self) -> dict[str, Any]:
        return {"fills_applied": 5, "closed_pnl": D("7.5"), "fees": D("0.5")}

    def sweep(self, **changes: Any) -> None:
        self.reconcile_status.publish(attrs.evolve(self.reconcile_status.value, **changes))


def test_status_of_a_maker() -> None:
    m = FakeMaker()
    typed: MakerView = m  # FakeMaker offers what the UI reads of a Maker
    s = status_of(typed, "http://127.0.0.1:1234")
    assert s.mids == {"BTC": D(100000)} and s.fills_total == 5
    assert s.pnl == D(7)  # every book incarnation's, not only the current view's
    assert s.reconcile_age_s == 3.0 and s.exchange_open == 2
    assert s.feed_connected and s.network == "sim" and s.restarts == {"feed": 1}
    assert s.events_per_s == {}
    assert s.budget == m.budget and s.ip_weight == m.ip_weight
    m.clock.advance(2000)
    m.feed_stats.market_events = 300
    s = status_of(m, "http://127.0.0.1:1234")
    assert s.events_per_s["market_events"] == 100.0 and s.events_per_s["fills"] == 0.0


def test_rate_meter_restart_and_same_time() -> None:
    r = RateMeter()
    assert r.rates(0, {"x": 10}) == {}
    assert r.rates(1000, {"x": 30}) == {"x": 20.0}
    assert r.rates(1000, {"x": 40}) == {}
    assert r.rates(2000, {"x": 4}) == {"x": 4.0}


def test_unrealized_pnl_marks_the_last_sweep_to_the_mids() -> None:
    m = FakeMaker()
    m.sweep(positions={"BTC": D("0.1"), "ETH": D(0)}, entry_px={"BTC": D(99000)})
    assert status_of(m, "").upnl == D(100)  # (100000 − 99000) × 0.1; flat ETH needs nothing
    m.sweep(positions={"BTC": D("-0.1")})
    assert status_of(m, "").upnl == D(-100)
    m.sweep(positions={"BTC": D("0.1"), "DOGE": D(1000)})
    assert status_of(m, "").upnl is None  # DOGE has a mid but no entry price: no partial sum
    m.sweep(sweeps=0)
    assert status_of(m, "").upnl is None  # nothing swept yet
