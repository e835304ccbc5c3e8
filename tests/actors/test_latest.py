"""Latest: the wake-on-publish hook a reader uses to wait on something else in one task."""

from __future__ import annotations

import trio
import trio.testing

from hlmaker.actors.latest import Latest


def test_on_next_publish_wakes_once_and_forget_stops_it() -> None:
    cell = Latest(0)
    calls: list[str] = []
    cell.on_next_publish(lambda: calls.append("a"))
    forget_b = cell.on_next_publish(lambda: calls.append("b"))
    forget_b()
    cell.publish(1)
    cell.publish_lazy(lambda: 2)
    assert calls == ["a"]  # once, at the next publish only; b was forgotten
    assert cell.value == 2 and cell.version == 2


async def test_a_publish_cancels_a_wait_on_a_channel_and_loses_no_message() -> None:
    cell = Latest(0)
    send, receive = trio.open_memory_channel[int](1)
    outcome: list[object] = []

    async def waiter() -> None:
        with trio.CancelScope() as scope:
            forget = cell.on_next_publish(scope.cancel)
            try:
                outcome.append(await receive.receive())
            finally:
                forget()
        outcome.append(("cancelled", scope.cancelled_caught))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        cell.publish(1)
    assert outcome == [("cancelled", True)]
    send.send_nowait(7)  # the cancelled receive took nothing
    assert receive.receive_nowait() == 7
