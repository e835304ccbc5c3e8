"""Wire builders for L1 actions, keys in the exchange's order.

Key order is part of the signature (msgpack of the dict, protocol ref §5.1), so every builder
returns a fresh ``dict`` whose insertion order is exactly the SDK's (``[SDK] signing.py
order_request_to_order_wire``, ``order_wires_to_order_action``, ``exchange.py``; §4.2). Prices and
sizes enter as :class:`~decimal.Decimal` (price in quote currency, size in coin) and leave as
canonical wire strings (:func:`~hlmaker.hyperliquid.numbers.decimal_to_wire`). Builders check
shapes (types, cloid format, canonical numbers) but not the tick/lot rules, which need
``szDecimals``: use :func:`order_wire_from_request` with an :class:`~.meta.AssetMap`, or call
:func:`~hlmaker.hyperliquid.numbers.validate_px` / ``validate_sz`` yourself.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

import attrs

from hlmaker.hyperliquid.errors import NumberFormatError
from hlmaker.hyperliquid.meta import AssetMap
from hlmaker.hyperliquid.numbers import decimal_to_wire, validate_px, validate_sz
from hlmaker.messages import OrderRequest, is_cloid

__all__ = [
    "Trigger",
    "batch_modify_action",
    "cancel_action",
    "cancel_by_cloid_action",
    "noop_action",
    "order_action",
    "order_wire",
    "order_wire_from_request",
    "schedule_cancel_action",
]

Tif = Literal["Alo", "Ioc", "Gtc"]
Grouping = str | dict[str, int]
"""``"na"`` | ``"normalTpsl"`` | ``"positionTpsl"`` | ``{"p": <int>}`` (priority, §4.2)."""

MAX_BATCH = 200
"""Most orders, cancels or modifies one signed action may carry: a larger batch is refused
whole with ``Signed action over weight limit of 200.`` (``../shared/hyperliquid-protocol.md``
§4, probe P4 — confirmed for cancels, assumed for orders and modifies)."""

_TIFS = ("Alo", "Ioc", "Gtc")
_GROUPINGS = ("na", "normalTpsl", "positionTpsl")


@attrs.frozen(kw_only=True)
class Trigger:
    """A TP/SL trigger order type: fires when the mark crosses ``trigger_px`` (quote currency);
    then a market order if ``is_market`` else a limit at the order's ``px``."""

    trigger_px: Decimal
    is_market: bool
    tpsl: Literal["tp", "sl"]


def _check_asset(asset: int) -> int:
    if isinstance(asset, bool) or not isinstance(asset, int) or asset < 0:
        raise ValueError(f"asset must be a non-negative int, got {asset!r}")
    return asset


def _check_cloid(cloid: str) -> str:
    if not is_cloid(cloid):
        raise ValueError(f"cloid must be 0x + 32 lower-case hex digits, got {cloid!r}")
    return cloid


def _order_type_wire(order_type: Tif | Trigger) -> dict[str, Any]:
    if isinstance(order_type, Trigger):
        if order_type.tpsl not in ("tp", "sl"):
            raise ValueError(f"tpsl must be 'tp' or 'sl', got {order_type.tpsl!r}")
        return {
            "trigger": {
                "isMarket": bool(order_type.is_market),
                "triggerPx": decimal_to_wire(order_type.trigger_px),
                "tpsl": order_type.tpsl,
            }
        }
    if order_type not in _TIFS:
        raise ValueError(f"tif must be one of {_TIFS}, got {order_type!r}")
    return {"limit": {"tif": order_type}}


def order_wire(
    asset: int,
    is_buy: bool,
    px: Decimal,
    sz: Decimal,
    reduce_only: bool,
    order_type: Tif | Trigger,
    cloid: str | None = None,
) -> dict[str, Any]:
    """One order: ``{"a", "b", "p", "s", "r", "t"[, "c"]}`` (§4.2).

    ``order_type`` is a tif (``"Alo"`` post-only, ``"Ioc"``, ``"Gtc"``) or a :class:`Trigger`.
    ``c`` is omitted when ``cloid`` is None (the SDK never sends null).

    Raises:
        NumberFormatError: px/sz not finite or with more than 8 decimals.
        ValueError: bad asset, tif, tpsl or cloid.
    """
    wire: dict[str, Any] = {
        "a": _check_asset(asset),
        "b": bool(is_buy),
        "p": decimal_to_wire(px),
        "s": decimal_to_wire(sz),
        "r": bool(reduce_only),
        "t": _order_type_wire(order_type),
    }
    if cloid is not None:
        wire["c"] = _check_cloid(cloid)
    return wire


def order_wire_from_request(request: OrderRequest, assets: AssetMap) -> dict[str, Any]:
    """The order wire of an executor :class:`~hlmaker.messages.OrderRequest`, validated against
    the coin's ``szDecimals`` (tick and lot rules, §5.5).

    Raises:
        KeyError: unknown coin. NumberFormatError: px/sz violate the coin's rules.
    """
    asset = assets.asset(request.coin)
    sz_decimals = assets.sz_decimals(asset)
    is_spot = assets.is_spot(asset)
    try:
        validate_px(request.px, sz_decimals, is_spot)
        validate_sz(request.sz, sz_decimals)
    except NumberFormatError as exc:
        raise NumberFormatError(f"{request.coin} (cloid {request.cloid}): {exc}") from None
    return order_wire(
        asset, request.side == "B", request.px, request.sz, request.reduce_only, request.tif,
        request.cloid,
    )


