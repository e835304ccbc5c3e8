"""The order state machine, as one transition table.

Every legal edge of an order's life is listed in :data:`TRANSITIONS`, including the real-world
races of Hyperliquid (fill after cancel was sent, fill after canceled, cancel failed because the
order already filled, ``open`` arriving after fills, modify as cancel-replace with a late
``canceled`` for the old oid, a late ack after the fills). The style follows h11's ``_state.py``;
the race edges follow nautilus_trader's ``_ORDER_STATE_TABLE``.

Some moves depend on a flag of the order's own record rather than on the event alone — a cancel
we want while a cancel (or nothing) is in flight, an old leg cancelled while a modify was in
flight. They are tables too, beside the event-triggered one (as h11 keeps its state-triggered
transitions beside its event-triggered ones): :data:`FLAG_EVENT_TRANSITIONS` replaces an edge,
:data:`STATE_TRIGGERED_TRANSITIONS` moves on from the state an edge reached, and
:func:`step` applies all three (plus whether a wanted cancel must go out again). No code outside
:meth:`hlmaker.orders.registry.OrderRegistry.transition` assigns an order's state.

An ``(state, event)`` pair missing from the table is *illegal*: the exchange said something that
contradicts what it said before (or our inference). The core counts and logs it, keeps the state,
and never raises: :func:`next_state` (and :func:`step`) return ``None``.

States::

    PENDING_NEW ──ack resting / open──► RESTING ──fill──► PARTIALLY_FILLED ──fill──► FILLED
        │  └──timeout──► UNKNOWN ──evidence──► (any)     │  │                       ▲
        │                  └──unknownOid after expiry──► EXPIRED                     │
        ├──ack rejected──► REJECTED        cancel sent ──► PENDING_CANCEL ──ok──► CANCELED
        └──ack filled──────────────────────────────────────────────────────────────►┘
    RESTING/PARTIALLY_FILLED ──modify sent──► PENDING_MODIFY ──ok (new oid)──► RESTING
    PENDING_NEW ──waitingForTrigger / waitingForFill──► WAITING ──triggered──► RESTING (or fills)

Terminal states (FILLED, CANCELED, REJECTED, EXPIRED) never return to a live state. Fills are
applied to the position whatever the state: the table only decides the order's lifecycle.
"""

from __future__ import annotations

import enum


class OrderState(enum.Enum):
    """Where one order (one cloid) is in its life."""

    PENDING_NEW = "pending_new"
    """Place sent; no ack and no exchange evidence yet. No oid."""
    RESTING = "resting"
    """On the book with an oid, nothing filled."""
    PARTIALLY_FILLED = "partially_filled"
    """On the book, partly filled."""
    PENDING_CANCEL = "pending_cancel"
    """Cancel sent; the order may still fill until the exchange confirms."""
    PENDING_MODIFY = "pending_modify"
    """batchModify sent: the old oid may be replaced by a new one (same cloid)."""
    UNKNOWN = "unknown"
    """A request for it timed out: it may or may not exist. Left only on exchange evidence."""
    WAITING = "waiting"
    """A trigger (TP/SL) order the exchange holds off the book until the mark price crosses its
    trigger (``waitingForTrigger``), or a TP/SL child waiting for its parent to fill
    (``waitingForFill``). It has an oid and can be cancelled, but it quotes nothing. hlmaker
    places no trigger orders itself; the state keeps exchange evidence of one truthful."""
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    """Its placement timed out and the exchange proved it never landed (``unknownOid`` after the
    action's ``expiresAfter``)."""

    is_terminal: bool
    """True for FILLED, CANCELED, REJECTED and EXPIRED (:data:`TERMINAL`)."""
    is_live: bool
    """True when the order rests (or may rest) on the exchange with a known oid
    (:data:`LIVE`)."""

    # Identity hash (members are singletons and compare by identity): ``Enum.__hash__`` hashes
    # the name in Python code, and every transition looks up a ``(state, event)`` key.
    __hash__ = object.__hash__


