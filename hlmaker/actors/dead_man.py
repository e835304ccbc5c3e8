"""The dead-man lease actor: keeps the exchange's ``scheduleCancel`` armed a lease ahead.

Exchange rule (``scheduleCancel``, ``../shared/hyperliquid-protocol.md``): once armed at time
``T`` the exchange cancels every open order of the account at ``T`` unless it is re-armed (or
disarmed) before. Renewing it as a lease — armed at ``now + lease`` every ``lease / 3`` — means
a process that dies (or a network that stays cut off) leaves no order resting longer than the
lease. The actor only asks: it sends :class:`~hlmaker.messages.ArmScheduleCancel` to the book,
which emits the command the executor signs.
"""

from __future__ import annotations

import trio

from hlmaker.clock import Clock
from hlmaker.messages import ArmScheduleCancel


async def run_dead_man(inbox: trio.MemorySendChannel[object], *, clock: Clock, lease_s: float,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Renew the lease until cancelled: send ``ArmScheduleCancel(at_ms=now + lease)`` (ms since
    the epoch, from ``clock``) to the book's ``inbox`` (a clone the caller closes), then sleep
    ``lease_s / 3`` seconds (trio time), forever."""
    task_status.started()
    while True:
        await inbox.send(ArmScheduleCancel(at_ms=clock.now_ms() + int(lease_s * 1000)))
        await trio.sleep(lease_s / 3)
