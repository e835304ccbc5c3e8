"""The core's mutable record of one order (one cloid). Internal to :mod:`hlmaker.orders`."""

from __future__ import annotations

from decimal import Decimal

import attrs

from hlmaker.messages import OrderView, Side, Tif
from hlmaker.orders.states import OrderState

ZERO = Decimal(0)


@attrs.define(slots=True)
class TrackedOrder:
    """One order as the book tracks it.

    A modify (cancel-replace) keeps the record and the cloid and moves ``oid`` to the new order;
    old oids go to ``replaced_oids`` so late events for them are recognised. ``sz`` and
    ``leg_filled`` describe the current oid; ``total_filled`` covers every oid of the cloid.
    """

    cloid: str
    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    tif: Tif
    reduce_only: bool
    created_ms: int
    tag: str = ""
    state: OrderState = OrderState.PENDING_NEW
    oid: int | None = None
    leg_filled: Decimal = ZERO
    total_filled: Decimal = ZERO
    replaced_oids: list[int] = attrs.Factory(list)
    inflight: int | None = None
    """Request id of the outstanding request on this order, if any."""
    expires_after_ms: int | None = None
    """``expiresAfter`` of the last place/modify request (decides unknown outcomes)."""
    evidence_ms: int = 0
    """When the exchange last told us the order exists (ack, update, bind)."""
    finalized_ms: int | None = None
    pending_px: Decimal | None = None
    pending_sz: Decimal | None = None
    ack_filled_sz: Decimal | None = None
    awaiting_fills_since: int | None = None
    old_leg_canceled: bool = False
    cancel_wanted: bool = False
    unknown_since: int | None = None
    unknown_kind: str | None = None
    """``"place"`` or ``"modify"``: which request's outcome is unknown."""
    last_requery_ms: int | None = None

    def view(self) -> OrderView:
        """An immutable view of the order."""
        return OrderView(
            cloid=self.cloid,
            oid=self.oid,
            coin=self.coin,
            side=self.side,
            px=self.px,
            sz=self.sz,
            filled_sz=self.leg_filled,
            tif=self.tif,
            reduce_only=self.reduce_only,
            state=self.state.value,
            created_ms=self.created_ms,
            tag=self.tag,
        )

    @property
    def remaining(self) -> Decimal:
        """Size still open on the current oid, in coin (never negative)."""
        rem = self.sz - self.leg_filled
        return rem if rem > 0 else ZERO
