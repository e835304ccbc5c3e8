"""The wire codec on the real and documented messages of the protocol reference (§2, §4.3, §6)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from hlmaker.hyperliquid.codec import (
    Filled,
    Resting,
    StatusError,
    Waiting,
    decode_json,
    parse_all_mids,
    parse_cancel_statuses,
    parse_default_response,
    parse_entry_prices,
    parse_fills,
    parse_frame,
    parse_l2_book,
    parse_open_orders,
    parse_order_status,
    parse_order_statuses,
    parse_positions,
)
from hlmaker.hyperliquid.errors import CodecError, ExchangeError
from hlmaker.hyperliquid.frames import (
    ClearinghouseFrame,
    GreetingFrame,
    OpenOrdersFrame,
    Pong,
    PostResponse,
    SubscriptionAck,
    UnhandledFrame,
    WsErrorFrame,
)
from hlmaker.messages import (
    AllMids,
    Bbo,
    Fill,
    FillLiquidation,
    Fills,
    Funding,
    L2Book,
    Level,
    Liquidation,
    NonUserCancel,
    OpenOrder,
    OrderUpdate,
    OrderUpdates,
    Trades,
)

D = Decimal

# §6.4 — a real production message ([NT] tests).
PRODUCTION_USER_FILL = (
    '{"channel":"user","data":{"fills":[{"coin":"BTC","px":"79146.0","sz":"0.001","side":"A",'
    '"time":1769940855551,"startPosition":"0.00093","dir":"Long > Short","closedPnl":"0.046128",'
    '"hash":"0x5f8b9c337a197c4061050434769793020e020019151c9b1203544786391d562b",'
    '"oid":308254271324,"crossed":false,"fee":"0.019785","builderFee":"0.007914",'
    '"tid":404237815023429,"cloid":"0x50663504b0f4fedea00080176229d94f","feeToken":"USDC",'
    '"twapId":null}]}}'
)
PRODUCTION_FILL = Fill(
    coin="BTC", px=D("79146.0"), sz=D("0.001"), side="A", time_ms=1769940855551,
    start_position=D("0.00093"), dir="Long > Short", closed_pnl=D("0.046128"),
    hash="0x5f8b9c337a197c4061050434769793020e020019151c9b1203544786391d562b",
    oid=308254271324, crossed=False, fee=D("0.019785"), tid=404237815023429,
    cloid="0x50663504b0f4fedea00080176229d94f", fee_token="USDC", builder_fee=D("0.007914"),
    twap_id=None,
)
# §6.3 — the live testnet orderUpdates element ([PROBE] P2b, trimmed of `timestamp`).
LIVE_ORDER_UPDATE = {
    "order": {"coin": "ETH", "side": "A", "limitPx": "2822.5", "sz": "0.01", "oid": 62014739273,
              "origSz": "0.01", "reduceOnly": True},
    "status": "reduceOnlyCanceled", "statusTimestamp": 1791318879266,
}
# §2.8 — the documented fill row (composite).
DOC_FILL = {
    "closedPnl": "0.0", "coin": "AVAX", "crossed": False, "dir": "Open Long",
    "hash": "0xa166e3fa63c25663024b03f2e0da011a00307e4017465df020210d3d432e7cb8",
    "oid": 90542681, "px": "18.435", "side": "B", "startPosition": "26.86", "sz": "93.53",
    "time": 1681222254710, "fee": "0.01", "feeToken": "USDC", "builderFee": "0.01",
    "tid": 118906512037719, "cloid": "0x50663504b0f4fedea00080176229d94f", "twapId": None,
}


def frame(channel: str, data: Any = None) -> str:
    return json.dumps({"channel": channel, "data": data})


def test_production_user_fill() -> None:
    parsed = parse_frame(PRODUCTION_USER_FILL)
    assert parsed == Fills(fills=(PRODUCTION_FILL,), is_snapshot=False, source="user")


def test_production_user_fill_as_bytes() -> None:
    assert parse_frame(PRODUCTION_USER_FILL.encode()) == parse_frame(PRODUCTION_USER_FILL)


def test_live_order_update_element() -> None:
    parsed = parse_frame(frame("orderUpdates", [LIVE_ORDER_UPDATE]))
    assert parsed == OrderUpdates(updates=(OrderUpdate(
        coin="ETH", side="A", limit_px=D("2822.5"), sz=D("0.01"), orig_sz=D("0.01"),
        oid=62014739273, timestamp_ms=0, status="reduceOnlyCanceled",
        status_timestamp_ms=1791318879266, cloid=None, reduce_only=True),))


def test_order_update_with_timestamp_cloid_and_defaults() -> None:
    element = {"order": {"coin": "BTC", "side": "B", "limitPx": "50000.0", "sz": "0.5",
                         "oid": 7, "timestamp": 1700000000000,
                         "cloid": "0x0000000000000000000000000000000A"},
               "status": "open", "statusTimestamp": 1700000000001}
    (update,) = parse_frame(frame("orderUpdates", [element, LIVE_ORDER_UPDATE])).updates[:1]
    assert update.timestamp_ms == 1700000000000
    assert update.orig_sz == D("0.5")  # no origSz: falls back to sz
    assert update.cloid == "0x0000000000000000000000000000000a"
    assert update.reduce_only is False


def test_user_fills_snapshot_and_streaming() -> None:
    snap = parse_frame(frame("userFills", {"isSnapshot": True, "user": "0xabc",
                                           "fills": [DOC_FILL]}))
    assert isinstance(snap, Fills) and snap.is_snapshot and snap.source == "userFills"
    fill = snap.fills[0]
    assert (fill.coin, fill.px, fill.sz, fill.side, fill.tid) == (
        "AVAX", D("18.435"), D("93.53"), "B", 118906512037719)
    assert fill.start_position == D("26.86") and fill.liquidation is None
    streaming = parse_frame(frame("userFills", {"user": "0xabc", "fills": [DOC_FILL]}))
    assert isinstance(streaming, Fills) and streaming.is_snapshot is False
    explicit = parse_frame(frame("userFills", {"isSnapshot": False, "user": "0x",
                                               "fills": []}))
    assert explicit == Fills(fills=(), is_snapshot=False, source="userFills")


def test_fill_defaults_and_liquidation_details() -> None:
    row = dict(DOC_FILL)
    del row["cloid"], row["feeToken"], row["builderFee"]
    row["liquidation"] = {"markPx": 17.9, "method": "backstop"}  # the docs type markPx a number
    (fill,) = parse_fills(decode_json(json.dumps([row])))
    assert fill.cloid is None and fill.fee_token == "USDC" and fill.builder_fee == 0
    assert fill.liquidation == FillLiquidation(liquidated_user=None, mark_px=D("17.9"),
                                               method="backstop")


def test_user_events() -> None:
    assert parse_frame(frame("user", {"nonUserCancel": [{"coin": "ETH", "oid": 5}]})) == (
        NonUserCancel(cancels=(("ETH", 5),)))
    funding = {"time": 1, "coin": "ETH", "usdc": "-3.625312", "szi": "49.1477",
               "fundingRate": "0.0000417", "nSamples": None}
    assert parse_frame(frame("user", {"funding": funding})) == Funding(
        time_ms=1, coin="ETH", usdc=D("-3.625312"), szi=D("49.1477"),
        funding_rate=D("0.0000417"))
    liq = {"lid": 9, "liquidator": "0x1", "liquidated_user": "0x2",
           "liquidated_ntl_pos": "100.5", "liquidated_account_value": "3.25"}
    assert parse_frame(frame("user", {"liquidation": liq})) == Liquidation(
        lid=9, liquidator="0x1", liquidated_user="0x2", liquidated_ntl_pos=D("100.5"),
        liquidated_account_value=D("3.25"))
    twap = parse_frame(frame("user", {"twapHistory": []}))
    assert isinstance(twap, UnhandledFrame) and twap.channel == "user"


def test_control_frames() -> None:
    assert parse_frame("Websocket connection established.") == GreetingFrame()
    assert parse_frame('{"channel": "pong"}') == Pong()
    ack = parse_frame(frame("subscriptionResponse", {
        "method": "subscribe", "subscription": {"type": "userFills", "user": "0xa",
                                                "aggregateByTime": False}}))
    assert isinstance(ack, SubscriptionAck) and ack.method == "subscribe"
    assert ack.subscription["type"] == "userFills"
    assert parse_frame(frame("error", "too many pending post requests id=7")) == WsErrorFrame(
        text="too many pending post requests id=7", request_id=7)
    assert parse_frame(frame("error", 'Already subscribed: {"type":"bbo"}')).request_id is None
    assert parse_frame(frame("notification", {"notification": "hi"})) == UnhandledFrame(
        channel="notification", data=None)


def test_post_responses() -> None:
    info = parse_frame(frame("post", {"id": 123, "response": {"type": "info", "payload": {
        "type": "l2Book", "data": {"coin": "ETH", "time": 1, "levels": [[], []]}}}}))
    assert isinstance(info, PostResponse) and (info.id, info.kind) == (123, "info")
    assert parse_l2_book(info.payload["data"]) == L2Book(coin="ETH", time_ms=1, bids=(), asks=())
    action = parse_frame(frame("post", {"id": 256, "response": {"type": "action", "payload": {
        "status": "ok", "response": {"type": "order",
                                     "data": {"statuses": [{"resting": {"oid": 88383}}]}}}}}))
    assert isinstance(action, PostResponse) and action.kind == "action"
    assert parse_order_statuses(action.payload, 1) == [Resting(oid=88383)]
    err = parse_frame(frame("post", {"id": 7, "response": {"type": "error", "payload": "bad"}}))
    assert err == PostResponse(id=7, kind="error", payload="bad")
    with pytest.raises(CodecError):
        parse_frame(frame("post", {"id": 7, "response": {"type": "weird", "payload": 1}}))


def test_market_data() -> None:
    book = parse_frame(frame("l2Book", {
        "coin": "BTC", "time": 1754450974231,
        "levels": [[{"px": "113377.0", "sz": "7.6699", "n": 17},
                    {"px": "113376.0", "sz": "4.13714", "n": 8}],
                   [{"px": "113397.0", "sz": "0.11543", "n": 3}]]}))
    assert book == L2Book(coin="BTC", time_ms=1754450974231,
                          bids=(Level(px=D("113377.0"), sz=D("7.6699"), n=17),
                                Level(px=D("113376.0"), sz=D("4.13714"), n=8)),
                          asks=(Level(px=D("113397.0"), sz=D("0.11543"), n=3),))
    bbo = parse_frame(frame("bbo", {"coin": "ETH", "time": 5,
                                    "bbo": [None, {"px": "3000.5", "sz": "1", "n": 2}]}))
    assert bbo == Bbo(coin="ETH", time_ms=5, bid=None, ask=Level(px=D("3000.5"), sz=D(1), n=2))
    mids = parse_frame(frame("allMids", {"mids": {"APE": "4.33245", "ARB": "1.21695"}}))
    assert isinstance(mids, AllMids) and mids.mids == {"APE": D("4.33245"), "ARB": D("1.21695")}
    trades = parse_frame(frame("trades", [{"coin": "SOL", "side": "B", "px": "150.1",
                                          "sz": "2", "hash": "0x", "time": 9, "tid": 4,
                                          "users": ["0xa", "0xb"]}]))
    assert isinstance(trades, Trades) and trades.trades[0].px == D("150.1")


def test_json_numbers_are_exact_decimals() -> None:
    book = parse_frame('{"channel":"l2Book","data":{"coin":"X","time":1,'
                       '"levels":[[{"px":0.1,"sz":3,"n":1}],[]]}}')
    assert isinstance(book, L2Book) and book.bids[0].px == D("0.1")


def test_open_orders_and_clearinghouse_frames() -> None:
    rows = [{"coin": "ETH", "side": "A", "limitPx": "1980.0", "sz": "0.0507", "oid": 62015425745,
             "origSz": "0.0507", "reduceOnly": True, "timestamp": 10, "cloid": None,
             "tif": "Gtc", "children": []}]
    oo = parse_frame(frame("openOrders", {"dex": "", "user": "0xu", "orders": rows}))
    assert oo == OpenOrdersFrame(user="0xu", dex="", orders=(OpenOrder(
        coin="ETH", side="A", limit_px=D("1980.0"), sz=D("0.0507"), oid=62015425745,
        timestamp_ms=10, orig_sz=D("0.0507"), cloid=None, reduce_only=True),))
    ch = parse_frame(frame("clearinghouseState", {"dex": "", "user": "0xu",
                                                  "clearinghouseState": CLEARINGHOUSE}))
    assert isinstance(ch, ClearinghouseFrame)
    assert dict(ch.positions) == {"ETH": D("0.0335")} and ch.time_ms == 1708622398623


CLEARINGHOUSE = {
    "assetPositions": [{"type": "oneWay", "position": {
        "coin": "ETH", "cumFunding": {"allTime": "514.085417", "sinceChange": "0.0",
                                      "sinceOpen": "0.0"},
        "entryPx": "2986.3", "leverage": {"rawUsd": "-95.059824", "type": "isolated", "value": 20},
        "liquidationPx": "2866.26936529", "marginUsed": "4.967826", "maxLeverage": 50,
        "positionValue": "100.02765", "returnOnEquity": "-0.0026789", "szi": "0.0335",
        "unrealizedPnl": "-0.0134"}}],
    "crossMaintenanceMarginUsed": "0.0",
    "marginSummary": {"accountValue": "13109.482328"},
    "time": 1708622398623, "withdrawable": "13104.514502",
}


def test_rest_payloads() -> None:
    assert parse_positions(CLEARINGHOUSE) == {"ETH": D("0.0335")}
    assert parse_positions({"assetPositions": []}) == {}
    assert parse_entry_prices(CLEARINGHOUSE) == {"ETH": D("2986.3")}
    assert parse_entry_prices({"assetPositions": []}) == {}
    with pytest.raises(CodecError, match="entryPx"):
        parse_entry_prices({"assetPositions": [{"position": {"coin": "ETH", "entryPx": "x"}}]})
    docs_row = [{"coin": "BTC", "limitPx": "29792.0", "oid": 91490942, "side": "A", "sz": "0.0",
                 "timestamp": 1681247412573}]
    (order,) = parse_open_orders(docs_row)
    assert order.orig_sz is None and order.cloid is None and order.limit_px == D("29792.0")
    assert parse_all_mids({"BTC": "30135.0"}).mids == {"BTC": D("30135.0")}


def test_order_status_found_and_unknown() -> None:
    found = {"status": "order", "order": {"order": {
        "coin": "ETH", "side": "A", "limitPx": "2412.7", "sz": "0.0", "oid": 1,
        "timestamp": 1724361546645, "triggerCondition": "N/A", "isTrigger": False,
        "triggerPx": "0.0", "children": [], "isPositionTpsl": False, "reduceOnly": True,
        "orderType": "Market", "origSz": "0.0076", "tif": "FrontendMarket", "cloid": None},
        "status": "filled", "statusTimestamp": 1724361546645}}
    report = parse_order_status(found, None, 99)
    assert (report.status, report.cloid, report.queried_at_ms) == ("filled", "", 99)
    assert report.order is not None and report.order.orig_sz == D("0.0076")
    assert report.status_timestamp_ms == 1724361546645
    unknown = parse_order_status({"status": "unknownOid"}, "0x" + "0" * 31 + "7", 5)
    assert unknown.status is None and unknown.cloid == "0x" + "0" * 31 + "7"
    with pytest.raises(CodecError):
        parse_order_status({"status": "weird"}, None, 0)


def ok(kind: str, statuses: list[Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def test_order_statuses_every_variant() -> None:
    statuses = [
        {"resting": {"oid": 77738308}},
        {"resting": {"oid": 77738309, "cloid": "0x00000000000000000000000000000001"}},
        {"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 77747314}},
        {"error": "Order must have minimum value of $10. asset=4"},
        "waitingForFill",
        "waitingForTrigger",
    ]
    assert parse_order_statuses(ok("order", statuses), 6) == [
        Resting(oid=77738308),
        Resting(oid=77738309, cloid="0x00000000000000000000000000000001"),
        Filled(oid=77747314, total_sz=D("0.02"), avg_px=D("1891.4")),
        StatusError(text="Order must have minimum value of $10. asset=4"),
        Waiting(what="waitingForFill"),
        Waiting(what="waitingForTrigger"),
    ]


def test_whole_batch_rejected_with_one_error_expands() -> None:
    reply = ok("order", [{"error": "Order has invalid price."}])
    assert parse_order_statuses(reply, 3) == [StatusError(text="Order has invalid price.")] * 3
    assert parse_cancel_statuses(ok("cancel", [{"error": "x"}]), 2) == [StatusError(text="x")] * 2
    with pytest.raises(CodecError):  # one *success* for three orders is not an expansion
        parse_order_statuses(ok("order", [{"resting": {"oid": 1}}]), 3)


def test_cancel_statuses_and_errors() -> None:
    reply = ok("cancel", ["success", {"error": "Order was never placed, already canceled, or "
                                               "filled. asset=4"}])
    assert parse_cancel_statuses(reply, 2) == [
        "success",
        StatusError(text="Order was never placed, already canceled, or filled. asset=4")]
    with pytest.raises(ExchangeError) as info:
        parse_cancel_statuses({"status": "err", "response": "Invalid nonce: duplicate nonce 5"}, 1)
    assert info.value.text == "Invalid nonce: duplicate nonce 5"
    with pytest.raises(CodecError):
        parse_order_statuses(ok("cancel", ["success"]), 1)
    parse_default_response({"status": "ok", "response": {"type": "default"}})
    with pytest.raises(ExchangeError):
        parse_default_response({"status": "err", "response": "Cannot set scheduled cancel time "
                                                             "until enough volume traded"})


@pytest.mark.parametrize("raw", [
    "", "not json", "[]", "{}", '{"channel": 5}', '{"channel": "l2Book"}',
    '{"channel": "l2Book", "data": {"coin": "X", "time": 1, "levels": [[]]}}',
    '{"channel": "userFills", "data": {"isSnapshot": "yes", "fills": []}}',
    '{"channel": "user", "data": {"fills": [{"coin": "X"}]}}',
    '{"channel": "allMids", "data": {"mids": {"X": "abc"}}}',
    '{"channel": "allMids", "data": {"mids": {"X": "NaN"}}}',
    '{"channel": "allMids", "data": {"mids": {"X": 1.5e999999999}}}',
    '{"channel": "bbo", "data": {"coin": "X", "time": 1, "bbo": [null, {"px": true}]}}',
    '{"channel": "orderUpdates", "data": [{"order": {}, "status": "open"}]}',
    b"\xff\xfe", "[" * 100_000, '{"channel":"trades","data":[{"tid":' + "9" * 5000 + "}]}",
])
def test_malformed_frames_raise_codec_error(raw: str | bytes) -> None:
    with pytest.raises(CodecError):
        parse_frame(raw)
