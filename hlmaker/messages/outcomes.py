"""Executor outcomes: what happened to each command, reported back to the book.

The executor reports exactly one outcome per order (or cancel, or modify) in every command it
received, in request order. A whole batch rejected with a single error (exchange pre-validation,
``../shared/hyperliquid-protocol.md`` §4.3) becomes one ``*Rejected`` per order with that text.
A request whose response never came (timeout, lost connection after sending) is reported as
:class:`RequestUnknown`: the action may or may not have landed; it cannot land after
``expires_after_ms``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import attrs


@attrs.frozen(kw_only=True)
class OrderResting:
    """The order was accepted and rests on the book with ``oid``."""

    request_id: int
    cloid: str
    oid: int


@attrs.frozen(kw_only=True)
class OrderFilled:
    """The order filled at once in the ack: ``total_sz`` coin at average ``avg_px``.

    For a GTC/ALO order that filled partly and rests, the exchange answers ``resting`` instead.
    The same fills also arrive over the WebSocket; the book counts them once.
    """

    request_id: int
    cloid: str
    oid: int
    total_sz: Decimal
    avg_px: Decimal


@attrs.frozen(kw_only=True)
class OrderRejected:
    """The exchange refused the order; ``error`` is its text, verbatim."""

    request_id: int
    cloid: str
    error: str


@attrs.frozen(kw_only=True)
class ModifyResting:
    """``batchModify`` replaced ``old_oid`` by ``new_oid`` (same cloid), now resting."""

    request_id: int
    cloid: str
    old_oid: int
    new_oid: int


@attrs.frozen(kw_only=True)
class ModifyFilled:
    """``batchModify`` replaced ``old_oid``; the new order ``new_oid`` filled at once."""

    request_id: int
    cloid: str
    old_oid: int
    new_oid: int
    total_sz: Decimal
    avg_px: Decimal


@attrs.frozen(kw_only=True)
class ModifyRejected:
    """``batchModify`` of ``old_oid`` failed with ``error`` (the old order may still rest, or may
    have filled or been cancelled meanwhile — the book waits for evidence)."""

    request_id: int
    cloid: str
    old_oid: int
    error: str


@attrs.frozen(kw_only=True)
class CancelOk:
    """The exchange answered ``success`` for the cancel of ``cloid`` (``oid`` if it was by oid)."""

    request_id: int
    cloid: str | None
    oid: int | None


@attrs.frozen(kw_only=True)
class CancelFailed:
    """The cancel was refused, typically ``Order was never placed, already canceled, or
    filled.``: the order is gone or about to be reported filled; the book waits for evidence."""

    request_id: int
    cloid: str | None
    oid: int | None
    error: str


RequestKind = Literal["place", "cancel", "modify", "schedule_cancel"]


@attrs.frozen(kw_only=True)
class RequestUnknown:
    """The request timed out or its response was lost: the outcome is unknown.

    ``cloids`` names every order the request touched. The action carried
    ``expiresAfter = expires_after_ms``, so after that time an ``orderStatus`` by cloid answering
    ``unknownOid`` proves a placement never landed.
    """

    request_id: int
    kind: RequestKind
    cloids: tuple[str, ...]
    expires_after_ms: int
    reason: str


@attrs.frozen(kw_only=True)
class ScheduleCancelResult:
    """Outcome of arming or clearing the dead-man switch; ``error`` is ``None`` on success."""

    request_id: int
    at_ms: int | None
    error: str | None = None


Outcome = (
    OrderResting
    | OrderFilled
    | OrderRejected
    | ModifyResting
    | ModifyFilled
    | ModifyRejected
    | CancelOk
    | CancelFailed
    | RequestUnknown
    | ScheduleCancelResult
)
