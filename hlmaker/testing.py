"""A channel-level harness for testing your own strategy against the real book.

:func:`strategy_harness` runs the real book actor (:func:`hlmaker.actors.book.run_book` around
an :class:`~hlmaker.orders.core.OrderBookCore`) and the real quoter
(:func:`hlmaker.actors.quoter.run_quoter`) driving your strategy. Your test plays the exchange:
it pushes market data, reads the commands the book would send to the executor, answers them, and
pushes fills and reconcile snapshots. Nothing touches the network or the system clock; run it
under pytest-trio with ``autojump_clock`` and every answer is deterministic for a given ``seed``.

Example (pytest-trio, ``trio_mode = true``)::

    from decimal import Decimal as D

    import trio

    from hlmaker.messages import Bbo, Level, ModifyOrders, PlaceOrders
    from hlmaker.strategy.base import MarketInfo
    from hlmaker.strategy.ladder import LadderConfig, LadderQuoter
    from hlmaker.testing import strategy_harness

    async def test_my_ladder(autojump_clock):
        strategy = LadderQuoter(LadderConfig(coins=("BTC",), levels=2, size=D("0.001"),
                                             max_position=D("0.01"), skew_bps_per_unit=1000))
        markets = {"BTC": MarketInfo(coin="BTC", sz_decimals=5)}
        with trio.fail_after(30):
            async with strategy_harness(strategy, markets) as h:
                h.push_market(Bbo(coin="BTC", time_ms=h.now_ms(),
                                  bid=Level(px=D("99990"), sz=D(1)),
                                  ask=Level(px=D("100010"), sz=D(1))))
                place = await h.next_command()
                assert isinstance(place, PlaceOrders) and len(place.orders) == 4
                await h.ack_all()     # every command received so far rests, oids allocated
                await h.fill(place.orders[0].cloid, D("0.001"))   # our best bid filled
                assert h.view.position("BTC") == D("0.001")
                skewed = await h.next_command()   # the ladder moves down 1 bps
                assert isinstance(skewed, ModifyOrders)
                await h.ack_all()
                await h.snapshot()    # the exchange agrees with the book
                assert h.view.is_synced

Time: the harness's clock is a :class:`~hlmaker.clock.WallClock` starting at :data:`EPOCH`
(ms since the epoch) that follows trio's clock, so ``await trio.sleep(s)`` moves it.

Channels: the book's are opened by :func:`hlmaker.actors.book.open_book_channels` (an inbox of
:data:`INBOX_SIZE` messages, unbounded command and reconcile-request edges), as in the maker.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal

import attrs
import trio
import trio.testing

from hlmaker.actors.book import open_book_channels, run_book
from hlmaker.actors.latest import Latest
from hlmaker.actors.quoter import run_quoter
from hlmaker.clock import WallClock
from hlmaker.messages import (
    BookView,
    CancelOk,
    CancelOrders,
    Command,
    Fill,
    Fills,
    MarketData,
    ModifyOrders,
    ModifyResting,
    OpenOrder,
    OrderResting,
    OrderUpdate,
    OrderUpdates,
    PlaceOrders,
    ReconcileRequest,
    ReconcileSnapshot,
    ScheduleCancel,
    ScheduleCancelResult,
    Side,
    signed,
)
from hlmaker.orders import BookConfig, OrderBookCore
from hlmaker.strategy.base import MarketInfo, Strategy

EPOCH = 1_700_000_000_000
"""The harness clock's start, ms since the epoch (2023-11-14)."""
INBOX_SIZE = 1000
"""The book inbox's capacity in the harness (messages)."""

ZERO = Decimal(0)


@attrs.define
class ExchangeOrder:
    """An order the harness believes rests on the exchange: ``px`` quote currency, ``sz``
    remaining coin, ``orig_sz`` as placed."""

    cloid: str
    oid: int
    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    orig_sz: Decimal
    placed_ms: int


