"""Crash injection (F9): an actor killed at a random await point; a book crash loses the book's
memory and the new book rebuilds from the exchange; the invariants still hold."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from hlmaker.chaos.crash import CrashInjector
from hlmaker.chaos.determinism import TraceRecorder, seed_scheduler, stream
from hlmaker.chaos.harness import RunSpec, simulate
from hlmaker.chaos.plan import Event, FaultPlan
from hlmaker.chaos.scenarios import LATENCY
from hlmaker.supervisor import ActorSpec, Incarnation, Supervisor


def test_the_injector_crashes_the_armed_actor_at_its_next_step() -> None:
    """Armed, the toy crashes at its next task step — its resumption with message 3, which it
    handles up to its next checkpoint — and the supervisor restarts it as for a raised
    :class:`CrashInjected`; an armed actor that never steps is never crashed."""
    injector = CrashInjector(("toy", "idle"))
    recorder = TraceRecorder()
    recorder.before_step = injector.before_step
    crashed: list[str] = []
    injector.on_inject = crashed.append
    log: list[tuple[int, int, str]] = []
    sup = Supervisor(max_restarts=3, window_s=60)
    incarnations = [0]
    armed: list[str] = []

    def make_toy(receive: trio.MemoryReceiveChannel[int]) -> Incarnation:
        incarnations[0] += 1
        n, rx = incarnations[0], receive.clone()

        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            async for msg in rx:
                log.append((n, msg, "handled"))
                await trio.lowlevel.checkpoint()
                log.append((n, msg, "done"))
        return Incarnation(run=run, owns=[rx])

    async def idle(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep_forever()

    async def main() -> None:
        send, receive = trio.open_memory_channel[int](10)
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                await sup.start(nursery, ActorSpec("toy", lambda: make_toy(receive),
                                                   restart_delay_s=0.1))
                await sup.start(nursery, ActorSpec("idle", lambda: Incarnation(run=idle)))
                injector.supervisor = sup
                for i in range(6):
                    await send.send(i)
                    await trio.sleep(0.2)
                    if i == 2:
                        injector.arm("toy")
                        injector.arm("idle")
                armed.extend(injector.armed)
                injector.disarm()  # as the harness does before shutting down
                nursery.cancel_scope.cancel()

    seed_scheduler(1)
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=[recorder])
    assert crashed == ["toy"] and injector.injected == {"toy": 1}
    assert armed == ["idle"]
    assert log == [(1, 0, "handled"), (1, 0, "done"), (1, 1, "handled"), (1, 1, "done"),
                   (1, 2, "handled"), (1, 2, "done"), (1, 3, "handled"),  # crashed here
                   (2, 4, "handled"), (2, 4, "done"), (2, 5, "handled"), (2, 5, "done")], log
    assert sup.restarts == {"toy": 1, "idle": 0}
    assert sup.last_errors["toy"] == "CrashInjected: simulated crash of the toy"
    with pytest.raises(ValueError, match="unknown actor"):
        injector.arm("nobody")


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
