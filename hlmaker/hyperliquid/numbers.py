"""Price and size numbers: the SDK's canonical wire strings, tick/lot rounding and validation.

Exchange rules (protocol ref §5.4–§5.5, ``[DOCS:tick-and-lot-size]``, ``[SDK] signing.py
float_to_wire``):

* wire strings have no exponent and no trailing zeros (``"1670.1"``, ``"100"``,
  ``"0.00000001"``), at most 8 decimals — trailing zeros change the msgpack bytes and break the
  signature;
* a price has at most **5 significant figures** and at most ``MAX_DECIMALS − szDecimals``
  decimals (``MAX_DECIMALS`` = 6 for perps, 8 for spot); **integer prices are always valid**;
* a size has at most ``szDecimals`` decimals.

Everything here is exact :class:`~decimal.Decimal` arithmetic, independent of the ambient decimal
context. Prices are in quote currency, sizes in coin.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from hlmaker.hyperliquid.errors import NumberFormatError

PERP_MAX_DECIMALS = 6
SPOT_MAX_DECIMALS = 8
MAX_SIG_FIGS = 5
_WIRE_QUANTUM = Decimal("1E-8")
_PRECISION = 80  # enough digits for any price/size the exchange can express


def _finite(value: Decimal, what: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise NumberFormatError(f"{what} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise NumberFormatError(f"{what} must be finite, got {value}")
    return value


def decimal_to_wire(value: Decimal) -> str:
    """The canonical wire string of ``value`` — what ``float_to_wire`` gives for the same number.

    ``Decimal("1670.10") → "1670.1"``, ``Decimal("1E+2") → "100"``, ``Decimal("1E-8") →
    "0.00000001"``. Negative zero gives ``"-0"``, like the SDK (§5.4).

    Raises:
        NumberFormatError: non-finite, or more than 8 significant decimals (the SDK raises
            ``ValueError("float_to_wire causes rounding")`` there).
    """
    # The same prices and sizes are written over and over (each modify re-sends its ladder):
    # a non-zero finite Decimal's wire string is remembered (zero is not: -0 == 0 but they
    # print differently; nor any other type: 100.0 == Decimal(100) must still be refused).
    if type(value) is Decimal and value.is_finite() and value:
        text = _WIRE_CACHE.get(value)
        if text is None:
            text = _decimal_to_wire(value)
            if len(_WIRE_CACHE) >= _WIRE_CACHE_SIZE:
                _WIRE_CACHE.clear()
            _WIRE_CACHE[value] = text
        return text
    return _decimal_to_wire(value)


_WIRE_CACHE: dict[Decimal, str] = {}
_WIRE_CACHE_SIZE = 4096


def _decimal_to_wire(value: Decimal) -> str:
    _finite(value, "number")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        try:
            quantized = value.quantize(_WIRE_QUANTUM)
        except InvalidOperation:
            raise NumberFormatError(f"{value} is too large for the wire") from None
        if quantized != value:
            raise NumberFormatError(f"{value} has more than 8 decimals")
    text = format(quantized, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _max_px_decimals(sz_decimals: int, is_spot: bool) -> int:
    if not isinstance(sz_decimals, int) or sz_decimals < 0:
        raise NumberFormatError(f"szDecimals must be a non-negative int, got {sz_decimals!r}")
    return max(0, (SPOT_MAX_DECIMALS if is_spot else PERP_MAX_DECIMALS) - sz_decimals)


def _significant(value: Decimal) -> tuple[int, int]:
    """(significant digits, decimals) of a finite value, ignoring trailing zeros."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trailing = len(digits) - len(bytes(digits).rstrip(b"\x00"))
    if trailing == len(digits):  # zero
        return 0, 0
    return len(digits) - trailing, max(0, -(exponent + trailing))


def _strip(value: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if not value:
            return Decimal(0)
        stripped = value.normalize()
        exponent = stripped.as_tuple().exponent
        assert isinstance(exponent, int)
        return stripped.quantize(Decimal(1)) if exponent > 0 else stripped


def round_px(
    px: Decimal, sz_decimals: int, is_spot: bool = False, rounding: str = ROUND_HALF_EVEN
) -> Decimal:
    """Round a price to the nearest valid one (5 significant figures, ≤ 6/8 − szDecimals decimals;
    prices ≥ 10 000 round to an integer, which is always valid).

    ``rounding`` is a :mod:`decimal` rounding mode: pass ``ROUND_FLOOR`` for bids and
    ``ROUND_CEILING`` for asks to stay passive. The SDK's recipe (``round(float(f"{px:.5g}"),
    6 − szDecimals)``) is the ``ROUND_HALF_EVEN`` case, without its float error.

    Raises:
        NumberFormatError: ``px`` not finite or not positive, or bad ``sz_decimals``.
    """
    _finite(px, "price")
    if px <= 0:
        raise NumberFormatError(f"price must be positive, got {px}")
    max_decimals = _max_px_decimals(sz_decimals, is_spot)
    exponent = max(min(px.adjusted() - (MAX_SIG_FIGS - 1), 0), -max_decimals)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        rounded = px.quantize(Decimal(1).scaleb(exponent), rounding=rounding)
    return _strip(rounded)


def validate_px(px: Decimal, sz_decimals: int, is_spot: bool = False) -> Decimal:
    """Check a price against the tick rule; returns it unchanged.

    Raises:
        NumberFormatError: not positive, more than 5 significant figures (non-integer), or more
            than ``6 − szDecimals`` (spot: 8) decimals — the exchange would answer
            ``Price must be divisible by tick size.`` (§4.3).
    """
    _finite(px, "price")
    if px <= 0:
        raise NumberFormatError(f"price must be positive, got {px}")
    max_decimals = _max_px_decimals(sz_decimals, is_spot)
    digits, decimals = _significant(px)
    if decimals == 0:  # integer prices are always valid
        return px
    if digits > MAX_SIG_FIGS:
        raise NumberFormatError(f"price {px} has {digits} significant figures (max 5)")
    if decimals > max_decimals:
        raise NumberFormatError(
            f"price {px} has more than {max_decimals} decimals (szDecimals={sz_decimals})"
        )
    return px


def round_sz(sz: Decimal, sz_decimals: int, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round a size (coin) to ``sz_decimals`` decimals with ``rounding`` (pass ``ROUND_DOWN``
    never to exceed a budget).

    Raises:
        NumberFormatError: non-finite size or bad ``sz_decimals``.
    """
    _finite(sz, "size")
    _max_px_decimals(sz_decimals, False)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        rounded = sz.quantize(Decimal(1).scaleb(-sz_decimals), rounding=rounding)
    return _strip(rounded)


def validate_sz(sz: Decimal, sz_decimals: int) -> Decimal:
    """Check a size against the lot rule; returns it unchanged.

    Raises:
        NumberFormatError: not positive, or more than ``sz_decimals`` decimals (the exchange's
            ``Order has invalid size``).
    """
    _finite(sz, "size")
    _max_px_decimals(sz_decimals, False)
    if sz <= 0:
        raise NumberFormatError(f"size must be positive, got {sz}")
    if _significant(sz)[1] > sz_decimals:
        raise NumberFormatError(f"size {sz} has more than {sz_decimals} decimals")
    return sz
