"""Parsing of the simulator's request bodies: shape errors become the exchange's 422 plain-text
reply (§1.1: never a JSON object without ``code``, which would crash the SDK)."""

from __future__ import annotations

import json
from typing import Any

DESERIALIZE_ERROR = "Failed to deserialize the JSON body into the target type"
"""422 plain-text body for malformed requests (§1.1)."""


class Reject(Exception):
    """A request answered before it reaches the exchange's logic: ``status`` and plain ``body``."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def parse(body: bytes | str | dict[str, Any] | Any) -> dict[str, Any]:
    """The JSON object of ``body``.

    Raises:
        Reject: 422, not a JSON object.
    """
    if isinstance(body, dict):
        return body
    if isinstance(body, (bytes, bytearray, str)):
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            raise Reject(422, DESERIALIZE_ERROR) from None
        if isinstance(parsed, dict):
            return parsed
    raise Reject(422, DESERIALIZE_ERROR)


def integer(value: Any) -> int:
    """A JSON integer (not a bool). Raises :class:`Reject` (422) otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Reject(422, DESERIALIZE_ERROR)
    return value


def address(value: Any) -> str:
    """A ``0x`` + 40 hex address, lower-cased. Raises :class:`Reject` (422) otherwise."""
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 42:
        raise Reject(422, DESERIALIZE_ERROR)
    try:
        int(value[2:], 16)
    except ValueError:
        raise Reject(422, DESERIALIZE_ERROR) from None
    return value.lower()


def string(value: Any) -> str:
    """A JSON string. Raises :class:`Reject` (422) otherwise."""
    if not isinstance(value, str):
        raise Reject(422, DESERIALIZE_ERROR)
    return value


def optional_int(value: Any) -> int | None:
    """``None`` or a JSON integer. Raises :class:`Reject` (422) otherwise."""
    return None if value is None else integer(value)
