"""The one owner of the order core's state: :class:`OrderRegistry`.

It holds our orders by cloid, the oid index (and the retired oids of evicted orders), the
requests in flight, the fill de-dup window, the positions, the orphans, the early-event store,
the sync flags and the counters. The modules around it (:mod:`.intents`, :mod:`.outcomes`,
:mod:`.events`, :mod:`.reconcile`, :mod:`.timers`) are plain functions over its public API; they
never write its fields. Order *records* (:class:`~hlmaker.orders.tracked.TrackedOrder`,
:class:`~hlmaker.orders.records.Orphan`) are data those modules fill in — except an order's
``state``, which only :meth:`OrderRegistry.transition` changes, through the tables of
:mod:`hlmaker.orders.states`.

Reading never changes anything: :meth:`OrderRegistry.find` says which order an exchange event is
about and whether that order must first take the event's oid (:data:`Move`); the caller applies
that with :meth:`OrderRegistry.bind` / :meth:`OrderRegistry.rebind`.

Units everywhere: prices in quote currency, sizes in coin, times in ms since the epoch.
"""

from __future__ import annotations

import enum
import logging
import random
from collections import deque
from decimal import Decimal

import attrs

from hlmaker.messages import (
    BookView,
    Fill,
    OpenOrder,
    OrderUpdate,
    ReconcileReason,
    ReconcileRequest,
    signed,
)
from hlmaker.observer import NO_OBSERVER, Observer
from hlmaker.orders.actions import Action
from hlmaker.orders.book_config import BookConfig
from hlmaker.orders.dedup import FillDedup
from hlmaker.orders.early import EarlyEvents
from hlmaker.orders.ownership import CloidSource, Ownership
from hlmaker.orders.records import Finalize, MutableCounters, Note, NoteKind, Orphan
from hlmaker.orders.states import Ev, Flag, OrderState, next_state, step
from hlmaker.orders.tracked import ZERO, TrackedOrder

log = logging.getLogger("hlmaker.book")

EarlyEvent = OrderUpdate | Fill
"""What the early-event store holds (for an oid the book does not know yet)."""

RequestKind = str
"""``"place"``, ``"modify"`` or ``"cancel"``."""


REPLACED_KEPT = 64
"""Replaced legs (old oids) an order keeps indexed; older ones move to the retired map (an event
for one still carries our cloid, and a lower oid than the order's is an older leg)."""


@attrs.define
class Request:
    """One command of ours awaiting its outcomes.

    ``remaining`` counts the outcomes still expected (one per order, cancel or modify); the
    request is forgotten when it reaches 0.
    """

    kind: RequestKind
    cloids: list[str]
    expires_after_ms: int
    remaining: int


class Move(enum.Enum):
    """What an exchange event's oid asks of the order :meth:`OrderRegistry.find` matched
    (``None`` when nothing: the oid is already the order's, current or replaced)."""

    BIND = "bind"
    """The order has no oid yet (fill or update before the ack): it takes this one."""
    REBIND = "rebind"
    """The order is being replaced (modify in flight, unknown outcome, cancel after a modify):
    the oid is its new leg."""
    REBIND_LOST_TRACK = "rebind_lost_track"
    """The exchange shows our cloid on another oid while we knew of no replace: a replace we
    lost track of landed (a cloid rests on at most one order); the exchange is the truth."""


Found = tuple[TrackedOrder | None, bool, Move | None]
"""``(order, is_current_leg, move)`` as returned by :meth:`OrderRegistry.find`."""

_NOT_FOUND: Found = (None, False, None)

_UNKNOWN = OrderState.UNKNOWN  # read per order on hot paths (see states.py on enum reads)


