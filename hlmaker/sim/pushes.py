"""Routing a :class:`~hlmaker.sim.ws.WsSession`'s pushes to its connection's outbox.

The simulated exchange (:class:`hlmaker.sim.exchange.FaultedExchange`, whatever its transport)
needs this: the service calls ``on_push(session)`` whenever a session has pushes ready, and the
router queues them on that session's outbox, *unless* an action is running, in which case the
pushes the action produced are held back (``captured``) so the exchange decides their order
relative to the action's reply (``../shared/hyperliquid-protocol.md``: a fill may arrive
before or after the post response).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from hlmaker.sim.ws import Push, WsSession


class PushConn(Protocol):
    """What the router needs of a connection."""

    closed: bool

    def put(self, text: str, push: Push | None) -> None:
        """Queue ``text`` for the client (``push`` is ``None`` for a reply)."""
        ...


C = TypeVar("C", bound=PushConn)


class PushRouter(Generic[C]):
    """``conns`` maps a session id to its open connection (the transport adds and removes
    them); :meth:`on_push` is the service's ``on_push`` hook."""

    def __init__(self) -> None:
        self.conns: dict[int, C] = {}
        self._capture: list[tuple[C, Push]] | None = None

    def on_push(self, session: WsSession) -> None:
        """Take ``session``'s pushes; queue them on its connection, or hold them back while
        :meth:`captured` runs. Pushes for a closed or unknown connection are dropped (the
        client lost them with the connection, as on the real exchange)."""
        conn = self.conns.get(session.session_id)
        pushes = session.take_pushes()
        if conn is None or conn.closed:
            return
        for push in pushes:
            if self._capture is not None:
                self._capture.append((conn, push))
            else:
                conn.put(push.text, push)

    def captured(self, fn: Callable[[], Any]) -> tuple[Any, list[tuple[C, Push]]]:
        """Call ``fn``; return its result and the pushes it produced, held back in order."""
        self._capture = []
        try:
            return fn(), self._capture
        finally:
            self._capture = None

    @staticmethod
    def release(captured: list[tuple[C, Push]]) -> None:
        """Queue held-back pushes on their connections (in order; closed ones drop them)."""
        for conn, push in captured:
            if not conn.closed:
                conn.put(push.text, push)
