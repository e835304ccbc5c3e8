"""The exchange's request limits, enforced by the simulator (protocol reference §8,
``[DOCS:rate-limits-and-user-limits]``). Sans-IO: every check takes ``now_ms`` (ms since the
epoch) from the caller; nothing here reads a clock.

* :class:`AddressBudget` — the per-address action budget: ``initial`` (10,000 on the exchange)
  + 1 request per USDC of cumulative traded volume; a batch of n orders or cancels costs n; once
  spent, a request is let through when 10 s have passed since the last accepted one; cancels
  have their own cap ``min(cap + 100,000, 2 × cap)``; ``reserveRequestWeight`` buys requests
  beyond the cap. A refused request costs nothing and does not restart the 10 s window
  (``[PROBE]`` P8). Refusal:
  HTTP 200 ``{"status":"err","response":"Too many cumulative requests sent (<used> > <cap>) for
  cumulative volume traded $<vol>. Place taker orders to free up 1 request per USDC traded."}``
  (§4.3, ``[PROBE]`` raw body).
* :class:`IpWeights` — the per-IP REST weight, 1,200 per minute (sliding 60 s window):
  ``/exchange`` ``1 + floor(batch / 40)``; ``/info`` 2 for ``l2Book``, ``allMids``,
  ``clearinghouseState``, ``orderStatus``, ``spotClearinghouseState``, ``exchangeStatus``, 60
  for ``userRole``, 20 otherwise, plus 1 per 20 items returned by the listed heavy reads (per
  60 for ``candleSnapshot``). Refusal: HTTP 429 (body undocumented ⚠).
* WebSocket limits (checked by :class:`~hlmaker.sim.ws.WsSession`, the faulted exchange and
  the server) — per IP: subscriptions (1,000), distinct users in user feeds (10), client
  messages per minute (2,000), connections (10), new connections per minute (30); per
  connection, ``post`` requests in flight (100: the 101st is refused at once, not applied); a
  connection sent nothing for 60 s is closed (the exchange's writer). Refusals are
  ``error``-channel texts: the subscription, user, message-rate and pending-post texts are the
  exchange's as ``@nktkas/hyperliquid`` quotes them (issue #78); the connection texts are ours
  (⚠ undocumented).

Every limit is a :class:`Limits` field; ``None`` turns that limit off.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hlmaker.hyperliquid import weights
from hlmaker.sim.rules import fmt, usd

SLOW_LANE_MS = 10_000
"""Once the budget is spent, one request per 10 s gets through (§8)."""
CANCEL_EXTRA = 100_000
WINDOW_MS = 60_000
RESERVE_PRICE_USDC = Decimal("0.0005")
"""``reserveRequestWeight``: USDC per extra request (``[DOCS:exchange-endpoint]``)."""

@dataclass(frozen=True)
class Limits:
    """The limits the simulator enforces (``None`` = off). Defaults are the exchange's."""

    address_budget: int | None = 10_000
    """Initial per-address request budget (before 1 per USDC traded)."""
    ip_weight_per_min: int | None = 1200
    ws_max_subscriptions: int | None = 1000
    ws_max_users: int | None = 10
    ws_messages_per_min: int | None = 2000
    ws_max_connections: int | None = 10
    ws_idle_close_ms: int | None = 60_000
    """A connection the server has sent nothing to for this long is closed (§6.1)."""
    ws_max_inflight_posts: int | None = 100
    """``post`` requests received on one connection and not yet answered (§8: "≤ 100 in-flight
    post messages")."""
    ws_new_connections_per_min: int | None = 30
    """New WebSocket connections per IP in any 60 s (§8: "≤ 30 new connections / minute")."""

    @classmethod
    def off(cls) -> Limits:
        """No limit enforced."""
        return cls(**{f: None for f in cls.__dataclass_fields__})


def err_budget(used: int, cap: int, volume: Decimal) -> str:
    """The exchange's address-budget refusal (§4.3)."""
    return (
        f"Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded "
        f"${fmt(usd(volume))}. Place taker orders to free up 1 request per USDC traded."
    )


@dataclass
class _Usage:
    used: int = 0
    reserved: int = 0
    last_ms: int | None = None
    """When the latest accepted request was counted."""


