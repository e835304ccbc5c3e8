"""Per-user state of the simulator outside trading: USDC ledger updates (the auto-funding
deposit), builder-fee approvals, the referrer code, named agents, and the reads built on them
(``userNonFundingLedgerUpdates``, ``maxBuilderFee``, ``userFees``, ``portfolio``,
``activeAssetData``, ``extraAgents``, ``userAbstraction``).

Sans-IO: every time is passed in (ms since the epoch). Shapes follow ``@nktkas/hyperliquid``
0.33.3's response types and the SDK cassettes (``portfolio``, ``extraAgents``,
``userNonFundingLedgerUpdates``); amounts are USDC string-decimals.

Builder fees (``approveBuilderFee``, Hyperliquid's builder-codes docs): a user approves a builder
for at most ``maxFeeRate`` (a percent string, e.g. ``"0.01%"``); an order naming a builder
``{"b": address, "f": fee}`` (``f`` in tenths of a basis point) is refused above the approved
rate, and its fills pay ``notional × f / 100000`` to the builder, shown as the fill's
``builderFee``. ``maxBuilderFee`` answers the approved rate in tenths of a basis point.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from hlmaker.sim.engine import Engine
from hlmaker.sim.rules import fmt, usd

DAY_MS = 86_400_000
MAX_BUILDER_FEE_TENTHS_BPS = 1000
"""Perp builder fees are capped at 0.1 % (1000 tenths of a basis point)."""
SPOT_CROSS = Decimal("0.0007")
SPOT_ADD = Decimal("0.0004")
REFERRAL_DISCOUNT = Decimal("0.04")
PORTFOLIO_PERIODS = ("day", "week", "month", "allTime",
                     "perpDay", "perpWeek", "perpMonth", "perpAllTime")
PERIOD_MS = {"day": DAY_MS, "week": 7 * DAY_MS, "month": 30 * DAY_MS, "allTime": None}


def parse_fee_rate(text: Any) -> int | None:
    """``"0.01%"`` → tenths of a basis point (10); ``None`` when malformed or above 0.1 %."""
    if not isinstance(text, str) or not text.endswith("%"):
        return None
    try:
        pct = Decimal(text[:-1])
    except InvalidOperation:
        return None
    tenths = pct * 1000
    if pct < 0 or tenths != tenths.to_integral_value() or tenths > MAX_BUILDER_FEE_TENTHS_BPS:
        return None
    return int(tenths)


def _hash(*parts: object) -> str:
    return "0x" + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


@dataclass
class UserLedger:
    """The non-trading state of every user."""

    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    builders: dict[str, dict[str, int]] = field(default_factory=dict)
    """user → builder → approved max fee (tenths of a basis point)."""
    referrers: dict[str, str] = field(default_factory=dict)
    agent_names: dict[str, dict[str, str]] = field(default_factory=dict)
    """master → agent address → name."""
    deposits: dict[str, Decimal] = field(default_factory=dict)
    samples: dict[str, list[tuple[int, Decimal]]] = field(default_factory=dict)
    """user → (time, accountValue) samples, taken hourly and on each ``portfolio`` read."""

    def deposit(self, user: str, usdc: Decimal, now_ms: int) -> dict[str, Any]:
        """Record a deposit (the simulator's auto-funding); returns the ledger row."""
        row = {"time": now_ms, "hash": _hash("deposit", user, now_ms),
               "delta": {"type": "deposit", "usdc": fmt(usd(usdc))}}
        self.updates.setdefault(user, []).append(row)
        self.deposits[user] = self.deposits.get(user, Decimal(0)) + usdc
        return row

    def ledger_updates(self, user: str, start: int, end: int | None) -> list[dict[str, Any]]:
        """``userNonFundingLedgerUpdates`` rows of ``user`` in ``[start, end]``, oldest first."""
        return [r for r in self.updates.get(user, ())
                if r["time"] >= start and (end is None or r["time"] <= end)]

    def approve_builder(self, user: str, builder: str, max_fee_rate: Any) -> str | None:
        """Approve ``builder`` for ``user`` up to ``max_fee_rate``; an error text or ``None``."""
        tenths = parse_fee_rate(max_fee_rate)
        if tenths is None:
            return "Invalid max fee rate."  # ⚠ text not recorded
        self.builders.setdefault(user, {})[builder] = tenths
        return None

    def max_builder_fee(self, user: str, builder: str) -> int:
        """``maxBuilderFee``: the approved rate in tenths of a basis point (0 = none)."""
        return self.builders.get(user, {}).get(builder, 0)

    def set_referrer(self, user: str, code: Any) -> str | None:
        """Record ``user``'s referrer code; an error text or ``None``."""
        if not isinstance(code, str) or not code:
            return "Referral code does not exist."  # ⚠ text not recorded
        if user in self.referrers:
            return "Referrer already set."  # ⚠ text not recorded
        self.referrers[user] = code
        return None

    def sample(self, user: str, now_ms: int, account_value: Decimal) -> None:
        """Keep an account-value sample for ``portfolio`` (at most one per ms)."""
        rows = self.samples.setdefault(user, [])
        if rows and rows[-1][0] == now_ms:
            rows[-1] = (now_ms, account_value)
        else:
            rows.append((now_ms, account_value))

    def portfolio(self, user: str, engine: Engine, now_ms: int,
                  account_value: Decimal) -> list[Any]:
        """``portfolio``: per period, account-value and PnL (value − deposits) histories from
        the samples, and the traded notional (``vlm``) from the user's fills."""
        self.sample(user, now_ms, account_value)
        deposited = self.deposits.get(user, Decimal(0))
        fills = engine.fills_for(user)
        out = []
        for name in PORTFOLIO_PERIODS:
            base = name.removeprefix("perp")
            span = PERIOD_MS[base[0].lower() + base[1:]]
            since = 0 if span is None else now_ms - span
            rows = [(t, v) for t, v in self.samples.get(user, ()) if t >= since]
            vlm = sum((f.px * f.sz for f in fills if f.time >= since), Decimal(0))
            out.append([name, {
                "accountValueHistory": [[t, fmt(usd(v))] for t, v in rows],
                "pnlHistory": [[t, fmt(usd(v - deposited))] for t, v in rows],
                "vlm": fmt(usd(vlm)),
            }])
        return out

    def user_fees(self, user: str, engine: Engine, now_ms: int) -> dict[str, Any]:
        """``userFees``: daily maker/taker notional of the last two weeks and the fee schedule
        (the engine's maker/taker rates as the base tier; no VIP or MM tiers)."""
        cfg = engine.config
        days: dict[int, list[Decimal]] = {}
        for f in engine.fills_for(user):
            if f.time < now_ms - 14 * DAY_MS:
                continue
            row = days.setdefault(f.time // DAY_MS, [Decimal(0), Decimal(0)])
            row[0 if f.crossed else 1] += f.px * f.sz
        daily = []
        for day in sorted(days):
            cross, add = days[day]
            date = _date(day)
            daily.append({"date": date, "userCross": fmt(usd(cross)), "userAdd": fmt(usd(add)),
                          "exchange": fmt(usd(cross + add))})
        zero_discount = {"bpsOfMaxSupply": "0.0", "discount": "0.0"}
        return {
            "dailyUserVlm": daily,
            "feeSchedule": {
                "cross": fmt(cfg.taker_fee), "add": fmt(cfg.maker_fee),
                "spotCross": fmt(SPOT_CROSS), "spotAdd": fmt(SPOT_ADD),
                "tiers": {"vip": [], "mm": []},
                "referralDiscount": fmt(REFERRAL_DISCOUNT),
                "stakingDiscountTiers": [],
            },
            "userCrossRate": fmt(cfg.taker_fee),
            "userAddRate": fmt(cfg.maker_fee),
            "userSpotCrossRate": fmt(SPOT_CROSS),
            "userSpotAddRate": fmt(SPOT_ADD),
            "activeReferralDiscount": "0.0",
            "trial": None,
            "feeTrialEscrow": "0.0",
            "nextTrialAvailableTimestamp": None,
            "stakingLink": None,
            "activeStakingDiscount": zero_discount,
        }

    def extra_agents(self, master: str) -> list[dict[str, Any]]:
        """``extraAgents``: the named agents ``master`` approved (keys as the SDK cassette)."""
        return [{"name": name, "address": agent, "validUntil": None}
                for agent, name in self.agent_names.get(master, {}).items() if name]


def _date(day: int) -> str:
    """UTC ``YYYY-MM-DD`` of day number ``day`` since the epoch (no wall clock involved)."""
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


def active_asset_data(engine: Engine, user: str, coin: str,
                      available: Decimal) -> dict[str, Any]:
    """``activeAssetData``: leverage, the largest buy/sell size and the USDC available to trade
    (``available`` = withdrawable under the margin model) at the mark."""
    spec = engine.universe[engine.coin_to_asset[coin]]
    acct = engine.account(user)
    lev, is_cross = (acct.leverage.get(coin) if acct else None) or (
        engine.default_lev[coin], True)
    mark = engine.mark(coin)
    max_sz = (available * lev / mark).quantize(Decimal(1).scaleb(-spec.sz_decimals))
    leverage: dict[str, Any] = {"type": "cross", "value": lev} if is_cross else {
        "type": "isolated", "value": lev, "rawUsd": "0.0"}
    return {
        "user": user,
        "coin": coin,
        "leverage": leverage,
        "maxTradeSzs": [fmt(max_sz), fmt(max_sz)],
        "availableToTrade": [fmt(usd(available)), fmt(usd(available))],
        "markPx": fmt(mark),
    }
