"""Strategy intents: what a quoter asks the book to do.

A strategy never talks to the executor. It sends intents to the book's inbox; the book turns them
into executor commands, registering every new order as *pending* under a fresh ``cloid`` first, so
that any fill for it can only be processed after the book knows the order.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from hlmaker.messages.common import Level, Side, Tif


@attrs.frozen(kw_only=True)
class PlaceOrder:
    """Place one limit order. ``px`` in quote currency, ``sz`` in coin (both already rounded to
    the exchange's tick and lot rules — see :mod:`hlmaker.hyperliquid.actions`).

    ``tag`` is free text the strategy can use to recognise its own orders in book views.
    """

    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    tif: Tif = "Alo"
    reduce_only: bool = False
    tag: str = ""


@attrs.frozen(kw_only=True)
class CancelOrder:
    """Cancel the order the book tracks under ``cloid`` (pending, live or unknown)."""

    cloid: str


@attrs.frozen(kw_only=True)
class ModifyOrder:
    """Move the live order ``cloid`` to a new ``px``/``sz`` (cancel-replace on the exchange:
    the order keeps its cloid and gets a new ``oid``)."""

    cloid: str
    px: Decimal
    sz: Decimal


@attrs.frozen(kw_only=True)
class CancelAll:
    """Cancel every order the book tracks, or only those of ``coin`` when it is given."""

    coin: str | None = None


@attrs.frozen(kw_only=True)
class TargetLadder:
    """The full set of quotes a strategy wants resting for ``coin``.

    The book diffs it against the orders it tracks and emits the fewest commands: modifies where a
    live order can be moved, places for new levels, cancels for levels no longer wanted. ``bids``
    are best first (descending ``px``), ``asks`` best first (ascending ``px``). All orders are
    ``tif`` (post-only by default).
    """

    coin: str
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    tif: Tif = "Alo"


@attrs.frozen(kw_only=True)
class ArmScheduleCancel:
    """Arm the exchange's ``scheduleCancel`` for ``at_ms`` (≥ now + 5 s), or clear it with
    ``None``. The supervisor renews it as a lease while the bot runs (§4.2)."""

    at_ms: int | None


Intent = PlaceOrder | CancelOrder | ModifyOrder | CancelAll | TargetLadder | ArmScheduleCancel
