"""Seeded fault injection for the simulator: profiles and the decisions, apart from any transport.

A :class:`FaultInjector` draws every decision from an injected :class:`random.Random`, so a seed
replays exactly when the decisions are asked in the same order; the one fault-applying exchange
(:class:`hlmaker.sim.exchange.FaultedExchange`, under the socket server and the deterministic
campaign alike) asks it through ``request_for`` / ``push_for`` / ``connection_for`` (the
campaign's :class:`hlmaker.chaos.plan.SimFaults` overrides those with scripted rules). Every
injected fault is counted by kind (:attr:`FaultInjector.counts`) and by reliability-catalogue
id (:meth:`FaultInjector.catalogue`, ids of ``../shared/reliability.md``):

======================  ====  ==============================================================
kind                    id    meaning
======================  ====  ==============================================================
duplicate_push          F1    a push delivered twice
reorder_push            F2    a push swapped with the next queued push
push_before_response    F3    the action's pushes are flushed before its HTTP / post response
disconnect              F4    the WebSocket is closed by the server; queued pushes are lost
stall                   F5    the WebSocket goes silent (no pushes, no pong) for a while
lost_response_landed    F6    the action is applied but its response never comes (timeout)
lost_response_dropped   F7    the request times out and the action is *not* applied
http_error_no_effect    F8    HTTP 429 or 5xx, the action was not applied
http_error_with_effect  F8    HTTP 5xx after the action was applied
drop_push               —     a push silently lost on a live connection (a gap with no reconnect)
======================  ====  ==============================================================

Latency is drawn from a log-normal distribution given by its median and 99th percentile (ms).
"""

from __future__ import annotations

import enum
import math
import random
from collections import Counter
from dataclasses import dataclass, replace

CATALOGUE_ID: dict[str, str | None] = {
    "duplicate_push": "F1",
    "reorder_push": "F2",
    "push_before_response": "F3",
    "disconnect": "F4",
    "stall": "F5",
    "lost_response_landed": "F6",
    "lost_response_dropped": "F7",
    "http_error_no_effect": "F8",
    "http_error_with_effect": "F8",
    "drop_push": None,
}


@dataclass(frozen=True)
class FaultProfile:
    """Probabilities and rates of every fault kind. Probabilities are per request / per push;
    rates are per connection per minute; durations and latencies in ms."""

    name: str = "none"
    ack_latency_median_ms: float = 0.0
    ack_latency_p99_ms: float = 0.0
    push_before_response: float = 0.0
    duplicate_push: float = 0.0
    reorder_push: float = 0.0
    drop_push: float = 0.0
    disconnect_per_min: float = 0.0
    stall_per_min: float = 0.0
    stall_min_ms: int = 5_000
    stall_max_ms: int = 20_000
    http_error: float = 0.0
    """Probability that an ``/exchange`` request (or a WS post action) fails with 429/5xx."""
    http_error_side_effect: float = 0.5
    """Share of those failures where the action was applied anyway (always a 5xx)."""
    info_http_error: float = 0.0
    """Probability that an ``/info`` request fails with 429/5xx (never a side effect)."""
    lost_response: float = 0.0
    """Probability that an action lands but its response is lost (F6)."""
    lost_request: float = 0.0
    """Probability that an action times out without landing (F7)."""
    lost_response_hold_ms: int = 30_000
    """How long the server sits on a lost HTTP response before answering 504."""

    def with_(self, **changes: object) -> FaultProfile:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile(),
    "default": FaultProfile(
        name="default",
        ack_latency_median_ms=20,
        ack_latency_p99_ms=150,
        push_before_response=0.1,
        duplicate_push=0.002,
        reorder_push=0.002,
        disconnect_per_min=0.2,
        stall_per_min=0.05,
        stall_min_ms=3_000,
        stall_max_ms=10_000,
        http_error=0.005,
        info_http_error=0.002,
        lost_response=0.002,
        lost_request=0.002,
    ),
    "harsh": FaultProfile(
        name="harsh",
        ack_latency_median_ms=80,
        ack_latency_p99_ms=1_000,
        push_before_response=0.4,
        duplicate_push=0.03,
        reorder_push=0.03,
        drop_push=0.005,
        disconnect_per_min=2.0,
        stall_per_min=0.5,
        stall_min_ms=5_000,
        stall_max_ms=20_000,
        http_error=0.05,
        info_http_error=0.02,
        lost_response=0.02,
        lost_request=0.02,
    ),
}
"""Named profiles: ``none`` (faithful and fault-free), ``default`` (a bad day), ``harsh``."""


