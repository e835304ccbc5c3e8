"""What the client can take: ingest and tick-to-trade against the feeder in its own process.

The feeder (``benchmarks/feeder.py``, a separate process on loopback) pushes pre-rendered frames
of the exchange's shapes, so every CPU µs measured here is the client's. Sections (one client at
a time, never two at once — on a shared 2-core machine they would steal each other's CPU):

* **feeder**: a raw-socket client that only walks WebSocket frame headers and counts them:
  the feeder's own ceiling (``feeder_frames_per_s``), which must be far above every figure
  below.
* **account** (hlmaker): trio-websocket → ``WsClient`` reader → codec → ``run_feed`` → the
  book's inbox → ``run_book`` with a real ``OrderBookCore`` (synced by a startup snapshot, 20
  resting orders acknowledged through the inbox, as the executor/reconciler would). One event
  = one frame of one fill (``userFills`` or ``user``) or one ``orderUpdates`` row. *Applied* is
  stamped by the book's observer right after the core returned. At the end the core must show
  every fill applied once, no gap (each fill's ``startPosition`` checked), no duplicate, the
  feeder's position, one connection.
* **sdk**: the official SDK's ``WebsocketManager`` (websocket-client in its own thread) with
  callbacks for ``userFills``, ``userEvents`` and ``orderUpdates`` that only record the time:
  the same frames, the same feeder.
* **market** (hlmaker): ``l2Book`` (20 levels a side) of 50 coins and ``trades``, through the
  feed to the quoter: a recording strategy's ``on_market`` stamps each frame it is given (the
  quoter coalesces per coin what it has not taken yet — newest wins — so *seen* may be fewer
  than *sent* under load; frames dropped in ``WsClient`` or the feed are counted).
* **t2t** (tick-to-trade): ``open_maker`` on the feeder (it answers ``meta``, the start-up sweep
  and ``/exchange``) with the reference ladder on BTC; every 50 ms a ``bbo`` moves BTC's mid by
  10 bps (past ``requote_bps`` 2) with ``market`` frames at 2,000/s in between; latency = the
  feeder's arrival time of the signed ``batchModify`` (WS post) − the time it wrote the
  ``bbo``. Both stamps are taken in the feeder. Then the same with no background frames
  (``t2t_quiet``): the path alone; and quiet with a tick every 5 ms (``t2t_warm``): the path
  with warm CPU caches. Then the harness floor (``floor_socket``, ``floor``, ``floor_signed``): a
  bare echo of the ``bbo`` as a ``batchModify``, the lower bound of any client on this machine.
  See ``tick_to_trade.py``.

Rates: paced 1k / 5k / 20k events/s (``--rates``) and ``max`` (as fast as the kernel takes
them). Latency = applied − the feeder's write of the chunk holding the frame
(``time.perf_counter``, CLOCK_MONOTONIC, one clock for both processes). CPU µs/event = this
process's CPU time (``time.process_time``, all threads) over the run / events.

Modules: ``feeder_process.py`` (the feeder process and its ceiling), ``stamps.py`` (runs and
figures), ``ingest_hlmaker.py`` (feed + book + quoter), ``ingest_sdk.py`` (the SDK),
``tick_to_trade.py``; this file runs them one after the other and prints the ``RESULT``.

Run: ``.venv/bin/python benchmarks/ingest.py`` (≈ 60 s; ``--only account,sdk`` for a part;
``--transport trio-websocket`` runs the account section over trio-websocket instead of hlmaker's
own RFC 6455 client).
Last line: ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))
from feeder_process import N_ORDERS, FeederProcess, feeder_ceiling
from ingest_hlmaker import hlmaker_account, hlmaker_market
from ingest_sdk import sdk_account
from stamps import plan
from tick_to_trade import tick_to_trade, tick_to_trade_floor


def fmt(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = [k for k in rows[0] if not k.startswith("_")]
    lines = ["  " + " ".join(f"{k:>14}" for k in keys)]
    for r in rows:
        lines.append("  " + " ".join(f"{r.get(k)!s:>14}" for k in keys))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,5000,20000,max")
    parser.add_argument("--seconds", type=float, default=1.5, help="length of a paced run")
    parser.add_argument("--max-events", type=int, default=30_000, help="events of a max run")
    parser.add_argument("--only", default="feeder,account,sdk,market,t2t")
    parser.add_argument("--ticks", type=int, default=200, help="ticks of the quiet runs")
    parser.add_argument("--bg-ticks", type=int, default=1000,
                        help="ticks under background frames (50 s: its p99 is the 10th worst)")
    parser.add_argument("--transport", default="lean", choices=("lean", "trio-websocket"),
                        help="hlmaker's WebSocket transport for the account section")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    only = set(args.only.split(","))
    rates = [None if r.strip() == "max" else float(r) for r in args.rates.split(",")]
    runs = plan(rates, args.seconds, args.max_events)
    load0 = os.getloadavg()
    t_start = time.perf_counter()
    feeder = FeederProcess()
    out: dict[str, Any] = {}
    orders = [[1_000_000 + j, f"0x{j:032x}", "B" if j % 2 == 0 else "A",
               str(100_000 - 10 * j if j % 2 == 0 else 100_010 + 10 * j)]
              for j in range(N_ORDERS)]
    try:
        if "feeder" in only:
            out["feeder"] = feeder_ceiling(feeder, 200_000, orders)
            print("feeder → counting client:", out["feeder"], flush=True)
        if "account" in only:
            out["account"] = trio.run(hlmaker_account, feeder, runs, args.transport)
            print("hlmaker account events (feed → codec → book inbox → core):\n"
                  + fmt(out["account"]), flush=True)
        if "sdk" in only:
            out["sdk"] = sdk_account(feeder, runs, orders)
            print("SDK WebsocketManager (callback entered):\n" + fmt(out["sdk"]), flush=True)
        if "market" in only:
            mruns = [(r, n // 3 if r is None else n) for r, n in runs]
            out["l2book"] = trio.run(hlmaker_market, feeder, mruns, "l2book")
            print("hlmaker l2Book 20×2, 50 coins (feed → quoter's strategy):\n"
                  + fmt(out["l2book"]), flush=True)
            out["trades"] = trio.run(hlmaker_market, feeder, mruns, "trades")
            print("hlmaker trades, 50 coins (feed → quoter's strategy):\n"
                  + fmt(out["trades"]), flush=True)
        if "t2t" in only:
            out["t2t"] = trio.run(tick_to_trade, feeder, args.bg_ticks, 2000.0)
            print("tick-to-trade (bbo written → signed batchModify read, in the feeder):",
                  out["t2t"], flush=True)
            out["t2t_quiet"] = trio.run(tick_to_trade, feeder, args.ticks, 0.0)
            print("tick-to-trade with no background frames:", out["t2t_quiet"], flush=True)
            out["t2t_warm"] = trio.run(tick_to_trade, feeder, args.ticks, 0.0, 5)
            print("tick-to-trade, no background, a tick every 5 ms (warm caches):",
                  out["t2t_warm"], flush=True)
            for key, kw, what in (
                    ("floor_socket", {"threaded": True}, "a blocking socket in a thread"),
                    ("floor", {}, "one trio task, hlmaker's WebSocket client"),
                    ("floor_signed", {"sign": True}, "the same, signing each batchModify")):
                out[key] = trio.run(partial(tick_to_trade_floor, feeder, args.ticks, **kw))
                print(f"tick-to-trade floor ({what}: bbo read → batchModify written):",
                      out[key], flush=True)
    finally:
        feeder.close()
    load1 = os.getloadavg()
    print(f"ingest benchmark: Python {platform.python_version()}, {os.cpu_count()} CPUs shared "
          f"with other jobs (loadavg {load0[0]:.2f} before, {load1[0]:.2f} after), "
          f"{time.perf_counter() - t_start:.1f} s")

    def at_max(rows: list[dict[str, Any]] | None, key: str) -> Any:
        for r in rows or []:
            if r["offered_per_s"] == "max":
                return r.get(key)
        return None

    acc = at_max(out.get("account"), "events_per_s")
    sdk = at_max(out.get("sdk"), "events_per_s")
    result = {
        "account_events_per_s": acc,
        "account_consistent": all(r.get("consistent") for r in out.get("account", [])) or None,
        "sdk_events_per_s": sdk,
        "ratio_vs_sdk": round(acc / sdk, 2) if acc and sdk else None,
        "client_cpu_us_per_event": at_max(out.get("account"), "cpu_us_per_event"),
        "sdk_cpu_us_per_event": at_max(out.get("sdk"), "cpu_us_per_event"),
        "account_latency_ms": {str(r["offered_per_s"]): [r["p50_ms"], r["p99_ms"]]
                               for r in out.get("account", [])},
        "sdk_latency_ms": {str(r["offered_per_s"]): [r["p50_ms"], r["p99_ms"]]
                           for r in out.get("sdk", [])},
        "l2book_frames_per_s": at_max(out.get("l2book"), "decoded_per_s"),
        "trades_frames_per_s": at_max(out.get("trades"), "decoded_per_s"),
        "tick_to_trade_p50_ms": out.get("t2t", {}).get("p50_ms"),
        "tick_to_trade_p99_ms": out.get("t2t", {}).get("p99_ms"),
        "tick_to_trade_cpu_us_per_tick": out.get("t2t", {}).get("cpu_us_per_tick"),
        "tick_to_trade_quiet_p50_ms": out.get("t2t_quiet", {}).get("p50_ms"),
        "tick_to_trade_quiet_p99_ms": out.get("t2t_quiet", {}).get("p99_ms"),
        "tick_to_trade_quiet_cpu_us_per_tick": out.get("t2t_quiet", {}).get("cpu_us_per_tick"),
        "tick_to_trade_warm_p50_ms": out.get("t2t_warm", {}).get("p50_ms"),
        "tick_to_trade_warm_p99_ms": out.get("t2t_warm", {}).get("p99_ms"),
        "tick_to_trade_warm_cpu_us_per_tick": out.get("t2t_warm", {}).get("cpu_us_per_tick"),
        **{f"tick_to_trade_{key}_{q}_ms": out.get(key, {}).get(f"{q}_ms")
           for key in ("floor_socket", "floor", "floor_signed") for q in ("p50", "p99")},
        "feeder_frames_per_s": out.get("feeder", {}).get("frames_per_s"),
        "loadavg": [round(load0[0], 2), round(load1[0], 2)], "shared_machine": True,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
