"""The strategy interface: market data and book views in, intents out.

A strategy is plain synchronous Python — no trio, no I/O, no clock reads — driven by the quoter
actor (:mod:`hlmaker.actors.quoter`). It never mutates orders itself: it returns
:data:`~hlmaker.messages.Intent` values (usually one :class:`~hlmaker.messages.TargetLadder` per
coin) and the book turns them into the fewest exchange commands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from hlmaker.messages import BookView, Intent, MarketData


@attrs.frozen(kw_only=True)
class MarketInfo:
    """Static facts about a coin the strategy trades: ``sz_decimals`` (lot size is
    ``10**-sz_decimals`` coin) and whether it is a spot pair (price decimals differ, §5.5)."""

    coin: str
    sz_decimals: int
    is_spot: bool = False


class Strategy(Protocol):
    """What the quoter actor calls. Every method returns the intents to send now (maybe none)."""

    def start(self, markets: Mapping[str, MarketInfo], now_ms: int) -> Sequence[Intent]:
        """Called once when the book is ready (synced with the exchange)."""
        ...

    def on_market(self, data: MarketData, view: BookView, now_ms: int) -> Sequence[Intent]:
        """A market-data update (``L2Book``, ``Bbo``, ``AllMids``, ``Trades``) arrived."""
        ...

    def on_view(self, view: BookView, now_ms: int) -> Sequence[Intent]:
        """The book changed (fills, acks, …) — e.g. to re-skew after a fill."""
        ...

    def stop(self, view: BookView, now_ms: int) -> Sequence[Intent]:
        """The bot is stopping: usually ``CancelAll()``."""
        ...


@runtime_checkable
class BudgetAware(Protocol):
    """Optional: a strategy with this method is told, before each call, by how much to widen
    its re-quote threshold (``scale`` ≥ 1) because the address request budget is running low
    (:meth:`hlmaker.actors.budget.AddressBudget.requote_scale`)."""

    def set_requote_scale(self, scale: Decimal) -> None:
        """Multiply the re-quote threshold by ``scale`` from now on."""
        ...
