"""A rich live terminal dashboard and a plain key=value status log.

:func:`render` turns a :class:`~hlmaker.ui.status.Status` into a rich renderable (pure: easy to
test with ``Console(record=True)``); :func:`run_dashboard` redraws it with :class:`rich.live.Live`
on a trio timer (``auto_refresh=False``: rich starts no refresh thread); :func:`run_status_log`
writes one ``key=value`` line per interval for non-terminal output (services, CI logs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import trio
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hlmaker.messages import Counters, OrderView
from hlmaker.ui.status import Status

log = logging.getLogger("hlmaker.status")

TOP_ORDERS = 12
"""Open orders shown in the orders table (nearest the mid first)."""
MAX_COINS = 20


def fmt(value: Decimal | None, places: int | None = None) -> str:
    """A decimal without exponent or trailing zeros (``"-"`` for ``None``); ``places`` fixes
    the decimals."""
    if value is None:
        return "-"
    if places is not None:
        return f"{value:,.{places}f}"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _yes(flag: bool) -> Text:
    return Text("yes", style="green") if flag else Text("no", style="bold red")


def _header(s: Status) -> Panel:
    v = s.view
    when = datetime.fromtimestamp(s.now_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    age = "-" if s.reconcile_age_s is None else f"{s.reconcile_age_s:.1f}s ago"
    line = Text.assemble(
        ("hlmaker ", "bold"), (s.network or "?", "bold cyan"), "  ", (s.base_url, "dim"),
        "   synced ", _yes(v.is_synced), "  ready ", _yes(v.ready),
        "  feed ", Text("up", style="green") if s.feed_connected
        else Text("down", style="bold red"),
        f"  reconcile {age}  unresolved {v.unresolved}",
        _budget(s), _ip_weight(s), f"  {when}",
    )
    return Panel(line, padding=(0, 1))


def _budget(s: Status) -> Text:
    b = s.budget
    if b is None or not b.known:
        return Text("  budget -")
    style = "bold red" if b.exhausted else ("yellow" if b.requote_scale > 1 else "")
    text = f"  budget {b.used}/{b.cap} (headroom {b.headroom})"
    if b.exhausted:
        text += " only cancels"
    elif b.requote_scale > 1:
        text += f" requote x{b.requote_scale}"
    return Text(text, style=style)


def _ip_weight(s: Status) -> Text:
    w = s.ip_weight
    if w is None:
        return Text("")
    text = f"  ip weight {w.used}/{w.limit}/min (headroom {w.headroom})"
    if w.rate_limited:
        text += f" 429s {w.rate_limited}"
    return Text(text, style="yellow" if w.headroom < w.limit // 10 else "")


def _markets(s: Status) -> Table:
    t = Table(title="Markets and our quotes", expand=True, title_justify="left")
    for name in ("coin", "mid", "our bid", "our ask", "width bps", "bids", "asks", "position"):
        t.add_column(name, justify="left" if name == "coin" else "right")
    quotes = s.quotes
    for coin in s.coins[:MAX_COINS]:
        q = quotes.get(coin)
        mid = s.mids.get(coin)
        width = "-"
        if q and q.best_bid is not None and q.best_ask is not None and mid:
            width = f"{(q.best_ask - q.best_bid) / mid * 10_000:.1f}"
        t.add_row(coin, fmt(mid), fmt(q.best_bid if q else None), fmt(q.best_ask if q else None),
                  width, f"{q.bids if q else 0} / {fmt(q.bid_sz) if q else 0}",
                  f"{q.asks if q else 0} / {fmt(q.ask_sz) if q else 0}",
                  fmt(s.view.position(coin)))
    return t


def _distance(o: OrderView, s: Status) -> Decimal:
    mid = s.mids.get(o.coin)
    return abs(o.px - mid) / mid if mid else Decimal(1)


def _orders(s: Status) -> Table:
    orders = sorted(s.view.orders, key=lambda o: (_distance(o, s), o.coin, o.side, o.px))
    t = Table(title=f"Open orders ({len(orders)}, top {TOP_ORDERS})", expand=True,
              title_justify="left")
    for name in ("coin", "side", "px", "sz", "filled", "state", "oid", "cloid"):
        t.add_column(name, justify="right" if name in ("px", "sz", "filled", "oid") else "left")
    for o in orders[:TOP_ORDERS]:
        t.add_row(o.coin, Text("bid", style="green") if o.side == "B"
                  else Text("ask", style="red"), fmt(o.px), fmt(o.sz), fmt(o.filled_sz),
                  o.state, str(o.oid) if o.oid is not None else "-", o.cloid[:10] + "…")
    return t


def _position(s: Status) -> Table:
    t = Table(title="Position and PnL", expand=True, title_justify="left")
    t.add_column("coin")
    t.add_column("position", justify="right")
    t.add_column("notional", justify="right")
    for coin, pos in sorted(s.view.positions.items()):
        mid = s.mids.get(coin)
        t.add_row(coin, fmt(pos), fmt(pos * mid, 2) if mid is not None else "-")
    t.add_row(Text("realized PnL", style="bold"), "net of fees",
              fmt(s.pnl, 2) if s.pnl is not None else "-")
    t.add_row(Text("unrealized PnL", style="bold"), "at entry, to mid",
              fmt(s.upnl, 2) if s.upnl is not None else "-")
    c = s.view.counters
    last = "-" if s.view.last_fill_ms is None else \
        f"{max(0, s.now_ms - s.view.last_fill_ms) / 1000:.1f}s ago"
    t.add_row("fills", str(s.fills_total), f"volume {fmt(c.volume)}")
    t.add_row("last fill", "", last)
    return t


def _anomalies(c: Counters, journal: Mapping[str, int] | None = None) -> Table:
    t = Table(title="Book counters", expand=True, title_justify="left")
    for name, justify in (("counter", "left"), ("n", "right")) * 2:
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    cells: list[tuple[str, Text]] = []
    for field in attrs.fields(Counters):
        if field.name in ("fills_applied", "volume"):
            continue
        n = getattr(c, field.name)
        cells.append((field.name, Text(str(n), style="bold yellow" if n else "dim")))
    for name, n in (journal or {}).items():
        cells.append((f"journal_{name}", Text(str(n), style="bold red" if n else "dim")))
    half = (len(cells) + 1) // 2
    for left, right in zip(cells[:half], [*cells[half:], ("", Text(""))]):
        t.add_row(left[0], left[1], right[0], right[1])
    return t


def _rates(s: Status) -> Table:
    t = Table(title="Events / s", expand=True, title_justify="left")
    t.add_column("kind")
    t.add_column("rate", justify="right")
    for kind, rate in sorted(s.events_per_s.items()):
        t.add_row(kind, f"{rate:.1f}")
    return t


def _actors(s: Status) -> Table:
    t = Table(title="Actors", expand=True, title_justify="left")
    t.add_column("actor")
    t.add_column("state")
    t.add_column("restarts", justify="right")
    for actor in sorted(set(s.actors) | set(s.restarts)):
        state = s.actors.get(actor, "?")
        t.add_row(actor, Text(state, style="green" if state == "running" else "bold yellow"),
                  str(s.restarts.get(actor, 0)))
    return t


def _row(*cells: RenderableType) -> Table:
    grid = Table.grid(expand=True, padding=(0, 1))
    for _ in cells:
        grid.add_column(ratio=1)
    grid.add_row(*cells)
    return grid


def render(status: Status) -> RenderableType:
    """The dashboard for ``status``: header (network, url, synced), markets and our quotes,
    open orders (nearest the mid first, top :data:`TOP_ORDERS`), position and PnL with fills
    and volume, the book's anomaly counters, event rates and actor states."""
    return Group(
        _header(status),
        _markets(status),
        _orders(status),
        _row(_position(status), _anomalies(status.view.counters, status.journal)),
        _row(_rates(status), _actors(status)),
    )


