"""Tick-to-trade: a ``bbo`` that moves the mid past the re-quote threshold → the signed
``batchModify`` on the exchange socket, under market frames of other coins in between.

``open_maker`` on the feeder (it answers ``meta``, the start-up sweep and ``/exchange``) with the
reference ladder on BTC; every 50 ms a ``bbo`` moves BTC's mid by 10 bps (past ``requote_bps``
2) with ``market`` frames (``l2Book`` 20×2 and ``trades``) at ``bg_rate``/s in between; latency =
the feeder's arrival time of the signed ``batchModify`` (WS post) − the time it wrote the
``bbo``. Both stamps are taken in the feeder (``time.perf_counter``, one clock).

A tick whose own ``batchModify`` never came (the strategy folded it into the next one: a
modify was still in flight) is measured to the first ``batchModify`` after it and counted
``late``. ``cpu_us_per_tick`` = this process's CPU time over the run / ticks: with no
background (``bg_rate`` 0) that is the whole cost of one tick-to-trade, outcome handling
included; ``p50_ms`` minus it is time spent waiting (the feeder process, the kernel, other
processes on a shared machine).

``interval_ms`` (default 50) is the time between ticks. The quiet path measured at 50 ms and at
5 ms (``ingest.py``'s ``t2t_warm``) differ by how cold the CPU's caches are when the ``bbo``
comes: on the shared 2-core machine of issue 13 the same Python work (build, sign, frame one
``batchModify``) cost ~100 µs of CPU back to back and ~370 µs after a 10 ms sleep, so a tick
after 50 ms of quiet costs several times its warm cost — and ``p50_ms`` ≈ ``cpu_us_per_tick``
there: the latency is this process's CPU.

:func:`tick_to_trade_floor` measures what the harness and the machine allow before any of
hlmaker's actors run: one trio task reads the ``bbo`` over hlmaker's own WebSocket client and at
once writes a ``batchModify`` post — built in advance (``floor``), or signed and serialized for
each tick like the executor does (``floor_signed``); ``threaded=True`` does the same with a
blocking socket in a thread, no event loop (``floor_socket``). Each is a lower bound for the
whole pipeline on the same machine: no design that signs in Python beats ``floor_signed``.
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))
from feeder_process import COIN, FeederProcess
from stamps import pct


async def tick_to_trade(feeder: FeederProcess, n_ticks: int, bg_rate: float,
                        interval_ms: int = 50) -> dict[str, Any]:
    from hlmaker.config import config_from_mapping
    from hlmaker.hyperliquid.keys import PrivateKey, Wallet
    from hlmaker.maker import open_maker

    config = config_from_mapping({
        "strategy": {"coins": [COIN], "levels": 1, "size": 0.001, "max_position": 0.01,
                     "half_spread_bps": 1, "spacing_bps": 2, "requote_bps": 2},
        "dead_man": {"enabled": False},
        "reconcile": {"interval_s": 600.0},
        # the feeder has no rate limit: the IP-weight bucket (1,200/min, §8) would pace the
        # 20 modifies/s of this test and its waits would be measured as latency
        "executor": {"ip_weight_per_minute": 1_000_000}})
    wallet = Wallet(PrivateKey.from_hex("0x" + "5a" * 32))
    mids = ["100000", "100100"]
    async with open_maker(config, wallet=wallet, base_url=feeder.base_url,
                          rng=random.Random(3)) as maker:
        with trio.fail_after(20):
            while not maker.view.ready:  # noqa: ASYNC110
                await trio.sleep(0.05)
            await feeder.acall(op="ticks", coin=COIN, n=4, interval_ms=200, mids=mids,
                               bg_rate=0)  # first ladder placed, rested
        cpu0 = time.process_time()
        answer = await feeder.acall(op="ticks", coin=COIN, n=n_ticks, interval_ms=interval_ms,
                                    mids=mids,
                                    bg_rate=bg_rate)
        cpu = time.process_time() - cpu0
    ticks = answer["ticks"]
    lat = []
    missing = late = 0
    for k, t in enumerate(ticks):
        end = ticks[k + 1] if k + 1 < len(ticks) else math.inf
        hit = [a for a, kind in answer["actions"] if t <= a and kind in ("batchModify", "order")]
        if hit:
            lat.append(hit[0] - t)
            late += hit[0] >= end
        else:
            missing += 1
    lat.sort()
    return {"ticks": len(ticks), "answered": len(lat), "late": late, "missing": missing,
            "bg_frames": answer["bg_frames"], "bg_rate": bg_rate,
            "p50_ms": round(pct(lat, 0.5) * 1000, 3), "p99_ms": round(pct(lat, 0.99) * 1000, 3),
            "max_ms": round(pct(lat, 1.0) * 1000, 3),
            "cpu_us_per_tick": round(cpu / max(1, len(ticks)) * 1e6),
            "client_cpu_s": round(cpu, 2)}


ACTION: dict[str, Any] = {"type": "batchModify", "modifies": [{"oid": 123, "order": {
    "a": 0, "b": True, "p": "100000", "s": "0.001", "r": False, "t": {"limit": {"tif": "Alo"}},
    "c": "0x" + "ab" * 16}}]}


async def tick_to_trade_floor(feeder: FeederProcess, n_ticks: int, *, sign: bool = False,
                              threaded: bool = False) -> dict[str, Any]:
    """The harness floor (see the module docstring): ticks every 50 ms, no background."""
    import json
    import socket
    import threading

    from feeder_process import ws_connect, ws_send_text

    from hlmaker.hyperliquid.envelope import build_envelope
    from hlmaker.hyperliquid.keys import PrivateKey, Wallet
    from hlmaker.hyperliquid.websocket import client_frame, open_websocket

    wallet = Wallet(PrivateKey.from_hex("0x" + "5a" * 32))
    subscribe = {"method": "subscribe", "subscription": {"type": "bbo", "coin": COIN}}

    def post(i: int) -> str:
        envelope = build_envelope(ACTION, wallet, 1_700_000_000_000 + i, None, None, False)
        return json.dumps({"method": "post", "id": i,
                           "request": {"type": "action", "payload": envelope}},
                          separators=(",", ":"))

    ready = post(0)
    ticks = {"op": "ticks", "coin": COIN, "n": n_ticks, "interval_ms": 50,
             "mids": ["100000", "100100"], "bg_rate": 0}
    if threaded:
        sock = ws_connect(feeder.port)
        ws_send_text(sock, json.dumps(subscribe))
        frame = client_frame(1, ready.encode(), b"abcd")

        def echo() -> None:
            with sock:
                while data := sock.recv(65536):
                    if b'"bbo"' in data:
                        sock.sendall(frame)

        thread = threading.Thread(target=echo, daemon=True)
        thread.start()
        await trio.sleep(0.3)
        answer = await feeder.acall(**ticks)
        sock.shutdown(socket.SHUT_RDWR)
    else:
        async with open_websocket(feeder.base_url.replace("http", "ws") + "/ws") as ws:
            await ws.send_message(json.dumps(subscribe))
            await ws.get_messages()

            async def echo() -> None:
                i = 1
                while True:
                    for message in await ws.get_messages():
                        if '"bbo"' in str(message):
                            await ws.send_message(post(i) if sign else ready)
                            i += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo)
                answer = await feeder.acall(**ticks)
                nursery.cancel_scope.cancel()
    lat = sorted(min((a for a, _ in answer["actions"] if a >= t), default=math.inf) - t
                 for t in answer["ticks"])
    lat = [x for x in lat if x < math.inf]
    return {"ticks": len(answer["ticks"]), "answered": len(lat),
            "p50_ms": round(pct(lat, 0.5) * 1000, 3), "p99_ms": round(pct(lat, 0.99) * 1000, 3),
            "max_ms": round(pct(lat, 1.0) * 1000, 3)}


# ---- main ---------------------------------------------------------------------------------------
