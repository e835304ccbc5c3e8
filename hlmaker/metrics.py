"""Prometheus metrics: a :class:`Metrics` object with its own registry, fed by the actors, and an
opt-in ``/metrics`` server (:class:`hlmaker.webserver.WebServer`: h11 on trio streams).

Who feeds what (:class:`MetricsObserver`, given to :func:`hlmaker.maker.open_maker`, carries the
probes from inside the maker; the rest is polled):

* :meth:`Metrics.observe_view` — whoever watches the book's views (the supervisor or the UI loop):
  sets the gauges and advances the counters by the difference of the book's
  :class:`~hlmaker.messages.Counters` since the previous view (a restarted book starts its
  counters at zero again: a value below the last one counts in full);
* :meth:`Metrics.observe_command` — the executor (observer ``command_received``): orders
  placed, cancelled and modified;
* :meth:`Metrics.observe_request` — the executor (``request_finished``): request round-trip
  latency by kind;
* :meth:`Metrics.observe_restart` — the supervisor (``actor_restarted``);
* :meth:`Metrics.observe_book_batch` — the book actor (``book_batch``): how long it took to
  apply one batch of inbox messages and send the resulting commands;
* :meth:`Metrics.observe_backlog` — whoever polls :attr:`hlmaker.maker.Maker.inbox_backlog`:
  messages waiting in the book's inbox. Time from an event's receipt to its application is the
  wait behind that backlog plus the batch time.

Metric names (all prefixed ``hlmaker_``): ``orders_placed_total``, ``orders_cancelled_total``,
``orders_modified_total``, ``fills_total``, ``duplicate_fills_dropped_total``,
``orphans_total``, ``stale_orders_total``, ``position_drifts_total``, ``gaps_total``,
``rejects_total``, ``unknown_outcomes_total``, ``actor_restarts_total{actor}``,
``position{coin}`` (signed coin), ``open_orders{coin}``, ``synced`` (0/1), ``ready`` (0/1),
``request_latency_seconds{kind}`` (place/cancel/modify/info/…),
``book_batch_apply_seconds``, ``book_batch_messages``, ``book_inbox_backlog``.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally

import trio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from hlmaker.actors.budget import BudgetView
from hlmaker.actors.ratelimit import IpWeightView
from hlmaker.messages import BookView, CancelOrders, Command, Counters, ModifyOrders, PlaceOrders
from hlmaker.observer import Observer
from hlmaker.webserver import HttpHandler, Request, Respond, Response, WebServer

log = logging.getLogger("hlmaker.metrics")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Request latency buckets in seconds (an action expires after 10 s by default)."""
APPLY_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)
"""Book batch buckets in seconds (a batch is at most 256 messages at ≈ 4 µs each)."""
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

_FROM_COUNTERS = {
    "fills_applied": "fills",
    "duplicate_fills_dropped": "duplicate_fills_dropped",
    "orphans_detected": "orphans",
    "stale_removed": "stale",
    "position_drifts": "drifts",
    "gaps_detected": "gaps",
    "rejects": "rejects",
    "unknown_outcomes": "unknown_outcomes",
}
"""Book :class:`Counters` field → :class:`Metrics` counter attribute."""


