"""The embedding API: ``async with open_maker(config, wallet=…) as maker:`` — the wiring.

Usable inside any trio program: the library never calls ``trio.run`` and installs no signal
handlers. :func:`open_maker` opens the channels, builds each actor's dependencies, starts the
actors under a :class:`~hlmaker.supervisor.Supervisor` in dependency order (book, reconciler,
executor, feed, dead-man lease, quoter), and on exit — normal, exception or cancellation — runs
the ordered shutdown (:mod:`hlmaker.shutdown`) under a shielded, bounded scope. What the
running maker offers the embedding program is :class:`Maker`; the final figures come from
:mod:`hlmaker.summary`; probes reach inside only through the ``observer``
(:mod:`hlmaker.observer`) given here.

::

    async with open_maker(config, wallet=wallet, clock=WallClock(epoch_ms)) as maker:
        async for view in maker.view_updates():
            print(view.positions, view.counters.fills_applied)

Channels (``inbox`` is the book's only inbox, opened with the book's two unbounded outputs by
:func:`~hlmaker.actors.book.open_book_channels`: book → executor → book is a cycle)::

    feed ──────────► inbox ◄── executor ◄── commands ◄── book
    reconciler ────► inbox                               book ──► reconcile requests ──► reconciler
    quoter ────────► inbox     feed ──► market ──► quoter     book ──► views (Latest)
    dead-man lease ► inbox
"""

from __future__ import annotations

import gc
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from typing import Any

import attrs
import httpx
import trio

from hlmaker.actors.book import open_book_channels, run_book
from hlmaker.actors.budget import BudgetView
from hlmaker.actors.dead_man import run_dead_man
from hlmaker.actors.executor import ExecutorDeps, reserve_weight, run_executor
from hlmaker.actors.feed import FeedStats, run_feed
from hlmaker.actors.latest import Latest
from hlmaker.actors.posting import RoutePoster, WsPostLink
from hlmaker.actors.quoter import run_quoter
from hlmaker.actors.ratelimit import IpWeightBudget, IpWeightView, Priority
from hlmaker.actors.reconciler import ReconcileStatus, learn_budget, run_reconciler
from hlmaker.clock import Clock, WallClock
from hlmaker.config import MakerConfig
from hlmaker.errors import ConfigError, EndpointUnreachable
from hlmaker.hyperliquid.errors import VenueError
from hlmaker.hyperliquid.keys import Wallet
from hlmaker.hyperliquid.meta import AssetMap
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.hyperliquid.ws import Connector, ws_url
from hlmaker.journal import Journal, Mark, RunContext
from hlmaker.messages import BookView, Counters, ReconcileRequest
from hlmaker.observer import NO_OBSERVER, Observer, Observers
from hlmaker.orders import OrderBookCore
from hlmaker.orders.ownership import CloidSource, Ownership
from hlmaker.pnl import unrealized_pnl
from hlmaker.shutdown import Shutdown
from hlmaker.strategy.base import MarketInfo, Strategy
from hlmaker.strategy.factory import default_strategy, strategy_coins
from hlmaker.summary import summarize
from hlmaker.supervisor import ActorSpec, Incarnation, Supervisor, SupervisorGaveUp

log = logging.getLogger("hlmaker.maker")

INBOX_SIZE = 10_000
MARKET_SIZE = 1_000


@attrs.define
class BookHolder:
    """The current book core and the counters of the cores that crashed before it."""

    core: OrderBookCore
    lost: list[Counters] = attrs.Factory(list)

    def totals(self) -> dict[str, Any]:
        """Counters summed over every book incarnation."""
        out: dict[str, Any] = {}
        for c in [*self.lost, self.core.counters.freeze()]:
            for f in attrs.fields(Counters):
                out[f.name] = out.get(f.name, 0) + getattr(c, f.name)
        return out