class OrderRegistry:
    """Orders by cloid, the oid index, requests in flight, the de-dup window, positions.

    Args:
        config: tunables (:class:`BookConfig`).
        rng: the randomness of the default cloid source; seed it for reproducible runs.
        observer: told of every finalize path and rebind (:class:`~hlmaker.observer.Observer`).
        ownership: which orders are ours (:class:`~hlmaker.orders.ownership.Ownership`;
            default: the prefix of the name ``hlmaker``, foreign orders ignored, orders of ours
            found at start-up cancelled).
        cloids: where fresh cloids come from (a :class:`~hlmaker.orders.ownership.CloidSource`
            shared by every book incarnation of a process); default: one drawing its session
            from ``rng``.

    Read freely (never write from outside): :attr:`orders`, :attr:`oid_to_cloid`,
    :attr:`retired`, :attr:`dedup`, :attr:`held`, :attr:`positions`, :attr:`recent_fills`,
    :attr:`requests`, :attr:`orphans`, :attr:`notes`, :attr:`counters` (the one field the
    modules bump directly), :attr:`ready`, :attr:`is_synced`, :attr:`feed_up`,
    :attr:`last_fill_ms`, :attr:`presync_fills`, :attr:`deferred_mismatch`,
    :attr:`last_snapshot_requested_ms`, :attr:`cancel_resends`, :attr:`ownership`,
    :attr:`foreign`, :attr:`leftovers`. Nothing here raises for exchange input: odd input is a
    :class:`Note` and a counter.
    """

    def __init__(self, config: BookConfig | None = None, rng: random.Random | None = None, *,
                 observer: Observer = NO_OBSERVER, ownership: Ownership | None = None,
                 cloids: CloidSource | None = None) -> None:
        self.config = config or BookConfig()
        self.observer = observer
        self.ownership = ownership or Ownership()
        self._cloids = cloids or CloidSource(self.ownership.prefix,
                                             (rng or random.Random(0)).getrandbits)
        self._first_draw = self._cloids.state()[2]
        """Cloids the source had drawn when this registry (book incarnation) was built: those
        belong to earlier incarnations."""
        self._our_head = "0x" + self.ownership.prefix
        """How the cloids we draw start (the prefix is lower-case hex): a cheap first test."""
        self.foreign: dict[int, OpenOrder] = {}
        """Foreign open orders (no cloid of ours) by oid, as the last full snapshot listed."""
        self.leftovers: dict[int, int] = {}
        """oid → when our cancel was sent, for orders of ours this book did not place and is
        cancelling: found at start-up, before it quotes (``on_start = "cancel"``), or late
        landings of another process's or a crashed incarnation's placements after it."""
        self.orders: dict[str, TrackedOrder] = {}
        self.oid_to_cloid: dict[int, str] = {}
        self.retired: dict[int, str] = {}
        """oid → cloid of evicted orders (bounded, insertion ordered)."""
        self.dedup = FillDedup(self.config.dedup_capacity)
        self.early_events: EarlyEvents[EarlyEvent] = EarlyEvents(
            capacity=self.config.early_events_capacity, ttl_ms=self.config.early_events_ttl_ms
        )
        self.positions: dict[str, Decimal] = {}
        self.recent_fills: deque[tuple[int, str, Decimal, int]] = deque()
        """(fill time, coin, signed size, local apply time) of recent fills, for the position
        comparison of a reconcile."""
        self.deferred_mismatch: dict[str, tuple[int, int]] = {}
        """coin → (deferrals so far, request time of the last deferring snapshot)."""
        self.last_snapshot_requested_ms: int | None = None
        self.counters = MutableCounters()
        self.requests: dict[int, Request] = {}
        self.orphans: dict[int, Orphan] = {}
        self.notes: deque[Note] = deque(maxlen=1000)
        self.ready = False
        self.is_synced = False
        self.feed_up = False
        self.last_fill_ms: int | None = None
        self.presync_fills: list[Fill] = []
        self._next_request_id = 1
        self.cancel_resends: set[str] = set()
        """Cloids a flag-driven move asked to cancel again (:meth:`take_cancel_resends`)."""

    # ------------------------------------------------------------------ notes
    def note(self, kind: NoteKind, detail: str) -> None:
        """Record a :class:`Note` (bounded to the last 1000) and log it at INFO."""
        self.notes.append(Note(kind, detail))
        log.info("book %s %s", kind.value, detail)

    def bad(self, detail: str) -> list[Action]:
        """Count and note bad input; returns ``[]`` (no action) for the caller to return."""
        self.counters.bad_inputs += 1
        self.note(NoteKind.BAD_INPUT, detail)
        return []

    def take_notes(self) -> list[Note]:
        """Return and clear the notes gathered so far."""
        out = list(self.notes)
        self.notes.clear()
        return out

    # ------------------------------------------------------------------ orders
    def new_cloid(self) -> str:
        """A fresh cloid (``0x`` + 32 hex, our prefix first) from the cloid source, unique
        among tracked orders."""
        while True:
            cloid = self._cloids.next()
            if cloid not in self.orders:
                return cloid

    def placed_here(self, cloid: str | None) -> bool:
        """The cloid was drawn by this book incarnation: from this process's cloid source,
        after this registry was built. An order of ours (our prefix) that is not — placed by
        another process, or by an earlier incarnation of this book that crashed (F9, F17) — is
        a *leftover* this book never tracks. An order of this incarnation whose ack is merely
        late is placed here (the pending order binds it by cloid)."""
        return self._cloids.drawn_after(cloid, self._first_draw)

    def is_ours(self, cloid: str | None) -> bool:
        """The cloid carries our prefix (:meth:`Ownership.is_ours`)."""
        if cloid is not None and cloid.startswith(self._our_head):
            return True  # the common case (our own lower-case cloids), without lower-casing
        return self.ownership.is_ours(cloid)

    def add_order(self, order: TrackedOrder) -> None:
        """Track a new order (``PENDING_NEW``, no oid) under its cloid."""
        self.orders[order.cloid] = order

    def open_orders_on(self, coin: str) -> int:
        """How many non-terminal orders we track on ``coin``."""
        return sum(1 for o in self.orders.values() if o.coin == coin and not o.state.is_terminal)

    def find(self, oid: int, cloid: str | None, *, rejected: bool = False) -> Found:
        """The order an exchange event for ``oid`` (carrying ``cloid``, if any) is about, and
        what must happen to that order before the event applies. Changes nothing.

        By the oid index first (a current or replaced oid of ours); else by the cloid: an order
        without an oid takes it (fill-before-ack, :attr:`Move.BIND`); an order being replaced
        moves to it (:attr:`Move.REBIND`) — unless the event says that oid was ``rejected``: the
        replacement never lived, the order stays on its old leg and the modify's outcome decides
        (``(order, False, None)``), or the oid is lower than the order's: an older leg, never a
        move back (``(order, False, None)``). Returns ``(None, False, None)`` when no order
        matches.
        """
        cl = self.oid_to_cloid.get(oid)
        if cl is not None:
            order = self.orders.get(cl)
            if order is not None:
                return order, order.oid == oid, None
        if cloid is None:
            return _NOT_FOUND
        order = self.orders.get(cloid)
        if order is None:
            return _NOT_FOUND
        state = order.state
        if order.oid is None:
            return order, True, Move.BIND
        if oid < order.oid:
            # An older leg of this cloid, not one we knew (a fresh book adopted the order at
            # its current leg; the push for a leg it replaced before the crash comes late): the
            # exchange gives oids in increasing order and a modify's new leg is always a later
            # one (⚠ observed in every recording and kept by the simulator; not documented).
            # Never a move back (chaos seed 115 × 5 min: a late "canceled" of an old leg
            # finalized the adopted order and a second ladder was placed beside it).
            return order, False, None
        if rejected and state is OrderState.PENDING_MODIFY:
            return order, False, None
        if state is OrderState.PENDING_MODIFY or state is OrderState.UNKNOWN:
            return order, True, Move.REBIND
        if state is OrderState.PENDING_CANCEL and order.pending_sz is not None:
            return order, True, Move.REBIND
        if not state.is_terminal and not rejected:
            return order, True, Move.REBIND_LOST_TRACK
        return _NOT_FOUND

    def bind(self, order: TrackedOrder, oid: int, now_ms: int) -> None:
        """Give ``order`` (no oid yet) its exchange ``oid``: first ack or first evidence."""
        order.oid = oid
        order.evidence_ms = now_ms
        self.oid_to_cloid[oid] = order.cloid

    def rebind(self, order: TrackedOrder, new_oid: int, now_ms: int) -> None:
        """Move ``order`` to the oid of its replacement leg (Hyperliquid's modify is
        cancel-replace: a new oid, the same cloid). The old oid stays indexed so its late
        events are recognised; the leg's filled size restarts at 0 and the pending px/sz of the
        modify become the order's. Tells the observer (``order_rebound``)."""
        self.observer.order_rebound()
        if order.oid is not None and order.oid != new_oid:
            order.replaced_oids.append(order.oid)
            if len(order.replaced_oids) > REPLACED_KEPT:
                # A resting order modified on every re-quote would grow its history (and the
                # oid index) without bound: the oldest leg moves to the bounded retired map,
                # where a late event for it is still recognised as late.
                oldest = order.replaced_oids.pop(0)
                self.oid_to_cloid.pop(oldest, None)
                self.retired[oldest] = order.cloid
                while len(self.retired) > self.config.retired_capacity:
                    del self.retired[next(iter(self.retired))]
        order.oid = new_oid
        order.leg_filled = ZERO
        if order.pending_sz is not None and order.pending_px is not None:
            order.sz, order.px = order.pending_sz, order.pending_px
        order.pending_px = order.pending_sz = None
        order.old_leg_canceled = False
        order.evidence_ms = now_ms
        self.oid_to_cloid[new_oid] = order.cloid

    def finalize(self, order: TrackedOrder, oid: int, now_ms: int) -> Finalize:
        """Meet a place ack naming ``oid`` with ``order``; say how (and tell the observer,
        ``order_finalized(how.value)``): :attr:`Finalize.FROM_PENDING` binds it,
        :attr:`Finalize.ALREADY_TRACKED` when a push bound it first (or the oid is a replaced
        leg of it), :attr:`Finalize.CONFLICT` when it is bound to another oid (nothing changes).
        """
        if order.oid is None:
            self.bind(order, oid, now_ms)
            how = Finalize.FROM_PENDING
        elif order.oid == oid:
            order.evidence_ms = now_ms
            how = Finalize.ALREADY_TRACKED
        elif oid in order.replaced_oids:
            how = Finalize.ALREADY_TRACKED
        else:
            how = Finalize.CONFLICT
        self.observer.order_finalized(how.value)
        return how

    def transition(self, order: TrackedOrder, ev: Ev, now_ms: int, why: str = "") -> bool:
        """Move ``order`` along the tables of :mod:`hlmaker.orders.states` for ``ev``, with the
        flags its record carries (a wanted cancel, in flight or not; an old leg cancelled during
        a modify). Returns False — counted and noted as an illegal transition, state kept —
        when the table has no such edge (the exchange contradicted itself or our inference).

        Entering a terminal state stamps ``finalized_ms``; leaving ``UNKNOWN`` counts the
        resolution. A flag-driven "cancel again" is remembered for :meth:`take_cancel_resends`.
        """
        old = order.state
        if order.cancel_wanted or order.old_leg_canceled:
            new, resend = step(old, ev, partly_filled=order.leg_filled > ZERO,
                               flags=self._flags(order))
        else:  # no flag: the event-triggered table alone (the hot path)
            new = next_state(old, ev, partly_filled=order.leg_filled > ZERO)
            resend = False
        if new is None:
            self.counters.illegal_transitions += 1
            self.note(
                NoteKind.ILLEGAL_TRANSITION,
                f"cloid={order.cloid} oid={order.oid} state={old.value} event={ev.value} {why}",
            )
            return False
        if resend:
            self.cancel_resends.add(order.cloid)
        if new is not old:
            order.state = new
            if new.is_terminal:
                order.finalized_ms = now_ms
                order.pending_px = order.pending_sz = None
            if old is _UNKNOWN:  # (new is not old)
                self.counters.unknown_resolved += 1
                order.unknown_since = None
                order.unknown_kind = None
                order.pending_px = order.pending_sz = None  # a landed replace rebinds first
        return True

    def _flags(self, order: TrackedOrder) -> tuple[Flag, ...]:
        flags: list[Flag] = []
        if order.cancel_wanted:
            if order.inflight is None:
                flags.append(Flag.CANCEL_UNSENT)
            elif self.inflight_kind(order) == "cancel":
                flags.append(Flag.CANCEL_IN_FLIGHT)
        if order.old_leg_canceled:
            flags.append(Flag.OLD_LEG_CANCELED)
        return tuple(flags)

    def take_cancel_resends(self) -> list[TrackedOrder]:
        """The orders a flag-driven move asked to cancel again (sorted by cloid), and forget
        the wish list."""
        orders = [self.orders[c] for c in sorted(self.cancel_resends) if c in self.orders]
        self.cancel_resends.clear()
        return orders

    def evict(self, now_ms: int, *, force: bool = False) -> None:
        """Drop terminal orders older than the retention window (with ``force``: the oldest
        half of the terminal orders, at least one). Their oids move to the bounded retired map
        so late events for them are recognised as late."""
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

    def unresolved(self) -> int:
        """How many orders are in ``UNKNOWN``."""
        return sum(1 for o in self.orders.values() if o.state is _UNKNOWN)

    def live_oids(self) -> set[int]:
        """The oids of orders believed to rest on the exchange."""
        return {o.oid for o in self.orders.values() if o.oid is not None and o.state.is_live}

    # ------------------------------------------------------------------ requests
    def next_request_id(self) -> int:
        """A fresh request id (1, 2, …) for a command that expects no tracked outcome."""
        rid = self._next_request_id
        self._next_request_id += 1
        return rid

    def open_request(self, kind: RequestKind, cloids: list[str], now_ms: int, *,
                     parts: int | None = None) -> tuple[int, int]:
        """Register a command over ``cloids`` issued at ``now_ms``; returns ``(request id,
        expiresAfter in ms)`` = ``now_ms`` + ``action_ttl_ms``. ``parts``: how many outcomes to
        await (default one per cloid; cancels of orphans name no cloid). Each named order
        records the request as its one in flight."""
        rid = self.next_request_id()
        exp = now_ms + self.config.action_ttl_ms
        self.requests[rid] = Request(kind, cloids, exp, len(cloids) if parts is None else parts)
        for c in cloids:
            o = self.orders.get(c)
            if o is not None:
                o.inflight = rid
        return rid, exp

    def settle(self, request_id: int, order: TrackedOrder | None) -> None:
        """One outcome of ``request_id`` arrived (for ``order``, if tracked): count it down,
        forget the request at 0, and clear the order's in-flight mark if it is this request."""
        req = self.requests.get(request_id)
        if req is not None:
            req.remaining -= 1
            if req.remaining <= 0:
                del self.requests[request_id]
        if order is not None and order.inflight == request_id:
            order.inflight = None

    def forget_request(self, request_id: int) -> None:
        """Stop tracking ``request_id`` (its outcome is unknown and nothing awaits it)."""
        self.requests.pop(request_id, None)

    def inflight_kind(self, order: TrackedOrder) -> RequestKind | None:
        """The kind of the request in flight on ``order``; ``None`` if none (or forgotten)."""
        req = self.requests.get(order.inflight) if order.inflight is not None else None
        return req.kind if req is not None else None

    # ------------------------------------------------------------------ fills and positions
    def record_fill(self, fill: Fill, now_ms: int, channel: str = "") -> Decimal:
        """Count a new fill exactly once: mark ``(oid, tid)`` seen, move the position by the
        signed size, add volume, closed PnL and fees, remember it for the position check of
        reconcile. Returns the position before it (coin). The caller has checked it is new;
        ``channel`` is the live channel that brought it (``""`` for snapshots and sweeps)."""
        self.dedup.add((fill.oid, fill.tid), channel)
        before = self.positions.get(fill.coin, ZERO)
        delta = signed(fill.side, fill.sz)
        self.positions[fill.coin] = before + delta
        c = self.counters
        c.fills_applied += 1
        c.volume += fill.sz * fill.px
        c.closed_pnl += fill.closed_pnl
        c.fees += fill.fee
        self.recent_fills.append((fill.time_ms, fill.coin, delta, now_ms))
        while len(self.recent_fills) > self.config.dedup_capacity:
            self.recent_fills.popleft()
        if self.last_fill_ms is None or fill.time_ms > self.last_fill_ms:
            self.last_fill_ms = fill.time_ms
        return before

    def mark_fill_seen(self, fill: Fill) -> None:
        """Mark a fill already contained in an adopted position as seen (first sync after a
        restart): de-dup key and fill time, no position change."""
        self.dedup.add((fill.oid, fill.tid))
        self.counters.fills_preexisting += 1
        if self.last_fill_ms is None or fill.time_ms > self.last_fill_ms:
            self.last_fill_ms = fill.time_ms

    def hold_presync_fill(self, fill: Fill) -> None:
        """Keep a snapshot fill received before the first sync (bounded by the de-dup capacity)
        for the first reconcile to sort out."""
        if len(self.presync_fills) < self.config.dedup_capacity:
            self.presync_fills.append(fill)

    def take_presync_fills(self) -> list[Fill]:
        """Return and clear the fills kept before the first sync."""
        out, self.presync_fills = self.presync_fills, []
        return out

    def adopt_position(self, coin: str, size: Decimal) -> None:
        """Set the local position of ``coin`` (coin, signed) to the exchange's."""
        self.positions[coin] = size

    def defer_position_check(self, coin: str, count: int, requested_at_ms: int) -> None:
        """Remember that ``count`` snapshots (the last requested at ``requested_at_ms``) could
        not decide ``coin``'s position."""
        self.deferred_mismatch[coin] = (count, requested_at_ms)

    def clear_position_deferral(self, coin: str) -> None:
        """Forget the deferrals of ``coin``'s position check."""
        self.deferred_mismatch.pop(coin, None)

    # ------------------------------------------------------------------ early events
    def hold(self, oid: int, event: EarlyEvent, now_ms: int) -> None:
        """Hold an event for an oid no order has yet (bounded; overflow counted as expired)."""
        dropped = self.early_events.hold(oid, event, now_ms)
        self.counters.early_events_held += 1
        self.counters.early_events_expired += len(dropped)

    def take_held(self, oid: int) -> list[EarlyEvent]:
        """Remove and return the events held for ``oid``, oldest first."""
        return self.early_events.take(oid)

    def expire_held(self, now_ms: int) -> list[tuple[int, EarlyEvent]]:
        """Remove and return ``(oid, event)`` held longer than ``early_events_ttl_ms``."""
        return self.early_events.expire(now_ms)

    # ------------------------------------------------------------------ orphans
    def track_orphan(self, oid: int, coin: str, cloid: str | None, now_ms: int) -> bool:
        """Start tracking an order the exchange lists and we do not; False when the orphan
        table is full (``max_tracked_orders``). Not yet counted: an orphan counts
        (``orphans_detected``) only when still unexplained after the grace period."""
        if len(self.orphans) >= self.config.max_tracked_orders:
            return False
        self.orphans[oid] = Orphan(coin=coin, cloid=cloid, first_seen_ms=now_ms)
        return True

    def set_foreign(self, rows: dict[int, OpenOrder]) -> None:
        """Replace the foreign open orders by those a full snapshot listed (by oid)."""
        self.foreign = rows

    def leftover_cancel_sent(self, oid: int, now_ms: int) -> None:
        """Our cancel of the leftover ``oid`` went out at ``now_ms``."""
        self.leftovers[oid] = now_ms

    def keep_leftovers(self, listed: set[int], requested_at_ms: int) -> None:
        """Forget the leftovers a snapshot requested at ``requested_at_ms`` no longer lists
        (cancelled, filled, or gone) — except those whose cancel went out after it was
        requested (a late landing seen live: the snapshot may predate it)."""
        for oid in [oid for oid, sent in self.leftovers.items()
                    if oid not in listed and sent <= requested_at_ms]:
            del self.leftovers[oid]

    def drop_orphan(self, oid: int) -> None:
        """Stop tracking the orphan ``oid`` (cancelled, or no longer listed)."""
        self.orphans.pop(oid, None)

    def keep_orphans(self, listed: set[int]) -> None:
        """Forget the orphans whose oid is not in ``listed`` (the last snapshot's oids)."""
        for oid in [oid for oid in self.orphans if oid not in listed]:
            del self.orphans[oid]

    # ------------------------------------------------------------------ sync
    def set_feed(self, up: bool) -> None:
        """The account feed (re)connected (``up``) or dropped; a drop unsyncs the book."""
        self.feed_up = up
        if not up:
            self.is_synced = False

    def mark_unsynced(self) -> None:
        """The book may differ from the exchange (gap, reconnect, unknown outcome)."""
        self.is_synced = False

    def mark_synced(self, in_sync: bool) -> None:
        """A reconcile was applied: the book is synced once, and ``in_sync`` says whether it
        matched the exchange."""
        self.is_synced = in_sync
        self.ready = True

    def snapshot_requested(self, requested_at_ms: int) -> None:
        """Remember the request time of the last snapshot applied in full."""
        self.last_snapshot_requested_ms = requested_at_ms

    def ask_reconcile(self, reason: ReconcileReason) -> list[ReconcileRequest]:
        """A one-element list: the :class:`ReconcileRequest` for ``reason``, asking for fills
        since the last applied fill time minus ``fills_margin_ms`` (all fills if none yet, or
        before the first completed sync) and
        the ``orderStatus`` of every ``UNKNOWN`` cloid (sorted)."""
        since = None
        if self.last_fill_ms is not None and self.ready:
            # Before its first completed sync a book needs whole-history sweeps (reconcile
            # refuses a windowed one then): asking for a window would never be answered while
            # the orders of a previous process are being cancelled (campaign seed 36).
            since = self.last_fill_ms - self.config.fills_margin_ms
        cloids = tuple(
            sorted(c for c, o in self.orders.items() if o.state is OrderState.UNKNOWN)
        )
        return [ReconcileRequest(reason=reason, since_ms=since, cloids=cloids)]

    # ------------------------------------------------------------------ views
    def view(self, now_ms: int) -> BookView:
        """An immutable snapshot for readers: non-terminal orders, positions, counters."""
        return BookView(
            at_ms=now_ms,
            orders=tuple(o.view() for o in self.orders.values() if not o.state.is_terminal),
            positions=dict(self.positions),
            counters=self.counters.freeze(),
            is_synced=self.is_synced,
            last_fill_ms=self.last_fill_ms,
            unresolved=self.unresolved(),
            ready=self.ready,
            foreign_orders=tuple(self.foreign[oid] for oid in sorted(self.foreign)),
        )
