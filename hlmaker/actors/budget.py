"""The bot's picture of its per-address request budget on the exchange, and the pacing it implies.

The exchange (protocol reference §8) lets an address send ``10,000 + 1 per USDC traded``
actions (a batch of n orders or cancels counts n); past that, one request per 10 s, and cancels
up to ``min(cap + 100,000, 2 × cap)``. A market maker that re-quotes often runs out of this
before anything else. :class:`AddressBudget` is shared by:

* the reconciler, which learns the exchange's numbers (``userRateLimit``: ``nRequestsUsed``,
  ``nRequestsCap``, ``nRequestsSurplus``) at start and after each sweep (:meth:`learn`);
* the executor, which counts every action it sends in between (:meth:`spend`), holds back
  placements and modifies once the budget is spent — only cancels go out, they have their own
  cap (:meth:`allows`) — and notes the exchange's refusal (:meth:`refused`);
* the quoter, which scales the strategy's re-quote threshold by :meth:`requote_scale` (1 with
  half the budget left, growing as headroom shrinks, :data:`MAX_SCALE` near the end) so that
  steady-state quoting slows down before the budget runs out;
* the status line, the live view and the metrics (:meth:`view`).

Sans-IO and synchronous: no clock, no I/O. Until the first :meth:`learn` the budget is
*unknown* and allows everything.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

CANCEL_EXTRA = 100_000
MAX_SCALE = Decimal(20)
"""The re-quote threshold is at most 20 × the strategy's own once the budget is nearly spent."""
EXHAUSTED_TEXT = "Too many cumulative requests sent"
"""How the exchange's refusal starts (§4.3)."""
HELD_TEXT = "address request budget spent: only cancels go out (not sent)"
"""The rejection the executor reports for a placement or modify it held back."""


@attrs.frozen
class BudgetView:
    """What the UI and the metrics show: ``used`` of ``cap`` requests (``headroom`` = cap −
    used, negative past the cap), whether the numbers were ever learned, whether only cancels
    go out, and the current re-quote scale."""

    known: bool = False
    used: int = 0
    cap: int = 0
    headroom: int = 0
    exhausted: bool = False
    requote_scale: Decimal = Decimal(1)
    bought: int = 0
    """Requests bought with ``reserveRequestWeight`` since start."""


class AddressBudget:
    """The address budget: learned from the exchange, counted in between."""

    def __init__(self) -> None:
        self.known = False
        self._used = 0
        self._cap = 0
        self._surplus = 0
        self._counted = 0
        self._refused = False
        self.held = 0
        """Placements and modifies held back while the budget was spent."""
        self.refusals = 0
        """Actions the exchange refused for the budget."""
        self.bought = 0
        """Requests bought with ``reserveRequestWeight`` (confirmed by the exchange)."""

    def learn(self, reply: Any) -> bool:
        """Take a ``userRateLimit`` reply (§2.11); returns whether it was readable. Resets the
        count of actions sent since the last reply."""
        if not isinstance(reply, dict):
            return False
        used, cap = reply.get("nRequestsUsed"), reply.get("nRequestsCap")
        surplus = reply.get("nRequestsSurplus", 0)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (used, cap, surplus)):
            return False
        self.known = True
        self._used, self._cap, self._surplus = used, cap, surplus
        self._counted = 0
        self._refused = used - surplus >= cap
        return True

    @property
    def used(self) -> int:
        """Requests used: the exchange's last count plus the actions sent since (net of any
        bought surplus)."""
        return self._used + self._counted - self._surplus

    @property
    def cap(self) -> int:
        """``nRequestsCap`` as last learned (0 while unknown)."""
        return self._cap

    @property
    def headroom(self) -> int:
        """Requests left before the cap (negative past it)."""
        return self._cap - self.used

    @property
    def exhausted(self) -> bool:
        """Only cancels go out: the count reached the cap or the exchange refused for it."""
        return self.known and (self._refused or self.headroom <= 0)

    def allows(self, n: int, *, is_cancel: bool) -> bool:
        """Whether an action of ``n`` requests may be sent now: everything while unknown;
        cancels up to their own cap; the rest while headroom remains."""
        if not self.known:
            return True
        if is_cancel:
            cancel_cap = min(self._cap + CANCEL_EXTRA, 2 * self._cap)
            return self.used + n <= cancel_cap
        return not self.exhausted and self.used + n <= self._cap

    def spend(self, n: int) -> None:
        """Count an action of ``n`` requests sent."""
        self._counted += n

    def reserved(self, n: int) -> None:
        """The exchange confirmed ``n`` requests bought (``reserveRequestWeight``): they count
        as headroom at once (the next :meth:`learn` has them in ``nRequestsUsed``/``Surplus``)."""
        self._counted -= n
        self._refused = False
        self.bought += n

    def refused(self, n: int) -> None:
        """The exchange refused an action of ``n`` requests for the budget (it cost nothing)."""
        self._counted -= n
        self._refused = True
        self.refusals += 1

    def requote_scale(self) -> Decimal:
        """Factor for the strategy's re-quote threshold: 1 with at least half the budget left,
        then ``1 / (2 × headroom fraction)`` up to :data:`MAX_SCALE` (e.g. 2 at a quarter left,
        10 at 5 %)."""
        if not self.known or self._cap <= 0:
            return Decimal(1)
        frac = Decimal(max(self.headroom, 0)) / Decimal(self._cap)
        if frac >= Decimal("0.5"):
            return Decimal(1)
        if frac <= 0:
            return MAX_SCALE
        return min(MAX_SCALE, (1 / (2 * frac)).quantize(Decimal("0.01")))

    def view(self) -> BudgetView:
        """A snapshot for the UI and the metrics."""
        return BudgetView(known=self.known, used=self.used, cap=self._cap,
                          headroom=self.headroom, exhausted=self.exhausted,
                          requote_scale=self.requote_scale(), bought=self.bought)
