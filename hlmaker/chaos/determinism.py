"""What makes one seed reproducible: seeded random streams, a seeded trio scheduler, a digest.

* :func:`stream` derives an independent :class:`random.Random` per purpose (``"market"``,
  ``"faults"``, ``"bot"``, ``"crash"``, ``"scheduler"``…) from the campaign seed. String seeds
  are hashed with SHA-512 by :mod:`random`, so streams do not depend on ``PYTHONHASHSEED``.
* :func:`seed_scheduler` makes trio's run loop deterministic. Trio shuffles each batch of runnable
  tasks with a private ``random.Random`` (``trio._core._run._r``); with
  ``_ALLOW_DETERMINISTIC_SCHEDULING`` set it first sorts the batch by spawn order and then
  shuffles with that generator (the hook trio added for Hypothesis). Seeding it fixes the
  interleaving of every task. :func:`check_trio_internals` is the canary: it fails loudly when a
  trio upgrade moves or renames those names.
* :class:`TraceRecorder` is a trio :class:`~trio.abc.Instrument` that hashes, in order, the name
  of every task step and every simulation event into a SHA-256 digest. Task names are
  scrubbed of ``0x…`` addresses (a ``repr`` may hold an ``id()``); events are strings built by
  the harness from JSON text and integers only, never from a set of strings or an ``id()``.

Determinism also needs ``trio.testing.MockClock(autojump_threshold=0)`` (time advances only when
every task is blocked) and no real I/O: the harness in :mod:`hlmaker.chaos.harness` provides
both.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import trio
import trio._core._run as _trio_run

SCHEDULER_NAMES = ("_r", "_ALLOW_DETERMINISTIC_SCHEDULING")
"""Private names of ``trio._core._run`` this module relies on (:func:`check_trio_internals`)."""

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{8,16}\b")


class TrioInternalsMoved(RuntimeError):
    """trio's private scheduler hooks are not where this module expects them (trio upgrade)."""


def stream(seed: int, purpose: str) -> random.Random:
    """An independent, reproducible random stream for ``purpose`` under campaign ``seed``."""
    return random.Random(f"hlmaker-simulation/{seed}/{purpose}")


def check_trio_internals() -> None:
    """Fail loudly unless trio still exposes the scheduler hooks this module patches.

    Raises:
        TrioInternalsMoved: ``trio._core._run._r`` is not a ``random.Random``,
            ``_ALLOW_DETERMINISTIC_SCHEDULING`` is missing, or the run loop no longer reads them.
    """
    r = getattr(_trio_run, "_r", None)
    if not isinstance(r, random.Random):
        raise TrioInternalsMoved(
            f"trio {trio.__version__}: trio._core._run._r is {type(r).__name__}, expected "
            "random.Random; deterministic scheduling needs updating")
    if not hasattr(_trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING"):
        raise TrioInternalsMoved(
            f"trio {trio.__version__}: trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING is gone")
    import inspect

    source = inspect.getsource(_trio_run.unrolled_run)
    for needle in ("_ALLOW_DETERMINISTIC_SCHEDULING", "_r.shuffle", "_counter"):
        if needle not in source:
            raise TrioInternalsMoved(
                f"trio {trio.__version__}: the run loop no longer uses {needle!r}")


def seed_scheduler(seed: int) -> None:
    """Make trio's task scheduling a function of ``seed`` for the next ``trio.run`` in this
    process (call it right before ``trio.run``; it affects the whole process).

    Raises:
        TrioInternalsMoved: see :func:`check_trio_internals`.
    """
    check_trio_internals()
    _trio_run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    _trio_run._r.seed(f"hlmaker-simulation/{seed}/scheduler")


def scrub(name: str) -> str:
    """``name`` without memory addresses."""
    return _ADDRESS.sub("", name)


class TraceRecorder(trio.abc.Instrument):
    """Hashes task steps (names, in scheduling order) and simulation events into one digest.

    ``event(kind, *parts)`` adds an event; parts must be deterministic (str / int / bytes).
    ``on_step`` (optional) is called after every task step with the task — the harness uses it
    for the crash injector's bookkeeping; keep it cheap.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._names: dict[int, bytes] = {}  # id(task) -> encoded name (lookup only, never hashed)
        self.steps = 0
        self.events = 0
        self.before_step: Callable[[Any], None] | None = None
        self.every_65536_steps: Callable[[], None] | None = None
        self.sample: Counter[bytes] | None = None
        """When set, counts task steps by name (diagnosing a livelock)."""

    def before_task_step(self, task: Any) -> None:
        key = id(task)
        name = self._names.get(key)
        if name is None:
            name = scrub(task.name).encode() + b"\n"
            self._names[key] = name
        self._hash.update(name)
        self.steps += 1
        if self.sample is not None:
            self.sample[name] += 1
        if self.before_step is not None:
            self.before_step(task)
        if not self.steps & 0xFFFF and self.every_65536_steps is not None:
            self.every_65536_steps()

    def task_exited(self, task: Any) -> None:
        self._names.pop(id(task), None)

    def event(self, kind: str, *parts: object) -> None:
        """Record one simulation event."""
        self.events += 1
        self._hash.update(b"\x00E" + kind.encode())
        for part in parts:
            if isinstance(part, bytes):
                self._hash.update(b"\x01" + part)
            else:
                self._hash.update(b"\x01" + str(part).encode())

    def digest(self) -> str:
        """The SHA-256 hex digest so far."""
        return self._hash.hexdigest()
