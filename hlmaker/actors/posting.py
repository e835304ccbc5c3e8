"""How the executor reaches ``/exchange``: WebSocket ``post`` when possible, REST otherwise.

:class:`RoutePoster` sends over its own WebSocket post connection (kept up by
:meth:`WsPostLink.run`, reconnecting with jittered backoff) and falls back to REST when the link
is down or no post slot freed up in time. Any failure once the post may have left (timeout,
connection lost, an ``error``-typed answer) is not retried here: the executor decides (it
re-sends the same signed envelope, which the exchange's nonce rule makes idempotent).
"""

from __future__ import annotations

import logging
import random
from typing import Any, Protocol

import trio

from hlmaker.hyperliquid.errors import (
    RequestTimeout,
    VenueError,
)
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.hyperliquid.ws import Backoff, Connector, WsClient, action_reply, run_reconnecting

log = logging.getLogger("hlmaker.executor")


class Poster(Protocol):
    """Sends one signed envelope; returns ``(reply, "ws" | "rest")``.

    Raises the venue errors (:mod:`hlmaker.hyperliquid.errors`): ``ExchangeError`` for
    ``{"status": "err"}``, ``RequestTimeout`` / ``TransportError`` when the outcome is unknown,
    ``RateLimited`` / ``ServerError`` for HTTP 429 / 5xx.
    """

    async def post_action(self, envelope: dict[str, Any],
                          timeout_s: float) -> tuple[dict[str, Any], str]: ...


POST_BACKOFF_S = (0.5, 10.0)
"""The post link's reconnect backoff (base, cap), seconds: with the feed's, at most 30 new
WebSocket connections a minute even when every connect fails at once (§8; tested)."""


class WsPostLink:
    """A WebSocket connection used only for ``post`` requests (no subscriptions)."""

    def __init__(self, connector: Connector | str, rng: random.Random) -> None:
        self._connector = connector
        self._backoff = Backoff(rng, base_s=POST_BACKOFF_S[0], cap_s=POST_BACKOFF_S[1])
        self.client: WsClient | None = None
        self.connects = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the link up until cancelled."""
        task_status.started()

        async def session(client: WsClient, reconnect: bool) -> None:
            self.client = client
            self.connects += 1
            try:
                await trio.sleep_forever()
            finally:
                self.client = None

        async def on_disconnect(error: VenueError) -> None:
            self.client = None
            log.info("executor post link down: %s", error)

        await run_reconnecting(self._connector, session, self._backoff,
                               on_disconnect=on_disconnect)


class RoutePoster:
    """WS post when the link is up, REST otherwise."""

    def __init__(self, rest: RestClient, link: WsPostLink | None = None) -> None:
        self.rest = rest
        self.link = link

    async def post_action(self, envelope: dict[str, Any],
                          timeout_s: float) -> tuple[dict[str, Any], str]:
        client = self.link.client if self.link is not None else None
        if client is not None and client.failure is None:
            # A TransportError propagates: the post may have left before the connection died
            # (its own waiter is gone by then, so ``in_flight`` cannot tell); the executor
            # re-sends the same envelope, over REST once the link is down.
            try:
                response = await client.post("action", envelope, timeout_s)
            except RequestTimeout as exc:
                if exc.sent:
                    raise
            else:
                return action_reply(response), "ws"
        with trio.move_on_after(timeout_s) as scope:
            reply = await self.rest.post_action(envelope)
        if scope.cancelled_caught:
            raise RequestTimeout(f"POST /exchange: no response within {timeout_s} s")
        return reply, "rest"
