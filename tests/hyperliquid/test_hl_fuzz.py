"""Fuzzing the codec: any input gives a parsed frame or a CodecError — nothing else.

Example counts (``derandomize=True``, so every run is the same): 300 arbitrary texts/bytes,
300 arbitrary JSON documents with a known channel, 400 mutations of real frames — 1000 in all.
"""

from __future__ import annotations

import copy
import json
import typing
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hlmaker.hyperliquid.codec import parse_frame
from hlmaker.hyperliquid.errors import CodecError
from hlmaker.hyperliquid.frames import Frame

VALID_FRAMES: list[dict[str, Any]] = [
    {"channel": "user", "data": {"fills": [{
        "coin": "BTC", "px": "79146.0", "sz": "0.001", "side": "A", "time": 1769940855551,
        "startPosition": "0.00093", "dir": "Long > Short", "closedPnl": "0.046128",
        "hash": "0x5f8b", "oid": 308254271324, "crossed": False, "fee": "0.019785",
        "builderFee": "0.007914", "tid": 404237815023429,
        "cloid": "0x50663504b0f4fedea00080176229d94f", "feeToken": "USDC", "twapId": None}]}},
    {"channel": "orderUpdates", "data": [{
        "order": {"coin": "ETH", "side": "A", "limitPx": "2822.5", "sz": "0.01",
                  "oid": 62014739273, "origSz": "0.01", "reduceOnly": True},
        "status": "reduceOnlyCanceled", "statusTimestamp": 1791318879266}]},
    {"channel": "userFills", "data": {"isSnapshot": True, "user": "0x1", "fills": []}},
    {"channel": "userTwapSliceFills", "data": {"isSnapshot": True, "user": "0x1",
                                               "twapSliceFills": [{"twapId": 3, "fill": {
        "coin": "BTC", "px": "1", "sz": "2", "side": "B", "time": 1, "startPosition": "0",
        "dir": "Open Long", "closedPnl": "0", "hash": "0x0", "oid": 1, "crossed": True,
        "fee": "0.1", "tid": 2, "feeToken": "USDC", "twapId": None,
        "liquidation": {"liquidatedUser": "0x3", "markPx": "1.5", "method": "market"}}}]}},
    {"channel": "orderUpdates", "data": [{"order": {
        "coin": "SOL", "side": "B", "limitPx": "10", "sz": "1", "oid": 3, "timestamp": 1,
        "origSz": "1", "orderType": "Limit", "tif": "Gtc", "isTrigger": False, "triggerPx": "0.0",
        "triggerCondition": "N/A", "isPositionTpsl": False, "reduceOnly": False, "children": [{
            "coin": "SOL", "side": "A", "limitPx": "9", "sz": "1", "oid": 4, "timestamp": 1,
            "orderType": "Stop Market", "tif": None, "isTrigger": True, "triggerPx": "9.5",
            "triggerCondition": "Price below 9.5", "children": []}]},
        "status": "open", "statusTimestamp": 2}]},
    {"channel": "user", "data": {"nonUserCancel": [{"coin": "ETH", "oid": 5}]}},
    {"channel": "user", "data": {"funding": {"time": 1, "coin": "ETH", "usdc": "-3.6",
                                             "szi": "49.1", "fundingRate": "0.00004"}}},
    {"channel": "user", "data": {"liquidation": {
        "lid": 1, "liquidator": "0x1", "liquidated_user": "0x2", "liquidated_ntl_pos": "1",
        "liquidated_account_value": "2"}}},
    {"channel": "l2Book", "data": {"coin": "BTC", "time": 1, "levels": [
        [{"px": "1.5", "sz": "2", "n": 1}], [{"px": "1.6", "sz": "3", "n": 2}]]}},
    {"channel": "bbo", "data": {"coin": "BTC", "time": 1,
                                "bbo": [{"px": "1", "sz": "1", "n": 1}, None]}},
    {"channel": "allMids", "data": {"mids": {"BTC": "1.5"}}},
    {"channel": "trades", "data": [{"coin": "X", "side": "B", "px": "1", "sz": "2", "hash": "h",
                                    "time": 1, "tid": 2, "users": ["a", "b"]}]},
    {"channel": "subscriptionResponse", "data": {"method": "subscribe",
                                                 "subscription": {"type": "allMids"}}},
    {"channel": "post", "data": {"id": 1, "response": {"type": "action", "payload": {
        "status": "ok", "response": {"type": "order", "data": {"statuses": []}}}}}},
    {"channel": "error", "data": "Invalid subscription id=3"},
    {"channel": "openOrders", "data": {"dex": "", "user": "0x1", "orders": [{
        "coin": "ETH", "side": "B", "limitPx": "1", "sz": "1", "oid": 1, "timestamp": 2}]}},
    {"channel": "clearinghouseState", "data": {"dex": "", "user": "0x1", "clearinghouseState": {
        "assetPositions": [{"type": "oneWay", "position": {"coin": "ETH", "szi": "-1.5"}}],
        "time": 3}}},
    {"channel": "pong"},
]
CHANNELS = sorted({frame["channel"] for frame in VALID_FRAMES} | {"post", "nonsense"})

json_scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                | st.sampled_from(["1.5", "-0", "1e999", "NaN", "0x" + "0" * 32, "A", "B"])
                | st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10) | st.sampled_from(
        ["coin", "px", "sz", "side", "oid", "time", "fills", "levels", "order", "status"]),
        children, max_size=5),
    max_leaves=20,
)


FRAME_TYPES = typing.get_args(Frame)


def check(raw: str | bytes) -> None:
    """A parsed frame of a known type, or CodecError; any other exception fails the test."""
    try:
        result = parse_frame(raw)
    except CodecError:
        return
    assert isinstance(result, FRAME_TYPES)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_fuzz_arbitrary_text_and_bytes(raw: str | bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(CHANNELS), json_values)
def test_fuzz_arbitrary_json_on_known_channels(channel: str, data: Any) -> None:
    check(json.dumps({"channel": channel, "data": data}))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


@st.composite
def mutated_frames(draw: st.DrawFn) -> str:
    frame = copy.deepcopy(draw(st.sampled_from(VALID_FRAMES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(frame) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = frame
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "replace" or (isinstance(parent, list) and action == "delete"):
            parent[path[-1]] = draw(json_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = [parent[path[-1]]]
    text = json.dumps(frame)
    if draw(st.booleans()):
        return text
    cut = draw(st.integers(0, len(text)))  # truncated or spliced text
    return text[:cut] + draw(st.text(max_size=5))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(mutated_frames())
def test_fuzz_mutated_real_frames(raw: str) -> None:
    check(raw)


def test_every_valid_frame_parses() -> None:
    for frame in VALID_FRAMES:
        parse_frame(json.dumps(frame))
