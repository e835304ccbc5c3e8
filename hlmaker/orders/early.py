"""Early events: order updates and fills for an ``oid`` the book does not know yet.

When the exchange's WebSocket push for an order outruns the acknowledgement that names its
``oid`` (the finalize/fill race) and the push carries no ``cloid`` to attach it by, the book holds
the order-state part of the event here until the ack names that oid (the position has already
moved). Early events expire after ``ttl_ms`` and the store is capped; both are counted by the
caller.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class EarlyEvents(Generic[T]):
    """Events keyed by oid, each with the time it was received (ms).

    Raises:
        ValueError: if ``capacity`` < 1 or ``ttl_ms`` < 0.
    """

    def __init__(self, *, capacity: int = 10_000, ttl_ms: int = 60_000) -> None:
        if capacity < 1 or ttl_ms < 0:
            raise ValueError("capacity must be >= 1 and ttl_ms >= 0")
        self._capacity = capacity
        self._ttl_ms = ttl_ms
        self._by_oid: OrderedDict[int, list[tuple[int, T]]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, oid: int) -> bool:
        return oid in self._by_oid

    def hold(self, oid: int, event: T, now_ms: int) -> list[T]:
        """Hold ``event`` for ``oid``; return the events dropped to stay within capacity."""
        self._by_oid.setdefault(oid, []).append((now_ms, event))
        self._count += 1
        dropped: list[T] = []
        while self._count > self._capacity:
            _, items = self._by_oid.popitem(last=False)
            self._count -= len(items)
            dropped.extend(e for _, e in items)
        return dropped

    def take(self, oid: int) -> list[T]:
        """Remove and return the events held for ``oid``, oldest first."""
        items = self._by_oid.pop(oid, [])
        self._count -= len(items)
        return [e for _, e in items]

    def expire(self, now_ms: int) -> list[tuple[int, T]]:
        """Remove and return ``(oid, event)`` pairs held longer than the TTL."""
        out: list[tuple[int, T]] = []
        for oid in list(self._by_oid):
            items = self._by_oid[oid]
            keep = [(t, e) for t, e in items if now_ms - t <= self._ttl_ms]
            out.extend((oid, e) for t, e in items if now_ms - t > self._ttl_ms)
            self._count -= len(items) - len(keep)
            if keep:
                self._by_oid[oid] = keep
            else:
                del self._by_oid[oid]
        return out
