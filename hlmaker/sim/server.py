"""The simulator's socket server: one port, ``POST /info``, ``POST /exchange``, WebSocket ``/ws``.

A thin adapter: :class:`Simulator` is the one fault-applying exchange
(:class:`~hlmaker.sim.exchange.FaultedExchange`) with its fault decisions drawn by a seeded
:class:`~hlmaker.sim.faults.FaultInjector`, and :func:`open_simulator` serves it with
:class:`~hlmaker.webserver.WebServer` (h11 + wsproto on trio streams). This module only maps
HTTP requests and WebSocket messages onto the exchange:

* ``POST /info`` / ``POST /exchange`` → :meth:`FaultedExchange.http` (exact status codes and
  bodies; a lost response is held ``lost_response_hold_ms`` and then answered 504); other paths
  404, other methods 405, bodies over 1 MiB 413;
* WebSocket ``/ws`` → one outbox per connection (:meth:`FaultedExchange.open_connection` /
  :meth:`~FaultedExchange.serve_connection`); a connection the exchange drops (F4, shutdown) is
  closed with code 1012.

Use from trio::

    async with open_simulator(seed=1, faults="none", epoch_ms=1_700_000_000_000) as sim:
        sim.base_url          # "http://127.0.0.1:<port>" (port 0 picks a free one)
        sim.engine            # ground truth: fills_for / open_orders_for / position / order_status

and from blocking code (the official SDK, ``hlmaker run``)::

    with SimulatorThread(seed=1, epoch_ms=int(time.time() * 1000)) as sim:   # hlmaker.sim.thread
        Info(sim.base_url, skip_ws=True)
        sim.call(lambda: sim.engine.position(addr, "BTC"))   # runs in the simulator's thread

Time comes from the :class:`~hlmaker.clock.Clock` passed in (default: a
:class:`~hlmaker.clock.WallClock` anchored at ``epoch_ms``); randomness from ``random.Random``
seeded with ``seed`` (separate streams for the market and the faults).
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypedDict, Unpack

import trio

from hlmaker.clock import Clock, WallClock
from hlmaker.sim.engine import Engine, EngineConfig
from hlmaker.sim.exchange import FaultedExchange, HttpReply
from hlmaker.sim.faults import ERROR_TEXT, FaultInjector, FaultProfile
from hlmaker.sim.limits import ERR_WS_CONNECTIONS, ERR_WS_NEW_CONNECTIONS
from hlmaker.sim.market import MarketConfig, SyntheticMarket, TradeReplay
from hlmaker.sim.rules import DEFAULT_UNIVERSE, AssetSpec
from hlmaker.sim.service import ServiceConfig
from hlmaker.sim.ws import dumps
from hlmaker.webserver import Request, Respond, Response, WebServer, WebSocket

log = logging.getLogger("hlmaker.sim")

GRACEFUL_S = 1.0
"""On shutdown, connections get this long to finish before they are cancelled."""
CLOSE_POLICY = 1008
"""WebSocket close code of a connection refused by the connection limit."""
CLOSE_DROPPED = 1012
"""WebSocket close code of a connection the exchange dropped (service restart)."""


class _SocketWs:
    """A :class:`~hlmaker.webserver.WebSocket` as the exchange's ``WsTransport``."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.incoming = ws

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def send_many(self, texts: list[str]) -> None:
        await self.ws.send_many(texts)

    def close(self) -> None:
        """Nothing to do at once: :meth:`Simulator.handle_websocket` sends the close frame
        when :meth:`~FaultedExchange.serve_connection` returns."""


class SimulatorOptions(TypedDict, total=False):
    """The simulator's settings (all optional), for :class:`Simulator`, :func:`open_simulator`
    and :class:`~hlmaker.sim.thread.SimulatorThread`.

    ``seed`` (0) seeds the market (``hlmaker-sim/<seed>/market``) and the faults
    (``hlmaker-sim/<seed>/faults``); ``faults`` (``"none"``): a profile name (``none``,
    ``default``, ``harsh``) or a :class:`FaultProfile`; ``universe`` / ``engine_config``: the
    engine's assets and settings; ``market`` / ``with_market`` (True) / ``replay``: synthetic
    market settings, or no market at all; ``service_config``: auto-funding, signature flavour,
    push throttles; ``step_ms`` (100): period of the market/timer clock (trio time);
    ``on_frame``: ``on_frame(session_id, text)`` right before each text frame goes to a
    WebSocket (a probe, e.g. for a benchmark; called in the simulator's trio run,
    keep it cheap).
    """

    seed: int
    faults: str | FaultProfile
    universe: tuple[AssetSpec, ...]
    engine_config: EngineConfig | None
    market: MarketConfig | None
    with_market: bool
    service_config: ServiceConfig | None
    replay: TradeReplay | None
    step_ms: int
    on_frame: Callable[[int, str], None] | None


