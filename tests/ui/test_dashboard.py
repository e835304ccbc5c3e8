"""Dashboard rendering (recording console), the live loop and the status log."""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs
import pytest
import trio
from rich.console import Console

from hlmaker.actors.budget import BudgetView
from hlmaker.actors.ratelimit import IpWeightView
from hlmaker.messages import BookView, Counters, OrderView
from hlmaker.ui import Status, render, run_dashboard, run_status_log, status_line

D = Decimal
EPOCH = 1_700_000_000_000


def order(cloid_n: int, side: str, px: str, sz: str, coin: str = "BTC",
          state: str = "resting", filled: str = "0") -> OrderView:
    return OrderView(cloid=f"0x{cloid_n:032x}", oid=5000 + cloid_n, coin=coin,
                     side=side, px=D(px), sz=D(sz), filled_sz=D(filled),  # type: ignore[arg-type]
                     tif="Alo", reduce_only=False, state=state, created_ms=EPOCH)


def status(**kw: object) -> Status:
    v = BookView(
        at_ms=EPOCH,
        orders=(order(1, "B", "99900", "0.001"), order(2, "B", "99800", "0.001"),
                order(3, "A", "100100", "0.001", filled="0.0004"),
                order(4, "A", "2005.5", "0.1", coin="ETH", state="pending_new")),
        positions={"BTC": D("0.0104"), "ETH": D("-0.2")},
        counters=Counters(fills_applied=12, volume=D("1234.5"), gaps_detected=2,
                          orphans_detected=1),
        is_synced=True, last_fill_ms=EPOCH - 3000, unresolved=0, ready=True)
    base: dict[str, object] = dict(
        now_ms=EPOCH, view=v, mids={"BTC": D("100000"), "ETH": D("2000.5")},
        pnl=D("12.3456"), upnl=D("-3.216"), fills_total=17,
        events_per_s={"l2Book": 9.5, "fills": 0.25},
        restarts={"feed": 2}, actors={"feed": "restarting", "book": "running"},
        reconcile_age_s=4.2, exchange_open=4, feed_connected=True, network="testnet",
        base_url="https://api.hyperliquid-testnet.xyz")
    base.update(kw)
    return Status(**base)  # type: ignore[arg-type]


def text_of(renderable: object) -> str:
    console = Console(record=True, width=120)
    console.print(renderable)
    return console.export_text()


def test_quotes_derive_from_orders() -> None:
    q = status().quotes
    assert q["BTC"].best_bid == D(99900) and q["BTC"].best_ask == D(100100)
    assert q["BTC"].bids == 2 and q["BTC"].ask_sz == D("0.0006")
    assert q["ETH"].best_bid is None and q["ETH"].asks == 1


def test_render_shows_the_figures() -> None:
    out = text_of(render(status()))
    for figure in ("testnet", "https://api.hyperliquid-testnet.xyz", "synced", "4.2s ago",
                   "100000", "99900", "100100", "20.0",  # width in bps
                   "2005.5", "0.0104", "-0.2", "1,040.00", "12.35", "-3.22", "1234.5", "17",
                   "gaps_detected", "orphans_detected", "l2Book", "9.5", "restarting",
                   "5001", "pending_new", "3.0s ago"):
        assert figure in out, figure


def test_render_empty_status() -> None:
    v = BookView(at_ms=EPOCH, orders=(), positions={}, counters=Counters(), is_synced=False,
                 last_fill_ms=None, unresolved=1, ready=False)
    out = text_of(render(Status(now_ms=EPOCH, view=v)))
    assert "no" in out and "down" in out and "unresolved 1" in out


def test_status_line() -> None:
    line = status_line(status())
    assert line.startswith("sync exchange_open=4 local_open=4 position=BTC:0.0104,ETH:-0.2 ")
    for part in ("fills=17", "synced=true", "ready=true", "feed=up", "reconcile_age_s=4.2",
                 "pnl=12.35", "upnl=-3.22", "gaps_detected=2", "restarts=feed:2",
                 "events=fills:0.2,l2Book:9.5"):
        assert part in line.split(), part


async def test_run_dashboard_redraws_until_cancelled(autojump_clock: object) -> None:
    with trio.fail_after(10):
        console = Console(record=True, width=120)
        calls = 0

        def get() -> Status:
            nonlocal calls
            calls += 1
            return status(fills_total=calls)

        with trio.move_on_after(2.1):
            await run_dashboard(get, console=console, refresh_s=0.5)
        assert calls == 5  # the first frame and four redraws
        assert "testnet" in console.export_text()


async def test_run_status_log(autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    with trio.fail_after(30):
        with caplog.at_level(logging.INFO, logger="hlmaker.status"), \
                trio.move_on_after(11):
            await run_status_log(status, interval_s=5.0)
        lines = [r.getMessage() for r in caplog.records if r.name == "hlmaker.status"]
        assert len(lines) == 2 and lines[0].startswith("sync exchange_open=4")


def test_ip_weight_in_status_line_and_view() -> None:
    assert not any(p.startswith("ip_") for p in status_line(status()).split())
    w = IpWeightView(limit=1200, used=850, headroom=350, peak=900, waited_s=1.5,
                     rate_limited=0, thinned=2)
    line = status_line(status(ip_weight=w)).split()
    assert "ip_weight=850/1200" in line and "ip_headroom=350" in line
    assert not any(p.startswith("ip_429") for p in line)
    hit = attrs.evolve(w, rate_limited=3)
    assert "ip_429=3" in status_line(status(ip_weight=hit)).split()
    assert "ip weight 850/1200/min (headroom 350) 429s 3" in text_of(render(status(
        ip_weight=hit)))


def test_budget_in_status_line_and_view() -> None:
    assert "budget=-" in status_line(status()).split()
    ok = BudgetView(known=True, used=3000, cap=10_000, headroom=7000)
    line = status_line(status(budget=ok)).split()
    assert "budget=3000/10000" in line and "headroom=7000" in line
    assert "budget 3000/10000 (headroom 7000)" in text_of(render(status(budget=ok)))
    low = BudgetView(known=True, used=9500, cap=10_000, headroom=500,
                     requote_scale=Decimal(10))
    assert "requote_scale=10" in status_line(status(budget=low)).split()
    spent = BudgetView(known=True, used=10_001, cap=10_000, headroom=-1, exhausted=True,
                       requote_scale=Decimal(20))
    assert "only_cancels=true" in status_line(status(budget=spent)).split()
    assert "only cancels" in text_of(render(status(budget=spent)))
