"""The pure order-state core (sans-IO): state machine, de-dup, positions, reconcile.

Composed, not mixed in — one object owns the state, plain functions act on it, and the imports
run one way (no cycle)::

    core.py        OrderBookCore: the facade — handle(msg, now_ms) and tick(now_ms) → [Action]
     │                (the one door for every message, ReconcileSnapshot included)
     ├─ reconcile.py   reconcile(registry, snapshot, now_ms) → ReconcileResult
     ├─ timers.py      tick(registry, now_ms): watchdog, re-queries, eviction
     ├─ ladder_diff.py     diff_ladder(registry, TargetLadder, now_ms): fewest commands
     ├─ apply_outcomes.py  executor acks, rejects, cancels, unknown outcomes
     ├─ apply_intents.py   place / cancel / modify / cancel-all / scheduleCancel → commands
     ├─ apply_events.py    fills, order updates, non-user cancels, feed (re)connects
     └─ registry.py    OrderRegistry: orders by cloid, oid index, requests in flight, de-dup
                       window, positions, orphans, early events, counters — a small public API;
                       every order state change goes through states.py
    ownership.py   Ownership (our cloid prefix, the foreign and start-up policies), CloidSource
    states.py      the transition tables: event-triggered, flag-driven, state-triggered
    tracked.py, records.py, dedup.py, early.py (events that outran their ack),
    book_config.py (BookConfig), actions.py — records and containers

The ``apply_*`` modules are named apart from :mod:`hlmaker.messages` (``intents``, ``outcomes``,
``events``: the message classes they apply); ``ladder_diff`` apart from
:mod:`hlmaker.strategy.ladder` (the reference strategy); ``book_config`` apart from
:mod:`hlmaker.config` (the TOML file).

Arrows point to what a module may import (each module imports only modules below it in this
list). Units: prices in quote currency, sizes in coin, times in ms since the epoch.
"""

from hlmaker.orders.actions import Action
from hlmaker.orders.book_config import BookConfig
from hlmaker.orders.core import OrderBookCore
from hlmaker.orders.reconcile import ReconcileResult, reconcile
from hlmaker.orders.records import Finalize, Note, NoteKind
from hlmaker.orders.registry import OrderRegistry
from hlmaker.orders.states import Ev, OrderState

__all__ = [
    "Action", "BookConfig", "Ev", "Finalize", "Note", "NoteKind", "OrderBookCore",
    "OrderRegistry", "OrderState", "ReconcileResult", "reconcile",
]
