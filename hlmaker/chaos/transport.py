"""In-memory transports from the bot's venue clients to a :class:`~.exchange.SimExchange`.

* :class:`SimHttpTransport` — an ``httpx.AsyncBaseTransport`` for
  :class:`~hlmaker.hyperliquid.rest.RestClient`: ``POST /info`` and ``/exchange`` bodies (JSON
  bytes) go to the exchange and come back with the exact status codes, content types and bodies
  the real simulator server sends (plain text for 4xx/5xx). A partition raises
  ``httpx.ConnectError``; a lost response raises ``httpx.ReadTimeout`` after the request's read
  timeout (the client's own deadline usually fires first; both end as ``RequestTimeout``).
* :func:`sim_connector` — a ``hlmaker.hyperliquid.ws.Connector``: each call opens an in-memory
  WebSocket to the exchange carrying JSON text frames, parsed by the bot's real codec.

No sockets, no threads: everything runs in the simulation's trio run under ``MockClock``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import httpx

from hlmaker.chaos.exchange import SimExchange
from hlmaker.hyperliquid.ws import Connector, WsConnection

DEFAULT_READ_TIMEOUT_S = 10.0


class SimHttpTransport(httpx.AsyncBaseTransport):
    """Routes httpx requests to ``exchange`` (any host; only the path matters)."""

    def __init__(self, exchange: SimExchange) -> None:
        self.exchange = exchange

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
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
    """A connector opening in-memory WebSockets to ``exchange``."""

    def connect() -> AbstractAsyncContextManager[WsConnection]:
        return exchange.connect()  # type: ignore[return-value]

    return connect