class AddressBudget:
    """Per-address request counts against the budget."""

    def __init__(self, initial: int | None) -> None:
        self.initial = initial
        self._users: dict[str, _Usage] = {}

    def cap(self, volume: Decimal) -> int:
        """``nRequestsCap`` for a cumulative traded volume (USDC)."""
        return (self.initial or 0) + int(volume)

    def used(self, user: str) -> int:
        """Requests counted so far (``nRequestsUsed`` before reservations)."""
        usage = self._users.get(user)
        return usage.used if usage else 0

    def charge(self, user: str, n: int, is_cancel: bool, volume: Decimal,
               now_ms: int) -> str | None:
        """Count an action of ``n`` requests, or refuse it (the error text, nothing counted).
        ``volume``: the user's cumulative traded volume (USDC)."""
        usage = self._users.setdefault(user, _Usage())
        if self.initial is None:
            usage.used += n
            return None
        cap = self.cap(volume)
        limit = min(cap + CANCEL_EXTRA, 2 * cap) if is_cancel else cap
        effective = max(0, usage.used - usage.reserved)
        if effective + n <= limit or (
            usage.last_ms is not None and now_ms - usage.last_ms >= SLOW_LANE_MS
        ):
            usage.used += n
            usage.last_ms = now_ms
            return None
        return err_budget(effective + n, cap, volume)

    def exhaust(self, user: str, volume: Decimal, now_ms: int) -> int:
        """Spend ``user``'s whole budget now (as another process on the address would; the
        campaign's F19) — the slow lane opens 10 s later. Returns the count before, for
        :meth:`restore`."""
        usage = self._users.setdefault(user, _Usage())
        before = usage.used
        usage.used = max(usage.used, self.cap(volume) + usage.reserved)
        usage.last_ms = now_ms
        return before

    def restore(self, user: str, used: int) -> None:
        """Set ``user``'s count back to ``used`` (the end of an F19 window)."""
        self._users.setdefault(user, _Usage()).used = used

    def reserve(self, user: str, weight: int) -> None:
        """Add ``weight`` bought requests (``reserveRequestWeight``)."""
        self._users.setdefault(user, _Usage()).reserved += weight

    def wire(self, user: str, volume: Decimal) -> dict[str, Any]:
        """``userRateLimit`` (§2.11): used and surplus net of reservations."""
        usage = self._users.get(user) or _Usage()
        return {
            "cumVlm": fmt(usd(volume)),
            "nRequestsUsed": max(0, usage.used - usage.reserved),
            "nRequestsCap": self.cap(volume),
            "nRequestsSurplus": max(0, usage.reserved - usage.used),
        }


def info_weight(req: Any, reply: Any = None) -> int:
    """IP weight of an ``/info`` request (and, for the item-weighted reads, its reply)."""
    kind = req.get("type") if isinstance(req, dict) else None
    kind = kind if isinstance(kind, str) else None
    return weights.info_weight(kind) + weights.item_weight(kind, reply)


def exchange_weight(req: Any) -> int:
    """IP weight of an ``/exchange`` envelope: ``1 + floor(batch length / 40)``."""
    action = req.get("action") if isinstance(req, dict) else None
    return weights.action_weight(weights.batch_length(action))


class SlidingWindow:
    """Σ of weights over the last :data:`WINDOW_MS`, per key."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._events: dict[str, deque[tuple[int, int]]] = {}
        self._sums: dict[str, int] = {}

    def total(self, key: str, now_ms: int) -> int:
        """The weight spent by ``key`` in the window ending at ``now_ms``."""
        events = self._events.get(key)
        if not events:
            return 0
        while events and events[0][0] <= now_ms - WINDOW_MS:
            self._sums[key] -= events.popleft()[1]
        return self._sums[key]

    def take(self, key: str, weight: int, now_ms: int, *, force: bool = False) -> bool:
        """Spend ``weight`` if it fits under the limit (or regardless, ``force``); whether it
        did."""
        if self.limit is None:
            return True
        if not force and self.total(key, now_ms) + weight > self.limit:
            return False
        self._events.setdefault(key, deque()).append((now_ms, weight))
        self._sums[key] = self._sums.get(key, 0) + weight
        return True


ERR_WS_SUBSCRIPTIONS = "Cannot subscribe to more than {n} channels."
ERR_WS_USERS = "Cannot track more than {n} total users."
ERR_WS_MESSAGES = "Cannot send more than {n} messages per minute."
"""The exchange's text (``@nktkas/hyperliquid`` issue #78 quotes
``{"channel":"error","data":"Cannot send more than 2000 messages per minute."}``)."""
ERR_WS_CONNECTIONS = "Too many connections: more than {n}."  # ⚠ invented text
ERR_WS_NEW_CONNECTIONS = "Too many new connections: more than {n} per minute."  # ⚠ invented
ERR_WS_INFLIGHT_POSTS = "too many pending post requests id={id}"
"""The exchange's text, on the ``error`` channel with the refused post's id
(``@nktkas/hyperliquid`` issue #78 quotes
``{"channel":"error","data":"too many pending post requests id=1234"}``; its WebSocket
transport rejects the post by that trailing id)."""
