"""The WebSocket wire codec: one text frame in, one typed frame out.

:func:`parse_frame` turns every frame the bot consumes into an :mod:`hlmaker.messages` event or
a control frame of :mod:`hlmaker.hyperliquid.frames` (protocol ref §6):

=========================  ===================================================================
channel                    result
=========================  ===================================================================
(greeting text)            :class:`~.frames.GreetingFrame`
``subscriptionResponse``   :class:`~.frames.SubscriptionAck`
``pong``                   :class:`~.frames.Pong`
``error``                  :class:`~.frames.WsErrorFrame`
``post``                   :class:`~.frames.PostResponse` (``info`` / ``action`` / ``error``)
``orderUpdates``           :class:`~hlmaker.messages.OrderUpdates`
``userFills``              :class:`~hlmaker.messages.Fills` (``source="userFills"``,
                           ``is_snapshot`` from ``isSnapshot``; **missing means false**)
``user``                   ``Fills`` (``source="user"``), ``NonUserCancel``, ``Funding``,
                           ``Liquidation``, ``TwapSliceFills``; other event kinds →
                           ``UnhandledFrame``
``userTwapSliceFills``     :class:`~hlmaker.messages.TwapSliceFills` (``isSnapshot`` missing
                           means false)
``openOrders``             :class:`~.frames.OpenOrdersFrame`
``clearinghouseState``     :class:`~.frames.ClearinghouseFrame`
``l2Book`` / ``bbo``       :class:`~hlmaker.messages.L2Book` / :class:`~hlmaker.messages.Bbo`
``allMids``                :class:`~hlmaker.messages.AllMids` (from ``data.mids``)
``trades``                 :class:`~hlmaker.messages.Trades`
anything else              :class:`~.frames.UnhandledFrame`
=========================  ===================================================================

JSON numbers are decoded as exact :class:`~decimal.Decimal` (msgspec's decoder with
``float_hook=Decimal``), never floats. **The only exception** :func:`parse_frame` raises is
:class:`~hlmaker.hyperliquid.errors.CodecError` (fuzz-tested): a feed counts it and moves on.

The payload parsers shared with the REST client and WS ``info`` posts are re-exported here:
:func:`parse_fill`, :func:`parse_fills`, :func:`parse_open_orders`, :func:`parse_positions`,
:func:`parse_entry_prices`,
:func:`parse_order_status`, :func:`parse_twap_slice_fills`, :func:`parse_l2_book`,
:func:`parse_all_mids`, … (from
:mod:`.payloads`) and :func:`parse_order_statuses`, :func:`parse_cancel_statuses`,
:func:`parse_exchange_response` with the ``OrderStatus`` data types (from :mod:`.responses`).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import msgspec

from hlmaker.hyperliquid import fields as f
from hlmaker.hyperliquid.errors import CodecError
from hlmaker.hyperliquid.frames import (
    GREETING,
    ClearinghouseFrame,
    Frame,
    GreetingFrame,
    OpenOrdersFrame,
    Pong,
    PostResponse,
    SubscriptionAck,
    UnhandledFrame,
    WsErrorFrame,
)
from hlmaker.hyperliquid.payloads import (
    parse_all_mids,
    parse_bbo,
    parse_entry_prices,
    parse_fill,
    parse_fills,
    parse_funding,
    parse_l2_book,
    parse_liquidation,
    parse_non_user_cancel,
    parse_open_order,
    parse_open_orders,
    parse_order_status,
    parse_order_update,
    parse_order_updates,
    parse_positions,
    parse_trades,
    parse_twap_slice_fills,
)
from hlmaker.hyperliquid.responses import (
    CancelStatus,
    Filled,
    OrderStatus,
    Resting,
    StatusError,
    Waiting,
    parse_cancel_statuses,
    parse_default_response,
    parse_exchange_response,
    parse_order_statuses,
)
from hlmaker.messages import Fills, TwapSliceFills

__all__ = [
    "CancelStatus", "Filled", "Frame", "OrderStatus", "Resting", "StatusError", "Waiting",
    "decode_json", "parse_all_mids", "parse_bbo", "parse_cancel_statuses",
    "parse_default_response", "parse_entry_prices", "parse_exchange_response", "parse_fill",
    "parse_fills",
    "parse_frame", "parse_funding", "parse_l2_book", "parse_liquidation", "parse_non_user_cancel",
    "parse_open_order", "parse_open_orders", "parse_order_status", "parse_order_statuses",
    "parse_order_update", "parse_order_updates", "parse_positions", "parse_trades",
    "parse_twap_slice_fills",
]

_TRAILING_ID = re.compile(r"id=(\d{1,18})\s*$")
_POST_KINDS = ("info", "action", "error")


_DECODER = msgspec.json.Decoder(float_hook=Decimal)
"""msgspec's JSON decoder (several times faster than ``json.loads``); ``float_hook`` hands every
non-integer number over as its exact text, so it becomes an exact ``Decimal``, never a float."""


def decode_json(raw: str | bytes) -> Any:
    """Decode JSON text (``str`` or UTF-8 bytes) with exact decimals for non-integer numbers.
    Strict JSON: ``NaN``/``Infinity`` literals are refused.

    Raises:
        CodecError: not UTF-8, not JSON, too deeply nested, or a number out of range.
    """
    try:
        return _DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError, TypeError, RecursionError, ArithmeticError) as exc:
        raise CodecError(f"not a JSON document: {type(exc).__name__}") from None


def _ack(data: Any) -> SubscriptionAck:
    d = f.obj(data, "subscriptionResponse")
    return SubscriptionAck(
        method=f.text(d, "method", "subscriptionResponse"),
        subscription=MappingProxyType(
            f.obj(f.get(d, "subscription", "subscriptionResponse"), "subscription")),
    )


def _error(data: Any) -> WsErrorFrame:
    text = data if isinstance(data, str) else json.dumps(data, default=str)[:1000]
    match = _TRAILING_ID.search(text)
    return WsErrorFrame(text=text, request_id=int(match.group(1)) if match else None)


def _post(data: Any) -> PostResponse:
    d = f.obj(data, "post")
    response = f.obj(f.get(d, "response", "post"), "post.response")
    kind = f.text(response, "type", "post.response")
    if kind not in _POST_KINDS:
        raise CodecError(f"post.response.type: unknown {kind!r:.40}")
    payload = f.get(response, "payload", "post.response")
    if kind == "error" and not isinstance(payload, str):
        payload = json.dumps(payload, default=str)[:1000]
    return PostResponse(id=f.integer(d, "id", "post"), kind=kind, payload=payload)  # type: ignore[arg-type]


def _user_fills(data: Any) -> Fills:
    d = f.obj(data, "userFills")
    return Fills(fills=parse_fills(f.get(d, "fills", "userFills")),
                 is_snapshot=f.boolean(d, "isSnapshot", "userFills", default=False),
                 source="userFills")


def _user_event(data: Any) -> Frame:
    d = f.obj(data, "user")
    if "fills" in d:
        return Fills(fills=parse_fills(d["fills"]), is_snapshot=False, source="user")
    if "nonUserCancel" in d:
        return parse_non_user_cancel(d["nonUserCancel"])
    if "funding" in d:
        return parse_funding(d["funding"])
    if "liquidation" in d:
        return parse_liquidation(d["liquidation"])
    if "twapSliceFills" in d:
        return parse_twap_slice_fills(d["twapSliceFills"])
    return UnhandledFrame(channel="user", data=d)


def _twap_slice_fills(data: Any) -> TwapSliceFills:
    d = f.obj(data, "userTwapSliceFills")
    return parse_twap_slice_fills(
        f.get(d, "twapSliceFills", "userTwapSliceFills"),
        user=f.opt_text(d, "user", "userTwapSliceFills") or "",
        is_snapshot=f.boolean(d, "isSnapshot", "userTwapSliceFills", default=False))


def _open_orders(data: Any) -> OpenOrdersFrame:
    d = f.obj(data, "openOrders")
    return OpenOrdersFrame(user=f.text(d, "user", "openOrders"),
                           dex=f.opt_text(d, "dex", "openOrders") or "",
                           orders=parse_open_orders(f.get(d, "orders", "openOrders")))


def _clearinghouse(data: Any) -> ClearinghouseFrame:
    d = f.obj(data, "clearinghouseState")
    state = f.obj(f.get(d, "clearinghouseState", "clearinghouseState"), "clearinghouseState")
    return ClearinghouseFrame(
        user=f.text(d, "user", "clearinghouseState"),
        dex=f.opt_text(d, "dex", "clearinghouseState") or "",
        positions=MappingProxyType(parse_positions(state)),
        time_ms=f.opt_integer(state, "time", "clearinghouseState"),
    )


_DISPATCH: dict[str, Any] = {
    "subscriptionResponse": _ack,
    "error": _error,
    "post": _post,
    "orderUpdates": parse_order_updates,
    "userFills": _user_fills,
    "user": _user_event,
    "userTwapSliceFills": _twap_slice_fills,
    "openOrders": _open_orders,
    "clearinghouseState": _clearinghouse,
    "l2Book": parse_l2_book,
    "bbo": parse_bbo,
    "allMids": lambda data: parse_all_mids(f.get(f.obj(data, "allMids"), "mids", "allMids")),
    "trades": parse_trades,
}


def parse_frame(raw: str | bytes) -> Frame:
    """Decode one WebSocket frame (text or UTF-8 bytes) — see the module table.

    Raises:
        CodecError: and nothing else, for any input.
    """
    if isinstance(raw, str):
        if not raw.startswith("{") and raw.strip() == GREETING:
            return GreetingFrame()
    elif isinstance(raw, (bytes, bytearray)):
        if not raw.startswith(b"{"):
            try:
                if raw.decode("utf-8").strip() == GREETING:
                    return GreetingFrame()
            except UnicodeDecodeError:
                raise CodecError("frame is not UTF-8") from None
    else:
        raise CodecError(f"frame must be str or bytes, got {type(raw).__name__}")
    message = f.obj(decode_json(raw), "frame")
    channel = f.text(message, "channel", "frame")
    if channel == "pong":
        return Pong()
    handler = _DISPATCH.get(channel)
    if handler is None:
        return UnhandledFrame(channel=channel, data=message.get("data"))
    try:
        return handler(f.get(message, "data", channel))
    except CodecError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError,
            RecursionError) as exc:
        # A defect in a parser must still honour the contract; the type names the bug.
        raise CodecError(f"{channel}: malformed frame ({type(exc).__name__})") from None
