"""The supervisor: one-for-one restarts, clone semantics, intensity, peers, stop, cancellation."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from hlmaker.observer import Observer
from hlmaker.supervisor import ActorSpec, Incarnation, Supervisor, SupervisorGaveUp


class Boom(Exception):
    pass


class Fatal(BaseException):
    """Stands in for KeyboardInterrupt / SystemExit: must never be treated as a crash."""


def _only(group: BaseException, kind: type[BaseException]) -> BaseException:
    """The single leaf of ``kind`` in a (nested) exception group."""
    assert isinstance(group, BaseExceptionGroup), group
    matched, rest = group.split(kind)
    assert rest is None, rest
    assert matched is not None
    leaves = list(_leaves(matched))
    assert len(leaves) == 1, leaves
    return leaves[0]


def _leaves(exc: BaseException) -> Any:
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            yield from _leaves(e)
    else:
        yield exc


class Worker:
    """Builds incarnations that read a channel clone; ``"boom"`` crashes the incarnation."""

    def __init__(self, rx: trio.MemoryReceiveChannel[Any]) -> None:
        self.rx = rx
        self.incarnations = 0
        self.seen: list[tuple[int, Any]] = []
        self.clones: list[trio.MemoryReceiveChannel[Any]] = []

    def make(self) -> Incarnation:
        self.incarnations += 1
        n = self.incarnations
        rx = self.rx.clone()
        self.clones.append(rx)

        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            async for msg in rx:
                self.seen.append((n, msg))
                if msg == "boom":
                    raise Boom("boom")
                if msg == "fatal":
                    raise Fatal()
        return Incarnation(run=run, owns=[rx])


class Idle:
    """Incarnations that wait forever (and count themselves)."""

    def __init__(self) -> None:
        self.incarnations = 0
        self.ended = 0

    def make(self) -> Incarnation:
        self.incarnations += 1

        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                self.ended += 1
        return Incarnation(run=run)


async def test_a_crash_restarts_that_actor_and_buffered_messages_survive(
        autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    worker, peer = Worker(rx), Idle()
    sup = Supervisor(max_restarts=3, window_s=60)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("peer", peer.make))
            await sup.start(nursery, ActorSpec("worker", worker.make, restart_delay_s=0.2))
            # queued before the crash: the successor must read them
            for msg in (1, "boom", 2, 3):
                tx.send_nowait(msg)
            await trio.sleep(1)  # virtual: well past the restart delay
            assert len(worker.seen) == 4
            # the crashed incarnation's clone is closed; the channel itself is not
            with pytest.raises(trio.ClosedResourceError):
                worker.clones[0].receive_nowait()
            tx.send_nowait(4)
            await trio.sleep(0.1)
            assert sup.states == {"peer": "running", "worker": "running"}
            nursery.cancel_scope.cancel()
    assert worker.seen == [(1, 1), (1, "boom"), (2, 2), (2, 3), (2, 4)]
    assert worker.incarnations == 2
    assert sup.restarts == {"peer": 0, "worker": 1} and sup.total_restarts == 1
    assert set(sup.last_errors) == {"worker"}
    assert peer.incarnations == 1  # one-for-one: the peer was left alone


async def test_a_crash_before_started_is_restarted_and_start_waits(
        autojump_clock: trio.testing.MockClock) -> None:
    attempts: list[float] = []

    def make() -> Incarnation:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            attempts.append(trio.current_time())
            if len(attempts) < 3:
                raise Boom("not yet")
            task_status.started()
            await trio.sleep_forever()
        return Incarnation(run=run)

    sup = Supervisor(max_restarts=5, window_s=60)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            t0 = trio.current_time()
            await sup.start(nursery, ActorSpec("flaky", make, restart_delay_s=0.5))
            assert trio.current_time() - t0 == pytest.approx(1.0)
            assert sup.states["flaky"] == "running" and sup.restarts["flaky"] == 2
            nursery.cancel_scope.cancel()


async def test_too_many_crashes_within_the_window_gives_up(
        autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    worker = Worker(rx)
    crashes: list[BaseException] = []

    class Restarts(Observer):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def actor_restarted(self, actor: str) -> None:
            self.seen.append(actor)

    observer = Restarts()
    sup = Supervisor(max_restarts=2, window_s=10, observer=observer)
    with trio.fail_after(30):
        with pytest.raises(BaseExceptionGroup) as info:
            async with trio.open_nursery() as nursery:
                await sup.start(nursery, ActorSpec("worker", worker.make, on_crash=crashes.append,
                                                   restart_delay_s=1.0))
                for _ in range(5):
                    tx.send_nowait("boom")
    gave_up = _only(info.value, SupervisorGaveUp)
    assert isinstance(gave_up, SupervisorGaveUp) and gave_up.actor == "worker"
    assert "worker" in str(gave_up) and "3 times" in str(gave_up)
    assert worker.incarnations == 3  # the third crash is one more than max_restarts=2
    assert len(crashes) == 2  # on_crash runs only before a restart
    assert sup.states["worker"] == "failed"
    assert observer.seen == ["worker"] * 3 and sup.restarts["worker"] == 3  # the observer


async def test_crashes_further_apart_than_the_window_never_give_up(
        autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    worker = Worker(rx)
    sup = Supervisor(max_restarts=1, window_s=5)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("worker", worker.make, restart_delay_s=0.1))
            for _ in range(4):
                tx.send_nowait("boom")
                await trio.sleep(6)  # > window_s
            assert sup.states["worker"] == "running"
            nursery.cancel_scope.cancel()
    assert sup.restarts["worker"] == 4 and worker.incarnations == 5


async def test_also_restart_bounces_the_peer(autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    book, quoter = Worker(rx), Idle()
    order: list[str] = []

    def on_crash(error: BaseException) -> None:
        order.append(f"on_crash {quoter.incarnations}")

    sup = Supervisor(max_restarts=3, window_s=60)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("book", book.make, also_restart=("quoter",),
                                               on_crash=on_crash))
            await sup.start(nursery, ActorSpec("quoter", quoter.make))
            tx.send_nowait("boom")
            await trio.sleep(1)
            assert sup.states == {"book": "running", "quoter": "running"}
            nursery.cancel_scope.cancel()
    assert order == ["on_crash 1"]  # before the peer was restarted
    assert book.incarnations == 2 and quoter.incarnations == 2 and quoter.ended == 2
    assert sup.restarts == {"book": 1, "quoter": 0}  # a bounce is not a crash


async def test_stop_ends_an_actor_for_good(autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    worker, idle = Worker(rx), Idle()
    sup = Supervisor(max_restarts=3, window_s=60)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("idle", idle.make))
            await sup.start(nursery, ActorSpec("worker", worker.make, restart_delay_s=1.0))
            sup.stop("idle")
            tx.send_nowait("boom")
            await trio.sleep(0.5)  # the worker is waiting to restart
            sup.stop("worker")
            tx.send_nowait(1)
            # no cancel: the nursery ends because every supervised actor ended for good
    assert idle.incarnations == 1 and idle.ended == 1
    assert worker.incarnations == 1 and worker.seen == [(1, "boom")]
    assert sup.states == {"idle": "stopped", "worker": "stopped"}
    assert rx.receive_nowait() == 1  # nothing was lost either


async def test_cancellation_propagates_and_is_not_a_crash(
        autojump_clock: trio.testing.MockClock) -> None:
    idle = Idle()
    sup = Supervisor(max_restarts=0, window_s=60)
    with trio.fail_after(30):
        with trio.move_on_after(5) as scope:
            async with trio.open_nursery() as nursery:
                await sup.start(nursery, ActorSpec("idle", idle.make))
                await sup.start(nursery, ActorSpec("other", Idle().make))
    assert scope.cancelled_caught
    assert idle.incarnations == 1 and idle.ended == 1
    assert sup.total_restarts == 0 and sup.last_errors == {}


@pytest.mark.parametrize("error", [Fatal, KeyboardInterrupt])
async def test_a_base_exception_propagates_and_is_not_a_crash(
        error: type[BaseException], autojump_clock: trio.testing.MockClock) -> None:
    _tx, rx = trio.open_memory_channel[Any](10)
    worker = Worker(rx)
    sup = Supervisor(max_restarts=5, window_s=60)

    async def raise_it(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep(1)
        raise error()

    with trio.fail_after(30):
        with pytest.raises(BaseExceptionGroup) as info:
            async with trio.open_nursery() as nursery:
                await sup.start(nursery, ActorSpec("worker", worker.make))
                await sup.start(nursery, ActorSpec("fatal", partial(Incarnation, raise_it)))
                await trio.sleep_forever()
    assert isinstance(_only(info.value, error), error)
    assert sup.total_restarts == 0 and sup.last_errors == {}
    assert worker.incarnations == 1


async def test_the_crash_reason_names_the_actors_exception(
        autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    worker = Worker(rx)
    sup = Supervisor(max_restarts=0, window_s=60)
    with trio.fail_after(30):
        with pytest.raises(BaseExceptionGroup) as info:
            async with trio.open_nursery() as nursery:
                await sup.start(nursery, ActorSpec("worker", worker.make))
                tx.send_nowait("boom")
    gave_up = _only(info.value, SupervisorGaveUp)
    assert sup.last_errors["worker"] == "Boom: boom"
    assert "last error: Boom: boom" in str(gave_up)
    assert isinstance(gave_up.last, Boom)  # type: ignore[attr-defined]


class Careful:
    """Incarnations with a child task, a ``finally`` and a shielded section (``"shield"`` starts
    one lasting 2 s) — what :meth:`Supervisor.crash` must respect."""

    def __init__(self, rx: trio.MemoryReceiveChannel[Any]) -> None:
        self.rx = rx
        self.incarnations = 0
        self.log: list[str] = []

    def make(self) -> Incarnation:
        self.incarnations += 1
        n = self.incarnations
        rx = self.rx.clone()

        async def child() -> None:
            try:
                await trio.sleep_forever()
            finally:
                self.log.append(f"{n} child finally")

        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(child)
                task_status.started()
                try:
                    async for msg in rx:
                        if msg == "shield":
                            with trio.CancelScope(shield=True):
                                await trio.sleep(2)
                            self.log.append(f"{n} shield done")
                        else:
                            self.log.append(f"{n} got {msg}")
                finally:
                    self.log.append(f"{n} finally")
        return Incarnation(run=run, owns=[rx])


async def test_crash_cancels_the_incarnation_and_restarts_it_as_a_crash(
        autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    worker, quoter = Careful(rx), Idle()
    errors: list[BaseException] = []

    class Restarts(Observer):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def actor_restarted(self, actor: str) -> None:
            self.seen.append(actor)

    observer = Restarts()
    sup = Supervisor(max_restarts=3, window_s=60, observer=observer)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("quoter", quoter.make))
            await sup.start(nursery, ActorSpec("worker", worker.make, also_restart=("quoter",),
                                               on_crash=errors.append, restart_delay_s=0.5))
            tx.send_nowait(1)
            await trio.sleep(0.1)
            injected = Boom("injected")
            assert sup.crash("worker", injected)
            assert not sup.crash("worker", Boom("again"))  # already ending: nothing more
            tx.send_nowait(2)  # buffered while the worker restarts: the successor reads it
            await trio.sleep(0.2)
            assert sup.states["worker"] == "restarting"
            assert not sup.crash("worker", Boom("between"))  # no live incarnation
            await trio.sleep(1)
            assert sup.states == {"quoter": "running", "worker": "running"}
            nursery.cancel_scope.cancel()
    assert worker.log[0] == "1 got 1" and worker.log[3] == "2 got 2", worker.log
    assert set(worker.log[1:3]) == {"1 finally", "1 child finally"}, worker.log
    assert errors == [injected]  # on_crash got the injected error
    assert sup.last_errors == {"worker": "Boom: injected"}
    assert sup.restarts == {"quoter": 0, "worker": 1} and observer.seen == ["worker"]
    assert worker.incarnations == 2
    assert quoter.incarnations == 2  # the peer was bounced, as for a raised crash


async def test_crash_waits_for_a_shielded_section(
        autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[Any](10)
    worker = Careful(rx)
    sup = Supervisor(max_restarts=3, window_s=60)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("worker", worker.make, restart_delay_s=0.1))
            tx.send_nowait("shield")
            await trio.sleep(0.5)
            assert sup.crash("worker", Boom("mid-shield"))
            await trio.sleep(1.55)
            assert worker.incarnations == 1  # still in the shielded section (ends at +1.5)
            await trio.sleep(0.1)  # + the restart delay (0.1)
            assert worker.incarnations == 2
            nursery.cancel_scope.cancel()
    # the child is cancelled at once; the shielded section finishes, then the finally runs
    assert worker.log[:3] == ["1 child finally", "1 shield done", "1 finally"], worker.log
    assert sup.restarts["worker"] == 1


async def test_injected_crashes_count_towards_the_intensity(
        autojump_clock: trio.testing.MockClock) -> None:
    idle = Idle()
    sup = Supervisor(max_restarts=2, window_s=60)
    with trio.fail_after(30):
        with pytest.raises(BaseExceptionGroup) as info:
            async with trio.open_nursery() as nursery:
                await sup.start(nursery, ActorSpec("idle", idle.make, restart_delay_s=0.1))
                for i in range(3):
                    assert sup.crash("idle", Boom(f"crash {i}"))
                    await trio.sleep(1)
    gave_up = _only(info.value, SupervisorGaveUp)
    assert isinstance(gave_up, SupervisorGaveUp) and gave_up.actor == "idle"
    assert "last error: Boom: crash 2" in str(gave_up)
    assert idle.incarnations == 3 and idle.ended == 3 and sup.states["idle"] == "failed"


async def test_crash_of_an_unknown_or_stopped_actor_does_nothing(
        autojump_clock: trio.testing.MockClock) -> None:
    idle = Idle()
    sup = Supervisor(max_restarts=2, window_s=60)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("idle", idle.make))
            assert not sup.crash("nobody", Boom("x"))
            sup.stop("idle")
            assert not sup.crash("idle", Boom("x"))
    assert idle.incarnations == 1 and sup.total_restarts == 0 and sup.last_errors == {}


async def test_actor_of_names_the_actor_of_every_task_of_its_incarnation(
        autojump_clock: trio.testing.MockClock) -> None:
    _tx, rx = trio.open_memory_channel[Any](10)
    worker = Careful(rx)
    sup = Supervisor(max_restarts=2, window_s=60)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await sup.start(nursery, ActorSpec("idle", Idle().make))
            await sup.start(nursery, ActorSpec("worker", worker.make, restart_delay_s=1.0))
            await trio.sleep(0.1)

            def tasks(task: trio.lowlevel.Task) -> list[trio.lowlevel.Task]:
                out = [task]
                for child_nursery in task.child_nurseries:
                    for child in child_nursery.child_tasks:
                        out.extend(tasks(child))
                return out

            every = tasks(trio.lowlevel.current_root_task())  # type: ignore[arg-type]
            owners = [sup.actor_of(t) for t in every]
            # worker: the incarnation's task and its child; idle: its incarnation's task
            assert owners.count("worker") == 2 and owners.count("idle") == 1, owners
            assert sup.actor_of(trio.lowlevel.current_task()) is None
            assert sup.crash("worker", Boom("x"))
            await trio.sleep(0.5)  # waiting to restart: no live incarnation
            assert [sup.actor_of(t) for t in every].count("worker") == 0
            nursery.cancel_scope.cancel()
