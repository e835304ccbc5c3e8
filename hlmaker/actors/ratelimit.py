"""A token bucket on trio time, modelled on Hyperliquid's per-IP REST weight (§8).

The exchange allows 1200 weight per minute per IP; an ``/exchange`` action weighs
``1 + floor(batch_length / 40)`` (:func:`action_weight`). The executor acquires the weight of each
action before sending it, so a burst of re-quotes slows down instead of earning HTTP 429s.
Cancels jump the queue: they wait only for tokens, never behind placements (the exchange itself
prioritises cancels, §8).
"""

from __future__ import annotations

import trio


def action_weight(batch_length: int) -> int:
    """IP weight of one ``/exchange`` action carrying ``batch_length`` orders or cancels (§8)."""
    return 1 + max(0, batch_length) // 40


class TokenBucket:
    """``capacity`` tokens refilled continuously at ``capacity / period_s`` per second.

    Raises:
        ValueError: for a non-positive capacity or period.
    """

    def __init__(self, capacity: int, period_s: float = 60.0) -> None:
        if capacity <= 0 or period_s <= 0:
            raise ValueError("capacity and period_s must be positive")
        self.capacity = float(capacity)
        self.rate = capacity / period_s
        self._tokens = float(capacity)
        self._stamp = trio.current_time()
        self._lock = trio.Lock()
        self._priority_waiting = 0.0
        self.waited_s = 0.0
        """Total time callers spent waiting for tokens (a metric)."""

    def _refill(self) -> None:
        now = trio.current_time()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    @property
    def available(self) -> float:
        """Tokens available now."""
        self._refill()
        return self._tokens

    async def acquire(self, weight: int, *, priority: bool = False) -> None:
        """Wait until ``weight`` tokens are available and take them.

        ``priority`` callers (cancels) do not queue behind others on the lock.
        """
        weight = min(float(weight), self.capacity)
        if priority:
            self._priority_waiting += weight
            try:
                await self._take(weight)
            finally:
                self._priority_waiting -= weight
            return
        async with self._lock:
            await self._take(weight, yield_to_priority=True)

    async def _take(self, weight: float, *, yield_to_priority: bool = False) -> None:
        while True:
            self._refill()
            # placements leave the tokens that waiting cancels need
            need = weight + (self._priority_waiting if yield_to_priority else 0.0)
            if self._tokens >= need:
                self._tokens -= weight
                return
            wait = (need - self._tokens) / self.rate
            self.waited_s += wait
            await trio.sleep(wait)
