"""JSON views of engine state in the exchange's wire shapes, shared by ``/info`` and the
WebSocket feeds.

Shapes follow ``../shared/hyperliquid-protocol.md`` (§2.x for REST, §6.x for WS). Numbers are
string-decimals, ids and times JSON integers (ms since the epoch).
"""

from __future__ import annotations

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
}


def meta(engine: Engine) -> dict[str, Any]:
    """``meta`` (§2.1): the universe with ``name``, ``szDecimals``, ``maxLeverage``."""
    return {
        "universe": [
            {"name": s.name, "szDecimals": s.sz_decimals, "maxLeverage": s.max_leverage}
            for s in engine.universe
        ],
        "marginTables": [],
    }


def spot_meta() -> dict[str, Any]:
    """``spotMeta`` (§2.2): no spot pairs, only the USDC token."""
    return {"universe": [], "tokens": [USDC_TOKEN]}


def all_mids(engine: Engine) -> dict[str, str]:
    """``allMids`` (§2.3): coin → mid string."""
    return {coin: fmt(mid) for coin, mid in engine.mids().items()}


def asset_ctxs(engine: Engine) -> list[dict[str, Any]]:
    """``metaAndAssetCtxs`` contexts (§2.12): mark/mid/oracle from the book, zero funding."""
    out = []
    for spec in engine.universe:
        book = engine.book(spec.name)
        mid = book.mid()
        mark = engine.mark(spec.name)
        bid, ask = book.bids.best(), book.asks.best()
        out.append(
            {
                "dayNtlVlm": "0.0",
                "funding": "0.0",
                "impactPxs": [fmt(bid), fmt(ask)] if bid is not None and ask is not None else None,
                "markPx": fmt(mark),
                "midPx": fmt(mid) if mid is not None else None,
                "openInterest": "0.0",
                "oraclePx": fmt(mark),
                "premium": "0.0",
                "prevDayPx": fmt(spec.initial_px),
                "dayBaseVlm": "0.0",
            }
        )
    return out


def open_orders(engine: Engine, user: str, frontend: bool = False) -> list[dict[str, Any]]:
    """``openOrders`` / ``frontendOpenOrders`` (§2.5, §2.6), newest first."""
    orders = reversed(engine.open_orders_for(user))
    return [o.wire_frontend() if frontend else o.wire() for o in orders]


def clearinghouse_state(engine: Engine, user: str, now_ms: int) -> dict[str, Any]:
    """``clearinghouseState`` (§2.7) under the simulator's simple cross-margin model."""
    acct = engine.account(user)
    marks = engine.marks()
    positions: list[dict[str, Any]] = []
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
            total_ntl += value
            total_margin += margin
            maint += value / spec.max_leverage / 2
            upnl_total += upnl
            entry = pos.entry_px
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": spec.name,
                        "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"},
                        "entryPx": fmt(entry.quantize(Decimal("0.000001"))) if entry else None,
                        "leverage": {"type": "cross" if is_cross else "isolated", "value": lev},
                        "liquidationPx": None,
                        "marginUsed": fmt(usd(margin)),
                        "maxLeverage": spec.max_leverage,
                        "positionValue": fmt(usd(value)),
                        "returnOnEquity": fmt((upnl / margin).quantize(Decimal("0.0000001")))
                        if margin
                        else "0.0",
                        "szi": fmt(pos.szi),
                        "unrealizedPnl": fmt(usd(upnl)),
                    },
                }
            )
    account_value = balance + upnl_total
    order_margin = acct.order_margin(engine.default_lev) if acct else Decimal(0)
    withdrawable = max(Decimal(0), account_value - total_margin - order_margin)
    summary = {
        "accountValue": fmt(usd(account_value)),
        "totalMarginUsed": fmt(usd(total_margin)),
        "totalNtlPos": fmt(usd(total_ntl)),
        "totalRawUsd": fmt(
            usd(
                account_value
                - sum(
                    (marks[c] * p.szi for c, p in (acct.positions.items() if acct else ())),
                    Decimal(0),
                )
            )
        ),
    }
    return {
        "assetPositions": positions,
        "crossMaintenanceMarginUsed": fmt(usd(maint)),
        "crossMarginSummary": dict(summary),
        "marginSummary": summary,
        "time": now_ms,
        "withdrawable": fmt(usd(withdrawable)),
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


def user_rate_limit(engine: Engine, user: str, used: int) -> dict[str, Any]:
    """``userRateLimit`` (§2.11): cap = 10000 + floor(cumVlm)."""
    acct = engine.account(user)
    vlm = acct.cum_volume if acct else Decimal(0)
    return {
        "cumVlm": fmt(usd(vlm)),
        "nRequestsUsed": used,
        "nRequestsCap": 10000 + int(vlm),
        "nRequestsSurplus": 0,
    }