class Ev(enum.Enum):
    """What can happen to an order."""

    ACK_RESTING = "ack_resting"
    ACK_FILLED = "ack_filled"
    ACK_REJECTED = "ack_rejected"
    TIMEOUT = "timeout"
    """The place or modify request's outcome is unknown."""
    UPDATE_OPEN = "update_open"
    UPDATE_FILLED = "update_filled"
    UPDATE_CANCELED = "update_canceled"
    """``canceled``, ``scheduledCancel``, ``marginCanceled`` and every other ``*Canceled``."""
    UPDATE_REJECTED = "update_rejected"
    UPDATE_WAITING = "update_waiting"
    """``waitingForTrigger`` / ``waitingForFill``: held by the exchange, off the book."""
    UPDATE_TRIGGERED = "update_triggered"
    """``triggered``: a trigger order fired and goes to the book (a limit) or executes (a
    market); the fills or a ``filled``/``canceled`` follow."""
    FILL_PARTIAL = "fill_partial"
    FILL_COMPLETE = "fill_complete"
    CANCEL_SENT = "cancel_sent"
    CANCEL_OK = "cancel_ok"
    CANCEL_FAILED = "cancel_failed"
    MODIFY_SENT = "modify_sent"
    MODIFY_OK = "modify_ok"
    MODIFY_REJECTED = "modify_rejected"
    SNAPSHOT_OPEN = "snapshot_open"
    """A reconcile snapshot (or ``orderStatus``) lists the order as open."""
    SNAPSHOT_ABSENT = "snapshot_absent"
    """A reconcile snapshot taken after every protection window does not list the order."""
    STATUS_NEVER_LANDED = "status_never_landed"
    """``orderStatus`` by cloid answered ``unknownOid`` after the action's ``expiresAfter``."""

    __hash__ = object.__hash__  # identity, as OrderState's (the transition tables' keys)


S = OrderState
# Members read on hot paths are module constants: on Python 3.11 ``OrderState.X`` goes through
# ``EnumType.__getattr__``'s slow attribute hook (~70 ns a read).
_RESTING = S.RESTING
_PARTIALLY_FILLED = S.PARTIALLY_FILLED
TERMINAL = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})
LIVE = frozenset({S.RESTING, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.PENDING_MODIFY, S.WAITING})

for _state in OrderState:  # plain attributes, not properties: read on every hot path
    _state.is_terminal = _state in TERMINAL
    _state.is_live = _state in LIVE

# A target of LIVE_AUTO means "RESTING or PARTIALLY_FILLED, whichever the filled size says".
LIVE_AUTO = S.RESTING


