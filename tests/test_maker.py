"""open_maker against an in-process simulator over real loopback sockets (short, bounded runs)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
import trio

from hlmaker.clock import WallClock
from hlmaker.config import MakerConfig, config_from_mapping
from hlmaker.hyperliquid.keys import Wallet
from hlmaker.maker import Maker, open_maker
from hlmaker.messages import CancelAll
from hlmaker.observer import Observer
from hlmaker.run import DEFAULT_STRATEGY, sim_key
from hlmaker.sim.limits import Limits
from hlmaker.sim.server import Simulator, open_simulator
from hlmaker.sim.service import ServiceConfig
from hlmaker.strategy.factory import ladder_config
from hlmaker.strategy.ladder import LadderQuoter
from hlmaker.supervisor import SupervisorGaveUp
from hlmaker.ui.bridge import MakerView, status_of

EPOCH = 1_700_000_000_000
D0 = Decimal(0)
COINS = {"BTC", "ETH"}

pytestmark = pytest.mark.slow


def make_config(**sections: dict[str, Any]) -> MakerConfig:
    data: dict[str, Any] = {"strategy": dict(DEFAULT_STRATEGY),
                            "reconcile": {"interval_s": 1.0, "min_gap_s": 0.2}}
    data.update(sections)
    return config_from_mapping(data)


@asynccontextmanager
async def simulator() -> AsyncIterator[Simulator]:
    async with open_simulator(port=0, faults="none", epoch_ms=EPOCH) as sim:
        yield sim


async def until(predicate: Callable[[], bool], poll_s: float = 0.01) -> None:
    """Poll state that has no event (the simulator's engine, supervisor counters)."""
    while not predicate():  # noqa: ASYNC110
        await trio.sleep(poll_s)


async def started(maker: Maker, sim: Simulator) -> None:
    """The book synced once and our ladder rests on the simulator."""
    await maker.views.wait_for(lambda v: v.ready)
    await until(lambda: len(sim.engine.open_orders_for(maker.user)) > 0)


def our_orders(sim: Simulator, maker: Maker) -> list[Any]:
    return list(sim.engine.open_orders_for(maker.user))


async def test_the_maker_quotes_and_leaves_nothing_behind() -> None:
    wallet = Wallet(sim_key(21))
    cfg = make_config()
    with trio.fail_after(20):
        async with simulator() as sim:
            async with open_maker(cfg, wallet=wallet, clock=WallClock(EPOCH),
                                  strategy=LadderQuoter(ladder_config(cfg.strategy)),
                                  base_url=sim.base_url) as maker:
                assert maker.user == wallet.query_address
                await started(maker, sim)
                resting = our_orders(sim, maker)
                assert {o.coin for o in resting} <= COINS
                assert all(o.cloid is not None and o.tif == "Alo" for o in resting)
                await maker.views.wait_for(lambda v: v.is_synced and v.orders)
                tracked = {o.cloid for o in maker.view.orders}
                assert any(o.cloid in tracked for o in our_orders(sim, maker))
                ui: MakerView = maker  # what the dashboard reads, typed
                status = status_of(ui, sim.base_url)
                assert status.network == "sim" and status.feed_connected
                assert status.actors["book"] == "running" and status.restarts["book"] == 0
                assert set(status.mids) <= COINS and status.exchange_open is not None
            left = our_orders(sim, maker)
            positions = {c: str(sim.engine.position(maker.user, c)) for c in sorted(COINS)
                         if sim.engine.position(maker.user, c) != 0}
    assert left == []
    summary = maker.summary()
    assert summary["is_synced"] is True
    assert summary["shutdown"]["confirmed_no_open_orders"] is True
    assert summary["open_orders_exchange"] == 0 and summary["open_orders_local"] == 0
    assert summary["unresolved_requests"] == 0 and summary["restarts"] == 0
    assert summary["position_local"] == summary["position_exchange"] == positions
    assert summary["feed_connects"] >= 1 and summary["actions_sent"] >= 1
    assert summary["reconcile_sweeps"] >= 2
    assert summary["unrealized_pnl"] is not None and Decimal(summary["unrealized_pnl"]).is_finite()
    if not summary["position_exchange"]:  # the same sweep: flat means exactly zero
        assert Decimal(summary["unrealized_pnl"]) == 0


class Crasher(Observer):
    """Injects actor failures through the maker's observer seam: an exception a probe raises
    escapes into the actor that called it (the contract says probes must not raise — this one
    does, on purpose). ``book = True`` makes the book fail once, right after its core applied
    the next message; ``executor = True`` makes the executor fail on the next command it takes.
    ``batches`` lists every book batch's size (the metrics' probe)."""

    def __init__(self) -> None:
        self.book = False
        self.executor = False
        self.batches: list[int] = []

    def core_step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        if self.book and msg is not None:
            self.book = False
            raise RuntimeError("injected book crash")

    def command_received(self, command: object) -> None:
        if self.executor:
            self.executor = False
            raise RuntimeError("injected executor crash")

    def book_batch(self, messages: int, seconds: float) -> None:
        self.batches.append(messages)


async def test_a_book_crash_restarts_a_fresh_book_that_resyncs() -> None:
    wallet = Wallet(sim_key(22))
    cfg = make_config(book={"orphan_grace_ms": 300})
    crasher = Crasher()
    batches = crasher.batches
    with trio.fail_after(25):
        async with simulator() as sim:
            async with open_maker(cfg, wallet=wallet, clock=WallClock(EPOCH),
                                  strategy=LadderQuoter(ladder_config(cfg.strategy)),
                                  base_url=sim.base_url, observer=crasher) as maker:
                await started(maker, sim)
                await until(lambda: len(batches) > 0)
                first = maker.holder.core
                old = {o.oid for o in our_orders(sim, maker)}
                crasher.book = True
                await until(lambda: maker.supervisor.total_restarts == 1)
                assert maker.supervisor.restarts["book"] == 1
                fresh = maker.holder.core
                assert fresh is not first
                assert maker.holder.lost  # the dead core's counters are kept
                # the fresh core re-syncs from the exchange, then quotes again
                await until(lambda: fresh.ready and fresh.is_synced
                            and maker.view.ready and maker.view.is_synced)
                await until(lambda: any(o.oid not in old for o in our_orders(sim, maker)))
                assert maker.supervisor.states["book"] == "running"
                seen = len(batches)  # the observer outlives the crashed incarnation
                await until(lambda: len(batches) > seen)
            left = our_orders(sim, maker)
    assert left == []
    summary = maker.summary()
    assert summary["restarts"] == 1
    # the dead book's orders, found by the fresh book's first sweep, cancelled before it quoted
    assert summary["leftovers_cancelled"] >= 1
    # A placement the dead book had in flight may land after the fresh book's first sync: a
    # leftover of the dead incarnation (cancelled at once), never an orphan of the fresh one.
    assert summary["orphans_detected"] == 0
    assert summary["is_synced"] is True
    assert summary["shutdown"]["confirmed_no_open_orders"] is True


async def test_quoting_resumes_only_after_the_restarted_book_resynced() -> None:
    starts: list[bool] = []
    running: list[Maker] = []

    class Recording(LadderQuoter):
        def start(self, markets: Any, now_ms: int) -> Any:
            starts.append(running[0].holder.core.ready)
            return super().start(markets, now_ms)

    wallet = Wallet(sim_key(23))
    cfg = make_config(book={"orphan_grace_ms": 300})
    crasher = Crasher()
    with trio.fail_after(25):
        async with simulator() as sim, open_maker(
                cfg, wallet=wallet, clock=WallClock(EPOCH),
                strategy=Recording(ladder_config(cfg.strategy)), base_url=sim.base_url,
                observer=crasher) as maker:
            running.append(maker)  # before the book is ready: the strategy has not started
            await started(maker, sim)
            crasher.book = True
            await until(lambda: len(starts) == 2)
    assert starts == [True, True]  # the strategy started each time on a synced book


async def test_shutdown_after_a_book_crash_cancels_the_orphans() -> None:
    wallet = Wallet(sim_key(24))
    cfg = make_config(supervisor={"shutdown_timeout_s": 2.0})  # default 5 s orphan grace
    crasher = Crasher()
    with trio.fail_after(25):
        async with simulator() as sim:
            async with open_maker(cfg, wallet=wallet, clock=WallClock(EPOCH),
                                  strategy=LadderQuoter(ladder_config(cfg.strategy)),
                                  base_url=sim.base_url, observer=crasher) as maker:
                await started(maker, sim)
                first = maker.holder.core
                old = {o.oid for o in our_orders(sim, maker)}
                crasher.book = True
                await until(lambda: maker.holder.core is not first
                            and maker.holder.core.ready)
                # the dead book's ladder was cancelled before the fresh book became ready
                assert not old & {o.oid for o in our_orders(sim, maker)}
                assert maker.holder.core.counters.leftovers_cancelled > 0
            left = our_orders(sim, maker)
    assert maker.shutdown_report["confirmed_no_open_orders"] is True
    assert left == []


async def test_giving_up_cancels_every_order_first() -> None:
    class Flaky(LadderQuoter):
        broken = False

        def on_market(self, data: Any, view: Any, now_ms: int) -> Any:
            if Flaky.broken:
                raise RuntimeError("strategy bug")
            return super().on_market(data, view, now_ms)

    wallet = Wallet(sim_key(25))
    cfg = make_config(supervisor={"max_restarts": 0, "shutdown_timeout_s": 2.0})
    maker: Maker | None = None
    with trio.fail_after(25):
        async with simulator() as sim:
            with pytest.raises(SupervisorGaveUp) as info:
                async with open_maker(cfg, wallet=wallet, clock=WallClock(EPOCH),
                                      strategy=Flaky(ladder_config(cfg.strategy)),
                                      base_url=sim.base_url) as maker:
                    await started(maker, sim)
                    Flaky.broken = True
                    await trio.sleep_forever()
            assert info.value.actor == "quoter"
            assert maker is not None
            left = our_orders(sim, maker)
    assert maker.shutdown_report["confirmed_no_open_orders"] is True
    assert left == []


async def test_giving_up_on_the_executor_cancels_every_order_through_the_venue() -> None:
    # The book's cancel-all needs the executor: when the executor is the actor that failed,
    # the orders are cancelled straight through the venue before giving up.
    crasher = Crasher()
    wallet = Wallet(sim_key(26))
    cfg = make_config(supervisor={"max_restarts": 0, "shutdown_timeout_s": 8.0},
                      dead_man={"enabled": False}, book={"action_ttl_ms": 3000},
                      executor={"request_timeout_s": 2.0})
    maker: Maker | None = None
    with trio.fail_after(25):
        async with simulator() as sim:
            with pytest.raises(SupervisorGaveUp) as info:
                async with open_maker(cfg, wallet=wallet, clock=WallClock(EPOCH),
                                      strategy=LadderQuoter(ladder_config(cfg.strategy)),
                                      base_url=sim.base_url, observer=crasher) as maker:
                    await started(maker, sim)
                    assert our_orders(sim, maker)
                    crasher.executor = True
                    await maker.send(CancelAll())  # a command: the executor fails taking it
                    await trio.sleep_forever()
            assert info.value.actor == "executor"
            assert maker is not None
            left = our_orders(sim, maker)
    assert left == []
    assert maker.shutdown_report["direct"] is True
    assert maker.shutdown_report["confirmed_no_open_orders"] is True
    # "nothing rests" only counts once a placement sent before could no longer land
    assert maker.shutdown_report["shutdown_s"] >= 3.0


async def test_a_coin_the_exchange_does_not_list_is_a_config_error() -> None:
    from hlmaker.errors import ConfigError

    cfg = make_config()
    table = {**cfg.strategy, "coins": ["BTC", "ETH", "NOPE"]}
    with trio.fail_after(10):
        async with simulator() as sim:
            with pytest.raises(ConfigError) as info:
                async with open_maker(cfg, wallet=Wallet(sim_key(27)), clock=WallClock(EPOCH),
                                      strategy=LadderQuoter(ladder_config(table)),
                                      base_url=sim.base_url):
                    raise AssertionError("the maker started with an unknown coin")
    assert info.value.field == "strategy.coins" and "NOPE" in str(info.value)


@asynccontextmanager
async def on_a_40_request_budget(key: int, cfg: MakerConfig) -> AsyncIterator[tuple[Simulator,
                                                                                    Maker]]:
    small = ServiceConfig(limits=Limits(address_budget=40))
    async with open_simulator(port=0, faults="none", epoch_ms=EPOCH,
                              service_config=small) as sim, \
            open_maker(cfg, wallet=Wallet(sim_key(key)), clock=WallClock(EPOCH),
                       strategy=LadderQuoter(ladder_config(cfg.strategy)),
                       base_url=sim.base_url) as maker:
        yield sim, maker


async def test_reserve_request_weight_buys_requests_when_the_budget_runs_low() -> None:
    # A 40-request address budget: the first ladder leaves less than 30, so the sweep after it
    # buys 500 requests (0.25 USDC) and quoting never runs out. The ladder sits 3% away so
    # nothing fills: a fill's volume grows the cap (1 request per USDC), and one early fill of
    # the default ladder left headroom over 30 and nothing to buy (2 runs in 10 failed).
    cfg = make_config(executor={"reserve_request_weight": 500, "reserve_below_headroom": 30},
                      strategy={**DEFAULT_STRATEGY, "half_spread_bps": 300})
    with trio.fail_after(30):
        async with on_a_40_request_budget(23, cfg) as (sim, maker):
            await started(maker, sim)
            await until(lambda: maker.budget.bought > 0)
            view = maker.budget
            assert view.bought == 500 and not view.exhausted and view.headroom > 400
            wire = sim.service.budget.wire(maker.user, D0)
            # the exchange's count: the bought requests exceed those used
            assert wire["nRequestsUsed"] == 0 and wire["nRequestsSurplus"] > 400, wire
            assert maker.executor.stats.budget_held == 0


async def test_without_reserve_request_weight_nothing_is_bought() -> None:
    cfg = make_config()
    assert cfg.executor.reserve_request_weight == 0  # off by default
    with trio.fail_after(30):
        async with on_a_40_request_budget(24, cfg) as (sim, maker):
            await started(maker, sim)
            await until(lambda: maker.reconcile_status.value.sweeps >= 3)
            assert maker.budget.bought == 0
            assert sim.service.budget.wire(maker.user, D0)["nRequestsSurplus"] == 0


async def test_a_restart_with_on_start_adopt_reuses_the_dead_process_ladder() -> None:
    """A process dies (no shutdown: its ladder stays on the exchange); the next one, with
    ``on_start = "adopt"``, adopts that ladder and quotes with it — never a second ladder
    beside it (S9, checked on every poll against the simulator's engine)."""
    from hlmaker.chaos.invariants import Bounds, InvariantChecker

    wallet = Wallet(sim_key(26))
    cfg = make_config()
    levels = int(DEFAULT_STRATEGY["levels"])
    with trio.fail_after(25):
        async with simulator() as sim:
            with trio.CancelScope() as process:  # the first process, killed
                async with open_maker(cfg, wallet=wallet, clock=WallClock(EPOCH),
                                      strategy=LadderQuoter(ladder_config(cfg.strategy)),
                                      base_url=sim.base_url) as dead:
                    await started(dead, sim)
                    await until(lambda: len(our_orders(sim, dead)) == 2 * len(COINS) * levels)
                    await dead.views.wait_for(lambda v: v.is_synced)
                    dead.abort_shutdown()
                    process.cancel()
            old = {o.cloid for o in our_orders(sim, dead)}
            assert len(old) == 2 * len(COINS) * levels  # the exchange keeps the dead ladder
            adopt = make_config(maker={"on_start": "adopt"})
            checker = InvariantChecker(
                sim.engine, wallet.query_address, bounds=Bounds(),
                now_s=trio.current_time, exchange_ms=lambda: EPOCH,
                is_ours=adopt.maker.ownership().is_ours, levels_per_side=levels)
            async with open_maker(adopt, wallet=wallet, clock=WallClock(EPOCH),
                                  strategy=LadderQuoter(ladder_config(adopt.strategy)),
                                  base_url=sim.base_url) as maker:
                checker.get_core = lambda: maker.holder.core
                most = 0
                with trio.move_on_after(3.0):
                    while True:
                        checker.check_exchange()
                        most = max(most, len(our_orders(sim, maker)))
                        await trio.sleep(0.005)
                counters = maker.holder.core.counters
                assert counters.leftovers_adopted == len(old)
                assert counters.leftovers_cancelled == 0 and counters.orphans_detected == 0
                kept = old & {o.cloid for o in our_orders(sim, maker)}
                assert kept, "the ladder placed anew instead of reusing the adopted orders"
            left = our_orders(sim, maker)
    assert [v for v in checker.violations if v.invariant == "S9"] == []
    assert most <= 2 * len(COINS) * levels, most
    assert left == []
    assert maker.summary()["shutdown"]["confirmed_no_open_orders"] is True


@pytest.mark.parametrize("freeze", [True, False])
async def test_gc_freeze_holds_while_the_maker_runs_and_is_undone_on_exit(freeze: bool) -> None:
    wallet = Wallet(sim_key(29))
    cfg = make_config(maker={"gc_freeze": freeze})
    assert gc.get_freeze_count() == 0
    with trio.fail_after(20):
        async with simulator() as sim, open_maker(cfg, wallet=wallet, clock=WallClock(EPOCH),
                                                  base_url=sim.base_url) as maker:
            await maker.views.wait_for(lambda v: v.ready)
            assert (gc.get_freeze_count() > 0) is freeze
    assert gc.get_freeze_count() == 0
