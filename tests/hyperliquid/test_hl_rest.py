"""REST client against an in-process fake exchange (httpx.MockTransport)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
import trio

from hlmaker.clock import FixedClock
from hlmaker.hyperliquid.actions import order_action, order_wire
from hlmaker.hyperliquid.codec import Resting, StatusError, parse_order_statuses
from hlmaker.hyperliquid.envelope import ActionSigner, build_envelope
from hlmaker.hyperliquid.errors import (
    BadRequest,
    CodecError,
    ExchangeError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
)
from hlmaker.hyperliquid.keys import PrivateKey, Wallet
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.hyperliquid.signing import recover_l1_signer

META = {"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
                     {"name": "ETH", "szDecimals": 4, "maxLeverage": 50}]}
SPOT_META = {
    "tokens": [{"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0},
               {"name": "PURR", "szDecimals": 0, "weiDecimals": 5, "index": 1}],
    "universe": [{"name": "PURR/USDC", "tokens": [1, 0], "index": 0, "isCanonical": True}],
}
FILL = {"closedPnl": "0.0", "coin": "ETH", "crossed": False, "dir": "Open Long", "hash": "0xab",
        "oid": 3, "px": "3000.5", "side": "B", "startPosition": "0", "sz": "0.1", "time": 5,
        "fee": "0.01", "feeToken": "USDC", "tid": 9}


class FakeExchange:
    """Records request bodies; answers from a per-type table or a custom handler."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.replies: dict[str, Any] = {
            "meta": META, "spotMeta": SPOT_META, "allMids": {"BTC": "50000.0", "ETH": "3000"},
            "l2Book": {"coin": "ETH", "time": 1, "levels": [
                [{"px": "2999.9", "sz": "1.5", "n": 2}], [{"px": "3000.1", "sz": "2", "n": 1}]]},
            "openOrders": [{"coin": "ETH", "limitPx": "2900.0", "oid": 11, "side": "B",
                            "sz": "0.5", "timestamp": 1, "origSz": "1.0",
                            "cloid": "0x0000000000000000000000000000000b"}],
            "frontendOpenOrders": [],
            "clearinghouseState": {"assetPositions": [
                {"type": "oneWay", "position": {"coin": "BTC", "szi": "-0.25"}}], "time": 1},
            "userFills": [FILL], "userFillsByTime": [FILL],
            "orderStatus": {"status": "unknownOid"},
            "perpDexs": [None, {"name": "xyz"}],
        }
        self.exchange_reply: Any = {"status": "ok", "response": {"type": "order", "data": {
            "statuses": [{"resting": {"oid": 77}}]}}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append((request.url.path, body))
        if request.url.path == "/exchange":
            return httpx.Response(200, json=self.exchange_reply)
        reply = self.replies[body["type"]]
        if body["type"] == "meta" and body.get("dex") == "xyz":
            reply = {"universe": [{"name": "xyz:XYZ100", "szDecimals": 2}]}
        return httpx.Response(200, json=reply)


@pytest.fixture
def fake() -> FakeExchange:
    return FakeExchange()


def client(handler: Any, timeout_s: float = 5.0) -> RestClient:
    return RestClient("http://sim", transport=httpx.MockTransport(handler), timeout_s=timeout_s)


async def test_info_queries_send_sdk_bodies_and_parse(fake: FakeExchange) -> None:
    user = "0x14791697260e4c9a71f18484c9f997b308e59325"
    with trio.fail_after(5):
        async with client(fake) as rest:
            assets = await rest.asset_map(builder_dexes=["xyz"])
            mids = await rest.all_mids()
            book = await rest.l2_book("ETH")
            orders = await rest.open_orders(user)
            assert await rest.frontend_open_orders(user) == ()
            positions = await rest.positions(user)
            fills = await rest.user_fills(user)
            by_time = await rest.user_fills_by_time(user, 1000)
            status = await rest.order_status(user, "0x0000000000000000000000000000000B", 42)
            by_oid = await rest.order_status(user, 5, 43)
    assert assets.asset("ETH") == 1 and assets.asset("PURR/USDC") == 10000
    assert assets.asset("xyz:XYZ100") == 110000 and assets.sz_decimals("xyz:XYZ100") == 2
    assert mids.mids["ETH"] == Decimal(3000)
    assert book is not None and book.bids[0].px == Decimal("2999.9")
    assert orders[0].cloid == "0x0000000000000000000000000000000b" and orders[0].oid == 11
    assert positions == {"BTC": Decimal("-0.25")}
    assert fills[0].px == Decimal("3000.5") and by_time == fills
    assert status.status is None and status.cloid == "0x0000000000000000000000000000000b"
    assert status.queried_at_ms == 42 and by_oid.cloid == ""
    bodies = [body for _, body in fake.requests]
    assert {"type": "meta", "dex": ""} in bodies and {"type": "spotMeta"} in bodies
    assert {"type": "openOrders", "user": user, "dex": ""} in bodies
    assert {"type": "userFillsByTime", "user": user, "startTime": 1000, "endTime": None,
            "aggregateByTime": False} in bodies
    assert {"type": "orderStatus", "user": user,
            "oid": "0x0000000000000000000000000000000B"} in bodies
    assert {"type": "orderStatus", "user": user, "oid": 5} in bodies
    assert all(path == "/info" for path, _ in fake.requests)


async def test_post_action_signs_envelope_in_sdk_order(fake: FakeExchange,
                                                       sdk_key: PrivateKey) -> None:
    clock = FixedClock(1_700_000_000_000)
    signer = ActionSigner(Wallet(sdk_key), NonceManager(clock), clock, is_mainnet=False,
                          expires_after_ms=10_000)
    action = order_action([order_wire(1, True, Decimal("3000"), Decimal("0.1"), False, "Alo",
                                      "0x00000000000000000000000000000001")])
    signed = signer.sign(action)
    with trio.fail_after(5):
        async with client(fake) as rest:
            reply = await rest.post_action(signed.envelope)
    assert parse_order_statuses(reply, 1) == [Resting(oid=77)]
    path, body = fake.requests[0]
    assert path == "/exchange"
    assert list(body) == ["action", "nonce", "signature", "vaultAddress", "expiresAfter"]
    assert body["nonce"] == 1_700_000_000_000 and body["expiresAfter"] == 1_700_000_010_000
    assert body["vaultAddress"] is None
    assert recover_l1_signer(body["action"], None, body["nonce"], body["expiresAfter"],
                             body["signature"], False) == sdk_key.address


async def test_exchange_error_and_per_order_errors(fake: FakeExchange,
                                                   sdk_key: PrivateKey) -> None:
    envelope = build_envelope({"type": "noop"}, sdk_key, 1, None, None, False)
    with trio.fail_after(5):
        async with client(fake) as rest:
            fake.exchange_reply = {"status": "err", "response": "Invalid nonce: duplicate nonce 1"}
            with pytest.raises(ExchangeError) as info:
                await rest.post_action(envelope)
            assert info.value.text == "Invalid nonce: duplicate nonce 1"
            fake.exchange_reply = {"status": "ok", "response": {"type": "order", "data": {
                "statuses": [{"error": "Order has invalid price."}]}}}
            reply = await rest.post_action(envelope)  # per-order errors are data
    assert parse_order_statuses(reply, 2) == [StatusError(text="Order has invalid price.")] * 2


@pytest.mark.parametrize("response, error", [
    (httpx.Response(429, text="rate limited", headers={"Retry-After": "2"}), RateLimited),
    (httpx.Response(500, text="oops"), ServerError),
    (httpx.Response(502, text="bad gateway"), ServerError),
    (httpx.Response(422, text="Failed to deserialize the JSON body into the target type"),
     BadRequest),
    (httpx.Response(200, text="<html>"), CodecError),
])
async def test_http_errors(response: httpx.Response, error: type[Exception]) -> None:
    with trio.fail_after(5):
        async with client(lambda request: response) as rest:
            with pytest.raises(error) as info:
                await rest.all_mids()
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after_s == 2.0 and info.value.status_code == 429


async def test_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with trio.fail_after(5):
        async with client(refuse) as rest:
            with pytest.raises(TransportError) as info:
                await rest.meta()
    assert not isinstance(info.value, RequestTimeout)


async def test_timeout_under_mock_clock(autojump_clock: trio.testing.MockClock) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await trio.sleep(3600)
        raise AssertionError("unreachable")

    with trio.fail_after(100):
        async with client(hang, timeout_s=2.0) as rest:
            start = trio.current_time()
            with pytest.raises(RequestTimeout) as info:
                await rest.post_action({"action": {"type": "noop"}})
            assert trio.current_time() - start == pytest.approx(2.0)
    assert info.value.sent is True and isinstance(info.value, TransportError)
