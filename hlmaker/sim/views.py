"""JSON views of engine state in the exchange's wire shapes, shared by ``/info`` and the
WebSocket feeds.

Shapes follow ``../shared/hyperliquid-protocol.md`` (§2.x for REST, §6.x for WS). Numbers are
string-decimals, ids and times JSON integers (ms since the epoch).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hlmaker.sim.engine import Engine
from hlmaker.sim.rules import fmt, usd

FILLS_LIMIT = 2000
"""``userFills`` / ``userFillsByTime`` return at most 2000 fills (§2.8, §2.9)."""

HISTORY_LIMIT = 2000

USDC_TOKEN = {
    "name": "USDC",
    "szDecimals": 8,
    "weiDecimals": 8,
    "index": 0,
    "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
    "isCanonical": True,
    "evmContract": None,
    "fullName": None,
    "deployerTradingFeeShare": "0.0",
}
"""The USDC spot token, keys in the current exchange's order (``deployerTradingFeeShare`` last,
as ``@nktkas/hyperliquid`` 0.33.3 types ``spotMeta`` tokens)."""

COLLATERAL_TOKEN = 0
"""Spot token index of the perp dex's collateral (USDC; ``allPerpMetas`` recording)."""


def margin_table_id(max_leverage: int) -> int:
    """The asset's ``marginTableId``: the simulator gives every asset a one-tier table whose id
    is its max leverage (ids below 50 are single-tier tables on the exchange, §2.1)."""
    return max_leverage


def meta(engine: Engine) -> dict[str, Any]:
    """``meta`` (§2.1): ``universe`` (``szDecimals``, ``name``, ``maxLeverage``,
    ``marginTableId``), ``marginTables`` (one single-tier table per distinct max leverage) and
    ``collateralToken`` — in the current exchange's key order."""
    tables = sorted({s.max_leverage for s in engine.universe})
    return {
        "universe": [
            {
                "szDecimals": s.sz_decimals,
                "name": s.name,
                "maxLeverage": s.max_leverage,
                "marginTableId": margin_table_id(s.max_leverage),
            }
            for s in engine.universe
        ],
        "marginTables": [
            [
                margin_table_id(lev),
                {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]},
            ]
            for lev in tables
        ],
        "collateralToken": COLLATERAL_TOKEN,
    }


def spot_meta() -> dict[str, Any]:
    """``spotMeta`` (§2.2): no spot pairs, only the USDC token."""
    return {"universe": [], "tokens": [dict(USDC_TOKEN)]}


def all_mids(engine: Engine) -> dict[str, str]:
    """``allMids`` (§2.3): coin → mid string."""
    return {coin: fmt(mid) for coin, mid in engine.mids().items()}


def asset_ctx(engine: Engine, coin: str, funding: Decimal = Decimal(0),
              day: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0)),
              open_interest: Decimal = Decimal(0)) -> dict[str, Any]:
    """One perp asset context (§2.12), keys in the current exchange's order (the recorded
    ``allDexsAssetCtxs`` push, 2026): ``premium``, ``midPx`` and ``impactPxs`` are ``null``
    while the book is one-sided or empty. ``funding`` is the current hourly rate, ``day`` the
    (notional, base) volume of the last 24 h, ``open_interest`` in coin."""
    spec = engine.universe[engine.coin_to_asset[coin]]
    book = engine.book(coin)
    mark = engine.mark(coin)
    bid, ask = book.bids.best(), book.asks.best()
    two_sided = bid is not None and ask is not None
    mid = book.mid() if two_sided else None
    return {
        "funding": fmt(funding),
        "openInterest": fmt(open_interest),
        "prevDayPx": fmt(spec.initial_px),
        "dayNtlVlm": fmt(day[0]),
        "premium": fmt((mid - mark) / mark) if mid is not None else None,
        "oraclePx": fmt(mark),
        "markPx": fmt(mark),
        "midPx": fmt(mid) if mid is not None else None,
        "impactPxs": [fmt(bid), fmt(ask)] if two_sided else None,
        "dayBaseVlm": fmt(day[1]),
    }


def asset_ctxs(engine: Engine) -> list[dict[str, Any]]:
    """``metaAndAssetCtxs`` contexts (§2.12) of every asset, zero funding and volume."""
    return [asset_ctx(engine, spec.name) for spec in engine.universe]


def open_orders(engine: Engine, user: str, frontend: bool = False) -> list[dict[str, Any]]:
    """``openOrders`` / ``frontendOpenOrders`` (§2.5, §2.6), newest first."""
    orders = reversed(engine.open_orders_for(user))
    return [o.wire_frontend() if frontend else o.wire() for o in orders]


CumFunding = Mapping[str, tuple[Decimal, Decimal, Decimal]]
"""coin → (allTime, sinceOpen, sinceChange) funding paid by the user (positive = paid)."""


def _liquidation_px(
    szi: Decimal, mark: Decimal, maint_frac: Decimal, free: Decimal
) -> Decimal | None:
    """The mark at which the account's value meets its maintenance margin, all other positions
    held at their marks: ``free`` = accountValue − maintenance of the other positions; solves
    ``free + szi·(P − mark) = |szi|·P·maint_frac`` (the exchange's cross formula, §2.7).
    ``None`` when no positive price liquidates."""
    denom = szi - abs(szi) * maint_frac
    if denom == 0:
        return None
    px = (szi * mark - free) / denom
    return px if px > 0 else None


