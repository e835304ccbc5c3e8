"""The book actor: the only code that mutates order state.

It owns an :class:`~hlmaker.orders.core.OrderBookCore` and one inbox — a receive channel of the
union of everything that concerns orders (strategy intents, executor outcomes, feed events,
reconcile snapshots). Because every producer sends into that one inbox, causal order holds by
construction: the book registers a pending order *before* it emits the command, so a fill for that
order can only be queued behind it (the finalize/fill race cannot happen). Every inbox message —
a reconcile snapshot included — reaches the core through its one door,
:meth:`~hlmaker.orders.core.OrderBookCore.handle`; its timer through
:meth:`~hlmaker.orders.core.OrderBookCore.tick`.

The actor never awaits the network. Its outbound channels to the executor and the reconciler
must be unbounded (``max_buffer_size=math.inf``): book → executor → book is a cycle, and a
bounded edge in a cycle can deadlock. The book's own caps (open orders per coin, tracked
orders) bound what it can emit.
"""

from __future__ import annotations

import logging
import math

import attrs
import trio

from hlmaker.clock import Clock
from hlmaker.messages import (
    BookView,
    Command,
    ModifyOrder,
    PlaceOrder,
    ReconcileRequest,
    TargetLadder,
)
from hlmaker.observer import NO_OBSERVER, Observer
from hlmaker.orders import Action, OrderBookCore

from .latest import Latest

log = logging.getLogger("hlmaker.book")

DRAIN_BATCH = 256
"""Messages applied between two view publications when the inbox is busy."""


@attrs.frozen
class BookChannels:
    """The book's channels, opened by :func:`open_book_channels`: the original endpoints.

    ``inbox_send``/``inbox_receive`` carry everything that concerns orders (bounded);
    ``commands_*`` carry the book's commands to the executor and ``requests_*`` its reconcile
    requests to the reconciler (both unbounded — see the module docstring).
    """

    inbox_send: trio.MemorySendChannel[object]
    inbox_receive: trio.MemoryReceiveChannel[object]
    commands_send: trio.MemorySendChannel[Command]
    commands_receive: trio.MemoryReceiveChannel[Command]
    requests_send: trio.MemorySendChannel[ReconcileRequest]
    requests_receive: trio.MemoryReceiveChannel[ReconcileRequest]


_PLACING = frozenset({TargetLadder, PlaceOrder, ModifyOrder})
"""Intents that place or move orders (see ``placements_before_ready``)."""


def open_book_channels(inbox_size: int) -> BookChannels:
    """Open the book's inbox (``inbox_size`` messages, >= 1) and its two unbounded outbound
    edges. Every place that runs a book opens them here, so the unbounded rule cannot be missed.

    Raises:
        ValueError: ``inbox_size`` < 1.
    """
    if inbox_size < 1:
        raise ValueError(f"the book's inbox needs room for at least 1 message, got {inbox_size}")
    inbox_s, inbox_r = trio.open_memory_channel[object](inbox_size)
    cmd_s, cmd_r = trio.open_memory_channel[Command](math.inf)
    req_s, req_r = trio.open_memory_channel[ReconcileRequest](math.inf)
    return BookChannels(inbox_send=inbox_s, inbox_receive=inbox_r, commands_send=cmd_s,
                        commands_receive=cmd_r, requests_send=req_s, requests_receive=req_r)