def profile(name_or_profile: str | FaultProfile) -> FaultProfile:
    """Resolve a profile name (``none``, ``default``, ``harsh``) or pass a profile through.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if isinstance(name_or_profile, FaultProfile):
        return name_or_profile
    try:
        return PROFILES[name_or_profile]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown fault profile {name_or_profile!r}; known: {known}") from None


class RequestFault(enum.Enum):
    """What happens to one request."""

    NONE = "none"
    ERROR_NO_EFFECT = "http_error_no_effect"
    ERROR_WITH_EFFECT = "http_error_with_effect"
    LOST_LANDED = "lost_response_landed"
    LOST_DROPPED = "lost_response_dropped"


@dataclass(frozen=True)
class RequestDecision:
    """The fate of one request: apply it? answer it? with which status, after how long?"""

    fault: RequestFault
    latency_ms: int
    push_first: bool = False
    status: int = 200

    @property
    def applies(self) -> bool:
        """Whether the action reaches the engine."""
        return self.fault in (
            RequestFault.NONE,
            RequestFault.ERROR_WITH_EFFECT,
            RequestFault.LOST_LANDED,
        )

    @property
    def responds(self) -> bool:
        """Whether the client gets an answer before its timeout."""
        return self.fault not in (RequestFault.LOST_LANDED, RequestFault.LOST_DROPPED)


class PushFate(enum.Enum):
    """What happens to one push."""

    DELIVER = "deliver"
    DROP = "drop_push"
    DUPLICATE = "duplicate_push"
    REORDER = "reorder_push"


class ConnectionEvent(enum.Enum):
    """A per-connection fault due now."""

    DISCONNECT = "disconnect"
    STALL = "stall"


ERROR_TEXT = {
    429: "429 Too Many Requests",  # ⚠ the live body is undocumented (§8)
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FaultInjector:
    """Draws fault decisions from ``rng`` according to ``profile`` and counts what it injects."""

    def __init__(self, fault_profile: FaultProfile | str, rng: random.Random) -> None:
        self.profile = profile(fault_profile)
        self.rng = rng
        self.counts: Counter[str] = Counter()

    @property
    def enabled(self) -> bool:
        """False for a fault-free profile (then no random numbers are drawn)."""
        return self.profile != FaultProfile(name=self.profile.name)

    def count(self, kind: str, n: int = 1) -> None:
        """Record ``n`` injected faults of ``kind`` (also used by transports for knock-on
        losses, e.g. pushes dropped by a disconnect: ``lost_on_disconnect``)."""
        self.counts[kind] += n

    def catalogue(self) -> dict[str, int]:
        """Injected faults summed by reliability-catalogue id (``F1`` …), kinds without an id
        under their own name."""
        out: Counter[str] = Counter()
        for kind, n in self.counts.items():
            out[CATALOGUE_ID.get(kind) or kind] += n
        return dict(sorted(out.items()))

    # ---- decisions -----------------------------------------------------------------------------

    def latency_ms(self) -> int:
        """A response latency draw (0 when the profile has none)."""
        p = self.profile
        if p.ack_latency_median_ms <= 0:
            return 0
        sigma = max(
            math.log(max(p.ack_latency_p99_ms, p.ack_latency_median_ms) / p.ack_latency_median_ms)
            / 2.326,
            0.0,
        )
        return int(p.ack_latency_median_ms * math.exp(sigma * self.rng.gauss(0.0, 1.0)))

    def _error_status(self, with_effect: bool) -> int:
        if with_effect:
            return self.rng.choice((500, 502, 503))
        return self.rng.choice((429, 429, 500, 502, 503))

    def request(self, endpoint: str) -> RequestDecision:
        """Decide the fate of a request to ``endpoint`` (``"info"`` or ``"exchange"``)."""
        if not self.enabled:
            return RequestDecision(RequestFault.NONE, 0)
        p = self.profile
        latency = self.latency_ms()
        u = self.rng.random()
        if endpoint == "info":
            if u < p.info_http_error:
                self.count(RequestFault.ERROR_NO_EFFECT.value)
                return RequestDecision(
                    RequestFault.ERROR_NO_EFFECT, latency, status=self._error_status(False)
                )
            return RequestDecision(RequestFault.NONE, latency)
        if u < p.http_error:
            with_effect = self.rng.random() < p.http_error_side_effect
            fault = RequestFault.ERROR_WITH_EFFECT if with_effect else RequestFault.ERROR_NO_EFFECT
            self.count(fault.value)
            return RequestDecision(fault, latency, status=self._error_status(with_effect))
        u -= p.http_error
        if u < p.lost_response:
            self.count(RequestFault.LOST_LANDED.value)
            return RequestDecision(RequestFault.LOST_LANDED, latency, status=504)
        u -= p.lost_response
        if u < p.lost_request:
            self.count(RequestFault.LOST_DROPPED.value)
            return RequestDecision(RequestFault.LOST_DROPPED, latency, status=504)
        push_first = self.rng.random() < p.push_before_response
        if push_first:
            self.count("push_before_response")
        return RequestDecision(RequestFault.NONE, latency, push_first=push_first)

    def push(self) -> PushFate:
        """Decide the fate of one push."""
        if not self.enabled:
            return PushFate.DELIVER
        p = self.profile
        u = self.rng.random()
        for fate, prob in (
            (PushFate.DROP, p.drop_push),
            (PushFate.DUPLICATE, p.duplicate_push),
            (PushFate.REORDER, p.reorder_push),
        ):
            if u < prob:
                self.count(fate.value)
                return fate
            u -= prob
        return PushFate.DELIVER

    def connection(self, dt_ms: float) -> ConnectionEvent | None:
        """Per-connection faults due over the last ``dt_ms`` (Poisson at the profile's rates)."""
        p = self.profile
        if not self.enabled or (p.disconnect_per_min <= 0 and p.stall_per_min <= 0):
            return None
        minutes = dt_ms / 60_000.0
        if self.rng.random() < 1 - math.exp(-p.disconnect_per_min * minutes):
            self.count("disconnect")
            return ConnectionEvent.DISCONNECT
        if self.rng.random() < 1 - math.exp(-p.stall_per_min * minutes):
            self.count("stall")
            return ConnectionEvent.STALL
        return None

    def stall_ms(self) -> int:
        """Duration of a stall."""
        return self.rng.randint(self.profile.stall_min_ms, self.profile.stall_max_ms)

    # ---- the policy the exchange asks (hlmaker.sim.exchange.FaultedExchange) ------------------

    def request_for(self, endpoint: str, on: str) -> RequestDecision:
        """The fate of a request to ``endpoint`` (``info``/``exchange``) whose ``/info`` type or
        action type is ``on``; the profile draws ignore ``on`` (a plan's rules use it)."""
        return self.request(endpoint)

    def push_for(self, channel: str) -> PushFate:
        """The fate of one push on ``channel`` (``userFills``, ``orderUpdates`` …); the
        profile draws ignore the channel."""
        return self.push()

    def connection_for(self, dt_ms: float) -> ConnectionEvent | None:
        """Per-connection faults due over the last ``dt_ms``: :meth:`connection`."""
        return self.connection(dt_ms)
