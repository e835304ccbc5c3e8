"""Small records of the order core: notes, finalize outcomes, counters, orphans."""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

from hlmaker.messages import Counters
from hlmaker.orders.tracked import ZERO


class NoteKind(enum.Enum):
    """Why an input was not simply applied (every kind also bumps a counter)."""

    BAD_INPUT = "bad_input"
    DUPLICATE_FILL = "duplicate_fill"
    ILLEGAL_TRANSITION = "illegal_transition"
    HELD = "held"
    LATE_EVENT = "late_event"
    UNTRACKED = "untracked"
    GAP = "gap"


class Finalize(enum.Enum):
    """How an acknowledgement met the order it names (never fails silently)."""

    FROM_PENDING = "from_pending"
    """The ack gave a pending order its oid."""
    ALREADY_TRACKED = "already_tracked"
    """An earlier event (fill, update, snapshot) had already bound that oid through the cloid."""
    REBOUND = "rebound"
    """A modify ack moved the cloid to its new oid."""
    UNKNOWN_CLOID = "unknown_cloid"
    """No order has that cloid (for example an ack reaching a restarted book)."""
    CONFLICT = "conflict"
    """The order is bound to another oid already."""


@attrs.frozen
class Note:
    """Something the core noticed about one input."""

    kind: NoteKind
    detail: str


@attrs.define
class Orphan:
    coin: str
    cloid: str | None
    first_seen_ms: int
    cancel_sent_ms: int | None = None


@attrs.define
class MutableCounters:
    fills_applied: int = 0
    volume: Decimal = ZERO
    duplicate_fills_dropped: int = 0
    fills_untracked: int = 0
    early_events_held: int = 0
    early_events_expired: int = 0
    orphans_detected: int = 0
    orphans_cancelled: int = 0
    stale_removed: int = 0
    position_drifts: int = 0
    gaps_detected: int = 0
    illegal_transitions: int = 0
    unknown_opened: int = 0
    unknown_resolved: int = 0
    bad_inputs: int = 0
    rejects: int = 0
    late_events: int = 0
    acks_unknown_cloid: int = 0
    fills_preexisting: int = 0
    closed_pnl: Decimal = ZERO
    fees: Decimal = ZERO

    def freeze(self) -> Counters:
        return Counters(**{
            f.name: getattr(self, f.name) for f in attrs.fields(Counters)
        })