class Maker:
    """A running maker: read-only access for the embedding program (and, through the same
    attributes, the UI's :class:`~hlmaker.ui.bridge.MakerView`)."""

    def __init__(self, *, config: MakerConfig, wallet: Wallet, clock: Clock,
                 views: Latest[BookView], reconcile_status: Latest[ReconcileStatus],
                 supervisor: Supervisor, holder: BookHolder, inbox: trio.MemorySendChannel[object],
                 reconcile_requests: trio.MemorySendChannel[ReconcileRequest],
                 feed_stats: FeedStats, executor: ExecutorDeps, assets: AssetMap,
                 markets: Mapping[str, MarketInfo], mids: dict[str, Decimal],
                 journal: Journal | None = None,
                 ownership: Ownership | None = None) -> None:
        self.config = config
        self.ownership = ownership or config.maker.ownership()
        """Which orders on the account are ours (the cloid prefix) and the policies."""
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
        """Mid price per coin (quote currency), as the quoter last saw it."""
        self.journal = journal
        """The flight recorder (``None`` when off): its ``path``, ``dropped`` and
        ``write_errors`` counters."""
        self._inbox = inbox
        self._reconcile_requests = reconcile_requests
        cancel_foreign = self.ownership.foreign_orders == "cancel"
        self._shutdown = Shutdown(
            is_ours=lambda row: cancel_foreign or self.ownership.is_ours(row.cloid))

    @property
    def view(self) -> BookView:
        """The book's newest view."""
        return self.views.value

    @property
    def user(self) -> str:
        """The account whose orders and fills the maker reads (lower-case address)."""
        return self.wallet.query_address

    @property
    def network(self) -> str:
        """Where it trades: ``sim``, ``testnet`` or ``mainnet``."""
        return self.config.endpoint.network

    @property
    def restarts(self) -> Mapping[str, int]:
        """Restarts per actor so far."""
        return self.supervisor.restarts

    @property
    def actor_states(self) -> Mapping[str, str]:
        """Each actor's state (``running``, ``restarting``, ``stopped``, ``failed``…)."""
        return self.supervisor.states

    def totals(self) -> dict[str, Any]:
        """The book's counters summed over every incarnation (see :class:`BookHolder`)."""
        return self.holder.totals()

    async def view_updates(self) -> AsyncIterator[BookView]:
        """Every new view of the book (slow readers skip intermediate ones)."""
        version = -1
        while True:
            version, view = await self.views.wait_newer(version)
            yield view

    @property
    def budget(self) -> BudgetView:
        """The address request budget now: used / cap / headroom, whether only cancels go out
        (:class:`~hlmaker.actors.budget.AddressBudget`)."""
        return self.executor.budget.view()

    @property
    def ip_weight(self) -> IpWeightView:
        """The per-IP REST weight now: used in the last 60 s / limit / headroom, peak, 429s
        (:class:`~hlmaker.actors.ratelimit.IpWeightBudget`)."""
        return self.executor.ip_weight.view()

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

    @property
    def shutdown_report(self) -> dict[str, Any]:
        """What the shutdown saw (empty before it ran; keys in :mod:`hlmaker.shutdown`)."""
        return self._shutdown.report

    async def shutdown(self) -> dict[str, Any]:
        """Stop quoting, cancel every order and confirm none remain (bounded by
        ``supervisor.shutdown_timeout_s``; :meth:`hlmaker.shutdown.Shutdown.through_book`).
        Returns what it saw. Safe to call twice."""
        return await self._shutdown.through_book(
            supervisor=self.supervisor, inbox=self._inbox,
            request_reconcile=self.request_reconcile, reconcile_status=self.reconcile_status,
            views=self.views, clock=self.clock,
            timeout_s=self.config.supervisor.shutdown_timeout_s)

    async def give_up_shutdown(self, error: SupervisorGaveUp, *, rest: RestClient,
                               action_ttl_ms: int) -> None:
        """The supervisor's last act before giving up: cancel every order — through the book
        while the book, the executor and the reconciler run, else straight through the venue
        (:meth:`hlmaker.shutdown.Shutdown.through_venue`)."""
        if error.actor not in ("book", "executor", "reconciler"):
            await self.shutdown()  # book, executor, reconciler run: the cancel-all works
            return
        await self._shutdown.through_venue(
            supervisor=self.supervisor, rest=rest, user=self.wallet.query_address,
            deps=self.executor, clock=self.clock, action_ttl_ms=action_ttl_ms,
            timeout_s=self.config.supervisor.shutdown_timeout_s, failed=error.actor)

    def abort_shutdown(self) -> None:
        """Give up on the orderly shutdown — running or still to come — at once (orders may
        stay on the exchange; a dead-man lease, if armed, still cancels them). The shutdown
        report then says ``aborted: true``."""
        self._shutdown.abort()

    def summary(self) -> dict[str, Any]:
        """The final figures (see the README for each key; :func:`hlmaker.summary.summarize`).
        Positions are decimal strings."""
        totals = self.holder.totals()
        out = summarize(
            view=self.view, status=self.reconcile_status.value, totals=totals,
            mids=self.mids, restarts=self.supervisor.total_restarts,
            is_ours=lambda row: self.ownership.is_ours(row.cloid),
            feed_connects=self.feed_stats.connects,
            actions_sent=self.executor.stats.actions_sent, shutdown=self.shutdown_report)
        b, w = self.budget, self.ip_weight
        out["address_budget"] = {"used": b.used, "cap": b.cap, "headroom": b.headroom,
                                 "bought": b.bought, "known": b.known}
        out["ip_weight"] = {"limit": w.limit, "peak_per_min": w.peak,
                            "rate_limited": w.rate_limited, "waited_s": w.waited_s,
                            "reads_thinned": w.thinned}
        j = self.journal
        if j is not None:
            to_date = j.realized_pnl_to_date
            if to_date is None:  # still open: the earlier runs plus this one's counters
                to_date = j.prior_realized + totals["closed_pnl"] - totals["fees"]
            out["realized_pnl_to_date"] = str(to_date)
            out["journal"] = {"path": str(j.path), "run_id": j.run_id,
                              "dropped": j.dropped, "write_errors": j.write_errors}
        return out


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
    observer: Observer = NO_OBSERVER,
    journal: Journal | None = None,
    cloid_bits: Callable[[int], int] | None = None,
) -> AsyncIterator[Maker]:
    """Run a maker for ``wallet`` while the block runs.

    Args:
        config: see :mod:`hlmaker.config`.
        wallet: who signs (:class:`~hlmaker.hyperliquid.keys.Wallet`).
        clock: the time seam; default anchors a :class:`~hlmaker.clock.WallClock` on the
            system clock once, here (the only clock read of the library).
        rng: randomness (backoff jitter); default: seeded from the OS once, here.
        cloid_bits: the randomness of this process's cloid session (``randbits(k)``, see
            :class:`~hlmaker.orders.ownership.CloidSource`); default ``secrets.randbits`` —
            from the OS, so two processes never share cloids even when ``rng`` is seeded
            alike. Only the deterministic campaign passes a seeded one.
        rest_transport, ws_connector: seams for tests and the simulation harness.
        strategy: default: the reference ladder built from ``config.strategy``.
        base_url: overrides ``config.endpoint.url`` (``hlmaker run`` passes the simulator's).
        observer: every probe (metrics, the chaos harness, benchmarks): given to the order
            core, the book, the executor, the nonce manager, the feed and the supervisor
            (:class:`~hlmaker.observer.Observer`; :class:`~hlmaker.observer.Observers` fans
            out to several).
        journal: an open :class:`~hlmaker.journal.Journal` (off when ``None``): the maker
            records one run in it (every book input, fills, actions, marks, mids), starts its
            nonces above the journal's floor, and closes it on exit.

    Raises:
        ConfigError: invalid strategy configuration, or a coin the exchange does not list.
        EndpointUnreachable: the exchange's ``meta`` could not be read at start-up, retried
            with backoff (0.5 s doubling to 5 s) for ``maker.startup_timeout_s`` seconds.
        SupervisorGaveUp: an actor crashed too often (after the shielded cancel-all: through
            the book, or — when the book, the executor or the reconciler is the one that
            failed — straight through the venue for every order the exchange lists).
    """
    clock = clock or WallClock(int(time.time() * 1000))
    rng = rng or random.Random()
    strategy = strategy or default_strategy(config)
    url = base_url or config.endpoint.url
    if journal is not None:
        observer = Observers(observer, journal.observer)
    try:
        async with _open_maker(config, wallet=wallet, clock=clock, rng=rng,
                               rest_transport=rest_transport, ws_connector=ws_connector,
                               strategy=strategy, url=url, observer=observer,
                               journal=journal, cloid_bits=cloid_bits) as maker:
            yield maker
    finally:
        if journal is not None and not journal.closed:
            journal.close_unstarted()


