"""The per-IP REST weight every REST caller of hlmaker draws from (protocol reference §8).

The exchange allows an IP 1,200 weight per minute of REST requests and answers HTTP 429 past it
(§8, ``[DOCS:rate-limits-and-user-limits]``):

* ``/exchange``: ``1 + floor(batch_length / 40)`` (:func:`action_weight`);
* ``/info``: 2 for ``l2Book``, ``allMids``, ``clearinghouseState``, ``orderStatus``,
  ``spotClearinghouseState``, ``exchangeStatus``; 60 for ``userRole``; 20 for the others; plus 1
  per 20 items returned by the heavy reads (``userFills``, ``userFillsByTime``,
  ``historicalOrders``…; 1 per 60 for ``candleSnapshot``) (:func:`info_weight`,
  :func:`item_weight`).

:class:`IpWeightBudget` is one shared ledger of the weight sent in the last 60 s. It is a sliding
window, not a refilling token bucket: "1,200 per minute" is not said to be measured as a bucket
(⚠ §8), and a bucket that bursts its capacity and then refills sends up to twice the limit
within one minute — which a sliding-window server refuses (the simulator's is one; a previous,
reverted attempt paced the reconciler with such a bucket and drew 429s under the campaign's
fault storms). A client whose every 60 s window stays under the limit also stays within any
bucket of that capacity and rate.

Each request is charged *before* it is sent (so requests in flight count) and re-stamped with
the time its answer came (or it failed): the exchange counted it on arrival, which is no later,
so the ledger's window never forgets a request before the exchange does. The heavy reads are
charged their largest per-item extra up front (:data:`ITEM_EXTRA_MAX`) and trued up on answer.

Priorities (:class:`Priority`): each class may fill the window up to its own ceiling — cancels
the whole limit, placements/modifies :data:`ACTION_SHARE` of it, reads (the reconciler's sweeps,
start-up) :data:`READ_SHARE` — so a sweep waits (and the reconciler merges the sweeps asked for
meanwhile) while actions still go out, and cancels go out before anything. Callers of one class
are served in arrival order. A 429 backs off: reads and actions wait 1 s (doubling to 16 s while
429s continue, reset by the next answered request, or the server's ``Retry-After``); cancels do
not wait for the backoff (the executor retries them with its own backoff).

Time: stamps and waits use trio's clock (ms), the seam every clock of hlmaker derives from
(:class:`~hlmaker.clock.WallClock`; ``MockClock`` in the campaign, so the pacing replays
exactly). Not the wall clock itself: it may jump (a campaign fault), a 60 s window must not.
"""

from __future__ import annotations

import contextlib
import enum
from typing import Any

import attrs
import trio

from hlmaker.hyperliquid.weights import (
    ITEM_WEIGHTED,
    action_weight,
    batch_length,
    info_weight,
    item_weight,
)

__all__ = ["action_weight", "info_weight", "item_weight"]  # re-exported: the weights' home

WINDOW_MS = 60_000
ACTION_SHARE = 0.90
"""Placements and modifies may fill the window up to 90 % of the limit."""
READ_SHARE = 0.75
"""Reads may fill the window up to 75 % of the limit (the rest is kept for actions)."""
BACKOFF_S = (1.0, 16.0)
"""First and largest wait after an HTTP 429 (doubling while 429s continue)."""

ITEM_EXTRA_MAX = 100
"""Largest per-item extra of a heavy read charged up front: 2,000 rows / 20 (§8: ``userFills``
and ``historicalOrders`` return at most 2,000)."""


class Priority(enum.IntEnum):
    """Who goes first when the window is nearly full (lower first)."""

    CANCEL = 0
    """Cancels and ``scheduleCancel``: up to the whole limit."""
    ACTION = 1
    """Placements and modifies: up to :data:`ACTION_SHARE`."""
    READ = 2
    """``/info`` reads: up to :data:`READ_SHARE`."""


def request_weight(path: str, body: Any) -> tuple[int, str]:
    """``(weight charged up front, info type or "")`` of a REST request to ``path``
    (``/info`` or ``/exchange``) with JSON ``body`` (a heavy read includes
    :data:`ITEM_EXTRA_MAX`)."""
    if path.endswith("/exchange"):
        action = body.get("action") if isinstance(body, dict) else None
        return action_weight(batch_length(action)), ""
    kind = body.get("type") if isinstance(body, dict) else None
    kind = kind if isinstance(kind, str) else ""
    extra = ITEM_EXTRA_MAX if kind in ITEM_WEIGHTED or kind == "candleSnapshot" else 0
    return info_weight(kind) + extra, kind