async def run_book(
    inbox: trio.MemoryReceiveChannel[object],
    commands: trio.MemorySendChannel[Command],
    reconcile_requests: trio.MemorySendChannel[ReconcileRequest],
    views: Latest[BookView],
    *,
    core: OrderBookCore,
    clock: Clock,
    tick_interval_s: float = 0.25,
    observer: Observer = NO_OBSERVER,
    placements_before_ready: bool = True,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the book until its inbox is closed (then return) or it is cancelled.

    Args:
        inbox: the single inbox; every producer holds a clone of its send side.
        commands: to the executor (unbounded — see the module docstring).
        reconcile_requests: to the reconciler (unbounded; the reconciler coalesces).
        views: where an immutable :class:`BookView` is published (lazily: built on first read)
            after each batch.
        core: the state; a fresh core after a crash has lost its memory and re-syncs.
        clock: wall-clock ms (the time seam).
        tick_interval_s: how often :meth:`OrderBookCore.tick` runs when the inbox is quiet.
        placements_before_ready: ``False`` drops (logged) the intents that place or move
            orders — ``TargetLadder``, ``PlaceOrder``, ``ModifyOrder`` — until the core is
            ready (its start-up sync applied). For a book restarted after a crash: the inbox
            may still hold a ladder the quoter computed on the dead book's view, and placing
            it before the start-up sync has settled that book's orders is a second ladder
            (S9, chaos seed 13 × 5 min). The quoter re-sends its targets once the book is
            ready. Cancels always pass.
        observer: sees every core step (``core_step(msg, now_ms, actions)`` right after each
            inbox message is applied, ``core_step(None, now_ms, actions)`` after each tick),
            every batch (``book_batch(messages, seconds)``: how many inbox messages were
            applied and how long, on trio's clock, the book took from taking the first of them
            to having sent every resulting command, a due tick included — its own latency, on
            top of the time the messages waited in the inbox) and every view published
            (``view_published()``).

    Raises:
        ValueError: ``commands`` is bounded (the book → executor → book cycle could deadlock).
    """
    if commands.statistics().max_buffer_size != math.inf:
        raise ValueError("the book's command channel must be unbounded (it is part of a cycle)")
    views.publish(core.view(clock.now_ms()))
    observer.view_published()
    if not core.ready:
        for request in core.ask_reconcile("startup"):
            reconcile_requests.send_nowait(request)
    task_status.started()
    handle, tick, core_step = core.handle, core.tick, observer.core_step
    observed = observer is not NO_OBSERVER  # the no-op probe is not called per message
    tick_ms = int(tick_interval_s * 1000)
    gated = not placements_before_ready and not core.ready
    last_tick = last_now = clock.now_ms()
    while True:
        msg: object = None
        try:
            msg = inbox.receive_nowait()
        except trio.WouldBlock:
            with trio.move_on_after(tick_interval_s):
                try:
                    msg = await inbox.receive()
                except trio.EndOfChannel:
                    log.info("book inbox closed: stopping")
                    return
        except trio.EndOfChannel:
            log.info("book inbox closed: stopping")
            return
        # The book's time never goes back, even if the wall clock does (F14): the core compares
        # its own timestamps (finalized, evidence) with snapshot request times, and a backward
        # jump between the two made a just-filled order look finalized long before the
        # snapshot (found by the simulation campaign, seed 524).
        now = max(clock.now_ms(), last_now)
        last_now = now
        started = trio.current_time()
        actions: list[Action] = []
        n = 0
        while msg is not None:
            if gated and type(msg) in _PLACING and not core.ready:
                log.info("book not ready: dropped %s from before its start-up sync",
                         type(msg).__name__)
            else:
                step = handle(msg, now)
                if observed:
                    core_step(msg, now, step)
                actions += step
                n += 1
                if n >= DRAIN_BATCH:
                    break
            try:
                msg = inbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                msg = None
        if now - last_tick >= tick_ms:
            last_tick = now
            step = tick(now)
            core_step(None, now, step)
            actions += step
        for action in actions:
            if isinstance(action, ReconcileRequest):
                reconcile_requests.send_nowait(action)
            else:
                commands.send_nowait(action)
        if n:
            seconds = trio.current_time() - started
            observer.book_batch(n, seconds)
        if gated and core.ready:
            gated = False
        if n or actions:
            views.publish_lazy(lambda now=now: core.view(now))  # type: ignore[misc]
            observer.view_published()
        if n and inbox.statistics().current_buffer_used:
            # more is waiting: let producers (and everyone else) run before the next batch.
            # With the inbox empty the next receive parks (everyone else runs then): a
            # checkpoint here too was one more task step per batch on the tick-to-trade path.
            await trio.lowlevel.checkpoint()
