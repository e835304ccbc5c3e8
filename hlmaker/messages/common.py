"""Value types shared by every message: sides, time-in-force, price levels.

Units everywhere in :mod:`hlmaker.messages`:

* prices (``px``) are :class:`~decimal.Decimal` in quote currency (USDC for perps);
* sizes (``sz``, ``szi``) are :class:`~decimal.Decimal` in coin;
* times (``*_ms``) are integer milliseconds since the Unix epoch;
* ``oid`` and ``tid`` are the exchange's integer ids, ``cloid`` is ``"0x"`` + 32 lower-case hex
  digits (Hyperliquid's client order id, ``../shared/hyperliquid-protocol.md`` §5.6).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

import attrs

Side = Literal["B", "A"]
"""``"B"`` is a bid (buy), ``"A"`` an ask (sell) — Hyperliquid's own letters."""

Tif = Literal["Alo", "Ioc", "Gtc"]
"""Time in force: ``Alo`` post-only, ``Ioc`` immediate-or-cancel, ``Gtc`` good-till-cancel."""

SIDES: tuple[Side, Side] = ("B", "A")
TIFS: tuple[Tif, ...] = ("Alo", "Ioc", "Gtc")

_CLOID_RE = re.compile(r"^0x[0-9a-f]{32}$")


def is_cloid(value: object) -> bool:
    """True when ``value`` is a canonical cloid: ``"0x"`` + 32 lower-case hex digits."""
    return isinstance(value, str) and _CLOID_RE.match(value) is not None


def signed(side: Side, sz: Decimal) -> Decimal:
    """The position change of a fill of ``sz`` on ``side``: ``+sz`` for ``B``, ``-sz`` for ``A``."""
    return sz if side == "B" else -sz


def to_decimal(value: object) -> Decimal:
    """Convert a wire value (str, int or Decimal; never float) to :class:`Decimal`.

    Raises:
        TypeError: for floats (they would lose exactness) and other types.
        decimal.InvalidOperation: for strings that are not numbers.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("booleans are not decimals")
    if isinstance(value, (str, int)):
        return Decimal(value)
    raise TypeError(f"expected a decimal string or int, got {type(value).__name__}")


@attrs.frozen(kw_only=True)
class OrderKind:
    """What kind of order a row is, as ``frontendOpenOrders`` / ``orderStatus`` describe it
    (``../shared/hyperliquid-protocol.md`` §2.6, §2.10; recordings: the SDK cassette
    ``frontendOpenOrders`` of 2023 and ccxt's trigger rows).

    * ``order_type`` — ``"Limit"``, ``"Market"``, ``"Stop Market"``, ``"Stop Limit"``,
      ``"Take Profit Market"``, ``"Take Profit Limit"``, ``"Twap Slice"``, … verbatim;
    * ``tif`` — ``"Gtc"``, ``"Ioc"``, ``"Alo"``, ``"FrontendMarket"``, ``"LiquidationMarket"``, or
      ``None`` (a trigger order has no time in force until it fires);
    * ``is_trigger`` — a TP/SL order waiting for the mark price to cross ``trigger_px``
      (quote currency); ``trigger_condition`` is the exchange's text (``"Price below 9.995"``,
      ``"N/A"`` for plain orders);
    * ``is_position_tpsl`` — a TP/SL sized to the whole position (grouping ``positionTpsl``).

    The TP/SL children of a parent (grouping ``normalTpsl``) are on the row that carries the
    kind (:attr:`hlmaker.messages.OpenOrder.children`).
    """

    order_type: str
    tif: str | None = None
    is_trigger: bool = False
    trigger_px: Decimal | None = None
    trigger_condition: str = "N/A"
    is_position_tpsl: bool = False


@attrs.frozen(kw_only=True)
class Level:
    """One price level of a book or a ladder: ``px`` in quote currency, ``sz`` in coin.

    ``n`` is the number of orders at the level when the exchange reports it (0 otherwise).
    """

    px: Decimal
    sz: Decimal
    n: int = 0
