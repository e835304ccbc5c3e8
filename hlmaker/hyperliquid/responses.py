"""``/exchange`` replies (REST body or WS ``post`` action payload) as data.

Exchange rules (protocol ref §4.3):

* the whole action is refused with ``{"status": "err", "response": text}`` (HTTP 200) →
  :class:`~hlmaker.hyperliquid.errors.ExchangeError` (``.text``);
* otherwise ``{"status": "ok", "response": {"type": "order"|"cancel"|"default", "data": ...}}``;
  ``order`` (also for ``batchModify``) and ``cancel`` (also for ``cancelByCloid``) carry one
  status per request entry, in request order. Per-order refusals are **data**:
  :class:`StatusError`, never exceptions;
* pre-validation may answer an n-order batch with a **single** error status: it is expanded to
  n copies (reliability F15).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import attrs

from hlmaker.hyperliquid import fields as f
from hlmaker.hyperliquid.errors import CodecError, ExchangeError


@attrs.frozen(kw_only=True)
class Resting:
    """The order rests with ``oid`` (``{"resting": {"oid", "cloid"?}}``)."""

    oid: int
    cloid: str | None = None


@attrs.frozen(kw_only=True)
class Filled:
    """The order filled at once: ``total_sz`` coin at average ``avg_px`` (quote currency)."""

    oid: int
    total_sz: Decimal
    avg_px: Decimal
    cloid: str | None = None


@attrs.frozen(kw_only=True)
class StatusError:
    """The exchange refused this order/cancel; ``text`` verbatim (e.g. ``"Post only order would
    have immediately matched, bbo was 66621@66642. asset=3"``)."""

    text: str


@attrs.frozen(kw_only=True)
class Waiting:
    """``"waitingForFill"`` / ``"waitingForTrigger"``: a TP/SL child of a grouped order."""

    what: str


OrderStatus = Resting | Filled | StatusError | Waiting
CancelStatus = Literal["success"] | StatusError


def parse_exchange_response(response: Any) -> dict[str, Any]:
    """Check the ``status`` of an ``/exchange`` reply and return its inner ``response`` object
    (``{"type": ..., "data"?: ...}``).

    Raises:
        ExchangeError: ``{"status": "err", "response": text}``.
        CodecError: any other shape.
    """
    r = f.obj(response, "exchange response")
    status = r.get("status")
    if status == "err":
        text = r.get("response")
        raise ExchangeError(text if isinstance(text, str) else repr(text)[:500])
    if status != "ok":
        raise CodecError(f"exchange response: unexpected status {status!r:.40}")
    return f.obj(f.get(r, "response", "exchange response"), "exchange response.response")


def _statuses(response: Any, expected_type: str, n: int) -> list[Any]:
    if n < 1:
        raise ValueError("n must be at least 1")
    inner = parse_exchange_response(response)
    kind = f.text(inner, "type", "exchange response")
    if kind != expected_type:
        raise CodecError(f"exchange response: type {kind!r:.40}, expected {expected_type!r}")
    data = f.obj(f.get(inner, "data", "exchange response"), "exchange response.data")
    statuses = f.arr(f.get(data, "statuses", "exchange response.data"), "statuses")
    if len(statuses) == n:
        return statuses
    if len(statuses) == 1 and isinstance(statuses[0], dict) and "error" in statuses[0]:
        return statuses * n  # whole batch rejected by pre-validation (§4.3)
    raise CodecError(f"exchange response: {len(statuses)} statuses for {n} requests")


def _error(item: dict[str, Any]) -> StatusError:
    return StatusError(text=f.text(item, "error", "status"))


def parse_order_statuses(response: Any, n_orders: int) -> list[OrderStatus]:
    """Per-order outcomes of an ``order`` or ``batchModify`` reply, one per request entry.

    Raises:
        ExchangeError: the whole action was refused (``status: err``).
        CodecError: unexpected shape or a status count that is neither ``n_orders`` nor 1 error.
        ValueError: ``n_orders < 1``.
    """
    out: list[OrderStatus] = []
    for item in _statuses(response, "order", n_orders):
        if isinstance(item, str):
            if item not in ("waitingForFill", "waitingForTrigger"):
                raise CodecError(f"order status: unknown {item!r:.40}")
            out.append(Waiting(what=item))
            continue
        item = f.obj(item, "order status")
        if "resting" in item:
            resting = f.obj(item["resting"], "resting")
            out.append(Resting(oid=f.integer(resting, "oid", "resting"),
                               cloid=f.cloid(resting, "cloid", "resting")))
        elif "filled" in item:
            filled = f.obj(item["filled"], "filled")
            out.append(Filled(oid=f.integer(filled, "oid", "filled"),
                              total_sz=f.dec(filled, "totalSz", "filled"),
                              avg_px=f.dec(filled, "avgPx", "filled"),
                              cloid=f.cloid(filled, "cloid", "filled")))
        elif "error" in item:
            out.append(_error(item))
        else:
            raise CodecError("order status: expected resting, filled or error")
    return out


def parse_cancel_statuses(response: Any, n_cancels: int) -> list[CancelStatus]:
    """Per-cancel outcomes of a ``cancel`` / ``cancelByCloid`` reply: ``"success"`` or
    :class:`StatusError` (typically ``Order was never placed, already canceled, or filled.``).

    Raises:
        ExchangeError, CodecError, ValueError: as :func:`parse_order_statuses`.
    """
    out: list[CancelStatus] = []
    for item in _statuses(response, "cancel", n_cancels):
        if item == "success":
            out.append("success")
        elif isinstance(item, dict) and "error" in item:
            out.append(_error(item))
        else:
            raise CodecError("cancel status: expected 'success' or an error")
    return out


def parse_default_response(response: Any) -> None:
    """Check a ``{"status": "ok", "response": {"type": "default"}}`` reply (``scheduleCancel``,
    ``noop``, ``updateLeverage``, ...).

    Raises:
        ExchangeError: ``status: err`` (e.g. ``Cannot set scheduled cancel time until enough
            volume traded``). CodecError: another shape.
    """
    inner = parse_exchange_response(response)
    if inner.get("type") != "default":
        raise CodecError(f"exchange response: type {inner.get('type')!r:.40}, expected 'default'")
