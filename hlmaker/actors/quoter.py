"""The quoter actor: drives a :class:`~hlmaker.strategy.base.Strategy` with market data and book
views, and forwards the intents it returns to the book's inbox.

Flow:

1. Wait until the book's view is ``ready`` (start-up re-sync done), call ``strategy.start`` and
   then ``strategy.on_view`` with that view.
2. For every market-data message call ``strategy.on_market``; whenever the view's version
   changed, call ``strategy.on_view``.
3. When ``ready`` drops (the book restarted and re-syncs) stop calling the strategy; once ready
   again, call ``start`` anew — the strategy must forget the ladders it built.

**Coalescing and backpressure.** Each round drains everything queued on the market channel with
``receive_nowait`` and keeps only the newest message per ``(type, coin)`` (an ``AllMids`` holds
every coin: one key; a ``Trades`` batch is keyed by its first trade's coin), so a burst costs
one strategy call per coin, not one per message. The producer (the feed) is therefore held up
only while this actor awaits the book inbox: ``intents`` is bounded and a full book inbox makes
``send`` wait. The book drains its inbox in batches without awaiting the network, so that wait is
short; the feed must in any case send with ``send_nowait`` and its own overflow policy (see
``architecture.md``: the feed never blocks its socket reader). While paused, market data keeps
being drained and coalesced, and the newest messages are delivered after ``start``.

**Errors.** An exception from the strategy is logged with the strategy's name and the method,
then propagates: the supervisor restarts the quoter (one-for-one), which calls ``start`` again.
Cancellation is not special: the supervisor does the shutdown cancel-all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from contextlib import suppress
from decimal import Decimal
from functools import partial

import trio

from hlmaker.clock import Clock
from hlmaker.messages import AllMids, BookView, Intent, MarketData, Trades
from hlmaker.pnl import note_mid
from hlmaker.strategy.base import BudgetAware, MarketInfo, Strategy

from .budget import AddressBudget
from .latest import Latest

log = logging.getLogger("hlmaker.quoter")

_CLOSED = object()


def strategy_name(strategy: object) -> str:
    """The ``name`` attribute of a strategy, else its class name."""
    name = getattr(strategy, "name", None)
    return name if isinstance(name, str) and name else type(strategy).__name__


def coalesce_key(msg: object) -> tuple[type, str | None]:
    """The key under which only the newest market-data message is kept: ``(type, coin)``."""
    if isinstance(msg, AllMids):
        return (AllMids, None)
    if isinstance(msg, Trades):
        return (Trades, msg.trades[0].coin if msg.trades else None)
    return (type(msg), getattr(msg, "coin", None))


_VIEW = object()
"""Sent on ``wake`` (see :func:`run_quoter`) when the book published a view."""


async def _wait_either(
    market: trio.MemoryReceiveChannel[MarketData], views: Latest[BookView], seen: int,
    wake: trio.MemorySendChannel[object] | None = None,
) -> object:
    """Wait for a market message (returned), a newer view (``None``) or the channel's end
    (``_CLOSED``). A message is never lost: ``receive`` is cancel-safe (a message already
    handed over is returned even if the view changed meanwhile; the caller re-reads the view
    before every strategy call).

    A newer view already there comes first — the caller must act on the book's latest view
    before any market data — then a message already waiting; otherwise one task waits on the
    channel and a publish of the book ends that wait (:meth:`Latest.on_next_publish`): by a
    marker sent on ``wake`` when given, else by cancelling the wait. No nursery, no second
    task per wait (they cost more than the strategy under a busy feed, and sat on the
    tick-to-trade path); the marker is cheaper than the cancel (no ``Cancelled`` raised through
    the quoter), and the publish happens in the book's step that hands the executor its command.
    """
    if views.version != seen:
        return None
    try:
        got = market.receive_nowait()
    except trio.WouldBlock:
        pass
    except (trio.EndOfChannel, trio.ClosedResourceError):
        return _CLOSED
    else:
        return None if got is _VIEW else got
    if wake is not None:
        forget = views.on_next_publish(partial(_ring, wake))
        try:
            got = await market.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return _CLOSED
        finally:
            forget()
        return None if got is _VIEW else got
    with trio.CancelScope() as scope:
        forget = views.on_next_publish(scope.cancel)
        try:
            return await market.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return _CLOSED
        finally:
            forget()
    return None  # the wait was cancelled by a newer view


def _ring(wake: trio.MemorySendChannel[object]) -> None:
    """Wake the quoter waiting on ``market`` (a full channel: it is not waiting; closed: it is
    ending — either way nothing to do)."""
    with suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
        wake.send_nowait(_VIEW)


async def run_quoter(
    market: trio.MemoryReceiveChannel[MarketData],
    views: Latest[BookView],
    intents: trio.MemorySendChannel[object],
    *,
    strategy: Strategy,
    markets: Mapping[str, MarketInfo],
    clock: Clock,
    mids: MutableMapping[str, Decimal] | None = None,
    budget: AddressBudget | None = None,
    wake: trio.MemorySendChannel[object] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``strategy`` until ``market`` ends (then return) or the task is cancelled.

    Args:
        market: market data (``L2Book``, ``Bbo``, ``AllMids``, ``Trades``) from the feed.
        views: the book's published views.
        intents: a clone of the book inbox's send side; the caller closes it.
        strategy: what to quote.
        markets: static facts per coin, passed to ``strategy.start``.
        clock: wall-clock ms, passed to every strategy call as ``now_ms``.
        mids: when given, the mid price of each coin (quote currency) is noted there as market
            data is taken (:func:`hlmaker.pnl.note_mid`; for the UI and the summary's
            unrealized PnL — it outlives a quoter restart).
        budget: when given, a strategy with ``set_requote_scale(scale)`` (see
            :class:`~hlmaker.strategy.base.BudgetAware`) is told, before each call, how much to
            widen its re-quote threshold as the address request budget's headroom shrinks
            (:meth:`AddressBudget.requote_scale`).
        wake: optionally a send side of ``market`` (a clone the quoter may hold): a view
            published while the quoter waits for market data then wakes it with a marker sent
            there instead of cancelling its wait (cheaper, on the tick-to-trade path). While the
            quoter holds it, ``market`` does not end when the feed closes its side — the maker,
            which never closes it, passes one; without it the quoter ends with ``market``.

    Raises:
        Exception: whatever the strategy raised (logged first with its name).
    """
    name = strategy_name(strategy)
    pending: dict[tuple[type, str | None], object] = {}
    started = False
    seen = -1
    task_status.started()

    throttle = strategy if budget is not None and isinstance(strategy, BudgetAware) else None

    async def call(method: str, fn: Callable[..., Sequence[Intent]], *args: object) -> None:
        if throttle is not None and budget is not None:
            throttle.set_requote_scale(budget.requote_scale())
        try:
            out = list(fn(*args, clock.now_ms()))
        except Exception:
            log.exception("strategy %s raised in %s", name, method)
            raise
        for intent in out:
            try:  # no schedule point while the book's inbox has room (tick-to-trade path)
                intents.send_nowait(intent)
            except trio.WouldBlock:
                await intents.send(intent)

    while True:
        if views.version != seen:
            seen = views.version
            view = views.value
            if view.ready and not started:
                started = True
                log.info("book ready: starting strategy %s", name)
                await call("start", strategy.start, markets)
                await call("on_view", strategy.on_view, views.value)
            elif not view.ready and started:
                started = False
                log.warning("book not ready (restarted?): strategy %s paused", name)
            elif started:
                await call("on_view", strategy.on_view, view)
        if started and pending:
            batch = list(pending.values())
            pending.clear()
            for i, msg in enumerate(batch):
                view = views.value
                if not view.ready:  # keep the rest for after the restart
                    for rest in batch[i:]:
                        pending.setdefault(coalesce_key(rest), rest)
                    break
                await call("on_market", strategy.on_market, msg, view)
            continue
        got = await _wait_either(market, views, seen, wake)
        if got is _CLOSED:
            log.info("market channel closed: quoter stopping")
            return
        if got is None:
            # Woken by a view the book published in the step that also handed its commands to
            # the executor: both tasks run in the same scheduler batch, in either order. Going
            # to the back of the run queue first keeps this strategy call off the tick-to-trade
            # path (the command is signed and sent before it).
            await trio.lowlevel.cancel_shielded_checkpoint()
        if got is not None:
            _put(pending, got, mids)
            while True:
                try:
                    _put(pending, market.receive_nowait(), mids)
                except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                    break


def _put(pending: dict[tuple[type, str | None], object], msg: object,
         mids: MutableMapping[str, Decimal] | None) -> None:
    if msg is _VIEW:  # a wake-up that came after the quoter was already awake
        return
    if mids is not None:
        note_mid(mids, msg)
    key = coalesce_key(msg)
    pending.pop(key, None)  # the newest goes last: arrival order of the newest messages
    pending[key] = msg
