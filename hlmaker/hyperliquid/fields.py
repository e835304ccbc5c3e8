"""Typed field readers for decoded JSON: each returns the value or raises :class:`CodecError`.

Wire types (protocol ref §0 conventions): prices, sizes and USD amounts are string-decimals;
ids, times and counts are JSON integers; booleans are JSON booleans. Decimals are read exactly:
from strings, ints, or ``Decimal`` (the codec decodes JSON numbers with ``parse_float=Decimal``),
never from ``float``; non-finite and absurdly large/small values are refused.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from hlmaker.hyperliquid.errors import CodecError
from hlmaker.messages import Side

_MISSING = object()
MAX_DECIMAL_EXPONENT = 60
"""Decimals beyond 10^±60 are refused: no price, size or amount is that large or small, and
such values would overflow the default decimal context in later arithmetic."""


def obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise CodecError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def arr(value: Any, what: str) -> list[Any]:
    """``value`` if it is a JSON array."""
    if not isinstance(value, list):
        raise CodecError(f"{what}: expected an array, got {type(value).__name__}")
    return value


def get(data: dict[str, Any], key: str, what: str) -> Any:
    """``data[key]``; a missing key is a :class:`CodecError` naming ``what.key``."""
    value = data.get(key, _MISSING)
    if value is _MISSING:
        raise CodecError(f"{what}: missing {key!r}")
    return value


def integer(data: dict[str, Any], key: str, what: str) -> int:
    """A required JSON integer (booleans refused)."""
    value = get(data, key, what)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"{what}.{key}: expected an integer, got {value!r:.40}")
    return value


def opt_integer(data: dict[str, Any], key: str, what: str, default: int | None = None) -> Any:
    """An optional JSON integer: ``default`` when absent or null."""
    if data.get(key) is None:
        return default
    return integer(data, key, what)


def text(data: dict[str, Any], key: str, what: str) -> str:
    """A required JSON string."""
    value = get(data, key, what)
    if not isinstance(value, str):
        raise CodecError(f"{what}.{key}: expected a string, got {type(value).__name__}")
    return value


def opt_text(data: dict[str, Any], key: str, what: str) -> str | None:
    """An optional JSON string: ``None`` when absent or null."""
    if data.get(key) is None:
        return None
    return text(data, key, what)


def boolean(data: dict[str, Any], key: str, what: str, default: bool | None = None) -> bool:
    """A JSON boolean; ``default`` (if given) when the key is absent or null."""
    value = data.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, bool):
        raise CodecError(f"{what}.{key}: expected a boolean, got {value!r:.40}")
    return value


def to_dec(value: Any, what: str, key: str | None = None) -> Decimal:
    """An exact, finite decimal from a string-decimal, int or Decimal. Errors name ``what``
    (``what.key`` when ``key`` is given: the name is only built for the error)."""
    if type(value) is str and len(value) <= 100:  # the wire's form: the fast path
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise CodecError(f"{_name(what, key)}: not a decimal: {value!r:.40}") from None
    elif isinstance(value, bool):
        raise CodecError(f"{_name(what, key)}: expected a decimal, got a boolean")
    elif isinstance(value, str):
        raise CodecError(f"{_name(what, key)}: decimal string too long")
    elif isinstance(value, (int, Decimal)):
        result = Decimal(value)
    else:
        raise CodecError(
            f"{_name(what, key)}: expected a decimal string, got {type(value).__name__}")
    if not result.is_finite():
        raise CodecError(f"{_name(what, key)}: not a finite decimal")
    if result and abs(result.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise CodecError(f"{_name(what, key)}: decimal out of range")
    return result


def plain_dec(value: Any) -> Decimal | None:
    """The fast path of :func:`to_dec` for the wire's usual form: a short decimal string that
    parses to a finite, in-range :class:`~decimal.Decimal`; ``None`` for anything else (the
    caller then goes through :func:`to_dec`, whose error names the field)."""
    if type(value) is not str or len(value) > 100:
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        return None
    if not result.is_finite() or (result and abs(result.adjusted()) > MAX_DECIMAL_EXPONENT):
        return None
    return result


def _name(what: str, key: str | None) -> str:
    return what if key is None else f"{what}.{key}"


def dec(data: dict[str, Any], key: str, what: str) -> Decimal:
    """A required decimal field."""
    value = data.get(key, _MISSING)
    if value is _MISSING:
        raise CodecError(f"{what}: missing {key!r}")
    return to_dec(value, what, key)


def opt_dec(data: dict[str, Any], key: str, what: str) -> Decimal | None:
    """An optional decimal field: ``None`` when absent or null."""
    value = data.get(key)
    return None if value is None else to_dec(value, what, key)


def side(data: dict[str, Any], key: str, what: str) -> Side:
    """``"B"`` (bid/buy) or ``"A"`` (ask/sell)."""
    value = get(data, key, what)
    if value == "B":
        return "B"
    if value == "A":
        return "A"
    raise CodecError(f"{what}.{key}: expected 'A' or 'B', got {value!r:.40}")


def cloid(data: dict[str, Any], key: str, what: str) -> str | None:
    """An optional cloid, lower-cased (``"0x"`` + 32 hex digits on the wire, §5.6)."""
    value = opt_text(data, key, what)
    return None if value is None else value.lower()
