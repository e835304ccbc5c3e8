"""Reconciliation: compare the book with an exchange snapshot and decide, as data.

:func:`reconcile` is pure: it mutates only the :class:`~hlmaker.orders.core.OrderBookCore` it is
given and returns the commands to send (orphan cancels) with the counts. The order of steps is
the contract (``../shared/reliability.md``):

1. **Fills first.** The snapshot's fills go through the normal ``(oid, tid)`` de-dup, so a fill
   that was missed explains a missing order before any stale decision is taken. At the first
   reconcile of a book incarnation, fills no later than the position read are marked seen
   without moving the position (the adopted position already contains them: no replay double
   count after a restart, F9).
2. **orderStatus reports** resolve unknown outcomes: ``unknownOid`` is final only when it was
   asked after the action's ``expiresAfter`` (S6).
3. **Open orders.** A listed order we track is confirmed; one whose cloid is pending is bound
   (its ack is still in flight, F13 — never an orphan); one we finalized within the protection
   window is left alone; anything else is an *orphan*: first seen now, cancelled only when a later
   snapshot still lists it after the grace period (S4, S5).
4. **Stale orders**: live locally, absent from the snapshot, no request in flight and no evidence
   since the snapshot was requested (minus the protection window) → cancelled locally.
   Unknown-outcome orders are never removed this way.
5. **Positions**: the local position minus fills newer than the position read must equal the
   exchange's ``szi``; otherwise the exchange's is adopted and counted as a drift (F16). When
   fills for that coin were applied while the snapshot was being taken, the comparison is
   ambiguous (a fill in the same millisecond as the read may or may not be in it): the decision
   is deferred to a fresh snapshot, at most ``MAX_DEFERRALS`` sweeps (requested at distinct
   times) in a row.

A snapshot requested before the last one applied is stale: its fills and order statuses (facts)
are applied, but it decides nothing about orphans, stale orders or positions.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import Decimal

import attrs

from hlmaker.messages import (
    CancelOrders,
    CancelRequest,
    Fills,
    OpenOrder,
    OrderStatusReport,
    ReconcileRequest,
    ReconcileSnapshot,
)
from hlmaker.orders.core import Action, OrderBookCore
from hlmaker.orders.records import Orphan
from hlmaker.orders.states import Ev, OrderState, status_event
from hlmaker.orders.tracked import ZERO

log = logging.getLogger("hlmaker.book")

MAX_DEFERRALS = 3


@attrs.frozen(kw_only=True)
class ReconcileResult:
    """What one reconcile decided.

    ``actions``: commands to send (orphan cancels) and possibly a follow-up reconcile request;
    ``in_sync``: the book matched the exchange (no drift, no orphan, no stale order, nothing
    unresolved) before any correction was made.
    """

    actions: tuple[Action, ...]
    orphans_seen: int
    orphan_cancels: int
    stale_removed: int
    drifted_coins: tuple[str, ...]
    unresolved: int
    in_sync: bool


def reconcile(core: OrderBookCore, snap: ReconcileSnapshot, now_ms: int) -> ReconcileResult:
    """Apply ``snap`` to ``core`` (see the module docstring for the steps)."""
    cfg = core.config
    initial = not core.synced_once
    pos_time = snap.positions_time_ms if snap.positions_time_ms is not None else snap.taken_at_ms
    actions: list[Action] = []

    if initial and snap.fills_since_ms is not None:
        # A sweep asked for by a previous book incarnation (its fills start at that book's
        # window): adopting its position would leave the older fills unmarked, and they would
        # be counted again when the userFills snapshot brings them (found by the simulation
        # campaign, seed 7050). Wait for a whole-history sweep.
        log.info("book first sync needs a whole-history snapshot (fills since %d): asking",
                 snap.fills_since_ms)
        return ReconcileResult(actions=tuple(core.ask_reconcile("startup")), orphans_seen=0,
                               orphan_cancels=0, stale_removed=0, drifted_coins=(),
                               unresolved=_unresolved(core), in_sync=False)

    # 1. fills
    if initial:
        _initial_fills(core, [*core.presync_fills, *snap.fills], pos_time, now_ms)
        core.presync_fills = []
    elif snap.fills:
        for a in core.on_event(Fills(fills=snap.fills, source="reconcile"), now_ms):
            if not isinstance(a, ReconcileRequest):
                actions.append(a)

    # 2. orderStatus by cloid
    for rep in snap.order_statuses:
        _apply_status_report(core, rep, now_ms)

    last = core.last_snapshot_requested_ms
    if last is not None and snap.requested_at_ms < last:
        log.info("book stale snapshot requested_at=%d < %d: facts only", snap.requested_at_ms,
                 last)
        actions += core.flush_cancels(now_ms)
        return ReconcileResult(actions=tuple(actions), orphans_seen=len(core.orphans),
                               orphan_cancels=0, stale_removed=0, drifted_coins=(),
                               unresolved=_unresolved(core), in_sync=core.is_synced)
    core.last_snapshot_requested_ms = snap.requested_at_ms

    # 3. open orders
    listed: set[int] = set()
    to_cancel: list[OpenOrder] = []
    protect_from = snap.requested_at_ms - cfg.protect_ms
    for row in snap.open_orders:
        listed.add(row.oid)
        order, current = core._lookup(row.oid, row.cloid, now_ms)
        if order is not None:
            if current and not order.state.is_terminal:
                if (order.state is OrderState.UNKNOWN and order.unknown_kind == "modify"
                        and snap.requested_at_ms <= (order.expires_after_ms or 0)):
                    continue  # the old leg still rests; the replace may yet land
                core._transition(order, Ev.SNAPSHOT_OPEN, now_ms, "listed in snapshot")
                order.evidence_ms = max(order.evidence_ms, snap.requested_at_ms)
                continue
            recent = order.finalized_ms is not None and order.finalized_ms >= protect_from
            if current and recent:
                continue  # finalized while the snapshot was being taken
            if not current and (order.state is OrderState.PENDING_MODIFY
                                or order.inflight is not None):
                continue  # the leg being replaced, snapshot taken before the modify landed
            if current:
                core.counters.illegal_transitions += 1
                log.warning("book exchange lists oid=%s that we finalized as %s",
                            row.oid, order.state.value)
        if _orphan_due(core, row, now_ms):
            to_cancel.append(row)
    for oid in [oid for oid in core.orphans if oid not in listed]:
        del core.orphans[oid]

    # 4. stale
    stale = 0
    for order in core.orders.values():
        if order.oid is None or not order.state.is_live or order.oid in listed:
            continue
        if order.inflight is not None or order.evidence_ms >= protect_from:
            continue
        core._transition(order, Ev.SNAPSHOT_ABSENT, now_ms, "absent from snapshot")
        if order.state is OrderState.CANCELED:
            stale += 1
            log.info("book stale removed cloid=%s oid=%s", order.cloid, order.oid)
    core.counters.stale_removed += stale

    # 5. positions
    later: dict[str, Decimal] = defaultdict(lambda: ZERO)
    busy: set[str] = set()
    for t, coin, delta, applied_ms in core.recent_fills:
        if t > pos_time:
            later[coin] += delta
        if applied_ms >= snap.requested_at_ms:
            busy.add(coin)
    drifted: list[str] = []
    deferred = False
    for coin in sorted(set(core.positions) | set(snap.positions)):
        local = core.positions.get(coin, ZERO)
        exch = snap.positions.get(coin, ZERO)
        if local - later[coin] == exch:
            core.deferred_mismatch.pop(coin, None)
            continue
        count, last_req = core.deferred_mismatch.get(coin, (0, -1))
        if not initial and coin in busy and count < MAX_DEFERRALS:
            if snap.requested_at_ms > last_req:  # only distinct sweeps count towards the bound
                core.deferred_mismatch[coin] = (count + 1, snap.requested_at_ms)
            deferred = True
            log.info("book position check deferred coin=%s local=%s exchange=%s (fills in flight)",
                     coin, local - later[coin], exch)
            continue
        core.deferred_mismatch.pop(coin, None)
        core.positions[coin] = exch + later[coin]
        if not initial:
            drifted.append(coin)
            core.counters.position_drifts += 1
            log.warning("book position drift coin=%s local=%s exchange=%s adopted",
                        coin, local - later[coin], exch)

    if to_cancel:
        rid, exp = core._register("cancel", [], now_ms)
        core.requests[rid].remaining = len(to_cancel)
        actions.append(CancelOrders(request_id=rid, expires_after_ms=exp, cancels=tuple(
            CancelRequest(coin=r.coin, cloid=r.cloid, oid=r.oid) for r in to_cancel)))
        for r in to_cancel:
            log.warning("book orphan cancel oid=%s cloid=%s coin=%s", r.oid, r.cloid, r.coin)

    actions += core.flush_cancels(now_ms)
    unresolved = _unresolved(core)
    in_sync = not drifted and not deferred and not core.orphans and stale == 0 and not unresolved
    if deferred:
        actions += core.ask_reconcile("gap")
    core.is_synced = in_sync
    core.synced_once = True
    log.info(
        "book sync exchange_open=%d local_open=%d orphans=%d stale=%d drifts=%d unresolved=%d "
        "synced=%s", len(snap.open_orders), len(core.live_oids()), len(core.orphans), stale,
        len(drifted), unresolved, in_sync,
    )
    return ReconcileResult(
        actions=tuple(actions), orphans_seen=len(core.orphans), orphan_cancels=len(to_cancel),
        stale_removed=stale, drifted_coins=tuple(drifted), unresolved=unresolved, in_sync=in_sync,
    )


def _unresolved(core: OrderBookCore) -> int:
    return sum(1 for o in core.orders.values() if o.state is OrderState.UNKNOWN)


def _initial_fills(core: OrderBookCore, fills: list, pos_time: int, now_ms: int) -> None:
    for f in sorted(fills, key=lambda f: (f.time_ms, f.tid)):
        key = (f.oid, f.tid)
        if key in core.dedup:
            continue
        if f.time_ms <= pos_time:
            core.dedup.add(key)
            core.counters.fills_preexisting += 1
            if core.last_fill_ms is None or f.time_ms > core.last_fill_ms:
                core.last_fill_ms = f.time_ms
            core._fill_order_state(f, now_ms)
        else:
            core.apply_fill(f, now_ms, check_gap=False)


def _orphan_due(core: OrderBookCore, row: OpenOrder, now_ms: int) -> bool:
    """Track ``row`` as an orphan; True when its grace is over and a cancel should go out."""
    orphan = core.orphans.get(row.oid)
    if orphan is None:
        if len(core.orphans) >= core.config.max_tracked_orders:
            return False
        core.orphans[row.oid] = Orphan(coin=row.coin, cloid=row.cloid, first_seen_ms=now_ms)
        core.counters.orphans_detected += 1
        log.warning("book orphan detected oid=%s cloid=%s coin=%s", row.oid, row.cloid, row.coin)
        return core.config.orphan_grace_ms == 0
    if now_ms - orphan.first_seen_ms < core.config.orphan_grace_ms:
        return False
    if orphan.cancel_sent_ms is not None and now_ms - orphan.cancel_sent_ms < (
        core.config.action_ttl_ms + core.config.watchdog_grace_ms
    ):
        return False
    orphan.cancel_sent_ms = now_ms
    return True


def _apply_status_report(core: OrderBookCore, rep: OrderStatusReport, now_ms: int) -> None:
    order = core.orders.get(rep.cloid)
    if order is None or order.state.is_terminal:
        return
    if rep.status is None:
        exp = order.expires_after_ms
        if order.state is OrderState.UNKNOWN and exp is not None and rep.queried_at_ms > exp:
            core._transition(order, Ev.STATUS_NEVER_LANDED, now_ms, "unknownOid after expiry")
            log.info("book unknown resolved cloid=%s never landed", order.cloid)
        return
    if rep.order is None:
        return  # a status without its order names no oid: the open-orders rows decide
    ev = status_event(rep.status)
    if ev is None:
        return
    # A rejected replacement of a modify never lived: it must not take the cloid (found by the
    # simulation campaign, seeds 1008 and 1037).
    found, current = core._lookup(rep.order.oid, rep.cloid, now_ms,
                                  rejected=ev is Ev.UPDATE_REJECTED)
    if found is not order or not current:
        return
    if ev is Ev.UPDATE_OPEN:
        if (order.state is OrderState.UNKNOWN and order.unknown_kind == "modify"
                and rep.queried_at_ms <= (order.expires_after_ms or 0)):
            return  # the old leg still rests; the replace may yet land
        ev = Ev.SNAPSHOT_OPEN
    order.evidence_ms = max(order.evidence_ms, rep.queried_at_ms)
    core._transition(order, ev, now_ms, f"orderStatus={rep.status}")
