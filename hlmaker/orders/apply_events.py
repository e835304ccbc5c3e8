"""Exchange events → state: fills, order updates, non-user cancels, feed (re)connects.

Plain functions over an :class:`~hlmaker.orders.registry.OrderRegistry`, each taking ``now_ms``
(ms since the epoch) and returning the actions to take (:data:`~hlmaker.orders.actions.Action`:
reconcile requests, and the cancel of a leftover seen live after the first sync). Rules
followed:

* **Exactly-once fills**: every fill is keyed ``(oid, tid)`` (Hyperliquid's unique fill id is
  the ``tid`` per order) in the bounded window; the position moves in the same step as a new
  fill and never for a duplicate.
* **Gap detection**: each live fill's ``startPosition`` (the exchange's position before it) must
  equal the local position before it; otherwise a fill was missed and a reconcile is asked.
* **Fill-before-ack**: an event for an oid not yet known is attached through its ``cloid``
  (:func:`attach`); without one it is held (bounded, TTL) until the ack names the oid. The
  position moves at once either way.
* Statuses follow the ``orderStatus`` table (protocol ref §2.10), mapped by
  :func:`hlmaker.orders.states.status_event`.
"""

from __future__ import annotations

import logging

from hlmaker.messages import (
    CancelOrders,
    CancelRequest,
    FeedConnected,
    FeedDisconnected,
    Fill,
    Fills,
    NonUserCancel,
    OrderUpdate,
    OrderUpdates,
    ReconcileRequest,
)
from hlmaker.orders.actions import Action
from hlmaker.orders.records import NoteKind
from hlmaker.orders.registry import Move, OrderRegistry
from hlmaker.orders.states import Ev, OrderState, status_event
from hlmaker.orders.tracked import ZERO, TrackedOrder

log = logging.getLogger("hlmaker.book")

# Enum members read per event, as module constants (``Ev.X`` is a slow read on Python 3.11: see
# hlmaker/orders/states.py).
_FILL_COMPLETE, _FILL_PARTIAL = Ev.FILL_COMPLETE, Ev.FILL_PARTIAL
_UPDATE_OPEN, _UPDATE_CANCELED, _UPDATE_REJECTED = (Ev.UPDATE_OPEN, Ev.UPDATE_CANCELED,
                                                    Ev.UPDATE_REJECTED)
_UNKNOWN, _PENDING_MODIFY = OrderState.UNKNOWN, OrderState.PENDING_MODIFY


def on_event(reg: OrderRegistry, msg: object, now_ms: int) -> list[Action]:
    """Apply one exchange event: :class:`Fills` (WebSocket ``userFills``/``user``, the
    subscription snapshot, or a reconcile's ``userFillsByTime``), :class:`OrderUpdates`
    (``orderUpdates``), :class:`NonUserCancel` (``userEvents``), :class:`FeedConnected` /
    :class:`FeedDisconnected`. Returns at most one :class:`ReconcileRequest` (gap, reconnect),
    or the :class:`~hlmaker.messages.CancelOrders` of leftovers an update showed live
    (:func:`cancel_leftover`). Anything else is bad input (counted, noted, ``[]``)."""
    if isinstance(msg, Fills):
        return on_fills(reg, msg, now_ms)
    if isinstance(msg, OrderUpdates):
        return on_updates(reg, msg, now_ms)
    if isinstance(msg, NonUserCancel):
        actions: list[Action] = []
        for coin, oid in msg.cancels:
            actions += apply_status(reg, coin, oid, None, "canceled", now_ms, source="nuc")
        return actions
    if isinstance(msg, FeedConnected):
        reg.set_feed(True)
        if msg.reconnect:
            reg.mark_unsynced()
            return list(reg.ask_reconcile("reconnect"))
        return []
    if isinstance(msg, FeedDisconnected):
        reg.set_feed(False)
        return []
    return reg.bad(f"not an event: {type(msg).__name__}")


def on_updates(reg: OrderRegistry, msg: OrderUpdates, now_ms: int) -> list[Action]:
    """Apply each entry of an ``orderUpdates`` push in order (see :func:`apply_update`)."""
    actions: list[Action] = []
    for u in msg.updates:
        actions += apply_status(reg, u.coin, u.oid, u.cloid, u.status, now_ms, update=u)
    return actions


