"""Crash injection (F9): kill an actor at whatever ``await`` it is suspended in.

:class:`CrashInjector` runs inside the :class:`~.determinism.TraceRecorder`'s
``before_task_step`` hook. Once :meth:`~CrashInjector.arm`\\ ed for an actor (``book``,
``executor``, ``feed``, ``reconciler``, ``quoter``), the next task step that resumes a task
whose coroutine stack runs code of that actor's module (``hlmaker/actors/<actor>.py``) is resumed
with :class:`CrashInjected` instead of the value it was woken with — so the exception surfaces
at that exact await point, as if the actor's code had failed there. The supervisor then
restarts it (a book crash restarts the book with its memory lost).

Points where an exception would corrupt trio itself are skipped: a task resumed inside
``trio/_sync.py`` (a lock or semaphore hand-off would leak ownership) or on its very first step.
A message a crashed task had just been handed (a memory-channel receive) is lost with it, like a
real crash.
"""

from __future__ import annotations

import os
from typing import Any

import outcome
import trio

ACTOR_FILES = {
    "book": os.path.join("hlmaker", "actors", "book.py"),
    "executor": os.path.join("hlmaker", "actors", "executor.py"),
    "feed": os.path.join("hlmaker", "actors", "feed.py"),
    "reconciler": os.path.join("hlmaker", "actors", "reconciler.py"),
    "quoter": os.path.join("hlmaker", "actors", "quoter.py"),
}
ACTORS = tuple(ACTOR_FILES)
_UNSAFE = (os.path.join("trio", "_sync.py"),)


class CrashInjected(Exception):
    """Raised inside an actor by the simulation's crash injector."""


def stack_files(coro: Any, limit: int = 200) -> list[str]:
    """Source files of the frames of ``coro``'s await chain, outermost first (best effort: the
    chain stops at objects that do not expose what they await)."""
    files: list[str] = []
    obj = coro
    for _ in range(limit):
        if obj is None:
            break
        frame = (getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
                 or getattr(obj, "ag_frame", None))
        if frame is not None:
            files.append(frame.f_code.co_filename)
        obj = (getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
               or getattr(obj, "ag_await", None))
    return files


class CrashInjector:
    """Arms and performs crash injections; counts them by actor."""

    def __init__(self) -> None:
        self._armed: str | None = None
        self.injected: dict[str, int] = {}
        self.on_inject: Any = None
        """Optional callback ``(actor)`` after an injection (trace, fault counters)."""

    @property
    def armed(self) -> str | None:
        """The actor the next injection targets, if any."""
        return self._armed

    def arm(self, actor: str) -> None:
        """Crash ``actor`` at its next resumption."""
        if actor not in ACTOR_FILES:
            raise ValueError(f"unknown actor {actor!r}; known: {', '.join(ACTORS)}")
        self._armed = actor

    def disarm(self) -> None:
        self._armed = None

    def before_step(self, task: Any) -> None:
        """The instrument hook (cheap when disarmed)."""
        actor = self._armed
        if actor is None:
            return
        send = task._next_send
        if not isinstance(send, outcome.Value | outcome.Error):
            return  # first step, or recovering from a foreign await
        files = stack_files(task.coro)
        target = ACTOR_FILES[actor]
        if not any(f.endswith(target) for f in files):
            return
        if any(f.endswith(u) for f in files for u in _UNSAFE):
            return
        if isinstance(send, outcome.Error) and isinstance(send.error, trio.Cancelled):
            return  # keep cancellation intact (shutdown, timeouts)
        task._next_send = outcome.Error(CrashInjected(f"simulated crash of the {actor}"))
        self._armed = None
        self.injected[actor] = self.injected.get(actor, 0) + 1
        if self.on_inject is not None:
            self.on_inject(actor)
