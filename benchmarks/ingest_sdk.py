"""The official SDK's side of the ingest benchmark: its ``WebsocketManager`` on the same feeder.

websocket-client in its own thread, with callbacks for ``userFills``, ``userEvents`` and
``orderUpdates`` that only record the time the callback was entered.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from feeder import EPOCH_MS
from feeder_process import USER_SDK, FeederProcess
from stamps import Run, figures


def sdk_account(feeder: FeederProcess, runs: list[tuple[float | None, int]],
                orders: list[list[Any]]) -> list[dict[str, Any]]:
    from hyperliquid.websocket_manager import WebsocketManager

    current: list[Run | None] = [None]

    def callback(msg: dict[str, Any]) -> None:
        t = time.perf_counter()
        run = current[0]
        if run is None:
            return
        data = msg["data"]
        if msg["channel"] == "orderUpdates":
            run.mark(data[0]["statusTimestamp"] - EPOCH_MS, t)
        elif data.get("fills") and not data.get("isSnapshot"):
            run.mark(data["fills"][0]["tid"], t)

    wm = WebsocketManager(feeder.base_url)
    wm.daemon = True
    wm.start()
    try:
        for sub in ({"type": "userFills", "user": USER_SDK}, {"type": "userEvents",
                                                              "user": USER_SDK},
                    {"type": "orderUpdates", "user": USER_SDK}):
            wm.subscribe(sub, callback)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while sum(len(c["subs"]) for c in feeder.call(op="conns")["conns"] if c["open"]) < 3:
            if time.monotonic() > deadline:
                raise RuntimeError("SDK did not subscribe")
            time.sleep(0.01)
        push = {"kind": "account", "user": USER_SDK, "orders": orders, "position": "0"}
        rows = []
        seq0 = 1
        for idx, (rate, n) in enumerate([(None, 1000), *runs]):
            run = Run(seq0, n)
            current[0] = run
            answer = feeder.call(op="push", n=n, rate=rate, seq0=seq0, **push)
            push["position"] = answer["position"]
            run.done.wait(n / (rate or 5_000) + 15)
            run.cpu_s = time.process_time() - run.cpu0
            current[0] = None
            if idx:
                row = figures(run, answer, rate)
                row["consistent"] = len(run.applied) == n
                rows.append(row)
            seq0 += n
            time.sleep(0.3)
        return rows
    finally:
        wm.stop()

