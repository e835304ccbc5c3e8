"""The embedding API: ``async with open_maker(config, wallet=…) as maker:``.

Usable inside any trio program: the library never calls ``trio.run`` and installs no signal
handlers. It wires the channels, starts the actors under a :class:`~hlmaker.supervisor.Supervisor`
in dependency order (book, reconciler, executor, feed, dead-man lease, quoter), and on exit —
normal, exception or cancellation — runs the ordered shutdown under a shielded, bounded scope:

1. stop the quoter;
2. ``CancelAll`` through the book, then sweep until the book tracks no live order and the
   exchange lists none of ours (orphans included), or ``shutdown_timeout_s`` passes;
3. cancel every actor.

::

    async with open_maker(config, wallet=wallet, clock=WallClock(epoch_ms)) as maker:
        async for view in maker.view_updates():
            print(view.positions, view.counters.fills_applied)

Channels (``inbox`` is the book's only inbox; the two book outputs are unbounded because
book → executor → book is a cycle)::

    feed ──────────► inbox ◄── executor ◄── commands ◄── book
    reconciler ────► inbox                               book ──► reconcile requests ──► reconciler
    quoter ────────► inbox     feed ──► market ──► quoter     book ──► views (Latest)
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import attrs
import httpx
import trio

from hlmaker.actors.book import run_book
from hlmaker.actors.executor import ExecutorDeps, cancel_directly, run_executor
from hlmaker.actors.feed import FeedStats, run_feed
from hlmaker.actors.latest import Latest
from hlmaker.actors.posting import RoutePoster, WsPostLink
from hlmaker.actors.ratelimit import TokenBucket
from hlmaker.actors.reconciler import ReconcileStatus, run_reconciler
from hlmaker.clock import Clock, WallClock
from hlmaker.config import MakerConfig
from hlmaker.errors import ConfigError
from hlmaker.hyperliquid.errors import VenueError
from hlmaker.hyperliquid.keys import Wallet
from hlmaker.hyperliquid.meta import AssetMap
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.hyperliquid.ws import Connector
from hlmaker.messages import (
    ArmDeadManSwitch,
    BookView,
    CancelAll,
    Command,
    Counters,
    ReconcileRequest,
)
from hlmaker.orders import OrderBookCore
from hlmaker.pnl import unrealized_pnl
from hlmaker.strategy.base import MarketInfo, Strategy
from hlmaker.supervisor import ActorSpec, Incarnation, Supervisor, SupervisorGaveUp

log = logging.getLogger("hlmaker.maker")

INBOX_SIZE = 10_000
MARKET_SIZE = 1_000


@attrs.define
class BookHolder:
    """The current book core and the counters of the cores that crashed before it."""

    core: OrderBookCore
    lost: list[Counters] = attrs.Factory(list)
    on_batch: Callable[[int, float], None] | None = None
    """Observer of every book batch ``(messages, seconds)`` (see :func:`run_book`)."""

    def batch_applied(self, messages: int, seconds: float) -> None:
        """The book's ``on_batch`` hook: forwards to :attr:`on_batch` when one is set (it
        can be set at any time, for every incarnation)."""
        if self.on_batch is not None:
            self.on_batch(messages, seconds)

    def totals(self) -> dict[str, Any]:
        """Counters summed over every book incarnation."""
        out: dict[str, Any] = {}
        for c in [*self.lost, self.core.counters.freeze()]:
            for f in attrs.fields(Counters):
                out[f.name] = out.get(f.name, 0) + getattr(c, f.name)
        return out


class Maker:
    """A running maker. Read-only access for the embedding program."""

    def __init__(self, *, config: MakerConfig, wallet: Wallet, clock: Clock,
                 views: Latest[BookView], reconcile_status: Latest[ReconcileStatus],
                 supervisor: Supervisor, holder: BookHolder, inbox: trio.MemorySendChannel[object],
                 reconcile_requests: trio.MemorySendChannel[ReconcileRequest],
                 feed_stats: FeedStats, executor: ExecutorDeps, assets: AssetMap,
                 markets: Mapping[str, MarketInfo], mids: dict[str, Decimal]) -> None:
        self.config = config
        self.wallet = wallet
        self.clock = clock
        self.views = views
        self.reconcile_status = reconcile_status
        self.supervisor = supervisor
        self.holder = holder
        self.feed_stats = feed_stats
        self.executor = executor
        self.assets = assets
        self.markets = markets
        self.mids = mids
        self._inbox = inbox
        self._reconcile_requests = reconcile_requests
        self.shutdown_report: dict[str, Any] = {}
        self._shutdown_scope: trio.CancelScope | None = None
        self._aborted = False

    @property
    def view(self) -> BookView:
        """The book's newest view."""
        return self.views.value

    @property
    def user(self) -> str:
        """The account whose orders and fills the maker reads (lower-case address)."""
        return self.wallet.query_address

    async def view_updates(self) -> AsyncIterator[BookView]:
        """Every new view of the book (slow readers skip intermediate ones)."""
        version = -1
        while True:
            version, view = await self.views.wait_newer(version)
            yield view

    @property
    def inbox_backlog(self) -> int:
        """Messages waiting in the book's inbox (a growing backlog: the book is behind)."""
        return self._inbox.statistics().current_buffer_used

    async def send(self, intent: object) -> None:
        """Send an intent (or any inbox message) to the book, as a strategy would."""
        await self._inbox.send(intent)

    def request_reconcile(self, reason: str = "manual") -> None:
        """Ask for a sweep now."""
        core = self.holder.core
        for r in core.ask_reconcile(reason):  # type: ignore[arg-type]
            self._reconcile_requests.send_nowait(r)  # type: ignore[arg-type]

    async def shutdown(self) -> dict[str, Any]:
        """Stop quoting, cancel every order and confirm none remain (bounded by
        ``supervisor.shutdown_timeout_s``). Returns what it saw. Safe to call twice."""
        if self.shutdown_report:
            return self.shutdown_report
        if self._aborted:
            self.shutdown_report = {"confirmed_no_open_orders": False, "shutdown_s": 0.0,
                                    "aborted": True}
            return self.shutdown_report
        sup = self.supervisor
        sup.stop("quoter")
        sup.stop("dead_man")
        started = trio.current_time()
        confirmed = False
        with trio.move_on_after(self.config.supervisor.shutdown_timeout_s,
                                shield=True) as self._shutdown_scope:
            await self._inbox.send(CancelAll())
            while True:
                asked = self.clock.now_ms()
                self.request_reconcile("shutdown")
                status = await self.reconcile_status.wait_for(
                    lambda s, asked=asked: s.at_ms >= asked)
                mine = [o for o in status.exchange_open]
                live = [o for o in self.view.orders]
                # Each sweep decides afresh: a placement still in flight can land after an
                # empty sweep, and then "no open orders" no longer holds.
                confirmed = not mine and not live
                if confirmed:
                    if self.view.is_synced:
                        break  # and the last sweep found the book equal to the exchange
                    await trio.sleep(0.2)
                    continue
                if (live and not any(o.state == "pending_cancel" for o in live)) or (
                        mine and not live):  # orphans found after the first CancelAll
                    await self._inbox.send(CancelAll())
                await trio.sleep(0.5)
        self.shutdown_report = {
            "confirmed_no_open_orders": confirmed and not self._aborted,
            "shutdown_s": round(trio.current_time() - started, 3),
        }
        if self._aborted:
            self.shutdown_report["aborted"] = True
        log.info("maker shutdown confirmed=%s in %.2f s", confirmed,
                 trio.current_time() - started)
        return self.shutdown_report

    def abort_shutdown(self) -> None:
        """Give up on the orderly shutdown — running or still to come — at once (orders may
        stay on the exchange; a dead-man lease, if armed, still cancels them). The shutdown
        report then says ``aborted: true``."""
        self._aborted = True
        if self._shutdown_scope is not None:
            self._shutdown_scope.cancel()

    def summary(self) -> dict[str, Any]:
        """The final figures (see the README for each key). Positions are decimal strings."""
        view = self.view
        status = self.reconcile_status.value
        totals = self.holder.totals()
        local_pos = {c: decimal_str(p) for c, p in sorted(view.positions.items()) if p != 0}
        exch_pos = {c: decimal_str(p) for c, p in sorted(status.positions.items()) if p != 0}
        local_open = len(view.orders)
        exch_open = len(status.exchange_open)
        upnl = unrealized_pnl(status.positions, status.entry_px, self.mids) \
            if status.sweeps else None
        return {
            "fills": totals["fills_applied"],
            "volume": str(totals["volume"]),
            "realized_pnl": str(totals["closed_pnl"] - totals["fees"]),
            "unrealized_pnl": None if upnl is None else str(upnl.quantize(Decimal("0.000001"))),
            "position_local": local_pos,
            "position_exchange": exch_pos,
            "open_orders_local": local_open,
            "open_orders_exchange": exch_open,
            "duplicate_fills_dropped": totals["duplicate_fills_dropped"],
            "orphans_detected": totals["orphans_detected"],
            "orphans_cancelled": totals["orphans_cancelled"],
            "stale_removed": totals["stale_removed"],
            "position_drifts": totals["position_drifts"],
            "gaps_detected": totals["gaps_detected"],
            "illegal_transitions": totals["illegal_transitions"],
            "rejects": totals["rejects"],
            "unknown_outcomes": totals["unknown_opened"],
            "restarts": self.supervisor.total_restarts,
            "unresolved_requests": view.unresolved,
            "is_synced": bool(view.is_synced and local_pos == exch_pos
                              and local_open == exch_open),
            "reconcile_sweeps": status.sweeps,
            "feed_connects": self.feed_stats.connects,
            "actions_sent": self.executor.stats.actions_sent,
            "shutdown": self.shutdown_report,
        }


