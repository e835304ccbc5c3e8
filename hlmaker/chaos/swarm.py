"""Swarm mode: each seed draws its own mix and intensity of faults.

Following swarm testing (Groce et al., 2012), a seed does not turn every fault on at a fixed
rate: it draws an *intensity* in ``[0.2, 1]`` and keeps each allowed fault with probability 0.6
(at least one), then draws each kept fault's probability or rate from its range scaled by the
intensity. Rare interactions (for example a book crash during a partition) therefore show up
with sharp mixes instead of being drowned in a uniform soup.

Ranges (per request / push / action, or per minute for timeline events):

====  ==========================================================  ===========================
F1    duplicate push                                              ≤ 3 % of pushes
F2    push reordered with the next one                            ≤ 3 % of pushes
F3    pushes flushed before the action's response                 ≤ 40 % of actions
F4    WebSocket disconnect (queued pushes lost); silent drops     ≤ 3 / min / connection
F5    silent stall 5–60 s (longer ones trip the client's timer)   ≤ 1 / min / connection
F6    response lost after the action landed                       ≤ 3 % of actions
F7    request lost, action not landed                             ≤ 3 % of actions
F8    429 / 5xx with and without effect; address rate limit       ≤ 5 %; windows ≤ 1 / min
F9    an actor crashes at a random await point                    ≤ 1 / min
F10   exchange cancels (margin, reduce-only, scheduled, user)      ≤ 1 / min; liquidation fill
F11   a taker fills the order a cancel is about to hit            ≤ 20 % of cancels
F12   the replaced oid's ``canceled`` arrives late                ≤ 30 % of modifies
F13   slow ack (1–3.5 s) so snapshots see the order first         ≤ 10 % of placements
F14   duplicate-nonce refusal; bot clock jumps −5 s … +30 s       ≤ 2 %; ≤ 1 / min
F15   whole batch refused by pre-validation with one error        ≤ 3 % of placements
F16   partition 15–40 s with a 4–8 s fill-history horizon         ≤ 0.3 / min
F17   the whole process dies; a new one starts 1–3 s later, or   ≤ 0.5 / min (≥ 1), 30 s apart
      after the dead-man lease ran out (35–45 s)
F18   another client on the account: place, modify, cancel, trade ≤ 4 / min
F19   the address request budget runs out for 5–25 s              half the seeds, once
====  ==========================================================  ===========================

F19 is drawn from its own stream (``swarm-budget``), so the plans of F1–F18 are those of the
campaign before F19 existed. Likewise the start-up policy of the process each F17 restart
starts (``[maker] on_start``: ``adopt`` for half the restarts, else ``cancel``) comes from
``swarm-restart``.

Every draw comes from the seed's ``swarm`` stream, so the plan is a pure function of the seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from hlmaker.chaos.crash import ACTORS
from hlmaker.chaos.determinism import stream
from hlmaker.chaos.plan import FAULT_IDS, Event, FaultPlan, Interventions
from hlmaker.sim.faults import FaultProfile

F10_STATUSES = ("marginCanceled", "reduceOnlyCanceled", "scheduledCancel", "canceled")
WARMUP_S = 5.0
LEASE_OUT_S = (35.0, 45.0)
"""F17 restart delays past the dead-man lease (30 s by default): the exchange cancels first."""
STARTUP_S = 1.0
"""Per-message faults start after this and after the maker's start-up (``open_maker`` does not
retry its start-up reads: a failure there is reported to the caller, by design)."""


def _poisson_times(rng: random.Random, per_min: float, start: float, end: float) -> list[float]:
    out: list[float] = []
    if per_min <= 0:
        return out
    t = start
    while True:
        t += rng.expovariate(per_min / 60.0)
        if t >= end:
            return out
        out.append(round(t, 3))


def swarm_plan(seed: int, sim_seconds: float, quiet_s: float,
               faults: Iterable[str] | None = None) -> FaultPlan:
    """The fault plan of ``seed`` for a run of ``sim_seconds`` whose last ``quiet_s`` seconds are
    fault-free. ``faults`` restricts the draw to those catalogue ids (default: all)."""
    every = sorted(set(faults) if faults is not None else set(FAULT_IDS), key=FAULT_IDS.index)
    allowed = [f for f in every if f != "F19"]
    rng = stream(seed, "swarm")
    intensity = rng.uniform(0.2, 1.0)
    kept = {f for f in allowed if rng.random() < 0.6}
    if not kept and allowed:
        kept = {rng.choice(allowed)}
    end = max(WARMUP_S, sim_seconds - quiet_s)
    budget_rng = stream(seed, "swarm-budget")
    budget_event: Event | None = None
    if "F19" in every and (budget_rng.random() < 0.5 or not allowed) and end - WARMUP_S > 6:
        kept.add("F19")
        at = round(budget_rng.uniform(WARMUP_S, end - 6), 3)
        budget_event = Event(at, "budget_exhaust",
                             duration_s=round(min(budget_rng.uniform(5, 25), end - at), 2))

    def p(fid: str, hi: float) -> float:
        return round(rng.uniform(0.2, 1.0) * hi * intensity, 5) if fid in kept else 0.0

    median = rng.uniform(5.0, 60.0)
    profile = FaultProfile(
        name=f"swarm-{seed}",
        ack_latency_median_ms=round(median, 1),
        ack_latency_p99_ms=round(median * rng.uniform(3.0, 15.0), 1),
        duplicate_push=p("F1", 0.03),
        reorder_push=p("F2", 0.03),
        push_before_response=p("F3", 0.4),
        disconnect_per_min=p("F4", 3.0),
        drop_push=p("F4", 0.002),
        stall_per_min=p("F5", 1.0),
        stall_min_ms=5_000,
        stall_max_ms=60_000,
        lost_response=p("F6", 0.03),
        lost_request=p("F7", 0.03),
        http_error=p("F8", 0.05),
        info_http_error=p("F8", 0.02),
    )
    interventions = Interventions(
        cancel_fill_race=p("F11", 0.2),
        modify_late_cancel=p("F12", 0.3),
        slow_ack=p("F13", 0.1),
        nonce_reject=p("F14", 0.02),
        batch_prevalidation=p("F15", 0.03),
    )
    events: list[Event] = []
    if "F8" in kept:
        for t in _poisson_times(rng, 1.0 * intensity, WARMUP_S, end):
            events.append(Event(t, "rate_limit",
                                duration_s=round(min(rng.uniform(3, 20), end - t), 2)))
    if "F9" in kept:
        last = -60.0
        for t in _poisson_times(rng, 1.0 * intensity, WARMUP_S, end):
            if t - last >= 20.0:  # stay well inside the supervisor's restart intensity
                events.append(Event(t, "crash", actor=rng.choice(ACTORS)))
                last = t
    if "F10" in kept:
        for t in _poisson_times(rng, 1.0 * intensity, WARMUP_S, end):
            if rng.random() < 0.7:
                events.append(Event(t, "exchange_cancel", status=rng.choice(F10_STATUSES)))
            else:
                events.append(Event(t, "liquidation"))
    if "F14" in kept:
        for t in _poisson_times(rng, 1.0 * intensity, WARMUP_S, end):
            events.append(Event(t, "clock_jump", offset_ms=rng.choice(
                (rng.randint(-5_000, -200), rng.randint(200, 30_000)))))
    if "F16" in kept:
        t = WARMUP_S
        for t0 in _poisson_times(rng, 0.3 * intensity, WARMUP_S, end):
            duration = round(rng.uniform(15.0, 40.0), 2)
            if t0 < t or t0 + duration > end:
                continue
            events.append(Event(t0, "partition", duration_s=duration,
                                horizon_s=round(rng.uniform(4.0, 8.0), 2)))
            t = t0 + duration + 10.0
    if "F5" in kept:
        for t in _poisson_times(rng, 0.3 * intensity, WARMUP_S, end):
            events.append(Event(t, "stall",
                                duration_s=round(min(rng.uniform(5.0, 60.0), end - t), 2)))
    if "F17" in kept:
        restart_rng = stream(seed, "swarm-restart")
        last = -60.0
        times = _poisson_times(rng, 0.5 * intensity, WARMUP_S, end) or [
            round(rng.uniform(WARMUP_S, max(WARMUP_S, end - 5.0)), 3)]  # kept: at least once
        for t in times:
            if t - last < 30.0:
                continue
            delay = round(rng.uniform(1.0, 3.0), 2)
            if rng.random() < 0.5 and t + LEASE_OUT_S[1] < end:
                delay = round(rng.uniform(*LEASE_OUT_S), 2)  # the dead-man lease fires first
            if t + delay >= end:
                continue
            on_start = "adopt" if restart_rng.random() < 0.5 else "cancel"
            events.append(Event(t, "process_crash", duration_s=delay, on_start=on_start))
            last = t + delay
    if "F18" in kept:
        for t in _poisson_times(rng, 4.0 * intensity, WARMUP_S, end):
            events.append(Event(t, "foreign"))
    if budget_event is not None:
        events.append(budget_event)
    events.sort(key=lambda e: (e.at_s, e.what))
    return FaultPlan(profile=profile, interventions=interventions, events=events,
                     quiet_after_s=end, active_from_s=STARTUP_S, name=f"swarm i={intensity:.2f} "
                     + ",".join(sorted(kept, key=FAULT_IDS.index)))
