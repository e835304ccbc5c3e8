"""Fault plans for the deterministic simulation: the catalogue F1–F19 as decisions and events.

Two kinds of faults:

* **Per-message decisions** (what happens to *this* request, push or action) come from
  :class:`SimFaults`, a :class:`~hlmaker.sim.faults.FaultInjector` (the simulator's own seeded
  decision logic, reused as is for F1–F8 at the profile's probabilities) extended with
  *interventions* on actions (F8 address rate limit, F11 cancel/fill race, F12 late ``canceled``
  of a replaced oid, F13 slow ack, F14 duplicate-nonce refusal, F15 whole-batch pre-validation
  refusal) and with *scripted rules*: "the next ``times`` messages matching ``on`` inside
  ``[start_s, end_s)`` get fault ``kind``", which scenarios use to force a fault exactly.
* **Timeline events** (:class:`Event`) happen at a trio time: disconnect every WebSocket (F4),
  stall them (F5), exchange-initiated cancels and a liquidation-like fill (F10), a bot clock jump
  (F14), a network partition with a fill-history horizon (F16), an actor crash (F9), a whole
  process crash and restart (F17), another client's activity on the account (F18), the address
  request budget running out (F19).

Every injected fault is counted in :attr:`FaultInjector.counts` by kind; :data:`CATALOGUE`
maps kinds to catalogue ids and :meth:`SimFaults.catalogue` sums them (``F1`` … ``F19``).
All randomness comes from the injected ``random.Random`` (the campaign's ``faults`` stream).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from hlmaker.sim.faults import CATALOGUE_ID, FaultInjector, FaultProfile, PushFate, RequestDecision
from hlmaker.sim.faults import RequestFault as RF

CATALOGUE: dict[str, str] = {
    **{k: v for k, v in CATALOGUE_ID.items() if v is not None},
    "lost_on_disconnect": "F4",
    "address_rate_limit": "F8",
    "crash": "F9",
    "exchange_cancel": "F10",
    "liquidation_fill": "F10",
    "cancel_fill_race": "F11",
    "modify_late_cancel": "F12",
    "slow_ack": "F13",
    "nonce_reject": "F14",
    "clock_jump": "F14",
    "batch_prevalidation": "F15",
    "history_gap": "F16",
    "process_crash": "F17",
    "foreign_place": "F18",
    "foreign_modify": "F18",
    "foreign_cancel": "F18",
    "foreign_trade": "F18",
    "foreign_trigger": "F18",
    "budget_exhaust": "F19",
}
"""Fault kind → reliability-catalogue id (kinds absent here are counted under their own name)."""

FAULT_IDS = tuple(f"F{i}" for i in range(1, 20))
CRASH_WINDOW_S = 5.0
"""An armed crash hits the actor at its next resumption; it stays armed this long at most."""

INTERVENTIONS = (
    "address_rate_limit", "cancel_fill_race", "modify_late_cancel", "slow_ack", "nonce_reject",
    "batch_prevalidation",
)
"""Action interventions and the action types they apply to (see :meth:`SimFaults.action`)."""
_APPLIES_TO = {
    "address_rate_limit": ("order", "batchModify"),
    "cancel_fill_race": ("cancel", "cancelByCloid", "batchModify"),
    "modify_late_cancel": ("batchModify",),
    "slow_ack": ("order",),
    "nonce_reject": ("order", "cancel", "cancelByCloid", "batchModify"),
    "batch_prevalidation": ("order",),
}
REQUEST_KINDS = {f.value: f for f in RF if f is not RF.NONE}
PUSH_KINDS = {f.value: f for f in PushFate if f is not PushFate.DELIVER}


@dataclass
class Rule:
    """Force fault ``kind`` on the next ``times`` matching messages inside ``[start_s, end_s)``
    (trio seconds since the run started).

    ``kind``: a request fault (``lost_response_landed``, ``lost_response_dropped``,
    ``http_error_no_effect``, ``http_error_with_effect``, ``push_before_response``), a push fate
    (``duplicate_push``, ``reorder_push``, ``drop_push``) or an intervention
    (:data:`INTERVENTIONS`). ``on``: an action type (``order``, ``cancel``, ``batchModify``…) for
    requests and interventions, a channel (``userFills``, ``orderUpdates``, ``user``…) for pushes;
    ``""`` matches any.
    """

    kind: str
    start_s: float = 0.0
    end_s: float = math.inf
    times: int = 1
    on: str = ""

    def matches(self, now_s: float, on: str) -> bool:
        return self.times > 0 and self.start_s <= now_s < self.end_s and self.on in ("", on)


@dataclass(frozen=True)
class Event:
    """A timeline fault at ``at_s`` (trio seconds since the run started).

    ``what``: ``disconnect`` (F4), ``stall`` (F5, ``duration_s``), ``exchange_cancel`` (F10,
    ``status``), ``liquidation`` (F10), ``clock_jump`` (F14, ``offset_ms`` relative change),
    ``partition`` (F16 when ``horizon_s`` is set: ``duration_s``), ``crash`` (F9, ``actor``),
    ``rate_limit`` (F8: order and modify actions refused for ``duration_s``, cancels pass),
    ``process_crash`` (F17: the whole process dies — no shutdown, every actor's memory lost —
    and a new one starts ``duration_s`` later, on the same account, with ``[maker] on_start =
    on_start``: ``"cancel"`` or ``"adopt"``, ``""`` for the default), ``foreign`` (F18: another
    client acts on the account without our prefix: place, modify, cancel or trade),
    ``budget_exhaust`` (F19: the bot's address request budget spent for ``duration_s``, the
    simulator's own limit enforcing it),
    ``bot_cancel_all`` (not a fault: the strategy pulls its quotes, so cancels happen).
    """

    at_s: float
    what: str
    duration_s: float = 0.0
    status: str = ""
    offset_ms: int = 0
    horizon_s: float = 0.0
    actor: str = ""
    on_start: str = ""


@dataclass(frozen=True)
class Interventions:
    """Per-action probabilities of each intervention (swarm mode)."""

    address_rate_limit: float = 0.0
    cancel_fill_race: float = 0.0
    modify_late_cancel: float = 0.0
    slow_ack: float = 0.0
    nonce_reject: float = 0.0
    batch_prevalidation: float = 0.0

    def get(self, kind: str) -> float:
        return float(getattr(self, kind))


@dataclass
class FaultPlan:
    """Everything one run injects: probabilities, scripted rules and timeline events.

    ``quiet_after_s``: no fault of any kind is injected from this trio time on (the liveness
    checks L1/L2 start here).
    """

    profile: FaultProfile = field(default_factory=FaultProfile)
    interventions: Interventions = field(default_factory=Interventions)
    rules: list[Rule] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    quiet_after_s: float = math.inf
    active_from_s: float = 0.0
    """No fault before this (the maker's start-up reads are not retried by design)."""
    name: str = "none"

    @property
    def last_fault_s(self) -> float:
        """The latest time a fault can be injected (timeline events included)."""
        ends = [e.at_s + (CRASH_WINDOW_S if e.what == "crash" else e.duration_s)
                for e in self.events if e.what != "bot_cancel_all"]
        ends += [r.end_s for r in self.rules if math.isfinite(r.end_s)]
        probabilistic = self.profile != FaultProfile(name=self.profile.name) or any(
            self.interventions.get(k) > 0 for k in INTERVENTIONS)
        if probabilistic or any(not math.isfinite(r.end_s) for r in self.rules):
            ends.append(self.quiet_after_s if math.isfinite(self.quiet_after_s) else 0.0)
        return max(ends, default=0.0)


class SimFaults(FaultInjector):
    """The simulator's :class:`FaultInjector`, plus scripted rules, interventions and a quiet
    period. ``now_s`` is a callable giving trio seconds since the run started."""

    def __init__(self, plan: FaultPlan, rng: random.Random, now_s: Callable[[], float]) -> None:
        super().__init__(plan.profile, rng)
        self.plan = plan
        self._now_s = now_s
        self._rules = [Rule(r.kind, r.start_s, r.end_s, r.times, r.on) for r in plan.rules]
        self._has_interventions = any(plan.interventions.get(k) > 0 for k in INTERVENTIONS)
        self.active_from_s = plan.active_from_s
        """No per-message fault before this (the harness holds faults until the maker is up)."""

    @property
    def quiet(self) -> bool:
        """True before the plan's faults start and once its quiet period has begun."""
        now = self._now_s()
        return now >= self.plan.quiet_after_s or now < self.active_from_s

    def _forced(self, kinds: dict[str, object] | tuple[str, ...], on: str) -> str | None:
        if not self._rules:
            return None
        now = self._now_s()
        for rule in self._rules:
            if rule.kind in kinds and rule.matches(now, on):
                rule.times -= 1
                return rule.kind
        return None

    # ---- decisions --------------------------------------------------------------------------

    def request_for(self, endpoint: str, on: str) -> RequestDecision:
        """Decide a request to ``endpoint`` (``info``/``exchange``) of type ``on``."""
        forced = self._forced((*REQUEST_KINDS, "push_before_response"), on)
        if forced is not None:
            latency = self.latency_ms()
            self.count(forced)
            if forced == "push_before_response":
                return RequestDecision(RF.NONE, latency, push_first=True)
            fault = REQUEST_KINDS[forced]
            status = 504 if fault in (RF.LOST_LANDED, RF.LOST_DROPPED) else (
                self.rng.choice((500, 502, 503)) if fault is RF.ERROR_WITH_EFFECT
                else self.rng.choice((429, 500, 502, 503)))
            return RequestDecision(fault, latency, status=status)
        if self.quiet:  # normal latency only: the log-normal's far tail would be a timeout
            latency = self.latency_ms() if self.enabled else 0
            return RequestDecision(RF.NONE, min(latency, int(self.profile.ack_latency_p99_ms)))
        return self.request(endpoint)

    def push_for(self, channel: str) -> PushFate:
        """Decide the fate of one push on ``channel``."""
        forced = self._forced(PUSH_KINDS, channel)
        if forced is not None:
            self.count(forced)
            return PUSH_KINDS[forced]
        if self.quiet:
            return PushFate.DELIVER
        return self.push()

    def connection_for(self, dt_ms: float) -> object:
        """Per-connection faults due over ``dt_ms`` (none once quiet)."""
        if self.quiet:
            return None
        return self.connection(dt_ms)

    def action(self, action_type: str) -> str | None:
        """An intervention for one action of ``action_type``, or ``None`` (counted when drawn)."""
        forced = self._forced(INTERVENTIONS, action_type)
        if forced is not None and action_type in _APPLIES_TO[forced]:
            self.count(forced)
            return forced
        if not self._has_interventions or self.quiet:
            return None
        u = self.rng.random()
        for kind in INTERVENTIONS:
            if action_type not in _APPLIES_TO[kind]:
                continue
            p = self.plan.interventions.get(kind)
            if u < p:
                self.count(kind)
                return kind
            u -= p
        return None

    def catalogue(self) -> dict[str, int]:
        """Injected faults by catalogue id, every ``F1``…``F19`` present (0 when none)."""
        out: Counter[str] = Counter({fid: 0 for fid in FAULT_IDS})
        for kind, n in self.counts.items():
            out[CATALOGUE.get(kind, kind)] += n
        return {k: out[k] for k in sorted(out, key=_fault_order)}


def _fault_order(key: str) -> tuple[int, str]:
    if key.startswith("F") and key[1:].isdigit():
        return (int(key[1:]), "")
    return (100, key)
