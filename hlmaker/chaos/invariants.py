"""Invariant checks S1–S9, L1–L2 and memory bounds against the engine's ground truth.

:class:`InvariantChecker` reads the bot's current book core (``maker.holder.core``, replaced on a
book crash) and the simulator's :class:`~hlmaker.sim.engine.Engine`. It is designed to be called
after every event — cheap, incremental checks:

* :meth:`InvariantChecker.check_book` after every batch the book applies (the harness hooks the
  book's view publication): S1 (no unexpected fill key), S2 (exact position identity), S3
  (legal transitions, filled size monotone and bounded, modify rebinds the cloid), S6 (every
  unknown outcome resolves within the bound, no request stuck pending);
* :meth:`InvariantChecker.check_exchange` after every exchange event and clock step: S4 (our
  resting orders unknown locally are detected within the grace bound; the largest age is kept)
  and S9 (our resting orders per coin and side never exceed the strategy's target plus the
  placements in flight: no double ladder after a restart, F9/F17);
* :meth:`on_nonce_issued` (a probe of the bot's nonce manager): S7 at the source, every nonce
  issued strictly above the previous one per signer, across restarts and clock jumps;
* :meth:`on_envelope` / :meth:`before_action` (an :class:`~.exchange.ExchangeObserver`): S7
  on the wire (a nonce is never reused for another action — a re-send of the same envelope is
  fine — and is always acceptable to the exchange's rule: above the smallest of the 100 highest
  seen, within the time window; concurrent requests may arrive out of order) and S5 (an
  applied cancel never targets an order the book still wants: tracked, not terminal, not asked to
  be cancelled) and S8 (no cancel or modify of hlmaker's ever targets a foreign order — one
  without our cloid prefix — under the default policy ``foreign_orders = "ignore"``);
* :meth:`check_memory` periodically: caps of the core's de-dup window, held events, tracked,
  retired and terminal orders;
* :meth:`check_convergence` after the last fault (L1: open orders, positions, fill set equal the
  exchange, nothing unresolved, no orphan — the time it took is recorded) and :meth:`finish` at
  the end (L1 bound, L2 progress, then the exact final state after shutdown).

"Fill set equal" (S1 after convergence): every exchange fill of ours is in the book's set, or is
accounted by a position adopted from ``clearinghouseState`` — the fills the exchange no longer
serves (F16) or that were older than the history a restarted book's first sync could read
(``userFills`` serves the newest 2000). :meth:`unaccounted` lists the others: lost.

S2 identity: with ``D`` the core's fill keys (applied or adopted) and ``M`` the exchange's fills of
the account not in ``D``, the book's position of each coin minus Σ signed sizes over ``D`` must be
the sum of a prefix (by tid) of ``M`` — zero unless the position was adopted from
``clearinghouseState``, in which case exactly the missed fills up to that read (F16, F9). A fill
counted twice, or lost from the position, breaks the identity.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hlmaker.messages import signed
from hlmaker.orders import OrderBookCore, OrderState
from hlmaker.sim.engine import Engine

ZERO = Decimal(0)
DAY_MS = 86_400_000
LIVE = (OrderState.RESTING, OrderState.PARTIALLY_FILLED, OrderState.PENDING_CANCEL,
        OrderState.PENDING_MODIFY, OrderState.WAITING)
"""States of an order that is on the exchange with an oid — a trigger order waiting for its
trigger (WAITING) included: it is listed among the account's open orders."""
PENDING = (OrderState.PENDING_NEW, OrderState.UNKNOWN)
TERMINAL = frozenset(s for s in OrderState if s.is_terminal)
IN_FLIGHT = (OrderState.PENDING_NEW, OrderState.UNKNOWN, OrderState.PENDING_MODIFY,
             OrderState.PENDING_CANCEL)
SETTLED_LIVE = tuple(s for s in LIVE if s not in IN_FLIGHT)
"""Live with nothing of ours in flight: what a converged book's open orders are (L1)."""