async def run_dashboard(get_status: Callable[[], Status], *, console: Console,
                        refresh_s: float = 0.5) -> None:
    """Redraw :func:`render` of ``get_status()`` every ``refresh_s`` seconds (trio time) until
    cancelled. ``get_status`` must be cheap and must not block."""
    with Live(render(get_status()), console=console, auto_refresh=False,
              redirect_stdout=False, redirect_stderr=False) as live:
        while True:
            await trio.sleep(refresh_s)
            live.update(render(get_status()), refresh=True)


def status_line(status: Status) -> str:
    """One ``key=value`` line: ``sync exchange_open=4 local_open=4 position=BTC:0.01
    fills=12 synced=true ready=true feed=up … budget=used/cap headroom=N
    ip_weight=used/limit ip_headroom=N …`` (values without
    spaces)."""
    v = status.view
    positions = ",".join(f"{c}:{fmt(q)}" for c, q in sorted(v.positions.items()) if q) or "flat"
    parts = [
        "sync",
        f"exchange_open={status.exchange_open if status.exchange_open is not None else '-'}",
        f"local_open={len(v.orders)}",
        f"position={positions}",
        f"fills={status.fills_total}",
        f"synced={str(v.is_synced).lower()}",
        f"ready={str(v.ready).lower()}",
        f"feed={'up' if status.feed_connected else 'down'}",
        f"unresolved={v.unresolved}",
        "reconcile_age_s=" + ("-" if status.reconcile_age_s is None
                              else f"{status.reconcile_age_s:.1f}"),
        budget_part(status),
        *ip_weight_part(status),
        f"pnl={fmt(status.pnl, 2) if status.pnl is not None else '-'}".replace(",", ""),
        f"upnl={fmt(status.upnl, 2) if status.upnl is not None else '-'}".replace(",", ""),
    ]
    c = v.counters
    anomalies = {f.name: getattr(c, f.name) for f in attrs.fields(Counters)
                 if f.name not in ("fills_applied", "volume") and getattr(c, f.name)}
    parts += [f"{k}={n}" for k, n in anomalies.items()]
    if v.foreign_orders:
        parts.append(f"foreign_open={len(v.foreign_orders)}")
    parts += [f"journal_{k}={n}" for k, n in (status.journal or {}).items() if n]
    if status.restarts:
        parts.append("restarts=" + ",".join(f"{a}:{n}" for a, n in
                                            sorted(status.restarts.items())))
    if status.events_per_s:
        parts.append("events=" + ",".join(f"{k}:{r:.1f}" for k, r in
                                          sorted(status.events_per_s.items())))
    return " ".join(parts)


