"""Hourly perp funding in the simulator: the rate of each coin at each hour, and the payments it
makes to every (non-synthetic) position.

Sans-IO: :meth:`FundingBook.step` is given ``now_ms`` (ms since the epoch) and settles every hour
boundary passed since the last call, in order. Rule (Hyperliquid's funding docs, simplified): at
each hour the rate is ``premium + clamp(interest − premium, ±0.0005)`` with the interest rate
0.01 % per 8 h (0.00125 % per hour) and ``premium = (mid − oracle) / oracle`` from the book at
that moment (the simulator's oracle is its mark, so a still market pays the interest rate); the
rate is capped at ±4 % per hour. A position of ``szi`` pays ``szi × oraclePx × rate`` USDC
(longs pay a positive rate), credited to or debited from the account's balance.

Wire shapes: ``fundingHistory`` rows ``{coin, fundingRate, premium, time}`` (recording
``nautilus/http_funding_history``), ``userFunding`` rows ``{time, hash, delta: {type: "funding",
coin, usdc, szi, fundingRate, nSamples}}`` (SDK cassette ``user_funding_history``),
``predictedFundings`` ``[[coin, [["HlPerp", {fundingRate, nextFundingTime,
fundingIntervalHours}]]]]`` (``@nktkas/hyperliquid`` 0.33.3 types).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hlmaker.sim.engine import Engine
from hlmaker.sim.rules import fmt, usd

HOUR_MS = 3_600_000
INTEREST_PER_HOUR = Decimal("0.0000125")
PREMIUM_CLAMP = Decimal("0.0005")
RATE_CAP = Decimal("0.04")
HISTORY_KEPT = 5000
"""Hourly rates kept per coin."""
PAGE = 500
"""``fundingHistory`` / ``userFunding`` answer at most 500 rows per request."""
ZERO_HASH = "0x" + "0" * 64


@dataclass(frozen=True)
class Payment:
    """One funding payment: ``usdc`` credited (negative = paid) on ``szi`` at ``rate``."""

    user: str
    time: int
    coin: str
    usdc: Decimal
    szi: Decimal
    rate: Decimal

    def delta(self) -> dict[str, Any]:
        """The ``funding`` delta / ``userEvents`` ``funding`` object."""
        return {
            "type": "funding",
            "coin": self.coin,
            "usdc": fmt(self.usdc),
            "szi": fmt(self.szi),
            "fundingRate": fmt(self.rate),
            "nSamples": None,
        }

    def wire(self) -> dict[str, Any]:
        """A ``userFunding`` row."""
        return {"time": self.time, "hash": ZERO_HASH, "delta": self.delta()}

    def event(self) -> dict[str, Any]:
        """The row of the ``userFundings`` feed and the ``userEvents`` ``funding`` push."""
        out = self.delta()
        del out["type"]
        return {"time": self.time, **out}


class FundingBook:
    """Funding rates and payments; the first hour settled is the one after the first
    :meth:`step`."""

    def __init__(self) -> None:
        self.next_hour: int | None = None
        self.rates: dict[str, deque[tuple[int, Decimal, Decimal]]] = {}
        self.payments: dict[str, list[Payment]] = {}
        self._cum: dict[tuple[str, str], list[Decimal]] = {}
        self._last_szi: dict[tuple[str, str], Decimal] = {}

    @staticmethod
    def rate(engine: Engine, coin: str) -> tuple[Decimal, Decimal]:
        """(rate, premium) of ``coin`` now."""
        book = engine.book(coin)
        oracle = engine.mark(coin)
        mid = book.mid() if book.bids.best() is not None and book.asks.best() is not None else None
        premium = (mid - oracle) / oracle if mid is not None and oracle else Decimal(0)
        adj = max(-PREMIUM_CLAMP, min(PREMIUM_CLAMP, INTEREST_PER_HOUR - premium))
        rate = max(-RATE_CAP, min(RATE_CAP, premium + adj))
        return rate.quantize(Decimal("0.0000000001")), premium.quantize(Decimal("0.0000000001"))

    def step(self, engine: Engine, now_ms: int) -> list[Payment]:
        """Settle every hour boundary at or before ``now_ms``; returns the payments made."""
        out: list[Payment] = []
        if self.next_hour is None:
            self.next_hour = now_ms - now_ms % HOUR_MS + HOUR_MS
        while self.next_hour <= now_ms:
            out.extend(self._settle(engine, self.next_hour))
            self.next_hour += HOUR_MS
        return out

    def _settle(self, engine: Engine, hour: int) -> list[Payment]:
        out = []
        marks = engine.marks()
        rates = {}
        for spec in engine.universe:
            rate, premium = self.rate(engine, spec.name)
            rates[spec.name] = rate
            hist = self.rates.setdefault(spec.name, deque(maxlen=HISTORY_KEPT))
            hist.append((hour, rate, premium))
        for acct in engine.accounts.values():
            if acct.synthetic:
                continue
            for coin, pos in acct.positions.items():
                key = (acct.address, coin)
                last = self._last_szi.get(key, Decimal(0))
                if pos.szi == 0:
                    self._last_szi[key] = pos.szi
                    continue
                usdc = usd(-pos.szi * marks[coin] * rates[coin])
                acct.balance += usdc
                pay = Payment(acct.address, hour, coin, usdc, pos.szi, rates[coin])
                self.payments.setdefault(acct.address, []).append(pay)
                cum = self._cum.setdefault(key, [Decimal(0)] * 3)
                if last == 0 or (last > 0) != (pos.szi > 0):
                    cum[1] = Decimal(0)
                if last != pos.szi:
                    cum[2] = Decimal(0)
                for i in range(3):
                    cum[i] -= usdc
                self._last_szi[key] = pos.szi
                out.append(pay)
        return out

    def cum_funding(self, engine: Engine, user: str) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        """coin → (allTime, sinceOpen, sinceChange) funding paid by ``user`` (positive = paid);
        the since-counters read zero once the position changed after the last payment."""
        out = {}
        acct = engine.account(user)
        for (u, coin), cum in self._cum.items():
            if u != user:
                continue
            szi = acct.positions[coin].szi if acct and coin in acct.positions else Decimal(0)
            last = self._last_szi.get((u, coin), Decimal(0))
            open_ = cum[1] if szi != 0 and (szi > 0) == (last > 0) and last != 0 else Decimal(0)
            change = cum[2] if szi == last else Decimal(0)
            out[coin] = (cum[0], open_, change)
        return out

    def history(self, coin: str, start: int, end: int | None) -> list[dict[str, Any]]:
        """``fundingHistory``: hourly rates of ``coin`` in ``[start, end]``, oldest first."""
        rows = [
            {"coin": coin, "fundingRate": fmt(r), "premium": fmt(p), "time": t}
            for t, r, p in self.rates.get(coin, ())
            if t >= start and (end is None or t <= end)
        ]
        return rows[:PAGE]

    def user_funding(self, user: str, start: int, end: int | None) -> list[dict[str, Any]]:
        """``userFunding``: payments of ``user`` in ``[start, end]``, oldest first."""
        rows = [
            p.wire() for p in self.payments.get(user, ())
            if p.time >= start and (end is None or p.time <= end)
        ]
        return rows[:PAGE]

    def predicted(self, engine: Engine, now_ms: int) -> list[Any]:
        """``predictedFundings``: the rate each coin would pay at the next hour."""
        next_hour = now_ms - now_ms % HOUR_MS + HOUR_MS
        return [
            [
                spec.name,
                [
                    [
                        "HlPerp",
                        {
                            "fundingRate": fmt(self.rate(engine, spec.name)[0]),
                            "nextFundingTime": next_hour,
                            "fundingIntervalHours": 1,
                        },
                    ]
                ],
            ]
            for spec in engine.universe
        ]

    def current_rate(self, engine: Engine, coin: str) -> Decimal:
        """The asset context's ``funding``: the rate the next hour would pay."""
        return self.rate(engine, coin)[0]
