"""The time seam: wall-clock milliseconds derived from trio's clock.

hlmaker never reads the system clock inside its cores, actors, venue clients or simulator
(``../shared/reliability.md``, determinism contract). A :class:`WallClock` maps trio's monotonic
clock onto epoch milliseconds from one anchor read at the program's edge (the CLI), so under
``trio.testing.MockClock`` every timestamp — nonces, ``expiresAfter``, fill times — is
reproducible.
"""

from __future__ import annotations

from typing import Protocol

import trio


class Clock(Protocol):
    """Anything that tells the current wall time in ms since the epoch."""

    def now_ms(self) -> int: ...


class WallClock:
    """Epoch milliseconds = ``epoch_ms`` + elapsed trio time since construction.

    Must be constructed and used inside ``trio.run``. ``epoch_ms`` is the wall time at
    construction (the CLI passes ``time.time() * 1000``; tests and simulations pass a constant).
    """

    def __init__(self, epoch_ms: int) -> None:
        self._epoch_ms = int(epoch_ms)
        self._t0 = trio.current_time()

    def now_ms(self) -> int:
        """Current wall time in ms since the epoch."""
        return self._epoch_ms + round((trio.current_time() - self._t0) * 1000)


class FixedClock:
    """A clock that only moves when told (for the pure cores' unit tests)."""

    def __init__(self, now_ms: int = 1_700_000_000_000) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        """The time set by the test."""
        return self.now

    def advance(self, ms: int) -> None:
        """Move the clock forward by ``ms``."""
        self.now += ms
