"""The simulator's reads beyond the order book: funding, the trade tape, builder fees, referrer,
ledger, asset contexts, liquidation price, and the WS feeds built on them (sans-IO)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_account import Account
from hyperliquid.utils.signing import sign_approve_builder_fee

from hlmaker.sim.engine import Engine
from hlmaker.sim.funding import HOUR_MS, INTEREST_PER_HOUR
from hlmaker.sim.rules import fmt
from hlmaker.sim.service import SimService
from tests.sim.helpers import KEY_A, KEY_B, T0, Client, order_action, order_wire

SOL = 2
BUILDER = "0x" + "b1" * 20


@pytest.fixture
def svc() -> SimService:
    return SimService(Engine())


def _trade(
    svc: SimService, now: int = T0, px: str = "150", sz: str = "2",
    clients: tuple[Client, Client] | None = None,
) -> tuple[Client, Client]:
    """A rests a bid, B sells into it: A long ``sz`` SOL at ``px``."""
    a, b = clients or (Client(svc, KEY_A), Client(svc, KEY_B))
    placed = a.exchange(order_action(order_wire(SOL, True, px, sz)), now)
    assert "resting" in placed["response"]["data"]["statuses"][0], placed
    r = b.exchange(order_action(order_wire(SOL, False, px, sz, tif="Ioc")), now)
    assert "filled" in r["response"]["data"]["statuses"][0], r
    return a, b


def _two_sided(svc: SimService, now: int = T0) -> None:
    c = Client(svc, "0x" + "44" * 32)
    c.exchange(order_action(order_wire(SOL, True, "149", "5"), order_wire(SOL, False, "151", "5")),
               now)


def test_hourly_funding_pays_positions_and_is_reported(svc: SimService) -> None:
    a, _ = _trade(svc)
    _two_sided(svc)
    svc.step(T0)
    balance = svc.engine.account(a.address).balance
    hour = T0 - T0 % HOUR_MS + HOUR_MS
    ws = svc.open_session()
    ws.on_text(json.dumps({"method": "subscribe",
                           "subscription": {"type": "userEvents", "user": a.address}}), T0)
    svc.step(hour - 1)
    assert a.info({"type": "userFunding", "user": a.address, "startTime": 0}) == []
    svc.step(hour)
    mark = svc.engine.mark("SOL")
    paid = (Decimal(2) * mark * INTEREST_PER_HOUR).quantize(Decimal("0.000001"))
    usdc = fmt(-paid)
    assert svc.engine.account(a.address).balance == balance - paid
    rows = a.info({"type": "userFunding", "user": a.address, "startTime": 0}, hour)
    assert rows == [{"time": hour, "hash": "0x" + "0" * 64, "delta": {
        "type": "funding", "coin": "SOL", "usdc": usdc, "szi": "2.0",
        "fundingRate": "0.0000125", "nSamples": None}}]
    hist = a.info({"type": "fundingHistory", "coin": "SOL", "startTime": 0}, hour)
    assert hist == [{"coin": "SOL", "fundingRate": "0.0000125", "premium": "0.0", "time": hour}]
    pos = a.info({"type": "clearinghouseState", "user": a.address}, hour)["assetPositions"][0]
    assert pos["position"]["cumFunding"] == {"allTime": fmt(paid), "sinceOpen": fmt(paid),
                                             "sinceChange": fmt(paid)}
    pushes = [json.loads(p.text) for p in ws.take_pushes()]
    assert {"channel": "user", "data": {"funding": {
        "time": hour, "coin": "SOL", "usdc": usdc, "szi": "2.0",
        "fundingRate": "0.0000125", "nSamples": None}}} in pushes
    predicted = a.info({"type": "predictedFundings"}, hour)
    assert predicted[2] == ["SOL", [["HlPerp", {"fundingRate": "0.0000125",
                                                "nextFundingTime": hour + HOUR_MS,
                                                "fundingIntervalHours": 1}]]]


def test_candles_and_recent_trades_come_from_trades(svc: SimService) -> None:
    pair = _trade(svc, T0, "150", "2")
    a = pair[0]
    _trade(svc, T0 + 1000, "152", "1", pair)
    trades = a.info({"type": "recentTrades", "coin": "SOL"})
    assert [t["px"] for t in trades] == ["152.0", "150.0"]
    assert set(trades[0]) == {"coin", "side", "px", "sz", "hash", "time", "tid", "users"}
    start = T0 - T0 % 60_000
    candles = a.info({"type": "candleSnapshot", "req": {"coin": "SOL", "interval": "1m",
                                                        "startTime": 0}})
    assert candles == [{"t": start, "T": start + 59_999, "s": "SOL", "i": "1m", "o": "150.0",
                        "c": "152.0", "h": "152.0", "l": "150.0", "v": "3.0", "n": 2}]
    bad = svc.handle_info({"type": "candleSnapshot", "req": {"coin": "SOL", "interval": "7m",
                                                             "startTime": 0}}, T0)
    assert bad[0] == 422


def test_builder_fee_needs_approval_and_is_charged_on_fills(svc: SimService) -> None:
    a = Client(svc, KEY_A)
    action = order_action(order_wire(SOL, True, "150", "2"))
    action["builder"] = {"b": BUILDER, "f": 10}
    assert a.exchange(action) == {"status": "err", "response": "Builder fee has not been approved."}
    wallet = Account.from_key(KEY_A)
    approve = {"type": "approveBuilderFee", "maxFeeRate": "0.01%", "builder": BUILDER,
               "nonce": T0 + 50}
    sig = sign_approve_builder_fee(wallet, dict(approve), False)
    approve.update(signatureChainId="0x66eee", hyperliquidChain="Testnet")
    env = {"action": approve, "nonce": T0 + 50, "signature": sig, "vaultAddress": None,
           "expiresAfter": None}
    assert svc.handle_exchange(env, T0) == (200, {"status": "ok", "response": {"type": "default"}})
    assert a.info({"type": "maxBuilderFee", "user": a.address, "builder": BUILDER}) == 10
    r = a.exchange(action)
    assert "resting" in r["response"]["data"]["statuses"][0]
    Client(svc, KEY_B).exchange(order_action(order_wire(SOL, False, "150", "2", tif="Ioc")))
    fill = a.info({"type": "userFills", "user": a.address})[0]
    assert fill["builderFee"] == "0.03"  # 300 USDC × 1 bp
    assert list(fill)[11:14] == ["fee", "builderFee", "tid"]
    assert svc.engine.account(BUILDER).balance == Decimal("0.03")


def test_referrer_ledger_fees_and_abstraction(svc: SimService) -> None:
    a = Client(svc, KEY_A)
    assert a.exchange({"type": "setReferrer", "code": "HLMAKER"})["status"] == "ok"
    assert a.exchange({"type": "setReferrer", "code": "OTHER"}) == {
        "status": "err", "response": "Referrer already set."}
    ledger = a.info({"type": "userNonFundingLedgerUpdates", "user": a.address, "startTime": 0})
    assert [row["delta"] for row in ledger] == [{"type": "deposit", "usdc": "100000.0"}]
    assert a.info({"type": "userAbstraction", "user": a.address}) == "default"
    fees = a.info({"type": "userFees", "user": a.address})
    assert (fees["userCrossRate"], fees["userAddRate"]) == ("0.00045", "0.00015")
    portfolio = a.info({"type": "portfolio", "user": a.address})
    assert [p[0] for p in portfolio][:4] == ["day", "week", "month", "allTime"]
    assert portfolio[0][1]["accountValueHistory"] == [[T0, "100000.0"]]
    assert svc.handle_info({"type": "noSuchType", "user": a.address}, T0)[0] == 422


def test_asset_ctx_nulls_when_one_sided_and_key_order(svc: SimService) -> None:
    a = Client(svc, KEY_A)
    a.exchange(order_action(order_wire(SOL, True, "149", "1")))
    meta, ctxs = a.info({"type": "metaAndAssetCtxs"})
    assert list(meta) == ["universe", "marginTables", "collateralToken"]
    assert meta["universe"][2] == {"szDecimals": 2, "name": "SOL", "maxLeverage": 20,
                                   "marginTableId": 20}
    assert [20, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": 20}]}] \
        in meta["marginTables"]
    sol = ctxs[2]
    assert list(sol) == ["funding", "openInterest", "prevDayPx", "dayNtlVlm", "premium",
                         "oraclePx", "markPx", "midPx", "impactPxs", "dayBaseVlm"]
    assert (sol["premium"], sol["midPx"], sol["impactPxs"]) == (None, None, None)
    _two_sided(svc)
    sol = a.info({"type": "metaAndAssetCtxs"})[1][2]
    assert sol["midPx"] == "150.0" and sol["impactPxs"] == ["149.0", "151.0"]


def test_liquidation_px_from_the_margin_model(svc: SimService) -> None:
    a, _ = _trade(svc, px="150", sz="6000")  # 900 000 USDC long on 100 000 USDC
    _two_sided(svc)
    state = a.info({"type": "clearinghouseState", "user": a.address})
    assert list(state) == ["marginSummary", "crossMarginSummary", "crossMaintenanceMarginUsed",
                           "withdrawable", "assetPositions", "time"]
    pos = state["assetPositions"][0]["position"]
    # accountValue + 6000·(P − 150) = 6000·P/40  →  P = (900000 − accountValue) / 5850
    value = Decimal(state["marginSummary"]["accountValue"])
    expected = ((Decimal(6000) * 150 - value) / Decimal(5850)).quantize(Decimal("0.000001"))
    assert Decimal(pos["liquidationPx"]) == expected
    assert list(pos)[:3] == ["coin", "szi", "leverage"] and list(pos)[-1] == "cumFunding"


def test_ws_acks_echo_defaults_and_new_feeds(svc: SimService) -> None:
    a = Client(svc, KEY_A)
    ws = svc.open_session()

    def sub(subscription: dict) -> list[dict]:  # type: ignore[type-arg]
        out = ws.on_text(json.dumps({"method": "subscribe", "subscription": subscription}), T0)
        return [json.loads(t) for t in out]

    ack = sub({"type": "l2Book", "coin": "SOL"})[0]
    assert ack["data"]["subscription"] == {"type": "l2Book", "coin": "SOL", "nSigFigs": None,
                                           "mantissa": None}
    assert sub({"type": "l2Book", "coin": "SOL", "nSigFigs": 7})[0]["channel"] == "error"
    replies = sub({"type": "userNonFundingLedgerUpdates", "user": a.address})
    assert replies[1]["data"] == {"isSnapshot": True, "user": a.address,
                                  "nonFundingLedgerUpdates": []}
    a.exchange({"type": "noop"})  # auto-funds: the deposit is pushed
    push = json.loads(ws.take_pushes()[-1].text)
    assert push["data"]["nonFundingLedgerUpdates"][0]["delta"]["type"] == "deposit"
    assert sub({"type": "candle", "coin": "SOL", "interval": "1m"})[0]["channel"] == (
        "subscriptionResponse")
    ctxs = sub({"type": "allDexsAssetCtxs"})
    assert ctxs[1]["channel"] == "allDexsAssetCtxs" and ctxs[1]["data"]["ctxs"][0][0] == ""
    for kind in ("userTwapSliceFills", "userTwapHistory", "userFundings"):
        assert sub({"type": kind, "user": a.address})[1]["data"]["isSnapshot"] is True
