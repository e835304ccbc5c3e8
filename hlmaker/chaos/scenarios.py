"""The fault catalogue F1–F19 as scripted scenarios.

Each :class:`Scenario` has fixed inputs (a seed, a duration and a :class:`~.faults.FaultPlan`
of scripted rules and timeline events, every fault inside ``[10 s, 60 s)`` of the run), an
expected final state, and a *mark*: a predicate proving that the recovery path the fault aims
at actually ran (a counter of the book, a log line of the bot, a probe of the order core, an
exchange observation). :func:`run_scenario` runs one and returns ``(result, problems)`` where
``problems`` is empty when

* no invariant was violated (S1–S9 after every event, L1–L2, memory bounds),
* the book converged to the exchange after the last fault and the maker's shutdown confirmed
  that no order of ours rests (the expected final state),
* the fault was injected at least once, and the mark holds.

Run one from the command line with ``hlmaker chaos --scenario F6`` (see :mod:`.cli`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hlmaker.chaos.harness import RunResult, RunSpec, simulate
from hlmaker.chaos.plan import Event, FaultPlan, Rule
from hlmaker.sim.faults import FaultProfile

Mark = Callable[[RunResult], tuple[bool, str]]
W0, W1 = 10.0, 50.0
"""The window in which scenario rules inject (trio seconds since the start)."""
LATENCY = FaultProfile(name="latency", ack_latency_median_ms=15, ack_latency_p99_ms=80)


@dataclass(frozen=True)
class Scenario:
    """One scripted fault scenario."""

    fault: str
    title: str
    plan: Callable[[], FaultPlan]
    mark: Mark
    mark_text: str
    seed: int
    sim_seconds: float = 100.0

    def spec(self) -> RunSpec:
        """The run: the plan's faults end by ``last_fault_s``; the rest of the run is quiet."""
        plan = self.plan()
        plan.quiet_after_s = max(plan.last_fault_s, W1)
        return RunSpec(seed=self.seed, sim_seconds=self.sim_seconds, plan=plan,
                       quiet_s=self.sim_seconds - plan.quiet_after_s,
                       label=f"scenario {self.fault}")


def _plan(name: str, *, rules: tuple[Rule, ...] = (), events: tuple[Event, ...] = (),
          profile: FaultProfile = LATENCY) -> Callable[[], FaultPlan]:
    def build() -> FaultPlan:
        return FaultPlan(profile=profile, rules=[Rule(r.kind, r.start_s, r.end_s, r.times, r.on)
                                                 for r in rules],
                         events=list(events), quiet_after_s=W1, name=name)
    return build


def _rule(kind: str, times: int, on: str = "") -> Rule:
    return Rule(kind, W0, W1, times, on)


def _all(*checks: tuple[bool, str]) -> tuple[bool, str]:
    failed = [text for ok, text in checks if not ok]
    return (not failed, "; ".join(failed))


def _ge(value: int | float, minimum: int | float, what: str) -> tuple[bool, str]:
    return value >= minimum, f"{what} = {value} (want >= {minimum})"


def _kind(r: RunResult, kind: str) -> int:
    return r.fault_kinds.get(kind, 0)


def _c(r: RunResult, name: str) -> int:
    return int(r.counters.get(name, 0))


