"""The sans-IO protocol layer: /exchange verification, /info, WebSocket sessions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from eth_account import Account
from hyperliquid.utils.signing import sign_agent

from hlmaker.sim.engine import Engine
from hlmaker.sim.service import DESERIALIZE_ERROR, ServiceConfig, SimService
from tests.sim.helpers import KEY_A, KEY_B, KEY_C, T0, Client, cloid, order_action, order_wire


@pytest.fixture
def svc() -> SimService:
    return SimService(Engine())


def test_bad_bodies_get_422_text_and_no_crash(svc: SimService) -> None:
    for body in (
        b"{bad",
        b"[]",
        b"null",
        b'{"type": 5}',
        b'{"type":"openOrders"}',
        b'{"type":"openOrders","user":"0xzz"}',
        "\udcff",
        b"\xff\xfe",
    ):
        assert svc.handle_info(body, T0) == (422, DESERIALIZE_ERROR)
    for body in (
        b"{bad",
        b'{"action": {"type": "nope"}, "nonce": 1, "signature": {}}',
        b'{"action": {"type": "noop"}}',
        b'{"action": {"type": "noop"}, "nonce": "1", "signature": {"r":1,"s":1,"v":27}}',
        b'{"action": {"type": "order", "orders": [{"a": 0}], "grouping": "na"},'
        b' "nonce": 1, "signature": {"r": "0x1", "s": "0x1", "v": 27}}',
    ):
        assert svc.handle_exchange(body, T0) == (422, DESERIALIZE_ERROR)
    status, body = svc.handle_info({"type": "l2Book", "coin": "NOPE"}, T0)
    assert (status, body) == (200, None)


def test_bad_signature_is_business_error(svc: SimService) -> None:
    c = Client(svc, KEY_A)
    env = c.envelope({"type": "noop"})
    env["signature"] = {"r": "0x0", "s": "0x1", "v": 27}
    status, body = svc.handle_exchange(env, T0)
    assert status == 200 and body["status"] == "err"


def test_no_auto_fund_rejects_unknown_signer() -> None:
    svc = SimService(Engine(), config=ServiceConfig(auto_fund=False))
    c = Client(svc, KEY_A)
    assert c.exchange({"type": "noop"}) == {
        "status": "err",
        "response": f"User or API Wallet {c.address} does not exist.",
    }
    svc.engine.fund(c.address, Decimal(1000))
    assert c.exchange({"type": "noop"}) == {"status": "ok", "response": {"type": "default"}}


def test_auto_fund_credits_new_signers(svc: SimService) -> None:
    c = Client(svc, KEY_A)
    c.exchange({"type": "noop"})
    state = c.info({"type": "clearinghouseState", "user": c.wallet.address})
    assert state["marginSummary"]["accountValue"] == "100000.0"
    assert state["assetPositions"] == []


def test_nonce_rules(svc: SimService) -> None:
    c = Client(svc, KEY_A)
    ok = {"status": "ok", "response": {"type": "default"}}
    assert c.exchange({"type": "noop"}, nonce=T0 + 5) == ok
    assert c.exchange({"type": "noop"}, nonce=T0 + 5)["response"] == (
        f"Invalid nonce: duplicate nonce {T0 + 5}"
    )
    assert c.exchange({"type": "noop"}, nonce=T0 + 3) == ok  # lower but unused: fine
    far = c.exchange({"type": "noop"}, nonce=T0 + 2 * 86_400_000)
    assert far["status"] == "err" and "Invalid nonce" in far["response"]
    for k in range(100):
        assert c.exchange({"type": "noop"}, nonce=T0 + 1000 + k) == ok
    low = c.exchange({"type": "noop"}, nonce=T0 + 10)
    assert low["status"] == "err" and "Invalid nonce" in low["response"]


def test_expires_after(svc: SimService) -> None:
    c = Client(svc, KEY_A)
    r = c.exchange({"type": "noop"}, now_ms=T0 + 10, expires_after=T0 + 5)
    assert r["status"] == "err" and "expire" in r["response"].lower()
    # The expired action did not consume its nonce.
    assert c.exchange({"type": "noop"}, nonce=c.nonce, now_ms=T0 + 10)["status"] == "ok"
    assert c.exchange({"type": "noop"}, now_ms=T0, expires_after=T0 + 5)["status"] == "ok"


def test_agent_and_vault(svc: SimService) -> None:
    master = Account.from_key(KEY_A)
    agent = Account.from_key(KEY_B)
    action = {"type": "approveAgent", "agentAddress": agent.address, "agentName": "", "nonce": T0}
    sig = sign_agent(master, dict(action), False)
    action.update(signatureChainId="0x66eee", hyperliquidChain="Testnet")
    del action["agentName"]  # the SDK deletes an empty name after signing
    env = {
        "action": action,
        "nonce": T0,
        "signature": sig,
        "vaultAddress": None,
        "expiresAfter": None,
    }
    assert svc.handle_exchange(env, T0) == (200, {"status": "ok", "response": {"type": "default"}})
    # The agent trades for the master.
    ag = Client(svc, KEY_B)
    r = ag.exchange(order_action(order_wire(2, True, "100", "1")))
    assert "resting" in r["response"]["data"]["statuses"][0]
    assert len(svc.engine.open_orders_for(master.address)) == 1
    assert svc.engine.account(agent.address) is None
    # A vault led by the master is auto-created; another master may not trade it.
    vault = "0x" + "77" * 20
    mv = Client(svc, KEY_A, vault=vault)
    r = mv.exchange(order_action(order_wire(2, True, "99", "1")))
    assert "resting" in r["response"]["data"]["statuses"][0]
    assert len(svc.engine.open_orders_for(vault)) == 1
    other = Client(svc, KEY_C, vault=vault)
    assert other.exchange({"type": "noop"})["status"] == "err"


def test_order_reply_shapes_and_info(svc: SimService) -> None:
    a, b = Client(svc, KEY_A), Client(svc, KEY_B)
    cl = cloid(9)
    r = a.exchange(
        order_action(order_wire(2, True, "100", "1", cloid=cl), order_wire(2, True, "100.123", "1"))
    )
    s = r["response"]["data"]["statuses"]
    assert s[0]["resting"]["cloid"] == cl
    assert s[1] == {"error": "Price must be divisible by tick size. asset=2"}
    oid = s[0]["resting"]["oid"]
    r = b.exchange(order_action(order_wire(2, False, "100", "0.4", "Ioc")))
    assert r["response"]["data"]["statuses"][0]["filled"]["totalSz"] == "0.4"
    assert a.info({"type": "openOrders", "user": a.address})[0]["sz"] == "0.6"
    st = a.info({"type": "orderStatus", "user": a.address, "oid": cl})
    assert st["order"]["status"] == "open" and st["order"]["order"]["oid"] == oid
    assert a.info({"type": "orderStatus", "user": a.address, "oid": 1}) == {"status": "unknownOid"}
    r = a.exchange({"type": "cancel", "cancels": [{"a": 2, "o": oid}, {"a": 2, "o": oid}]})
    assert r["response"] == {
        "type": "cancel",
        "data": {
            "statuses": [
                "success",
                {"error": "Order was never placed, already canceled, or filled. asset=2"},
            ]
        },
    }
    r = a.exchange(
        {
            "type": "batchModify",
            "modifies": [{"oid": oid, "order": order_wire(2, True, "100", "1")}],
        }
    )
    assert r["response"]["type"] == "order"
    hist = a.info({"type": "historicalOrders", "user": a.address})
    assert hist[0]["status"] == "tickRejected"
    meta = a.info({"type": "meta", "dex": ""})
    assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL"]
    assert [u["szDecimals"] for u in meta["universe"]] == [5, 4, 2]
    # A batch of n orders or cancels counts n (§8): 2 orders + 2 cancels + 1 modify.
    assert a.info({"type": "userRateLimit", "user": a.address})["nRequestsUsed"] == 5


def test_user_fills_by_time_oldest_first_inclusive(svc: SimService) -> None:
    a, b = Client(svc, KEY_A), Client(svc, KEY_B)
    for k in range(3):
        a.exchange(order_action(order_wire(2, True, "100", "1")), now_ms=T0 + k * 10)
        b.exchange(order_action(order_wire(2, False, "100", "1", "Ioc")), now_ms=T0 + k * 10)
    rows = a.info(
        {
            "type": "userFillsByTime",
            "user": a.address,
            "startTime": T0 + 10,
            "endTime": None,
            "aggregateByTime": False,
        },
        now_ms=T0 + 100,
    )
    assert [r["time"] for r in rows] == [T0 + 10, T0 + 20]
    rows = a.info({"type": "userFills", "user": a.address})
    assert [r["time"] for r in rows] == [T0 + 20, T0 + 10, T0]


def texts(out: list[str]) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(t) for t in out]


def test_ws_session_subscriptions_and_pushes(svc: SimService) -> None:
    a, b = Client(svc, KEY_A), Client(svc, KEY_B)
    ws = svc.open_session()
    assert texts(ws.on_text('{"method":"ping"}', T0)) == [{"channel": "pong"}]
    out = texts(
        ws.on_text(
            json.dumps(
                {
                    "method": "subscribe",
                    "subscription": {"type": "userFills", "user": a.wallet.address},
                }
            ),
            T0,
        )
    )
    assert out[0]["channel"] == "subscriptionResponse"
    assert out[1] == {
        "channel": "userFills",
        "data": {"isSnapshot": True, "user": a.address, "fills": []},
    }
    for sub in (
        {"type": "orderUpdates", "user": a.address},
        {"type": "userEvents", "user": a.address},
        {"type": "openOrders", "user": a.address},
    ):
        ws.on_text(json.dumps({"method": "subscribe", "subscription": sub}), T0)
    dup = texts(
        ws.on_text(
            json.dumps(
                {"method": "subscribe", "subscription": {"type": "orderUpdates", "user": a.address}}
            ),
            T0,
        )
    )
    assert dup[0]["channel"] == "error" and dup[0]["data"].startswith("Already subscribed")
    bad = texts(ws.on_text('{"method":"subscribe","subscription":{"type":"l2Book"}}', T0))
    assert bad[0]["data"].startswith("Invalid subscription")
    assert texts(ws.on_text("not json", T0))[0]["channel"] == "error"
    ws.take_pushes()

    a.exchange(order_action(order_wire(2, True, "100", "1", cloid=cloid(1))))
    b.exchange(order_action(order_wire(2, False, "100", "1", "Ioc")))
    pushes = [(p.channel, json.loads(p.text)["data"]) for p in ws.take_pushes()]
    channels = [c for c, _ in pushes]
    # Per action, pushes follow the session's subscription order.
    assert channels == [
        "orderUpdates",
        "openOrders",
        "userFills",
        "orderUpdates",
        "user",
        "openOrders",
    ]
    assert pushes[0][1][0]["status"] == "open" and pushes[0][1][0]["order"]["cloid"] == cloid(1)
    assert pushes[3][1][0]["status"] == "filled"
    assert pushes[2][1]["user"] == a.address and "isSnapshot" not in pushes[2][1]
    assert pushes[4][1]["fills"][0]["dir"] == "Open Long"

    un = texts(
        ws.on_text(
            json.dumps(
                {
                    "method": "unsubscribe",
                    "subscription": {"type": "orderUpdates", "user": a.address},
                }
            ),
            T0,
        )
    )
    assert un[0]["data"]["method"] == "unsubscribe"
    ws.close()
    assert ws.session_id not in svc.sessions


def test_ws_post_info_and_action(svc: SimService) -> None:
    a = Client(svc, KEY_A)
    ws = svc.open_session()
    (reply,) = texts(
        ws.on_text(
            json.dumps(
                {
                    "method": "post",
                    "id": 7,
                    "request": {"type": "info", "payload": {"type": "l2Book", "coin": "SOL"}},
                }
            ),
            T0,
        )
    )
    assert reply["channel"] == "post" and reply["data"]["id"] == 7
    assert reply["data"]["response"]["type"] == "info"
    assert reply["data"]["response"]["payload"]["type"] == "l2Book"
    env = a.envelope(order_action(order_wire(2, True, "100", "1")))
    (reply,) = texts(
        ws.on_text(
            json.dumps({"method": "post", "id": 8, "request": {"type": "action", "payload": env}}),
            T0,
        )
    )
    payload = reply["data"]["response"]["payload"]
    assert payload["status"] == "ok" and "resting" in payload["response"]["data"]["statuses"][0]
    (reply,) = texts(
        ws.on_text(
            json.dumps(
                {
                    "method": "post",
                    "id": 9,
                    "request": {"type": "info", "payload": {"type": "bogus"}},
                }
            ),
            T0,
        )
    )
    assert reply["data"]["response"] == {"type": "error", "payload": DESERIALIZE_ERROR}


def test_ws_market_data_throttled(svc: SimService) -> None:
    a = Client(svc, KEY_A)
    ws = svc.open_session()
    out = texts(
        ws.on_text(
            json.dumps({"method": "subscribe", "subscription": {"type": "l2Book", "coin": "SOL"}}),
            T0,
        )
    )
    assert out[1]["channel"] == "l2Book" and out[1]["data"]["levels"] == [[], []]
    ws.on_text(
        json.dumps({"method": "subscribe", "subscription": {"type": "bbo", "coin": "SOL"}}), T0
    )
    svc.step(T0 + 100)
    assert ws.take_pushes() == []
    a.exchange(order_action(order_wire(2, True, "100", "1")), now_ms=T0 + 200)
    svc.step(T0 + 300)
    assert [p.channel for p in ws.take_pushes()] == ["bbo"]  # l2Book throttled to 500 ms
    svc.step(T0 + 600)
    (p,) = ws.take_pushes()
    assert p.channel == "l2Book"
    assert json.loads(p.text)["data"]["levels"][0] == [{"px": "100.0", "sz": "1.0", "n": 1}]
