"""Executor outcomes → state: the half of the order core that acknowledgements drive.

A mixin of :class:`hlmaker.orders.core.OrderBookCore` (kept in its own module to keep each file
about one concept, like :mod:`hlmaker.orders.intents`). An outcome settles its request, then
moves the order along the transition table (:mod:`hlmaker.orders.states`):

* a place ack binds the exchange's ``oid`` to the pending cloid (:meth:`finalize`) and replays
  any event held for that oid (the fill that beat its ack);
* a modify ack rebinds the cloid to the new oid, unless the cloid already moved past it (a late
  answer to an earlier modify is a :class:`~hlmaker.orders.records.Note`, never a rebind);
* a cancel outcome finalizes the order, or an orphan, or is noted as late;
* :class:`~hlmaker.messages.RequestUnknown` moves placements and modifies to ``UNKNOWN`` (never a
  guess) and asks for a reconcile, whose ``orderStatus`` reads resolve them.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from hlmaker.messages import (
    CancelFailed,
    CancelOk,
    ModifyFilled,
    ModifyRejected,
    ModifyResting,
    OrderFilled,
    OrderRejected,
    OrderResting,
    RequestUnknown,
    ScheduleCancelResult,
)
from hlmaker.orders.records import Finalize, NoteKind
from hlmaker.orders.states import Ev, OrderState
from hlmaker.orders.tracked import TrackedOrder

if TYPE_CHECKING:
    from hlmaker.orders.core import Action, OrderBookCore

    _Base = OrderBookCore
else:
    _Base = object

log = logging.getLogger("hlmaker.book")


class OutcomesMixin(_Base):
    """Executor outcomes in, order state transitions out (see the module docstring)."""

    def on_outcome(self, msg: object, now_ms: int) -> list[Action]:
        """Apply one executor outcome."""
        if isinstance(msg, OrderResting | OrderFilled | OrderRejected):
            return self._on_place_outcome(msg, now_ms)
        if isinstance(msg, ModifyResting | ModifyFilled | ModifyRejected):
            return self._on_modify_outcome(msg, now_ms)
        if isinstance(msg, CancelOk | CancelFailed):
            return self._on_cancel_outcome(msg, now_ms)
        if isinstance(msg, RequestUnknown):
            return self._on_unknown(msg, now_ms)
        if isinstance(msg, ScheduleCancelResult):
            if msg.error:
                self._note(NoteKind.BAD_INPUT, f"scheduleCancel refused: {msg.error}")
            return []
        return self._bad(f"not an outcome: {type(msg).__name__}")

    def finalize(self, order: TrackedOrder, oid: int, now_ms: int) -> Finalize:
        """Bind an acknowledged ``oid`` to ``order``; say how it met the order."""
        if order.oid is None:
            self._bind(order, oid, now_ms)
            return Finalize.FROM_PENDING
        if order.oid == oid:
            order.evidence_ms = now_ms
            return Finalize.ALREADY_TRACKED
        if oid in order.replaced_oids:
            return Finalize.ALREADY_TRACKED
        return Finalize.CONFLICT

    def _on_place_outcome(self, msg: OrderResting | OrderFilled | OrderRejected,
                          now_ms: int) -> list[Action]:
        order = self.orders.get(msg.cloid)
        if order is None:
            self._settle(msg.request_id, None)
            self.counters.acks_unknown_cloid += 1
            return self._bad(f"ack for unknown cloid {msg.cloid} ({Finalize.UNKNOWN_CLOID.value})")
        self._settle(msg.request_id, order)
        if isinstance(msg, OrderRejected):
            self.counters.rejects += 1
            log.info("book reject cloid=%s error=%r", order.cloid, msg.error)
            self._transition(order, Ev.ACK_REJECTED, now_ms, msg.error)
            return []
        how = self.finalize(order, msg.oid, now_ms)
        if how is Finalize.CONFLICT:
            self.counters.illegal_transitions += 1
            self._note(NoteKind.ILLEGAL_TRANSITION,
                       f"ack oid={msg.oid} but cloid={order.cloid} is bound to oid={order.oid}")
            return []
        actions: list[Action] = []
        if isinstance(msg, OrderFilled):
            actions += self._ack_filled(order, msg.total_sz, now_ms)
        else:
            self._transition(order, Ev.ACK_RESTING, now_ms)
        actions += self._replay_held(msg.oid, now_ms)
        return actions

    def _ack_filled(self, order: TrackedOrder, total_sz: Decimal, now_ms: int) -> list[Action]:
        self._transition(order, Ev.ACK_FILLED, now_ms)
        order.ack_filled_sz = total_sz
        if order.leg_filled < total_sz:
            order.awaiting_fills_since = now_ms
        return []

    def _on_modify_outcome(self, msg: ModifyResting | ModifyFilled | ModifyRejected,
                           now_ms: int) -> list[Action]:
        order = self.orders.get(msg.cloid)
        if order is None:
            self._settle(msg.request_id, None)
            return self._bad(f"modify outcome for unknown cloid {msg.cloid}")
        self._settle(msg.request_id, order)
        if isinstance(msg, ModifyRejected):
            log.info("book modify rejected cloid=%s error=%r", order.cloid, msg.error)
            self.counters.rejects += 1
            order.pending_px = order.pending_sz = None
            if order.old_leg_canceled and order.state is OrderState.PENDING_MODIFY:
                self._transition(order, Ev.UPDATE_CANCELED, now_ms, "old leg canceled")
            else:
                self._transition(order, Ev.MODIFY_REJECTED, now_ms, msg.error)
            return []
        if msg.new_oid in order.replaced_oids:
            # A late answer to an earlier modify: the cloid has already moved past that oid.
            self.counters.late_events += 1
            self._note(NoteKind.LATE_EVENT, f"stale modify ack cloid={order.cloid} "
                       f"new={msg.new_oid} (now at oid={order.oid})")
            return []
        if order.oid != msg.new_oid:
            if order.oid is not None and order.oid != msg.old_oid and order.state not in (
                OrderState.PENDING_MODIFY, OrderState.UNKNOWN
            ):
                self.counters.illegal_transitions += 1
                self._note(NoteKind.ILLEGAL_TRANSITION,
                           f"modify ack old={msg.old_oid} new={msg.new_oid} but cloid is at "
                           f"oid={order.oid} state={order.state.value}")
            if not order.state.is_terminal:
                self._rebind(order, msg.new_oid, now_ms)
        actions: list[Action] = []
        if isinstance(msg, ModifyFilled):
            actions += self._ack_filled(order, msg.total_sz, now_ms)
        else:
            self._transition(order, Ev.MODIFY_OK, now_ms)
        actions += self._replay_held(msg.new_oid, now_ms)
        return actions

    def _on_cancel_outcome(self, msg: CancelOk | CancelFailed, now_ms: int) -> list[Action]:
        order = self.orders.get(msg.cloid) if msg.cloid else None
        if order is None and msg.oid is not None:
            cloid = self.oid_to_cloid.get(msg.oid)
            order = self.orders.get(cloid) if cloid else None
        # Routed by cloid first: an oid the exchange lists under one of our cloids is our own
        # order (a replacement leg whose modify ack is late, F13), even when a sweep flagged
        # it as an orphan and cancelled it — its CancelOk finalizes our order.
        self._settle(msg.request_id, order)
        if order is None:
            orphan = self.orphans.get(msg.oid) if msg.oid is not None else None
            if orphan is not None:
                if isinstance(msg, CancelOk):
                    self.counters.orphans_cancelled += 1
                    del self.orphans[msg.oid]  # type: ignore[arg-type]
                    log.info("book orphan cancelled oid=%s", msg.oid)
                else:
                    orphan.cancel_sent_ms = None  # gone or not: the next snapshot tells
                return []
            if msg.cloid is None or msg.cloid not in self.orders:
                self.counters.late_events += 1
                self._note(NoteKind.LATE_EVENT, f"cancel outcome for untracked {msg!r}")
            return []
        if isinstance(msg, CancelOk):
            self._transition(order, Ev.CANCEL_OK, now_ms)
            return []
        log.info("book cancel failed cloid=%s oid=%s error=%r", order.cloid, msg.oid, msg.error)
        self._transition(order, Ev.CANCEL_FAILED, now_ms, msg.error)
        if order.state is OrderState.PENDING_CANCEL:
            return self.ask_reconcile("cancel_failed")
        return []

    def _on_unknown(self, msg: RequestUnknown, now_ms: int) -> list[Action]:
        log.warning("book request unknown id=%s kind=%s cloids=%d reason=%s",
                    msg.request_id, msg.kind, len(msg.cloids), msg.reason)
        self.is_synced = False
        for cloid in msg.cloids:
            order = self.orders.get(cloid)
            self._settle(msg.request_id, order)
            if order is None or order.state.is_terminal:
                continue
            if msg.kind in ("place", "modify"):
                was = order.state
                order.expires_after_ms = msg.expires_after_ms
                self._transition(order, Ev.TIMEOUT, now_ms, msg.reason)
                if order.state is OrderState.UNKNOWN and was is not OrderState.UNKNOWN:
                    self.counters.unknown_opened += 1
                    order.unknown_since = now_ms
                    order.unknown_kind = msg.kind
        req = self.requests.get(msg.request_id)
        if req is not None and not any(
                (o := self.orders.get(c)) is not None and o.inflight == msg.request_id
                for c in req.cloids):
            # Forget the request unless other parts of it (the executor sends a command over
            # 200 orders, or cancels by oid and by cloid, as separate actions) still await
            # their outcomes: the watchdog must still see those.
            del self.requests[msg.request_id]
        return self.ask_reconcile("unknown_outcome")
