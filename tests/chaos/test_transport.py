"""The in-memory transports: exact status codes and bodies, faults, WS through the codec."""

from __future__ import annotations

import json
import random

import httpx
import pytest
import trio

from hlmaker.chaos.determinism import TraceRecorder
from hlmaker.chaos.exchange import SimExchange
from hlmaker.chaos.plan import FaultPlan, Rule, SimFaults
from hlmaker.chaos.transport import SimHttpTransport, sim_connector
from hlmaker.clock import WallClock
from hlmaker.hyperliquid.errors import RequestTimeout, TransportError
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.hyperliquid.ws import WsClient
from hlmaker.messages import AllMids, L2Book

EPOCH = 1_700_000_000_000


def _exchange(plan: FaultPlan | None = None) -> SimExchange:
    t0 = trio.current_time()
    faults = SimFaults(plan or FaultPlan(), random.Random(1), lambda: trio.current_time() - t0)
    return SimExchange(clock=WallClock(EPOCH), faults=faults, market_rng=random.Random(2),
                       recorder=TraceRecorder())


async def test_info_and_errors_have_the_servers_status_codes_and_bodies(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        ex = _exchange()
        async with trio.open_nursery() as nursery:
            await nursery.start(ex.serve)
            async with httpx.AsyncClient(transport=SimHttpTransport(ex)) as client:
                ok = await client.post("http://sim/info", content=b'{"type":"allMids"}')
                assert ok.status_code == 200
                assert ok.headers["content-type"] == "application/json"
                assert set(json.loads(ok.content)) >= {"BTC", "ETH"}
                bad = await client.post("http://sim/info", content=b'{"type":"nope"}')
                assert bad.status_code == 422
                assert bad.headers["content-type"].startswith("text/plain")
                assert bad.text == "Failed to deserialize the JSON body into the target type"
                missing = await client.post("http://sim/other", content=b"{}")
                assert missing.status_code == 404 and missing.text == "Not Found"
                get = await client.get("http://sim/info")
                assert get.status_code == 405
            nursery.cancel_scope.cancel()


async def test_lost_response_is_a_timeout_and_partition_a_transport_error(
        autojump_clock: trio.testing.MockClock) -> None:
    plan = FaultPlan(rules=[Rule("lost_response_landed", on="allMids")])
    with trio.fail_after(60):
        ex = _exchange(plan)
        async with trio.open_nursery() as nursery:
            await nursery.start(ex.serve)
            async with RestClient("http://sim", transport=SimHttpTransport(ex),
                                  timeout_s=2.0) as rest:
                t = trio.current_time()
                with pytest.raises(RequestTimeout):
                    await rest.all_mids()
                assert trio.current_time() - t == pytest.approx(2.0, abs=0.01)
                assert isinstance(await rest.all_mids(), AllMids)  # the rule was used up
                ex.partition(5.0)
                with pytest.raises(TransportError):
                    await rest.all_mids()
                with pytest.raises(TransportError):
                    async with WsClient.open(sim_connector(ex)):
                        pass
                await trio.sleep(5.0)
                assert isinstance(await rest.all_mids(), AllMids)
            nursery.cancel_scope.cancel()
    assert ex.faults.counts["lost_response_landed"] == 1
    assert ex.stats.refused_connects == 1


async def test_websocket_frames_go_through_the_codec_and_drops_end_the_session(
        autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        ex = _exchange()
        async with trio.open_nursery() as nursery:
            await nursery.start(ex.serve)
            with pytest.raises(TransportError):
                async with WsClient.open(sim_connector(ex)) as ws:
                    await ws.subscribe({"type": "l2Book", "coin": "BTC"})
                    frame = await ws.frames.receive()
                    assert isinstance(frame, L2Book) and frame.coin == "BTC"
                    assert ex.connections == 1
                    ex.disconnect_all()
                    async for _ in ws.frames:
                        pass
            assert ex.connections == 0
            nursery.cancel_scope.cancel()
