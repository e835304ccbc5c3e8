"""Executor commands: what the book asks the executor to send to the exchange.

Every command carries a ``request_id`` chosen by the book (unique per book incarnation), which
the executor copies into every outcome it reports, and ``expires_after_ms``: the executor sends it
as the action's ``expiresAfter`` and must not send the action at all once that time has passed (it
then reports the orders rejected with ``error="expired before send"``). The book therefore knows,
for every request, the instant after which it can no longer land.

The executor signs one action per command (one ``order`` action for a whole ladder, one
``cancel`` for many) and keeps only request bookkeeping.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from hlmaker.messages.common import Side, Tif


@attrs.frozen(kw_only=True)
class OrderRequest:
    """One order inside :class:`PlaceOrders` or :class:`ModifyOrders`."""

    cloid: str
    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    tif: Tif = "Alo"
    reduce_only: bool = False


@attrs.frozen(kw_only=True)
class PlaceOrders:
    """Send one ``order`` action holding ``orders`` (grouping ``na``)."""

    request_id: int
    expires_after_ms: int
    orders: tuple[OrderRequest, ...]


@attrs.frozen(kw_only=True)
class CancelRequest:
    """Cancel one order: by ``oid`` when it is known, else by ``cloid`` (``cancelByCloid``).

    ``cloid`` is ``None`` only for orphans the exchange listed without one.
    """

    coin: str
    cloid: str | None
    oid: int | None = None


@attrs.frozen(kw_only=True)
class CancelOrders:
    """Send one ``cancel`` action (and/or one ``cancelByCloid`` for entries without an oid)."""

    request_id: int
    expires_after_ms: int
    cancels: tuple[CancelRequest, ...]


@attrs.frozen(kw_only=True)
class ModifyRequest:
    """Replace live order ``oid`` with ``order`` (same cloid, new oid on success)."""

    oid: int
    order: OrderRequest


@attrs.frozen(kw_only=True)
class ModifyOrders:
    """Send one ``batchModify`` action."""

    request_id: int
    expires_after_ms: int
    modifies: tuple[ModifyRequest, ...]


@attrs.frozen(kw_only=True)
class ScheduleCancel:
    """Arm (``at_ms``) or clear (``None``) the exchange's dead-man switch (``scheduleCancel``)."""

    request_id: int
    expires_after_ms: int
    at_ms: int | None


Command = PlaceOrders | CancelOrders | ModifyOrders | ScheduleCancel
