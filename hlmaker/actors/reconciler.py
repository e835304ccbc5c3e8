"""The reconciler actor: fetches the exchange's view of our account and hands it to the book.

It runs a sweep on a timer and whenever the book asks (gap detected, reconnect, unknown outcome,
cancel failed, orphan grace over, start-up). Requests that arrive while a sweep runs, or within
``min_gap_s`` of the last one, are merged into the next sweep. A sweep fetches, in order:

1. ``orderStatus`` by cloid for every order whose outcome is unknown;
2. ``frontendOpenOrders`` (with cloids) and ``clearinghouseState`` (positions and its ``time``);
3. recent fills: ``userFillsByTime`` from the book's last applied fill time minus a margin,
   paging forward while pages come back full (or ``userFills`` when the book has none yet).

Fills are read *after* the position: every fill the position read contains is then in the
snapshot (the book applies it before comparing), and fills newer than the read are told apart
by time. Read the other way round, a fill landing between the two reads is in the exchange's
position but not in the snapshot; the book adopts that position, and when the fill arrives
later it is counted a second time (found by the simulation campaign, seed 33).

and sends one :class:`~hlmaker.messages.ReconcileSnapshot`, stamped with the time the sweep was
*requested* (the book's protection window starts there). It mutates nothing; a failed sweep is
logged and retried with backoff (up to 30 s) — it never crashes the actor. A ``startup`` or
``reconnect`` request resets the backoff: a blind, restarted book must not wait it out.

Every read draws from the shared per-IP weight ledger (the ``rest`` it is given is gated at
read priority, :mod:`hlmaker.actors.ratelimit`). Given the ledger (``ip_weight``), a sweep first
waits until the window has room for all its reads (≈ 20 + 2 + 120 + 2 per unknown outcome:
§8), merging the requests that arrive meanwhile into it — sweeps thin out instead of drawing
429s — and the ``userRateLimit`` read after a sweep is skipped (counted ``thinned``) when it
does not fit at once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import attrs
import trio

from hlmaker.actors.budget import AddressBudget
from hlmaker.clock import Clock
from hlmaker.hyperliquid.codec import parse_entry_prices, parse_open_order, parse_positions
from hlmaker.hyperliquid.errors import CodecError, VenueError
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.messages import (
    Fill,
    OpenOrder,
    OrderStatusReport,
    ReconcileRequest,
    ReconcileSnapshot,
)

from .latest import Latest
from .ratelimit import ITEM_EXTRA_MAX, IpWeightBudget, Priority, info_weight

log = logging.getLogger("hlmaker.reconciler")

FILL_PAGE_MIN = 500
"""A ``userFillsByTime`` page this long may be truncated (§2.9: 500 or 2000 rows per page)."""
MAX_FILL_PAGES = 20
FRESH_START = frozenset({"startup", "reconnect"})
"""Request reasons that reset the retry backoff."""
URGENT = frozenset({"shutdown"})
"""Request reasons whose sweep confirms cancels: it draws on the per-IP weight at the cancels'
priority (the whole limit), not the reads' share, so a shutdown is never paced behind quoting's
reads."""


@attrs.frozen(kw_only=True)
class ReconcileStatus:
    """What the last sweep saw on the exchange (for the summary, the UI and shutdown)."""

    at_ms: int
    sweeps: int
    exchange_open: tuple[OpenOrder, ...] = ()
    positions: dict[str, Decimal] = attrs.field(factory=dict, hash=False)
    entry_px: dict[str, Decimal] = attrs.field(factory=dict, hash=False)
    """The exchange's average entry price per coin with a position (quote currency)."""
    failures: int = 0
    last_error: str = ""
    foreign_unreadable: int = 0
    """Rows of ``frontendOpenOrders`` without our cloid prefix that could not be parsed:
    logged, counted here (summed over sweeps) and kept out of the book."""


