"""The official hyperliquid-python-sdk against the simulator over real loopback sockets.

The simulator runs in a background thread (its own ``trio.run``); the blocking SDK runs in the
test thread. A still market (background book, no taker flow) keeps the results deterministic.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError
from hyperliquid.utils.signing import CancelByCloidRequest, CancelRequest, OrderRequest
from hyperliquid.utils.types import Cloid

from hlmaker.sim.market import MarketConfig
from hlmaker.sim.thread import SimulatorThread

WAIT_S = 5.0


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    market = MarketConfig(taker_rate_per_s=0.0, volatility_bps=0.0)
    # The SDK stamps nonces with time.time(); anchor the simulator's clock the same way.
    with SimulatorThread(epoch_ms=int(time.time() * 1000), seed=7, market=market) as s:
        yield s


@pytest.fixture(scope="module")
def info(sim: SimulatorThread) -> Iterator[Info]:
    client = Info(sim.base_url, skip_ws=False, timeout=5)
    try:
        yield client
    finally:
        client.disconnect_websocket()


def _wait_for(q: queue.Queue[Any], pred: Any, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out waiting for a websocket message")
        msg = q.get(timeout=remaining)
        if pred(msg):
            return msg


def test_sdk_full_order_lifecycle(sim: SimulatorThread, info: Info) -> None:
    wallet = Account.from_key("0x" + "5a" * 32)
    addr = wallet.address
    ex = Exchange(wallet, sim.base_url, timeout=5)
    updates: queue.Queue[Any] = queue.Queue()
    fills: queue.Queue[Any] = queue.Queue()
    info.subscribe({"type": "orderUpdates", "user": addr}, updates.put)
    info.subscribe({"type": "userFills", "user": addr}, fills.put)
    snap = _wait_for(fills, lambda m: m["data"].get("isSnapshot"))
    assert snap["data"]["user"] == addr.lower() and snap["data"]["fills"] == []

    mids = info.all_mids()
    assert set(mids) >= {"BTC", "ETH", "SOL"}
    mid = float(mids["ETH"])

    # ALO well below the mid rests.
    c1 = Cloid.from_int(101)
    r = ex.order("ETH", True, 0.01, round(mid * 0.9), {"limit": {"tif": "Alo"}}, cloid=c1)
    assert r["status"] == "ok"
    oid = r["response"]["data"]["statuses"][0]["resting"]["oid"]
    msg = _wait_for(updates, lambda m: m["data"][0]["order"]["oid"] == oid)
    assert msg["data"][0]["status"] == "open"
    assert msg["data"][0]["order"]["cloid"] == c1.to_raw()

    assert [o["oid"] for o in info.open_orders(addr)] == [oid]
    front = info.frontend_open_orders(addr)
    assert front[0]["oid"] == oid and front[0]["cloid"] == c1.to_raw()
    assert front[0]["tif"] == "Alo"
    assert info.query_order_by_oid(addr, oid)["order"]["status"] == "open"
    assert info.query_order_by_cloid(addr, c1)["order"]["order"]["oid"] == oid
    assert info.query_order_by_cloid(addr, Cloid.from_int(999)) == {"status": "unknownOid"}

    # Modify = cancel-replace: new oid, same cloid, the old oid ends canceled.
    r = ex.modify_order(
        oid, "ETH", True, 0.02, round(mid * 0.89), {"limit": {"tif": "Alo"}}, cloid=c1
    )
    assert r["status"] == "ok", r
    new_oid = r["response"]["data"]["statuses"][0]["resting"]["oid"]
    assert new_oid != oid
    assert info.query_order_by_oid(addr, oid)["order"]["status"] == "canceled"
    assert info.query_order_by_cloid(addr, c1)["order"]["order"]["oid"] == new_oid

    # Cancel by cloid, then cancel by oid answers the exchange's error string.
    r = ex.cancel_by_cloid("ETH", c1)
    assert r["response"]["data"]["statuses"] == ["success"]
    r = ex.cancel("ETH", new_oid)
    asset = info.name_to_asset("ETH")
    assert r["response"]["data"]["statuses"] == [
        {"error": f"Order was never placed, already canceled, or filled. asset={asset}"}
    ]

    # Bulk place, cancel one by oid and one by cloid.
    c2, c3 = Cloid.from_int(102), Cloid.from_int(103)
    reqs: list[OrderRequest] = [
        {
            "coin": "ETH",
            "is_buy": True,
            "sz": 0.01,
            "limit_px": round(mid * 0.8),
            "order_type": {"limit": {"tif": "Gtc"}},
            "reduce_only": False,
            "cloid": c2,
        },
        {
            "coin": "ETH",
            "is_buy": False,
            "sz": 0.01,
            "limit_px": round(mid * 1.2),
            "order_type": {"limit": {"tif": "Gtc"}},
            "reduce_only": False,
            "cloid": c3,
        },
    ]
    r = ex.bulk_orders(reqs)
    oids = [s["resting"]["oid"] for s in r["response"]["data"]["statuses"]]
    cancels: list[CancelRequest] = [{"coin": "ETH", "oid": oids[0]}]
    assert ex.bulk_cancel(cancels)["response"]["data"]["statuses"] == ["success"]
    by_cloid: list[CancelByCloidRequest] = [{"coin": "ETH", "cloid": c3}]
    assert ex.bulk_cancel_by_cloid(by_cloid)["response"]["data"]["statuses"] == ["success"]
    assert info.open_orders(addr) == []

    # ALO that would cross: the exchange's error with the bbo in the text.
    r = ex.order("ETH", True, 0.01, round(mid * 1.1), {"limit": {"tif": "Alo"}})
    err = r["response"]["data"]["statuses"][0]["error"]
    assert err.startswith("Post only order would have immediately matched, bbo was ")
    assert err.endswith(f". asset={asset}")

    # IOC through the book fills; fills arrive on the SDK's own websocket.
    r = ex.order("ETH", True, 0.01, round(mid * 1.05), {"limit": {"tif": "Ioc"}})
    filled = r["response"]["data"]["statuses"][0]["filled"]
    assert filled["totalSz"] == "0.01"
    ioc_oid = filled["oid"]
    push = _wait_for(fills, lambda m: any(f["oid"] == ioc_oid for f in m["data"]["fills"]))
    fill = next(f for f in push["data"]["fills"] if f["oid"] == ioc_oid)
    assert fill["dir"] == "Open Long" and fill["crossed"] is True
    assert fill["startPosition"] == "0.0"
    upd = _wait_for(updates, lambda m: m["data"][0]["order"]["oid"] == ioc_oid)
    assert upd["data"][0]["status"] == "filled"

    state = info.user_state(addr)
    pos = state["assetPositions"][0]["position"]
    assert pos["coin"] == "ETH" and pos["szi"] == "0.01"
    rows = info.user_fills(addr)
    assert [f["oid"] for f in rows] == [ioc_oid]
    by_time = info.user_fills_by_time(addr, fill["time"])
    assert [f["tid"] for f in by_time] == [fill["tid"]]
    assert info.user_fills_by_time(addr, fill["time"] + 1) == []

    # Ground truth agrees.
    truth = sim.call(lambda: sim.engine.position(addr, "ETH"))
    assert str(truth) == "0.01"
    assert sim.call(lambda: [f.tid for f in sim.engine.fills_for(addr)]) == [fill["tid"]]

    # Reduce-only that would increase, and the min-notional rule.
    r = ex.order("ETH", True, 0.01, round(mid * 0.9), {"limit": {"tif": "Gtc"}}, reduce_only=True)
    assert r["response"]["data"]["statuses"][0] == {
        "error": f"Reduce only order would increase position. asset={asset}"
    }
    r = ex.order("ETH", True, 0.001, round(mid * 0.9), {"limit": {"tif": "Gtc"}})
    assert r["response"]["data"]["statuses"][0] == {
        "error": f"Order must have minimum value of $10. asset={asset}"
    }


def test_sdk_schedule_cancel_and_leverage(sim: SimulatorThread) -> None:
    wallet = Account.from_key("0x" + "5b" * 32)
    ex = Exchange(wallet, sim.base_url, timeout=5)
    assert ex.update_leverage(5, "BTC")["status"] == "ok"
    now = sim.call(sim.sim.now_ms) if sim.sim else 0
    r = ex.schedule_cancel(now + 1000)
    assert r["status"] == "err"
    assert ex.schedule_cancel(now + 60_000) == {"status": "ok", "response": {"type": "default"}}
    assert ex.schedule_cancel(None)["status"] == "ok"


def test_sdk_approve_agent_then_trade_as_agent(sim: SimulatorThread) -> None:
    master = Account.from_key("0x" + "5c" * 32)
    ex = Exchange(master, sim.base_url, timeout=5)
    r, agent_key = ex.approve_agent()
    assert r == {"status": "ok", "response": {"type": "default"}}
    agent = Account.from_key(agent_key)
    agent_ex = Exchange(agent, sim.base_url, account_address=master.address, timeout=5)
    r = agent_ex.order("SOL", True, 1, 100, {"limit": {"tif": "Gtc"}})
    oid = r["response"]["data"]["statuses"][0]["resting"]["oid"]
    orders = sim.call(lambda: [o.oid for o in sim.engine.open_orders_for(master.address)])
    assert orders == [oid]
    assert sim.call(lambda: sim.engine.open_orders_for(agent.address)) == []


def test_sdk_bad_requests_get_exchange_error_shapes(sim: SimulatorThread, info: Info) -> None:
    with pytest.raises(ClientError) as exc_info:
        info.post("/info", {"type": "noSuchType"})
    assert exc_info.value.status_code == 422
    assert "Failed to deserialize" in exc_info.value.error_message
    wallet = Account.from_key("0x" + "5d" * 32)
    ex = Exchange(wallet, sim.base_url, timeout=5)
    # A duplicate nonce: replay the same signed body twice.
    from hyperliquid.utils.signing import get_timestamp_ms, sign_l1_action

    nonce = get_timestamp_ms()
    action = {"type": "noop"}
    sig = sign_l1_action(wallet, action, None, nonce, None, False)
    body = {
        "action": action,
        "nonce": nonce,
        "signature": sig,
        "vaultAddress": None,
        "expiresAfter": None,
    }
    assert ex.post("/exchange", body) == {"status": "ok", "response": {"type": "default"}}
    assert ex.post("/exchange", body) == {
        "status": "err",
        "response": f"Invalid nonce: duplicate nonce {nonce}",
    }
    # The server is still fine.
    assert "BTC" in info.all_mids()