class Metrics:
    """Every hlmaker metric, in a private :class:`CollectorRegistry` (never the global one, so
    several bots — or tests — in one process do not collide)."""

    def __init__(self, namespace: str = "hlmaker") -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, namespace=namespace, registry=r)

        self.orders_placed = counter("orders_placed", "Orders sent in place commands.")
        self.orders_cancelled = counter("orders_cancelled", "Orders sent in cancel commands.")
        self.orders_modified = counter("orders_modified", "Orders sent in modify commands.")
        self.fills = counter("fills", "Fills applied to the book (after de-dup).")
        self.duplicate_fills_dropped = counter("duplicate_fills_dropped",
                                               "Fills dropped as duplicates.")
        self.orphans = counter("orphans", "Orders on the exchange the book did not know.")
        self.stale = counter("stale_orders", "Local orders the exchange no longer listed.")
        self.drifts = counter("position_drifts", "Positions corrected from the exchange.")
        self.gaps = counter("gaps", "Fill-stream gaps detected (startPosition mismatch).")
        self.rejects = counter("rejects", "Orders the exchange rejected.")
        self.unknown_outcomes = counter("unknown_outcomes", "Requests whose outcome was unknown.")
        self.restarts = counter("actor_restarts", "Actor restarts by the supervisor.", ("actor",))
        self.position = Gauge("position", "Signed position in coin.", ("coin",),
                              namespace=namespace, registry=r)
        self.open_orders = Gauge("open_orders", "Orders the book tracks as open.", ("coin",),
                                 namespace=namespace, registry=r)
        self.synced = Gauge("synced", "1 when the last reconcile matched the exchange.",
                            namespace=namespace, registry=r)
        self.ready = Gauge("ready", "1 when the book finished its start-up re-sync.",
                           namespace=namespace, registry=r)
        self.request_latency = Histogram(
            "request_latency_seconds", "Exchange request round trip by kind.", ("kind",),
            namespace=namespace, registry=r, buckets=LATENCY_BUCKETS)
        self.batch_seconds = Histogram(
            "book_batch_apply_seconds",
            "Time the book took to apply one batch of inbox messages and send its commands.",
            namespace=namespace, registry=r, buckets=APPLY_BUCKETS)
        self.batch_messages = Histogram(
            "book_batch_messages", "Inbox messages the book applied in one batch.",
            namespace=namespace, registry=r, buckets=BATCH_SIZE_BUCKETS)
        self.backlog = Gauge("book_inbox_backlog", "Messages waiting in the book's inbox.",
                             namespace=namespace, registry=r)
        self.budget_used = Gauge("address_budget_used",
                                 "Address request budget used (userRateLimit + counted since).",
                                 namespace=namespace, registry=r)
        self.budget_cap = Gauge("address_budget_cap", "Address request budget cap.",
                                namespace=namespace, registry=r)
        self.budget_headroom = Gauge("address_budget_headroom",
                                     "Requests left before the address budget's cap.",
                                     namespace=namespace, registry=r)
        self.budget_exhausted = Gauge("address_budget_exhausted",
                                      "1 while only cancels go out (budget spent).",
                                      namespace=namespace, registry=r)
        self.ip_weight_used = Gauge("ip_weight_used",
                                    "Per-IP REST weight sent in the last 60 s (in flight "
                                    "included).", namespace=namespace, registry=r)
        self.ip_weight_limit = Gauge("ip_weight_limit", "Per-IP REST weight allowed per 60 s.",
                                     namespace=namespace, registry=r)
        self.ip_weight_headroom = Gauge("ip_weight_headroom",
                                        "Per-IP REST weight left in the current 60 s window.",
                                        namespace=namespace, registry=r)
        self.ip_weight_429 = Gauge("ip_weight_rate_limited",
                                   "HTTP 429 answers seen since start.",
                                   namespace=namespace, registry=r)
        self._last = Counters()
        self._coins: set[str] = set()
        self._order_coins: set[str] = set()

    def observe_view(self, view: BookView) -> None:
        """Set the gauges from ``view`` and advance the counters by the difference of its
        counters since the previous call (a counter lower than before — a restarted book —
        counts in full)."""
        for field, attr in _FROM_COUNTERS.items():
            now, before = getattr(view.counters, field), getattr(self._last, field)
            delta = now - before if now >= before else now
            if delta > 0:
                getattr(self, attr).inc(delta)
        self._last = view.counters
        for coin in self._coins - set(view.positions):
            self.position.labels(coin=coin).set(0)
        for coin, szi in view.positions.items():
            self.position.labels(coin=coin).set(float(szi))
        self._coins |= set(view.positions)
        per_coin = Tally(o.coin for o in view.orders)
        for coin in self._order_coins | set(per_coin):
            self.open_orders.labels(coin=coin).set(per_coin.get(coin, 0))
        self._order_coins |= set(per_coin)
        self.synced.set(1 if view.is_synced else 0)
        self.ready.set(1 if view.ready else 0)

    def observe_budget(self, budget: BudgetView) -> None:
        """Set the address-budget gauges (nothing until the budget was learned)."""
        if not budget.known:
            return
        self.budget_used.set(budget.used)
        self.budget_cap.set(budget.cap)
        self.budget_headroom.set(budget.headroom)
        self.budget_exhausted.set(1 if budget.exhausted else 0)

    def observe_ip_weight(self, weight: IpWeightView) -> None:
        """Set the per-IP REST weight gauges (§8)."""
        self.ip_weight_used.set(weight.used)
        self.ip_weight_limit.set(weight.limit)
        self.ip_weight_headroom.set(weight.headroom)
        self.ip_weight_429.set(weight.rate_limited)

    def observe_command(self, cmd: Command) -> None:
        """Count the orders in a command the book sent to the executor."""
        if isinstance(cmd, PlaceOrders):
            self.orders_placed.inc(len(cmd.orders))
        elif isinstance(cmd, CancelOrders):
            self.orders_cancelled.inc(len(cmd.cancels))
        elif isinstance(cmd, ModifyOrders):
            self.orders_modified.inc(len(cmd.modifies))

    def observe_request(self, kind: str, seconds: float) -> None:
        """One exchange request of ``kind`` (``place``, ``cancel``, ``modify``, ``info``…) took
        ``seconds``."""
        self.request_latency.labels(kind=kind).observe(seconds)

    def observe_restart(self, actor: str) -> None:
        """The supervisor restarted ``actor``."""
        self.restarts.labels(actor=actor).inc()

    def observe_book_batch(self, messages: int, seconds: float) -> None:
        """The book applied ``messages`` inbox messages in ``seconds`` (the observer's
        ``book_batch``, from :func:`hlmaker.actors.book.run_book`)."""
        self.batch_seconds.observe(seconds)
        self.batch_messages.observe(messages)

    def observe_backlog(self, messages: int) -> None:
        """``messages`` are waiting in the book's inbox now."""
        self.backlog.set(messages)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class MetricsObserver(Observer):
    """The :class:`~hlmaker.observer.Observer` that feeds a :class:`Metrics` from inside the
    running maker (give it to :func:`hlmaker.maker.open_maker`): commands and request latencies
    from the executor, restarts from the supervisor, batch times from the book. Views and the
    inbox backlog are polled by whoever serves the metrics (``observe_view``,
    ``observe_backlog``)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def command_received(self, command: object) -> None:
        self.metrics.observe_command(command)  # type: ignore[arg-type]

    def request_finished(self, kind: str, seconds: float) -> None:
        self.metrics.observe_request(kind, seconds)

    def actor_restarted(self, actor: str) -> None:
        self.metrics.observe_restart(actor)

    def book_batch(self, messages: int, seconds: float) -> None:
        self.metrics.observe_book_batch(messages, seconds)


def metrics_app(metrics: Metrics) -> HttpHandler:
    """The ``/metrics`` HTTP handler (a :data:`hlmaker.webserver.HttpHandler`): ``GET`` or
    ``HEAD /metrics`` answers :meth:`Metrics.render` (Prometheus text format,
    ``CONTENT_TYPE_LATEST``); other paths 404, other methods 405 (plain text)."""

    async def app(request: Request, respond: Respond) -> None:
        if request.path != "/metrics":
            await respond(Response(404, b"not found; try /metrics\n", "text/plain"))
        elif request.method not in ("GET", "HEAD"):
            await respond(Response(405, b"method not allowed\n", "text/plain"))
        else:
            await respond(Response(200, metrics.render(), CONTENT_TYPE_LATEST))

    return app


async def serve_metrics(
    metrics: Metrics,
    *,
    host: str = "127.0.0.1",
    port: int,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``/metrics`` on ``host:port`` until cancelled (:func:`metrics_app` on a
    :class:`~hlmaker.webserver.WebServer`).

    Opt-in: start it only when a metrics port is configured. ``task_status.started`` receives
    the bound port (useful with ``port=0``). A malformed request closes only its connection;
    an error of the listener propagates to the caller (``hlmaker run`` checks the port is free
    before it trades, then runs this beside the maker: an error here ends the run with an
    orderly shutdown).

    Raises:
        OSError: the address cannot be bound.
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = int(listeners[0].socket.getsockname()[1])
    log.info("metrics on http://%s:%d/metrics", host, bound)
    task_status.started(bound)
    await WebServer(metrics_app(metrics)).serve(listeners)
