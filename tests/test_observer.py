"""The observer seam: fan-out forwards every probe; components call the one they are given."""

from __future__ import annotations

import inspect
from decimal import Decimal as D
from typing import Any

from hlmaker.clock import FixedClock
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.ws import ws_url
from hlmaker.messages import AllMids, Bbo, Level
from hlmaker.observer import Observer, Observers
from hlmaker.pnl import note_mid


class Recorder(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattribute__(self, name: str) -> Any:
        if name in PROBES:
            calls = object.__getattribute__(self, "calls")
            return lambda *args: calls.append((name, args))
        return object.__getattribute__(self, name)


PROBES = [name for name, fn in inspect.getmembers(Observer, inspect.isfunction)
          if not name.startswith("_")]


def test_observers_forwards_every_probe_in_order() -> None:
    a, b = Recorder(), Recorder()
    fan = Observers(a, b)
    for name in PROBES:
        params = list(inspect.signature(getattr(Observer, name)).parameters)[1:]
        getattr(fan, name)(*range(len(params)))
    assert [c[0] for c in a.calls] == PROBES and a.calls == b.calls
    assert {n for n in PROBES} >= {"core_step", "nonce_issued", "feed_connected"}


def test_the_nonce_manager_reports_each_nonce() -> None:
    rec = Recorder()
    nonces = NonceManager(FixedClock(1000), observer=rec)
    assert [nonces.next("0xAbC") for _ in range(2)] == [1000, 1001]
    assert rec.calls == [("nonce_issued", ("0xAbC", 1000)), ("nonce_issued", ("0xAbC", 1001))]


def test_ws_url_follows_the_sdk_rule() -> None:
    assert ws_url("https://api.hyperliquid.xyz") == "wss://api.hyperliquid.xyz/ws"
    assert ws_url("http://127.0.0.1:8080") == "ws://127.0.0.1:8080/ws"


def test_note_mid() -> None:
    mids: dict[str, D] = {}
    note_mid(mids, AllMids(mids={"BTC": D(100), "ETH": D(10)}))
    note_mid(mids, Bbo(coin="ETH", time_ms=0, bid=Level(px=D(9), sz=D(1)),
                       ask=Level(px=D(12), sz=D(1))))
    note_mid(mids, Bbo(coin="BTC", time_ms=0, bid=None, ask=Level(px=D(1), sz=D(1))))
    assert mids == {"BTC": D(100), "ETH": D("10.5")}
