"""The official hyperliquid-python-sdk against the simulator over real loopback sockets.

The simulator runs in a background thread (its own ``trio.run``); the blocking SDK runs in the
test thread. A still market (background book, no taker flow) keeps the results deterministic.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError
from hyperliquid.utils.signing import CancelByCloidRequest, CancelRequest, OrderRequest
from hyperliquid.utils.types import Cloid

from hlmaker.hyperliquid.codec import (
    Resting,
    Waiting,
    decode_json,
    parse_fills,
    parse_frame,
    parse_open_orders,
    parse_order_status,
    parse_order_statuses,
)
from hlmaker.messages import OrderUpdates
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


def _rows(value: Any) -> Any:
    """The SDK's decoded JSON, re-read by hlmaker's own decoder (exact decimals)."""
    return decode_json(json.dumps(value))


@pytest.fixture
def own_info(sim: SimulatorThread) -> Iterator[Info]:
    """An SDK ``Info`` with its own websocket (the SDK allows one ``orderUpdates`` each)."""
    client = Info(sim.base_url, skip_ws=False, timeout=5)
    try:
        yield client
    finally:
        client.disconnect_websocket()


def test_sdk_tpsl_orders_fire_on_the_mark_and_parse(sim: SimulatorThread, own_info: Info) -> None:
    """The SDK places position TP/SL and a normalTpsl group; hlmaker's codec parses every row;
    the stop fires when another account moves the mark; the position's TP is cancelled when
    the position closes; cancelling the parent cancels its children."""
    info = own_info
    wallet, other = Account.from_key("0x" + "5e" * 32), Account.from_key("0x" + "5f" * 32)
    addr = wallet.address
    ex, ex_other = Exchange(wallet, sim.base_url, timeout=5), Exchange(other, sim.base_url,
                                                                        timeout=5)
    updates: queue.Queue[Any] = queue.Queue()
    info.subscribe({"type": "orderUpdates", "user": addr}, updates.put)
    book = info.l2_snapshot("SOL")
    bid, ask = (Decimal(book["levels"][i][0]["px"]) for i in (0, 1))
    tick = Decimal("0.01")
    assert ask - bid > 4 * tick, (bid, ask)  # room to move the mark inside the spread
    r = ex.order("SOL", True, 1, float(ask + 1), {"limit": {"tif": "Ioc"}})
    assert "filled" in r["response"]["data"]["statuses"][0], r

    sl_px, tp_px = bid + 2 * tick, ask + 5
    tpsl: list[OrderRequest] = [
        {"coin": "SOL", "is_buy": False, "sz": 1, "limit_px": float(bid - 5),
         "order_type": {"trigger": {"triggerPx": float(sl_px), "isMarket": True, "tpsl": "sl"}},
         "reduce_only": True},
        {"coin": "SOL", "is_buy": False, "sz": 1, "limit_px": float(tp_px - 1),
         "order_type": {"trigger": {"triggerPx": float(tp_px), "isMarket": True, "tpsl": "tp"}},
         "reduce_only": True},
    ]
    r = ex.bulk_orders(tpsl, grouping="positionTpsl")
    assert parse_order_statuses(r, 2) == [Waiting(what="waitingForTrigger")] * 2
    group: list[OrderRequest] = [
        {"coin": "SOL", "is_buy": True, "sz": 1, "limit_px": float(bid - 5),
         "order_type": {"limit": {"tif": "Gtc"}}, "reduce_only": False},
        {"coin": "SOL", "is_buy": False, "sz": 1, "limit_px": float(bid - 12),
         "order_type": {"trigger": {"triggerPx": float(bid - 10), "isMarket": False,
                                    "tpsl": "sl"}}, "reduce_only": True},
        {"coin": "SOL", "is_buy": False, "sz": 1, "limit_px": float(ask + 10),
         "order_type": {"trigger": {"triggerPx": float(ask + 10), "isMarket": True,
                                    "tpsl": "tp"}}, "reduce_only": True},
    ]
    r = ex.bulk_orders(group, grouping="normalTpsl")
    parent_st, *child_st = parse_order_statuses(r, 3)
    assert isinstance(parent_st, Resting) and child_st == [Waiting(what="waitingForFill")] * 2

    rows = parse_open_orders(_rows(info.frontend_open_orders(addr)))
    assert len(rows) == 5 and sum(o.is_trigger for o in rows) == 4
    by_oid = {o.oid: o for o in rows}
    parent = by_oid[parent_st.oid]
    assert parent.kind is not None and parent.kind.order_type == "Limit" and not parent.is_trigger
    assert [c.kind.order_type for c in parent.children if c.kind] == ["Stop Limit",
                                                                    "Take Profit Market"]
    position_tpsl = [o for o in rows if o.kind is not None and o.kind.is_position_tpsl]
    assert len(position_tpsl) == 2 and all(o.kind and o.kind.tif is None for o in position_tpsl)
    sl = next(o for o in position_tpsl if o.kind and o.kind.order_type == "Stop Market")
    tp = next(o for o in position_tpsl if o.kind and o.kind.order_type == "Take Profit Market")
    assert sl.kind is not None and sl.kind.trigger_px == sl_px
    assert sl.kind.trigger_condition == f"Price below {sl_px}"
    report = parse_order_status(_rows(info.query_order_by_oid(addr, sl.oid)), None, 0)
    assert report.status == "waitingForTrigger" and report.order and report.order.is_trigger
    assert [o.oid for o in parse_open_orders(_rows(info.open_orders(addr)))] == [
        o.oid for o in rows]  # the basic rows list them too, without the trigger fields

    # Another account quotes just above the bid: the mark falls through the stop.
    r = ex_other.order("SOL", False, 1, float(bid + tick), {"limit": {"tif": "Alo"}})
    other_oid = r["response"]["data"]["statuses"][0]["resting"]["oid"]
    seen: list[str] = []

    def sl_done(msg: Any) -> bool:
        frame = parse_frame(json.dumps(msg))
        assert isinstance(frame, OrderUpdates)
        seen.extend(u.status for u in frame.updates if u.oid == sl.oid)
        return "filled" in seen

    _wait_for(updates, sl_done)
    assert seen[-2:] == ["triggered", "filled"]
    status = parse_order_status(_rows(info.query_order_by_oid(addr, sl.oid)), None, 0)
    assert status.status == "filled" and status.order and status.order.kind
    assert status.order.kind.tif == "Ioc" and not status.order.is_trigger
    assert info.user_state(addr)["assetPositions"] == []
    assert info.query_order_by_oid(addr, tp.oid)["order"]["status"] == "reduceOnlyCanceled"
    fills = parse_fills(_rows(info.user_fills(addr)))
    assert fills[0].oid == sl.oid and fills[0].side == "A" and fills[0].sz == 1

    # The group's children wait for their parent; cancelling it cancels them.
    assert ex.cancel("SOL", parent_st.oid)["response"]["data"]["statuses"] == ["success"]
    for child in parent.children:
        assert info.query_order_by_oid(addr, child.oid)["order"]["status"] == "canceled"
    assert info.frontend_open_orders(addr) == []
    assert ex_other.cancel("SOL", other_oid)["response"]["data"]["statuses"] == ["success"]
