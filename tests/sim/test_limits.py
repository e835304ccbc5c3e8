"""The exchange's limits in the simulator, each configured small enough to reach: the
per-address budget (with the cancel cap, the 10 s slow lane and reserveRequestWeight), the
per-IP REST weight (429), and the WebSocket limits (subscriptions, users, messages,
connections, new connections per minute, posts in flight)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
import trio
import websocket

from hlmaker.hyperliquid.ws import WsClient
from hlmaker.sim.engine import Engine
from hlmaker.sim.faults import FaultProfile
from hlmaker.sim.limits import Limits
from hlmaker.sim.market import MarketConfig
from hlmaker.sim.service import ServiceConfig, SimService
from hlmaker.sim.thread import SimulatorThread
from tests.sim.helpers import KEY_A, T0, Client, order_action, order_wire

OFF = Limits.off()


def _svc(**limits: int | None) -> SimService:
    cfg = ServiceConfig(limits=Limits(**{**OFF.__dict__, **limits}))
    return SimService(Engine(), config=cfg)


def test_address_budget_refuses_with_the_exchange_text_then_one_per_10s() -> None:
    svc = _svc(address_budget=5)
    a = Client(svc, KEY_A)
    for i in range(5):
        assert a.exchange({"type": "noop"}, T0 + i)["status"] == "ok"
    refused = a.exchange({"type": "noop"}, T0 + 5)
    assert refused == {"status": "err", "response": (
        "Too many cumulative requests sent (6 > 5) for cumulative volume traded $0.0. "
        "Place taker orders to free up 1 request per USDC traded.")}
    # The slow lane: 10 s after the last accepted request; a refused one restarts nothing.
    assert a.exchange({"type": "noop"}, T0 + 10_003)["status"] == "err"
    assert a.exchange({"type": "noop"}, T0 + 10_004)["status"] == "ok"
    assert a.exchange({"type": "noop"}, T0 + 10_005)["status"] == "err"
    assert a.exchange({"type": "noop"}, T0 + 20_004)["status"] == "ok"
    rate = a.info({"type": "userRateLimit", "user": a.address})
    assert rate == {"cumVlm": "0.0", "nRequestsUsed": 7, "nRequestsCap": 5, "nRequestsSurplus": 0}


def test_cancels_have_their_own_cap_and_reserve_buys_requests() -> None:
    svc = _svc(address_budget=3)
    a = Client(svc, KEY_A)
    r = a.exchange(order_action(*[order_wire(2, True, str(100 + i), "1") for i in range(3)]))
    oids = [s["resting"]["oid"] for s in r["response"]["data"]["statuses"]]
    assert a.exchange({"type": "noop"}, T0 + 1)["status"] == "err"
    # Cancels: cap min(3 + 100000, 2 × 3) = 6 ≥ 3 used + 1 (+ 2 more).
    r = a.exchange({"type": "cancel", "cancels": [{"a": 2, "o": oids[0]}]}, T0 + 3)
    assert r["response"]["data"]["statuses"] == ["success"]
    r = a.exchange({"type": "cancel", "cancels": [{"a": 2, "o": o} for o in oids[1:]]}, T0 + 4)
    assert r["response"]["data"]["statuses"] == ["success", "success"]
    r = a.exchange({"type": "cancel", "cancels": [{"a": 2, "o": oids[0]}]}, T0 + 5)
    assert r["status"] == "err"
    assert r["response"].startswith("Too many cumulative requests sent (7 > 3)")
    balance = svc.engine.account(a.address).balance
    assert a.exchange({"type": "reserveRequestWeight", "weight": 100}, T0 + 5)["status"] == "ok"
    assert svc.engine.account(a.address).balance == balance - Decimal("0.05")
    assert a.exchange({"type": "noop"}, T0 + 6)["status"] == "ok"
    rate = a.info({"type": "userRateLimit", "user": a.address})
    assert (rate["nRequestsUsed"], rate["nRequestsSurplus"]) == (0, 93)


def test_ws_subscription_user_and_message_limits() -> None:
    svc = _svc(ws_max_subscriptions=3, ws_max_users=1, ws_messages_per_min=6)
    one, two = svc.open_session(), svc.open_session()

    def sub(session, subscription: dict) -> dict:  # type: ignore[no-untyped-def, type-arg]
        text = json.dumps({"method": "subscribe", "subscription": subscription})
        return json.loads(session.on_text(text, T0)[0])

    user_a, user_b = "0x" + "aa" * 20, "0x" + "bb" * 20
    assert sub(one, {"type": "orderUpdates", "user": user_a})["channel"] == "subscriptionResponse"
    assert sub(two, {"type": "userFills", "user": user_b}) == {
        "channel": "error", "data": "Cannot track more than 1 total users."}
    assert sub(two, {"type": "userFills", "user": user_a})["channel"] == "subscriptionResponse"
    assert sub(two, {"type": "allMids"})["channel"] == "subscriptionResponse"
    assert sub(one, {"type": "trades", "coin": "SOL"}) == {
        "channel": "error", "data": "Cannot subscribe to more than 3 channels."}
    assert one.on_text('{"method":"ping"}', T0) == ['{"channel":"pong"}']  # the 6th message
    assert json.loads(one.on_text('{"method":"ping"}', T0)[0])["channel"] == "error"
    assert one.on_text('{"method":"ping"}', T0 + 60_000) == ['{"channel":"pong"}']


@pytest.fixture(scope="module")
def limited() -> Iterator[SimulatorThread]:
    cfg = ServiceConfig(limits=Limits(
        address_budget=None, ip_weight_per_min=10, ws_max_connections=2, ws_idle_close_ms=1500))
    market = MarketConfig(taker_rate_per_s=0.0, volatility_bps=0.0)
    with SimulatorThread(epoch_ms=int(time.time() * 1000), seed=3, market=market,
                         service_config=cfg) as s:
        yield s


def test_ip_weight_answers_429_past_the_per_minute_weight(limited: SimulatorThread) -> None:
    with httpx.Client(base_url=limited.base_url, timeout=5) as http:
        statuses = [http.post("/info", json={"type": "allMids"}).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]  # weight 2 each, 10 per minute


def test_ip_weight_is_counted_per_client_address(limited: SimulatorThread) -> None:
    # Loopback has a whole /8: each address is another client IP to the simulator (§8 counts
    # the weight per IP), so one client spending its minute leaves the other's intact.
    def client(n: int) -> httpx.Client:
        return httpx.Client(base_url=limited.base_url, timeout=5,
                            transport=httpx.HTTPTransport(local_address=f"127.0.0.{n}"))

    with client(2) as a, client(3) as b:
        spent = [a.post("/info", json={"type": "allMids"}).status_code for _ in range(6)]
        other = b.post("/info", json={"type": "allMids"}).status_code
    assert spent == [200] * 5 + [429] and other == 200


def test_ws_connections_past_the_limit_are_refused(limited: SimulatorThread) -> None:
    url = limited.base_url.replace("http", "ws", 1) + "/ws"
    first, second = websocket.create_connection(url), websocket.create_connection(url)
    try:
        third = websocket.create_connection(url, timeout=5)
        assert json.loads(third.recv()) == {"channel": "error",
                                            "data": "Too many connections: more than 2."}
        third.close()
        first.send('{"method":"ping"}')
        assert json.loads(first.recv()) == {"channel": "pong"}
    finally:
        first.close()
        second.close()


def test_ws_connection_sent_nothing_is_closed_when_idle(limited: SimulatorThread) -> None:
    url = limited.base_url.replace("http", "ws", 1) + "/ws"
    quiet = websocket.create_connection(url, timeout=5)
    started = time.monotonic()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:  # nothing subscribed: the server sends nothing, then closes
            if quiet.recv() == "":
                raise websocket.WebSocketConnectionClosedException("closed")
    assert 1.4 < time.monotonic() - started < 4.5


SLOW = FaultProfile(name="slow", ack_latency_median_ms=400, ack_latency_p99_ms=400)
"""Every request answered 400 ms late (nothing else faulted): posts pile up in flight."""


@pytest.fixture(scope="module")
def slow_posts() -> Iterator[SimulatorThread]:
    cfg = ServiceConfig(limits=Limits(**{**OFF.__dict__, "ws_max_inflight_posts": 100}))
    market = MarketConfig(taker_rate_per_s=0.0, volatility_bps=0.0)
    with SimulatorThread(epoch_ms=int(time.time() * 1000), seed=3, market=market,
                         service_config=cfg, faults=SLOW) as s:
        yield s


def _post(i: int) -> str:
    return json.dumps({"method": "post", "id": i,
                       "request": {"type": "info", "payload": {"type": "allMids"}}})


def test_ws_posts_past_100_in_flight_are_refused(slow_posts: SimulatorThread) -> None:
    url = slow_posts.base_url.replace("http", "ws", 1) + "/ws"
    ws = websocket.create_connection(url, timeout=5)
    try:
        for i in range(1, 106):
            ws.send(_post(i))
        answers, errors = {}, []
        while len(answers) + len(errors) < 105:
            msg = json.loads(ws.recv())
            if msg["channel"] == "error":
                errors.append(msg["data"])
            else:
                answers[msg["data"]["id"]] = msg["data"]["response"]
    finally:
        ws.close()
    # the exchange's text, naming the refused post (nktkas/hyperliquid#78)
    assert errors == [f"too many pending post requests id={i}" for i in range(101, 106)]
    assert sorted(answers) == list(range(1, 101))
    assert all(r["type"] == "info" for r in answers.values())


async def test_hlmakers_ws_post_path_stays_within_100_in_flight(
        slow_posts: SimulatorThread) -> None:
    url = slow_posts.base_url.replace("http", "ws", 1) + "/ws"
    replies: list[object] = []
    async with WsClient.open(url, request_timeout_s=20.0) as client:

        async def one() -> None:
            replies.append(await client.post_info({"type": "allMids"}))

        async with trio.open_nursery() as nursery:
            for _ in range(150):  # 50 more than the exchange takes in flight: they wait
                nursery.start_soon(one)
    assert len(replies) == 150 and all(isinstance(r, dict) for r in replies)


def test_new_ws_connections_past_the_per_minute_limit_are_refused() -> None:
    cfg = ServiceConfig(limits=Limits(**{**OFF.__dict__, "ws_new_connections_per_min": 3}))
    market = MarketConfig(taker_rate_per_s=0.0, volatility_bps=0.0)
    with SimulatorThread(epoch_ms=int(time.time() * 1000), seed=3, market=market,
                         service_config=cfg) as sim:
        url = sim.base_url.replace("http", "ws", 1) + "/ws"
        for _ in range(3):  # opened and closed: only the rate counts
            ws = websocket.create_connection(url, timeout=5)
            ws.send('{"method":"ping"}')
            assert json.loads(ws.recv()) == {"channel": "pong"}
            ws.close()
        fourth = websocket.create_connection(url, timeout=5)
        try:
            assert json.loads(fourth.recv()) == {
                "channel": "error", "data": "Too many new connections: more than 3 per minute."}
        finally:
            fourth.close()
