"""The run's final figures (``maker.summary()``, ``hlmaker run --summary-json``).

:func:`summarize` turns what the running maker holds — the book's last view, the reconciler's
last sweep, the counters summed over every book incarnation — into the JSON-ready dict the
README's "The summary" section describes. Positions are exact decimal strings
(:func:`decimal_str`), money figures are strings in quote currency, sizes in coin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hlmaker.actors.reconciler import ReconcileStatus
from hlmaker.messages import BookView, OpenOrder
from hlmaker.pnl import unrealized_pnl

UPNL_QUANTUM = Decimal("0.000001")
"""Unrealized PnL is rounded to this (quote currency)."""


def decimal_str(value: Decimal) -> str:
    """The canonical string of an exact decimal: no exponent, no trailing zeros
    (``Decimal("0.00350")`` → ``"0.0035"``, ``Decimal("1E+1")`` → ``"10"``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def summarize(*, view: BookView, status: ReconcileStatus, totals: Mapping[str, Any],
              mids: Mapping[str, Decimal], restarts: int, feed_connects: int,
              actions_sent: int, shutdown: Mapping[str, Any],
              is_ours: Callable[[OpenOrder], bool] = lambda _row: True) -> dict[str, Any]:
    """The final figures (see the README for each key).

    Args:
        view: the book's newest view (local orders and positions, unresolved requests).
        status: the reconciler's last sweep (the exchange's open orders, positions, entry
            prices); ``status.sweeps == 0`` means no sweep yet: ``unrealized_pnl`` is ``None``.
        totals: :class:`~hlmaker.messages.Counters` fields summed over every book incarnation
            (``volume``, ``closed_pnl`` and ``fees`` are ``Decimal``, the rest ``int``).
        mids: mid price per coin (quote currency), to mark the positions.
        restarts: actor restarts; feed_connects: WebSocket (re)connections; actions_sent:
            signed actions the executor sent.
        shutdown: the shutdown's report (:mod:`hlmaker.shutdown`), copied as is.
        is_ours: which of the exchange's open orders are ours (the cloid prefix); the others
            are counted apart as ``foreign_open_orders``.

    Returns:
        A JSON-ready dict; positions map coin → decimal string (flat coins left out).
    """
    local_pos = {c: decimal_str(p) for c, p in sorted(view.positions.items()) if p != 0}
    exch_pos = {c: decimal_str(p) for c, p in sorted(status.positions.items()) if p != 0}
    local_open = len(view.orders)
    exch_open = sum(1 for o in status.exchange_open if is_ours(o))
    foreign_open = len(status.exchange_open) - exch_open
    upnl = unrealized_pnl(status.positions, status.entry_px, mids) if status.sweeps else None
    return {
        "fills": totals["fills_applied"],
        "volume": str(totals["volume"]),
        "realized_pnl": str(totals["closed_pnl"] - totals["fees"]),
        "unrealized_pnl": None if upnl is None else str(upnl.quantize(UPNL_QUANTUM)),
        "position_local": local_pos,
        "position_exchange": exch_pos,
        "open_orders_local": local_open,
        "open_orders_exchange": exch_open,
        "foreign_open_orders": foreign_open,
        "foreign_unreadable": status.foreign_unreadable,
        "duplicate_fills_dropped": totals["duplicate_fills_dropped"],
        "orphans_detected": totals["orphans_detected"],
        "orphans_cancelled": totals["orphans_cancelled"],
        "stale_removed": totals["stale_removed"],
        "position_drifts": totals["position_drifts"],
        "gaps_detected": totals["gaps_detected"],
        "illegal_transitions": totals["illegal_transitions"],
        "rejects": totals["rejects"],
        "unknown_outcomes": totals["unknown_outcomes"],
        "fills_foreign": totals["fills_foreign"],
        "fills_reread": totals["fills_reread"],
        "fills_echoed": totals["fills_echoed"],
        "fills_preexisting": totals["fills_preexisting"],
        "fills_untracked": totals["fills_untracked"],
        "early_events_expired": totals["early_events_expired"],
        "late_events": totals["late_events"],
        "bad_inputs": totals["bad_inputs"],
        "acks_unknown_cloid": totals["acks_unknown_cloid"],
        "leftovers_cancelled": totals["leftovers_cancelled"],
        "leftovers_adopted": totals["leftovers_adopted"],
        "restarts": restarts,
        "unresolved_requests": view.unresolved,
        "is_synced": bool(view.is_synced and local_pos == exch_pos
                          and local_open == exch_open),
        "reconcile_sweeps": status.sweeps,
        "feed_connects": feed_connects,
        "actions_sent": actions_sent,
        "shutdown": shutdown,
    }