def on_fills(reg: OrderRegistry, msg: Fills, now_ms: int) -> list[Action]:
    """Apply a batch of fills in order (a snapshot or reconcile batch sorted by ``(time, tid)``
    first). Live fills are gap-checked; subscription-snapshot fills before the first sync are
    kept aside for it. Returns at most one reconcile request (the first reason wins)."""
    actions: list[Action] = []
    fills = msg.fills
    snapshot, source = msg.is_snapshot, msg.source
    if snapshot or source == "reconcile":
        fills = tuple(sorted(fills, key=lambda f: (f.time_ms, f.tid)))
    check_gap = not snapshot and source != "reconcile"
    channel = source if check_gap else ""
    for f in fills:
        actions += apply_fill(reg, f, now_ms, check_gap=check_gap, presync_hold=snapshot,
                              reread=not check_gap, channel=channel)
    return dedupe_reconciles(actions)


def apply_fill(reg: OrderRegistry, fill: Fill, now_ms: int, *, check_gap: bool = True,
               presync_hold: bool = False, reread: bool = False,
               channel: str = "") -> list[Action]:
    """Apply one fill: de-dup on ``(oid, tid)``, move the position (coin, signed by side),
    check ``startPosition`` (when ``check_gap`` and the book has synced once), update the
    order's lifecycle.

    ``presync_hold``: before the first reconcile, snapshot fills are kept aside and sorted out
    then (the adopted position already contains the old ones). ``reread``: the fill comes from
    a subscription snapshot or a sweep, which re-read recent fills by design — a known one is
    counted ``fills_reread``. ``channel``: the live channel that brought it (``userFills``,
    ``user``, ``post``); the exchange sends every fill on both ``userFills`` and ``user``
    (protocol ref §6.4), so a known fill from a channel that had not delivered it yet is an
    echo (``fills_echoed``); only one the same live channel delivered twice counts as
    ``duplicate_fills_dropped`` (F1). A fill with ``sz <= 0`` or ``px <= 0`` is bad input.
    Returns ``[ReconcileRequest("gap")]`` on a gap, else ``[]``.
    """
    if fill.sz <= ZERO or fill.px <= ZERO:
        return reg.bad(f"fill with bad sz/px oid={fill.oid} tid={fill.tid}")
    key = (fill.oid, fill.tid)
    if key in reg.dedup:
        if reread:
            reg.counters.fills_reread += 1
        elif reg.dedup.delivered(key, channel):
            reg.counters.duplicate_fills_dropped += 1
        else:
            reg.counters.fills_echoed += 1
        return []
    if not reg.ready and presync_hold:
        reg.hold_presync_fill(fill)
        return []
    before = reg.record_fill(fill, now_ms, channel)
    actions: list[Action] = []
    if check_gap and reg.ready and fill.start_position != before:
        reg.counters.gaps_detected += 1
        reg.mark_unsynced()
        reg.note(NoteKind.GAP, f"coin={fill.coin} startPosition={fill.start_position} "
                 f"local={before} tid={fill.tid}")
        log.warning("book gap detected coin=%s startPosition=%s local=%s tid=%s",
                    fill.coin, fill.start_position, before, fill.tid)
        actions += reg.ask_reconcile("gap")
    fill_order_state(reg, fill, now_ms)
    return actions


def attach(reg: OrderRegistry, oid: int, cloid: str | None, now_ms: int, *,
           rejected: bool = False) -> tuple[TrackedOrder | None, bool]:
    """The order an event for ``oid`` (with ``cloid``) is about, bound to that oid first when
    the event is the first news of it: ``(order, is_current_leg)``, ``(None, False)`` if none.

    :meth:`OrderRegistry.find` decides (it changes nothing); this applies its :class:`Move`:
    a pending order takes the oid (the push outran the ack); an order being replaced moves to
    its new leg, and a pending modify is then done (``MODIFY_OK``, the new oid seen first).
    """
    order, current, move = reg.find(oid, cloid, rejected=rejected)
    if move is None or order is None:
        return order, current
    if move is Move.BIND:
        reg.bind(order, oid, now_ms)
        return order, True
    if move is Move.REBIND_LOST_TRACK:
        log.warning("book cloid=%s moved from oid=%s to oid=%s (%s)", order.cloid,
                    order.oid, oid, order.state.value)
    modifying = order.state is OrderState.PENDING_MODIFY
    reg.rebind(order, oid, now_ms)
    if modifying:
        reg.transition(order, Ev.MODIFY_OK, now_ms, "new oid seen first")
    return order, True


