"""Crash injection (F9): kill an actor at whatever ``await`` it is suspended in.

:class:`CrashInjector` runs inside the :class:`~.determinism.TraceRecorder`'s
``before_task_step`` hook. Once :meth:`~CrashInjector.arm`\\ ed for an actor (``book``,
``executor``, ``feed``, ``reconciler``, ``quoter``), the next task step that resumes a task
whose coroutine stack runs code of that actor's module (``hlmaker/actors/<actor>.py``) is resumed
with :class:`CrashInjected` instead of the value it was woken with — so the exception surfaces
at that exact await point, as if the actor's code had failed there. The supervisor then
restarts it (a book crash restarts the book with its memory lost).

Points where an exception would corrupt trio itself are skipped: a task resumed inside
``trio/_sync.py`` (a lock or semaphore hand-off would leak ownership), inside a nursery's exit or
``start`` (trio's nursery bookkeeping), or on its very first step.
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
_SYNC = os.path.join("trio", "_sync.py")
_RUN = os.path.join("trio", "_core", "_run.py")
_RUN_UNSAFE = frozenset({"_nested_child_finished", "start", "__aexit__"})


class CrashInjected(Exception):
    """Raised inside an actor by the simulation's crash injector."""


def stack_frames(coro: Any, limit: int = 200) -> list[tuple[str, str]]:
    """``(source file, function)`` of the frames of ``coro``'s await chain, outermost first
    (best effort: the chain stops at objects that do not expose what they await)."""
    frames: list[tuple[str, str]] = []
    obj = coro
    for _ in range(limit):
        if obj is None:
            break
        frame = (getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
                 or getattr(obj, "ag_frame", None))
        if frame is not None:
            frames.append((frame.f_code.co_filename, frame.f_code.co_name))
        obj = (getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
               or getattr(obj, "ag_await", None))
    return frames


def stack_files(coro: Any, limit: int = 200) -> list[str]:
    """The source files of :func:`stack_frames`."""
    return [f for f, _ in stack_frames(coro, limit)]


def _unsafe(frames: list[tuple[str, str]]) -> bool:
    """Resumption points where an injected exception would corrupt trio: a lock / semaphore
    hand-off, a nursery waiting for its children or for ``start``."""
    for file, name in frames:
        if file.endswith(_SYNC):
            return True
        if file.endswith(_RUN) and name in _RUN_UNSAFE:
            return True
    return False


class CrashInjector:
    """Arms and performs crash injections; counts them by actor."""

    def __init__(self, files: dict[str, str] | None = None) -> None:
        """``files``: actor name → the source file (suffix) of its code; default the actors of
        :data:`ACTOR_FILES`."""
        self.files = dict(files) if files is not None else dict(ACTOR_FILES)
        self._armed: list[str] = []
        self.injected: dict[str, int] = {}
        self.on_inject: Any = None
        """Optional callback ``(actor)`` after an injection (trace, fault counters)."""

    @property
    def armed(self) -> tuple[str, ...]:
        """The actors whose next resumption will crash."""
        return tuple(self._armed)

    def arm(self, actor: str) -> None:
        """Crash ``actor`` at its next resumption (arming twice crashes it twice)."""
        if actor not in self.files:
            raise ValueError(f"unknown actor {actor!r}; known: {', '.join(self.files)}")
        self._armed.append(actor)

    def disarm(self) -> None:
        self._armed.clear()

    def before_step(self, task: Any) -> None:
        """The instrument hook (cheap when disarmed)."""
        if not self._armed:
            return
        send = task._next_send
        if not isinstance(send, outcome.Value | outcome.Error):
            return  # first step, or recovering from a foreign await
        if isinstance(send, outcome.Error) and isinstance(send.error, trio.Cancelled):
            return  # keep cancellation intact (shutdown, timeouts)
        frames = stack_frames(task.coro)
        for actor in dict.fromkeys(self._armed):
            target = self.files[actor]
            if not any(f.endswith(target) for f, _ in frames):
                continue
            if _unsafe(frames):
                return
            task._next_send = outcome.Error(CrashInjected(f"simulated crash of the {actor}"))
            self._armed.remove(actor)
            self.injected[actor] = self.injected.get(actor, 0) + 1
            if self.on_inject is not None:
                self.on_inject(actor)
            return