def budget_part(status: Status) -> str:
    """``budget=used/cap headroom=N`` (``only_cancels`` once spent), or ``budget=-``."""
    b = status.budget
    if b is None or not b.known:
        return "budget=-"
    out = f"budget={b.used}/{b.cap} headroom={b.headroom}"
    if b.exhausted:
        out += " only_cancels=true"
    elif b.requote_scale > 1:
        out += f" requote_scale={b.requote_scale}"
    if b.bought:
        out += f" bought={b.bought}"
    return out


def ip_weight_part(status: Status) -> list[str]:
    """``ip_weight=used/limit ip_headroom=N`` (+ ``ip_429=N`` once any), or nothing."""
    w = status.ip_weight
    if w is None:
        return []
    out = [f"ip_weight={w.used}/{w.limit}", f"ip_headroom={w.headroom}"]
    if w.rate_limited:
        out.append(f"ip_429={w.rate_limited}")
    return out


async def run_status_log(get_status: Callable[[], Status], *, interval_s: float = 5.0,
                         logger: logging.Logger = log) -> None:
    """Log :func:`status_line` of ``get_status()`` at INFO every ``interval_s`` seconds (trio
    time) until cancelled."""
    while True:
        await trio.sleep(interval_s)
        logger.info("%s", status_line(get_status()))