@asynccontextmanager
async def _open_maker(config: MakerConfig, *, wallet: Wallet, clock: Clock, rng: random.Random,
                      rest_transport: httpx.AsyncBaseTransport | None,
                      ws_connector: Connector | str | None, strategy: Strategy, url: str,
                      observer: Observer, journal: Journal | None,
                      cloid_bits: Callable[[int], int] | None) -> AsyncIterator[Maker]:
    coins = strategy_coins(config, strategy)
    ownership = config.maker.ownership()
    cloids = CloidSource(ownership.prefix, cloid_bits or secrets.randbits)
    async with RestClient(url, transport=rest_transport,
                          timeout_s=config.executor.request_timeout_s) as raw_rest:
        # One per-IP weight ledger for every REST caller (§8): the executor charges its actions
        # itself (a WS post is refunded), so its poster gets the ungated client; the reads
        # (start-up, reconciler) are gated at read priority, the venue shutdown's at action's.
        ip_weight = IpWeightBudget(config.executor.ip_weight_per_minute)
        rest = raw_rest.gated(ip_weight.gate(Priority.READ))
        urgent_rest = raw_rest.gated(ip_weight.gate(Priority.CANCEL))  # the shutdown's sweep
        assets = await _first_contact(rest, url, config.maker.startup_timeout_s, rng)
        unknown = [c for c in coins if c not in assets]
        if unknown:
            raise ConfigError("strategy.coins", f"{', '.join(unknown)} not listed by the "
                              f"exchange at {url}; use its coin names (e.g. BTC, ETH, "
                              "or @107 for a spot pair)")
        markets = {c: MarketInfo(coin=c, sz_decimals=assets.sz_decimals(c),
                                 is_spot=assets.is_spot(assets.asset(c))) for c in coins}
        book_cfg = config.book if config.book.coins is not None else attrs.evolve(
            config.book, coins=coins)
        ch = open_book_channels(INBOX_SIZE)
        inbox_s, inbox_r = ch.inbox_send, ch.inbox_receive
        mkt_s, mkt_r = trio.open_memory_channel[object](MARKET_SIZE)
        seed = rng.getrandbits(64)
        holder = BookHolder(core=OrderBookCore(book_cfg, random.Random(seed),
                                               observer=observer, ownership=ownership,
                                               cloids=cloids))
        views: Latest[BookView] = Latest(holder.core.view(clock.now_ms()))
        rstatus: Latest[ReconcileStatus] = Latest(ReconcileStatus(at_ms=0, sweeps=0))
        sup = Supervisor(max_restarts=config.supervisor.max_restarts,
                         window_s=config.supervisor.window_s, observer=observer)
        feed_stats = FeedStats()
        ws_target = ws_connector if ws_connector is not None else ws_url(url)
        link = WsPostLink(ws_target, random.Random(rng.getrandbits(64))) \
            if config.executor.use_ws_post else None
        deps = ExecutorDeps(
            wallet=wallet, nonces=NonceManager(
                clock, floor=max(clock.now_ms(), journal.nonce_floor if journal else 0),
                observer=observer),
            assets=assets, clock=clock, poster=RoutePoster(raw_rest, link),
            is_mainnet=config.endpoint.is_mainnet,
            ip_weight=ip_weight,
            request_timeout_s=config.executor.request_timeout_s,
            max_in_flight=config.executor.max_in_flight, observer=observer)
        await learn_budget(rest, wallet.query_address, deps.budget)
        mids: dict[str, Decimal] = {}
        maker = Maker(config=config, wallet=wallet, clock=clock, views=views,
                      reconcile_status=rstatus, supervisor=sup, holder=holder, inbox=inbox_s,
                      reconcile_requests=ch.requests_send, feed_stats=feed_stats, executor=deps,
                      assets=assets, markets=markets, mids=mids, journal=journal,
                      ownership=ownership)
        if journal is not None:
            def mark() -> Mark:
                t, st = holder.totals(), rstatus.value
                upnl = unrealized_pnl(st.positions, st.entry_px, mids) if st.sweeps else None
                return Mark(closed_pnl=t["closed_pnl"], fees=t["fees"], unrealized=upnl,
                            positions=dict(views.value.positions), counters=t)

            network = config.endpoint.network
            venue = network if network != "sim" else f"sim@{url}#{clock.now_ms()}"
            journal.begin_run(RunContext(
                network=network, venue=venue, account=wallet.query_address,
                book_config=book_cfg, clock=clock, view_at=lambda now: holder.core.view(now),
                mark=mark, mids=mids, coins=tuple(coins),
                book_busy=lambda: inbox_s.statistics().current_buffer_used > 0))
            journal.core_created(seed, clock.now_ms(), ownership, cloids)

        async def cancel_all_before_giving_up(error: SupervisorGaveUp) -> None:
            await maker.give_up_shutdown(error, rest=raw_rest.gated(ip_weight.gate(
                Priority.ACTION)), action_ttl_ms=book_cfg.action_ttl_ms)

        sup.before_give_up = cancel_all_before_giving_up

        def make_book() -> Incarnation:
            rx, tx_cmd = inbox_r.clone(), ch.commands_send.clone()
            tx_req = ch.requests_send.clone()
            return Incarnation(run=lambda task_status: run_book(
                rx, tx_cmd, tx_req, views, core=holder.core, clock=clock, observer=observer,
                placements_before_ready=False, task_status=task_status),
                owns=[rx, tx_cmd, tx_req])

        def book_crashed(error: BaseException) -> None:
            # The book's memory is lost: the next incarnation starts empty and re-syncs.
            holder.lost.append(holder.core.counters.freeze())
            deps.book_generation += 1  # the dead book's placements are not retried
            seed = rng.getrandbits(64)
            holder.core = OrderBookCore(book_cfg, random.Random(seed), observer=observer,
                                        ownership=ownership, cloids=cloids)
            if journal is not None:
                journal.core_created(seed, clock.now_ms(), ownership, cloids)
            # The dead book's last view says ready: the quoter restarts at once and would quote
            # to the fresh book before it re-synced. Publish the fresh (not ready) view now.
            views.publish(holder.core.view(clock.now_ms()))
            observer.view_published()

        async def buy_requests() -> None:
            # [executor] reserve_request_weight: buy when the address budget runs low
            n, below = (config.executor.reserve_request_weight,
                        config.executor.reserve_below_headroom)
            if n > 0 and deps.budget.known and deps.budget.headroom < below:
                error = await reserve_weight(deps, n)
                if error is not None:
                    log.warning("reserveRequestWeight %d failed: %s", n, error)

        def make_reconciler() -> Incarnation:
            rx, tx = ch.requests_receive.clone(), inbox_s.clone()
            return Incarnation(run=lambda task_status: run_reconciler(
                rx, tx, rstatus, rest=rest, user=wallet.query_address, clock=clock,
                interval_s=config.reconcile.interval_s, min_gap_s=config.reconcile.min_gap_s,
                is_ours=ownership.is_ours, budget=deps.budget, ip_weight=ip_weight,
                urgent_rest=urgent_rest, after_budget=buy_requests, task_status=task_status),
                owns=[rx, tx])

        def make_executor() -> Incarnation:
            rx, tx = ch.commands_receive.clone(), inbox_s.clone()
            return Incarnation(run=lambda task_status: run_executor(
                rx, tx, deps=deps, task_status=task_status), owns=[rx, tx])

        def make_feed() -> Incarnation:
            tx, tx_m = inbox_s.clone(), mkt_s.clone()
            return Incarnation(run=lambda task_status: run_feed(
                tx, tx_m, connector=ws_target, user=wallet.query_address, coins=coins,
                clock=clock, rng=random.Random(rng.getrandbits(64)), stats=feed_stats,
                observer=observer, task_status=task_status), owns=[tx, tx_m])

        def make_dead_man() -> Incarnation:
            tx = inbox_s.clone()
            return Incarnation(run=lambda task_status: run_dead_man(
                tx, clock=clock, lease_s=config.dead_man.lease_s, task_status=task_status),
                owns=[tx])

        def make_quoter() -> Incarnation:
            rx, tx, wake = mkt_r.clone(), inbox_s.clone(), mkt_s.clone()
            return Incarnation(run=lambda task_status: run_quoter(
                rx, views, tx, strategy=strategy, markets=markets, clock=clock, mids=mids,
                budget=deps.budget, wake=wake, task_status=task_status),
                owns=[rx, tx, wake])

        try:
            async with _journal_running(journal), trio.open_nursery() as nursery:
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
                with _gc_frozen(config.maker.gc_freeze):
                    try:
                        yield maker
                    finally:
                        with trio.CancelScope(shield=True):
                            await maker.shutdown()
                        nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _unwrap(group) from None


