"""Crash injection (F9): an actor killed at a random await point; a book crash loses the book's
memory and the new book rebuilds from the exchange; the invariants still hold."""

from __future__ import annotations

import os

import trio
import trio.testing

from hlmaker.chaos.crash import CrashInjected, CrashInjector, stack_files
from hlmaker.chaos.determinism import TraceRecorder, seed_scheduler, stream
from hlmaker.chaos.harness import RunSpec, simulate
from hlmaker.chaos.plan import Event, FaultPlan
from hlmaker.chaos.scenarios import LATENCY
from tests.chaos.toy_actor import run_toy

HERE = os.path.basename(__file__)
TOY = "toy_actor.py"


def test_the_injector_raises_inside_the_actor_at_its_await_point() -> None:
    injector = CrashInjector({"toy": TOY})
    recorder = TraceRecorder()
    recorder.before_step = injector.before_step
    crashed: list[str] = []
    injector.on_inject = crashed.append
    log: list[str] = []
    caught: list[BaseException] = []

    async def main() -> None:
        try:
            with trio.fail_after(10):
                send, receive = trio.open_memory_channel[int](10)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(run_toy, receive, log)
                    for i in range(10):
                        await send.send(i)
                        await trio.sleep(0.2)
                        if i == 4:
                            injector.arm("toy")
        except* CrashInjected as group:
            caught.extend(group.exceptions)

    seed_scheduler(1)
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=[recorder])
    assert crashed == ["toy"] and len(caught) == 1
    tb_files = []
    tb = caught[0].__traceback__
    while tb is not None:
        tb_files.append(os.path.basename(tb.tb_frame.f_code.co_filename))
        tb = tb.tb_next
    assert TOY in tb_files, "the exception must surface inside the actor's code"
    assert len(log) == 5, log


def test_stack_files_follow_the_await_chain() -> None:
    seen: list[str] = []

    async def inner() -> None:
        await trio.sleep(1)

    async def outer() -> None:
        await inner()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outer)
            await trio.sleep(0.5)
            (child,) = nursery.child_tasks
            seen.extend(stack_files(child.coro))

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert [os.path.basename(f) for f in seen[:2]] == [HERE, HERE]
    assert any(f.endswith("_timeouts.py") for f in seen)


def test_book_crashes_at_random_points_rebuild_from_the_exchange() -> None:
    """Three book crashes at seeded random times, plus one of each other actor, under
    latency: the supervisor restarts each; every new book starts empty, re-syncs, and no
    invariant breaks (no fill replayed into the position, no orphan left)."""
    for seed in (11, 12):
        rng = stream(seed, "test-crash")
        times = sorted(round(rng.uniform(8, 60), 2) for _ in range(3))
        events = [Event(t, "crash", actor="book") for t in times]
        events += [Event(round(rng.uniform(8, 60), 2), "crash", actor=a)
                   for a in ("executor", "feed", "reconciler", "quoter")]
        plan = FaultPlan(profile=LATENCY, events=sorted(events, key=lambda e: e.at_s),
                         quiet_after_s=65.0, name="book crashes")
        r = simulate(RunSpec(seed=seed, sim_seconds=120.0, plan=plan, quiet_s=55.0))
        where = f"seed {seed} (book crashes at {times})"
        assert r.ok, f"{where}: {r.violations} {r.error}"
        assert r.restarts["book"] == 3, f"{where}: restarts {r.restarts}"
        assert all(r.restarts[a] >= 1 for a in ("executor", "feed", "reconciler", "quoter")), \
            f"{where}: restarts {r.restarts}"
        assert r.check.restarts_seen == 3, f"{where}: the book's memory must be lost"
        assert r.faults["F9"] == 7, where
        assert r.shutdown_confirmed and r.check.convergence_s is not None, where
