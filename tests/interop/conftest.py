"""A still simulator (background book, no taker flow, no drift) served over loopback in a thread,
shared by the interop tests of each client module."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hlmaker.sim.market import MarketConfig
from hlmaker.sim.thread import SimulatorThread


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    market = MarketConfig(taker_rate_per_s=0.0, volatility_bps=0.0)
    # Clients stamp nonces with the wall clock; anchor the simulator's clock the same way.
    with SimulatorThread(epoch_ms=int(time.time() * 1000), seed=11, market=market) as s:
        yield s
