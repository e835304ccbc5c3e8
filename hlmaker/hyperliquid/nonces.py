"""Per-signer nonces: strictly increasing, unique, never reused across restarts.

Exchange rule (protocol ref §5.3, ``[DOCS:nonces-and-api-wallets]``): the exchange keeps the 100
highest nonces of each **signer** (the key that signed: the account's key or its agent); a new
nonce must exceed the smallest of them and never repeat, and must lie within
``(T − 2 days, T + 1 day)`` of block time T. The recommended scheme — an atomic per-signer counter
fast-forwarded to "now" in ms — is what :class:`NonceManager` does::

    nonce = max(last + 1, now_ms)

so a burst of actions within one millisecond gets consecutive nonces (the SDK's plain
``time.time()*1000`` collides and is answered ``Invalid nonce: duplicate nonce <n>``), and a wall
clock that jumps backwards never makes a nonce go back (reliability S7, F14).

Restarts: seed ``floor`` with a value above anything a previous process could have used (for
example the last persisted nonce + 1, or the start time when the previous process is known to
have stopped more than its burst lead earlier) — every nonce issued is ``>= floor``.

Concurrency: :meth:`NonceManager.next` is synchronous and never awaits, so under trio (one
thread) it is atomic; any number of concurrent tasks get distinct values.
"""

from __future__ import annotations

from hlmaker.clock import Clock
from hlmaker.observer import NO_OBSERVER, Observer


class NonceManager:
    """Issues nonces per signer address. Time comes from the injected ``clock`` (ms)."""

    __slots__ = ("_clock", "_floor", "_last", "_observer")

    def __init__(self, clock: Clock, *, floor: int = 0,
                 observer: Observer = NO_OBSERVER) -> None:
        """``floor``: the smallest nonce that may ever be issued, for every signer;
        ``observer`` hears of every nonce issued (:meth:`Observer.nonce_issued`)."""
        self._clock = clock
        self._observer = observer
        self._floor = int(floor)
        self._last: dict[str, int] = {}

    def next(self, signer: str) -> int:
        """The next nonce of ``signer`` (an address; compared case-insensitively), in ms.

        Returns ``max(last + 1, clock.now_ms(), floor)``; strictly greater than every nonce
        previously returned for this signer.
        """
        key = signer.lower()
        last = self._last.get(key, self._floor - 1)
        nonce = max(last + 1, self._clock.now_ms())
        self._last[key] = nonce
        self._observer.nonce_issued(signer, nonce)
        return nonce

    def last(self, signer: str) -> int | None:
        """The last nonce issued for ``signer`` (persist it to seed the next process), or None."""
        return self._last.get(signer.lower())

    def observe(self, signer: str, nonce: int) -> None:
        """Raise ``signer``'s floor so the next nonce is ``> nonce`` (e.g. a nonce seen used by
        another process, or one persisted before a restart). Never lowers it."""
        key = signer.lower()
        if nonce > self._last.get(key, self._floor - 1):
            self._last[key] = nonce

    def lead_ms(self, signer: str) -> int:
        """How far ``signer``'s last nonce runs ahead of the clock (ms, ≥ 0). The exchange
        rejects nonces more than a day ahead of block time; a large lead means a nonce burst
        far beyond 1000 actions per second."""
        last = self._last.get(signer.lower())
        return 0 if last is None else max(0, last - self._clock.now_ms())
