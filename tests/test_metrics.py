"""Metrics: counters advance by the view differences, gauges follow the view, /metrics serves."""

from __future__ import annotations

from decimal import Decimal

import attrs
import trio

from hlmaker.messages import (
    BookView,
    CancelOrders,
    CancelRequest,
    Counters,
    ModifyOrders,
    ModifyRequest,
    OrderRequest,
    OrderView,
    PlaceOrders,
)
from hlmaker.metrics import Metrics, MetricsObserver, metrics_app, serve_metrics
from hlmaker.observer import Observer, Observers
from hlmaker.webserver import Request, Response

D = Decimal


def view(counters: Counters, *, positions: dict[str, str] | None = None,
         coins: tuple[str, ...] = (), synced: bool = True) -> BookView:
    orders = tuple(OrderView(cloid=f"0x{i:032x}", oid=i, coin=c, side="B", px=D(1), sz=D(1),
                             filled_sz=D(0), tif="Alo", reduce_only=False, state="resting",
                             created_ms=0) for i, c in enumerate(coins))
    return BookView(at_ms=0, orders=orders, positions={k: D(v) for k, v in
                                                       (positions or {}).items()},
                    counters=counters, is_synced=synced, last_fill_ms=None, unresolved=0,
                    ready=True)


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_observe_view_advances_by_difference_and_survives_a_book_restart() -> None:
    m = Metrics()
    m.observe_view(view(Counters(fills_applied=3, gaps_detected=1), positions={"BTC": "0.5"},
                        coins=("BTC", "BTC", "ETH")))
    assert value(m, "hlmaker_fills_total") == 3
    assert value(m, "hlmaker_gaps_total") == 1
    assert value(m, "hlmaker_position", coin="BTC") == 0.5
    assert value(m, "hlmaker_open_orders", coin="BTC") == 2
    assert value(m, "hlmaker_synced") == 1
    m.observe_view(view(Counters(fills_applied=5, gaps_detected=1, rejects=2),
                        positions={"ETH": "-1"}, coins=("ETH",), synced=False))
    assert value(m, "hlmaker_fills_total") == 5
    assert value(m, "hlmaker_rejects_total") == 2
    assert value(m, "hlmaker_position", coin="BTC") == 0  # flat now
    assert value(m, "hlmaker_position", coin="ETH") == -1
    assert value(m, "hlmaker_open_orders", coin="BTC") == 0
    assert value(m, "hlmaker_synced") == 0
    # the book restarted: its counters start again from zero
    m.observe_view(view(Counters(fills_applied=1, unknown_outcomes=1, position_drifts=1,
                                 orphans_detected=2, stale_removed=1,
                                 duplicate_fills_dropped=4)))
    assert value(m, "hlmaker_fills_total") == 6
    assert value(m, "hlmaker_unknown_outcomes_total") == 1
    assert value(m, "hlmaker_position_drifts_total") == 1
    assert value(m, "hlmaker_orphans_total") == 2
    assert value(m, "hlmaker_stale_orders_total") == 1
    assert value(m, "hlmaker_duplicate_fills_dropped_total") == 4


def test_commands_requests_restarts_and_private_registry() -> None:
    m, other = Metrics(), Metrics()
    req = OrderRequest(cloid="0x" + "0" * 32, coin="BTC", side="B", px=D(1), sz=D(1))
    m.observe_command(PlaceOrders(request_id=1, expires_after_ms=0, orders=(req, req)))
    m.observe_command(CancelOrders(request_id=2, expires_after_ms=0, cancels=(
        CancelRequest(coin="BTC", cloid=None, oid=1),)))
    m.observe_command(ModifyOrders(request_id=3, expires_after_ms=0, modifies=(
        ModifyRequest(oid=1, order=req),)))
    m.observe_request("place", 0.03)
    m.observe_request("info", 0.2)
    m.observe_restart("feed")
    m.observe_book_batch(3, 0.0002)
    m.observe_backlog(7)
    assert value(m, "hlmaker_orders_placed_total") == 2
    assert value(m, "hlmaker_orders_cancelled_total") == 1
    assert value(m, "hlmaker_orders_modified_total") == 1
    assert value(m, "hlmaker_request_latency_seconds_count", kind="place") == 1
    assert value(m, "hlmaker_request_latency_seconds_bucket", kind="info", le="0.25") == 1
    assert value(m, "hlmaker_actor_restarts_total", actor="feed") == 1
    assert value(m, "hlmaker_book_batch_apply_seconds_bucket", le="0.0005") == 1
    assert value(m, "hlmaker_book_batch_apply_seconds_bucket", le="0.0001") == 0
    assert value(m, "hlmaker_book_batch_messages_sum") == 3
    assert value(m, "hlmaker_book_inbox_backlog") == 7
    assert value(other, "hlmaker_orders_placed_total") == 0


def test_the_metrics_observer_feeds_what_the_actors_report() -> None:
    m = Metrics()
    observer = Observers(Observer(), MetricsObserver(m))  # as open_maker(observer=...) gets it
    req = OrderRequest(cloid="0x" + "0" * 32, coin="BTC", side="B", px=D(1), sz=D(1))
    observer.command_received(PlaceOrders(request_id=1, expires_after_ms=0, orders=(req,)))
    observer.request_finished("place", 0.03)
    observer.actor_restarted("book")
    observer.book_batch(5, 0.0002)
    observer.core_step(None, 0, [])  # not a metric: ignored
    assert value(m, "hlmaker_orders_placed_total") == 1
    assert value(m, "hlmaker_request_latency_seconds_count", kind="place") == 1
    assert value(m, "hlmaker_actor_restarts_total", actor="book") == 1
    assert value(m, "hlmaker_book_batch_messages_sum") == 5


async def call(app, path: str, method: str = "GET") -> tuple[int, bytes]:  # type: ignore
    sent: list[Response] = []

    async def respond(response: Response) -> None:
        sent.append(response)

    await app(Request(method, path, b"", (), b""), respond)
    return sent[0].status, sent[0].body


async def test_http_handler() -> None:
    with trio.fail_after(5):
        m = Metrics()
        m.observe_restart("book")
        app = metrics_app(m)
        status, body = await call(app, "/metrics")
        assert status == 200
        assert b'hlmaker_actor_restarts_total{actor="book"} 1.0' in body
        assert (await call(app, "/"))[0] == 404
        assert (await call(app, "/metrics", "POST"))[0] == 405


async def test_served_over_a_real_socket() -> None:
    """Bounded real-socket test (real clock): the web server on 127.0.0.1, an ephemeral port."""
    with trio.fail_after(10):
        m = Metrics()
        m.observe_view(view(attrs.evolve(Counters(), fills_applied=7)))
        async with trio.open_nursery() as nursery:
            port = await nursery.start(lambda task_status: serve_metrics(  # type: ignore
                m, host="127.0.0.1", port=0, task_status=task_status))
            assert port > 0
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                await stream.send_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                                      b"Connection: close\r\n\r\n")
                data = b""
                while chunk := await stream.receive_some(65536):
                    data += chunk
            assert data.startswith(b"HTTP/1.1 200")
            assert b"hlmaker_fills_total 7.0" in data
            nursery.cancel_scope.cancel()
