"""The exchange's REST weights per request (protocol reference §8,
``[DOCS:rate-limits-and-user-limits]``): what one request spends of an IP's 1,200 per minute.

One source for both sides of the wire: the maker's ledger (:mod:`hlmaker.actors.ratelimit`)
charges what the simulator (:mod:`hlmaker.sim.limits`) counts.

* ``/exchange``: ``1 + floor(batch_length / 40)`` (:func:`action_weight`, :func:`batch_length`);
* ``/info``: 2 for :data:`INFO_WEIGHT_2`, 60 for ``userRole``, 20 for the others
  (:func:`info_weight`); plus 1 per 20 rows of the :data:`ITEM_WEIGHTED` reads and 1 per 60
  candles of ``candleSnapshot`` (:func:`item_weight`).
"""

from __future__ import annotations

from typing import Any

INFO_WEIGHT_2 = frozenset({"l2Book", "allMids", "clearinghouseState", "orderStatus",
                           "spotClearinghouseState", "exchangeStatus"})
"""``/info`` types of weight 2."""
ITEM_WEIGHTED = frozenset({"recentTrades", "historicalOrders", "userFills", "userFillsByTime",
                           "fundingHistory", "userFunding", "nonUserFundingUpdates",
                           "twapHistory", "userTwapSliceFills", "userTwapSliceFillsByTime",
                           "delegatorHistory", "delegatorRewards", "validatorStats"})
"""``/info`` types that add 1 per 20 rows returned."""


def action_weight(batch_length: int) -> int:
    """Weight of one ``/exchange`` action carrying ``batch_length`` orders, cancels or
    modifies."""
    return 1 + max(0, batch_length) // 40


def batch_length(action: Any) -> int:
    """Orders, cancels or modifies in an ``/exchange`` action (1 for any other action or a
    malformed one)."""
    if not isinstance(action, dict):
        return 1
    for key in ("orders", "cancels", "modifies"):
        items = action.get(key)
        if isinstance(items, list):
            return max(1, len(items))
    return 1


def info_weight(kind: str | None) -> int:
    """Base weight of an ``/info`` request of type ``kind``: 2, 60 or 20."""
    if kind in INFO_WEIGHT_2:
        return 2
    return 60 if kind == "userRole" else 20


def item_weight(kind: str | None, reply: Any) -> int:
    """The per-item extra of an ``/info`` reply: 1 per 20 rows of the heavy reads, 1 per 60
    candles; 0 for the others or a reply that is not a list."""
    if not isinstance(reply, list):
        return 0
    if kind in ITEM_WEIGHTED:
        return len(reply) // 20
    return len(reply) // 60 if kind == "candleSnapshot" else 0