class StrategyHarness:
    """The running book + quoter with the test as the exchange. Made by
    :func:`strategy_harness`; see the module docstring."""

    def __init__(self, *, inbox: trio.MemorySendChannel[object],
                 market: trio.MemorySendChannel[MarketData],
                 commands: trio.MemoryReceiveChannel[Command],
                 requests: trio.MemoryReceiveChannel[ReconcileRequest],
                 views: Latest[BookView], core: OrderBookCore, clock: WallClock,
                 positions: Mapping[str, Decimal]) -> None:
        self._inbox = inbox
        self._market = market
        self._commands = commands
        self._requests = requests
        self._views = views
        self.core = core
        """The book's core (read it, never mutate it)."""
        self.clock = clock
        self.orders: dict[str, ExchangeOrder] = {}
        """What the harness believes rests on the exchange, by cloid."""
        self.positions: dict[str, Decimal] = dict(positions)
        """The exchange's positions (signed coin) as the harness believes them."""
        self.answered: list[Command] = []
        """Every command answered so far, in order."""
        self._unanswered: list[Command] = []
        self._next_oid = 1_000
        self._next_tid = 1

    # ------------------------------------------------------------------ reading
    @property
    def view(self) -> BookView:
        """The book's newest view."""
        return self._views.value

    def now_ms(self) -> int:
        """The harness clock, ms since the epoch."""
        return self.clock.now_ms()

    def position(self, coin: str) -> Decimal:
        """The exchange-side position of ``coin`` (signed coin)."""
        return self.positions.get(coin, ZERO)

    # ------------------------------------------------------------------ driving
    async def settle(self) -> None:
        """Wait until the book and the quoter have processed everything (no time passes)."""
        await trio.testing.wait_all_tasks_blocked()

    def push_market(self, msg: MarketData) -> None:
        """Queue one market-data message for the quoter (never blocks).

        Raises:
            trio.WouldBlock: the market channel (1000 messages) is full.
        """
        self._market.send_nowait(msg)

    async def send(self, msg: object) -> None:
        """Put any message into the book's inbox (an outcome, an event…) and settle."""
        await self._inbox.send(msg)
        await self.settle()

    async def next_command(self, timeout_s: float = 5.0) -> Command:
        """The next command the book sent to the executor (waits up to ``timeout_s`` trio
        seconds).

        Raises:
            trio.TooSlowError: no command came in time.
        """
        with trio.fail_after(timeout_s):
            cmd = await self._commands.receive()
        self._unanswered.append(cmd)
        return cmd

    async def pending_commands(self) -> list[Command]:
        """Settle, then return (and consume) every command queued now."""
        await self.settle()
        out: list[Command] = []
        while True:
            try:
                out.append(self._commands.receive_nowait())
            except trio.WouldBlock:
                self._unanswered += out
                return out

    async def assert_no_command(self) -> None:
        """Settle and check the book sent nothing.

        Raises:
            AssertionError: naming the unexpected commands.
        """
        cmds = await self.pending_commands()
        if cmds:
            raise AssertionError(f"unexpected commands: {cmds!r}")

    def reconcile_requests(self) -> list[ReconcileRequest]:
        """Return (and consume) the reconcile requests the book made so far."""
        out: list[ReconcileRequest] = []
        while True:
            try:
                out.append(self._requests.receive_nowait())
            except trio.WouldBlock:
                return out

    # ------------------------------------------------------------------ the exchange
    async def ack(self, cmd: Command) -> None:
        """Answer ``cmd`` with success: places rest (new oids), modifies rest under a new oid,
        cancels succeed, the dead-man switch is set. Updates :attr:`orders`, then settles."""
        now = self.now_ms()
        if isinstance(cmd, PlaceOrders):
            for o in cmd.orders:
                oid = self._oid()
                self.orders[o.cloid] = ExchangeOrder(o.cloid, oid, o.coin, o.side, o.px, o.sz,
                                                     o.sz, now)
                await self._inbox.send(OrderResting(request_id=cmd.request_id, cloid=o.cloid,
                                                    oid=oid))
        elif isinstance(cmd, ModifyOrders):
            for m in cmd.modifies:
                oid = self._oid()
                o = m.order
                self.orders[o.cloid] = ExchangeOrder(o.cloid, oid, o.coin, o.side, o.px, o.sz,
                                                     o.sz, now)
                await self._inbox.send(ModifyResting(request_id=cmd.request_id, cloid=o.cloid,
                                                     old_oid=m.oid, new_oid=oid))
        elif isinstance(cmd, CancelOrders):
            for c in cmd.cancels:
                gone = self.orders.pop(c.cloid, None) if c.cloid else None
                await self._inbox.send(CancelOk(request_id=cmd.request_id, cloid=c.cloid,
                                                oid=c.oid if c.oid is not None else (
                                                    gone.oid if gone else None)))
        elif isinstance(cmd, ScheduleCancel):
            await self._inbox.send(ScheduleCancelResult(request_id=cmd.request_id,
                                                        at_ms=cmd.at_ms))
        self.answered.append(cmd)
        if cmd in self._unanswered:
            self._unanswered.remove(cmd)
        await self.settle()

    async def ack_all(self) -> list[Command]:
        """Answer with :meth:`ack` every command received and not yet answered plus every
        command queued now; return them (commands the answers provoke stay queued)."""
        await self.pending_commands()
        cmds = list(self._unanswered)
        for cmd in cmds:
            await self.ack(cmd)
        return cmds

    async def fill(self, cloid: str, sz: Decimal, *, px: Decimal | None = None) -> Fill:
        """The resting order ``cloid`` fills ``sz`` coin (at its own price unless ``px``):
        pushes the fill (and an ``orderUpdates`` ``filled`` when nothing remains), settles.

        Raises:
            KeyError: the harness does not believe ``cloid`` rests.
            ValueError: ``sz`` is not positive or exceeds the remaining size.
        """
        o = self.orders[cloid]
        if not 0 < sz <= o.sz:
            raise ValueError(f"fill size {sz} must be in (0, {o.sz}]")
        now = self.now_ms()
        start = self.position(o.coin)
        change = signed(o.side, sz)
        self.positions[o.coin] = start + change
        direction = ("Open Long" if start >= 0 else "Close Short") if o.side == "B" else (
            "Open Short" if start <= 0 else "Close Long")
        f = Fill(coin=o.coin, px=px if px is not None else o.px, sz=sz, side=o.side,
                 time_ms=now, start_position=start, dir=direction, closed_pnl=ZERO,
                 hash=f"0x{self._next_tid:064x}", oid=o.oid, crossed=False, fee=ZERO,
                 tid=self._next_tid, cloid=cloid)
        self._next_tid += 1
        o.sz -= sz
        await self._inbox.send(Fills(fills=(f,), source="user"))
        if o.sz == 0:
            del self.orders[cloid]
            await self._inbox.send(OrderUpdates(updates=(OrderUpdate(
                coin=o.coin, side=o.side, limit_px=o.px, sz=ZERO, orig_sz=o.orig_sz, oid=o.oid,
                timestamp_ms=o.placed_ms, status="filled", status_timestamp_ms=now,
                cloid=cloid),)))
        await self.settle()
        return f

    async def snapshot(self) -> ReconcileSnapshot:
        """Deliver a reconcile snapshot of what the harness believes: :attr:`orders` as open
        orders and :attr:`positions`, taken now. Settles."""
        now = self.now_ms()
        snap = ReconcileSnapshot(
            requested_at_ms=now, taken_at_ms=now,
            open_orders=tuple(
                OpenOrder(coin=o.coin, side=o.side, limit_px=o.px, sz=o.sz, oid=o.oid,
                          timestamp_ms=o.placed_ms, orig_sz=o.orig_sz, cloid=o.cloid)
                for o in self.orders.values()),
            positions=dict(self.positions), positions_time_ms=now)
        await self.send(snap)
        return snap

    def _oid(self) -> int:
        self._next_oid += 1
        return self._next_oid


