"""The pure order-state core (sans-IO): state machine, de-dup, positions, reconcile.

* :mod:`.states` — the transition table;
* :mod:`.core` — :class:`OrderBookCore`, intents / outcomes / events in, actions out;
* :mod:`.reconcile` — :func:`reconcile` against an exchange snapshot;
* :mod:`.ladder` — target-ladder diffing;
* :mod:`.dedup`, :mod:`.held` — the bounded fill window and the early-event store.
"""

from hlmaker.orders.config import BookConfig
from hlmaker.orders.core import Action, OrderBookCore
from hlmaker.orders.reconcile import ReconcileResult, reconcile
from hlmaker.orders.records import Finalize, Note, NoteKind
from hlmaker.orders.states import Ev, OrderState

__all__ = [
    "Action", "BookConfig", "Ev", "Finalize", "Note", "NoteKind", "OrderBookCore", "OrderState",
    "ReconcileResult", "reconcile",
]
