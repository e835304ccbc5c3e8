"""The real server over loopback sockets (trio, real clock, bounded by fail_after)."""

from __future__ import annotations

import json

import httpx
import trio
import trio_websocket

from hlmaker.sim.faults import FaultProfile
from hlmaker.sim.market import MarketConfig
from hlmaker.sim.server import open_simulator
from tests.sim.helpers import KEY_A, KEY_B, T0, Client, order_action, order_wire

STILL = MarketConfig(taker_rate_per_s=0.0, volatility_bps=0.0)


def signed(sim_service: object, key: str, action: dict) -> bytes:  # type: ignore[type-arg]
    return json.dumps(Client(sim_service, key).envelope(action)).encode()  # type: ignore[arg-type]


async def test_http_and_ws_roundtrip() -> None:
    with trio.fail_after(10):
        async with open_simulator(epoch_ms=T0, seed=1, market=STILL) as sim:
            assert sim.port > 0 and sim.base_url == f"http://127.0.0.1:{sim.port}"
            client = Client(sim.service, KEY_A)
            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                mids = (await http.post("/info", json={"type": "allMids"})).json()
                assert set(mids) == {"BTC", "ETH", "SOL"}
                r = await http.post("/info", content=b"{nope")
                assert r.status_code == 422 and r.headers["content-type"].startswith("text/plain")
                assert (await http.get("/info")).status_code == 405
                assert (await http.post("/elsewhere", json={})).status_code == 404
                ws_url = sim.base_url.replace("http", "ws") + "/ws"
                async with trio_websocket.open_websocket_url(ws_url) as ws:
                    await ws.send_message(
                        json.dumps(
                            {
                                "method": "subscribe",
                                "subscription": {"type": "orderUpdates", "user": client.address},
                            }
                        )
                    )
                    ack = json.loads(await ws.get_message())
                    assert ack["channel"] == "subscriptionResponse"
                    body = json.dumps(
                        client.envelope(order_action(order_wire(2, True, "100", "1")))
                    ).encode()
                    r = await http.post("/exchange", content=body)
                    oid = r.json()["response"]["data"]["statuses"][0]["resting"]["oid"]
                    push = json.loads(await ws.get_message())
                    assert push["channel"] == "orderUpdates"
                    assert push["data"][0]["order"]["oid"] == oid
                    await ws.send_message('{"method":"ping"}')
                    assert json.loads(await ws.get_message()) == {"channel": "pong"}
                    env = client.envelope({"type": "cancel", "cancels": [{"a": 2, "o": oid}]})
                    await ws.send_message(
                        json.dumps(
                            {
                                "method": "post",
                                "id": 3,
                                "request": {"type": "action", "payload": env},
                            }
                        )
                    )
                    msgs = [json.loads(await ws.get_message()) for _ in range(2)]
                    post = next(m for m in msgs if m["channel"] == "post")
                    assert post["data"]["response"]["payload"]["response"]["data"]["statuses"] == [
                        "success"
                    ]
                    assert any(m["channel"] == "orderUpdates" for m in msgs)
                    assert sim.engine.open_orders_for(client.address) == []
                    # A forced disconnect closes the client's socket.
                    assert sim.disconnect_all() == 1
                    with trio.fail_after(3):
                        try:
                            while True:
                                await ws.get_message()
                        except trio_websocket.ConnectionClosed:
                            pass


async def test_trailing_data_on_upgrade_does_not_kill_server() -> None:
    # pgjones/hypercorn#225: trailing bytes after a WebSocket upgrade request.
    with trio.fail_after(10):
        async with open_simulator(epoch_ms=T0, market=STILL) as sim:
            stream = await trio.open_tcp_stream("127.0.0.1", sim.port)
            await stream.send_all(
                b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: bKdPyn3u98cTfZJSh4TNeQ==\r\n\r\nx\r\n"
            )
            with trio.move_on_after(0.5):
                await stream.receive_some(4096)
            await stream.aclose()
            garbage = await trio.open_tcp_stream("127.0.0.1", sim.port)
            await garbage.send_all(b"\x16\x03\x01 not http at all\r\n\r\n")
            await garbage.aclose()
            async with httpx.AsyncClient(base_url=sim.base_url) as http:
                r = await http.post("/info", json={"type": "meta"})
                assert r.status_code == 200


