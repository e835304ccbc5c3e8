"""Exact, round-tripping JSON for the book's inputs (frozen attrs messages).

Every message that can reach the book's inbox is a frozen attrs class of
:mod:`hlmaker.messages` (see that package's ``__all__``), built from ``None``, ``bool``, ``int``,
``str``, :class:`~decimal.Decimal`, tuples, mappings and other such classes. :func:`dumps` writes
one as compact JSON and :func:`loads` rebuilds an equal value with the same ``repr`` (the
replay digest hashes ``repr``), so:

* a Decimal is ``{"$d": "0.00350"}`` — its exact text, exponent and trailing zeros kept;
* a tuple is a JSON array (every sequence field of the messages is a tuple);
* a mapping is ``{"$m": [[key, value], …]}`` in its own order, rebuilt as a ``dict``;
* an attrs instance is ``{"$c": "ClassName", field: value, …}``.

Floats are refused (they would lose exactness), as are classes not in the registry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

import hlmaker.messages as _messages
from hlmaker.orders.book_config import BookConfig
from hlmaker.orders.ownership import Ownership


class CodecError(ValueError):
    """A value cannot be journaled, or a journaled text does not decode to a message."""


def _registry() -> dict[str, type]:
    classes: dict[str, type] = {"BookConfig": BookConfig, "Ownership": Ownership}
    for name in _messages.__all__:
        obj = getattr(_messages, name)
        if isinstance(obj, type) and attrs.has(obj):
            classes[obj.__name__] = obj
    # classes nested inside messages but not exported (e.g. events.Trade is exported; keep
    # the lookup closed: anything else is refused)
    return classes


REGISTRY: dict[str, type] = _registry()
"""Class name → class, for every journalable attrs class."""


def encode(value: object) -> Any:
    """``value`` as JSON-ready data (see the module docstring).

    Raises:
        CodecError: a float, or a class outside :data:`REGISTRY`.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if attrs.has(type(value)):
        name = type(value).__name__
        if REGISTRY.get(name) is not type(value):
            raise CodecError(f"cannot journal {type(value).__qualname__}: not a message class")
        out: dict[str, Any] = {"$c": name}
        for f in attrs.fields(type(value)):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, Mapping):
        return {"$m": [[encode(k), encode(v)] for k, v in value.items()]}
    raise CodecError(f"cannot journal a {type(value).__name__} ({value!r:.40})")


def decode(data: Any) -> Any:
    """The value :func:`encode` turned into ``data``.

    Raises:
        CodecError: unknown class or malformed data.
    """
    if data is None or isinstance(data, bool | int | str):
        return data
    if isinstance(data, list):
        return tuple(decode(v) for v in data)
    if isinstance(data, dict):
        if "$d" in data:
            return Decimal(data["$d"])
        if "$m" in data:
            return {decode(k): decode(v) for k, v in data["$m"]}
        name = data.get("$c")
        cls = REGISTRY.get(name) if isinstance(name, str) else None
        if cls is None:
            raise CodecError(f"unknown journaled class {name!r}")
        try:
            return cls(**{k: decode(v) for k, v in data.items() if k != "$c"})
        except TypeError as exc:
            raise CodecError(f"bad journaled {name}: {exc}") from None
    raise CodecError(f"bad journaled value {data!r:.40}")


def dumps(value: object) -> str:
    """Compact JSON text of ``value`` (see :func:`encode`)."""
    return json.dumps(encode(value), separators=(",", ":"), ensure_ascii=False)


def loads(text: str) -> Any:
    """The value :func:`dumps` wrote.

    Raises:
        CodecError: the text is not JSON or not a journaled value.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CodecError(f"journaled text is not JSON: {exc}") from None
    return decode(data)
