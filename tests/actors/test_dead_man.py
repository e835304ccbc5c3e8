"""The dead-man lease: armed at now + lease, renewed every lease / 3."""

from __future__ import annotations

import itertools

import trio
import trio.testing

from hlmaker.actors.dead_man import run_dead_man
from hlmaker.clock import WallClock
from hlmaker.messages import ArmScheduleCancel

EPOCH = 1_700_000_000_000


async def test_the_lease_is_renewed_every_third_of_it(
        autojump_clock: trio.testing.MockClock) -> None:
    tx, rx = trio.open_memory_channel[object](10)
    clock = WallClock(EPOCH)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: run_dead_man(
                tx, clock=clock, lease_s=30.0, task_status=task_status))
            arms = [await rx.receive() for _ in range(3)]
            nursery.cancel_scope.cancel()
    assert all(isinstance(a, ArmScheduleCancel) for a in arms)
    starts = [a.at_ms - 30_000 for a in arms]  # type: ignore[attr-defined]
    assert starts[0] == EPOCH and [b - a for a, b in itertools.pairwise(starts)] == [10_000] * 2
