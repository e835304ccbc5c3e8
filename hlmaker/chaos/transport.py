"""In-memory transports from the bot's venue clients to a :class:`~.exchange.SimExchange`.

* :class:`SimHttpTransport` — an ``httpx.AsyncBaseTransport`` for
  :class:`~hlmaker.hyperliquid.rest.RestClient`: ``POST /info`` and ``/exchange`` bodies (JSON
  bytes) go to the exchange and come back with the exact status codes, content types and bodies
  the real simulator server sends (plain text for 4xx/5xx). A partition raises
  ``httpx.ConnectError``; a lost response raises ``httpx.ReadTimeout`` after the request's read
  timeout (the client's own deadline usually fires first; both end as ``RequestTimeout``).
* :func:`sim_connector` — a ``hlmaker.hyperliquid.ws.Connector``: each call opens an in-memory
  WebSocket to the exchange carrying JSON text frames, parsed by the bot's real codec.
* :func:`memory_websocket` — the two ends of one in-memory WebSocket: the exchange's
  (:class:`MemoryWsTransport`, a :class:`~hlmaker.sim.exchange.WsTransport`) and the client's
  (:class:`SimWsConnection`, a ``hlmaker.hyperliquid.ws.WsConnection``).

No sockets, no threads: everything runs in the simulation's trio run under ``MockClock``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import httpx
import trio

from hlmaker.hyperliquid.ws import Connector, WsConnection

if TYPE_CHECKING:
    from hlmaker.chaos.exchange import SimExchange

DEFAULT_READ_TIMEOUT_S = 10.0
TO_CLIENT_BUFFER = 10_000
"""Frames the exchange may queue towards one client before its writer blocks."""
TO_SERVER_BUFFER = 1_000
"""Frames a client may queue towards the exchange before its send blocks."""


class SimWsConnection:
    """The client end of an in-memory WebSocket (a ``hlmaker.hyperliquid.ws.WsConnection``).

    Closed-connection errors are trio's (``EndOfChannel`` on read after the server closed,
    ``BrokenResourceError`` on send), which the WebSocket client treats like a closed socket.
    """

    def __init__(self, send: trio.MemorySendChannel[str],
                 receive: trio.MemoryReceiveChannel[str]) -> None:
        self._send = send
        self._receive = receive

    async def send_message(self, message: str | bytes) -> None:
        """Send one frame (bytes are decoded as UTF-8).

        Raises:
            trio.BrokenResourceError: the exchange closed the connection.
        """
        await self._send.send(message if isinstance(message, str) else message.decode())

    async def get_message(self) -> str:
        """The next frame from the exchange.

        Raises:
            trio.EndOfChannel: the exchange closed the connection.
        """
        return await self._receive.receive()

    async def aclose(self) -> None:
        """Close the client end (a checkpoint)."""
        self.close()
        await trio.lowlevel.checkpoint()

    def close(self) -> None:
        """Close the client end (the exchange's reader sees the end of its frames)."""
        self._send.close()
        self._receive.close()


class MemoryWsTransport:
    """The exchange end of an in-memory WebSocket (a :class:`~hlmaker.sim.exchange.WsTransport`):
    ``incoming`` is the channel of client frames; :meth:`send` raises
    ``trio.BrokenResourceError`` once the client closed, ``trio.ClosedResourceError`` once the
    exchange did."""

    def __init__(self, to_client: trio.MemorySendChannel[str],
                 from_client: trio.MemoryReceiveChannel[str]) -> None:
        self.to_client = to_client
        self.incoming = from_client

    async def send(self, text: str) -> None:
        """Queue one frame for the client (blocks while its buffer is full)."""
        await self.to_client.send(text)

    def close(self) -> None:
        """Drop the connection: the client reads ``EndOfChannel``, its sends break."""
        self.to_client.close()
        self.incoming.close()


def memory_websocket() -> tuple[MemoryWsTransport, SimWsConnection]:
    """A new in-memory WebSocket: ``(exchange end, client end)``; text frames only."""
    c2s_send, c2s_recv = trio.open_memory_channel[str](TO_SERVER_BUFFER)
    s2c_send, s2c_recv = trio.open_memory_channel[str](TO_CLIENT_BUFFER)
    return MemoryWsTransport(s2c_send, c2s_recv), SimWsConnection(c2s_send, s2c_recv)


class SimHttpTransport(httpx.AsyncBaseTransport):
    """Routes httpx requests to ``exchange`` (any host; only the path matters)."""

    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One request → :meth:`SimExchange.http`; non-``POST`` → 405 like the server.

        Raises:
            httpx.ConnectError: during a partition.
            httpx.ReadTimeout: the response is lost (after the request's read timeout).
        """
        body = await request.aread()
        if request.method != "POST":
            return httpx.Response(405, text="Method Not Allowed", request=request)
        timeout = request.extensions.get("timeout") or {}
        read_timeout = timeout.get("read") or DEFAULT_READ_TIMEOUT_S
        try:
            status, ctype, data = await self.exchange.http(request.url.path, body, read_timeout)
        except httpx.TransportError as exc:
            exc.request = request
            raise
        return httpx.Response(
            status, headers={"content-type": ctype, "content-length": str(len(data))},
            content=data, request=request)


def sim_connector(exchange: SimExchange) -> Connector:
    """A connector opening in-memory WebSockets to ``exchange`` (:meth:`SimExchange.connect`)."""

    def connect() -> AbstractAsyncContextManager[WsConnection]:
        return exchange.connect()  # type: ignore[return-value]

    return connect
