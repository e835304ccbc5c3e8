"""Executor outcomes → state: the part of the order core that acknowledgements drive.

Plain functions over an :class:`~hlmaker.orders.registry.OrderRegistry`, each taking ``now_ms``
(ms since the epoch) and returning actions as data. An outcome settles its request, then moves
the order along the transition tables (:mod:`hlmaker.orders.states`):

* a place ack binds the exchange's ``oid`` to the pending cloid
  (:meth:`~hlmaker.orders.registry.OrderRegistry.finalize`) and replays any event held for that
  oid (the fill that beat its ack);
* a modify ack rebinds the cloid to the new oid (Hyperliquid's ``batchModify`` is cancel-replace:
  a new oid, the same cloid), unless the cloid already moved past it (a late answer to an earlier
  modify is a :class:`~hlmaker.orders.records.Note`, never a rebind);
* a cancel outcome finalizes the order, or an orphan, or is noted as late;
* :class:`~hlmaker.messages.RequestUnknown` moves placements and modifies to ``UNKNOWN`` (never a
  guess) and asks for a reconcile, whose ``orderStatus`` reads resolve them.

An outcome for a cloid the book does not track is bad input (counted, noted), never an error.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from hlmaker.messages import (
    CancelFailed,
    CancelOk,
    ModifyFilled,
    ModifyRejected,
    ModifyResting,
    OrderFilled,
    OrderRejected,
    OrderResting,
    ReconcileRequest,
    RequestUnknown,
    ScheduleCancelResult,
)
from hlmaker.orders.actions import Action
from hlmaker.orders.apply_events import replay_held
from hlmaker.orders.records import Finalize, NoteKind
from hlmaker.orders.registry import OrderRegistry
from hlmaker.orders.states import Ev, OrderState
from hlmaker.orders.tracked import TrackedOrder

log = logging.getLogger("hlmaker.book")


def on_outcome(reg: OrderRegistry, msg: object, now_ms: int) -> list[Action]:
    """Apply one executor outcome (place, modify or cancel answer per order;
    :class:`RequestUnknown`; :class:`ScheduleCancelResult`). Returns at most one reconcile
    request plus any command the replayed events call for. A non-outcome is bad input."""
    if isinstance(msg, OrderResting | OrderFilled | OrderRejected):
        return on_place_outcome(reg, msg, now_ms)
    if isinstance(msg, ModifyResting | ModifyFilled | ModifyRejected):
        return on_modify_outcome(reg, msg, now_ms)
    if isinstance(msg, CancelOk | CancelFailed):
        return on_cancel_outcome(reg, msg, now_ms)
    if isinstance(msg, RequestUnknown):
        return on_unknown(reg, msg, now_ms)
    if isinstance(msg, ScheduleCancelResult):
        if msg.error:
            reg.note(NoteKind.BAD_INPUT, f"scheduleCancel refused: {msg.error}")
        return []
    return reg.bad(f"not an outcome: {type(msg).__name__}")


def on_place_outcome(reg: OrderRegistry, msg: OrderResting | OrderFilled | OrderRejected,
                     now_ms: int) -> list[Action]:
    """A place ack: ``resting`` (oid) binds and moves ``ACK_RESTING``; ``filled`` (oid,
    ``totalSz`` coin) moves ``ACK_FILLED`` and waits for the fills themselves (the ack has no
    tid: fills count only from the fill stream, once); an error rejects. A conflicting oid is
    an illegal transition (noted; nothing changes)."""
    order = reg.orders.get(msg.cloid)
    if order is None:
        reg.settle(msg.request_id, None)
        reg.counters.acks_unknown_cloid += 1
        return reg.bad(f"ack for unknown cloid {msg.cloid} ({Finalize.UNKNOWN_CLOID.value})")
    reg.settle(msg.request_id, order)
    if isinstance(msg, OrderRejected):
        reg.counters.rejects += 1
        log.info("book reject cloid=%s error=%r", order.cloid, msg.error)
        reg.transition(order, Ev.ACK_REJECTED, now_ms, msg.error)
        return []
    how = reg.finalize(order, msg.oid, now_ms)
    if how is Finalize.CONFLICT:
        reg.counters.illegal_transitions += 1
        reg.note(NoteKind.ILLEGAL_TRANSITION,
                 f"ack oid={msg.oid} but cloid={order.cloid} is bound to oid={order.oid}")
        return []
    if isinstance(msg, OrderFilled):
        ack_filled(reg, order, msg.total_sz, now_ms)
    else:
        reg.transition(order, Ev.ACK_RESTING, now_ms)
    return replay_held(reg, msg.oid, now_ms)


def ack_filled(reg: OrderRegistry, order: TrackedOrder, total_sz: Decimal, now_ms: int) -> None:
    """An ack said the order filled ``total_sz`` (coin): ``ACK_FILLED``, and start waiting for
    the fills if fewer have arrived (a reconcile is asked after ``missing_fill_wait_ms``)."""
    reg.transition(order, Ev.ACK_FILLED, now_ms)
    order.ack_filled_sz = total_sz
    if order.leg_filled < total_sz:
        order.awaiting_fills_since = now_ms


def on_modify_outcome(reg: OrderRegistry, msg: ModifyResting | ModifyFilled | ModifyRejected,
                      now_ms: int) -> list[Action]:
    """A ``batchModify`` answer: refused → the old leg still rests (or, if the exchange said it
    was cancelled meanwhile, the order is cancelled: a flag-driven edge of the tables); accepted
    → the cloid moves to ``new_oid`` (``MODIFY_OK`` or ``ACK_FILLED``) and events held for that
    oid are replayed. An answer naming an oid the cloid already left is late (noted), and so
    is a refusal, or an acceptance naming the oid the cloid is already at, for a modify the
    order has moved past (a newer place/modify in flight)."""
    order = reg.orders.get(msg.cloid)
    if order is None:
        reg.settle(msg.request_id, None)
        return reg.bad(f"modify outcome for unknown cloid {msg.cloid}")
    reg.settle(msg.request_id, order)
    if (not isinstance(msg, ModifyFilled) and order.inflight is not None
            and order.inflight != msg.request_id and reg.inflight_kind(order) != "cancel"
            and (isinstance(msg, ModifyRejected) or msg.new_oid == order.oid)):
        # A late answer to a modify the order has moved past: the watchdog gave it up (its
        # answer came after expiresAfter + grace, e.g. across a clock jump), the order stream
        # had already moved the cloid to its new leg, and a newer place/modify now owns the
        # order. It tells nothing new about the order, and applying it would take the order
        # out of PENDING_MODIFY while the newer modify is in flight — whose landing (old leg
        # cancelled) would then finalize the order and leave the new leg untracked beside a
        # fresh ladder (S9, chaos seed 281 × 5 min).
        reg.counters.late_events += 1
        reg.note(NoteKind.LATE_EVENT, f"stale modify answer id={msg.request_id} for "
                 f"cloid={order.cloid} (request {order.inflight} in flight)")
        return []
    if isinstance(msg, ModifyRejected):
        log.info("book modify rejected cloid=%s error=%r", order.cloid, msg.error)
        reg.counters.rejects += 1
        order.pending_px = order.pending_sz = None
        reg.transition(order, Ev.MODIFY_REJECTED, now_ms, msg.error)
        return []
    if msg.new_oid in order.replaced_oids:
        # A late answer to an earlier modify: the cloid has already moved past that oid.
        reg.counters.late_events += 1
        reg.note(NoteKind.LATE_EVENT, f"stale modify ack cloid={order.cloid} "
                 f"new={msg.new_oid} (now at oid={order.oid})")
        return []
    if order.oid != msg.new_oid:
        if order.oid is not None and order.oid != msg.old_oid and order.state not in (
            OrderState.PENDING_MODIFY, OrderState.UNKNOWN
        ):
            reg.counters.illegal_transitions += 1
            reg.note(NoteKind.ILLEGAL_TRANSITION,
                     f"modify ack old={msg.old_oid} new={msg.new_oid} but cloid is at "
                     f"oid={order.oid} state={order.state.value}")
        if not order.state.is_terminal:
            reg.rebind(order, msg.new_oid, now_ms)
    if isinstance(msg, ModifyFilled):
        ack_filled(reg, order, msg.total_sz, now_ms)
    else:
        reg.transition(order, Ev.MODIFY_OK, now_ms)
    return replay_held(reg, msg.new_oid, now_ms)


def on_cancel_outcome(reg: OrderRegistry, msg: CancelOk | CancelFailed,
                      now_ms: int) -> list[Action]:
    """A cancel answer, routed by cloid first (an oid listed under one of our cloids is our own
    leg, F13), then by oid, then to an orphan. ``CancelOk`` → ``CANCEL_OK``; a failure
    (Hyperliquid: "never placed, already canceled, or filled") → ``CANCEL_FAILED`` and, if the
    order is still pending cancel, ``[ReconcileRequest("cancel_failed")]`` to learn which."""
    order = reg.orders.get(msg.cloid) if msg.cloid else None
    if order is None and msg.oid is not None:
        cloid = reg.oid_to_cloid.get(msg.oid)
        order = reg.orders.get(cloid) if cloid else None
    # Routed by cloid first: an oid the exchange lists under one of our cloids is our own
    # order (a replacement leg whose modify ack is late, F13), even when a sweep flagged
    # it as an orphan and cancelled it — its CancelOk finalizes our order.
    reg.settle(msg.request_id, order)
    if order is None:
        orphan = reg.orphans.get(msg.oid) if msg.oid is not None else None
        if orphan is not None:
            if isinstance(msg, CancelOk):
                reg.counters.orphans_cancelled += 1
                reg.drop_orphan(msg.oid)  # type: ignore[arg-type]
                log.info("book orphan cancelled oid=%s", msg.oid)
            else:
                orphan.cancel_sent_ms = None  # gone or not: the next snapshot tells
            return []
        if msg.oid is not None and msg.oid in reg.leftovers:
            # An order of ours this book did not place. Cancelled at start-up: a whole-history
            # sweep confirms it is gone before the strategy may quote. A late landing after the
            # first sync: a sweep confirms it and re-syncs the book.
            if isinstance(msg, CancelOk):
                reg.counters.leftovers_cancelled += 1
                log.info("book cancelled leftover oid=%s", msg.oid)
            if reg.ready:
                return list(reg.ask_reconcile("orphan"))
            return [ReconcileRequest(reason="startup", since_ms=None)]
        if msg.cloid is None or msg.cloid not in reg.orders:
            reg.counters.late_events += 1
            reg.note(NoteKind.LATE_EVENT, f"cancel outcome for untracked {msg!r}")
        return []
    if isinstance(msg, CancelOk):
        reg.transition(order, Ev.CANCEL_OK, now_ms)
        return []
    log.info("book cancel failed cloid=%s oid=%s error=%r", order.cloid, msg.oid, msg.error)
    reg.transition(order, Ev.CANCEL_FAILED, now_ms, msg.error)
    if order.state is OrderState.PENDING_CANCEL:
        return list(reg.ask_reconcile("cancel_failed"))
    return []


def on_unknown(reg: OrderRegistry, msg: RequestUnknown, now_ms: int) -> list[Action]:
    """A request whose outcome is unknown (timeout, lost connection, an error after the action
    may have landed): its place/modify orders go ``TIMEOUT`` (→ ``UNKNOWN``, left only on
    exchange evidence); the book is unsynced; ``[ReconcileRequest("unknown_outcome")]``. An
    order on which a newer place or modify is in flight is left alone (a late verdict on a
    request the watchdog already gave up, noted)."""
    log.warning("book request unknown id=%s kind=%s cloids=%d reason=%s",
                msg.request_id, msg.kind, len(msg.cloids), msg.reason)
    reg.mark_unsynced()
    for cloid in msg.cloids:
        order = reg.orders.get(cloid)
        reg.settle(msg.request_id, order)
        if order is None or order.state.is_terminal:
            continue
        if (order.inflight is not None and order.inflight != msg.request_id
                and reg.inflight_kind(order) != "cancel"):
            # A late verdict on a request the order has moved past: the watchdog already gave
            # it up (its outcome came later than expiresAfter + grace, e.g. across a clock
            # jump) and a newer place/modify now owns the order. It says nothing about that
            # one: applying it would put the newer modify's order in UNKNOWN under the old
            # expiresAfter, and a snapshot would then settle it RESTING while the newer
            # modify is still in flight — its landing (old leg cancelled) would finalize the
            # order and leave the replacement leg untracked beside a fresh ladder (S9).
            # A cancel in flight does not supersede the placement: its unknown still counts.
            reg.counters.late_events += 1
            reg.note(NoteKind.LATE_EVENT, f"stale unknown outcome id={msg.request_id} for "
                     f"cloid={cloid} (request {order.inflight} in flight)")
            continue
        if msg.kind in ("place", "modify"):
            was = order.state
            order.expires_after_ms = msg.expires_after_ms
            reg.transition(order, Ev.TIMEOUT, now_ms, msg.reason)
            if order.state is OrderState.UNKNOWN and was is not OrderState.UNKNOWN:
                reg.counters.unknown_outcomes += 1
                order.unknown_since = now_ms
                order.unknown_kind = msg.kind
    req = reg.requests.get(msg.request_id)
    if req is not None and not any(
            (o := reg.orders.get(c)) is not None and o.inflight == msg.request_id
            for c in req.cloids):
        # Forget the request unless other parts of it (the executor sends a command over
        # 200 orders, or cancels by oid and by cloid, as separate actions) still await
        # their outcomes: the watchdog must still see those.
        reg.forget_request(msg.request_id)
    return list(reg.ask_reconcile("unknown_outcome"))
