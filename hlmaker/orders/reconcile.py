"""Reconciliation: compare the book with an exchange snapshot and decide, as data.

:func:`reconcile` is pure: it changes only the :class:`~hlmaker.orders.registry.OrderRegistry`
it is given (through its public API) and returns the commands to send (orphan cancels) with the
counts. The book reaches it through one door: :meth:`OrderBookCore.handle
<hlmaker.orders.core.OrderBookCore.handle>` of a :class:`~hlmaker.messages.ReconcileSnapshot`.
Sizes in coin, prices in quote currency, times in ms since the epoch. The order of steps is
the contract (``../shared/reliability.md``):

1. **Fills first.** The snapshot's fills go through the normal ``(oid, tid)`` de-dup, so a fill
   that was missed explains a missing order before any stale decision is taken. At the first
   reconcile of a book incarnation, fills no later than the position read are marked seen
   without moving the position (the adopted position already contains them: no replay double
   count after a restart, F9).
2. **orderStatus reports** resolve unknown outcomes: ``unknownOid`` is final only when it was
   asked after the action's ``expiresAfter`` (S6).
3. **Open orders.** A listed order we track is confirmed (a row with ``isTrigger`` true — a
   trigger order waiting for its trigger — as WAITING, not RESTING); one whose cloid is pending
   is bound (its ack is still in flight, F13 — never an orphan); one we finalized within the
   protection window is left alone; a foreign one (no cloid of ours) is recorded, never touched
   under ``foreign_orders = "ignore"``; one of ours this book does not track is a *leftover*
   when the book has not synced yet (cancelled at once, or adopted: ``on_start``) or when this
   book incarnation did not draw its cloid — a late landing of another process's or of a
   crashed earlier incarnation's placement (cancelled at once, the book unsynced until a sweep
   confirms); anything else — a cloid this incarnation drew — is an *orphan*: first seen now,
   cancelled only when a later snapshot still lists it after the grace period (S4, S5).
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
from typing import get_args

import attrs

from hlmaker.messages import (
    CancelOrders,
    CancelRequest,
    Fill,
    Fills,
    OpenOrder,
    OrderStatusReport,
    ReconcileRequest,
    ReconcileSnapshot,
    Tif,
)
from hlmaker.orders.actions import Action
from hlmaker.orders.apply_events import apply_fill, attach, fill_order_state, on_fills
from hlmaker.orders.apply_intents import flush_cancels
from hlmaker.orders.registry import OrderRegistry
from hlmaker.orders.states import Ev, OrderState, status_event
from hlmaker.orders.tracked import ZERO, TrackedOrder

log = logging.getLogger("hlmaker.book")

MAX_DEFERRALS = 3

# Read per listed order: module constants (``Ev.X`` is a slow read on Python 3.11, see states.py).
_SNAPSHOT_OPEN, _UNKNOWN, _WAITING = Ev.SNAPSHOT_OPEN, OrderState.UNKNOWN, OrderState.WAITING


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


def reconcile(reg: OrderRegistry, snap: ReconcileSnapshot, now_ms: int) -> ReconcileResult:
    """Apply ``snap`` (the reconciler's reads of ``orderStatus``, ``userFillsByTime``,
    ``frontendOpenOrders`` and ``clearinghouseState``) to ``reg`` at ``now_ms``; see the module
    docstring for the steps and the exchange rules they follow. Never raises for odd exchange
    data: contradictions are counted (``illegal_transitions``) and logged."""
    cfg = reg.config
    initial = not reg.ready
    pos_time = snap.positions_time_ms if snap.positions_time_ms is not None else snap.taken_at_ms
    actions: list[Action] = []

    if initial and snap.fills_since_ms is not None:
        # A sweep asked for by a previous book incarnation (its fills start at that book's
        # window): adopting its position would leave the older fills unmarked, and they would
        # be counted again when the userFills snapshot brings them (found by the simulation
        # campaign, seed 7050). Wait for a whole-history sweep.
        log.info("book first sync needs a whole-history snapshot (fills since %d): asking",
                 snap.fills_since_ms)
        return ReconcileResult(actions=tuple(reg.ask_reconcile("startup")), orphans_seen=0,
                               orphan_cancels=0, stale_removed=0, drifted_coins=(),
                               unresolved=reg.unresolved(), in_sync=False)

    # 1. fills
    if initial:
        _initial_fills(reg, [*reg.take_presync_fills(), *snap.fills], pos_time, now_ms)
    elif snap.fills:
        for a in on_fills(reg, Fills(fills=snap.fills, source="reconcile"), now_ms):
            if not isinstance(a, ReconcileRequest):
                actions.append(a)

    # 2. orderStatus by cloid
    for rep in snap.order_statuses:
        _apply_status_report(reg, rep, now_ms)

    last = reg.last_snapshot_requested_ms
    if last is not None and snap.requested_at_ms < last:
        log.info("book stale snapshot requested_at=%d < %d: facts only", snap.requested_at_ms,
                 last)
        actions += flush_cancels(reg, now_ms)
        return ReconcileResult(actions=tuple(actions), orphans_seen=len(reg.orphans),
                               orphan_cancels=0, stale_removed=0, drifted_coins=(),
                               unresolved=reg.unresolved(), in_sync=reg.is_synced)
    reg.snapshot_requested(snap.requested_at_ms)

    # 3. open orders
    listed: set[int] = set()
    to_cancel: list[OpenOrder] = []
    leftovers: list[OpenOrder] = []
    foreign: dict[int, OpenOrder] = {}
    late_leftovers = 0
    requested_at = snap.requested_at_ms
    protect_from = requested_at - cfg.protect_ms
    is_ours, transition = reg.is_ours, reg.transition  # bound once: 10,000 rows is common
    listed_add = listed.add
    for row in snap.open_orders:
        oid = row.oid
        listed_add(oid)
        if not is_ours(row.cloid):
            foreign[oid] = row
            if reg.ownership.foreign_orders == "cancel" and _orphan_due(reg, row, now_ms):
                to_cancel.append(row)
            continue
        order, current = attach(reg, oid, row.cloid, now_ms)
        if order is not None:
            state = order.state
            if current and not state.is_terminal:
                if (state is _UNKNOWN and order.unknown_kind == "modify"
                        and requested_at <= (order.expires_after_ms or 0)):
                    continue  # the old leg still rests; the replace may yet land
                ev = (_SNAPSHOT_OPEN if not row.is_trigger and state is not _WAITING
                      else _listed_event(row, state))
                transition(order, ev, now_ms, "listed in snapshot")
                if order.evidence_ms < requested_at:
                    order.evidence_ms = requested_at
                continue
            recent = order.finalized_ms is not None and order.finalized_ms >= protect_from
            if current and recent:
                continue  # finalized while the snapshot was being taken
            if not current and (order.state is OrderState.PENDING_MODIFY
                                or order.inflight is not None):
                continue  # the leg being replaced, snapshot taken before the modify landed
            if current:
                reg.counters.illegal_transitions += 1
                log.warning("book exchange lists oid=%s that we finalized as %s",
                            row.oid, order.state.value)
        if order is None and (initial or not reg.placed_here(row.cloid)):
            # An order of ours this book did not place: found before it quotes, or a late
            # landing of a placement by another process or an earlier (crashed) incarnation of
            # this book — a leftover, settled at once, never an orphan (found on F9/F17).
            if _settle_leftover(reg, row, now_ms, adopt=initial):
                leftovers.append(row)
            if not initial:
                late_leftovers += 1
            continue
        if _orphan_due(reg, row, now_ms):
            to_cancel.append(row)
    reg.keep_orphans(listed)
    reg.keep_leftovers(listed, snap.requested_at_ms)
    reg.set_foreign(foreign)

    # 4. stale
    stale = 0
    for order in reg.orders.values():
        if not order.state.is_live or order.oid is None or order.oid in listed:
            continue
        if order.inflight is not None or order.evidence_ms >= protect_from:
            continue
        transition(order, Ev.SNAPSHOT_ABSENT, now_ms, "absent from snapshot")
        if order.state is OrderState.CANCELED:
            stale += 1
            log.info("book stale removed cloid=%s oid=%s", order.cloid, order.oid)
    reg.counters.stale_removed += stale

    # 5. positions
    later: dict[str, Decimal] = defaultdict(lambda: ZERO)
    busy: set[str] = set()
    for t, coin, delta, applied_ms in reg.recent_fills:
        if t > pos_time:
            later[coin] += delta
        if applied_ms >= snap.requested_at_ms:
            busy.add(coin)
    drifted: list[str] = []
    deferred = False
    for coin in sorted(set(reg.positions) | set(snap.positions)):
        local = reg.positions.get(coin, ZERO)
        exch = snap.positions.get(coin, ZERO)
        if local - later[coin] == exch:
            reg.clear_position_deferral(coin)
            continue
        count, last_req = reg.deferred_mismatch.get(coin, (0, -1))
        if not initial and coin in busy and count < MAX_DEFERRALS:
            if snap.requested_at_ms > last_req:  # only distinct sweeps count towards the bound
                reg.defer_position_check(coin, count + 1, snap.requested_at_ms)
            deferred = True
            log.info("book position check deferred coin=%s local=%s exchange=%s (fills in flight)",
                     coin, local - later[coin], exch)
            continue
        reg.clear_position_deferral(coin)
        reg.adopt_position(coin, exch + later[coin])
        if not initial:
            drifted.append(coin)
            reg.counters.position_drifts += 1
            log.warning("book position drift coin=%s local=%s exchange=%s adopted",
                        coin, local - later[coin], exch)

    for r in to_cancel:
        reg.counters.orphans_detected += 1  # still unexplained after the grace period
        log.warning("book orphan cancel oid=%s cloid=%s coin=%s", r.oid, r.cloid, r.coin)
    for r in leftovers:
        if initial:
            log.warning("book start-up: cancelling our order placed before this book oid=%s "
                        "cloid=%s coin=%s", r.oid, r.cloid, r.coin)
        else:
            log.warning("book late landing of an earlier book's or process's order: "
                        "cancelling oid=%s cloid=%s coin=%s", r.oid, r.cloid, r.coin)
    if to_cancel or leftovers:
        rows = [*leftovers, *to_cancel]
        rid, exp = reg.open_request("cancel", [], now_ms, parts=len(rows))
        actions.append(CancelOrders(request_id=rid, expires_after_ms=exp, cancels=tuple(
            CancelRequest(coin=r.coin, cloid=r.cloid, oid=r.oid) for r in rows)))

    actions += flush_cancels(reg, now_ms)
    unresolved = reg.unresolved()
    in_sync = (not drifted and not deferred and not reg.orphans and stale == 0
               and not unresolved and not late_leftovers)
    if deferred:
        actions += reg.ask_reconcile("gap")
    if initial and reg.leftovers:
        # Orders of a previous process (or book) rest: the strategy may not quote beside them
        # (no double ladder). Stay not ready; a whole-history sweep after the cancels decides.
        reg.mark_unsynced()
        if not leftovers:
            actions.append(ReconcileRequest(reason="startup", since_ms=None))
        log.info("book start-up: %d order(s) of ours placed before this book still listed",
                 len(reg.leftovers))
        return ReconcileResult(
            actions=tuple(actions), orphans_seen=len(reg.orphans), orphan_cancels=len(to_cancel),
            stale_removed=stale, drifted_coins=(), unresolved=unresolved, in_sync=False)
    reg.mark_synced(in_sync)
    if log.isEnabledFor(logging.INFO):  # counting the live oids walks every order
        log.info(
            "book sync exchange_open=%d local_open=%d orphans=%d stale=%d drifts=%d "
            "unresolved=%d synced=%s", len(snap.open_orders), len(reg.live_oids()),
            len(reg.orphans), stale, len(drifted), unresolved, in_sync,
        )
    return ReconcileResult(
        actions=tuple(actions), orphans_seen=len(reg.orphans), orphan_cancels=len(to_cancel),
        stale_removed=stale, drifted_coins=tuple(drifted), unresolved=unresolved, in_sync=in_sync,
    )


def _initial_fills(reg: OrderRegistry, fills: list[Fill], pos_time: int, now_ms: int) -> None:
    """The first sync's fills: those no later than the position read are history (already in
    the adopted position: marked seen, ``fills_preexisting``; they touch an order's lifecycle
    only when this book tracks the order), later ones apply as new."""
    for f in sorted(fills, key=lambda f: (f.time_ms, f.tid)):
        if (f.oid, f.tid) in reg.dedup:
            reg.counters.fills_reread += 1
            continue
        if f.time_ms <= pos_time:
            reg.mark_fill_seen(f)
            if reg.find(f.oid, f.cloid)[0] is not None:
                fill_order_state(reg, f, now_ms)
        else:
            apply_fill(reg, f, now_ms, check_gap=False)


def _settle_leftover(reg: OrderRegistry, row: OpenOrder, now_ms: int, *, adopt: bool) -> bool:
    """An order of ours (our prefix) that this book did not place: adopt it (``adopt``, before
    the book quotes, and ``on_start = "adopt"``) or say it must be cancelled now — no grace:
    nothing of this book is in flight for it — unless our cancel went out less than an action's
    lifetime ago. After the first sync (a late landing beside the ladder) it is always
    cancelled. Returns True when a cancel should go out."""
    if adopt and reg.ownership.on_start == "adopt":
        order = TrackedOrder(cloid=row.cloid or "", coin=row.coin, side=row.side,
                             px=row.limit_px, sz=row.sz, tif=_adopted_tif(row),
                             reduce_only=row.reduce_only,
                             created_ms=now_ms, tag="adopted")
        reg.add_order(order)
        reg.bind(order, row.oid, now_ms)
        reg.transition(order, _listed_event(row), now_ms, "adopted at start-up")
        reg.counters.leftovers_adopted += 1
        log.info("book start-up: adopted oid=%s cloid=%s coin=%s", row.oid, row.cloid, row.coin)
        return False
    sent = reg.leftovers.get(row.oid)
    cfg = reg.config
    if sent is not None and now_ms - sent < cfg.action_ttl_ms + cfg.watchdog_grace_ms:
        return False
    reg.leftover_cancel_sent(row.oid, now_ms)
    return True


def _listed_event(row: OpenOrder, state: OrderState | None = None) -> Ev:
    """The event an open row is for its order (now in ``state``): ``UPDATE_WAITING`` for a
    trigger order waiting for its trigger (``isTrigger`` true in ``frontendOpenOrders`` /
    ``orderStatus``, protocol ref §2.6, §2.10: open but off the book, so WAITING, never
    RESTING); ``UPDATE_TRIGGERED`` when a frontend row (it names its ``orderType``) shows an
    order we hold WAITING as no longer a trigger — it fired and rests, its ``triggered`` push
    was missed (⚠ a fired limit trigger shows ``isTrigger: false``: the simulator's assumption,
    :mod:`hlmaker.sim.triggers`); otherwise ``SNAPSHOT_OPEN`` (on the book)."""
    if row.is_trigger:
        return Ev.UPDATE_WAITING
    if state is OrderState.WAITING and row.kind is not None:
        return Ev.UPDATE_TRIGGERED
    return Ev.SNAPSHOT_OPEN


def _adopted_tif(row: OpenOrder) -> Tif:
    """The time in force an adopted order keeps: the frontend row's ``tif`` when it names one
    the book quotes with, else ``"Gtc"`` (a basic ``openOrders`` row, or a trigger order's
    ``null``)."""
    tif = row.kind.tif if row.kind is not None else None
    for known in get_args(Tif):
        if tif == known:
            return known  # type: ignore[no-any-return]
    return "Gtc"


def _orphan_due(reg: OrderRegistry, row: OpenOrder, now_ms: int) -> bool:
    """Track ``row`` as an orphan; True when its grace is over and a cancel should go out."""
    cfg = reg.config
    orphan = reg.orphans.get(row.oid)
    if orphan is None:
        if not reg.track_orphan(row.oid, row.coin, row.cloid, now_ms):
            return False
        log.info("book unexplained order oid=%s cloid=%s coin=%s (grace %d ms)", row.oid,
                 row.cloid, row.coin, cfg.orphan_grace_ms)
        return cfg.orphan_grace_ms == 0
    if now_ms - orphan.first_seen_ms < cfg.orphan_grace_ms:
        return False
    if orphan.cancel_sent_ms is not None and now_ms - orphan.cancel_sent_ms < (
        cfg.action_ttl_ms + cfg.watchdog_grace_ms
    ):
        return False
    orphan.cancel_sent_ms = now_ms
    return True


def _apply_status_report(reg: OrderRegistry, rep: OrderStatusReport, now_ms: int) -> None:
    order = reg.orders.get(rep.cloid)
    if order is None or order.state.is_terminal:
        return
    if rep.status is None:
        exp = order.expires_after_ms
        if order.state is OrderState.UNKNOWN and exp is not None and rep.queried_at_ms > exp:
            reg.transition(order, Ev.STATUS_NEVER_LANDED, now_ms, "unknownOid after expiry")
            log.info("book unknown resolved cloid=%s never landed", order.cloid)
        return
    if rep.order is None:
        return  # a status without its order names no oid: the open-orders rows decide
    ev = status_event(rep.status)
    if ev is None:
        return
    # A rejected replacement of a modify never lived: it must not take the cloid (found by the
    # simulation campaign, seeds 1008 and 1037).
    found, current = attach(reg, rep.order.oid, rep.cloid, now_ms,
                            rejected=ev is Ev.UPDATE_REJECTED)
    if found is not order or not current:
        return
    if ev is Ev.UPDATE_OPEN:
        if (order.state is OrderState.UNKNOWN and order.unknown_kind == "modify"
                and rep.queried_at_ms <= (order.expires_after_ms or 0)):
            return  # the old leg still rests; the replace may yet land
        ev = _listed_event(rep.order, order.state)
    order.evidence_ms = max(order.evidence_ms, rep.queried_at_ms)
    reg.transition(order, ev, now_ms, f"orderStatus={rep.status}")
