"""Time → state: what the book does when time passes with no message (its timer).

:func:`tick` is a plain function over an :class:`~hlmaker.orders.registry.OrderRegistry`; the
book actor calls it every ``tick_interval_s`` with ``now_ms`` (ms since the epoch, never going
back).
"""

from __future__ import annotations

from hlmaker.messages import ReconcileReason, RequestUnknown
from hlmaker.orders.actions import Action
from hlmaker.orders.apply_events import dedupe_reconciles
from hlmaker.orders.apply_outcomes import on_unknown
from hlmaker.orders.records import NoteKind
from hlmaker.orders.registry import OrderRegistry
from hlmaker.orders.states import OrderState


def tick(reg: OrderRegistry, now_ms: int) -> list[Action]:
    """Expire held events; treat a request with no outcome ``watchdog_grace_ms`` after its
    ``expiresAfter`` as unknown (the exchange drops an action received after it, so by then the
    answer can only be lost); re-query ``UNKNOWN`` orders every ``unknown_requery_ms``; ask for
    the fills an ack said filled once ``missing_fill_wait_ms`` passed; ask about orphans whose
    grace is over; evict old terminal orders. Returns the commands and at most one
    :class:`~hlmaker.messages.ReconcileRequest` (the first reason wins)."""
    actions: list[Action] = []
    for oid, ev in reg.expire_held(now_ms):
        reg.counters.early_events_expired += 1
        reg.note(NoteKind.UNTRACKED, f"held event for oid={oid} expired: {type(ev).__name__}")
    grace = reg.config.watchdog_grace_ms
    for rid, req in list(reg.requests.items()):
        if now_ms > req.expires_after_ms + grace:
            actions += on_unknown(reg, RequestUnknown(
                request_id=rid, kind=req.kind, cloids=tuple(req.cloids),  # type: ignore
                expires_after_ms=req.expires_after_ms,
                reason="no outcome from the executor"), now_ms)
    need: ReconcileReason | None = None
    cfg = reg.config
    for o in reg.orders.values():
        if o.state is OrderState.UNKNOWN and (
            o.last_requery_ms is None
            or now_ms - o.last_requery_ms >= cfg.unknown_requery_ms
        ):
            o.last_requery_ms = now_ms
            need = "unknown_outcome"
        if (o.awaiting_fills_since is not None
                and now_ms - o.awaiting_fills_since >= cfg.missing_fill_wait_ms):
            o.awaiting_fills_since = now_ms
            need = need or "missing_fills"
    if any(now_ms - orph.first_seen_ms >= cfg.orphan_grace_ms
           and orph.cancel_sent_ms is None for orph in reg.orphans.values()):
        need = need or "orphan"
    if need:
        actions += reg.ask_reconcile(need)
    reg.evict(now_ms)
    return dedupe_reconciles(actions)
