"""The simulator's trade tape: recent trades and candles of every coin, fed by the trades of
each :class:`~hlmaker.sim.effects.Effects` (user and synthetic-market trades alike).

Sans-IO: no clock of its own, every time is the trade's ``time`` or a ``now_ms`` passed in (ms
since the epoch). Wire shapes: ``recentTrades`` rows are the ``trades`` feed's rows (§6.2);
candles ``{"t","T","s","i","o","c","h","l","v","n"}`` with string-decimal prices and base volume
(§2.12 ``candleSnapshot``, §6.2 ``candle``; key order of ``@nktkas/hyperliquid`` 0.33.3's
``CandleSnapshotResponse``). ``candleSnapshot`` returns at most 5000 candles (§8).

Candles are kept per minute (the last :data:`MINUTES_KEPT`) and aggregated into the longer
intervals on demand; ``1M`` is treated as 30 days (the simulator's simplification).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hlmaker.sim.rules import fmt

MINUTE_MS = 60_000
INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
    "3d": 3 * 1440 * MINUTE_MS,
    "1w": 7 * 1440 * MINUTE_MS,
    "1M": 30 * 1440 * MINUTE_MS,
}
"""Candle intervals the exchange serves (§6.2) and their length in ms."""

RECENT_TRADES = 10
"""``recentTrades`` returns the latest 10 trades of the coin, newest first."""
MINUTES_KEPT = 7 * 1440
"""One-minute candles kept per coin (a week)."""
CANDLE_LIMIT = 5000
"""``candleSnapshot`` answers at most the 5000 most recent candles (§8)."""


@dataclass
class Candle:
    """One candle: open time ``t`` (ms), prices in quote currency, ``v`` base volume (coin)."""

    t: int
    o: Decimal
    h: Decimal
    low: Decimal
    c: Decimal
    v: Decimal
    n: int

    def add(self, px: Decimal, sz: Decimal) -> None:
        """Fold one trade (``px``, ``sz``) in, after the candle's earlier trades."""
        self.h = max(self.h, px)
        self.low = min(self.low, px)
        self.c = px
        self.v += sz
        self.n += 1

    def wire(self, coin: str, interval: str) -> dict[str, Any]:
        """The exchange's candle object; ``T`` is the interval's last ms."""
        return {
            "t": self.t,
            "T": self.t + INTERVAL_MS[interval] - 1,
            "s": coin,
            "i": interval,
            "o": fmt(self.o),
            "c": fmt(self.c),
            "h": fmt(self.h),
            "l": fmt(self.low),
            "v": fmt(self.v),
            "n": self.n,
        }


class TradeTape:
    """Recent trades and one-minute candles of each coin."""

    def __init__(self) -> None:
        self._recent: dict[str, deque[dict[str, Any]]] = {}
        self._minutes: dict[str, deque[Candle]] = {}

    def record(self, trades: list[dict[str, Any]]) -> set[str]:
        """Add trade rows (the ``trades`` feed's shape, oldest first); returns the coins that
        traded."""
        coins: set[str] = set()
        for row in trades:
            coin = row["coin"]
            coins.add(coin)
            self._recent.setdefault(coin, deque(maxlen=RECENT_TRADES)).append(row)
            px, sz, t = Decimal(row["px"]), Decimal(row["sz"]), int(row["time"])
            minutes = self._minutes.setdefault(coin, deque(maxlen=MINUTES_KEPT))
            start = t - t % MINUTE_MS
            if minutes and minutes[-1].t == start:
                minutes[-1].add(px, sz)
            elif not minutes or minutes[-1].t < start:
                minutes.append(Candle(start, px, px, px, px, sz, 1))
            else:  # a trade stamped before the latest candle: fold it into that one
                minutes[-1].add(px, sz)
        return coins

    def recent_trades(self, coin: str) -> list[dict[str, Any]]:
        """``recentTrades``: the latest :data:`RECENT_TRADES` trades of ``coin``, newest
        first (the order of the nautilus sample; hand-made there)."""
        return list(reversed(self._recent.get(coin, ())))

    def candles(
        self, coin: str, interval: str, start: int, end: int | None
    ) -> list[dict[str, Any]]:
        """``candleSnapshot``: candles of ``interval`` whose open time is in ``[start, end]``
        (``end`` ``None`` = no bound), oldest first, at most :data:`CANDLE_LIMIT` (the most
        recent).

        Raises:
            KeyError: an unknown interval.
        """
        length = INTERVAL_MS[interval]
        out: list[Candle] = []
        for m in self._minutes.get(coin, ()):
            t = m.t - m.t % length
            if out and out[-1].t == t:
                last = out[-1]
                last.h, last.low = max(last.h, m.h), min(last.low, m.low)
                last.c, last.v, last.n = m.c, last.v + m.v, last.n + m.n
            else:
                out.append(Candle(t, m.o, m.h, m.low, m.c, m.v, m.n))
        rows = [c for c in out if c.t >= start and (end is None or c.t <= end)]
        return [c.wire(coin, interval) for c in rows[-CANDLE_LIMIT:]]

    def current_candle(self, coin: str, interval: str) -> dict[str, Any] | None:
        """The latest candle of ``coin`` at ``interval`` (the ``candle`` feed's push), or
        ``None`` before the first trade."""
        minutes = self._minutes.get(coin)
        if not minutes:
            return None
        length = INTERVAL_MS[interval]
        start = minutes[-1].t - minutes[-1].t % length
        parts = []
        for m in reversed(minutes):
            if m.t < start:
                break
            parts.append(m)
        parts.reverse()
        candle = Candle(start, parts[0].o, parts[0].h, parts[0].low, parts[0].c, parts[0].v,
                        parts[0].n)
        for m in parts[1:]:
            candle.h, candle.low = max(candle.h, m.h), min(candle.low, m.low)
            candle.c, candle.v, candle.n = m.c, candle.v + m.v, candle.n + m.n
        return candle.wire(coin, interval)

    def day_volume(self, coin: str, now_ms: int) -> tuple[Decimal, Decimal]:
        """(notional, base) volume of ``coin`` over the 24 h before ``now_ms``, from the minute
        candles (notional at each minute's close)."""
        since = now_ms - 1440 * MINUTE_MS
        ntl = base = Decimal(0)
        for m in reversed(self._minutes.get(coin, ())):
            if m.t < since:
                break
            base += m.v
            ntl += m.v * m.c
        return ntl, base