def _edges() -> dict[tuple[OrderState, Ev], OrderState]:
    t: dict[tuple[OrderState, Ev], OrderState] = {}

    def add(src: OrderState | tuple[OrderState, ...], ev: Ev, dst: OrderState) -> None:
        for s in src if isinstance(src, tuple) else (src,):
            t[(s, ev)] = dst

    # --- placement -------------------------------------------------------------------------
    add(S.PENDING_NEW, Ev.ACK_RESTING, LIVE_AUTO)
    add(S.PENDING_NEW, Ev.ACK_FILLED, S.FILLED)
    add(S.PENDING_NEW, Ev.ACK_REJECTED, S.REJECTED)
    add(S.PENDING_NEW, Ev.TIMEOUT, S.UNKNOWN)
    add(S.PENDING_NEW, Ev.CANCEL_SENT, S.PENDING_CANCEL)  # cancel by cloid before the ack
    # Exchange evidence before the ack (fill-before-ack, F3): bound through the cloid.
    add(S.PENDING_NEW, Ev.UPDATE_OPEN, LIVE_AUTO)
    add(S.PENDING_NEW, Ev.SNAPSHOT_OPEN, LIVE_AUTO)
    add(S.PENDING_NEW, Ev.FILL_PARTIAL, S.PARTIALLY_FILLED)
    add(S.PENDING_NEW, Ev.FILL_COMPLETE, S.FILLED)
    add(S.PENDING_NEW, Ev.UPDATE_FILLED, S.FILLED)
    add(S.PENDING_NEW, Ev.UPDATE_CANCELED, S.CANCELED)
    add(S.PENDING_NEW, Ev.UPDATE_REJECTED, S.REJECTED)
    add(S.PENDING_NEW, Ev.UPDATE_WAITING, S.WAITING)  # a trigger order, before its ack
    add(S.PENDING_NEW, Ev.UPDATE_TRIGGERED, LIVE_AUTO)  # ... that fired before its ack

    # --- resting / partially filled ----------------------------------------------------------
    live = (S.RESTING, S.PARTIALLY_FILLED)
    add(live, Ev.ACK_RESTING, LIVE_AUTO)  # the ack after an early `open` update
    add(live, Ev.ACK_FILLED, S.FILLED)  # rested briefly, filled, then the ack said filled
    add(live, Ev.UPDATE_OPEN, LIVE_AUTO)  # duplicate, or `open` arriving after fills (F2)
    add(live, Ev.SNAPSHOT_OPEN, LIVE_AUTO)
    add(live, Ev.FILL_PARTIAL, S.PARTIALLY_FILLED)
    add(live, Ev.FILL_COMPLETE, S.FILLED)
    add(live, Ev.UPDATE_FILLED, S.FILLED)
    add(live, Ev.UPDATE_CANCELED, S.CANCELED)  # exchange-initiated cancel (F10)
    add(live, Ev.CANCEL_SENT, S.PENDING_CANCEL)
    add(live, Ev.MODIFY_SENT, S.PENDING_MODIFY)
    add(live, Ev.SNAPSHOT_ABSENT, S.CANCELED)  # stale: gone with no fill to explain it
    add(live, Ev.MODIFY_REJECTED, LIVE_AUTO)  # a late modify answer after evidence
    add(live, Ev.CANCEL_FAILED, LIVE_AUTO)  # a late cancel answer after evidence
    add(live, Ev.MODIFY_OK, LIVE_AUTO)  # the modify ack after the new oid was already seen
    add(live, Ev.TIMEOUT, LIVE_AUTO)  # the ack was lost, but the exchange already showed it live
    add(live, Ev.UPDATE_TRIGGERED, LIVE_AUTO)  # a fired limit trigger rests (or a duplicate)
    add(live, Ev.UPDATE_WAITING, LIVE_AUTO)  # a late `waitingForTrigger` after it fired (F2)

    # --- waiting for a trigger (or for the parent's fill) ------------------------------------
    w = S.WAITING
    add(w, Ev.UPDATE_WAITING, w)  # waitingForFill -> waitingForTrigger, or a duplicate
    add(w, Ev.UPDATE_OPEN, w)  # listed open but not yet triggered: still off the book
    add(w, Ev.SNAPSHOT_OPEN, w)
    add(w, Ev.ACK_RESTING, w)  # a standalone trigger order is acknowledged `resting`
    add(w, Ev.UPDATE_TRIGGERED, LIVE_AUTO)
    add(w, Ev.FILL_PARTIAL, S.PARTIALLY_FILLED)  # fired and filled before `triggered` arrived
    add(w, Ev.FILL_COMPLETE, S.FILLED)
    add(w, Ev.UPDATE_FILLED, S.FILLED)
    add(w, Ev.ACK_FILLED, S.FILLED)
    add(w, Ev.UPDATE_CANCELED, S.CANCELED)  # cancelled with its parent, sibling, position
    add(w, Ev.UPDATE_REJECTED, S.REJECTED)  # fired, then refused (e.g. reduce-only)
    add(w, Ev.CANCEL_SENT, S.PENDING_CANCEL)
    add(w, Ev.CANCEL_FAILED, w)
    add(w, Ev.SNAPSHOT_ABSENT, S.CANCELED)
    add(w, Ev.TIMEOUT, w)
    add(w, Ev.MODIFY_SENT, S.PENDING_MODIFY)
    add(w, Ev.MODIFY_REJECTED, w)

    # --- pending cancel ----------------------------------------------------------------------
    pc = S.PENDING_CANCEL
    add(pc, Ev.CANCEL_OK, S.CANCELED)
    add(pc, Ev.CANCEL_FAILED, pc)  # "never placed, already canceled, or filled": await evidence
    add(pc, Ev.CANCEL_SENT, pc)  # re-sent
    add(pc, Ev.FILL_PARTIAL, pc)  # fill after the cancel was sent (F11)
    add(pc, Ev.FILL_COMPLETE, S.FILLED)
    add(pc, Ev.UPDATE_FILLED, S.FILLED)
    add(pc, Ev.UPDATE_CANCELED, S.CANCELED)
    add(pc, Ev.UPDATE_OPEN, pc)  # a late `open`
    add(pc, Ev.SNAPSHOT_OPEN, pc)
    add(pc, Ev.SNAPSHOT_ABSENT, S.CANCELED)
    add(pc, Ev.ACK_RESTING, pc)  # cancelled by cloid before its ack
    add(pc, Ev.ACK_FILLED, S.FILLED)
    add(pc, Ev.ACK_REJECTED, S.REJECTED)
    add(pc, Ev.UPDATE_REJECTED, S.REJECTED)
    add(pc, Ev.TIMEOUT, S.UNKNOWN)  # the place timed out after we asked to cancel: ask the
    # exchange what became of it; the wish to cancel is kept and acted on once it is live
    add(pc, Ev.MODIFY_REJECTED, pc)
    add(pc, Ev.MODIFY_OK, pc)
    add(pc, Ev.UPDATE_WAITING, pc)
    add(pc, Ev.UPDATE_TRIGGERED, pc)  # fired while our cancel was on its way: it decides

    # --- pending modify (cancel-replace) ------------------------------------------------------
    pm = S.PENDING_MODIFY
    add(pm, Ev.MODIFY_OK, LIVE_AUTO)  # rebound to the new oid
    add(pm, Ev.MODIFY_REJECTED, LIVE_AUTO)  # the old order still rests (unless evidence says no)
    add(pm, Ev.ACK_FILLED, S.FILLED)  # the new order filled at once
    add(pm, Ev.TIMEOUT, S.UNKNOWN)
    add(pm, Ev.FILL_PARTIAL, pm)
    add(pm, Ev.FILL_COMPLETE, S.FILLED)
    add(pm, Ev.UPDATE_OPEN, pm)
    add(pm, Ev.SNAPSHOT_OPEN, pm)
    add(pm, Ev.UPDATE_FILLED, S.FILLED)
    add(pm, Ev.UPDATE_CANCELED, S.CANCELED)
    add(pm, Ev.CANCEL_SENT, S.PENDING_CANCEL)
    # An orphan cancel of another leg of this cloid (a sweep listed it untracked), routed here
    # by the cloid, failed: it says nothing about the leg being replaced — the modify's outcome
    # decides (a cancel we want waits for it; found by the simulation campaign, seed 25).
    add(pm, Ev.CANCEL_FAILED, pm)
    add(pm, Ev.SNAPSHOT_ABSENT, S.CANCELED)
    add(pm, Ev.ACK_RESTING, pm)  # a duplicate or late place ack
    add(pm, Ev.UPDATE_WAITING, pm)
    add(pm, Ev.UPDATE_TRIGGERED, pm)

    # --- unknown: only exchange evidence moves it -----------------------------------------------
    u = S.UNKNOWN
    add(u, Ev.UPDATE_OPEN, LIVE_AUTO)
    add(u, Ev.SNAPSHOT_OPEN, LIVE_AUTO)
    add(u, Ev.ACK_RESTING, LIVE_AUTO)  # a late answer
    add(u, Ev.ACK_FILLED, S.FILLED)
    add(u, Ev.ACK_REJECTED, S.REJECTED)
    add(u, Ev.MODIFY_OK, LIVE_AUTO)
    add(u, Ev.MODIFY_REJECTED, u)
    add(u, Ev.FILL_PARTIAL, S.PARTIALLY_FILLED)
    add(u, Ev.FILL_COMPLETE, S.FILLED)
    add(u, Ev.UPDATE_FILLED, S.FILLED)
    add(u, Ev.UPDATE_CANCELED, S.CANCELED)
    add(u, Ev.UPDATE_REJECTED, S.REJECTED)
    add(u, Ev.STATUS_NEVER_LANDED, S.EXPIRED)
    add(u, Ev.SNAPSHOT_ABSENT, u)  # never guessed dead
    add(u, Ev.CANCEL_SENT, u)
    add(u, Ev.CANCEL_OK, S.CANCELED)
    add(u, Ev.CANCEL_FAILED, u)
    add(u, Ev.TIMEOUT, u)
    add(u, Ev.UPDATE_WAITING, S.WAITING)
    add(u, Ev.UPDATE_TRIGGERED, LIVE_AUTO)

    # --- terminal: late evidence is legal and changes nothing, except corrections -------------
    for term in (S.FILLED, S.CANCELED):
        add(term, Ev.UPDATE_OPEN, term)  # `open` after the fills / `canceled` before `open` (F2)
        add(term, Ev.ACK_RESTING, term)  # the ack after the fills (F3)
        add(term, Ev.CANCEL_FAILED, term)  # cancel raced a fill (F11)
        add(term, Ev.CANCEL_OK, term)
        add(term, Ev.CANCEL_SENT, term)
        add(term, Ev.MODIFY_REJECTED, term)
        add(term, Ev.MODIFY_OK, term)  # the new leg already filled / was cancelled
        add(term, Ev.SNAPSHOT_ABSENT, term)
        add(term, Ev.TIMEOUT, term)
        add(term, Ev.UPDATE_WAITING, term)  # late news of a trigger order that has ended
        add(term, Ev.UPDATE_TRIGGERED, term)
    add(S.FILLED, Ev.FILL_PARTIAL, S.FILLED)  # the `filled` update came before the fill itself
    add(S.FILLED, Ev.FILL_COMPLETE, S.FILLED)
    add(S.FILLED, Ev.UPDATE_FILLED, S.FILLED)
    add(S.FILLED, Ev.ACK_FILLED, S.FILLED)
    add(S.FILLED, Ev.UPDATE_CANCELED, S.FILLED)  # IOC remainder cancelled after a partial fill
    add(S.CANCELED, Ev.FILL_PARTIAL, S.CANCELED)  # fill after canceled (late, F11)
    add(S.CANCELED, Ev.FILL_COMPLETE, S.FILLED)  # our CANCELED was inferred; the fills say FILLED
    add(S.CANCELED, Ev.UPDATE_FILLED, S.FILLED)
    add(S.CANCELED, Ev.ACK_FILLED, S.FILLED)
    add(S.CANCELED, Ev.UPDATE_CANCELED, S.CANCELED)
    for term in (S.REJECTED, S.EXPIRED):
        add(term, Ev.ACK_REJECTED, term)
        add(term, Ev.UPDATE_REJECTED, term)
        add(term, Ev.SNAPSHOT_ABSENT, term)
        add(term, Ev.CANCEL_FAILED, term)
        add(term, Ev.CANCEL_SENT, term)
        add(term, Ev.STATUS_NEVER_LANDED, term)
        add(term, Ev.TIMEOUT, term)
    return t


