"""The harness: the real actors and supervisor (``open_maker``) against the simulated exchange,
in one trio run under ``MockClock(autojump_threshold=0)``, with everything fixed by one seed.

:func:`simulate` runs a :class:`RunSpec` and returns a :class:`RunResult`::

    result = simulate(RunSpec(seed=7, sim_seconds=120, plan=swarm_plan(7, 120)))
    result.digest, result.violations, result.faults   # {"F1": n, …}

Inside the run:

* the exchange (:class:`~.exchange.SimExchange`) steps its market every ``step_ms`` of trio time
  and serves the bot through in-memory transports (:mod:`.transport`): JSON text through the
  real codec, no sockets;
* the bot is ``hlmaker.maker.open_maker`` with the reference ladder strategy, a wallet and
  strategy parameters drawn from the seed, the ``bot`` random stream, and a clock that F14 may
  make jump;
* a director task plays the plan's timeline events (F4, F5, F9, F10, F14, F16, F17, F18, F19,
  rate limits); F17 ends the process (the maker, with no shutdown) and starts a new one later, with
  fresh ``bot/N`` and ``cloids/N`` streams;
* the :class:`~.invariants.InvariantChecker` runs after every book view publication, after
  every exchange event and clock step, and at the end;
* the :class:`~.determinism.TraceRecorder` hashes every task step and exchange event; trio's
  scheduler is seeded (:func:`~.determinism.seed_scheduler`);
* the run's :class:`RunObserver` — the :class:`~hlmaker.observer.Observer` given to
  ``open_maker`` — triggers the book checks, checks every nonce issued (S7) and hashes every
  order-core step into :attr:`RunResult.core_digest`: SHA-256 over
  ``f"{kind}|{now_ms}|{msg!r}|{actions!r}\n"`` per step, ``kind`` ``tick`` (timer, ``msg`` None)
  or ``in`` (an inbox message) — the order core's inputs and outputs only, so it stays equal
  when the actors around the core are rearranged.

Randomness: streams ``setup`` (market and strategy parameters, wallet key), ``market``,
``faults``, ``bot`` and ``scheduler`` — all derived from the seed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import trio
import trio.testing

from hlmaker.chaos.crash import CrashInjector
from hlmaker.chaos.determinism import TraceRecorder, seed_scheduler, stream
from hlmaker.chaos.exchange import SimExchange
from hlmaker.chaos.invariants import Bounds, CheckStats, InvariantChecker, Violation
from hlmaker.chaos.plan import Event, FaultPlan, SimFaults
from hlmaker.chaos.transport import SimHttpTransport, sim_connector
from hlmaker.clock import Clock, WallClock
from hlmaker.config import EndpointConfig, MakerConfig, MakerSection
from hlmaker.hyperliquid.keys import PrivateKey, Wallet
from hlmaker.observer import Observer
from hlmaker.sim.faults import FaultProfile
from hlmaker.sim.limits import Limits
from hlmaker.sim.market import MarketConfig
from hlmaker.sim.service import ServiceConfig

EPOCH_MS = 1_700_000_000_000
BASE_URL = "http://sim.invalid"
STRATEGY_COINS = ("BTC", "ETH")
STATUSES_F10 = ("marginCanceled", "reduceOnlyCanceled", "scheduledCancel", "canceled")


RECONCILE_BACKOFF_CAP_S = 30.0
"""The reconciler's retry backoff cap (``hlmaker.actors.reconciler``): after an outage, a sweep
may come this late."""
STARTUP_TIMEOUT_S = 600.0
"""A restarted process (F17) retries its start-up reads through any partition (F16)."""
SIM_TIME_SLACK_S = 300.0
"""A run that has not finished this long (trio time) after its end is stuck (a deadlock)."""


class LivelockError(RuntimeError):
    """The run made no progress in trio time for too long in wall time."""


class JumpClock:
    """The bot's wall clock: the true one plus an offset the director may change (F14)."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.offset_ms = 0

    def now_ms(self) -> int:
        return self.base.now_ms() + self.offset_ms


@dataclass(frozen=True)
class RunSpec:
    """One simulation run. ``plan.quiet_after_s`` should leave time to converge before
    ``sim_seconds``; :func:`simulate` sets it to ``sim_seconds - quiet_s`` when it is infinite."""

    seed: int
    sim_seconds: float
    plan: FaultPlan = field(default_factory=FaultPlan)
    quiet_s: float = 60.0
    bounds: Bounds = field(default_factory=Bounds)
    step_ms: int = 100
    label: str = ""
    journal: str | None = None
    """Journal the run to this file (:mod:`hlmaker.journal`; off when ``None``)."""


