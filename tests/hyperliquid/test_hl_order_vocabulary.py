"""The exchange's whole order vocabulary in the codec: trigger (TP/SL) rows of
``frontendOpenOrders`` / ``orderStatus``, fills with liquidation details, builder fee and TWAP id,
and ``userTwapSliceFills`` (protocol ref §2.6, §2.8, §2.10, §6.2).

The fixtures are written here from the shapes the reference and the recordings show (a parent
with a stop-market and a take-profit-market child, a stop-limit buy, a liquidation fill); the
last test reads ``../shared/recorded-traffic`` when it is present and skips otherwise.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hlmaker.hyperliquid.codec import (
    decode_json,
    parse_fills,
    parse_frame,
    parse_open_orders,
    parse_order_status,
    parse_twap_slice_fills,
)
from hlmaker.hyperliquid.errors import CodecError
from hlmaker.messages import (
    FillLiquidation,
    OrderKind,
    OrderUpdates,
    TwapSliceFills,
)

D = Decimal


def _row(oid: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "coin": "SOL", "side": "A", "limitPx": "150.5", "sz": "2.0", "oid": oid,
        "timestamp": 1_760_000_000_000, "triggerCondition": "N/A", "isTrigger": False,
        "triggerPx": "0.0", "children": [], "isPositionTpsl": False, "reduceOnly": False,
        "orderType": "Limit", "origSz": "2.0", "tif": "Gtc", "cloid": None,
    }
    row.update(over)
    return row


STOP = _row(11, limitPx="138.0", reduceOnly=True, isTrigger=True, orderType="Stop Market",
            tif=None, triggerPx="140.0", triggerCondition="Price below 140.0")
TAKE = _row(12, limitPx="146.0", reduceOnly=True, isTrigger=True,
            orderType="Take Profit Market", tif=None, triggerPx="160.0",
            triggerCondition="Price above 160.0")
PARENT = _row(10, side="B", children=[STOP, TAKE])
STOP_LIMIT_BUY = _row(13, side="B", limitPx="0.4", orderType="Stop Limit", isTrigger=True,
                      tif=None, triggerPx="0.6", triggerCondition="Price above 0.6",
                      cloid="0x0000000000000000000000000000ABCD")


def test_frontend_rows_keep_the_order_kind_and_children() -> None:
    rows = parse_open_orders(decode_json(json.dumps([STOP, TAKE, PARENT, STOP_LIMIT_BUY])))
    stop, take, parent, stop_limit = rows
    assert stop.kind == OrderKind(order_type="Stop Market", tif=None, is_trigger=True,
                                  trigger_px=D("140.0"), trigger_condition="Price below 140.0")
    assert stop.reduce_only and stop.is_trigger and stop.limit_px == D("138.0")
    assert take.kind is not None and take.kind.order_type == "Take Profit Market"
    assert parent.kind == OrderKind(order_type="Limit", tif="Gtc")  # triggerPx "0.0" -> None
    assert not parent.is_trigger
    assert parent.children == (stop, take)
    assert stop_limit.kind is not None and stop_limit.kind.tif is None
    assert stop_limit.cloid == "0x0000000000000000000000000000abcd" and not stop_limit.reduce_only


def test_basic_open_orders_row_has_no_kind() -> None:
    (row,) = parse_open_orders([{"coin": "ETH", "side": "A", "limitPx": "1980.0",
                                 "sz": "0.0507", "oid": 62015425745, "origSz": "0.0507",
                                 "timestamp": 1, "reduceOnly": True}])
    assert row.kind is None and row.children == () and not row.is_trigger and row.reduce_only


def test_position_tpsl_row() -> None:
    row = dict(STOP, isPositionTpsl=True, sz="0.0", origSz="0.0")
    (parsed,) = parse_open_orders(decode_json(json.dumps([row])))
    assert parsed.kind is not None and parsed.kind.is_position_tpsl


def test_children_nested_too_deep_are_a_codec_error() -> None:
    deep = dict(PARENT, children=[dict(STOP, children=[dict(TAKE, children=[STOP])])])
    with pytest.raises(CodecError):
        parse_open_orders(decode_json(json.dumps([deep])))


def test_order_status_of_a_trigger_order() -> None:
    reply = {"status": "order", "order": {"order": STOP, "status": "waitingForTrigger",
                                          "statusTimestamp": 1_760_000_000_001}}
    report = parse_order_status(decode_json(json.dumps(reply)), None, 5)
    assert report.status == "waitingForTrigger" and report.order is not None
    assert report.order.is_trigger and report.order.kind is not None
    assert report.order.kind.trigger_px == D("140.0")


def test_order_updates_read_frontend_fields_when_present() -> None:
    basic = {"order": {"coin": "SOL", "side": "A", "limitPx": "138.0", "sz": "2.0", "oid": 11,
                       "timestamp": 1, "origSz": "2.0", "reduceOnly": True},
             "status": "triggered", "statusTimestamp": 2}
    rich = {"order": STOP, "status": "waitingForTrigger", "statusTimestamp": 3}
    parsed = parse_frame(json.dumps({"channel": "orderUpdates", "data": [basic, rich]}))
    assert isinstance(parsed, OrderUpdates)
    first, second = parsed.updates
    assert first.status == "triggered" and first.kind is None and first.reduce_only
    assert second.kind is not None and second.kind.is_trigger


LIQUIDATION_FILL = {
    "coin": "BTC", "px": "66653.0", "sz": "0.001", "side": "A", "time": 1_781_000_000_000,
    "startPosition": "-0.02", "dir": "Open Short", "closedPnl": "0.0",
    "hash": "0x" + "ab" * 32, "oid": 55, "crossed": False, "fee": "0.01", "tid": 77,
    "cloid": "0x" + "e8" * 16,
    "liquidation": {"liquidatedUser": "0x" + "36" * 20, "markPx": "66607.0",
                    "method": "market"},
    "feeToken": "USDC", "twapId": None,
}


def test_fill_keeps_liquidation_builder_fee_and_twap_id() -> None:
    builder = dict(LIQUIDATION_FILL, builderFee="0.002424", twapId=2087225)
    del builder["liquidation"]
    liq, built = parse_fills(decode_json(json.dumps([LIQUIDATION_FILL, builder])))
    assert liq.liquidation == FillLiquidation(liquidated_user="0x" + "36" * 20,
                                              mark_px=D("66607.0"), method="market")
    assert liq.builder_fee == 0 and liq.twap_id is None
    assert built.liquidation is None and built.builder_fee == D("0.002424")
    assert built.twap_id == 2087225


def test_fill_with_a_bad_liquidation_is_a_codec_error() -> None:
    bad = dict(LIQUIDATION_FILL, liquidation={"method": "market"})
    with pytest.raises(CodecError):
        parse_fills([bad])


def test_user_twap_slice_fills_channel_and_info_reply() -> None:
    slice_row = {"fill": dict(LIQUIDATION_FILL, liquidation=None), "twapId": 2087225}
    data = {"isSnapshot": True, "user": "0xe746", "twapSliceFills": [slice_row, slice_row]}
    pushed = parse_frame(json.dumps({"channel": "userTwapSliceFills", "data": data}))
    assert isinstance(pushed, TwapSliceFills) and pushed.is_snapshot and pushed.user == "0xe746"
    assert [s.twap_id for s in pushed.fills] == [2087225, 2087225]
    assert pushed.fills[0].fill.tid == 77 and pushed.fills[0].fill.liquidation is None
    streaming = parse_frame(json.dumps({"channel": "userTwapSliceFills",
                                        "data": {"user": "0x1", "twapSliceFills": []}}))
    assert streaming == TwapSliceFills(fills=(), user="0x1", is_snapshot=False)
    assert parse_twap_slice_fills([]) == TwapSliceFills(fills=())
    with pytest.raises(CodecError):
        parse_frame(json.dumps({"channel": "userTwapSliceFills",
                                "data": {"twapSliceFills": [{"fill": {}}]}}))


def _recorded_dir() -> Path | None:
    """``../shared/recorded-traffic`` from the project root (or from a directory above it, for
    a worktree checked out deeper)."""
    for base in Path(__file__).resolve().parents[2].parents:
        candidate = base / "shared" / "recorded-traffic"
        if candidate.is_dir():
            return candidate
    return None


def _recorded_bodies() -> list[tuple[str, Any]]:
    recorded = _recorded_dir()
    if recorded is None:
        return []
    out = []
    for path in sorted(recorded.glob("*/*.json")):
        if path.parent.name.startswith("_"):
            continue
        entry = json.loads(path.read_text())
        if entry.get("provenance") in ("ccxt-static", "test-mock", "hand-made"):
            continue  # ccxt stores wire integers as strings; mocks are not the exchange
        out.append((f"{path.parent.name}/{path.stem}", entry))
    return out


def test_recorded_order_rows_and_fills_parse() -> None:
    """Every recorded ``frontendOpenOrders``/``orderStatus``/``historicalOrders`` reply and every
    recorded fill message parses, trigger rows and liquidation fills included."""
    bodies = _recorded_bodies()
    if not bodies:
        pytest.skip("../shared/recorded-traffic is absent")
    seen: dict[str, int] = {}
    for name, entry in bodies:
        kind = entry.get("info_type") or entry.get("channel")
        body = decode_json(entry["body"])
        if kind == "frontendOpenOrders":
            rows = parse_open_orders(body)
            seen["triggers"] = seen.get("triggers", 0) + sum(r.is_trigger for r in rows)
        elif kind == "orderStatus":
            assert parse_order_status(body, None, 0).order is not None, name
        elif kind == "historicalOrders":
            parse_open_orders([item["order"] for item in body])
        elif kind in ("userFills", "userFillsByTime"):
            if '"tid"' not in entry["body"]:
                continue  # 2023 fills had no tid (recorded-traffic README)
            parse_fills(body)
        elif kind == "userTwapSliceFills" and entry.get("kind") == "info":
            parse_twap_slice_fills(body)
        elif kind in ("user", "userTwapSliceFills"):
            frame = parse_frame(entry["body"])
            if kind == "user" and "liquidation" in entry["body"]:
                assert any(f.liquidation is not None for f in frame.fills), name  # type: ignore[union-attr]
        else:
            continue
        seen[str(kind)] = seen.get(str(kind), 0) + 1
    assert seen.get("triggers", 0) >= 2 and seen.get("orderStatus", 0) >= 1