TRANSITIONS: dict[tuple[OrderState, Ev], OrderState] = _edges()
"""Every legal ``(state, event) → state`` edge. ``LIVE_AUTO`` targets are resolved by
:func:`next_state` to RESTING or PARTIALLY_FILLED from the order's filled size."""



class Flag(enum.Enum):
    """A condition of the order's own record — not news from anyone — that changes where an
    event takes it. The core reads the flags off the record (:meth:`OrderRegistry.transition
    <hlmaker.orders.registry.OrderRegistry.transition>`); the moves they drive are tables below,
    beside :data:`TRANSITIONS`, the way h11 keeps ``STATE_TRIGGERED_TRANSITIONS`` beside its
    event-triggered ones."""

    CANCEL_IN_FLIGHT = "cancel_in_flight"
    """We want the order cancelled and our cancel request is on its way."""
    CANCEL_UNSENT = "cancel_unsent"
    """We want the order cancelled and no request of ours is outstanding on it (the cancel
    went out before the exchange knew the order, or its outcome is settled)."""
    OLD_LEG_CANCELED = "old_leg_canceled"
    """While a modify was in flight the exchange said the leg being replaced was cancelled."""


FLAG_EVENT_TRANSITIONS: dict[tuple[OrderState, Ev, Flag], OrderState] = {
    # The modify was refused but the old leg was cancelled meanwhile (by the exchange, or by the
    # replace itself before the refusal): nothing rests any more.
    (S.PENDING_MODIFY, Ev.MODIFY_REJECTED, Flag.OLD_LEG_CANCELED): S.CANCELED,
}
"""Flag-driven edges that replace the event-triggered edge of the same ``(state, event)``."""