class Simulator(FaultedExchange):
    """The simulator as served on a socket: the faulted exchange plus its address.

    ``clock`` is the exchange time; the other settings are :class:`SimulatorOptions`.

    Raises:
        ValueError: an unknown fault profile name.
    """

    def __init__(self, *, clock: Clock, **options: Unpack[SimulatorOptions]) -> None:
        seed = options.get("seed", 0)
        engine = Engine(options.get("universe", DEFAULT_UNIVERSE), options.get("engine_config"))
        market = None
        if options.get("with_market", True):
            rng = random.Random(f"hlmaker-sim/{seed}/market")
            market = SyntheticMarket(engine, rng, options.get("market"), options.get("replay"))
        faults = FaultInjector(options.get("faults", "none"),
                               random.Random(f"hlmaker-sim/{seed}/faults"))
        super().__init__(
            clock=clock,
            engine=engine,
            market=market,
            faults=faults,
            service_config=options.get("service_config"),
            step_ms=options.get("step_ms", 100),
            on_frame=options.get("on_frame"),
            contain_errors=True,
        )
        self.seed = seed
        self.base_url = ""
        """``http://host:port`` once served."""
        self.port = 0

    async def handle_http(self, request: Request, respond: Respond) -> None:
        """A :data:`~hlmaker.webserver.HttpHandler`: ``POST /info`` and ``POST /exchange`` go
        to the exchange (faults applied); any other path is 404, another method 405 (plain
        text). A lost response (F6/F7) is held ``lost_response_hold_ms``, then answered 504."""
        if request.path not in ("/info", "/exchange"):
            await respond(Response(404, b"Not Found"))
            return
        if request.method != "POST":
            await respond(Response(405, b"Method Not Allowed"))
            return

        async def send(reply: HttpReply | None) -> None:
            status, ctype, data = reply or (504, "text/plain; charset=utf-8",
                                            ERROR_TEXT[504].encode())
            await respond(Response(status, data, ctype))

        hold_s = self.faults.profile.lost_response_hold_ms / 1000
        await self.http(request.path[1:], request.body, send, lost_hold_s=hold_s,
                        ip=request.client or "loopback")

    async def handle_websocket(self, ws: WebSocket) -> None:
        """A :data:`~hlmaker.webserver.WsHandler` for ``/ws``: one session and outbox until
        the client closes or the exchange drops the connection (then closed with 1012). Past
        the per-IP connection limit, or the new connections per minute, the socket gets an
        ``error`` frame and is closed (1008)."""
        limits = self.service.config.limits
        refusal = None
        if limits.ws_max_connections is not None \
                and self.open_connections() >= limits.ws_max_connections:
            refusal = ERR_WS_CONNECTIONS.format(n=limits.ws_max_connections)
        elif not self.service.ws_connects.take("loopback", 1, self.now_ms()):
            refusal = ERR_WS_NEW_CONNECTIONS.format(n=limits.ws_new_connections_per_min)
        if refusal is not None:
            with trio.move_on_after(1.0, shield=True):
                await ws.send(dumps({"channel": "error", "data": refusal}))
                await ws.close(CLOSE_POLICY)
            return
        await self.serve_connection(self.open_connection(_SocketWs(ws)))
        if ws.open:  # the exchange dropped it (the client's close leaves it closed)
            with trio.move_on_after(1.0, shield=True):
                await ws.close(CLOSE_DROPPED)


@asynccontextmanager
async def open_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    epoch_ms: int | None = None,
    **options: Unpack[SimulatorOptions],
) -> AsyncIterator[Simulator]:
    """Serve a simulator on ``host:port`` for the duration of the block (trio only).

    Args:
        port: 0 picks a free port; the actual one is ``sim.port`` / in ``sim.base_url``.
        clock: time source; default ``WallClock(epoch_ms)`` (one of them is required).
        options: :class:`SimulatorOptions` (seed, fault profile, market, ``on_frame`` …).

    On exit every WebSocket is closed (1012), open connections get :data:`GRACEFUL_S` to
    finish, then the server stops: a client never hangs on a dead simulator.

    Raises:
        ValueError: neither ``clock`` nor ``epoch_ms`` given, or an unknown fault profile.
        OSError: the port cannot be bound.
    """
    if clock is None:
        if epoch_ms is None:
            raise ValueError("open_simulator needs clock= or epoch_ms= (the wall-clock anchor)")
        clock = WallClock(epoch_ms)
    sim = Simulator(clock=clock, **options)
    server = WebServer(
        sim.handle_http,
        {"/ws": sim.handle_websocket},
        on_error=lambda exc: sim.faults.count("server_connection_errors"),
    )
    listeners = await trio.open_tcp_listeners(port, host=host)
    sim.port = int(listeners[0].socket.getsockname()[1])
    sim.base_url = f"http://{host}:{sim.port}"
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.serve)
        await nursery.start(server.serve, listeners)
        try:
            yield sim
        finally:
            sim.disconnect_all()
            await server.shutdown(GRACEFUL_S)
            nursery.cancel_scope.cancel()