def clearinghouse_state(
    engine: Engine, user: str, now_ms: int, cum_funding: CumFunding | None = None
) -> dict[str, Any]:
    """``clearinghouseState`` (§2.7) under the simulator's simple cross-margin model, keys in
    the current exchange's order (recordings from 2024-10 on: ``marginSummary,
    crossMarginSummary, crossMaintenanceMarginUsed, withdrawable, assetPositions, time``;
    positions ``coin, szi, leverage, entryPx, positionValue, unrealizedPnl, returnOnEquity,
    liquidationPx, marginUsed, maxLeverage, cumFunding``). Maintenance margin is half the
    initial margin at max leverage; ``liquidationPx`` solves account value = maintenance."""
    acct = engine.account(user)
    marks = engine.marks()
    rows: list[tuple[Any, ...]] = []
    total_ntl = Decimal(0)
    total_margin = Decimal(0)
    maint = Decimal(0)
    balance = acct.balance if acct else Decimal(0)
    upnl_total = Decimal(0)
    if acct is not None:
        for spec in engine.universe:
            pos = acct.positions.get(spec.name)
            if pos is None or pos.szi == 0:
                continue
            mark = marks[spec.name]
            lev, is_cross = acct.leverage.get(
                spec.name, (min(engine.config.default_leverage, spec.max_leverage), True)
            )
            value = abs(pos.szi) * mark
            sign = 1 if pos.szi > 0 else -1
            upnl = mark * pos.szi - pos.cost * sign
            margin = value / lev
            maint_frac = Decimal(1) / spec.max_leverage / 2
            total_ntl += value
            total_margin += margin
            maint += value * maint_frac
            upnl_total += upnl
            rows.append((spec, pos, mark, lev, is_cross, value, upnl, margin, maint_frac))
    account_value = balance + upnl_total
    positions: list[dict[str, Any]] = []
    zero3 = (Decimal(0), Decimal(0), Decimal(0))
    for spec, pos, mark, lev, is_cross, value, upnl, margin, maint_frac in rows:
        free = account_value - (maint - value * maint_frac)
        liq = _liquidation_px(pos.szi, mark, maint_frac, free)
        entry = pos.entry_px
        funded = (cum_funding or {}).get(spec.name, zero3)
        positions.append(
            {
                "type": "oneWay",
                "position": {
                    "coin": spec.name,
                    "szi": fmt(pos.szi),
                    "leverage": {"type": "cross" if is_cross else "isolated", "value": lev},
                    "entryPx": fmt(entry.quantize(Decimal("0.000001"))) if entry else None,
                    "positionValue": fmt(usd(value)),
                    "unrealizedPnl": fmt(usd(upnl)),
                    "returnOnEquity": fmt((upnl / margin).quantize(Decimal("0.0000001")))
                    if margin
                    else "0.0",
                    "liquidationPx": fmt(liq.quantize(Decimal("0.000001"))) if liq else None,
                    "marginUsed": fmt(usd(margin)),
                    "maxLeverage": spec.max_leverage,
                    "cumFunding": {
                        "allTime": fmt(usd(funded[0])),
                        "sinceOpen": fmt(usd(funded[1])),
                        "sinceChange": fmt(usd(funded[2])),
                    },
                },
            }
        )
    order_margin = acct.order_margin(engine.default_lev) if acct else Decimal(0)
    withdrawable = max(Decimal(0), account_value - total_margin - order_margin)
    raw_usd = account_value - sum(
        (marks[c] * p.szi for c, p in (acct.positions.items() if acct else ())), Decimal(0)
    )
    summary = {
        "accountValue": fmt(usd(account_value)),
        "totalNtlPos": fmt(usd(total_ntl)),
        "totalRawUsd": fmt(usd(raw_usd)),
        "totalMarginUsed": fmt(usd(total_margin)),
    }
    return {
        "marginSummary": summary,
        "crossMarginSummary": dict(summary),
        "crossMaintenanceMarginUsed": fmt(usd(maint)),
        "withdrawable": fmt(usd(withdrawable)),
        "assetPositions": positions,
        "time": now_ms,
    }


def user_fills(engine: Engine, user: str) -> list[dict[str, Any]]:
    """``userFills`` (§2.8): at most 2000 most recent fills, newest first."""
    fills = engine.fills_for(user)
    return [f.wire() for f in reversed(fills[-FILLS_LIMIT:])]


def user_fills_by_time(
    engine: Engine, user: str, start: int, end: int | None, now_ms: int
) -> list[dict[str, Any]]:
    """``userFillsByTime`` (§2.9): fills with ``start <= time <= end`` (``end`` defaults to
    now), **oldest first**, at most 2000 — the simulator's choice among the conflicting sources
    (§12.1): oldest-first pages make "last time as next startTime" pagination walk forward."""
    stop = now_ms if end is None else end
    out = []
    for f in engine.fills_for(user):
        if start <= f.time <= stop:
            out.append(f.wire())
            if len(out) >= FILLS_LIMIT:
                break
    return out


def order_status(engine: Engine, user: str, oid: int | str) -> dict[str, Any]:
    """``orderStatus`` (§2.10) by oid or cloid: ``{"status":"order",…}`` or ``unknownOid``."""
    order = engine.order_status(user, oid)
    if order is None:
        return {"status": "unknownOid"}
    return {
        "status": "order",
        "order": {
            "order": order.wire_frontend(),
            "status": order.status,
            "statusTimestamp": order.status_ts,
        },
    }


def historical_orders(engine: Engine, user: str) -> list[dict[str, Any]]:
    """``historicalOrders`` (§2.10): newest first, at most 2000."""
    acct = engine.account(user)
    if acct is None:
        return []
    rows = list(acct.history.values())[-HISTORY_LIMIT:]
    return [
        {"order": o.wire_frontend(), "status": o.status, "statusTimestamp": o.status_ts}
        for o in reversed(rows)
    ]