STATE_TRIGGERED_TRANSITIONS: dict[tuple[OrderState, Flag], OrderState] = {
    # The exchange shows the order alive while our cancel is on its way: it is pending cancel,
    # not resting (the cancel's outcome decides).
    (S.RESTING, Flag.CANCEL_IN_FLIGHT): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, Flag.CANCEL_IN_FLIGHT): S.PENDING_CANCEL,
    (S.WAITING, Flag.CANCEL_IN_FLIGHT): S.PENDING_CANCEL,
}
"""Moves taken after an event's edge, from the state it reached and a flag of the order."""

LIVE_EVIDENCE = frozenset({Ev.ACK_RESTING, Ev.UPDATE_OPEN, Ev.SNAPSHOT_OPEN, Ev.MODIFY_OK,
                           Ev.UPDATE_WAITING, Ev.UPDATE_TRIGGERED})
"""Events by which the exchange shows an order alive on the book."""

CANCEL_RESEND_STATES = frozenset({S.RESTING, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.WAITING})
"""With :attr:`Flag.CANCEL_UNSENT`, live evidence (or a settled modify:
:data:`CANCEL_RESEND_EVENTS`) leading to one of these states means a cancel must go out
(again): the first one lost a race with the placement (it found nothing to cancel), the
placement's outcome was unknown when it went, or it waited for a modify in flight."""

