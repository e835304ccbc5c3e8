"""Stamps and figures of one paced run: the feeder's writes, the client's applied times.

Latency = applied − the feeder's write of the chunk holding the frame (``time.perf_counter``,
CLOCK_MONOTONIC: one clock for both processes); CPU µs/event = this process's CPU time over the
run / events.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any


class Run:
    """Stamps of one run: the feeder's writes and the client's applied times per seq."""

    def __init__(self, seq0: int, n: int) -> None:
        self.seq0, self.n = seq0, n
        self.applied: dict[int, float] = {}
        self.done = threading.Event()  # set from trio or from the SDK's thread
        self.cpu0 = time.process_time()
        self.cpu_s = math.nan

    def mark(self, seq: int, t: float) -> None:
        if self.seq0 <= seq < self.seq0 + self.n and seq not in self.applied:
            self.applied[seq] = t
            if len(self.applied) == self.n:
                self.done.set()


def pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return math.nan
    return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]


def figures(run: Run, answer: dict[str, Any], rate: float | None) -> dict[str, Any]:
    sent = answer["sent"]
    los = [s[0] for s in sent]
    lat = []
    for seq, t in run.applied.items():
        i = bisect_right(los, seq) - 1
        if i >= 0:
            lat.append(t - sent[i][2])
    lat.sort()
    got = len(run.applied)
    last = max(run.applied.values()) if run.applied else math.nan
    return {"offered_per_s": rate or "max", "events": run.n, "received": got,
            "events_per_s": round(got / (last - answer["t0"])) if got > 1 else 0,
            "sent_per_s": round(run.n / (answer["t1"] - answer["t0"])),
            "p50_ms": round(pct(lat, 0.5) * 1000, 3), "p99_ms": round(pct(lat, 0.99) * 1000, 3),
            "max_ms": round(pct(lat, 1.0) * 1000, 3),
            "cpu_us_per_event": round(run.cpu_s / got * 1e6, 1) if got else math.nan}


def plan(rates: list[float | None], seconds: float, max_events: int) -> list[tuple[float | None,
                                                                                 int]]:
    return [(r, max_events if r is None else max(500, min(max_events, int(r * seconds))))
            for r in rates]


