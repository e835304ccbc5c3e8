"""A latest-value broadcast cell: the book publishes views, any number of readers watch them.

Publishing never blocks and never queues: a reader that is slow simply skips intermediate
versions and sees the newest one. This is how the book's read-only views reach the quoter, the
reconciler, the UI and metrics without any of them being able to stall the book.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Generic, TypeVar

import trio

T = TypeVar("T")


class Latest(Generic[T]):
    """Holds the newest value and its version (0 before the first :meth:`publish`)."""

    def __init__(self, initial: T) -> None:
        self._value = initial
        self._make: Callable[[], T] | None = None
        self._version = 0
        self._changed = trio.Event()
        self._wakers: list[Callable[[], None]] = []

    @property
    def value(self) -> T:
        """The newest value (built now if it was published lazily)."""
        if self._make is not None:
            self._value = self._make()
            self._make = None
        return self._value

    @property
    def version(self) -> int:
        """How many times a value was published."""
        return self._version

    def publish(self, value: T) -> None:
        """Replace the value and wake every waiting reader. Never blocks."""
        self._value = value
        self._make = None
        self._bump()

    def publish_lazy(self, make: Callable[[], T]) -> None:
        """Announce a new version whose value ``make()`` builds on first read (at most once).

        The book uses this so that a busy inbox does not pay for a view nobody reads; ``make``
        must build an immutable value from the publisher's state *at read time*.
        """
        self._make = make
        self._bump()

    def on_next_publish(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` once, synchronously, at the next :meth:`publish` or
        :meth:`publish_lazy`; returns a function that forgets it (harmless after the call).

        For a reader that waits on something else at the same time without a second task: it
        ends its own wait from ``wake`` — cancels it (``trio.CancelScope.cancel``), or sends
        itself a marker on the channel it waits on (the quoter in the maker). ``wake`` must not
        block or raise.
        """
        self._wakers.append(wake)

        def forget() -> None:
            with suppress(ValueError):  # already called
                self._wakers.remove(wake)

        return forget

    def _bump(self) -> None:
        self._version += 1
        self._changed.set()
        self._changed = trio.Event()
        if self._wakers:
            wakers, self._wakers = self._wakers, []
            for wake in wakers:
                wake()

    async def wait_newer(self, version: int) -> tuple[int, T]:
        """Wait until the version is greater than ``version``; return ``(version, value)``."""
        while self._version <= version:
            await self._changed.wait()
        return self._version, self.value

    async def wait_for(self, predicate: object) -> T:
        """Wait until ``predicate(value)`` is true; return that value."""
        version = -1
        while True:
            if version < self._version:
                version = self._version
                value = self.value
                if predicate(value):  # type: ignore[operator]
                    return value
            await self._changed.wait()
