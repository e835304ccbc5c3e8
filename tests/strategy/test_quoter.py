"""The quoter actor with a recording strategy: readiness, coalescing, view changes, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from hlmaker.actors.latest import Latest
from hlmaker.actors.quoter import coalesce_key, run_quoter
from hlmaker.clock import WallClock
from hlmaker.messages import (
    AllMids,
    BookView,
    CancelOrder,
    Intent,
    MarketData,
    Trade,
    Trades,
)
from hlmaker.strategy.base import MarketInfo

from .helpers import EPOCH, D, bbo, view

MARKETS = {"BTC": MarketInfo(coin="BTC", sz_decimals=5)}


class Recorder:
    name = "recorder"

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail_on = fail_on

    def _record(self, what: str, arg: object) -> Sequence[Intent]:
        self.calls.append((what, arg))
        if what == self.fail_on:
            raise RuntimeError("boom")
        return [CancelOrder(cloid=f"{what}-{len(self.calls)}")]

    def start(self, markets: Mapping[str, MarketInfo], now_ms: int) -> Sequence[Intent]:
        return self._record("start", dict(markets))

    def on_market(self, data: MarketData, view: BookView, now_ms: int) -> Sequence[Intent]:
        return self._record("on_market", data)

    def on_view(self, view: BookView, now_ms: int) -> Sequence[Intent]:
        return self._record("on_view", view)

    def stop(self, view: BookView, now_ms: int) -> Sequence[Intent]:
        return []

    def kinds(self) -> list[str]:
        return [k for k, _ in self.calls]


class Rig:
    """``wake``: the quoter holds a send side of its market channel and a view wakes it with a
    marker there (as in the maker), else a view cancels its wait."""

    def __init__(self, strategy: Recorder, wake: bool = False) -> None:
        self.strategy = strategy
        self.views: Latest[BookView] = Latest(view(ready=False))
        self.md_s, self.md_r = trio.open_memory_channel[MarketData](100)
        self.in_s, self.in_r = trio.open_memory_channel[object](100)
        self.wake = self.md_s.clone() if wake else None

    async def run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await run_quoter(self.md_r, self.views, self.in_s, strategy=self.strategy,
                         markets=MARKETS, clock=WallClock(EPOCH),
                         wake=self.wake,  # type: ignore[arg-type]
                         task_status=task_status)

    def intents(self) -> list[object]:
        out = []
        while True:
            try:
                out.append(self.in_r.receive_nowait())
            except trio.WouldBlock:
                return out


@asynccontextmanager
async def running(strategy: Recorder, wake: bool = False) -> AsyncIterator[Rig]:
    """A rig with a ready view, its quoter running (settled) until the block ends."""
    rig = Rig(strategy, wake)
    rig.views.publish(view(ready=True))
    async with trio.open_nursery() as nursery:
        await nursery.start(rig.run)
        await trio.testing.wait_all_tasks_blocked()
        yield rig
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("wake", [False, True])
async def test_waits_for_ready_then_starts_and_forwards(autojump_clock: object, wake: bool) -> None:
    with trio.fail_after(10):
        rig = Rig(Recorder(), wake)
        async with trio.open_nursery() as nursery:
            await nursery.start(rig.run)
            rig.md_s.send_nowait(bbo("1", "3"))
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.calls == []  # not ready: held back
            rig.views.publish(view(ready=True))
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.kinds() == ["start", "on_view", "on_market"]
            assert rig.strategy.calls[0][1] == MARKETS
            assert [i.cloid for i in rig.intents()] == [  # type: ignore[attr-defined]
                "start-1", "on_view-2", "on_market-3"]
            rig.views.publish(view(ready=True, positions={"BTC": "1"}))
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.kinds()[-1] == "on_view"
            nursery.cancel_scope.cancel()


async def test_coalesces_newest_per_type_and_coin(autojump_clock: object) -> None:
    with trio.fail_after(10):
        rig = Rig(Recorder())
        rig.views.publish(view(ready=True))
        msgs: list[MarketData] = [
            bbo("1", "3"), bbo("2", "4"), bbo("10", "12", coin="ETH"),
            AllMids(mids={"BTC": D(1)}), bbo("5", "7"), AllMids(mids={"BTC": D(2)}),
            Trades(trades=(Trade(coin="BTC", side="B", px=D(1), sz=D(1), time_ms=EPOCH,
                                 tid=1),)),
        ]
        for m in msgs:
            rig.md_s.send_nowait(m)
        async with trio.open_nursery() as nursery:
            await nursery.start(rig.run)
            await trio.testing.wait_all_tasks_blocked()
            seen = [arg for kind, arg in rig.strategy.calls if kind == "on_market"]
            assert seen == [msgs[2], msgs[4], msgs[5], msgs[6]]
            nursery.cancel_scope.cancel()
    assert coalesce_key(Trades(trades=())) == (Trades, None)


@pytest.mark.parametrize("wake", [False, True])
async def test_pauses_when_ready_drops_and_restarts(autojump_clock: object, wake: bool) -> None:
    with trio.fail_after(10):
        async with running(Recorder(), wake) as rig:
            rig.views.publish(view(ready=False))
            await trio.testing.wait_all_tasks_blocked()
            rig.md_s.send_nowait(bbo("1", "3"))
            rig.md_s.send_nowait(bbo("2", "4"))
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.kinds() == ["start", "on_view"]
            rig.views.publish(view(ready=True))
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.kinds() == ["start", "on_view", "start", "on_view", "on_market"]
            assert rig.strategy.calls[-1][1] == bbo("2", "4")


async def test_strategy_error_is_logged_and_propagates(
        autojump_clock: object, caplog: pytest.LogCaptureFixture) -> None:
    with trio.fail_after(10):
        rig = Rig(Recorder(fail_on="on_market"))
        rig.views.publish(view(ready=True))
        rig.md_s.send_nowait(bbo("1", "3"))
        with caplog.at_level(logging.ERROR, logger="hlmaker.quoter"), \
                pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="boom")):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rig.run)
        assert "strategy recorder raised in on_market" in caplog.text


async def test_returns_when_market_channel_closes(autojump_clock: object) -> None:
    with trio.fail_after(10):
        rig = Rig(Recorder())
        rig.views.publish(view(ready=True))
        rig.md_s.send_nowait(bbo("1", "3"))
        await rig.md_s.aclose()
        await rig.run()
        assert rig.strategy.kinds() == ["start", "on_view", "on_market"]


@pytest.mark.parametrize("wake", [False, True])
async def test_burst_costs_one_call_per_key(autojump_clock: object, wake: bool) -> None:
    with trio.fail_after(10):
        async with running(Recorder(), wake) as rig:
            for i in range(100):
                rig.md_s.send_nowait(bbo(str(i + 1), str(i + 3)))
            await trio.testing.wait_all_tasks_blocked()
            markets = [a for k, a in rig.strategy.calls if k == "on_market"]
            assert len(markets) <= 2 and markets[-1] == bbo("100", "102")


@pytest.mark.parametrize("wake", [False, True])
async def test_a_newer_view_is_acted_on_before_waiting_market_data(
        autojump_clock: object, wake: bool) -> None:
    with trio.fail_after(10):
        async with running(Recorder(), wake) as rig:
            newer = view(ready=True, positions={"BTC": "1"})
            rig.md_s.send_nowait(bbo("1", "3"))  # both arrive before the quoter runs again
            rig.views.publish(newer)
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.calls[2:] == [("on_view", newer), ("on_market", bbo("1", "3"))]


async def test_a_late_wake_marker_never_reaches_the_strategy(autojump_clock: object) -> None:
    # A view published after market data was handed to the waiting quoter, but before it ran,
    # leaves its wake marker in the channel: it is skipped, and the view is still acted on.
    with trio.fail_after(10):
        async with running(Recorder(), wake=True) as rig:
            newer = view(ready=True, positions={"BTC": "1"})
            rig.md_s.send_nowait(bbo("1", "3"))
            rig.views.publish(newer)
            assert rig.md_s.statistics().current_buffer_used == 1  # the marker
            rig.md_s.send_nowait(bbo("2", "4"))
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.calls[2:] == [("on_view", newer), ("on_market", bbo("2", "4"))]
            assert rig.md_s.statistics().current_buffer_used == 0
            rig.views.publish(view(ready=True, positions={"BTC": "2"}))  # parked: woken at once
            await trio.testing.wait_all_tasks_blocked()
            assert rig.strategy.kinds()[-1] == "on_view"
