"""A toy actor for the crash-injector test (its own module: the injector targets by file)."""

from __future__ import annotations

import trio


async def run_toy(inbox: trio.MemoryReceiveChannel[int], log: list[str]) -> None:
    lock = trio.Lock()
    async for _ in inbox:
        async with lock:  # resumptions inside trio/_sync.py are never crashed
            await trio.lowlevel.checkpoint()
        log.append("tick")
