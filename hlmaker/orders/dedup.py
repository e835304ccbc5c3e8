"""Bounded fill de-duplication: a FIFO window of ``(oid, tid)`` keys.

Hyperliquid replays recent fills in the ``userFills`` subscription snapshot after every
(re)connect, and the same fill can arrive on both ``userFills`` and ``user``
(protocol ref §6.4). The window must be larger than any replay: the exchange's fill history
answers at most 2000 fills per ``userFills`` call and 10,000 by time (§2.8, §2.9), so the default
capacity is 20,000.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

FillKey = tuple[int, int]
"""``(oid, tid)``."""


class FillDedup:
    """Remembers the last ``capacity`` fill keys; the oldest is forgotten first.

    Raises:
        ValueError: if ``capacity`` < 1.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._keys: OrderedDict[FillKey, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: FillKey) -> bool:
        return key in self._keys

    @property
    def capacity(self) -> int:
        """The most keys remembered at once."""
        return self._capacity

    def newest(self) -> Iterator[FillKey]:
        """The keys remembered, newest first (lazy: taking the first few costs O(1))."""
        return reversed(self._keys)

    def add(self, key: FillKey) -> bool:
        """Record ``key``; return False if it was already there (a duplicate)."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return True
