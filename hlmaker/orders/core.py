"""The order core's facade: :class:`OrderBookCore`, messages in, actions out (sans-IO, like h11).

:class:`OrderBookCore` is the single source of truth for our orders, fills and positions. It
takes strategy intents, executor outcomes, exchange events and reconcile snapshots — each with
``now_ms`` — through one door, :meth:`~OrderBookCore.handle`, and its timer through
:meth:`~OrderBookCore.tick`; both return what to do as data (:data:`Action`: executor commands
and reconcile requests). It never performs I/O, never reads a clock, and draws cloids from an
injected :class:`random.Random`, so a seed replays exactly.

It is composed, not mixed in: the state lives in one :class:`~hlmaker.orders.registry.
OrderRegistry` (:attr:`OrderBookCore.registry`), and each message goes to a plain function over
it — :mod:`.intents`, :mod:`.ladder`, :mod:`.outcomes`, :mod:`.events`, :mod:`.reconcile`,
:mod:`.timers`.

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
* **Bad input** (ack for an unknown cloid, negative size, unknown coin, unknown status, a message
  of no known type) is a :class:`~hlmaker.orders.records.Note` plus a counter plus a log line —
  never an exception.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hlmaker.messages import (
    ArmScheduleCancel,
    BookView,
    CancelAll,
    CancelFailed,
    CancelOk,
    CancelOrder,
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
    OrderUpdates,
    PlaceOrder,
    ReconcileReason,
    ReconcileRequest,
    ReconcileSnapshot,
    RequestUnknown,
    ScheduleCancelResult,
    TargetLadder,
)
from hlmaker.observer import NO_OBSERVER, Observer
from hlmaker.orders.actions import Action
from hlmaker.orders.apply_events import apply_fill as apply_one_fill
from hlmaker.orders.apply_events import on_event, on_fills, on_updates
from hlmaker.orders.apply_intents import (
    cancel,
    cancel_all,
    flush_cancels,
    modify,
    place,
    schedule_cancel,
)
from hlmaker.orders.apply_outcomes import (
    on_cancel_outcome,
    on_modify_outcome,
    on_outcome,
    on_place_outcome,
    on_unknown,
)
from hlmaker.orders.book_config import BookConfig
from hlmaker.orders.dedup import FillDedup
from hlmaker.orders.early import EarlyEvents
from hlmaker.orders.ladder_diff import diff_ladder
from hlmaker.orders.ownership import CloidSource, Ownership
from hlmaker.orders.reconcile import reconcile
from hlmaker.orders.records import MutableCounters, Note, Orphan
from hlmaker.orders.registry import EarlyEvent, OrderRegistry, Request
from hlmaker.orders.timers import tick as run_timers
from hlmaker.orders.tracked import TrackedOrder

__all__ = ["Action", "OrderBookCore"]

Handler = Callable[[OrderRegistry, Any, int], list[Action]]


def _snapshot(reg: OrderRegistry, snap: ReconcileSnapshot, now_ms: int) -> list[Action]:
    return list(reconcile(reg, snap, now_ms).actions)


def _arm(reg: OrderRegistry, msg: ArmScheduleCancel, now_ms: int) -> list[Action]:
    return schedule_cancel(reg, msg.at_ms, now_ms)


_HANDLERS: dict[type, Handler] = {
    Fills: on_fills,
    OrderUpdates: on_updates,
    NonUserCancel: on_event,
    FeedConnected: on_event,
    FeedDisconnected: on_event,
    OrderResting: on_place_outcome,
    OrderFilled: on_place_outcome,
    OrderRejected: on_place_outcome,
    ModifyResting: on_modify_outcome,
    ModifyFilled: on_modify_outcome,
    ModifyRejected: on_modify_outcome,
    CancelOk: on_cancel_outcome,
    CancelFailed: on_cancel_outcome,
    RequestUnknown: on_unknown,
    ScheduleCancelResult: on_outcome,
    TargetLadder: diff_ladder,
    PlaceOrder: place,
    CancelOrder: cancel,
    ModifyOrder: modify,
    CancelAll: cancel_all,
    ArmScheduleCancel: _arm,
    ReconcileSnapshot: _snapshot,
}
"""Which function applies each inbound message type."""


def _handler_for(msg: object) -> Handler | None:
    handler = _HANDLERS.get(type(msg))
    if handler is None:
        handler = next((h for t, h in _HANDLERS.items() if isinstance(msg, t)), None)
    return handler


class OrderBookCore:
    """The book's order core: one :class:`OrderRegistry` and the one door to it.

    Args:
        config: tunables (:class:`BookConfig`; default ``BookConfig()``).
        rng: randomness of the default cloid source; seed it for reproducible runs (default
            ``Random(0)``).
        ownership, cloids: which orders are ours and where cloids come from
            (:mod:`hlmaker.orders.ownership`; see :class:`~hlmaker.orders.registry.OrderRegistry`).
        observer: told of every finalize path (``order_finalized``) and rebind
            (``order_rebound``); the no-op :data:`~hlmaker.observer.NO_OBSERVER` by default.

    :meth:`handle` and :meth:`tick` take ``now_ms`` (ms since the epoch, never going back) and
    return a list of :data:`Action`; :attr:`notes` collects what was noticed since
    :meth:`take_notes` was last called (bounded). The state is read through the properties
    below (read-only by contract: change it only through :meth:`handle` and :meth:`tick`).
    """

    def __init__(self, config: BookConfig | None = None, rng: random.Random | None = None, *,
                 observer: Observer = NO_OBSERVER, ownership: Ownership | None = None,
                 cloids: CloidSource | None = None) -> None:
        self.registry = OrderRegistry(config, rng, observer=observer, ownership=ownership,
                                      cloids=cloids)

    # ------------------------------------------------------------------ the door
    def handle(self, msg: object, now_ms: int) -> list[Action]:
        """Apply any inbound message — intent, executor outcome, exchange event or
        :class:`~hlmaker.messages.ReconcileSnapshot` — at ``now_ms``; return the actions.

        Then, if an order we want cancelled was shown alive with no request in flight (a
        flag-driven move of :mod:`hlmaker.orders.states`), its cancel goes out again. Unknown
        message types are bad input (counted, noted), never an exception.
        """
        reg = self.registry
        handler = _HANDLERS.get(type(msg)) or _handler_for(msg)
        if handler is None:
            return reg.bad(f"unhandled message {type(msg).__name__}")
        actions = handler(reg, msg, now_ms)
        if reg.cancel_resends:
            actions += flush_cancels(reg, now_ms)
        return actions

    def tick(self, now_ms: int) -> list[Action]:
        """The timer (:func:`hlmaker.orders.timers.tick`): expire held events, time out silent
        requests, re-query unknowns, evict old orders."""
        return run_timers(self.registry, now_ms)

    def apply_fill(self, fill: Fill, now_ms: int, *, check_gap: bool = True) -> list[Action]:
        """Apply one fill as if it came live (:func:`hlmaker.orders.apply_events.apply_fill`); for
        tests and tools that feed fills one by one."""
        return apply_one_fill(self.registry, fill, now_ms, check_gap=check_gap)

    def ask_reconcile(self, reason: ReconcileReason) -> list[ReconcileRequest]:
        """A one-element list: the :class:`ReconcileRequest` for ``reason`` (fills window and
        unknown cloids). Changes nothing."""
        return self.registry.ask_reconcile(reason)

    def take_notes(self) -> list[Note]:
        """Return and clear the notes gathered so far."""
        return self.registry.take_notes()

    def view(self, now_ms: int) -> BookView:
        """An immutable snapshot of the book for readers."""
        return self.registry.view(now_ms)

    def live_oids(self) -> set[int]:
        """The oids of orders believed to rest on the exchange."""
        return self.registry.live_oids()

    # ------------------------------------------------------------------ read access
    @property
    def config(self) -> BookConfig:
        """The tunables."""
        return self.registry.config

    @property
    def counters(self) -> MutableCounters:
        """The live counters (:meth:`MutableCounters.freeze` for an immutable copy)."""
        return self.registry.counters

    @property
    def orders(self) -> dict[str, TrackedOrder]:
        """Tracked orders by cloid (terminal ones until evicted)."""
        return self.registry.orders

    @property
    def oid_to_cloid(self) -> dict[int, str]:
        """Every oid (current and replaced legs) of a tracked order → its cloid."""
        return self.registry.oid_to_cloid

    @property
    def retired(self) -> dict[int, str]:
        """oid → cloid of evicted orders (bounded)."""
        return self.registry.retired

    @property
    def dedup(self) -> FillDedup:
        """The ``(oid, tid)`` fill window."""
        return self.registry.dedup

    @property
    def early_events(self) -> EarlyEvents[EarlyEvent]:
        """Events held for oids not known yet."""
        return self.registry.early_events

    @property
    def positions(self) -> dict[str, Decimal]:
        """coin → signed position (coin)."""
        return self.registry.positions

    @property
    def recent_fills(self) -> deque[tuple[int, str, Decimal, int]]:
        """(fill time, coin, signed size, local apply time) of recent fills."""
        return self.registry.recent_fills

    @property
    def requests(self) -> dict[int, Request]:
        """Requests awaiting outcomes, by request id."""
        return self.registry.requests

    @property
    def orphans(self) -> dict[int, Orphan]:
        """Orders the exchange lists that we do not track, by oid."""
        return self.registry.orphans

    @property
    def notes(self) -> deque[Note]:
        """What was noticed since :meth:`take_notes` (the last 1000)."""
        return self.registry.notes

    @property
    def presync_fills(self) -> list[Fill]:
        """Snapshot fills kept before the first sync."""
        return self.registry.presync_fills

    @property
    def ready(self) -> bool:
        """A reconcile has been applied since this core was made."""
        return self.registry.ready

    @property
    def is_synced(self) -> bool:
        """The last reconcile matched the exchange and nothing unsynced the book since."""
        return self.registry.is_synced

    @property
    def feed_up(self) -> bool:
        """The account feed is connected."""
        return self.registry.feed_up

    @property
    def last_fill_ms(self) -> int | None:
        """The latest exchange time of an applied fill (ms since the epoch)."""
        return self.registry.last_fill_ms