@dataclass
class RunResult:
    """What one run produced."""

    seed: int
    label: str
    digest: str
    violations: list[Violation]
    faults: dict[str, int]
    fault_kinds: dict[str, int]
    counters: dict[str, Any]
    restarts: dict[str, int]
    check: CheckStats
    sim_seconds: float
    wall_seconds: float
    steps: int
    events: int
    last_fault_s: float
    exchange: dict[str, Any]
    executor: dict[str, Any]
    logs: dict[str, int]
    shutdown_confirmed: bool
    probes: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    core_digest: str = ""
    """SHA-256 of every order-core step (see the module docstring)."""
    core_steps: int = 0

    def log_count(self, fragment: str) -> int:
        """Log records whose ``logger: template | error types`` contains ``fragment``."""
        return sum(n for k, n in self.logs.items() if fragment in k)

    @property
    def ok(self) -> bool:
        return not self.violations and self.error is None


def strategy_table(seed: int) -> dict[str, Any]:
    """The ladder strategy's settings for ``seed`` (stream ``setup``)."""
    rng = stream(seed, "setup-strategy")
    levels = rng.randint(1, 3)
    return {
        "coins": list(STRATEGY_COINS),
        "levels": levels,
        "size": "0.0003",
        "max_position": "0.003",
        "half_spread_bps": str(rng.choice((2, 3, 4, 6))),
        "spacing_bps": str(rng.choice((1, 2, 3))),
        "skew_bps_per_unit": "100",
        "requote_bps": str(rng.choice((1, 2, 4))),
        "by_coin": {"ETH": {"size": "0.008", "max_position": "0.08", "skew_bps_per_unit": "4"}},
    }


def market_config(seed: int) -> MarketConfig:
    """The synthetic market for ``seed``: two coins, a thin background book and enough taker
    flow to fill the bot's quotes regularly."""
    rng = stream(seed, "setup-market")
    return MarketConfig(
        coins=STRATEGY_COINS,
        volatility_bps=rng.uniform(0.5, 3.0),
        levels=4,
        half_spread_bps=1.0,
        level_spacing_bps=1.0,
        level_notional_usd=rng.choice((300.0, 600.0, 1_000.0)),
        requote_bps=1.5,
        taker_rate_per_s=rng.uniform(0.3, 1.5),
        taker_notional_usd=rng.choice((500.0, 1_500.0, 3_000.0)),
        taker_slippage_bps=15.0,
    )


def maker_config(seed: int, on_start: str = "") -> MakerConfig:
    """The bot's configuration in the simulation (the library's defaults, the seed's strategy;
    ``on_start``: the ``[maker] on_start`` policy, ``""`` for the default). ``gc_freeze`` is
    off: a campaign runs hundreds of makers in one process, and a full collection at each start
    cost more than the simulated minutes gain (it only shortens wall-clock pauses)."""
    maker = MakerSection(startup_timeout_s=STARTUP_TIMEOUT_S, gc_freeze=False)
    if on_start:
        maker = MakerSection(startup_timeout_s=STARTUP_TIMEOUT_S, on_start=on_start,
                             gc_freeze=False)
    return MakerConfig(endpoint=EndpointConfig(network="sim", base_url=BASE_URL),
                       strategy=strategy_table(seed), maker=maker)


def wallet_for(seed: int) -> Wallet:
    """A wallet whose key is derived from the seed."""
    secret = hashlib.sha256(f"hlmaker-simulation/{seed}/key".encode()).hexdigest()
    return Wallet(PrivateKey.from_hex("0x" + secret))