def fill_order_state(reg: OrderRegistry, fill: Fill, now_ms: int) -> None:
    """The lifecycle part of a fill already counted: the order's filled sizes and state
    (``FILL_PARTIAL``/``FILL_COMPLETE``); held when no order has the oid yet, late when the oid
    was retired. A fill of a replaced leg counts in ``total_filled`` only."""
    order, current = attach(reg, fill.oid, fill.cloid, now_ms)
    if order is None:
        if _foreign_fill(reg, fill):
            reg.counters.fills_foreign += 1  # the account's position moved; not our order
            return
        if fill.oid in reg.retired:
            reg.counters.late_events += 1
            reg.note(NoteKind.LATE_EVENT, f"fill for retired oid={fill.oid}")
            return
        if fill.oid in reg.leftovers or is_leftover(reg, fill.cloid):
            return  # an order of ours this book did not place: no lifecycle to track here
        reg.counters.fills_untracked += 1
        reg.hold(fill.oid, fill, now_ms)
        reg.note(NoteKind.HELD, f"fill for unknown oid={fill.oid} tid={fill.tid}")
        return
    order.total_filled += fill.sz
    if not current:
        return  # a late fill of a replaced oid: position moved, the new leg is untouched
    order.leg_filled += fill.sz
    if order.leg_filled > order.sz:
        reg.counters.illegal_transitions += 1
        reg.note(NoteKind.ILLEGAL_TRANSITION,
                 f"overfill cloid={order.cloid} filled={order.leg_filled} sz={order.sz}")
    ev = _FILL_COMPLETE if order.leg_filled >= order.sz else _FILL_PARTIAL
    reg.transition(order, ev, now_ms)
    if order.ack_filled_sz is not None and order.leg_filled >= order.ack_filled_sz:
        order.awaiting_fills_since = None


def _foreign_fill(reg: OrderRegistry, fill: Fill) -> bool:
    """A fill for an oid no order of ours has is foreign when its cloid lacks our prefix, or
    when it names no cloid and either the oid is a listed foreign order or no order of ours is
    waiting for its oid (every order we place has a cloid, which the exchange echoes on its
    fills, protocol ref §2.8). Otherwise it may be ours before the ack: it is held."""
    if fill.cloid is not None:
        return not reg.is_ours(fill.cloid)
    if fill.oid in reg.foreign:
        return True
    return not any(o.oid is None and not o.state.is_terminal for o in reg.orders.values())


def is_leftover(reg: OrderRegistry, cloid: str | None) -> bool:
    """``cloid`` is ours (our prefix) but this book incarnation did not draw it: an order of a
    previous process or of a crashed book (a *leftover*, never an orphan). Call it only for an
    event no tracked order matched — a tracked order (adopted, say) is found first."""
    return cloid is not None and reg.is_ours(cloid) and not reg.placed_here(cloid)


def cancel_leftover(reg: OrderRegistry, coin: str, oid: int, cloid: str | None,
                    now_ms: int) -> list[Action]:
    """A leftover seen live after this book's first sync (a late landing of a dead book's or
    process's placement): ``[CancelOrders]`` at once — no grace, nothing of this book is in
    flight for it — unless our cancel of it went out less than an action's lifetime ago
    (``[]``). Before the first sync nothing is sent: that sync settles every leftover
    (``on_start``). The book is unsynced until a sweep confirms it is gone."""
    cfg = reg.config
    sent = reg.leftovers.get(oid)
    if not reg.ready or (sent is not None
                         and now_ms - sent < cfg.action_ttl_ms + cfg.watchdog_grace_ms):
        return []
    reg.leftover_cancel_sent(oid, now_ms)
    reg.mark_unsynced()
    log.warning("book late landing of an earlier book's or process's order: cancelling "
                "oid=%s cloid=%s coin=%s", oid, cloid, coin)
    rid, exp = reg.open_request("cancel", [], now_ms, parts=1)
    return [CancelOrders(request_id=rid, expires_after_ms=exp,
                         cancels=(CancelRequest(coin=coin, cloid=cloid, oid=oid),))]


def apply_update(reg: OrderRegistry, u: OrderUpdate, now_ms: int) -> list[Action]:
    """Apply one ``orderUpdates`` entry (see :func:`apply_status`); held if its oid is not
    known yet and it names no cloid of ours."""
    return apply_status(reg, u.coin, u.oid, u.cloid, u.status, now_ms, update=u)


