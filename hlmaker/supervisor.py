"""The supervisor: starts, restarts and stops hlmaker's actors (OTP-style, on trio).

Channel ownership is the key rule. The supervisor (through the maker that wires it) holds the
*original* endpoints of every channel; each actor incarnation is built by a factory that hands it
fresh ``.clone()``s, which that incarnation alone closes when it ends. A restart therefore never
closes a channel and never loses a buffered message: a crashed executor's successor reads the
commands its predecessor had not taken yet.

Policies:

* **one-for-one** for actors whose state is re-derivable (feed, executor, reconciler, quoter);
* **rest-for-one groups**: a spec may name actors to restart with it (a book crash restarts the
  quoter too, and the new book re-syncs from the exchange before the quoter may quote again);
* **intensity**: more than ``max_restarts`` crashes of one actor within ``window_s`` seconds
  escalates: :class:`SupervisorGaveUp` propagates out of the supervisor's nursery (the maker runs
  a shielded cancel-all before re-raising it).

Restart loops catch :class:`Exception` only, never :class:`BaseException`: cancellation and
``KeyboardInterrupt`` always propagate.

Fault injection: :meth:`Supervisor.crash` kills an actor's current incarnation through its own
cancel scope (every task of it meets :class:`trio.Cancelled` at its current or next checkpoint,
its ``finally`` blocks run, shielded sections finish first) and then treats it exactly as if the
incarnation had raised the given exception — restart within the intensity limit, ``on_crash``,
peers bounced. :meth:`Supervisor.actor_of` tells which actor a trio task belongs to (the chaos
harness uses both for fault F9).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
import trio

from hlmaker.errors import HlmakerError
from hlmaker.observer import NO_OBSERVER, Observer

log = logging.getLogger("hlmaker.supervisor")


class SupervisorGaveUp(HlmakerError):
    """An actor crashed more often than its restart intensity allows."""

    def __init__(self, actor: str, restarts: int, window_s: float, last: BaseException) -> None:
        super().__init__(
            f"actor {actor!r} crashed {restarts} times within {window_s:.0f} s; giving up "
            f"(last error: {type(last).__name__}: {last})")
        self.actor = actor
        self.last = last


class Closeable(Protocol):
    def close(self) -> None: ...


ActorFn = Callable[..., Awaitable[None]]
"""``async fn(*, task_status)``: one incarnation of an actor."""


@attrs.define
class Incarnation:
    """What a factory returns: the coroutine function to run and the channel clones it owns."""

    run: ActorFn
    owns: list[Closeable] = attrs.Factory(list)


@attrs.define
class ActorSpec:
    """How to run one actor.

    ``make`` is called for every incarnation (it creates the clones and any fresh state);
    ``also_restart`` names actors restarted together with this one when it crashes;
    ``on_crash`` runs before the restart (e.g. keep the dead book's counters).
    """

    name: str
    make: Callable[[], Incarnation]
    also_restart: tuple[str, ...] = ()
    on_crash: Callable[[BaseException], None] | None = None
    restart_delay_s: float = 0.2


class Supervisor:
    """Runs :class:`ActorSpec`\\ s in a nursery with restart policies.

    Use: ``await supervisor.start(nursery, spec)`` in dependency order (each returns once the
    actor called ``task_status.started()``); :meth:`stop` ends one actor for good; :meth:`crash`
    injects a crash (tests, the chaos harness).
    """

    def __init__(self, *, max_restarts: int = 5, window_s: float = 60.0,
                 before_give_up: Callable[[SupervisorGaveUp], Awaitable[None]] | None = None,
                 observer: Observer = NO_OBSERVER) -> None:
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.before_give_up = before_give_up
        """Awaited (shielded) while every other actor still runs, before giving up."""
        self.observer = observer
        """Told of every crash that counts as a restart (:meth:`Observer.actor_restarted`)."""
        self.restarts: dict[str, int] = {}
        self.states: dict[str, str] = {}
        self.last_errors: dict[str, str] = {}
        self._history: dict[str, deque[float]] = {}
        self._scopes: dict[str, trio.CancelScope] = {}
        """The cancel scope of each actor's live incarnation (absent between incarnations)."""
        self._nurseries: dict[str, trio.Nursery] = {}
        """The nursery each actor's live incarnation runs in (see :meth:`actor_of`)."""
        self._stopped: set[str] = set()
        self._bounced: set[str] = set()
        self._crashes: dict[str, Exception] = {}
        """Injected crashes (:meth:`crash`) whose incarnation has not ended yet."""

    @property
    def total_restarts(self) -> int:
        """Restarts of every actor so far."""
        return sum(self.restarts.values())

    async def start(self, nursery: trio.Nursery, spec: ActorSpec) -> None:
        """Start ``spec`` under supervision; returns when its first incarnation is ready."""
        self.restarts.setdefault(spec.name, 0)
        self.states[spec.name] = "starting"
        await nursery.start(self._supervise, spec)

    def stop(self, name: str) -> None:
        """Cancel actor ``name`` and do not restart it."""
        self._stopped.add(name)
        self.states[name] = "stopped"
        scope = self._scopes.get(name)
        if scope is not None:
            scope.cancel()

    def bounce(self, name: str) -> None:
        """Restart actor ``name`` (cancel its incarnation; a new one starts)."""
        scope = self._scopes.get(name)
        if scope is not None and name not in self._stopped:
            self._bounced.add(name)
            scope.cancel()

    def crash(self, name: str, error: Exception) -> bool:
        """Crash actor ``name``'s live incarnation as if it had raised ``error``.

        The incarnation is cancelled through its own cancel scope: each of its tasks meets
        :class:`trio.Cancelled` at the checkpoint it is blocked in — or, for a task already
        scheduled to run, at its next one (so a message it was just handed is processed up to
        there) — its ``finally`` blocks run and shielded sections finish. Once it has ended, the
        supervisor handles ``error`` like any crash: it counts towards the restart intensity
        (:class:`SupervisorGaveUp` beyond it), ``on_crash`` runs, peers in ``also_restart`` are
        bounced, and a new incarnation starts after ``restart_delay_s``. An exception the
        incarnation raises while it unwinds takes precedence over ``error``.

        Returns:
            ``True`` if a crash was injected; ``False`` — nothing done — when ``name`` has no
            live incarnation (unknown, stopped, between incarnations) or its incarnation is
            already ending (crashed, bounced or cancelled).
        """
        scope = self._scopes.get(name)
        if scope is None or scope.cancel_called or name in self._stopped:
            return False
        self._crashes[name] = error
        scope.cancel()
        return True

    def actor_of(self, task: trio.lowlevel.Task) -> str | None:
        """The actor whose live incarnation runs ``task`` (the incarnation's task or any task
        it started, transitively), or ``None``. Reads only trio's public task tree
        (``Task.parent_nursery``, ``Task.eventual_parent_nursery``, ``Nursery.parent_task``)."""
        if not self._nurseries:
            return None
        live = {id(n): name for name, n in self._nurseries.items()}
        current: trio.lowlevel.Task | None = task
        while current is not None:
            for nursery in (current.eventual_parent_nursery, current.parent_nursery):
                if nursery is not None and id(nursery) in live:
                    return live[id(nursery)]
            parent = current.parent_nursery
            current = parent.parent_task if parent is not None else None
        return None

    async def _supervise(self, spec: ActorSpec, *,
                         task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        while spec.name not in self._stopped:
            inc = spec.make()
            scope = trio.CancelScope()
            self._scopes[spec.name] = scope
            error: Exception | None = None
            try:
                with scope:
                    async with trio.open_nursery() as nursery:
                        self._nurseries[spec.name] = nursery
                        await nursery.start(_run_incarnation, inc.run)
                        self.states[spec.name] = "running"
                        if not started:
                            started = True
                            task_status.started()
            except Exception as exc:  # never BaseException: cancellation must propagate
                error = _cause(exc)
            finally:
                self._scopes.pop(spec.name, None)
                self._nurseries.pop(spec.name, None)
                injected = self._crashes.pop(spec.name, None)
                for owned in inc.owns:
                    owned.close()
            if spec.name in self._stopped:
                break
            if error is None:
                error = injected
            if error is None:
                if spec.name in self._bounced:
                    self._bounced.discard(spec.name)
                    log.info("supervisor restarting %s (with a peer)", spec.name)
                    self.states[spec.name] = "restarting"
                    continue
                log.info("supervisor: %s finished", spec.name)
                self.states[spec.name] = "finished"
                break
            gave_up = self._crashed(spec, error)
            if gave_up is not None:
                if self.before_give_up is not None:
                    with trio.CancelScope(shield=True):
                        await self.before_give_up(gave_up)
                raise gave_up
            await trio.sleep(spec.restart_delay_s)
        if not started:
            task_status.started()

    def _crashed(self, spec: ActorSpec, error: Exception) -> SupervisorGaveUp | None:
        name = spec.name
        self._bounced.discard(name)  # a crash restarts it anyway
        now = trio.current_time()
        hist = self._history.setdefault(name, deque())
        hist.append(now)
        while hist and now - hist[0] > self.window_s:
            hist.popleft()
        self.restarts[name] = self.restarts.get(name, 0) + 1
        self.observer.actor_restarted(name)
        self.last_errors[name] = f"{type(error).__name__}: {error}"
        log.error("supervisor: %s crashed (%s); restart %d", name, self.last_errors[name],
                  self.restarts[name], exc_info=error)
        if len(hist) > self.max_restarts:
            self.states[name] = "failed"
            return SupervisorGaveUp(name, len(hist), self.window_s, error)
        self.states[name] = "restarting"
        if spec.on_crash is not None:
            spec.on_crash(error)
        for peer in spec.also_restart:
            self.bounce(peer)
        return None


async def _run_incarnation(run: ActorFn, *,
                           task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
    await run(task_status=task_status)


def _cause(exc: Exception) -> Exception:
    """The actor's own exception: strip the one-member groups trio's nurseries wrap it in."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