@dataclass(frozen=True)
class Bounds:
    """Time bounds (trio seconds) of the safety and liveness checks."""

    orphan_s: float = 30.0
    """S4: an order of ours resting unknown locally must be detected within this."""
    unknown_s: float = 60.0
    """S6: an unknown outcome must resolve within this."""
    pending_s: float = 30.0
    """S6: a request must get an outcome (or be declared unknown) within this."""
    convergence_s: float = 60.0
    """L1: after the last fault, the book must equal the exchange within this."""
    terminal_slack_s: float = 10.0
    """Memory: terminal orders must be evicted within retention + this."""


@dataclass(frozen=True)
class Violation:
    """One broken invariant at trio time ``t_s`` (seconds since the run started)."""

    t_s: float
    invariant: str
    detail: str


@dataclass
class CheckStats:
    """Figures of the report template gathered by the checker."""

    checks: int = 0
    fills_exchange: int = 0
    fills_lost: int = 0
    fills_unexpected: int = 0
    fills_unretrievable: int = 0
    """Fills in the position by adoption from ``clearinghouseState``, not applied one by one."""
    fills_forgotten: int = 0
    """Of those, fills the exchange no longer served at all (F16)."""
    duplicated: int = 0
    orphans: int = 0
    max_orphan_age_s: float = 0.0
    wrongful_cancels: int = 0
    unknown_seen: int = 0
    max_unresolved_s: float = 0.0
    convergence_s: float | None = None
    restarts_seen: int = 0
    nonces: int = 0


@dataclass
class _CoreState:
    """Incremental caches for one book incarnation."""

    core: OrderBookCore
    d_len: int = 0
    d_sum: dict[str, Decimal] = field(default_factory=dict)
    terminal: dict[str, float] = field(default_factory=dict)
    """cloid → trio time the checker first saw it terminal (for the retention check)."""
    total_filled: dict[str, Decimal] = field(default_factory=dict)
    illegal: int = 0
    last_illegal_note: str = ""