CANCEL_RESEND_EVENTS = LIVE_EVIDENCE | {Ev.MODIFY_REJECTED}
"""Events after which a wanted, unsent cancel goes out: live evidence, and a refused modify (a
cancel wanted while the modify was in flight waited for its outcome; the old leg may still
rest)."""

NO_FLAGS: tuple[Flag, ...] = ()


def next_state(state: OrderState, event: Ev, *, partly_filled: bool) -> OrderState | None:
    """The state after ``event`` by the event-triggered table, or ``None`` when the edge is
    illegal.

    ``partly_filled`` tells whether the order (its current oid) has any filled size; it picks
    RESTING or PARTIALLY_FILLED for edges into "the order rests".
    """
    dst = TRANSITIONS.get((state, event))
    if dst is _RESTING and partly_filled:
        return _PARTIALLY_FILLED
    return dst  # None when the edge is illegal


def step(state: OrderState, event: Ev, *, partly_filled: bool,
         flags: tuple[Flag, ...] = NO_FLAGS) -> tuple[OrderState | None, bool]:
    """Where ``event`` takes an order in ``state`` carrying ``flags``: ``(new state, resend)``.

    The event-triggered edge (:data:`TRANSITIONS`) is taken — or the flag-driven edge that
    replaces it (:data:`FLAG_EVENT_TRANSITIONS`) — then a state-triggered move
    (:data:`STATE_TRIGGERED_TRANSITIONS`) if a flag calls for one. ``resend`` is True when a
    wanted cancel must be sent again (:data:`CANCEL_RESEND_STATES`). The new state is ``None``
    when ``(state, event)`` is illegal (then ``resend`` is False).
    """
    dst = TRANSITIONS.get((state, event))
    if dst is None:
        return None, False
    if not flags:
        if dst is S.RESTING and partly_filled:
            dst = S.PARTIALLY_FILLED
        return dst, False
    for flag in flags:
        dst = FLAG_EVENT_TRANSITIONS.get((state, event, flag), dst)
    if dst is S.RESTING and partly_filled:
        dst = S.PARTIALLY_FILLED
    for flag in flags:
        dst = STATE_TRIGGERED_TRANSITIONS.get((dst, flag), dst)
    resend = (Flag.CANCEL_UNSENT in flags and event in CANCEL_RESEND_EVENTS
              and dst in CANCEL_RESEND_STATES)
    return dst, resend