def apply_status(reg: OrderRegistry, coin: str, oid: int, cloid: str | None, status: str,
                 now_ms: int, *, update: OrderUpdate | None = None,
                 source: str = "ws") -> list[Action]:
    """Apply an exchange status (``open``, ``filled``, ``canceled`` and every ``*Canceled``,
    ``rejected``…, ``waitingForTrigger``/``waitingForFill``, ``triggered``; protocol ref §2.10,
    §4.3) for ``oid``; an unknown status is bad input. News of a replaced leg is late (its
    ``canceled`` is the replace itself, F12); news of the leg a modify is replacing is kept as a
    flag for the modify's outcome to decide. News of a foreign order changes nothing; live news
    (``open``, waiting, ``triggered``) of a leftover after the first sync is cancelled at once
    (:func:`cancel_leftover`). Returns ``[]`` or that ``[CancelOrders]``."""
    ev = status_event(status)
    if ev is None:
        return reg.bad(f"unknown order status {status!r} oid={oid}")
    order, current = attach(reg, oid, cloid, now_ms, rejected=ev is _UPDATE_REJECTED)
    if order is None:
        if oid in reg.foreign or (cloid is not None and not reg.is_ours(cloid)):
            return []  # a foreign order: not ours to track
        if oid in reg.retired:
            reg.counters.late_events += 1
            reg.note(NoteKind.LATE_EVENT, f"{status} for retired oid={oid}")
            return []
        if oid in reg.leftovers or is_leftover(reg, cloid):
            # An order of ours this book did not place: being cancelled at start-up, or a late
            # landing of a dead book's (or process's) placement — a leftover, never held.
            if ev in (Ev.UPDATE_OPEN, Ev.UPDATE_WAITING, Ev.UPDATE_TRIGGERED):
                return cancel_leftover(reg, coin, oid, cloid, now_ms)
            return []
        if update is not None:
            reg.hold(oid, update, now_ms)
            reg.note(NoteKind.HELD, f"{status} for unknown oid={oid}")
        else:
            reg.counters.late_events += 1
            reg.note(NoteKind.UNTRACKED, f"{status} ({source}) for unknown oid={oid}")
        return []
    if not current:
        # An old oid of a modified order: its `canceled` is the replace itself (F12). It
        # says nothing about the leg a later modify may be replacing now (that one is the
        # current oid): taking it for that leg's cancel finalized a live order when the
        # later modify was refused (found by the simulation campaign, seed 104).
        reg.counters.late_events += 1
        return []
    state = order.state
    if state is _UNKNOWN and order.unknown_kind == "modify" and (
        ev is _UPDATE_OPEN or ev is _UPDATE_CANCELED
    ):
        # News of the old leg says nothing about a replace of unknown outcome: an `open`
        # may be stale, a `canceled` may be the replace itself. The new oid, a fill, or a
        # sweep after the action's expiresAfter decides.
        if ev is _UPDATE_CANCELED:
            order.old_leg_canceled = True
        reg.counters.late_events += 1
        return []
    if ev is _UPDATE_CANCELED and state is _PENDING_MODIFY:
        # The leg being replaced was cancelled: by the replace itself, or by the exchange.
        # The modify outcome decides which (Flag.OLD_LEG_CANCELED in the state tables).
        order.old_leg_canceled = True
        return []
    order.evidence_ms = now_ms
    reg.transition(order, ev, now_ms, f"status={status}")
    return []


def replay_held(reg: OrderRegistry, oid: int, now_ms: int) -> list[Action]:
    """Apply the events held for ``oid`` (oldest first), now that an ack named it."""
    actions: list[Action] = []
    for ev in reg.take_held(oid):
        if isinstance(ev, Fill):
            fill_order_state(reg, ev, now_ms)
        else:
            actions += apply_update(reg, ev, now_ms)
    return actions


def dedupe_reconciles(actions: list[Action]) -> list[Action]:
    """Keep commands and at most one reconcile request (the first reason wins)."""
    if len(actions) < 2:
        return actions  # nothing to drop
    out: list[Action] = []
    seen = False
    for a in actions:
        if isinstance(a, ReconcileRequest):
            if seen:
                continue
            seen = True
        out.append(a)
    return out