class InvariantChecker:
    """Checks one run. ``user`` is the bot's account; ``now_s`` gives trio seconds since start;
    ``outage_s(t0, t1)`` the time lost to partitions inside ``[t0, t1]`` (the S4 and S6 bounds
    are extended by it);
    ``forgotten(fill_time_ms)`` whether the exchange no longer serves such a fill (F16);
    ``is_ours(cloid)`` tells our orders from foreign ones (S4, S8, S9, L1 look at ours only);
    ``levels_per_side`` is the strategy's target per coin and side (S9)."""

    def __init__(self, engine: Engine, user: str, *, bounds: Bounds, now_s: Callable[[], float],
                 exchange_ms: Callable[[], int],
                 outage_s: Callable[[float, float], float] = lambda a, b: 0.0,
                 forgotten: Callable[[int], bool] = lambda t: False,
                 is_ours: Callable[[str | None], bool] = lambda cloid: True,
                 levels_per_side: int | None = None) -> None:
        self.engine = engine
        self.is_ours = is_ours
        """Which cloids are ours (the prefix): other orders on the account are foreign (S8)."""
        self.levels_per_side = levels_per_side
        """The strategy's target orders per coin and side (S9); ``None``: S9 not checked."""
        self.user = user
        self.bounds = bounds
        self.now_s = now_s
        self.exchange_ms = exchange_ms
        self.outage_s = outage_s
        self.forgotten = forgotten
        self.violations: list[Violation] = []
        self.stats = CheckStats()
        self.get_core: Callable[[], OrderBookCore] | None = None
        self._state: _CoreState | None = None
        self._fills_by_key: dict[tuple[int, int], Any] = {}
        self._n_fills = 0
        self._missing: dict[tuple[int, int], Any] = {}
        self._orphan_since: dict[int, float] = {}
        self._unknown_since: dict[str, float] = {}
        self._pending_since: dict[str, float] = {}
        self._nonces: dict[int, str] = {}
        self._top_nonces: list[int] = []  # min-heap of the 100 highest
        self._issued: dict[str, int] = {}
        self._reported: set[tuple[str, str]] = set()

    # ---- helpers -----------------------------------------------------------------------------

    def violate(self, invariant: str, detail: str, key: str | None = None) -> None:
        """Record a violation (once per ``(invariant, key)`` when ``key`` is given)."""
        if key is not None:
            if (invariant, key) in self._reported:
                return
            self._reported.add((invariant, key))
        self.violations.append(Violation(round(self.now_s(), 3), invariant, detail))

    def _core_state(self) -> _CoreState | None:
        if self.get_core is None:
            return None
        core = self.get_core()
        st = self._state
        if st is None or st.core is not core:
            if st is not None:
                self.stats.restarts_seen += 1
            st = _CoreState(core)
            self._state = st
            self._missing = dict(self._fills_by_key)
            self._unknown_since.clear()
            self._pending_since.clear()
        return st

    def _sync_engine_fills(self) -> None:
        acct = self.engine.account(self.user)
        if acct is None or len(acct.fills) == self._n_fills:
            return
        fills = acct.fills
        for f in list(fills)[self._n_fills:]:
            key = (f.oid, f.tid)
            self._fills_by_key[key] = f
            self._missing[key] = f
        self._n_fills = len(fills)

    # ---- per book batch ---------------------------------------------------------------------

    def check_book(self) -> None:
        """S1, S2, S3, S6 on the current core (call after every book batch)."""
        st = self._core_state()
        if st is None:
            return
        self.stats.checks += 1
        self._sync_engine_fills()
        self._check_fills(st)
        self._check_orders(st)

    def _check_fills(self, st: _CoreState) -> None:
        core = st.core
        dedup = core.dedup
        if len(dedup) != st.d_len:
            new = len(dedup) - st.d_len
            it = dedup.newest()
            for _ in range(max(new, 0)):
                key = next(it)
                f = self._fills_by_key.get(key)
                if f is None:
                    self.stats.fills_unexpected += 1
                    self.violate("S1", f"fill key {key} applied but not an exchange fill of ours")
                    continue
                self._missing.pop(key, None)
                st.d_sum[f.coin] = st.d_sum.get(f.coin, ZERO) + signed(f.side, f.sz)
            st.d_len = len(dedup)
        coins = set(core.positions) | set(st.d_sum)
        for coin in sorted(coins):
            residual = core.positions.get(coin, ZERO) - st.d_sum.get(coin, ZERO)
            if residual == 0:
                continue
            if not self._is_missing_prefix(coin, residual):
                self.violate("S2", f"{coin}: position {core.positions.get(coin, ZERO)} is not "
                             f"the sum of applied fills {st.d_sum.get(coin, ZERO)} plus missed "
                             f"fills (residual {residual})", key=f"{id(core)}:{coin}")

    def _is_missing_prefix(self, coin: str, residual: Decimal) -> bool:
        total = ZERO
        for f in sorted((f for f in self._missing.values() if f.coin == coin),
                        key=lambda f: f.tid):
            total += signed(f.side, f.sz)
            if total == residual:
                return True
        return False

    def _check_orders(self, st: _CoreState) -> None:
        core = st.core
        now = self.now_s()
        if core.counters.illegal_transitions != st.illegal:
            details = [n.detail for n in core.notes if n.kind.value == "illegal_transition"]
            last = details[-1] if details else ""
            if last == st.last_illegal_note:
                last = "the exchange lists an order the book finalized (reconcile)"
            st.last_illegal_note = details[-1] if details else ""
            self.violate("S3", f"illegal transition: {last}")
            st.illegal = core.counters.illegal_transitions
        unknown_now: set[str] = set()
        pending_now: set[str] = set()
        terminal = st.terminal
        for cloid, o in core.orders.items():
            state = o.state
            if state in TERMINAL:
                if cloid in terminal:
                    continue  # checked when it ended; a terminal order changes no more
                terminal[cloid] = now
            elif cloid in terminal:
                self.violate("S3", f"cloid {cloid} left a terminal state for {state.value}",
                             key=cloid)
            if o.leg_filled > o.sz:
                self.violate("S3", f"cloid {cloid} filled {o.leg_filled} > size {o.sz}",
                             key=f"over:{cloid}")
            prev = st.total_filled.get(cloid)
            if prev is not None and o.total_filled < prev:
                self.violate("S3", f"cloid {cloid} filled size went down {prev} -> "
                             f"{o.total_filled}", key=f"down:{cloid}")
            st.total_filled[cloid] = o.total_filled
            if state is OrderState.UNKNOWN:
                unknown_now.add(cloid)
                since = self._unknown_since.setdefault(cloid, now)
                if since == now:
                    self.stats.unknown_seen += 1
                age = now - since
                self.stats.max_unresolved_s = max(self.stats.max_unresolved_s, age)
                if age > self.bounds.unknown_s + self.outage_s(since, now):
                    self.violate("S6", f"cloid {cloid} unresolved for {age:.1f} s", key=cloid)
            elif o.inflight is not None and state in (OrderState.PENDING_NEW,
                                                       OrderState.PENDING_CANCEL,
                                                       OrderState.PENDING_MODIFY):
                pending_now.add(cloid)
                since = self._pending_since.setdefault(cloid, now)
                if now - since > self.bounds.pending_s + self.outage_s(since, now):
                    self.violate("S6", f"cloid {cloid} {state.value} without an outcome for "
                                 f"{now - since:.1f} s", key=f"pending:{cloid}")
        for gone in [c for c in self._unknown_since if c not in unknown_now]:
            del self._unknown_since[gone]
        for gone in [c for c in self._pending_since if c not in pending_now]:
            del self._pending_since[gone]
        if len(st.total_filled) > 4 * max(len(core.orders), 1000):
            st.total_filled = {c: st.total_filled[c] for c in core.orders if c in st.total_filled}
            st.terminal = {c: t for c, t in st.terminal.items() if c in core.orders}

    # ---- per exchange event ------------------------------------------------------------------

    def check_exchange(self) -> None:
        """S4: track our resting orders the book does not know (call after exchange events)."""
        st = self._core_state()
        if st is None:
            return
        acct = self.engine.account(self.user)
        if acct is None:
            return
        core = st.core
        now = self.now_s()
        resting = acct.open_orders
        if self.levels_per_side is not None:
            self._check_exposure(core, resting)
        for oid, order in resting.items():
            if not self.is_ours(order.cloid):
                continue  # foreign: never an orphan
            if self._known(core, oid, order.cloid):
                self._orphan_done(oid, now)
                continue
            if oid in core.orphans:
                self._orphan_done(oid, now)
                continue
            since = self._orphan_since.get(oid)
            if since is None:
                self._orphan_since[oid] = now
                self.stats.orphans += 1
            elif now - since > self.bounds.orphan_s + self.outage_s(since, now):
                self.violate("S4", f"oid {oid} rests on the exchange unknown to the book for "
                             f"{now - since:.1f} s", key=str(oid))
        for oid in [o for o in self._orphan_since if o not in resting]:
            self._orphan_done(oid, now)

    def _check_exposure(self, core: OrderBookCore, resting: dict[int, Any]) -> None:
        """S9: our orders resting per coin and side never exceed the strategy's target plus
        the placements in flight — orders the book has sent and not settled (pending new,
        unknown outcome, being modified or cancelled), this book's late landings it is
        cancelling (orphans), and late landings of a crashed book's or a dead process's
        placements that it found after its first sync and is cancelling (leftovers). Orders
        of a previous process, or of a crashed book, that the current book does not track and
        is not cancelling are not in flight: a ladder beside them is a double ladder."""
        assert self.levels_per_side is not None
        count: dict[tuple[str, str], int] = {}
        for order in resting.values():
            if self.is_ours(order.cloid):
                key = (order.coin, order.side)
                count[key] = count.get(key, 0) + 1
        if not count or max(count.values()) <= self.levels_per_side:
            return
        allowance: dict[tuple[str, str], int] = {}
        for o in core.orders.values():
            if o.state in IN_FLIGHT or (o.cancel_wanted and not o.state.is_terminal):
                key = (o.coin, o.side)
                allowance[key] = allowance.get(key, 0) + 1
        for oid in core.orphans:
            order = resting.get(oid)
            if order is not None and core.registry.placed_here(order.cloid):
                key = (order.coin, order.side)
                allowance[key] = allowance.get(key, 0) + 1
        if core.registry.ready:
            # Late landings of a crashed incarnation's (or a dead process's) placements after
            # the first sync, which the book is cancelling as leftovers. Before it, the book
            # does not quote: every leftover must be gone first (that is the double ladder).
            for oid in core.registry.leftovers:
                order = resting.get(oid)
                if order is not None:
                    key = (order.coin, order.side)
                    allowance[key] = allowance.get(key, 0) + 1
        for key, n in sorted(count.items()):
            bound = self.levels_per_side + allowance.get(key, 0)
            if n > bound:
                extra = bound - self.levels_per_side
                self.violate("S9", f"{n} orders of ours rest on {key[0]} side {key[1]}: more "
                             f"than the target {self.levels_per_side} plus {extra} in flight "
                             "(a double ladder)", key=f"{id(core)}:{key}")

    def _orphan_done(self, oid: int, now: float) -> None:
        since = self._orphan_since.pop(oid, None)
        if since is not None:
            self.stats.max_orphan_age_s = max(self.stats.max_orphan_age_s, now - since)

    @staticmethod
    def _known(core: OrderBookCore, oid: int, cloid: str | None) -> bool:
        c = core.oid_to_cloid.get(oid)
        o = core.orders.get(c) if c is not None else None
        if o is None and cloid is not None:
            o = core.orders.get(cloid)
            if o is not None and o.oid is not None and o.oid != oid and o.state not in (
                    OrderState.PENDING_NEW, OrderState.UNKNOWN, OrderState.PENDING_MODIFY):
                o = None
        return o is not None and not o.state.is_terminal

    # ---- observer: envelopes and actions -------------------------------------------------------

    def on_envelope(self, envelope: dict[str, Any], landed: bool) -> None:
        """S7 on every ``/exchange`` envelope the bot sends (the signer is the bot's)."""
        nonce = envelope.get("nonce")
        sig = envelope.get("signature")
        if not isinstance(nonce, int):
            self.violate("S7", f"envelope without an integer nonce: {nonce!r}")
            return
        fingerprint = str(sig.get("r")) if isinstance(sig, dict) else ""
        seen = self._nonces.get(nonce)
        if seen is not None:
            if seen != fingerprint:
                self.violate("S7", f"nonce {nonce} reused for a different action", key=str(nonce))
            return
        self.stats.nonces += 1
        if len(self._top_nonces) >= 100 and nonce <= self._top_nonces[0]:
            self.violate("S7", f"nonce {nonce} not above the 100 highest seen "
                         f"(lowest {self._top_nonces[0]})", key=str(nonce))
        now = self.exchange_ms()
        if not now - 2 * DAY_MS < nonce < now + DAY_MS:
            self.violate("S7", f"nonce {nonce} outside the exchange window at {now}",
                         key=f"w{nonce}")
        self._nonces[nonce] = fingerprint
        if len(self._top_nonces) < 100:
            heapq.heappush(self._top_nonces, nonce)
        elif nonce > self._top_nonces[0]:
            heapq.heapreplace(self._top_nonces, nonce)
        if len(self._nonces) > 50_000:  # bounded: keep the recent half
            for old in sorted(self._nonces)[:25_000]:
                del self._nonces[old]

    def on_nonce_issued(self, signer: str, nonce: int) -> None:
        """S7 at the source: every nonce the bot issues for ``signer`` is above the previous
        one, across executor restarts and clock jumps (called by the harness's probe)."""
        last = self._issued.get(signer)
        if last is not None and nonce <= last:
            self.violate("S7", f"nonce {nonce} issued for {signer} after {last}",
                         key=f"issued:{nonce}")
        self._issued[signer] = nonce if last is None else max(last, nonce)

    def process_restarted(self) -> None:
        """A new process (F17) remembers no nonce of the dead one: from here S7 at the source
        starts afresh; on the wire (:meth:`on_envelope`) the exchange's rule still holds —
        never reused, above the smallest of the 100 highest, inside the time window."""
        self._issued.clear()

    def before_action(self, action: dict[str, Any], now_ms: int) -> None:
        """S5: a cancel about to be applied must not hit an order the book still wants."""
        kind = action.get("type")
        if kind == "batchModify":
            self._check_foreign_modify(action)
            return
        if kind not in ("cancel", "cancelByCloid") or self.get_core is None:
            return
        acct = self.engine.account(self.user)
        if acct is None:
            return
        core = self.get_core()
        for item in action.get("cancels") or []:
            if not isinstance(item, dict):
                continue
            if kind == "cancel":
                order = acct.open_orders.get(item.get("o"))  # type: ignore[arg-type]
            else:
                cl = item.get("cloid")
                oid = acct.cloids.get(cl.lower()) if isinstance(cl, str) else None
                order = acct.open_orders.get(oid) if oid is not None else None
            if order is None:
                continue
            if not self.is_ours(order.cloid):
                self.violate("S8", f"hlmaker cancelled the foreign order oid {order.oid} "
                             f"cloid {order.cloid}", key=f"S8:{order.oid}")
                continue
            tracked = core.orders.get(order.cloid)
            if tracked is None or tracked.state.is_terminal or tracked.cancel_wanted:
                continue
            if tracked.state in (OrderState.PENDING_CANCEL,):
                continue
            self.stats.wrongful_cancels += 1
            self.violate("S5", f"cancel of oid {order.oid} cloid {order.cloid} which the book "
                         f"holds as {tracked.state.value} and wants", key=str(order.oid))

    def _check_foreign_modify(self, action: dict[str, Any]) -> None:
        """S8: a modify never targets a foreign order."""
        acct = self.engine.account(self.user)
        if acct is None:
            return
        for m in action.get("modifies") or []:
            target = m.get("oid") if isinstance(m, dict) else None
            if isinstance(target, str):
                oid = acct.cloids.get(target.lower())
                order = acct.open_orders.get(oid) if oid is not None else None
            else:
                order = acct.open_orders.get(target)  # type: ignore[arg-type]
            if order is not None and not self.is_ours(order.cloid):
                self.violate("S8", f"hlmaker modified the foreign order oid {order.oid}",
                             key=f"S8m:{order.oid}")

    # ---- memory --------------------------------------------------------------------------------

    def check_memory(self, bot_now_ms: int) -> None:
        """Caps of the core's collections; terminal orders evicted after their retention.

        A terminal order is overdue only when both its age on the bot's clock (``bot_now_ms``,
        which F14 makes jump) and the time since the checker saw it end exceed the retention
        plus slack: a clock jump moves one of them, never both."""
        st = self._core_state()
        if st is None:
            return
        core = st.core
        cfg = core.config
        caps = (
            ("tracked orders", len(core.orders), cfg.max_tracked_orders),
            ("de-dup window", len(core.dedup), cfg.dedup_capacity),
            ("early events", len(core.early_events), cfg.early_events_capacity),
            ("retired oids", len(core.retired), cfg.retired_capacity),
            ("orphans", len(core.orphans), cfg.max_tracked_orders),
            ("recent fills", len(core.recent_fills), cfg.dedup_capacity),
            ("requests", len(core.requests), cfg.max_tracked_orders),
            ("presync fills", len(core.presync_fills), cfg.dedup_capacity),
        )
        for name, size, cap in caps:
            if size > cap:
                self.violate("MEM", f"{name}: {size} > cap {cap}", key=name)
        limit_s = cfg.terminal_retention_ms / 1000 + self.bounds.terminal_slack_s
        now = self.now_s()
        stale = [o.cloid for o in core.orders.values()
                 if o.state in TERMINAL and o.inflight is None
                 and now - st.terminal.get(o.cloid, now) > limit_s
                 and o.finalized_ms is not None
                 and bot_now_ms - o.finalized_ms > limit_s * 1000]
        if stale:
            self.violate("MEM", f"{len(stale)} terminal orders kept past retention "
                         f"(e.g. {stale[0]})", key=f"terminal:{id(core)}")

    # ---- liveness ------------------------------------------------------------------------------

    def converged(self) -> tuple[bool, str]:
        """Whether the book equals the exchange right now (L1), and if not, why."""
        st = self._core_state()
        if st is None:
            return False, "no book"
        core = st.core
        self._sync_engine_fills()
        self._check_fills(st)
        acct = self.engine.account(self.user)
        exch_open = {oid for oid, o in acct.open_orders.items()
                     if self.is_ours(o.cloid)} if acct else set()
        local_open: set[int] = set()
        for o in core.orders.values():
            if o.state.is_terminal:
                continue
            if o.state not in SETTLED_LIVE or o.oid is None:
                return False, f"order {o.cloid} is {o.state.value}"
            local_open.add(o.oid)
        if exch_open != local_open:
            return False, (f"open orders differ: exchange-only {sorted(exch_open - local_open)[:3]}"
                           f" local-only {sorted(local_open - exch_open)[:3]}")
        for coin in sorted(set(core.positions) | {c for c in (acct.positions if acct else {})}):
            mine = core.positions.get(coin, ZERO)
            theirs = self.engine.position(self.user, coin)
            if mine != theirs:
                return False, f"{coin} position {mine} != exchange {theirs}"
        lost = self.unaccounted()
        if lost:
            return False, f"{len(lost)} fills not in the position"
        if core.orphans:
            return False, f"{len(core.orphans)} orphans"
        return True, ""

    def unaccounted(self) -> list[Any]:
        """Exchange fills of ours that the book's position does not contain.

        A fill missing from the book's set is *accounted* when it belongs to the prefix (by
        tid) of missed fills that the position adopted from ``clearinghouseState`` (S2
        identity): fills forgotten by the exchange (F16), or older than the history a
        restarted book's first sync could read. The rest are lost (or still in flight)."""
        st = self._state
        if st is None:
            return list(self._missing.values())
        out: list[Any] = []
        by_coin: dict[str, list[Any]] = {}
        for f in self._missing.values():
            by_coin.setdefault(f.coin, []).append(f)
        for coin, fills in sorted(by_coin.items()):
            fills.sort(key=lambda f: f.tid)
            residual = st.core.positions.get(coin, ZERO) - st.d_sum.get(coin, ZERO)
            total, covered = ZERO, 0
            for i, f in enumerate(fills, start=1):
                total += signed(f.side, f.sz)
                if total == residual:
                    covered = i
            out += fills[covered:]
        return out

    def check_convergence(self, since_s: float) -> bool:
        """Record the first convergence after ``since_s`` (the last fault); True once seen."""
        if self.stats.convergence_s is not None:
            return True
        ok, _ = self.converged()
        if ok:
            self.stats.convergence_s = max(0.0, self.now_s() - since_s)
        return ok

    def finish(self, *, last_fault_s: float, progressed: bool, shutdown_confirmed: bool) -> None:
        """End-of-run checks: L1 within its bound, L2, and the exact final state (after the
        maker's shutdown: no order of ours rests, positions and fills equal the exchange)."""
        if self.stats.convergence_s is None:
            _, why = self.converged()
            self.violate("L1", f"not converged {self.now_s() - last_fault_s:.1f} s after the "
                         f"last fault: {why}")
        elif self.stats.convergence_s > self.bounds.convergence_s:
            self.violate("L1", f"converged only {self.stats.convergence_s:.1f} s after the "
                         "last fault")
        if not progressed:
            self.violate("L2", "no quote of ours rested after the last fault (quoting did not "
                         "resume) or an actor failed")
        acct = self.engine.account(self.user)
        ours = [o for o in acct.open_orders.values() if self.is_ours(o.cloid)] if acct else []
        if ours:
            self.violate("L1", f"{len(ours)} orders of ours still rest after "
                         f"shutdown (confirmed={shutdown_confirmed})")
        st = self._core_state()
        if st is not None:
            self._sync_engine_fills()
            self._check_fills(st)
            for coin in sorted(set(st.core.positions) | set(acct.positions if acct else {})):
                if st.core.positions.get(coin, ZERO) != self.engine.position(self.user, coin):
                    self.violate("S2", f"final {coin} position {st.core.positions.get(coin)} != "
                                 f"exchange {self.engine.position(self.user, coin)}")
        lost = self.unaccounted()
        self.stats.fills_lost = len(lost)
        if lost:
            self.violate("S1", f"{len(lost)} exchange fills never applied (e.g. oid "
                         f"{lost[0].oid} tid {lost[0].tid})")
        self.stats.fills_exchange = self._n_fills
        self.stats.fills_unretrievable = len(self._missing) - len(lost)
        self.stats.fills_forgotten = sum(1 for f in self._missing.values()
                                         if self.forgotten(f.time))