async def run_reconciler(
    requests: trio.MemoryReceiveChannel[ReconcileRequest],
    book: trio.MemorySendChannel[object],
    status: Latest[ReconcileStatus],
    *,
    rest: RestClient,
    user: str,
    clock: Clock,
    interval_s: float = 5.0,
    min_gap_s: float = 0.5,
    is_ours: Callable[[str | None], bool] = lambda _cloid: True,
    budget: AddressBudget | None = None,
    ip_weight: IpWeightBudget | None = None,
    urgent_rest: RestClient | None = None,
    after_budget: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Sweep until ``requests`` is closed or the actor is cancelled.

    ``book`` is a clone of the book's inbox send side; ``user`` the account whose orders and
    fills are read (the wallet's query address); ``status`` receives a summary of each sweep;
    ``is_ours`` tells our cloids (prefix) from foreign ones: an unreadable foreign row is
    skipped and counted, an unreadable row of ours fails the sweep;
    ``budget``, when given, learns the address request budget (``userRateLimit``) after each
    sweep (a failed read leaves it as counted); ``ip_weight``, when given, is the per-IP weight
    ledger the (gated) ``rest`` draws from: sweeps wait for room and the budget read thins out;
    ``urgent_rest`` (gated at cancel priority) makes a sweep asked for by a :data:`URGENT`
    reason — the shutdown's confirmation;
    ``after_budget`` is awaited after each ``userRateLimit`` read (the maker buys requests
    there when configured to).
    """
    task_status.started()
    sweeps, failures = status.value.sweeps, status.value.failures
    unreadable = status.value.foreign_unreadable
    pending: list[ReconcileRequest] = []
    last_sweep = -math.inf
    backoff = 0.0
    while True:
        deadline = last_sweep + interval_s if not pending else last_sweep + max(min_gap_s, backoff)
        arrived: list[ReconcileRequest] = []
        with trio.move_on_at(max(deadline, trio.current_time())):
            try:
                arrived.append(await requests.receive())
            except trio.EndOfChannel:
                return
        while True:
            try:
                arrived.append(requests.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        if any(r.reason in FRESH_START for r in arrived):
            # A restarted book (blind until its first sweep) or a feed back from an outage:
            # the failures behind the backoff are likely over; do not wait them out (found by
            # the simulation campaign, seed 919: a new book waited 30 s with orphans resting).
            backoff = 0.0
        pending += arrived
        now_t = trio.current_time()
        if pending and now_t < last_sweep + max(min_gap_s, backoff):
            continue
        if not pending and now_t < last_sweep + interval_s:
            continue
        urgent = urgent_rest is not None and any(r.reason in URGENT for r in pending)
        klass = Priority.CANCEL if urgent else Priority.READ
        if ip_weight is not None and not ip_weight.fits(sweep_weight(pending), klass):
            while not ip_weight.fits(sweep_weight(pending), klass):
                # Wait for room; a request arriving meanwhile joins this sweep, and an urgent
                # one (the shutdown's) stops the wait at once: it goes at the cancels' priority.
                got = await _room_or_request(ip_weight, sweep_weight(pending), klass, requests)
                if got is None:
                    continue
                pending.append(got)
                if urgent_rest is not None and got.reason in URGENT:
                    urgent, klass = True, Priority.CANCEL
            while True:  # what arrived while waiting joins this sweep
                try:
                    pending.append(requests.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            now_t = trio.current_time()
        merged = _merge(pending)
        last_sweep = now_t
        try:
            snap, skipped = await sweep_counted(
                urgent_rest if urgent and urgent_rest is not None else rest, user, clock,
                merged, is_ours)
        except (VenueError, trio.TooSlowError) as exc:
            failures += 1
            backoff = min(max(1.0, backoff * 2), 30.0)
            log.warning("reconcile sweep failed (%s): %s; retry in %.1f s", merged.reason, exc,
                        backoff)
            status.publish(attrs.evolve(status.value, failures=failures, last_error=str(exc)))
            pending = [merged]
            continue
        backoff = 0.0
        pending = []
        sweeps += 1
        unreadable += skipped
        await book.send(snap)
        status.publish(ReconcileStatus(at_ms=snap.taken_at_ms, sweeps=sweeps,
                                       exchange_open=snap.open_orders,
                                       positions=dict(snap.positions),
                                       entry_px=dict(snap.entry_px), failures=failures,
                                       foreign_unreadable=unreadable))
        log.info("reconcile sweep reason=%s open=%d fills=%d statuses=%d", merged.reason,
                 len(snap.open_orders), len(snap.fills), len(snap.order_statuses))
        if budget is not None:
            if ip_weight is None or ip_weight.fits(info_weight("userRateLimit"), Priority.READ):
                await learn_budget(rest, user, budget)
                if after_budget is not None:
                    await after_budget()
            else:
                ip_weight.thin()


async def _room_or_request(ip_weight: IpWeightBudget, weight: int, klass: Priority,
                           requests: trio.MemoryReceiveChannel[ReconcileRequest]
                           ) -> ReconcileRequest | None:
    """Wait until ``weight`` fits at ``klass`` (``None``) or a request arrives (returned, never
    lost: ``receive`` is cancel-safe). A closed channel only waits for room."""
    got: list[ReconcileRequest] = []
    async with trio.open_nursery() as nursery:

        async def room() -> None:
            await ip_weight.wait_room(weight, klass)
            nursery.cancel_scope.cancel()

        async def request() -> None:
            try:
                got.append(await requests.receive())
            except (trio.EndOfChannel, trio.ClosedResourceError):
                await trio.sleep_forever()  # only the room can end the wait now
            nursery.cancel_scope.cancel()

        nursery.start_soon(room)
        nursery.start_soon(request)
    return got[0] if got else None


def sweep_weight(reqs: Sequence[ReconcileRequest]) -> int:
    """The IP weight a sweep for ``reqs`` charges up front (§8): ``orderStatus`` 2 per cloid,
    ``frontendOpenOrders`` 20, ``clearinghouseState`` 2, one fills page 20 + its largest
    per-item extra."""
    cloids = {c for r in reqs for c in r.cloids}
    return (info_weight("orderStatus") * len(cloids) + info_weight("frontendOpenOrders")
            + info_weight("clearinghouseState") + info_weight("userFillsByTime") + ITEM_EXTRA_MAX)


async def learn_budget(rest: RestClient, user: str, budget: AddressBudget) -> None:
    """Read ``userRateLimit`` of ``user`` into ``budget``; a failure is logged, not raised."""
    try:
        reply = await rest.info({"type": "userRateLimit", "user": user})
    except (VenueError, trio.TooSlowError) as exc:
        log.warning("userRateLimit read failed: %s", exc)
        return
    if not budget.learn(reply):
        log.warning("userRateLimit reply unreadable: %r", reply)


def _merge(reqs: Sequence[ReconcileRequest]) -> ReconcileRequest:
    if not reqs:
        return ReconcileRequest(reason="timer", since_ms=None)
    cloids = sorted({c for r in reqs for c in r.cloids})
    sinces = [r.since_ms for r in reqs]
    since = None if any(s is None for s in sinces) else min(s for s in sinces if s is not None)
    return ReconcileRequest(reason=reqs[0].reason, since_ms=since, cloids=tuple(cloids))


async def sweep(rest: RestClient, user: str, clock: Clock,
                req: ReconcileRequest) -> ReconcileSnapshot:
    """Fetch one snapshot (see the module docstring for the order of the reads); every
    open-order row must parse.

    Raises:
        VenueError: any read failed (the caller retries).
    """
    snap, _ = await sweep_counted(rest, user, clock, req, lambda _cloid: True)
    return snap


async def sweep_counted(rest: RestClient, user: str, clock: Clock, req: ReconcileRequest,
                        is_ours: Callable[[str | None], bool]) -> tuple[ReconcileSnapshot, int]:
    """Like :func:`sweep`, but a ``frontendOpenOrders`` row that does not parse and carries
    no cloid of ours (``is_ours``) is logged and left out; returns the snapshot and how many
    rows were left out.

    Raises:
        VenueError: a read failed, or a row of ours does not parse (the caller retries).
    """
    requested = clock.now_ms()
    statuses: list[OrderStatusReport] = []
    for cloid in req.cloids:
        statuses.append(await rest.order_status(user, cloid, clock.now_ms()))
    open_orders, skipped = _open_orders(
        await rest.info({"type": "frontendOpenOrders", "user": user, "dex": ""}), is_ours)
    state = await rest.clearinghouse_state(user)
    positions = parse_positions(state)
    t = state.get("time")
    positions_time = int(t) if isinstance(t, int) else None
    fills, complete = await _fills(rest, user, req.since_ms)
    return ReconcileSnapshot(
        requested_at_ms=requested, taken_at_ms=clock.now_ms(), open_orders=open_orders,
        positions=positions, positions_time_ms=positions_time, fills=fills,
        order_statuses=tuple(statuses), fills_complete=complete, fills_since_ms=req.since_ms,
        entry_px=_entry_prices(state)), skipped


def _open_orders(rows: Any, is_ours: Callable[[str | None], bool]
                 ) -> tuple[tuple[OpenOrder, ...], int]:
    """Parse a ``frontendOpenOrders`` reply row by row (§2.6).

    Raises:
        CodecError: the reply is not a list, or a row of ours does not parse.
    """
    if not isinstance(rows, list):
        raise CodecError(f"frontendOpenOrders: expected a list, got {type(rows).__name__}")
    out: list[OpenOrder] = []
    skipped = 0
    for row in rows:
        try:
            out.append(parse_open_order(row))
        except CodecError as exc:
            cloid = row.get("cloid") if isinstance(row, dict) else None
            if is_ours(cloid if isinstance(cloid, str) else None):
                raise
            skipped += 1
            log.warning("reconcile: a foreign open order could not be read (%s); left out: %.200r",
                        exc, row)
    return tuple(out), skipped


def _entry_prices(state: Any) -> dict[str, Decimal]:
    """Best effort: entry prices are for display, so an unreadable one never fails a sweep."""
    try:
        return parse_entry_prices(state)
    except CodecError as exc:
        log.warning("reconcile: entry prices unreadable (%s); unrealized PnL unknown", exc)
        return {}


async def _fills(rest: RestClient, user: str,
                 since_ms: int | None) -> tuple[tuple[Fill, ...], bool]:
    if since_ms is None:
        return tuple(await rest.user_fills(user)), True
    seen: dict[tuple[int, int], Fill] = {}
    start = max(0, since_ms)
    for _ in range(MAX_FILL_PAGES):
        page = await rest.user_fills_by_time(user, start)
        new = 0
        for f in page:
            if (f.oid, f.tid) not in seen:
                seen[(f.oid, f.tid)] = f
                new += 1
        if len(page) < FILL_PAGE_MIN or new == 0:
            return tuple(sorted(seen.values(), key=lambda f: (f.time_ms, f.tid))), True
        start = max(f.time_ms for f in page)
    return tuple(sorted(seen.values(), key=lambda f: (f.time_ms, f.tid))), False