def order_action(
    wires: Iterable[dict[str, Any]],
    grouping: Grouping = "na",
    builder: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """``{"type": "order", "orders": [...], "grouping": ...[, "builder": {"b", "f"}]}``.

    ``builder`` is ``(address, fee in tenths of a basis point)``; the address is lower-cased like
    the SDK does.

    Raises:
        ValueError: empty batch or unknown grouping.
    """
    orders = list(wires)
    if not orders:
        raise ValueError("an order action needs at least one order")
    if isinstance(grouping, dict):
        if list(grouping) != ["p"] or not isinstance(grouping["p"], int):
            raise ValueError(f"priority grouping must be {{'p': int}}, got {grouping!r}")
    elif grouping not in _GROUPINGS:
        raise ValueError(f"grouping must be one of {_GROUPINGS} or {{'p': int}}")
    action: dict[str, Any] = {"type": "order", "orders": orders, "grouping": grouping}
    if builder is not None:
        action["builder"] = {"b": builder[0].lower(), "f": int(builder[1])}
    return action


def cancel_action(cancels: Iterable[tuple[int, int]], fast: bool = False) -> dict[str, Any]:
    """``{"type": "cancel", "cancels": [{"a": asset, "o": oid}, ...]}`` from ``(asset, oid)``
    pairs. ``fast`` adds ``"f": true`` per cancel (never ``false``: hashing it is rejected, §4.2).

    Raises:
        ValueError: empty, or a bad asset/oid.
    """
    items: list[dict[str, Any]] = []
    for asset, oid in cancels:
        if isinstance(oid, bool) or not isinstance(oid, int) or oid < 0:
            raise ValueError(f"oid must be a non-negative int, got {oid!r}")
        item: dict[str, Any] = {"a": _check_asset(asset), "o": oid}
        if fast:
            item["f"] = True
        items.append(item)
    if not items:
        raise ValueError("a cancel action needs at least one cancel")
    return {"type": "cancel", "cancels": items}


def cancel_by_cloid_action(
    cancels: Iterable[tuple[int, str]], fast: bool = False
) -> dict[str, Any]:
    """``{"type": "cancelByCloid", "cancels": [{"asset": a, "cloid": c}, ...]}`` from
    ``(asset, cloid)`` pairs (note the long key names, §4.2).

    Raises:
        ValueError: empty, or a bad asset/cloid.
    """
    items: list[dict[str, Any]] = []
    for asset, cloid in cancels:
        item: dict[str, Any] = {"asset": _check_asset(asset), "cloid": _check_cloid(cloid)}
        if fast:
            item["f"] = True
        items.append(item)
    if not items:
        raise ValueError("a cancelByCloid action needs at least one cancel")
    return {"type": "cancelByCloid", "cancels": items}


def batch_modify_action(
    modifies: Iterable[tuple[int | str, dict[str, Any]]], always_place: bool = False
) -> dict[str, Any]:
    """``{"type": "batchModify", "modifies": [{"oid": oid, "order": wire}, ...]}``.

    ``oid`` is the live order's int oid or its cloid; ``wire`` an :func:`order_wire` (keep the
    cloid to rebind it to the new oid). ``always_place`` appends ``"a": true`` per modify
    (omitted when false, §4.2).

    Raises:
        ValueError: empty, or a bad oid/cloid.
    """
    items: list[dict[str, Any]] = []
    for oid, wire in modifies:
        if isinstance(oid, str):
            _check_cloid(oid)
        elif isinstance(oid, bool) or not isinstance(oid, int) or oid < 0:
            raise ValueError(f"oid must be a non-negative int or a cloid, got {oid!r}")
        item: dict[str, Any] = {"oid": oid, "order": wire}
        if always_place:
            item["a"] = True
        items.append(item)
    if not items:
        raise ValueError("a batchModify action needs at least one modify")
    return {"type": "batchModify", "modifies": items}


def schedule_cancel_action(time_ms: int | None) -> dict[str, Any]:
    """``{"type": "scheduleCancel", "time": ms}``, or without ``time`` to clear the dead-man
    switch. The exchange wants ``time ≥ now + 5 s`` and allows 10 triggers a day (§4.2).

    Raises:
        ValueError: ``time_ms`` not an int.
    """
    if time_ms is None:
        return {"type": "scheduleCancel"}
    if isinstance(time_ms, bool) or not isinstance(time_ms, int) or time_ms < 0:
        raise ValueError(f"time_ms must be a non-negative int, got {time_ms!r}")
    return {"type": "scheduleCancel", "time": time_ms}


def reserve_request_weight_action(weight: int) -> dict[str, Any]:
    """``{"type": "reserveRequestWeight", "weight": n}`` — buy ``weight`` address requests at
    0.0005 USDC each from the perp balance (§4, §8, ``[DOCS:exchange-endpoint]``).

    Raises:
        ValueError: ``weight`` not a positive int.
    """
    if isinstance(weight, bool) or not isinstance(weight, int) or weight <= 0:
        raise ValueError(f"weight must be a positive int, got {weight!r}")
    return {"type": "reserveRequestWeight", "weight": weight}


def noop_action() -> dict[str, Any]:
    """``{"type": "noop"}`` — burns a nonce (invalidates in-flight actions with lower ones)."""
    return {"type": "noop"}