SCENARIOS: dict[str, Scenario] = {s.fault: s for s in (
    Scenario(
        "F1", "the same fill and order update delivered twice",
        _plan("F1", rules=(_rule("duplicate_push", 8, "userFills"),
                           _rule("duplicate_push", 8, "user"),
                           _rule("duplicate_push", 8, "orderUpdates"))),
        lambda r: _all(_ge(r.exchange["push_faults"].get("duplicate_push:userFills", 0)
                           + r.exchange["push_faults"].get("duplicate_push:user", 0), 1,
                           "duplicated fill pushes"),
                       _ge(_c(r, "duplicate_fills_dropped"), 1, "duplicate fills dropped")),
        "a fill push was delivered twice and the book dropped the copy (S1/S2 held)", 1001),
    Scenario(
        "F2", "pushes reordered across channels",
        _plan("F2", rules=(_rule("reorder_push", 25, "orderUpdates"),
                           _rule("reorder_push", 25, "userFills"),
                           _rule("reorder_push", 25, "user"))),
        lambda r: _all(_ge(_kind(r, "reorder_push"), 10, "reordered pushes"),
                       _ge(_c(r, "late_events") + _c(r, "duplicate_fills_dropped"), 1,
                           "late or duplicate events absorbed")),
        "reordered pushes were absorbed by the state machine (no illegal transition)", 1002),
    Scenario(
        "F3", "fills and updates before the ack",
        _plan("F3", rules=(_rule("push_before_response", 30, "order"),
                           _rule("push_before_response", 30, "batchModify"))),
        lambda r: _all(_ge(_kind(r, "push_before_response"), 5, "pushes before response"),
                       _ge(r.probes.get("finalize:already_tracked", 0), 1,
                           "acks meeting an order already bound by its push")),
        "an ack found its order already bound through the cloid by an earlier push", 1003),
    Scenario(
        "F4", "WebSocket drops; the userFills snapshot overlaps",
        _plan("F4", events=(Event(15.0, "disconnect"), Event(30.0, "disconnect"),
                            Event(45.0, "disconnect"))),
        lambda r: _all(_ge(_kind(r, "disconnect"), 3, "disconnects"),
                       _ge(r.log_count("feed connected"), 4, "feed (re)connections"),
                       _ge(r.log_count("reason=reconnect")
                           + r.log_count("reconcile sweep"), 4, "sweeps")),
        "the feed reconnected, re-subscribed and the book swept (snapshot de-duplicated)", 1004),
    Scenario(
        "F5", "WebSocket silent stall",
        _plan("F5", events=(Event(12.0, "stall", duration_s=55.0),)),
        lambda r: _all(_ge(_kind(r, "stall"), 1, "stalls"),
                       _ge(r.log_count("feed disconnected: %s | ConnectionStalled"), 1,
                           "feed disconnects by its silence timer")),
        "the feed's silence timer declared the connection stalled and reconnected", 1005,
        sim_seconds=130.0),
    Scenario(
        "F6", "timeout, but the action landed",
        _plan("F6", rules=(_rule("lost_response_landed", 3, "order"),
                           _rule("lost_response_landed", 1, "batchModify"),
                           _rule("lost_response_landed", 1, "cancel"))),
        lambda r: _all(_ge(_kind(r, "lost_response_landed"), 3, "lost responses"),
                       _ge(r.executor.get("retries", 0), 1, "re-sends of the same envelope"),
                       _ge(r.executor.get("unknown", 0), 1,
                           "outcomes reported unknown (duplicate nonce on the re-send)")),
        "the re-sent envelope was refused as a duplicate nonce, reported unknown and resolved "
        "from exchange evidence — one order, no orphan", 1006),
    Scenario(
        "F7", "timeout, and the action did not land",
        _plan("F7", rules=(Rule("lost_response_dropped", 20.0, 32.0, 60, "order"),
                           _rule("lost_response_dropped", 2, "batchModify"))),
        lambda r: _all(_ge(_kind(r, "lost_response_dropped"), 3, "lost requests"),
                       _ge(_c(r, "unknown_outcomes"), 1, "unknown outcomes"),
                       _ge(r.log_count("never landed"), 1,
                           "unknowns proven never landed (unknownOid after expiresAfter)")),
        "retries of the same envelope never landed; orderStatus after expiresAfter proved it",
        1007),
    Scenario(
        "F8", "HTTP 429/5xx with and without effect; address rate limit",
        _plan("F8", rules=(_rule("http_error_with_effect", 3, "order"),
                           _rule("http_error_no_effect", 3, "order"),
                           _rule("http_error_no_effect", 2, "cancel")),
              events=(Event(25.0, "rate_limit", duration_s=15.0),
                      Event(30.0, "bot_cancel_all"))),
        lambda r: _all(_ge(_kind(r, "http_error_with_effect")
                           + _kind(r, "http_error_no_effect"), 4, "HTTP errors"),
                       _ge(_kind(r, "address_rate_limit"), 1, "rate-limited actions"),
                       _ge(r.executor.get("retries", 0), 1, "executor retries"),
                       _ge(r.exchange.get("cancels_during_rate_limit", 0), 1,
                           "cancels through the rate limit")),
        "the executor retried the same envelope; cancels got through the rate limit", 1008),
    Scenario(
        "F9", "every actor crashes at a random await point",
        _plan("F9", events=tuple(Event(t, "crash", actor=a) for t, a in (
            (14.0, "book"), (24.0, "executor"), (34.0, "feed"), (44.0, "reconciler"),
            (54.0, "quoter")))),
        lambda r: _all(_ge(_kind(r, "crash"), 5, "crashes"),
                       *(_ge(r.restarts.get(a, 0), 1, f"{a} restarts")
                         for a in ("book", "executor", "feed", "reconciler", "quoter")),
                       _ge(r.check.restarts_seen, 1, "book incarnations replaced")),
        "each actor was restarted; the new book rebuilt itself from the exchange", 1009,
        sim_seconds=120.0),
    Scenario(
        "F10", "exchange-initiated cancels and a liquidation fill",
        _plan("F10", events=(Event(15.0, "exchange_cancel", status="marginCanceled"),
                             Event(25.0, "exchange_cancel", status="canceled"),
                             Event(35.0, "liquidation"),
                             Event(45.0, "exchange_cancel", status="scheduledCancel"))),
        lambda r: _all(_ge(_kind(r, "exchange_cancel"), 2, "exchange cancels"),
                       _ge(_kind(r, "liquidation_fill"), 1, "liquidation fills"),
                       _ge(_c(r, "fills_foreign"), 1,
                           "fills for an order the bot never placed, applied")),
        "cancelled orders were dropped and re-quoted; the foreign fill moved the position",
        1010),
    Scenario(
        "F11", "cancel races a fill",
        _plan("F11", rules=(_rule("cancel_fill_race", 3, "cancel"),),
              events=(Event(20.0, "bot_cancel_all"), Event(35.0, "bot_cancel_all"))),
        lambda r: _all(_ge(_kind(r, "cancel_fill_race"), 1, "raced cancels"),
                       _ge(r.log_count("book cancel failed"), 1,
                           "cancels answered 'already filled' then the fill applied")),
        "the cancel failed as 'never placed, already canceled, or filled'; the fill counted",
        1011),
    Scenario(
        "F12", "modify as cancel-replace with a late canceled for the old oid",
        _plan("F12", rules=(_rule("modify_late_cancel", 6, "batchModify"),)),
        lambda r: _all(_ge(_kind(r, "modify_late_cancel"), 1, "late old-oid cancels"),
                       _ge(r.probes.get("rebind", 0), 1, "cloids rebound to a new oid"),
                       _ge(_c(r, "late_events"), 1, "late events for replaced oids")),
        "the cloid moved to the new oid; the late canceled of the old oid was ignored", 1012),
    Scenario(
        "F13", "snapshot taken while an order's ack is in flight",
        _plan("F13", rules=(_rule("slow_ack", 30, "order"),)),
        lambda r: _all(_ge(_kind(r, "slow_ack"), 3, "slow acks"),
                       _ge(r.exchange.get("snapshots_during_slow_ack", 0), 1,
                           "open-order snapshots served during a slow ack"),
                       (_c(r, "orphans_cancelled") == 0,
                        f"orphans cancelled = {_c(r, 'orphans_cancelled')} (want 0)")),
        "a sweep saw the order before its ack; it was bound by cloid, never cancelled", 1013),
    Scenario(
        "F14", "duplicate-nonce refusals and wall-clock jumps",
        _plan("F14", rules=(_rule("nonce_reject", 3, "order"),),
              events=(Event(15.0, "clock_jump", offset_ms=-3_000),
                      Event(25.0, "clock_jump", offset_ms=20_000),
                      Event(35.0, "clock_jump", offset_ms=-15_000))),
        lambda r: _all(_ge(_kind(r, "nonce_reject"), 1, "duplicate-nonce refusals"),
                       _ge(_kind(r, "clock_jump"), 3, "clock jumps"),
                       _ge(r.check.nonces, 10, "distinct nonces, all increasing (S7)")),
        "refused actions were resolved; nonces kept increasing across clock jumps", 1014),
    Scenario(
        "F15", "whole batch rejected by pre-validation",
        _plan("F15", rules=(_rule("batch_prevalidation", 3, "order"),)),
        lambda r: _all(_ge(_kind(r, "batch_prevalidation"), 1, "batches refused"),
                       _ge(_c(r, "rejects"), 1, "orders rejected individually")),
        "one error for the batch became a rejection of every order in it", 1015),
    Scenario(
        "F16", "a gap longer than the exchange's fill history",
        _plan("F16", events=(Event(15.0, "partition", duration_s=30.0, horizon_s=6.0),)),
        lambda r: _all(_ge(_kind(r, "history_gap"), 1, "fills lost beyond the history"),
                       _ge(_c(r, "position_drifts"), 1, "positions adopted from "
                           "clearinghouseState"),
                       _ge(r.check.fills_forgotten, 1, "fills the exchange no longer serves")),
        "the position came from clearinghouseState (drift adopted), the rest converged", 1016),
    Scenario(
        "F17", "the whole process dies and a new one starts on the same account",
        _plan("F17", events=(Event(15.0, "process_crash", duration_s=2.0),
                             Event(25.0, "process_crash", duration_s=36.0))),
        lambda r: _all(_ge(_kind(r, "process_crash"), 2, "process crashes"),
                       _ge(r.log_count("start-up: cancelling our order placed before"), 1,
                           "a dead process's orders cancelled before quoting")),
        "within the lease the new process cancelled the dead one's ladder before quoting (S9: "
        "no double ladder); after it, the exchange had cancelled it", 1017, sim_seconds=110.0),
    Scenario(
        "F18", "another client places, modifies, cancels and trades on the account",
        _plan("F18", events=tuple(Event(12.0 + 3.0 * i, "foreign") for i in range(12))),
        lambda r: _all(_ge(sum(n for k, n in r.fault_kinds.items() if k.startswith("foreign_")),
                           12, "foreign acts"),
                       _ge(_kind(r, "foreign_place"), 1, "foreign orders placed"),
                       _ge(_kind(r, "foreign_trigger"), 1, "foreign trigger orders placed"),
                       _ge(_c(r, "fills_foreign"), 1, "foreign fills applied")),
        "foreign orders and trigger orders rested untouched (S8), their fills moved the "
        "position", 1018),
    Scenario(
        "F19", "the address request budget runs out",
        _plan("F19", events=(Event(20.0, "budget_exhaust", duration_s=25.0),
                             Event(32.0, "bot_cancel_all"))),
        lambda r: _all(_ge(_kind(r, "budget_exhaust"), 1, "budget exhaustions"),
                       _ge(r.executor.get("budget_held", 0)
                           + r.executor.get("rejected_actions", 0), 1,
                           "placements held back or refused for the budget")),
        "placements stopped while the budget was spent; cancels went out; quoting resumed",
        1019),
)}


def run_scenario(fault: str, *, seed: int | None = None) -> tuple[RunResult, list[str]]:
    """Run the scenario of catalogue id ``fault``; return the result and its problems (empty
    when it passed). ``seed`` overrides the scenario's fixed seed."""
    sc = SCENARIOS[fault]
    spec = sc.spec()
    if seed is not None:
        spec = RunSpec(seed=seed, sim_seconds=spec.sim_seconds, plan=spec.plan,
                       quiet_s=spec.quiet_s, bounds=spec.bounds, label=spec.label)
    result = simulate(spec)
    problems = [f"{v.invariant} at {v.t_s:.1f} s: {v.detail}" for v in result.violations]
    if not result.shutdown_confirmed:
        problems.append("shutdown did not confirm that no order of ours rests")
    if result.check.convergence_s is None:
        problems.append("the book never converged to the exchange after the last fault")
    ok, why = sc.mark(result)
    if not ok:
        problems.append(f"mark missing ({sc.mark_text}): {why}")
    return result, problems