@asynccontextmanager
async def strategy_harness(
    strategy: Strategy,
    markets: Mapping[str, MarketInfo],
    *,
    seed: int = 0,
    positions: Mapping[str, Decimal] | None = None,
    book_config: BookConfig | None = None,
    ready: bool = True,
) -> AsyncIterator[StrategyHarness]:
    """Run the book and the quoter around ``strategy``; yield the :class:`StrategyHarness`.

    Args:
        strategy: the strategy under test.
        markets: static facts per coin (the book accepts these coins only, unless
            ``book_config`` says otherwise).
        seed: seeds the book's cloid generator.
        positions: the exchange's positions at start (signed coin).
        book_config: the book's settings (default: ``BookConfig(coins=tuple(markets))``).
        ready: deliver the start-up snapshot at once, so the book is ready and the strategy
            starts; with ``False`` call :meth:`StrategyHarness.snapshot` yourself.

    Must run inside trio (use ``autojump_clock`` in tests). On exit both actors are cancelled.
    """
    clock = WallClock(EPOCH)
    core = OrderBookCore(book_config or BookConfig(coins=tuple(markets)), random.Random(seed))
    ch = open_book_channels(INBOX_SIZE)
    in_s, cmd_r, req_r = ch.inbox_send, ch.commands_receive, ch.requests_receive
    md_s, md_r = trio.open_memory_channel[MarketData](1000)
    views: Latest[BookView] = Latest(core.view(clock.now_ms()))
    h = StrategyHarness(inbox=in_s, market=md_s, commands=cmd_r, requests=req_r, views=views,
                        core=core, clock=clock, positions=positions or {})
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(_run_book, ch.inbox_receive, ch.commands_send, ch.requests_send,
                                views, core, clock)
            await nursery.start(_run_quoter, md_r, views, in_s.clone(), strategy, markets,
                                clock)
            if ready:
                await h.snapshot()
            yield h
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:  # show the test's own error, not a group of one
            raise group.exceptions[0] from None
        raise


async def _run_book(inbox: trio.MemoryReceiveChannel[object],
                    commands: trio.MemorySendChannel[Command],
                    requests: trio.MemorySendChannel[ReconcileRequest],
                    views: Latest[BookView], core: OrderBookCore, clock: WallClock,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    await run_book(inbox, commands, requests, views, core=core, clock=clock,
                   task_status=task_status)


async def _run_quoter(market: trio.MemoryReceiveChannel[MarketData], views: Latest[BookView],
                      intents: trio.MemorySendChannel[object], strategy: Strategy,
                      markets: Mapping[str, MarketInfo], clock: WallClock,
                      task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    async with intents:
        await run_quoter(market, views, intents, strategy=strategy, markets=markets,
                         clock=clock, task_status=task_status)
