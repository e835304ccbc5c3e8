"""Profit and loss figures derived from what the exchange reports.

Realized PnL comes from the fills themselves (Σ ``closedPnl`` − Σ ``fee``, counted by the book);
unrealized PnL needs each position's average entry price, which only the exchange's
``clearinghouseState`` carries (``entryPx``, ``../shared/hyperliquid-protocol.md`` §2.7), so it
is computed from the reconciler's last sweep, marked to the mids the quoter notes as it reads
market data (:func:`note_mid`).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from decimal import Decimal

from hlmaker.messages import AllMids, Bbo


def unrealized_pnl(positions: Mapping[str, Decimal] | None,
                   entry_px: Mapping[str, Decimal] | None,
                   mids: Mapping[str, Decimal]) -> Decimal | None:
    """Σ ``(mid − entryPx) × szi`` over the exchange's positions (quote currency): the
    positions and entry prices of the last reconcile sweep, marked to the current mids.

    ``None`` when there was no sweep, or a coin with a position lacks its entry price or mid
    (a partial sum would mislead). Flat: 0.
    """
    if positions is None or entry_px is None:
        return None
    total = Decimal(0)
    for coin, szi in positions.items():
        if not szi:
            continue
        entry, mid = entry_px.get(coin), mids.get(coin)
        if entry is None or mid is None:
            return None
        total += (mid - entry) * szi
    return total


def note_mid(mids: MutableMapping[str, Decimal], msg: object) -> None:
    """Record in ``mids`` (coin → quote currency) the mid price a market-data message tells:
    every coin of an ``AllMids``; ``(bid + ask) / 2`` of a ``Bbo`` with both sides. Other
    messages leave ``mids`` as it is."""
    if isinstance(msg, AllMids):
        mids.update(msg.mids)
    elif isinstance(msg, Bbo) and msg.bid is not None and msg.ask is not None:
        mids[msg.coin] = (msg.bid.px + msg.ask.px) / 2