def _status_events() -> dict[str, Ev]:
    table: dict[str, Ev] = {
        "open": Ev.UPDATE_OPEN,
        "filled": Ev.UPDATE_FILLED,
        "canceled": Ev.UPDATE_CANCELED,
        "triggered": Ev.UPDATE_TRIGGERED,
        "rejected": Ev.UPDATE_REJECTED,
        "waitingForTrigger": Ev.UPDATE_WAITING,
        "waitingForFill": Ev.UPDATE_WAITING,
        # `accepted` is listed by nautilus_trader only (§2.10 ⚠): taken for an open order.
        "accepted": Ev.UPDATE_OPEN,
    }
    for status in CANCELED_STATUSES:
        table[status] = Ev.UPDATE_CANCELED
    for status in REJECTED_STATUSES:
        table[status] = Ev.UPDATE_REJECTED
    return table


CANCELED_STATUSES = frozenset(
    {
        "canceled",
        "scheduledCancel",
        "marginCanceled",
        "vaultWithdrawalCanceled",
        "openInterestCapCanceled",
        "selfTradeCanceled",
        "reduceOnlyCanceled",
        "siblingFilledCanceled",
        "delistedCanceled",
        "liquidatedCanceled",
        "outcomeSettledCanceled",
        "internalCancel",
    }
)
"""Status strings meaning "the exchange cancelled it" (protocol ref §2.10 ``[DOCS]``, ``[NK]``)."""

REJECTED_STATUSES = frozenset(
    {
        "rejected",
        "tickRejected",
        "minTradeNtlRejected",
        "minTradeSpotNtlRejected",
        "perpMarginRejected",
        "reduceOnlyRejected",
        "badAloPxRejected",
        "iocCancelRejected",
        "badTriggerPxRejected",
        "marketOrderNoLiquidityRejected",
        "positionIncreaseAtOpenInterestCapRejected",
        "positionFlipAtOpenInterestCapRejected",
        "tooAggressiveAtOpenInterestCapRejected",
        "openInterestIncreaseRejected",
        "insufficientSpotBalanceRejected",
        "oracleRejected",
        "perpMaxPositionRejected",
        "tooManyOpenOrdersRejected",
    }
)
"""Status strings meaning "the exchange refused it" (protocol ref §2.10 ``[DOCS]``, ``[NK]``,
``[NT]``)."""


STATUS_EVENTS: dict[str, Ev] = _status_events()
"""Every order status of the protocol reference (§2.10 ``orderStatus`` table and its
``[NK]``/``[NT]`` additions, §4.3's ``waitingForTrigger``/``waitingForFill``) → the event it
is for an order of ours. A status missing here is unknown: :func:`status_event` answers
``None`` and the caller counts it as bad input."""


def status_event(status: str) -> Ev | None:
    """The event an exchange order status is (:data:`STATUS_EVENTS`), or ``None`` for a status
    the table does not know — bad input for the caller to count, never a guess.

    Source: the status table of ``orderStatus`` (protocol ref §2.10) and the order reply
    statuses of §4.3.
    """
    return STATUS_EVENTS.get(status)
