"""Crash injection (F9): an actor crashes at a random point of its work; the supervisor restarts it
(a book crash restarts the book with its memory lost).

Mechanism — trio's public API and the supervisor's fault-injection seam only:

* the harness :meth:`~CrashInjector.arm`\\ s an actor (``book``, ``executor``, ``feed``,
  ``reconciler``, ``quoter``) at a time drawn from the run's seeded fault plan;
* :meth:`~CrashInjector.before_step` runs in the :class:`~.determinism.TraceRecorder`'s
  ``before_task_step`` hook. At the first task step after arming that belongs to the armed
  actor's live incarnation (:meth:`hlmaker.supervisor.Supervisor.actor_of`: the task tree), it
  calls :meth:`Supervisor.crash(actor, CrashInjected(…)) <hlmaker.supervisor.Supervisor.crash>`,
  which cancels the incarnation through its own cancel scope and then restarts it exactly as if
  it had raised :class:`CrashInjected` (restart intensity, ``on_crash`` — the maker's
  ``book_crashed`` replaces the book's core by an empty one that re-syncs —, peers bounced).

The crash point is thus the actor's next resumption after a seeded random time: wherever it is
busy (mid-request, mid-batch, mid-reconnect), not only where it idles.

Crash model (what is lost): the task whose step triggers the crash runs that step — a message it
was just handed (an inbox message, a command, a response) is processed up to its next checkpoint,
where it meets :class:`trio.Cancelled`; every other task of the incarnation meets it at the await
it is blocked in. ``finally`` blocks run and shielded sections complete (as trio guarantees for
any cancellation). Everything the incarnation held only in memory is lost: the book's order state,
the executor's requests in flight (their outcomes never reach the book, which resolves them as
unknown outcomes by a sweep), a command the executor had taken but not yet sent, the feed's
socket (its successor reconnects and takes a snapshot). Messages still buffered in channels are
not lost: the supervisor keeps the channels and the successor reads them.

An armed crash waits while the actor has no live incarnation (between incarnations, or while
one is already ending) and is dropped by :meth:`~CrashInjector.disarm` (the harness disarms at
the start of the quiet period).
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from hlmaker.supervisor import Supervisor

ACTORS = ("book", "executor", "feed", "reconciler", "quoter")
"""The supervised actors a crash may target."""


class CrashInjected(Exception):
    """The simulated crash of an actor (the error the supervisor records for it)."""


class CrashInjector:
    """Arms and performs crash injections through a :class:`Supervisor`; counts them by actor."""

    def __init__(self, actors: tuple[str, ...] = ACTORS) -> None:
        """``actors``: the names :meth:`arm` accepts (the supervisor's actor names)."""
        self.actors = actors
        self.supervisor: Supervisor | None = None
        """Set once the actors run; armed crashes wait until then."""
        self._armed: list[str] = []
        self.injected: dict[str, int] = {}
        self.on_inject: Callable[[str], None] | None = None
        """Optional callback ``(actor)`` after an injection (trace, fault counters)."""

    @property
    def armed(self) -> tuple[str, ...]:
        """The actors whose next task step will crash them."""
        return tuple(self._armed)

    def arm(self, actor: str) -> None:
        """Crash ``actor`` at its next task step (arming twice crashes it twice: the second
        hits the incarnation after the first's restart).

        Raises:
            ValueError: ``actor`` is not one of :attr:`actors`.
        """
        if actor not in self.actors:
            raise ValueError(f"unknown actor {actor!r}; known: {', '.join(self.actors)}")
        self._armed.append(actor)

    def disarm(self) -> None:
        """Drop every armed crash not performed yet."""
        self._armed.clear()

    def before_step(self, task: trio.lowlevel.Task) -> None:
        """The instrument hook: crash the armed actor ``task`` belongs to, if any (cheap when
        disarmed)."""
        if not self._armed or self.supervisor is None:
            return
        actor = self.supervisor.actor_of(task)
        if actor is None or actor not in self._armed:
            return
        if not self.supervisor.crash(actor, CrashInjected(f"simulated crash of the {actor}")):
            return  # already ending: the crash waits for the next incarnation
        self._armed.remove(actor)
        self.injected[actor] = self.injected.get(actor, 0) + 1
        if self.on_inject is not None:
            self.on_inject(actor)