class _LogCounter(logging.Handler):
    """Counts log records by ``logger: template`` (cheap: nothing is formatted)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.name}: {record.msg}"
        errors = [type(a).__name__ for a in (record.args or ()) if isinstance(a, BaseException)]
        if errors:
            key += " | " + ",".join(errors)
        self.counts[key] += 1

    def count(self, fragment: str) -> int:
        """Records whose key contains ``fragment``."""
        return sum(n for k, n in self.counts.items() if fragment in k)


class RunObserver(Observer):
    """The run's probes inside the maker: the order-core digest, the book checks after every
    view publication (once the maker is up), S7 on every nonce issued, and :attr:`probes`, the
    order core's recovery paths: how each place ack met its order (``finalize:<how>``, a
    :class:`~hlmaker.orders.records.Finalize` value) and every move of an order to a new oid
    (``rebind``)."""

    def __init__(self, checker: InvariantChecker) -> None:
        self.checker = checker
        self.probes: Counter[str] = Counter()
        self.checking_views = False
        """Set once ``open_maker`` has started every actor (start-up views are not checked)."""
        self._core = hashlib.sha256()
        self.core_steps = 0

    def core_step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        kind = "tick" if msg is None else "in"
        self._core.update(f"{kind}|{now_ms}|{msg!r}|{actions!r}\n".encode())
        self.core_steps += 1

    def order_finalized(self, how: str) -> None:
        self.probes[f"finalize:{how}"] += 1

    def order_rebound(self) -> None:
        self.probes["rebind"] += 1

    def view_published(self) -> None:
        if self.checking_views:
            self.checker.check_book()

    def nonce_issued(self, signer: str, nonce: int) -> None:
        self.checker.on_nonce_issued(signer, nonce)

    @property
    def core_digest(self) -> str:
        """The SHA-256 hex digest of the order-core steps so far."""
        return self._core.hexdigest()


class _Run:
    """The state of one run inside trio (see :func:`simulate`)."""

    def __init__(self, spec: RunSpec, recorder: TraceRecorder, crash: CrashInjector) -> None:
        self.spec = spec
        self.recorder = recorder
        self.crash = crash
        self.t0 = trio.current_time()
        self.clock = WallClock(EPOCH_MS)
        self.bot_clock = JumpClock(self.clock)
        plan = spec.plan
        if not math.isfinite(plan.quiet_after_s):
            plan.quiet_after_s = max(0.0, spec.sim_seconds - spec.quiet_s)
        self.plan = plan
        self.faults = SimFaults(plan, stream(spec.seed, "faults"), self.now_s)
        self.faults.active_from_s = math.inf  # until the maker is up (start-up is not retried)
        self.exchange = SimExchange(
            clock=self.clock, faults=self.faults, market_rng=stream(spec.seed, "market"),
            recorder=recorder, market=market_config(spec.seed),
            # Every limit of the exchange is on (the per-IP weight too: every REST caller of
            # the maker draws from one ledger, hlmaker.actors.ratelimit).
            service_config=ServiceConfig(l2_push_interval_ms=500, mids_push_interval_ms=1000,
                                         limits=Limits()),
            step_ms=spec.step_ms, on_step=self._after_step)
        self.wallet = wallet_for(spec.seed)
        self.exchange.bot_user = self.wallet.query_address
        self.outages: list[tuple[float, float]] = []
        self.checker = InvariantChecker(
            self.exchange.engine, self.wallet.query_address, bounds=spec.bounds,
            now_s=self.now_s, exchange_ms=self.clock.now_ms, outage_s=self.outage_s,
            forgotten=self.exchange.forgotten,
            is_ours=maker_config(spec.seed).maker.ownership().is_ours,
            levels_per_side=int(strategy_table(spec.seed)["levels"]))
        self.exchange.observer = self.checker
        self.exchange.after_action = self.checker.check_exchange
        self.observer = RunObserver(self.checker)
        self.last_fault_s = min(plan.last_fault_s, spec.sim_seconds)
        self.orders_after_quiet = 0
        self.quoted_after_quiet = False
        self.shutdown_confirmed = False
        self.maker: Any = None
        self.process_scope: trio.CancelScope | None = None
        self.restart_after_s: float | None = None
        self.restart_on_start = ""
        """``[maker] on_start`` of the process the last F17 restart starts."""
        self.earlier_lifetimes: Counter[str] = Counter()
        """Leftover counters of the processes F17 killed (the last one reports its own)."""
        self.foreign_rng = stream(spec.seed, "foreign")
        self.ownership = maker_config(spec.seed).maker.ownership()
        crash.on_inject = self._crashed

    def now_s(self) -> float:
        return trio.current_time() - self.t0

    def outage_s(self, a: float, b: float) -> float:
        """Time lost to partitions within ``[a, b]``: the partition itself plus, when one
        overlaps, the reconciler's longest backoff (it may be waiting it out when the network
        comes back — retries back off to :data:`RECONCILE_BACKOFF_CAP_S`)."""
        lost = 0.0
        for s, e in self.outages:
            overlap = min(b, e) - max(a, s)
            if overlap > 0:
                lost += overlap + RECONCILE_BACKOFF_CAP_S
        return lost

    def _crashed(self, actor: str) -> None:
        self.faults.count("crash")
        self.recorder.event("crash", actor)

    # ---- hooks ---------------------------------------------------------------------------------

    def _after_step(self) -> None:
        self.checker.check_exchange()
        now = self.now_s()
        if now >= self.last_fault_s:
            self.checker.check_convergence(self.last_fault_s)
            if not self.quoted_after_quiet and self.exchange.engine.open_orders_for(
                    self.exchange.bot_user):
                self.quoted_after_quiet = True
        if int(now * 10) % 10 == 0 and self.maker is not None:
            self.checker.check_memory(self.bot_clock.now_ms())

    # ---- timeline ------------------------------------------------------------------------------

    async def director(self) -> None:
        for ev in sorted(self.plan.events, key=lambda e: e.at_s):
            await trio.sleep_until(self.t0 + ev.at_s)
            self.recorder.event("timeline", ev.what, ev.at_s)
            await self._play(ev)

    async def _play(self, ev: Event) -> None:
        ex = self.exchange
        if ev.what == "disconnect":
            if ex.disconnect_all():
                self.faults.count("disconnect")
        elif ev.what == "stall":
            ex.stall_all(ev.duration_s)
            self.faults.count("stall")
        elif ev.what == "exchange_cancel":
            status = ev.status or STATUSES_F10[0]
            if ex.exchange_cancel(status, non_user_cancel=status == "canceled"):
                self.faults.count("exchange_cancel")
        elif ev.what == "liquidation":
            coin = STRATEGY_COINS[int(ev.at_s) % len(STRATEGY_COINS)]
            if ex.liquidation_fill(coin):
                self.faults.count("liquidation_fill")
        elif ev.what == "clock_jump":
            self.bot_clock.offset_ms += ev.offset_ms
            self.faults.count("clock_jump")
        elif ev.what == "rate_limit":
            ex.rate_limited_until = trio.current_time() + ev.duration_s
        elif ev.what == "budget_exhaust":
            ex.exhaust_budget(ev.duration_s)
            self.faults.count("budget_exhaust")
        elif ev.what == "bot_cancel_all":
            if self.maker is not None:  # the strategy pulls its quotes (cancels, F8 / F11)
                from hlmaker.messages import CancelAll

                await self.maker.send(CancelAll())
        elif ev.what == "crash":
            self.crash.arm(ev.actor)
        elif ev.what == "process_crash":
            self._kill_process(ev.duration_s, ev.on_start)
        elif ev.what == "foreign":
            coin = STRATEGY_COINS[self.foreign_rng.randrange(len(STRATEGY_COINS))]
            kind = ex.foreign_activity(coin, self.foreign_rng, self.ownership.is_ours)
            if kind is not None:
                self.faults.count(kind)
        elif ev.what == "partition":
            start = self.now_s()
            self.outages.append((start, start + ev.duration_s))
            ex.partition(ev.duration_s, ev.horizon_s)
            if ev.horizon_s > 0:
                # a fill on the account while cut off, older than the history at reconnection
                await trio.sleep(min(1.0, ev.duration_s / 4))
                if self._fill_one_of_ours():
                    self.faults.count("history_gap")
        else:
            raise ValueError(f"unknown timeline event {ev.what!r}")
        self.checker.check_exchange()

    def _kill_process(self, restart_after_s: float, on_start: str = "") -> None:
        """F17: the process dies at once — no shutdown, no cancel: every actor, the supervisor
        and the book lose their memory; the exchange keeps our orders (and the dead-man lease
        armed). A new process starts ``restart_after_s`` later, with ``[maker] on_start =
        on_start`` (``""``: the default)."""
        if self.maker is None or self.process_scope is None or self.restart_after_s is not None:
            return
        self.maker.abort_shutdown()
        self.restart_after_s = restart_after_s
        self.restart_on_start = on_start
        self.process_scope.cancel()
        self.checker.get_core = None  # no process: nothing of the bot to check until the next
        self.observer.checking_views = False
        self.checker.process_restarted()
        self.faults.count("process_crash")

    def _fill_one_of_ours(self) -> bool:
        ex = self.exchange
        orders = ex.engine.open_orders_for(ex.bot_user)
        if not orders:
            return ex.liquidation_fill(STRATEGY_COINS[0])
        o = orders[0]
        fx = ex.fill_through(o.coin, o.side, o.limit_px, o.oid, ex.now_ms())
        return any(f.user == ex.bot_user for f in fx.fills)

    # ---- the run -------------------------------------------------------------------------------

    async def _process(self, lifetime: int, on_start: str = "") -> Any:
        """One process lifetime: a fresh maker (its own ``bot`` and ``cloids`` streams, nothing
        remembered; ``[maker] on_start = on_start``) until the run ends — then the orderly
        shutdown — or F17 kills it."""
        from hlmaker.journal import Journal
        from hlmaker.maker import open_maker

        spec = self.spec
        ex = self.exchange
        suffix = "" if lifetime == 0 else f"/{lifetime}"
        async with open_maker(
            maker_config(spec.seed, on_start), wallet=self.wallet, clock=self.bot_clock,
            rng=stream(spec.seed, "bot" + suffix), rest_transport=SimHttpTransport(ex),
            ws_connector=sim_connector(ex), base_url=BASE_URL,
            observer=self.observer, cloid_bits=stream(spec.seed, "cloids" + suffix).getrandbits,
            journal=Journal.open(spec.journal, inline=True) if spec.journal else None,
        ) as maker:
            self.maker = maker
            self.crash.supervisor = maker.supervisor
            if lifetime == 0:
                self.faults.active_from_s = max(plan_active_from(self.plan), self.now_s())
            self.checker.get_core = lambda: maker.holder.core
            self.observer.checking_views = True
            await trio.sleep_until(self.t0 + self.last_fault_s)
            self.crash.disarm()
            placed = ex.stats.order_actions
            await trio.sleep_until(self.t0 + spec.sim_seconds)
            self.orders_after_quiet = ex.stats.order_actions - placed
            report = await maker.shutdown()
            self.shutdown_confirmed = bool(report.get("confirmed_no_open_orders"))
        return maker

    async def run(self) -> None:
        ex = self.exchange
        async with trio.open_nursery() as nursery:
            await nursery.start(ex.serve)
            nursery.start_soon(self.director)
            lifetime = 0
            while True:  # one process per lifetime; F17 ends one and starts the next
                self.restart_after_s = None
                with trio.CancelScope() as self.process_scope:
                    maker = await self._process(
                        lifetime, self.restart_on_start if lifetime else "")
                if self.restart_after_s is None:
                    break
                if self.maker is not None:  # the dead process's leftover figures
                    totals = self.maker.holder.totals()
                    for name in ("leftovers_adopted", "leftovers_cancelled"):
                        self.earlier_lifetimes[name] += int(totals[name])
                await trio.sleep(self.restart_after_s)
                lifetime += 1
            failed = sorted(a for a, s in maker.supervisor.states.items() if s == "failed")
            self.checker.finish(last_fault_s=self.last_fault_s,
                                progressed=(self.orders_after_quiet > 0 or self.quoted_after_quiet)
                                and not failed,
                                shutdown_confirmed=self.shutdown_confirmed)
            nursery.cancel_scope.cancel()


def simulate(spec: RunSpec, *, wall_limit: float | None = None) -> RunResult:
    """Run ``spec`` in a fresh ``trio.run`` (seeded scheduler, ``MockClock``); never raises for
    a failure of the bot — it is reported in :attr:`RunResult.error` and as a violation."""
    recorder = TraceRecorder()
    crash = CrashInjector()
    recorder.before_step = crash.before_step
    logs = _LogCounter()
    root = logging.getLogger("hlmaker")
    old = (root.level, root.propagate, list(root.handlers))
    root.handlers = [logs]
    root.setLevel(logging.INFO)
    root.propagate = False
    holder: dict[str, _Run] = {}
    error: str | None = None

    guard: dict[str, Any] = {}

    async def main() -> None:
        run = _Run(spec, recorder, crash)
        holder["run"] = run
        with trio.CancelScope() as scope:
            guard["scope"] = scope
            with trio.fail_after(spec.sim_seconds + SIM_TIME_SLACK_S):
                await run.run()
        if scope.cancelled_caught:
            raise LivelockError(guard.get("why", "cancelled"))

    def watchdog() -> None:
        elapsed = time.perf_counter() - wall0
        if recorder.sample is None and elapsed > wall_limit_s * 0.9:
            recorder.sample = Counter()
        if "why" not in guard and elapsed > wall_limit_s:
            top = ", ".join(f"{n.decode().strip()}×{c}"
                            for n, c in (recorder.sample or Counter()).most_common(4))
            guard["why"] = (f"no progress: {wall_limit_s:.0f} s of wall time at trio time "
                            f"{trio.current_time():.1f} after {recorder.steps} steps; busiest "
                            f"tasks: {top}")
            guard["scope"].cancel()

    recorder.every_65536_steps = watchdog
    wall_limit_s = wall_limit if wall_limit is not None else max(120.0, spec.sim_seconds * 2.0)
    seed_scheduler(spec.seed)
    wall0 = time.perf_counter()
    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0),
                 instruments=[recorder], strict_exception_groups=True)
    except BaseException as exc:  # any failure of the bot is a finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = describe_error(exc)
    finally:
        root.setLevel(old[0])
        root.propagate = old[1]
        root.handlers = old[2]
    wall = time.perf_counter() - wall0
    run = holder.get("run")
    if run is None:
        raise RuntimeError(f"simulation of seed {spec.seed} did not start: {error}")
    violations = list(run.checker.violations)
    if error is not None:
        violations.append(Violation(spec.sim_seconds, "RUN", error))
    maker = run.maker
    counters: dict[str, Any] = {}
    restarts: dict[str, int] = {}
    executor: dict[str, Any] = {}
    if maker is not None:
        counters = {k: (str(v) if isinstance(v, Decimal) else v)
                    for k, v in maker.holder.totals().items()}
        # Unknown outcomes a book still held when it crashed: its successor starts with no
        # memory of them (its first sweep finds the orders as adopted/cancelled orphans or
        # not at all), so no book ever counts them resolved.
        counters["unknown_lost_in_crash"] = sum(
            max(0, c.unknown_outcomes - c.unknown_resolved) for c in maker.holder.lost)
        # Leftovers settled by every process of the run (F17 restarts start new ones).
        for name in ("leftovers_adopted", "leftovers_cancelled"):
            counters[f"{name}_all_processes"] = (int(counters.get(name, 0))
                                                 + run.earlier_lifetimes[name])
        restarts = dict(sorted(maker.supervisor.restarts.items()))
        st = maker.executor.stats
        executor = {"actions_sent": st.actions_sent, "retries": st.retries,
                    "unknown": st.unknown, "rejected_actions": st.rejected_actions,
                    "via_ws": st.via_ws, "via_rest": st.via_rest,
                    "budget_held": st.budget_held}
        ipw = maker.ip_weight
        executor.update({"ip_weight_peak": ipw.peak, "ip_429_seen": ipw.rate_limited,
                         "ip_reads_thinned": ipw.thinned, "ip_waited_s": ipw.waited_s})
    ex = run.exchange
    return RunResult(
        seed=spec.seed, label=spec.label, digest=recorder.digest(), violations=violations,
        faults=run.faults.catalogue(), fault_kinds=dict(sorted(run.faults.counts.items())),
        counters=counters, restarts=restarts, check=run.checker.stats,
        sim_seconds=spec.sim_seconds, wall_seconds=wall, steps=recorder.steps,
        events=recorder.events, last_fault_s=run.last_fault_s,
        exchange={**{k: (dict(v) if isinstance(v, Counter) else v)
                     for k, v in ex.stats.__dict__.items()},
                  "fills": run.checker.stats.fills_exchange,
                  "ip_429": ex.service.ip_refusals,
                  "ip_weight_peak": ex.service.ip_weight_peak,
                  },
        executor=executor, logs=dict(sorted(logs.counts.items())),
        probes=dict(sorted(run.observer.probes.items())),
        shutdown_confirmed=run.shutdown_confirmed, error=error,
        core_digest=run.observer.core_digest, core_steps=run.observer.core_steps)


def plan_active_from(plan: FaultPlan) -> float:
    """When the plan's per-message faults may start (after the maker's start-up)."""
    return plan.active_from_s


def describe_error(exc: BaseException) -> str:
    """The leaf exceptions of ``exc`` with the innermost frames of each (for the report)."""
    import traceback

    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for sub in e.exceptions:
                walk(sub)
        else:
            leaves.append(e)

    walk(exc)
    parts = []
    for leaf in leaves[:3]:
        frames = traceback.extract_tb(leaf.__traceback__)[-8:]
        where = " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}"
                            for f in reversed(frames))
        parts.append(f"{type(leaf).__name__}: {leaf} [{where}]")
    return "; ".join(parts)


def no_faults(sim_seconds: float) -> FaultPlan:
    """A plan with no fault at all (the quiet period starts at once)."""
    return FaultPlan(profile=FaultProfile(), quiet_after_s=0.0, name="none")
