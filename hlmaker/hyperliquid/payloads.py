"""Pure parsers from decoded JSON payloads (REST ``/info`` replies, WS ``data``, WS post ``info``
payloads) to :mod:`hlmaker.messages` types. Each raises only :class:`CodecError`.

Shapes follow protocol ref §2 (REST) and §6 (WS); units: px in quote currency, sz in coin, times
in ms since the epoch, all numbers exact :class:`~decimal.Decimal`.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Any

from hlmaker.hyperliquid import fields as f
from hlmaker.hyperliquid.errors import CodecError
from hlmaker.messages import (
    AllMids,
    Bbo,
    Fill,
    FillLiquidation,
    Funding,
    L2Book,
    Level,
    Liquidation,
    NonUserCancel,
    OpenOrder,
    OrderKind,
    OrderStatusReport,
    OrderUpdate,
    OrderUpdates,
    Trade,
    Trades,
    TwapSliceFill,
    TwapSliceFills,
)

MAX_CHILDREN_DEPTH = 2
"""A frontend row's ``children`` are TP/SL orders, which have none of their own (§2.6); deeper
nesting is refused rather than followed."""


def parse_fill(row: Any) -> Fill:
    """One fill object (REST ``userFills``/``userFillsByTime`` row, WS ``WsFill``, §2.8, §6.4).

    ``cloid`` is absent on fills of orders without one; ``feeToken`` defaults to ``"USDC"``;
    ``builderFee`` (omitted when 0) to 0; ``twapId`` is null or an integer; ``liquidation``
    (absent on ordinary fills) is ``{"liquidatedUser"?, "markPx", "method"}`` — ``markPx`` is a
    string-decimal in the recordings (nautilus ``ws_user_fill_liquidation``, ccxt
    ``fetchMyTrades``), a number in the docs' types; both are read exactly.
    """
    r = f.obj(row, "fill")
    liq = r.get("liquidation")
    return Fill(
        coin=f.text(r, "coin", "fill"),
        px=f.dec(r, "px", "fill"),
        sz=f.dec(r, "sz", "fill"),
        side=f.side(r, "side", "fill"),
        time_ms=f.integer(r, "time", "fill"),
        start_position=f.dec(r, "startPosition", "fill"),
        dir=f.text(r, "dir", "fill"),
        closed_pnl=f.dec(r, "closedPnl", "fill"),
        hash=f.text(r, "hash", "fill"),
        oid=f.integer(r, "oid", "fill"),
        crossed=f.boolean(r, "crossed", "fill"),
        fee=f.dec(r, "fee", "fill"),
        tid=f.integer(r, "tid", "fill"),
        cloid=f.cloid(r, "cloid", "fill"),
        fee_token=f.opt_text(r, "feeToken", "fill") or "USDC",
        liquidation=None if liq is None else _fill_liquidation(liq),
        builder_fee=f.opt_dec(r, "builderFee", "fill") or Decimal(0),
        twap_id=f.opt_integer(r, "twapId", "fill"),
    )


def _fill_liquidation(data: Any) -> FillLiquidation:
    d = f.obj(data, "fill.liquidation")
    return FillLiquidation(liquidated_user=f.opt_text(d, "liquidatedUser", "fill.liquidation"),
                           mark_px=f.dec(d, "markPx", "fill.liquidation"),
                           method=f.text(d, "method", "fill.liquidation"))


def parse_fills(rows: Any) -> tuple[Fill, ...]:
    """A list of fill objects (``userFills`` / ``userFillsByTime`` reply, WS ``fills``)."""
    return tuple(parse_fill(row) for row in f.arr(rows, "fills"))


def parse_order_kind(r: dict[str, Any], what: str) -> OrderKind | None:
    """The frontend fields of an order row (§2.6, §2.10): ``orderType``, ``tif`` (null for a
    trigger order), ``isTrigger``, ``triggerPx`` (``"0.0"`` on plain orders, read as ``None``),
    ``triggerCondition``, ``isPositionTpsl``. ``None`` when the row has no ``orderType`` (the
    basic ``openOrders`` row and the documented ``WsOrder``)."""
    order_type = f.opt_text(r, "orderType", what)
    if order_type is None:
        return None
    trigger_px = f.opt_dec(r, "triggerPx", what)
    return OrderKind(
        order_type=order_type,
        tif=f.opt_text(r, "tif", what),
        is_trigger=f.boolean(r, "isTrigger", what, default=False),
        trigger_px=trigger_px if trigger_px else None,
        trigger_condition=f.opt_text(r, "triggerCondition", what) or "N/A",
        is_position_tpsl=f.boolean(r, "isPositionTpsl", what, default=False),
    )


def parse_open_order(row: Any, _depth: int = 0) -> OpenOrder:
    """One ``openOrders`` / ``frontendOpenOrders`` row, or the ``order`` of an ``orderStatus``
    reply (§2.5, §2.6, §2.10). ``cloid`` and ``reduceOnly`` may be absent; ``origSz`` too; the
    frontend fields become ``kind`` (:func:`parse_order_kind`) and ``children`` the parsed
    TP/SL rows nested in a parent (grouping ``normalTpsl``)."""
    r = f.obj(row, "order")
    children = r.get("children")
    if children and _depth >= MAX_CHILDREN_DEPTH:
        raise CodecError("order.children: nested too deeply")
    return OpenOrder(
        coin=f.text(r, "coin", "order"),
        side=f.side(r, "side", "order"),
        limit_px=f.dec(r, "limitPx", "order"),
        sz=f.dec(r, "sz", "order"),
        oid=f.integer(r, "oid", "order"),
        timestamp_ms=f.integer(r, "timestamp", "order"),
        orig_sz=f.opt_dec(r, "origSz", "order"),
        cloid=f.cloid(r, "cloid", "order"),
        reduce_only=f.boolean(r, "reduceOnly", "order", default=False),
        kind=parse_order_kind(r, "order"),
        children=tuple(parse_open_order(c, _depth + 1)
                       for c in f.arr(children, "order.children")) if children else (),
    )


def parse_open_orders(rows: Any) -> tuple[OpenOrder, ...]:
    """An ``openOrders`` / ``frontendOpenOrders`` reply (newest first, as the exchange sends)."""
    return tuple(parse_open_order(row) for row in f.arr(rows, "openOrders"))


def parse_positions(state: Any) -> dict[str, Decimal]:
    """Signed position (``szi``, coin units) per coin from a ``clearinghouseState`` reply (§2.7).

    Flat coins are absent from ``assetPositions`` and therefore from the result.
    """
    s = f.obj(state, "clearinghouseState")
    positions: dict[str, Decimal] = {}
    for entry in f.arr(f.get(s, "assetPositions", "clearinghouseState"), "assetPositions"):
        position = f.obj(f.get(f.obj(entry, "assetPosition"), "position", "assetPosition"),
                         "position")
        positions[f.text(position, "coin", "position")] = f.dec(position, "szi", "position")
    return positions


def parse_entry_prices(state: Any) -> dict[str, Decimal]:
    """Average entry price (``entryPx``, quote currency) per coin with an open position, from a
    ``clearinghouseState`` reply (§2.7). A position without an ``entryPx`` (``null``) is absent.
    """
    s = f.obj(state, "clearinghouseState")
    out: dict[str, Decimal] = {}
    for entry in f.arr(f.get(s, "assetPositions", "clearinghouseState"), "assetPositions"):
        position = f.obj(f.get(f.obj(entry, "assetPosition"), "position", "assetPosition"),
                         "position")
        entry = f.opt_dec(position, "entryPx", "position")
        if entry is not None:
            out[f.text(position, "coin", "position")] = entry
    return out


def parse_order_update(row: Any) -> OrderUpdate:
    """One ``WsOrder`` (§6.3): ``{"order": {...}, "status", "statusTimestamp"}``.

    ``timestamp`` (placement time) becomes 0 when absent — the live element quoted in §6.3 was
    trimmed without it — and a missing ``origSz`` falls back to ``sz``. The frontend fields
    (``orderType``, ``isTrigger``, …) are read into ``kind`` when present.
    """
    r = f.obj(row, "orderUpdate")
    order = f.obj(f.get(r, "order", "orderUpdate"), "orderUpdate.order")
    sz = f.dec(order, "sz", "order")
    orig_sz = f.opt_dec(order, "origSz", "order")
    return OrderUpdate(
        coin=f.text(order, "coin", "order"),
        side=f.side(order, "side", "order"),
        limit_px=f.dec(order, "limitPx", "order"),
        sz=sz,
        orig_sz=sz if orig_sz is None else orig_sz,
        oid=f.integer(order, "oid", "order"),
        timestamp_ms=f.opt_integer(order, "timestamp", "order", default=0),
        status=f.text(r, "status", "orderUpdate"),
        status_timestamp_ms=f.integer(r, "statusTimestamp", "orderUpdate"),
        cloid=f.cloid(order, "cloid", "order"),
        reduce_only=f.boolean(order, "reduceOnly", "order", default=False),
        kind=parse_order_kind(order, "order"),
    )


def parse_order_updates(rows: Any) -> OrderUpdates:
    """The ``data`` array of an ``orderUpdates`` push, in exchange order."""
    return OrderUpdates(updates=tuple(parse_order_update(r) for r in f.arr(rows, "orderUpdates")))


def parse_order_status(resp: Any, cloid: str | None, queried_at_ms: int) -> OrderStatusReport:
    """An ``orderStatus`` reply (§2.10) as an :class:`OrderStatusReport`.

    ``{"status": "unknownOid"}`` gives ``status=None``. ``cloid`` is the cloid queried; for a
    query by oid pass ``None`` and the order's own cloid (or ``""``) is used.
    """
    r = f.obj(resp, "orderStatus")
    outer = f.text(r, "status", "orderStatus")
    if outer == "unknownOid":
        return OrderStatusReport(cloid=cloid or "", queried_at_ms=queried_at_ms, status=None)
    if outer != "order":
        raise CodecError(f"orderStatus: unexpected status {outer!r:.40}")
    wrapper = f.obj(f.get(r, "order", "orderStatus"), "orderStatus.order")
    order = parse_open_order(f.get(wrapper, "order", "orderStatus.order"))
    return OrderStatusReport(
        cloid=cloid if cloid is not None else (order.cloid or ""),
        queried_at_ms=queried_at_ms,
        status=f.text(wrapper, "status", "orderStatus.order"),
        order=order,
        status_timestamp_ms=f.opt_integer(wrapper, "statusTimestamp", "orderStatus.order"),
    )


def _level(row: Any, what: str) -> Level:
    if type(row) is dict:  # fast path (a 20×2 book has 40 of these): checks, no names built
        n = row.get("n", 0)
        if type(n) is int:
            px, sz = f.plain_dec(row.get("px")), f.plain_dec(row.get("sz"))
            if px is not None and sz is not None:
                return Level(px=px, sz=sz, n=n)
    r = f.obj(row, what)
    return Level(px=f.dec(r, "px", what), sz=f.dec(r, "sz", what),
                 n=f.opt_integer(r, "n", what, default=0))


def parse_l2_book(data: Any) -> L2Book:
    """An ``l2Book`` reply or push: ``{"coin", "time", "levels": [bids, asks]}`` (§2.4, §6.2).

    Levels keep the exchange's order: bids descending, asks ascending, best first.
    """
    d = f.obj(data, "l2Book")
    levels = f.arr(f.get(d, "levels", "l2Book"), "l2Book.levels")
    if len(levels) != 2:
        raise CodecError("l2Book.levels: expected [bids, asks]")
    bids, asks = (tuple(_level(x, "level") for x in f.arr(side, "l2Book side")) for side in levels)
    return L2Book(coin=f.text(d, "coin", "l2Book"), time_ms=f.integer(d, "time", "l2Book"),
                  bids=bids, asks=asks)


def parse_bbo(data: Any) -> Bbo:
    """A ``bbo`` push: ``{"coin", "time", "bbo": [bid | null, ask | null]}`` (§6.2)."""
    d = f.obj(data, "bbo")
    pair = f.arr(f.get(d, "bbo", "bbo"), "bbo.bbo")
    if len(pair) != 2:
        raise CodecError("bbo.bbo: expected [bid, ask]")
    bid, ask = (None if x is None else _level(x, "bbo level") for x in pair)
    return Bbo(coin=f.text(d, "coin", "bbo"), time_ms=f.integer(d, "time", "bbo"),
               bid=bid, ask=ask)


def parse_all_mids(mids: Any) -> AllMids:
    """A flat ``{coin: mid}`` map: the REST ``allMids`` reply, or WS ``data["mids"]`` (§2.3)."""
    m = f.obj(mids, "allMids")
    return AllMids(mids=MappingProxyType(
        {str(coin): f.to_dec(px, f"allMids[{coin!r:.20}]") for coin, px in m.items()}))


def parse_trades(rows: Any) -> Trades:
    """A ``trades`` push: ``[{"coin","side","px","sz","hash","time","tid","users"}]`` (§6.2)."""
    trades = []
    for row in f.arr(rows, "trades"):
        r = f.obj(row, "trade")
        trades.append(Trade(coin=f.text(r, "coin", "trade"), side=f.side(r, "side", "trade"),
                            px=f.dec(r, "px", "trade"), sz=f.dec(r, "sz", "trade"),
                            time_ms=f.integer(r, "time", "trade"),
                            tid=f.integer(r, "tid", "trade")))
    return Trades(trades=tuple(trades))


def parse_funding(data: Any) -> Funding:
    """The ``funding`` user event: ``{"time","coin","usdc","szi","fundingRate"}`` (§6.2);
    ``usdc`` is signed (negative = paid)."""
    d = f.obj(data, "funding")
    return Funding(time_ms=f.integer(d, "time", "funding"), coin=f.text(d, "coin", "funding"),
                   usdc=f.dec(d, "usdc", "funding"), szi=f.dec(d, "szi", "funding"),
                   funding_rate=f.dec(d, "fundingRate", "funding"))


def parse_liquidation(data: Any) -> Liquidation:
    """The ``liquidation`` user event — note its snake_case keys (§6.2)."""
    d = f.obj(data, "liquidation")
    return Liquidation(
        lid=f.integer(d, "lid", "liquidation"),
        liquidator=f.text(d, "liquidator", "liquidation"),
        liquidated_user=f.text(d, "liquidated_user", "liquidation"),
        liquidated_ntl_pos=f.dec(d, "liquidated_ntl_pos", "liquidation"),
        liquidated_account_value=f.dec(d, "liquidated_account_value", "liquidation"),
    )


def parse_non_user_cancel(rows: Any) -> NonUserCancel:
    """The ``nonUserCancel`` user event: ``[{"coin", "oid"}, ...]`` (§6.2)."""
    pairs = []
    for row in f.arr(rows, "nonUserCancel"):
        r = f.obj(row, "nonUserCancel")
        pairs.append((f.text(r, "coin", "nonUserCancel"), f.integer(r, "oid", "nonUserCancel")))
    return NonUserCancel(cancels=tuple(pairs))


def parse_twap_slice_fills(rows: Any, *, user: str = "", is_snapshot: bool = False
                           ) -> TwapSliceFills:
    """``[{"fill": <fill>, "twapId": N}, ...]``: the ``userTwapSliceFills`` ``/info`` reply or
    the ``twapSliceFills`` of the WS channel of that name (§6.2; recording: nautilus
    ``ws_user_twap_slice_fills``). The inner fill's own ``twapId`` is null in the recording;
    the outer one names the TWAP."""
    out = []
    for row in f.arr(rows, "twapSliceFills"):
        r = f.obj(row, "twapSliceFill")
        out.append(TwapSliceFill(fill=parse_fill(f.get(r, "fill", "twapSliceFill")),
                                 twap_id=f.integer(r, "twapId", "twapSliceFill")))
    return TwapSliceFills(fills=tuple(out), user=user, is_snapshot=is_snapshot)
