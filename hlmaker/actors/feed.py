"""The WS feed actor: owns the account WebSocket and forwards what it hears.

On every (re)connection it subscribes ``orderUpdates``, ``userFills`` and ``userEvents`` for the
account and ``l2Book`` / ``bbo`` per coin plus ``allMids``, waits for the acks, then tells the book
:class:`~hlmaker.messages.FeedConnected` (``reconnect=True`` after the first time, so the book
asks for a sweep: Hyperliquid has no sequence numbers and any reconnect may hide a gap). The
``userFills`` snapshot that arrives on subscribe is forwarded like live fills (``is_snapshot``
set): the book de-duplicates it.

Frames are decoded by the venue codec inside :class:`~hlmaker.hyperliquid.ws.WsClient`, whose
reader never blocks (see its backpressure policy). This actor forwards order events to the
book with ``await`` (the book's inbox is the one place they must not be lost) and market data to
the quoter with ``send_nowait``, dropping — and counting — market data the quoter has not taken
yet (only the newest market state matters). When the connection dies, the book gets
:class:`~hlmaker.messages.FeedDisconnected` and the feed reconnects with jittered backoff.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any

import attrs
import trio

from hlmaker.clock import Clock
from hlmaker.hyperliquid.errors import VenueError, WsProtocolError
from hlmaker.hyperliquid.ws import Backoff, Connector, WsClient, run_reconnecting
from hlmaker.messages import (
    AllMids,
    Bbo,
    FeedConnected,
    FeedDisconnected,
    Fills,
    Funding,
    L2Book,
    Liquidation,
    NonUserCancel,
    OrderUpdates,
    Trades,
)
from hlmaker.observer import NO_OBSERVER, Observer

log = logging.getLogger("hlmaker.feed")

BATCH = 256
"""Frames forwarded between two checkpoints while the socket has data."""
FEED_BACKOFF_S = (0.5, 15.0)
"""The feed's reconnect backoff (base, cap), seconds: with the post link's, at most 30 new
WebSocket connections a minute even when every connect fails at once (§8; tested)."""

_TO_BOOK, _TO_QUOTER, _LOG = "book", "quoter", "log"
_ROUTE: dict[type, str] = {
    OrderUpdates: _TO_BOOK, Fills: _TO_BOOK, NonUserCancel: _TO_BOOK,
    L2Book: _TO_QUOTER, Bbo: _TO_QUOTER, AllMids: _TO_QUOTER, Trades: _TO_QUOTER,
    Funding: _LOG, Liquidation: _LOG,
}
"""Where each frame type goes (one dict lookup per frame)."""


@attrs.define
class FeedStats:
    """Counters of the feed (for metrics, the UI and the summary)."""

    connects: int = 0
    order_events: int = 0
    market_events: int = 0
    market_dropped: int = 0
    protocol_errors: int = 0
    """Sessions ended because the server broke RFC 6455 (``WsProtocolError``; reconnected)."""
    connected: bool = False


def subscriptions(user: str, coins: Sequence[str], *, bbo: bool = True) -> list[dict[str, Any]]:
    """The subscriptions of one feed connection (§6.2)."""
    subs: list[dict[str, Any]] = [
        {"type": "orderUpdates", "user": user},
        {"type": "userFills", "user": user},
        {"type": "userEvents", "user": user},
        {"type": "allMids"},
    ]
    for coin in coins:
        subs.append({"type": "l2Book", "coin": coin})
        if bbo:
            subs.append({"type": "bbo", "coin": coin})
    return subs


async def run_feed(
    book: trio.MemorySendChannel[object],
    market: trio.MemorySendChannel[object],
    *,
    connector: Connector | str,
    user: str,
    coins: Sequence[str],
    clock: Clock,
    rng: random.Random,
    stats: FeedStats | None = None,
    ws_options: dict[str, Any] | None = None,
    observer: Observer = NO_OBSERVER,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the feed until cancelled. ``book`` is a clone of the book's inbox send side;
    ``market`` goes to the quoter. ``observer`` hears of every session
    (:meth:`~hlmaker.observer.Observer.feed_connected`)."""
    st = stats if stats is not None else FeedStats()
    subs = subscriptions(user, coins)
    task_status.started()

    async def session(client: WsClient, reconnect: bool) -> None:
        for sub in subs:
            await client.subscribe(sub)
        st.connects += 1
        st.connected = True
        log.info("feed connected reconnect=%s subscriptions=%d", reconnect, len(subs))
        observer.feed_connected(
            reconnect, lambda: client.frames.statistics().current_buffer_used)
        # a restarted incarnation (stats shared) reconnects too: the book must sweep
        await book.send(FeedConnected(at_ms=clock.now_ms(),
                                      reconnect=reconnect or st.connects > 1))
        frames = client.frames
        n = 0
        while True:
            # Drain without yielding while frames are ready (the reader yields once per frame;
            # yielding twice here would let its buffer grow under a burst), checkpointing
            # every BATCH frames so other tasks still run.
            try:
                frame = frames.receive_nowait()
            except trio.WouldBlock:
                try:
                    frame = await frames.receive()
                except trio.EndOfChannel:
                    return
                n = 0
            except trio.EndOfChannel:
                return
            route = _ROUTE.get(type(frame))
            if route is _TO_BOOK:
                st.order_events += 1
                try:
                    book.send_nowait(frame)
                except trio.WouldBlock:
                    await book.send(frame)
            elif route is _TO_QUOTER:
                st.market_events += 1
                try:
                    market.send_nowait(frame)
                except trio.WouldBlock:
                    st.market_dropped += 1
            elif route is _LOG:
                log.info("feed account event %r", frame)
            n += 1
            if n >= BATCH:
                n = 0
                await trio.lowlevel.checkpoint()

    async def on_disconnect(error: VenueError) -> None:
        st.connected = False
        if isinstance(error, WsProtocolError):
            st.protocol_errors += 1
        log.warning("feed disconnected: %s", error)
        await book.send(FeedDisconnected(at_ms=clock.now_ms(), reason=str(error)))

    await run_reconnecting(connector, session,
                           Backoff(rng, base_s=FEED_BACKOFF_S[0], cap_s=FEED_BACKOFF_S[1]),
                           on_disconnect=on_disconnect, **(ws_options or {}))