@contextmanager
def _gc_frozen(enabled: bool) -> Iterator[None]:
    """While the maker runs, keep what start-up made out of the cyclic GC's walks
    (``[maker] gc_freeze``): collect once, :func:`gc.freeze`, and :func:`gc.unfreeze` on exit
    (frozen objects that died meanwhile are collected again from then on)."""
    if not enabled:
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@asynccontextmanager
async def _journal_running(journal: Journal | None) -> AsyncIterator[None]:
    """Run the journal's actor around the maker's; on exit (after every actor stopped) record
    the final state and close it, shielded."""
    if journal is None:
        yield
        return
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        try:
            yield
        finally:
            with trio.CancelScope(shield=True):
                await journal.close()


STARTUP_BACKOFF_S = (0.5, 5.0)
"""First and largest wait between start-up attempts (seconds; doubled each time, ±20 %)."""


async def _first_contact(rest: RestClient, url: str, timeout_s: float,
                         rng: random.Random) -> AssetMap:
    """Read the exchange's asset map, retrying any venue error with backoff for ``timeout_s``
    seconds (trio time).

    Raises:
        EndpointUnreachable: still failing when the time is up (the URL and the last cause).
    """
    start = trio.current_time()
    wait, attempt = STARTUP_BACKOFF_S[0], 0
    while True:
        attempt += 1
        try:
            return await rest.asset_map()
        except VenueError as exc:
            waited = trio.current_time() - start
            if waited + wait > timeout_s:
                raise EndpointUnreachable(url, str(exc), waited) from None
            log.warning("start-up: exchange at %s not reachable (attempt %d: %s); retrying in "
                        "%.1f s", url, attempt, exc, wait)
            await trio.sleep(wait * rng.uniform(0.8, 1.2))
            wait = min(wait * 2, STARTUP_BACKOFF_S[1])


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
