"""Memory over a long run: account events from the feeder process through feed and book.

``--events`` (default 10,000,000) account events (``userFills`` / ``user`` fills and
``orderUpdates``, as in ``benchmarks/ingest.py``) are pushed by ``benchmarks/feeder.py`` (its
own process) as fast as hlmaker takes them (TCP backpressure) into the feed → codec → book
inbox → order core on 20 resting orders, while this process samples its resident set size
(``/proc/self/statm``) every ``--every`` seconds. The bounded structures (the fill de-dup
window of ``dedup_capacity`` = 20,000, the terminal-order retention) fill during the warm-up
(the first ``--warmup`` events); after it the RSS must stay flat: **growth ≤ 2 MB** from the
first sample after the warm-up to the end. The book must end consistent (every fill applied
once, no gap, the feeder's position, one connection).

Prints the curve (elapsed s, events applied, RSS MB) and last ``RESULT {json}`` with
``events``, ``events_per_s``, ``rss_mb_after_warmup``, ``rss_mb_end``, ``growth_mb``, ``flat``,
``consistent``. Run: ``.venv/bin/python benchmarks/soak.py`` (≈ 7–10 min on a shared 2-core
machine; ``--events 1000000`` for a short one).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))
from feeder_process import USER, FeederProcess
from ingest_hlmaker import open_pipeline

from hlmaker.hyperliquid.ws import ws_url

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    """This process's resident set size, MB (``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


async def soak(feeder: FeederProcess, events: int, every_s: float, warmup: int
               ) -> dict[str, Any]:
    curve: list[tuple[float, int, float]] = []
    async with open_pipeline(ws_url(feeder.base_url), USER,
                             order_sz=Decimal(10_000_000)) as pipe:
        stats = pipe.feed_stats
        base = stats.order_events
        answer: dict[str, Any] = {}
        t0 = time.perf_counter()

        async def push() -> None:
            answer.update(await feeder.acall(
                op="push", kind="account", user=USER, orders=pipe.orders, position="0",
                order_sz="10000000.0", n=events, rate=None, seq0=1, stamps=False))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(push)
            while True:
                done = stats.order_events - base
                applied = pipe.core.counters.fills_applied
                curve.append((time.perf_counter() - t0, done, rss_mb()))
                print(f"{curve[-1][0]:8.1f} s {done:>11,} events {applied:>10,} fills "
                      f"{curve[-1][2]:8.1f} MB", flush=True)
                if done >= events and answer:
                    break
                await trio.sleep(every_s)
        elapsed = time.perf_counter() - t0
        await trio.sleep(0.5)
        check = pipe.check(answer["fills"], answer["position"])
    after = next((c for c in curve if c[1] >= warmup), curve[-1])
    growth = curve[-1][2] - after[2]
    return {"events": events, "events_per_s": round(events / elapsed),
            "rss_mb_start": round(curve[0][2], 1), "rss_mb_after_warmup": round(after[2], 1),
            "rss_mb_end": round(curve[-1][2], 1), "rss_mb_max": round(max(c[2] for c in curve), 1),
            "growth_mb": round(growth, 2), "flat": growth <= 2.0,
            "consistent": check["consistent"], "fills_applied": check["fills_applied"],
            "gaps": check["gaps"], "dups": check["dups"], "feed_connects": check["feed_connects"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--warmup", type=int, default=1_000_000,
                        help="events before the flatness is judged")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load0 = os.getloadavg()
    feeder = FeederProcess()
    try:
        result = trio.run(soak, feeder, args.events, args.every, min(args.warmup, args.events))
    finally:
        feeder.close()
    load1 = os.getloadavg()
    result["loadavg"] = [round(load0[0], 2), round(load1[0], 2)]
    result["shared_machine"] = True
    print(f"soak: {result['events']:,} events at {result['events_per_s']:,}/s; RSS "
          f"{result['rss_mb_start']} MB at start, {result['rss_mb_after_warmup']} MB after the "
          f"warm-up, {result['rss_mb_end']} MB at the end (growth {result['growth_mb']} MB, "
          f"flat={result['flat']}); consistent={result['consistent']} (2 CPUs shared with other "
          f"jobs, loadavg {load0[0]:.2f} → {load1[0]:.2f})")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