async def test_shutdown_with_open_websocket_is_bounded() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            async with open_simulator(epoch_ms=T0, market=STILL) as sim:
                url = sim.base_url.replace("http", "ws") + "/ws"
                ws = await trio_websocket.connect_websocket_url(nursery, url)
                await ws.send_message('{"method":"ping"}')
                assert json.loads(await ws.get_message()) == {"channel": "pong"}
            # The simulator stopped although a client socket was open; the client sees a close.
            with trio.fail_after(3):
                try:
                    while True:
                        await ws.get_message()
                except trio_websocket.ConnectionClosed:
                    pass
            await ws.aclose()


async def test_faults_side_effects() -> None:
    errors_with_effect = FaultProfile(name="t", http_error=1.0, http_error_side_effect=1.0)
    errors_no_effect = FaultProfile(name="t", http_error=1.0, http_error_side_effect=0.0)
    lost = FaultProfile(name="t", lost_response=1.0, lost_response_hold_ms=5_000)
    push_first = FaultProfile(
        name="t", push_before_response=1.0, ack_latency_median_ms=50, ack_latency_p99_ms=50
    )
    with trio.fail_after(15):
        for prof, applied, status in (
            (errors_with_effect, True, None),
            (errors_no_effect, False, None),
            (lost, True, "timeout"),
            (push_first, True, 200),
        ):
            async with open_simulator(epoch_ms=T0, market=STILL, faults=prof) as sim:
                client = Client(sim.service, KEY_B)
                body = json.dumps(
                    client.envelope(order_action(order_wire(2, True, "100", "1")))
                ).encode()
                async with httpx.AsyncClient(base_url=sim.base_url, timeout=0.5) as http:
                    try:
                        r = await http.post("/exchange", content=body)
                        got: object = r.status_code
                    except httpx.TimeoutException:
                        got = "timeout"
                if status is None:
                    assert got in (429, 500, 502, 503)
                else:
                    assert got == status
                assert bool(sim.engine.open_orders_for(client.address)) is applied
                assert sum(sim.faults.counts.values()) == 1


async def test_ws_push_faults_duplicate_and_post_errors() -> None:
    dup = FaultProfile(name="t", duplicate_push=1.0, http_error=1.0, http_error_side_effect=0.0)
    with trio.fail_after(10):
        async with open_simulator(epoch_ms=T0, market=STILL, faults=dup) as sim:
            client = Client(sim.service, KEY_A)
            url = sim.base_url.replace("http", "ws") + "/ws"
            async with trio_websocket.open_websocket_url(url) as ws:
                await ws.send_message(
                    json.dumps(
                        {
                            "method": "subscribe",
                            "subscription": {"type": "orderUpdates", "user": client.address},
                        }
                    )
                )
                assert json.loads(await ws.get_message())["channel"] == "subscriptionResponse"
                # The action is refused (no side effect) with an error post response.
                env = client.envelope(order_action(order_wire(2, True, "100", "1")))
                await ws.send_message(
                    json.dumps(
                        {"method": "post", "id": 5, "request": {"type": "action", "payload": env}}
                    )
                )
                reply = json.loads(await ws.get_message())
                assert reply["data"]["id"] == 5 and reply["data"]["response"]["type"] == "error"
                assert sim.engine.open_orders_for(client.address) == []
                # An order placed directly still pushes — twice (F1).
                sim.service.handle_exchange(
                    client.envelope(order_action(order_wire(2, True, "100", "1"))), sim.now_ms()
                )
                first = await ws.get_message()
                second = await ws.get_message()
                assert first == second and json.loads(first)["channel"] == "orderUpdates"
            cat = sim.faults.catalogue()
            assert cat["F1"] >= 1 and cat["F8"] == 1
