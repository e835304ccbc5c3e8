"""Small records of the order core: notes, finalize outcomes, counters, orphans."""

from __future__ import annotations

import enum
import operator
from typing import Any

import attrs

from hlmaker.messages import Counters


class NoteKind(enum.Enum):
    """Why an input was not simply applied (every kind also bumps a counter)."""

    BAD_INPUT = "bad_input"
    ILLEGAL_TRANSITION = "illegal_transition"
    HELD = "held"
    LATE_EVENT = "late_event"
    UNTRACKED = "untracked"
    GAP = "gap"


class Finalize(enum.Enum):
    """How a place acknowledgement met the order it names (never fails silently). A modify
    ack's move to the new oid is a rebind (:meth:`OrderRegistry.rebind
    <hlmaker.orders.registry.OrderRegistry.rebind>`), not a finalize."""

    FROM_PENDING = "from_pending"
    """The ack gave a pending order its oid."""
    ALREADY_TRACKED = "already_tracked"
    """An earlier event (fill, update, snapshot) had already bound that oid through the cloid."""
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
    """An order the exchange lists (``oid``, the key) that this book does not track: first seen
    at ``first_seen_ms``, our cancel sent at ``cancel_sent_ms`` (ms since the epoch)."""

    coin: str
    cloid: str | None
    first_seen_ms: int
    cancel_sent_ms: int | None = None


_read_all = operator.attrgetter(*(f.name for f in attrs.fields(Counters)))
"""Every counter's value in one C call (a view is frozen on each book publish read)."""


class MutableCounters:
    """The core's live counters: the same fields as :class:`~hlmaker.messages.Counters` (taken
    from it, so the two never drift apart), mutable, with :meth:`freeze` for views."""

    __slots__ = tuple(f.name for f in attrs.fields(Counters))

    def __init__(self) -> None:
        for f in attrs.fields(Counters):
            setattr(self, f.name, f.default)

    def __getattr__(self, name: str) -> Any:  # for type checkers: fields are set in __init__
        raise AttributeError(name)

    def freeze(self) -> Counters:
        """An immutable copy."""
        return Counters(**dict(zip(self.__slots__, _read_all(self), strict=True)))

    def __repr__(self) -> str:
        return "MutableCounters(" + ", ".join(
            f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"