@attrs.define(eq=False)
class Ticket:
    """One request's charge in the ledger: ``weight`` at ``at_ms``; ``open`` until answered."""

    weight: int
    at_ms: int
    open: bool = True


@attrs.frozen
class IpWeightView:
    """What the UI and the metrics show: ``used`` weight in the last 60 s (requests in flight
    included) of ``limit`` (``headroom`` = limit − used), the most ever ``peak`` in one window,
    seconds callers ``waited_s`` for room, HTTP ``rate_limited`` (429) answers seen, and reads
    ``thinned`` (skipped for lack of room)."""

    limit: int
    used: int
    headroom: int
    peak: int
    waited_s: float
    rate_limited: int
    thinned: int


class IpWeightBudget:
    """The shared ledger of the per-IP REST weight.

    Args:
        limit: weight per 60 s (the exchange's 1,200; config ``executor.ip_weight_per_minute``).

    Raises:
        ValueError: a limit below 10.
    """

    def __init__(self, limit: int) -> None:
        if limit < 10:
            raise ValueError("the IP weight limit must be at least 10 per minute")
        self.limit = limit
        self._last_ms = 0
        self._tickets: list[Ticket] = []
        self._locks = {p: trio.Lock() for p in Priority}
        self._ceilings = {p: int(limit * share) for p, share in (
            (Priority.CANCEL, 1.0), (Priority.ACTION, ACTION_SHARE), (Priority.READ, READ_SHARE))}
        self._blocked_until_ms = 0
        self._backoff_s = 0.0
        self.peak = 0
        self.waited_s = 0.0
        self.rate_limited_count = 0
        self.thinned = 0

    # ---- the ledger ------------------------------------------------------------------------

    def _now_ms(self) -> int:
        """trio time in ms (the last one seen when called outside ``trio.run``)."""
        with contextlib.suppress(RuntimeError):
            self._last_ms = round(trio.current_time() * 1000)
        return self._last_ms

    def ceiling(self, priority: Priority) -> int:
        """The most of the window ``priority`` may fill."""
        return self._ceilings[priority]

    def used(self) -> int:
        """Weight charged in the last 60 s (every open ticket included)."""
        cutoff = self._now_ms() - WINDOW_MS
        self._tickets = [t for t in self._tickets if t.open or t.at_ms > cutoff]
        return sum(t.weight for t in self._tickets)

    def fits(self, weight: int, priority: Priority) -> bool:
        """Whether ``weight`` more would stay under ``priority``'s ceiling now (and no 429
        backoff holds that class)."""
        if priority is not Priority.CANCEL and self._now_ms() < self._blocked_until_ms:
            return False
        return self.used() + min(weight, self.ceiling(priority)) <= self.ceiling(priority)

    def _wake_ms(self, weight: int, priority: Priority) -> int:
        """When enough settled weight leaves the window for ``weight`` to fit."""
        now = self._now_ms()
        if priority is not Priority.CANCEL and now < self._blocked_until_ms:
            return self._blocked_until_ms
        excess = self.used() + min(weight, self.ceiling(priority)) - self.ceiling(priority)
        for t in sorted((t for t in self._tickets if not t.open), key=lambda t: t.at_ms):
            excess -= t.weight
            if excess <= 0:
                return t.at_ms + WINDOW_MS + 1
        return now + 100  # only answers still in flight can free room: look again soon

    async def wait_room(self, weight: int, priority: Priority) -> None:
        """Wait until :meth:`fits` (charges nothing)."""
        while not self.fits(weight, priority):
            await self._sleep_until(self._wake_ms(weight, priority))

    def try_acquire(self, weight: int, priority: Priority) -> Ticket | None:
        """Charge ``weight`` now and return the ticket when nobody of ``priority`` is waiting
        and it :meth:`fits`; else ``None`` (nothing charged: call :meth:`acquire`). The same
        charge as :meth:`acquire` without a schedule point (the tick-to-trade path)."""
        if self._locks[priority].locked() or not self.fits(weight, priority):
            return None
        return self._charge(weight)

    async def acquire(self, weight: int, priority: Priority) -> Ticket:
        """Wait for room, in arrival order within ``priority``, and charge ``weight``; settle
        or refund the returned ticket when the request is answered."""
        lock = self._locks[priority]
        try:  # a free lock is taken without a schedule point (the tick-to-trade path)
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            await self.wait_room(weight, priority)
            return self._charge(weight)
        finally:
            lock.release()

    def _charge(self, weight: int) -> Ticket:
        ticket = Ticket(weight=weight, at_ms=self._now_ms())
        self._tickets.append(ticket)
        self.peak = max(self.peak, self.used())
        return ticket

    def settle(self, ticket: Ticket, *, weight: int | None = None) -> None:
        """The request was answered or failed now: stamp it now (the exchange counted it no
        later), with its true ``weight`` when known (a heavy read's rows)."""
        if weight is not None:
            ticket.weight = weight
        ticket.at_ms = self._now_ms()
        ticket.open = False
        self.peak = max(self.peak, self.used())

    def refund(self, ticket: Ticket) -> None:
        """The request did not use REST (it went as a WebSocket post): uncharge it (and drop
        it from the ledger: with weight 0 it counts for nothing, and every WS post kept for 60 s
        made each :meth:`used` walk hundreds of them)."""
        ticket.weight = 0
        ticket.open = False
        with contextlib.suppress(ValueError):  # already dropped (refunded twice)
            self._tickets.remove(ticket)

    async def _sleep_until(self, wake_ms: int) -> None:
        delay = max(0.001, (wake_ms - self._now_ms()) / 1000)
        self.waited_s += delay
        await trio.sleep(delay)

    def thin(self) -> None:
        """A read was skipped for lack of room (counted in the view's ``thinned``)."""
        self.thinned += 1

    # ---- 429 ---------------------------------------------------------------------------------

    def on_rate_limited(self, retry_after_s: float | None = None) -> None:
        """An HTTP 429: hold reads and actions for the backoff (or ``retry_after_s``)."""
        self.rate_limited_count += 1
        self._backoff_s = min(BACKOFF_S[1], max(BACKOFF_S[0], self._backoff_s * 2))
        wait = retry_after_s if retry_after_s is not None else self._backoff_s
        self._blocked_until_ms = max(self._blocked_until_ms,
                                     self._now_ms() + round(wait * 1000))

    def on_answered(self) -> None:
        """A request was answered (not 429): the backoff starts over."""
        self._backoff_s = 0.0

    def gate(self, priority: Priority) -> WeightGate:
        """A :class:`~hlmaker.hyperliquid.rest.RequestGate` charging this ledger at
        ``priority`` (``RestClient.gated(budget.gate(Priority.READ))``)."""
        return WeightGate(self, priority)

    def view(self) -> IpWeightView:
        """A snapshot for the UI and the metrics."""
        used = self.used()
        return IpWeightView(limit=self.limit, used=used, headroom=self.limit - used,
                            peak=self.peak, waited_s=round(self.waited_s, 3),
                            rate_limited=self.rate_limited_count, thinned=self.thinned)


class WeightGate:
    """Charges every request of a :class:`~hlmaker.hyperliquid.rest.RestClient` to an
    :class:`IpWeightBudget` at one priority (the ``RequestGate`` protocol)."""

    def __init__(self, budget: IpWeightBudget, priority: Priority) -> None:
        self.budget = budget
        self.priority = priority

    async def enter(self, path: str, body: Any) -> object:
        """Wait for room and charge the request's weight; returns the ticket."""
        weight, kind = request_weight(path, body)
        ticket = await self.budget.acquire(weight, self.priority)
        return (ticket, kind)

    def leave(self, token: object, status: int | None, reply: Any) -> None:
        """Stamp the request answered (``status`` ``None``: no answer), true up a heavy read's
        weight, and note a 429 (``reply`` then is the ``Retry-After`` seconds or ``None``)."""
        ticket, kind = token  # type: ignore[misc]
        if status == 429:
            self.budget.settle(ticket)
            self.budget.on_rate_limited(reply if isinstance(reply, float) else None)
            return
        true = None
        if kind and status is not None and status < 300:
            true = info_weight(kind) + item_weight(kind, reply)
        self.budget.settle(ticket, weight=true)
        if status is not None:
            self.budget.on_answered()