def decimal_str(value: Decimal) -> str:
    """The canonical string of an exact decimal: no exponent, no trailing zeros
    (``Decimal("0.00350")`` → ``"0.0035"``, ``Decimal("1E+1")`` → ``"10"``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def ladder_config(table: Mapping[str, Any]) -> Any:
    """Build the reference strategy's :class:`~hlmaker.strategy.ladder.LadderConfig` from the
    ``[strategy]`` table.

    Raises:
        ConfigError: an unknown key or an invalid value (naming ``strategy.<key>``).
    """
    from hlmaker.strategy.ladder import LadderConfig

    known = {f.name for f in attrs.fields(LadderConfig)}
    for key in table:
        if key not in known:
            raise ConfigError(f"strategy.{key}", f"unknown key; known keys: {', '.join(known)}")
    try:
        return LadderConfig(**table)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ConfigError("strategy", str(exc)) from None


def _default_strategy(config: MakerConfig) -> Strategy:
    from hlmaker.strategy.ladder import LadderQuoter

    return LadderQuoter(ladder_config(config.strategy))


def strategy_coins(config: MakerConfig, strategy: Strategy) -> tuple[str, ...]:
    """The coins to subscribe to: the strategy's ``coins`` if it has them, else the config's."""
    coins = getattr(getattr(strategy, "config", None), "coins", None)
    if coins:
        return tuple(coins)
    return tuple(config.strategy.get("coins", ("BTC",)))


@asynccontextmanager
async def open_maker(
    config: MakerConfig,
    *,
    wallet: Wallet,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    rest_transport: httpx.AsyncBaseTransport | None = None,
    ws_connector: Connector | str | None = None,
    strategy: Strategy | None = None,
    base_url: str | None = None,
) -> AsyncIterator[Maker]:
    """Run a maker for ``wallet`` while the block runs.

    Args:
        config: see :mod:`hlmaker.config`.
        wallet: who signs (:class:`~hlmaker.hyperliquid.keys.Wallet`).
        clock: the time seam; default anchors a :class:`~hlmaker.clock.WallClock` on the
            system clock once, here (the only clock read of the library).
        rng: randomness (cloids, backoff jitter); default: seeded from the OS once, here.
        rest_transport, ws_connector: seams for tests and the simulation harness.
        strategy: default: the reference ladder built from ``config.strategy``.
        base_url: overrides ``config.endpoint.url`` (``hlmaker run`` passes the simulator's).

    Raises:
        ConfigError: invalid strategy configuration, or a coin the exchange does not list.
        VenueError: the exchange could not be reached at start-up (``meta``).
        SupervisorGaveUp: an actor crashed too often (after the shielded cancel-all: through
            the book, or — when the book, the executor or the reconciler is the one that
            failed — straight through the venue for every order the exchange lists).
    """
    clock = clock or WallClock(int(time.time() * 1000))
    rng = rng or random.Random()
    strategy = strategy or _default_strategy(config)
    url = base_url or config.endpoint.url
    coins = strategy_coins(config, strategy)
    async with RestClient(url, transport=rest_transport,
                          timeout_s=config.executor.request_timeout_s) as rest:
        assets = await rest.asset_map()
        unknown = [c for c in coins if c not in assets]
        if unknown:
            raise ConfigError("strategy.coins", f"{', '.join(unknown)} not listed by the "
                              f"exchange at {url}; use its coin names (e.g. BTC, ETH, "
                              "or @107 for a spot pair)")
        markets = {c: MarketInfo(coin=c, sz_decimals=assets.sz_decimals(c),
                                 is_spot=assets.is_spot(assets.asset(c))) for c in coins}
        book_cfg = config.book if config.book.coins is not None else attrs.evolve(
            config.book, coins=coins)
        inbox_s, inbox_r = trio.open_memory_channel[object](INBOX_SIZE)
        cmd_s, cmd_r = trio.open_memory_channel[Command](math.inf)
        req_s, req_r = trio.open_memory_channel[ReconcileRequest](math.inf)
        mkt_s, mkt_r = trio.open_memory_channel[object](MARKET_SIZE)
        holder = BookHolder(core=OrderBookCore(book_cfg, random.Random(rng.getrandbits(64))))
        views: Latest[BookView] = Latest(holder.core.view(clock.now_ms()))
        rstatus: Latest[ReconcileStatus] = Latest(ReconcileStatus(at_ms=0, sweeps=0))
        sup = Supervisor(max_restarts=config.supervisor.max_restarts,
                         window_s=config.supervisor.window_s)
        feed_stats = FeedStats()
        ws_target = ws_connector if ws_connector is not None else _ws_url(url)
        link = WsPostLink(ws_target, random.Random(rng.getrandbits(64))) \
            if config.executor.use_ws_post else None
        deps = ExecutorDeps(
            wallet=wallet, nonces=NonceManager(clock, floor=clock.now_ms()), assets=assets,
            clock=clock, poster=RoutePoster(rest, link), is_mainnet=config.endpoint.is_mainnet,
            bucket=TokenBucket(config.executor.ip_weight_per_minute, 60.0),
            request_timeout_s=config.executor.request_timeout_s,
            max_in_flight=config.executor.max_in_flight)
        mids: dict[str, Decimal] = {}
        maker = Maker(config=config, wallet=wallet, clock=clock, views=views,
                      reconcile_status=rstatus, supervisor=sup, holder=holder, inbox=inbox_s,
                      reconcile_requests=req_s, feed_stats=feed_stats, executor=deps,
                      assets=assets, markets=markets, mids=mids)

        async def cancel_all_before_giving_up(error: SupervisorGaveUp) -> None:
            if error.actor not in ("book", "executor", "reconciler"):
                await maker.shutdown()  # book, executor, reconciler run: the cancel-all works
                return
            # One of the actors the book's cancel-all needs failed: cancel what the exchange
            # lists straight through the venue. The executor is stopped first; a placement it
            # had sent may still land until its expiresAfter, so "nothing rests" counts only
            # from a read taken after that.
            for name in ("quoter", "dead_man", "executor"):
                sup.stop(name)
            started, confirmed = trio.current_time(), False
            quiet_from_ms = clock.now_ms() + book_cfg.action_ttl_ms
            with trio.move_on_after(config.supervisor.shutdown_timeout_s):
                while True:
                    try:
                        read_ms = clock.now_ms()
                        left = await rest.frontend_open_orders(wallet.query_address)
                        if not left:
                            if read_ms >= quiet_from_ms:
                                confirmed = True
                                break
                            await trio.sleep(0.5)
                            continue
                        done = await cancel_directly(left, deps)
                    except VenueError as exc:
                        log.error("direct cancel-all failed: %s", exc)
                        await trio.sleep(0.5)
                        continue
                    log.warning("direct cancel-all (the %s failed): %d of %d cancelled",
                                error.actor, done, len(left))
            maker.shutdown_report = {  # the book cannot do it: this is the shutdown
                "confirmed_no_open_orders": confirmed,
                "shutdown_s": round(trio.current_time() - started, 3),
                "direct": True,
            }

        sup.before_give_up = cancel_all_before_giving_up

        def make_book() -> Incarnation:
            rx, tx_cmd, tx_req = inbox_r.clone(), cmd_s.clone(), req_s.clone()
            return Incarnation(run=lambda task_status: run_book(
                rx, tx_cmd, tx_req, views, core=holder.core, clock=clock,
                on_batch=holder.batch_applied, task_status=task_status), owns=[rx, tx_cmd, tx_req])

        def book_crashed(error: BaseException) -> None:
            # The book's memory is lost: the next incarnation starts empty and re-syncs.
            holder.lost.append(holder.core.counters.freeze())
            holder.core = OrderBookCore(book_cfg, random.Random(rng.getrandbits(64)))
            # The dead book's last view says ready: the quoter restarts at once and would quote
            # to the fresh book before it re-synced. Publish the fresh (not ready) view now.
            views.publish(holder.core.view(clock.now_ms()))

        def make_reconciler() -> Incarnation:
            rx, tx = req_r.clone(), inbox_s.clone()
            return Incarnation(run=lambda task_status: run_reconciler(
                rx, tx, rstatus, rest=rest, user=wallet.query_address, clock=clock,
                interval_s=config.reconcile.interval_s, min_gap_s=config.reconcile.min_gap_s,
                task_status=task_status), owns=[rx, tx])

        def make_executor() -> Incarnation:
            rx, tx = cmd_r.clone(), inbox_s.clone()
            return Incarnation(run=lambda task_status: run_executor(
                rx, tx, deps=deps, task_status=task_status), owns=[rx, tx])

        def make_feed() -> Incarnation:
            tx, tx_m = inbox_s.clone(), mkt_s.clone()
            return Incarnation(run=lambda task_status: run_feed(
                tx, tx_m, connector=ws_target, user=wallet.query_address, coins=coins,
                clock=clock, rng=random.Random(rng.getrandbits(64)), stats=feed_stats,
                task_status=task_status), owns=[tx, tx_m])

        def make_dead_man() -> Incarnation:
            tx = inbox_s.clone()
            return Incarnation(run=lambda task_status: _run_dead_man(
                tx, clock=clock, lease_s=config.dead_man.lease_s, task_status=task_status),
                owns=[tx])

        def make_quoter() -> Incarnation:
            from hlmaker.actors.quoter import run_quoter

            rx, tx = mkt_r.clone(), inbox_s.clone()
            return Incarnation(run=lambda task_status: run_quoter(
                _MidTap(rx, mids), views, tx, strategy=strategy, markets=markets, clock=clock,
                task_status=task_status), owns=[rx, tx])

        try:
            async with trio.open_nursery() as nursery:
                await sup.start(nursery, ActorSpec("book", make_book, also_restart=("quoter",),
                                                   on_crash=book_crashed))
                await sup.start(nursery, ActorSpec("reconciler", make_reconciler))
                if link is not None:
                    await nursery.start(link.run)
                await sup.start(nursery, ActorSpec("executor", make_executor))
                await sup.start(nursery, ActorSpec("feed", make_feed))
                if config.dead_man.enabled:
                    await sup.start(nursery, ActorSpec("dead_man", make_dead_man))
                await sup.start(nursery, ActorSpec("quoter", make_quoter))
                try:
                    yield maker
                finally:
                    with trio.CancelScope(shield=True):
                        await maker.shutdown()
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _unwrap(group) from None


def _unwrap(group: BaseExceptionGroup) -> BaseException:  # type: ignore[type-arg]
    """Public APIs raise the library's own errors, not exception groups."""
    leaves = list(_leaves(group))
    interesting = [e for e in leaves if not isinstance(e, trio.Cancelled)]
    return interesting[0] if len(interesting) == 1 else group


def _leaves(exc: BaseException) -> Any:
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            yield from _leaves(e)
    else:
        yield exc


def _ws_url(base_url: str) -> str:
    """The SDK's rule: ``ws`` + base_url minus ``http`` + ``/ws`` (§3.3)."""
    return "ws" + base_url[len("http"):] + "/ws"


class _MidTap:
    """A market channel wrapper that records mids for the UI as the quoter reads them."""

    def __init__(self, rx: trio.MemoryReceiveChannel[object], mids: dict[str, Decimal]) -> None:
        self._rx = rx
        self._mids = mids

    def _note(self, msg: object) -> object:
        from hlmaker.messages import AllMids, Bbo

        if isinstance(msg, AllMids):
            self._mids.update(msg.mids)
        elif isinstance(msg, Bbo) and msg.bid is not None and msg.ask is not None:
            self._mids[msg.coin] = (msg.bid.px + msg.ask.px) / 2
        return msg

    async def receive(self) -> object:
        return self._note(await self._rx.receive())

    def receive_nowait(self) -> object:
        return self._note(self._rx.receive_nowait())

    def __aiter__(self) -> _MidTap:
        return self

    async def __anext__(self) -> object:
        try:
            return await self.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


async def _run_dead_man(inbox: trio.MemorySendChannel[object], *, clock: Clock, lease_s: float,
                        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Renew the exchange's ``scheduleCancel`` as a lease: armed at now + lease, every lease/3."""
    task_status.started()
    while True:
        await inbox.send(ArmDeadManSwitch(at_ms=clock.now_ms() + int(lease_s * 1000)))
        await trio.sleep(lease_s / 3)
