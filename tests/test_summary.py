"""The final figures: canonical decimal strings, sync, unrealized PnL only after a sweep."""

from __future__ import annotations

from decimal import Decimal

import attrs

from hlmaker.actors.reconciler import ReconcileStatus
from hlmaker.messages import BookView, Counters
from hlmaker.summary import decimal_str, summarize

D = Decimal


def test_decimal_str_is_canonical() -> None:
    assert decimal_str(D("0.00350")) == "0.0035"
    assert decimal_str(D("1E+1")) == "10"
    assert decimal_str(D("-0.000")) == "0"
    assert decimal_str(D("-2.50")) == "-2.5"


def _totals(**changes: object) -> dict[str, object]:
    c = attrs.evolve(Counters(), **changes)  # type: ignore[arg-type]
    return {f.name: getattr(c, f.name) for f in attrs.fields(Counters)}


def test_summarize() -> None:
    view = BookView(at_ms=0, orders=(), positions={"BTC": D("0.0020"), "ETH": D(0)},
                    counters=Counters(), is_synced=True, last_fill_ms=None, unresolved=0,
                    ready=True)
    before = ReconcileStatus(at_ms=0, sweeps=0)
    totals = _totals(fills_applied=3, volume=D("12.5"), closed_pnl=D("1.5"), fees=D("0.25"))
    out = summarize(view=view, status=before, totals=totals, mids={"BTC": D(100)}, restarts=1,
                    feed_connects=2, actions_sent=9, shutdown={"confirmed_no_open_orders": True})
    assert out["position_local"] == {"BTC": "0.002"} and out["position_exchange"] == {}
    assert out["is_synced"] is False  # the exchange's (unswept) position differs
    assert out["unrealized_pnl"] is None and out["realized_pnl"] == "1.25"
    assert (out["fills"], out["volume"], out["restarts"], out["feed_connects"],
            out["actions_sent"]) == (3, "12.5", 1, 2, 9)
    swept = ReconcileStatus(at_ms=5, sweeps=1, positions={"BTC": D("0.002")},
                            entry_px={"BTC": D(90)})
    out = summarize(view=view, status=swept, totals=totals, mids={"BTC": D(100)}, restarts=0,
                    feed_connects=1, actions_sent=0, shutdown={})
    assert out["is_synced"] is True and out["position_exchange"] == {"BTC": "0.002"}
    assert out["unrealized_pnl"] == "0.020000"  # (100 − 90) × 0.002
