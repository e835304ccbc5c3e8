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

_CHANNEL_BITS = {"userFills": 1, "user": 2, "post": 4}


class FillDedup:
    """Remembers the last ``capacity`` fill keys; the oldest is forgotten first.

    Raises:
        ValueError: if ``capacity`` < 1.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._keys: OrderedDict[FillKey, int] = OrderedDict()
        """key → bit set of the live channels that delivered it (see :meth:`delivered`)."""

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

    def delivered(self, key: FillKey, channel: str) -> bool:
        """Note that the live ``channel`` (``userFills``, ``user``, ``post``) delivered the known
        ``key``; True when that channel had delivered it before. Hyperliquid sends every fill on
        both ``userFills`` and ``user`` (protocol ref §6.4): the second channel's copy is an
        echo, the same channel's second copy a duplicate (F1)."""
        bit = _CHANNEL_BITS.get(channel, 8)
        seen = self._keys.get(key, 0)
        self._keys[key] = seen | bit
        return bool(seen & bit)

    def add(self, key: FillKey, channel: str = "") -> bool:
        """Record ``key`` (delivered by ``channel``, if live); return False if it was already
        there (a duplicate)."""
        if key in self._keys:
            return False
        self._keys[key] = _CHANNEL_BITS.get(channel, 8)
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return True
