"""The order-state core: a pure, synchronous state machine (sans-IO, like h11).

:class:`OrderBookCore` is the single source of truth for our orders, fills and positions. It
takes strategy intents, executor outcomes, exchange events and reconcile snapshots — each with
``now_ms`` — and returns what to do as data (:data:`Action`: executor commands and reconcile
requests). It never performs I/O, never reads a clock, and draws cloids from an injected
:class:`random.Random`, so a seed replays exactly.

Contracts:

* **Exactly-once fills**: every fill is keyed ``(oid, tid)`` in a bounded FIFO window; the
  position moves in the same step as a new fill and never for a duplicate. A ``filled`` status in
  an ack moves nothing (it has no tid): the fills themselves arrive over the WebSocket or in a
  reconcile, so the ack and the fill are counted once.
* **Gap detection**: each live fill's ``startPosition`` must equal the local position before it;
  otherwise a fill was missed and a reconcile is requested at once.
* **Fill-before-ack**: an event for an oid not yet known is attached through its ``cloid``;
  without one it is held (bounded, TTL) until the ack names the oid. The position moves at once.
* **Unknown outcomes** are never guessed: an order whose request timed out leaves
  ``UNKNOWN`` only on exchange evidence.
* **Bad input** (ack for an unknown cloid, negative size, unknown coin, unknown status) is a
  :class:`Note` plus a counter plus a log line — never an exception.

Reconciliation lives in :mod:`hlmaker.orders.reconcile`; ladder diffing in
:mod:`hlmaker.orders.ladder`. Both operate on this class.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from decimal import Decimal

import attrs

from hlmaker.messages import (
    ArmDeadManSwitch,
    BookView,
    CancelAll,
    CancelFailed,
    CancelOk,
    CancelOrder,
    Command,
    FeedConnected,
    FeedDisconnected,
    Fill,
    Fills,
    ModifyFilled,
    ModifyOrder,
    ModifyRejected,
    ModifyResting,
    NonUserCancel,
    OrderFilled,
    OrderRejected,
    OrderResting,
    OrderUpdate,
    OrderUpdates,
    PlaceOrder,
    ReconcileReason,
    ReconcileRequest,
    ReconcileSnapshot,
    RequestUnknown,
    ScheduleCancelResult,
    TargetLadder,
    signed,
)
from hlmaker.observer import NO_OBSERVER, Observer
from hlmaker.orders.config import BookConfig
from hlmaker.orders.dedup import FillDedup
from hlmaker.orders.held import HeldEvents
from hlmaker.orders.intents import IntentsMixin
from hlmaker.orders.outcomes import OutcomesMixin
from hlmaker.orders.records import MutableCounters, Note, NoteKind, Orphan
from hlmaker.orders.states import Ev, OrderState, next_state, status_event
from hlmaker.orders.tracked import ZERO, TrackedOrder

log = logging.getLogger("hlmaker.book")

Action = Command | ReconcileRequest
"""What the core asks its actor to do: send a command to the executor or a request to the
reconciler."""


@attrs.define
class _Request:
    kind: str
    cloids: list[str]
    expires_after_ms: int
    remaining: int


_Held = OrderUpdate | Fill
_LIVE_EVIDENCE = frozenset({Ev.ACK_RESTING, Ev.UPDATE_OPEN, Ev.SNAPSHOT_OPEN, Ev.MODIFY_OK})


class OrderBookCore(IntentsMixin, OutcomesMixin):
    """The book's state: orders by cloid, oids, fill de-dup, positions, counters.

    Args:
        config: tunables (:class:`BookConfig`).
        rng: source of cloids; seed it for reproducible runs.

    Every public method takes ``now_ms`` (ms since the epoch) and returns a list of
    :data:`Action`; :attr:`notes` collects what was noticed since :meth:`take_notes` was last
    called (bounded).
    """

    def __init__(self, config: BookConfig | None = None, rng: random.Random | None = None, *,
                 observer: Observer = NO_OBSERVER) -> None:
        self.observer = observer  # wiring branch: a pass-through until branch orders lands
        self.config = config or BookConfig()
        self._rng = rng or random.Random(0)
        self.orders: dict[str, TrackedOrder] = {}
        self.oid_to_cloid: dict[int, str] = {}
        self.retired: dict[int, str] = {}
        """oid → cloid of evicted orders (bounded, insertion ordered)."""
        self.dedup = FillDedup(self.config.dedup_capacity)
        self.held: HeldEvents[_Held] = HeldEvents(
            capacity=self.config.held_capacity, ttl_ms=self.config.held_ttl_ms
        )
        self.positions: dict[str, Decimal] = {}
        self.recent_fills: deque[tuple[int, str, Decimal, int]] = deque()
        """(fill time, coin, signed size, local apply time) of recent fills, for position
        comparison in reconcile."""
        self.deferred_mismatch: dict[str, tuple[int, int]] = {}
        """coin → (deferrals so far, request time of the last deferring snapshot)."""
        self.last_snapshot_requested_ms: int | None = None
        self.counters = MutableCounters()
        self.requests: dict[int, _Request] = {}
        self.orphans: dict[int, Orphan] = {}
        self.notes: deque[Note] = deque(maxlen=1000)
        self.synced_once = False
        self.is_synced = False
        self.feed_up = False
        self.last_fill_ms: int | None = None
        self.presync_fills: list[Fill] = []
        self._next_request_id = 1
        self._resend_cancel: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def take_notes(self) -> list[Note]:
        """Return and clear the notes gathered so far."""
        out = list(self.notes)
        self.notes.clear()
        return out

    def _note(self, kind: NoteKind, detail: str) -> None:
        self.notes.append(Note(kind, detail))
        log.info("book %s %s", kind.value, detail)

    def _bad(self, detail: str) -> list[Action]:
        self.counters.bad_inputs += 1
        self._note(NoteKind.BAD_INPUT, detail)
        return []

    def new_cloid(self) -> str:
        """A fresh cloid (``0x`` + 32 hex) from the injected rng, unique among tracked orders."""
        while True:
            cloid = f"0x{self._rng.getrandbits(128):032x}"
            if cloid not in self.orders:
                return cloid

    def _request_id(self) -> int:
        rid = self._next_request_id
        self._next_request_id += 1
        return rid

    def _register(self, kind: str, cloids: list[str], now_ms: int) -> tuple[int, int]:
        rid = self._request_id()
        exp = now_ms + self.config.action_ttl_ms
        self.requests[rid] = _Request(kind, cloids, exp, len(cloids))
        for c in cloids:
            o = self.orders.get(c)
            if o is not None:
                o.inflight = rid
        return rid, exp

    def _settle(self, request_id: int, order: TrackedOrder | None) -> None:
        req = self.requests.get(request_id)
        if req is not None:
            req.remaining -= 1
            if req.remaining <= 0:
                del self.requests[request_id]
        if order is not None and order.inflight == request_id:
            order.inflight = None

    def ask_reconcile(self, reason: ReconcileReason) -> list[Action]:
        """A :class:`ReconcileRequest` for ``reason`` (with the fills window and unknown cloids)."""
        since = None
        if self.last_fill_ms is not None:
            since = self.last_fill_ms - self.config.fills_margin_ms
        cloids = tuple(
            sorted(c for c, o in self.orders.items() if o.state is OrderState.UNKNOWN)
        )
        return [ReconcileRequest(reason=reason, since_ms=since, cloids=cloids)]

    def _transition(self, order: TrackedOrder, ev: Ev, now_ms: int, why: str = "") -> bool:
        old = order.state
        new = next_state(old, ev, partly_filled=order.leg_filled > 0)
        if new is None:
            self.counters.illegal_transitions += 1
            self._note(
                NoteKind.ILLEGAL_TRANSITION,
                f"cloid={order.cloid} oid={order.oid} state={old.value} event={ev.value} {why}",
            )
            return False
        if order.cancel_wanted and new in (OrderState.RESTING, OrderState.PARTIALLY_FILLED):
            if order.inflight is not None and self._inflight_kind(order) == "cancel":
                new = OrderState.PENDING_CANCEL  # alive, and our cancel is on its way
            elif order.inflight is None and ev in _LIVE_EVIDENCE:
                self._resend_cancel.add(order.cloid)
        elif (order.cancel_wanted and order.inflight is None and ev in _LIVE_EVIDENCE
              and new is OrderState.PENDING_CANCEL):
            self._resend_cancel.add(order.cloid)
        if new is not old:
            order.state = new
            if new.is_terminal:
                order.finalized_ms = now_ms
                order.pending_px = order.pending_sz = None
            if old is OrderState.UNKNOWN and new is not OrderState.UNKNOWN:
                self.counters.unknown_resolved += 1
                order.unknown_since = None
                order.unknown_kind = None
                order.pending_px = order.pending_sz = None  # a landed replace rebinds first
        return True

    def _inflight_kind(self, order: TrackedOrder) -> str | None:
        req = self.requests.get(order.inflight) if order.inflight is not None else None
        return req.kind if req is not None else None

    def _bind(self, order: TrackedOrder, oid: int, now_ms: int) -> None:
        """Give ``order`` its oid (first ack or first evidence) and replay held events."""
        order.oid = oid
        order.evidence_ms = now_ms
        self.oid_to_cloid[oid] = order.cloid

    def _rebind(self, order: TrackedOrder, new_oid: int, now_ms: int) -> None:
        """Move ``order`` to the oid of its replacement (modify is cancel-replace)."""
        if order.oid is not None and order.oid != new_oid:
            order.replaced_oids.append(order.oid)
        order.oid = new_oid
        order.leg_filled = ZERO
        if order.pending_sz is not None and order.pending_px is not None:
            order.sz, order.px = order.pending_sz, order.pending_px
        order.pending_px = order.pending_sz = None
        order.old_leg_canceled = False
        order.evidence_ms = now_ms
        self.oid_to_cloid[new_oid] = order.cloid

    def _replay_held(self, oid: int, now_ms: int) -> list[Action]:
        actions: list[Action] = []
        for ev in self.held.take(oid):
            if isinstance(ev, Fill):
                actions += self._fill_order_state(ev, now_ms)
            else:
                actions += self._apply_update(ev, now_ms)
        return actions

    # ------------------------------------------------------------------ dispatch
    def handle(self, msg: object, now_ms: int) -> list[Action]:
        """Apply any inbound message (intent, outcome, event or snapshot); return the actions.

        Unknown message types are bad input (counted, logged), never an exception.
        """
        actions = self._dispatch(msg, now_ms)
        if self._resend_cancel:
            actions += self.flush_cancels(now_ms)
        return actions

    def _dispatch(self, msg: object, now_ms: int) -> list[Action]:
        if isinstance(msg, Fills | OrderUpdates | NonUserCancel | FeedConnected
                      | FeedDisconnected):
            return self.on_event(msg, now_ms)
        if isinstance(msg, OrderResting | OrderFilled | OrderRejected | ModifyResting
                      | ModifyFilled | ModifyRejected | CancelOk | CancelFailed
                      | RequestUnknown | ScheduleCancelResult):
            return self.on_outcome(msg, now_ms)
        if isinstance(msg, TargetLadder):
            return self.target_ladder(msg, now_ms)
        if isinstance(msg, PlaceOrder):
            return self.place(msg, now_ms)
        if isinstance(msg, CancelOrder):
            return self.cancel(msg, now_ms)
        if isinstance(msg, ModifyOrder):
            return self.modify(msg, now_ms)
        if isinstance(msg, CancelAll):
            return self.cancel_all(msg, now_ms)
        if isinstance(msg, ArmDeadManSwitch):
            return self.schedule_cancel(msg.at_ms, now_ms)
        if isinstance(msg, ReconcileSnapshot):
            from hlmaker.orders.reconcile import reconcile

            return list(reconcile(self, msg, now_ms).actions)
        return self._bad(f"unhandled message {type(msg).__name__}")

    # ------------------------------------------------------------------ events
    def on_event(self, msg: object, now_ms: int) -> list[Action]:
        """Apply one exchange event (fills, order updates, cancels, feed changes)."""
        if isinstance(msg, Fills):
            actions: list[Action] = []
            fills = msg.fills
            if msg.is_snapshot or msg.source == "reconcile":
                fills = tuple(sorted(fills, key=lambda f: (f.time_ms, f.tid)))
            check_gap = not msg.is_snapshot and msg.source != "reconcile"
            for f in fills:
                actions += self.apply_fill(f, now_ms, check_gap=check_gap,
                                           presync_hold=msg.is_snapshot)
            return _dedupe_reconciles(actions)
        if isinstance(msg, OrderUpdates):
            actions = []
            for u in msg.updates:
                actions += self._apply_update(u, now_ms)
            return actions
        if isinstance(msg, NonUserCancel):
            actions = []
            for coin, oid in msg.cancels:
                actions += self._apply_status(coin, oid, None, "canceled", now_ms, source="nuc")
            return actions
        if isinstance(msg, FeedConnected):
            self.feed_up = True
            if msg.reconnect:
                self.is_synced = False
                return self.ask_reconcile("reconnect")
            return []
        if isinstance(msg, FeedDisconnected):
            self.feed_up = False
            self.is_synced = False
            return []
        return self._bad(f"not an event: {type(msg).__name__}")

    def apply_fill(self, fill: Fill, now_ms: int, *, check_gap: bool = True,
                   presync_hold: bool = False) -> list[Action]:
        """Apply one fill: de-dup, move the position, check ``startPosition``, update the order.

        ``presync_hold``: before the first reconcile, snapshot fills are kept aside and sorted
        out then (the adopted position already contains the old ones).
        """
        if fill.sz <= 0 or fill.px <= 0:
            return self._bad(f"fill with bad sz/px oid={fill.oid} tid={fill.tid}")
        key = (fill.oid, fill.tid)
        if key in self.dedup:
            self.counters.duplicate_fills_dropped += 1
            return []
        if not self.synced_once and presync_hold:
            if len(self.presync_fills) < self.config.dedup_capacity:
                self.presync_fills.append(fill)
            return []
        self.dedup.add(key)
        actions: list[Action] = []
        before = self.positions.get(fill.coin, ZERO)
        delta = signed(fill.side, fill.sz)
        self.positions[fill.coin] = before + delta
        self.counters.fills_applied += 1
        self.counters.volume += fill.sz * fill.px
        self.counters.closed_pnl += fill.closed_pnl
        self.counters.fees += fill.fee
        self.recent_fills.append((fill.time_ms, fill.coin, delta, now_ms))
        while len(self.recent_fills) > self.config.dedup_capacity:
            self.recent_fills.popleft()
        if self.last_fill_ms is None or fill.time_ms > self.last_fill_ms:
            self.last_fill_ms = fill.time_ms
        if check_gap and self.synced_once and fill.start_position != before:
            self.counters.gaps_detected += 1
            self.is_synced = False
            self._note(NoteKind.GAP, f"coin={fill.coin} startPosition={fill.start_position} "
                       f"local={before} tid={fill.tid}")
            log.warning("book gap detected coin=%s startPosition=%s local=%s tid=%s",
                        fill.coin, fill.start_position, before, fill.tid)
            actions += self.ask_reconcile("gap")
        actions += self._fill_order_state(fill, now_ms)
        return actions

    def _lookup(self, oid: int, cloid: str | None, now_ms: int, *, rejected: bool = False
                ) -> tuple[TrackedOrder | None, bool]:
        """Find the order an event is about; returns (order, is_current_leg).

        Binds the oid through the cloid when the ack has not arrived yet (fill-before-ack) and
        moves a modifying order to its new oid when the new order shows up first — unless the
        event says that new order was ``rejected``: the replacement never lived, so the order
        stays on its old oid and the modify's outcome decides (``(order, False)``).
        """
        cl = self.oid_to_cloid.get(oid)
        if cl is not None:
            order = self.orders.get(cl)
            if order is not None:
                return order, order.oid == oid
        if cloid is not None:
            order = self.orders.get(cloid)
            if order is not None:
                if order.oid is None:
                    self._bind(order, oid, now_ms)
                    return order, True
                if rejected and order.state is OrderState.PENDING_MODIFY:
                    return order, False
                if order.state in (OrderState.PENDING_MODIFY, OrderState.UNKNOWN):
                    self._rebind(order, oid, now_ms)
                    if order.state is OrderState.PENDING_MODIFY:
                        self._transition(order, Ev.MODIFY_OK, now_ms, "new oid seen first")
                    return order, True
                if order.state is OrderState.PENDING_CANCEL and order.pending_sz is not None:
                    self._rebind(order, oid, now_ms)
                    return order, True
                if not order.state.is_terminal and not rejected:
                    # The exchange shows our cloid on another oid: a replace we lost track of
                    # landed (a cloid rests on at most one order). The exchange is the truth.
                    log.warning("book cloid=%s moved from oid=%s to oid=%s (%s)", order.cloid,
                                order.oid, oid, order.state.value)
                    self._rebind(order, oid, now_ms)
                    return order, True
        return None, False

    def _fill_order_state(self, fill: Fill, now_ms: int) -> list[Action]:
        order, current = self._lookup(fill.oid, fill.cloid, now_ms)
        if order is None:
            if fill.oid in self.retired:
                self.counters.late_events += 1
                self._note(NoteKind.LATE_EVENT, f"fill for retired oid={fill.oid}")
                return []
            self.counters.fills_untracked += 1
            dropped = self.held.hold(fill.oid, fill, now_ms)
            self.counters.early_events_held += 1
            self.counters.early_events_expired += len(dropped)
            self._note(NoteKind.HELD, f"fill for unknown oid={fill.oid} tid={fill.tid}")
            return []
        order.total_filled += fill.sz
        if not current:
            return []  # a late fill of a replaced oid: position moved, the new leg is untouched
        order.leg_filled += fill.sz
        if order.leg_filled > order.sz:
            self.counters.illegal_transitions += 1
            self._note(NoteKind.ILLEGAL_TRANSITION,
                       f"overfill cloid={order.cloid} filled={order.leg_filled} sz={order.sz}")
        ev = Ev.FILL_COMPLETE if order.leg_filled >= order.sz else Ev.FILL_PARTIAL
        self._transition(order, ev, now_ms)
        if order.ack_filled_sz is not None and order.leg_filled >= order.ack_filled_sz:
            order.awaiting_fills_since = None
        return []

    def _apply_update(self, u: OrderUpdate, now_ms: int) -> list[Action]:
        return self._apply_status(u.coin, u.oid, u.cloid, u.status, now_ms, update=u)

    def _apply_status(self, coin: str, oid: int, cloid: str | None, status: str, now_ms: int,
                      *, update: OrderUpdate | None = None, source: str = "ws") -> list[Action]:
        ev = status_event(status)
        if ev is None:
            if status in ("triggered",):
                return []
            return self._bad(f"unknown order status {status!r} oid={oid}")
        order, current = self._lookup(oid, cloid, now_ms, rejected=ev is Ev.UPDATE_REJECTED)
        if order is None:
            if oid in self.retired:
                self.counters.late_events += 1
                self._note(NoteKind.LATE_EVENT, f"{status} for retired oid={oid}")
                return []
            if update is not None:
                dropped = self.held.hold(oid, update, now_ms)
                self.counters.early_events_held += 1
                self.counters.early_events_expired += len(dropped)
                self._note(NoteKind.HELD, f"{status} for unknown oid={oid}")
            else:
                self.counters.late_events += 1
                self._note(NoteKind.UNTRACKED, f"{status} ({source}) for unknown oid={oid}")
            return []
        if not current:
            # An old oid of a modified order: its `canceled` is the replace itself (F12). It
            # says nothing about the leg a later modify may be replacing now (that one is the
            # current oid): taking it for that leg's cancel finalized a live order when the
            # later modify was refused (found by the simulation campaign, seed 104).
            self.counters.late_events += 1
            return []
        if order.state is OrderState.UNKNOWN and order.unknown_kind == "modify" and ev in (
            Ev.UPDATE_OPEN, Ev.UPDATE_CANCELED
        ):
            # News of the old leg says nothing about a replace of unknown outcome: an `open`
            # may be stale, a `canceled` may be the replace itself. The new oid, a fill, or a
            # sweep after the action's expiresAfter decides.
            if ev is Ev.UPDATE_CANCELED:
                order.old_leg_canceled = True
            self.counters.late_events += 1
            return []
        if ev is Ev.UPDATE_CANCELED and order.state is OrderState.PENDING_MODIFY:
            # The leg being replaced was cancelled: by the replace itself, or by the exchange.
            # The modify outcome decides which.
            order.old_leg_canceled = True
            return []
        order.evidence_ms = now_ms
        self._transition(order, ev, now_ms, f"status={status}")
        return []

    # ------------------------------------------------------------------ time
    def tick(self, now_ms: int) -> list[Action]:
        """Expire held events, time out silent requests, re-query unknowns, evict old orders."""
        actions: list[Action] = []
        for oid, ev in self.held.expire(now_ms):
            self.counters.early_events_expired += 1
            self._note(NoteKind.UNTRACKED, f"held event for oid={oid} expired: {type(ev).__name__}")
        grace = self.config.watchdog_grace_ms
        for rid, req in list(self.requests.items()):
            if now_ms > req.expires_after_ms + grace:
                actions += self._on_unknown(RequestUnknown(
                    request_id=rid, kind=req.kind, cloids=tuple(req.cloids),  # type: ignore
                    expires_after_ms=req.expires_after_ms,
                    reason="no outcome from the executor"), now_ms)
        need: ReconcileReason | None = None
        for o in self.orders.values():
            if o.state is OrderState.UNKNOWN and (
                o.last_requery_ms is None
                or now_ms - o.last_requery_ms >= self.config.unknown_requery_ms
            ):
                o.last_requery_ms = now_ms
                need = "unknown_outcome"
            if (o.awaiting_fills_since is not None
                    and now_ms - o.awaiting_fills_since >= self.config.missing_fill_wait_ms):
                o.awaiting_fills_since = now_ms
                need = need or "missing_fills"
        if any(now_ms - orph.first_seen_ms >= self.config.orphan_grace_ms
               and orph.cancel_sent_ms is None for orph in self.orphans.values()):
            need = need or "orphan"
        if need:
            actions += self.ask_reconcile(need)
        self.evict(now_ms)
        return _dedupe_reconciles(actions)

    def evict(self, now_ms: int, *, force: bool = False) -> None:
        """Drop terminal orders older than the retention window (oldest first when ``force``)."""
        keep_ms = self.config.terminal_retention_ms
        victims = [
            o for o in self.orders.values()
            if o.state.is_terminal and o.finalized_ms is not None
            and (force or now_ms - o.finalized_ms > keep_ms) and o.inflight is None
        ]
        if force:
            victims.sort(key=lambda o: o.finalized_ms or 0)
            victims = victims[: max(1, len(victims) // 2)]
        for o in victims:
            del self.orders[o.cloid]
            for oid in [o.oid, *o.replaced_oids]:
                if oid is None:
                    continue
                self.oid_to_cloid.pop(oid, None)
                self.retired[oid] = o.cloid
        while len(self.retired) > self.config.retired_capacity:
            del self.retired[next(iter(self.retired))]
        cutoff = now_ms - self.config.recent_fill_window_ms
        while self.recent_fills and self.recent_fills[0][0] < cutoff:
            self.recent_fills.popleft()

    # ------------------------------------------------------------------ views
    def view(self, now_ms: int) -> BookView:
        """An immutable snapshot of the book for readers."""
        return BookView(
            at_ms=now_ms,
            orders=tuple(o.view() for o in self.orders.values() if not o.state.is_terminal),
            positions=dict(self.positions),
            counters=self.counters.freeze(),
            is_synced=self.is_synced,
            last_fill_ms=self.last_fill_ms,
            unresolved=sum(1 for o in self.orders.values() if o.state is OrderState.UNKNOWN),
            ready=self.synced_once,
        )

    def live_oids(self) -> set[int]:
        """The oids of orders believed to rest on the exchange."""
        return {
            o.oid for o in self.orders.values()
            if o.oid is not None and (o.state.is_live)
        }


def _dedupe_reconciles(actions: list[Action]) -> list[Action]:
    """Keep commands and at most one reconcile request (the first reason wins)."""
    out: list[Action] = []
    seen = False
    for a in actions:
        if isinstance(a, ReconcileRequest):
            if seen:
                continue
            seen = True
        out.append(a)
    return out
