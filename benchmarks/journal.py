"""Benchmark of the flight recorder (:mod:`hlmaker.journal`): what it costs the book.

1. The book actor's events/s (fills and order updates, 1,000 live orders, as in
   ``book_core.py``) with the journal off and on, in the same process, alternating runs (best of
   3 each). With the journal on, its channel is sized to hold the whole burst (nothing dropped),
   and the time the journal then needs to have written everything is reported separately
   (``journal_rows_per_s``): the sustained rate it can persist.
2. Bytes per fill: the file written in 1. (every step a fill or an order update, each fill a
   ``Fills`` input, a ``fills`` row and an order event) divided by its fills; and the bytes
   per second a quoting maker writes whatever it fills (ticks, ladders, acks, sweeps, mids,
   marks), from a journaled deterministic campaign run (seed 3, 120 simulated seconds, swarm
   faults) less its fills' share. 24 h at 10 fills/s = 86,400 s × that rate + 864,000 fills ×
   bytes per fill.

Run: ``python benchmarks/journal.py`` (target: the book's events/s drop at most 20 %).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).parent))
from book_core import EPOCH, make_core, make_events

from hlmaker.actors.book import run_book
from hlmaker.actors.latest import Latest
from hlmaker.clock import WallClock
from hlmaker.journal import Journal, Mark, RunContext
from hlmaker.messages import Command, ReconcileRequest
from hlmaker.observer import NO_OBSERVER
from hlmaker.orders import BookConfig

N_EVENTS = 40_000


async def _actor(events: list[object], journal: Journal | None) -> tuple[float, float]:
    core, _ = make_core(1000)
    clock = WallClock(EPOCH)
    in_s, in_r = trio.open_memory_channel[object](1024)
    cmd_s, _cmd_r = trio.open_memory_channel[Command](math.inf)
    req_s, _req_r = trio.open_memory_channel[ReconcileRequest](math.inf)
    views = Latest(core.view(EPOCH))
    observer = NO_OBSERVER
    async with trio.open_nursery() as nursery:
        if journal is not None:
            journal.begin_run(RunContext(
                network="sim", venue="bench", account="0x" + "0" * 40, book_config=BookConfig(),
                clock=clock, view_at=core.view, mids={},
                book_busy=lambda: in_s.statistics().current_buffer_used > 0,
                mark=lambda: Mark(closed_pnl=Decimal(0), fees=Decimal(0), unrealized=None,
                                  positions={}, counters={})))
            journal.core_created(1, EPOCH)
            await nursery.start(journal.run)
            observer = journal.observer
        await nursery.start(lambda task_status: run_book(  # type: ignore[misc]
            in_r, cmd_s, req_s, views, core=core, clock=clock, observer=observer,
            task_status=task_status))
        t0 = time.perf_counter()
        async with in_s:
            for ev in events:
                try:
                    in_s.send_nowait(ev)
                except trio.WouldBlock:
                    await in_s.send(ev)
        await views.wait_for(lambda v: v.counters.fills_applied >= len(events) // 2)
        book_s = time.perf_counter() - t0
        drained_s = book_s
        if journal is not None:
            with trio.CancelScope(shield=True):
                await journal.close()
            drained_s = time.perf_counter() - t0
            assert journal.dropped == 0 and journal.write_errors == 0
        nursery.cancel_scope.cancel()
    return len(events) / book_s, drained_s


ROUNDS = 7


def bench_overhead(tmp: Path) -> tuple[list[float], list[float], float, int, float]:
    core, live = make_core(1000)
    events = make_events(core, live, N_EVENTS)
    off, on, rows = [], [], []
    steps = 0
    for k in range(ROUNDS):
        off.append(trio.run(_actor, events, None)[0])
        path = tmp / f"bench{k}.sqlite"
        journal = Journal.open(path, capacity=2 * N_EVENTS)
        eps, drained = trio.run(_actor, events, journal)
        on.append(eps)
        steps = journal.steps
        rows.append(steps / drained)
    per_fill = path.stat().st_size / (N_EVENTS // 2)
    return off, on, max(rows), steps, per_fill


def bench_size(tmp: Path) -> tuple[int, int, float]:
    from hlmaker.chaos.harness import RunSpec, simulate
    from hlmaker.chaos.swarm import swarm_plan

    path = tmp / "campaign.sqlite"
    r = simulate(RunSpec(seed=3, sim_seconds=120.0, plan=swarm_plan(3, 120.0, 30.0),
                         quiet_s=30.0, journal=str(path)))
    size = path.stat().st_size + sum(p.stat().st_size for p in tmp.glob("campaign.sqlite-*"))
    return size, int(r.counters["fills_applied"]), 120.0


def main() -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        offs, ons, rows, steps, per_fill = bench_overhead(tmp)
        off, on = max(offs), max(ons)
        drop = (off - on) / off * 100
        pair_drops = sorted((a - b) / a * 100 for a, b in zip(offs, ons))
        median_drop = pair_drops[len(pair_drops) // 2]
        print("book actor, journal off: " + ", ".join(f"{v:,.0f}" for v in offs) + " events/s")
        print("book actor, journal on:  " + ", ".join(f"{v:,.0f}" for v in ons) + " events/s")
        print(f"best of {ROUNDS}: {off:,.0f} off, {on:,.0f} on ({drop:+.1f} % drop; "
              f"{N_EVENTS:,} events per run)")
        print(f"median drop of the {ROUNDS} adjacent off/on pairs: {median_drop:+.1f} %")
        print(f"journal: {rows:,.0f} steps/s persisted (including encoding and the digest), "
              f"{steps:,} steps")
        size, fills, seconds = bench_size(tmp)
        base = max(0.0, (size - fills * per_fill) / seconds)
        day = 86_400 * base + 864_000 * per_fill
        print(f"size: {per_fill:,.0f} bytes per fill; a quoting maker writes {base:,.0f} "
              f"bytes/s besides fills ({size:,} bytes, {fills} fills in a {seconds:.0f} s "
              f"campaign run); 24 h at 10 fills/s ≈ {day / 1e9:.2f} GB")
    print(f"(cpus={os.cpu_count()}, machine shared with other work)")
    print("RESULT " + json.dumps({
        "book_events_per_s_off": round(off), "book_events_per_s_on": round(on),
        "book_drop_pct": round(drop, 1), "book_drop_pct_median_pair": round(median_drop, 1),
        "journal_steps_per_s": round(rows),
        "bytes_per_fill": round(per_fill), "bytes_per_s_besides_fills": round(base),
        "gb_24h_10_fills_per_s": round(day / 1e9, 2)}))


if __name__ == "__main__":
    main()
