"""A small HTTP/1.1 + WebSocket server on trio streams: h11 parses HTTP, wsproto frames WebSocket.

hlmaker serves two things over loopback — the simulator (``POST /info``, ``POST /exchange``,
WebSocket ``/ws``) and the opt-in Prometheus ``/metrics`` — and both go through
:class:`WebServer`. The protocol work stays in two well-kept sans-IO libraries (h11 for HTTP/1.1
requests, responses, keep-alive and the upgrade; wsproto for WebSocket frames, ping/pong and the
close handshake); this module only moves bytes between them and a trio stream.

Why not hypercorn: its trio worker lets an exception escaping one connection take the whole
server down (pgjones/hypercorn#225 — trailing bytes after a WebSocket upgrade request — still
open; reproduced by ``tests/sim/test_server.py``), and containing it needs hypercorn's private
per-connection classes. Here every connection runs under its own handler: an error in one (a
malformed request, a protocol violation, a bug in an application handler) closes that
connection only and is reported to ``on_error``.

Use::

    async def http(request: Request, respond: Respond) -> None:
        await respond(Response(200, b"ok"))

    server = WebServer(http, websockets={"/ws": handle_ws})
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.serve, listeners)
        ...
        await server.shutdown(graceful_s=1.0)   # stop accepting, let connections finish

No TLS, no HTTP/2, no WebSocket extensions (permessage-deflate is declined); request bodies and
WebSocket messages are capped at ``max_body`` bytes (413 / close code 1009).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace

import h11
import trio
from wsproto.connection import Connection as WsProtocol
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, TextMessage
from wsproto.utilities import LocalProtocolError

log = logging.getLogger("hlmaker.webserver")

MAX_BODY = 1 << 20
"""Largest request body / WebSocket message accepted, bytes."""
MAX_HEAD = 64 << 10
"""Largest request head (request line + headers), bytes."""
KEEP_ALIVE_S = 75.0
"""An idle keep-alive connection is closed after this many seconds (trio time)."""
RECEIVE_BYTES = 65536

TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One HTTP request: ``method`` (``"GET"``…), ``path`` (no query string), ``query``
    (bytes after ``?``), lower-cased header names, the whole body, and ``client``: the peer's
    IP address (``""`` when the stream is not a socket)."""

    method: str
    path: str
    query: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    client: str = ""


@dataclass(frozen=True)
class Response:
    """One HTTP response; ``content-length`` is set from ``body``. ``head_only`` sends the
    headers of ``body`` without it (``HEAD``)."""

    status: int
    body: bytes = b""
    content_type: str = TEXT
    head_only: bool = False


Respond = Callable[[Response], Awaitable[None]]
"""Writes the response; an HTTP handler awaits it exactly once."""
HttpHandler = Callable[[Request, Respond], Awaitable[None]]
"""``await handler(request, respond)``: a handler that returns without responding gets a 500;
one that raises gets a 500 if it had not responded yet, and the connection is closed."""
WsHandler = Callable[["WebSocket"], Awaitable[None]]
"""Runs for one accepted WebSocket; when it returns the connection is closed (code 1000 unless
the handler closed it)."""


class WebSocket:
    """The server end of one accepted WebSocket (text frames; binary ones are decoded as UTF-8).

    Iterate it for the client's messages (the iteration ends when the client closes or the
    connection breaks); :meth:`send` one text message; :meth:`close` with a code. Pings are
    answered while iterating. Sends are serialised by a lock (a reply to a ping may race a
    message from another task).
    """

    def __init__(self, stream: trio.abc.Stream, protocol: WsProtocol, path: str,
                 max_message: int = MAX_BODY) -> None:
        self.path = path
        self._stream = stream
        self._ws = protocol
        self._lock = trio.Lock()
        self._max = max_message
        self._pending: deque[Event] = deque(protocol.events())
        self._parts: list[str] = []
        self._raw: list[bytes] = []
        self._size = 0

    @property
    def open(self) -> bool:
        """Whether messages may still be sent."""
        return self._ws.state is ConnectionState.OPEN

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> str:
        """The next complete message, as text.

        Raises:
            StopAsyncIteration: the client closed, the stream broke, or a protocol error
                closed the connection (1002) or a message exceeded ``max_message`` (1009).
        """
        while True:
            while self._pending:
                text = await self._event(self._pending.popleft())
                if text is not None:
                    return text
            if self._ws.state is not ConnectionState.OPEN:
                raise StopAsyncIteration
            try:
                data = await self._stream.receive_some(RECEIVE_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise StopAsyncIteration from None
            if not data:
                raise StopAsyncIteration
            self._ws.receive_data(data)
            self._pending.extend(self._ws.events())

    async def _event(self, event: Event) -> str | None:
        if isinstance(event, TextMessage | BytesMessage):
            self._size += len(event.data)
            if self._size > self._max:
                await self.close(1009)
                raise StopAsyncIteration
            if isinstance(event, TextMessage):
                self._parts.append(event.data)
            else:
                self._raw.append(event.data)
            if not event.message_finished:
                return None
            text = "".join(self._parts) if self._parts else b"".join(self._raw).decode(
                "utf-8", "replace")
            self._parts, self._raw, self._size = [], [], 0
            return text
        if isinstance(event, Ping):
            await self._send_bytes(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if self._ws.state is ConnectionState.REMOTE_CLOSING:  # the client closed
                with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await self._send_bytes(self._ws.send(event.response()))
            else:  # wsproto could not parse the client's frames (1002)
                await self.close(event.code)
            raise StopAsyncIteration
        return None

    async def send(self, text: str) -> None:
        """Send one text message.

        Raises:
            trio.ClosedResourceError: the WebSocket is closing or closed.
            trio.BrokenResourceError: the peer is gone.
        """
        try:
            data = self._ws.send(TextMessage(data=text))
        except LocalProtocolError:
            raise trio.ClosedResourceError("websocket closed") from None
        await self._send_bytes(data)

    async def send_many(self, texts: list[str]) -> None:
        """Send several text messages in one write (the simulator's writer batches pushes).

        Raises:
            trio.ClosedResourceError: the WebSocket is closing or closed.
            trio.BrokenResourceError: the peer is gone.
        """
        try:
            data = b"".join([self._ws.send(TextMessage(data=text)) for text in texts])
        except LocalProtocolError:
            raise trio.ClosedResourceError("websocket closed") from None
        await self._send_bytes(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the close handshake with ``code`` (no-op once closing; never raises for a
        peer that is gone)."""
        if self._ws.state is not ConnectionState.OPEN:
            return
        data = self._ws.send(CloseConnection(code=code, reason=reason or None))
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._send_bytes(data)

    async def _send_bytes(self, data: bytes) -> None:
        async with self._lock:
            await self._stream.send_all(data)


class _BadRequest(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class WebServer:
    """Serves ``http`` (every plain request) and ``websockets`` (path → handler for WebSocket
    upgrades) on trio listeners.

    Args:
        http: the HTTP handler (see :data:`HttpHandler`).
        websockets: WebSocket handlers by exact path; an upgrade to another path gets 404.
        on_error: called with each exception that closed a connection (a bug or a malformed
            request), after it was logged; the server keeps serving.
        keep_alive_s: idle keep-alive timeout, seconds.
        max_body: request body / WebSocket message cap, bytes.
    """

    def __init__(
        self,
        http: HttpHandler,
        websockets: Mapping[str, WsHandler] | None = None,
        *,
        on_error: Callable[[BaseException], None] | None = None,
        keep_alive_s: float = KEEP_ALIVE_S,
        max_body: int = MAX_BODY,
    ) -> None:
        self.http = http
        self.websockets = dict(websockets or {})
        self.on_error = on_error
        self.keep_alive_s = keep_alive_s
        self.max_body = max_body
        self._accepting = trio.CancelScope()
        self._connections: trio.Nursery | None = None
        self._idle: set[trio.CancelScope] = set()
        self._closing = False
        self._active = 0
        self._drained = trio.Event()
        self._done = trio.Event()

    async def serve(self, listeners: list[trio.SocketListener], *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Accept connections on ``listeners`` until :meth:`shutdown` or cancellation; each
        connection gets its own task. Closes the listeners when it returns.

        Raises:
            OSError: accepting failed for a reason other than a per-connection error.
        """
        try:
            async with trio.open_nursery() as connections:
                self._connections = connections
                with self._accepting:
                    async with trio.open_nursery() as accept:
                        for listener in listeners:
                            accept.start_soon(self._accept_loop, listener, connections)
                        task_status.started()
        finally:
            self._done.set()

    async def _accept_loop(self, listener: trio.SocketListener, connections: trio.Nursery) -> None:
        async with listener:
            while True:
                stream = await listener.accept()
                connections.start_soon(self._connection, stream)

    async def shutdown(self, graceful_s: float = 1.0) -> None:
        """Stop accepting, close idle keep-alive connections, give the busy ones ``graceful_s``
        seconds, then cancel them; returns when :meth:`serve` has returned (shielded)."""
        self._closing = True
        self._accepting.cancel()
        for scope in list(self._idle):
            scope.cancel()
        with trio.CancelScope(shield=True):
            with trio.move_on_after(graceful_s):
                if self._active:
                    self._drained = trio.Event()
                    await self._drained.wait()
            if self._connections is not None:
                self._connections.cancel_scope.cancel()
            await self._done.wait()

    # ---- one connection ---------------------------------------------------------------------

    async def _connection(self, stream: trio.SocketStream) -> None:
        self._active += 1
        try:
            async with stream:
                await self._http(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the peer went away
        except Exception as exc:  # one connection never takes the server down
            log.warning("connection closed after an error: %r", exc)
            if self.on_error is not None:
                self.on_error(exc)
        finally:
            self._active -= 1
            if not self._active:
                self._drained.set()

    async def _http(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        while True:
            try:
                request = await self._request(conn, stream)
            except _BadRequest as bad:
                await self._reject(conn, stream, bad.status, bad.text)
                return
            except h11.RemoteProtocolError as exc:
                await self._reject(conn, stream, exc.error_status_hint, "Bad Request")
                return
            if request is None:
                return
            handler = self.websockets.get(request.path)
            if _is_websocket(request):
                if handler is None:
                    await self._reject(conn, stream, 404, "Not Found")
                    return
                await self._websocket(conn, stream, request, handler)
                return
            await self._respond_to(conn, stream, request)
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _request(self, conn: h11.Connection, stream: trio.SocketStream) -> Request | None:
        """The next request with its whole body, or ``None`` when the client closed / idled."""
        with trio.move_on_after(self.keep_alive_s) as idle:
            self._idle.add(idle)
            if self._closing:
                idle.cancel()
            try:
                event = await _next(conn, stream)
            finally:
                self._idle.discard(idle)
        if idle.cancelled_caught or isinstance(event, h11.ConnectionClosed):
            return None
        if not isinstance(event, h11.Request):
            raise _BadRequest(400, "Bad Request")
        target = event.target
        path, _, query = target.partition(b"?")
        chunks: list[bytes] = []
        size = 0
        while True:
            part = await _next(conn, stream)
            if isinstance(part, h11.Data):
                size += len(part.data)
                if size > self.max_body:
                    raise _BadRequest(413, "Payload Too Large")
                chunks.append(part.data)
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                return None  # the client closed mid-request
        return Request(event.method.decode("ascii", "replace"),
                       path.decode("utf-8", "replace"), query,
                       tuple((k.lower(), v) for k, v in event.headers), b"".join(chunks),
                       _peer_ip(stream))

    async def _respond_to(self, conn: h11.Connection, stream: trio.SocketStream,
                          request: Request) -> None:
        responded = False

        async def respond(response: Response) -> None:
            nonlocal responded
            if responded:
                raise RuntimeError("respond called twice")
            responded = True
            if request.method == "HEAD":
                response = replace(response, head_only=True)
            await _send_response(conn, stream, response)

        try:
            await self.http(request, respond)
        except Exception:
            if responded:
                raise
            log.exception("HTTP handler failed for %s %s", request.method, request.path)
            await _send_response(conn, stream, Response(500, b"Internal Server Error"))
            return
        if not responded:
            log.error("HTTP handler for %s %s did not respond", request.method, request.path)
            await _send_response(conn, stream, Response(500, b"Internal Server Error"))

    async def _reject(self, conn: h11.Connection, stream: trio.SocketStream, status: int,
                      text: str) -> None:
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            await _send_response(conn, stream, Response(status, text.encode()), close=True)

    async def _websocket(self, conn: h11.Connection, stream: trio.SocketStream,
                         request: Request, handler: WsHandler) -> None:
        headers = dict(request.headers)
        key = headers.get(b"sec-websocket-key")
        if request.method != "GET" or key is None:
            await self._reject(conn, stream, 400, "Bad WebSocket upgrade request")
            return
        if headers.get(b"sec-websocket-version") != b"13":
            await stream.send_all(conn.send(h11.Response(status_code=426, headers=[
                (b"sec-websocket-version", b"13"), (b"content-length", b"0"),
                (b"connection", b"close")])) or b"")
            return
        await stream.send_all(conn.send(h11.InformationalResponse(status_code=101, headers=[
            (b"upgrade", b"websocket"), (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", accept_token(key))])) or b"")
        trailing, _closed = conn.trailing_data
        ws = WebSocket(stream, WsProtocol(ConnectionType.SERVER, trailing_data=bytes(trailing)),
                       request.path, self.max_body)
        try:
            await handler(ws)
        finally:
            with trio.move_on_after(1.0, shield=True):
                await ws.close(1000)


def accept_token(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(key.strip() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest)


def _is_websocket(request: Request) -> bool:
    for name, value in request.headers:
        if name == b"upgrade" and value.strip().lower() == b"websocket":
            return True
    return False


def _peer_ip(stream: trio.abc.Stream) -> str:
    """The peer's IP address of a socket stream, ``""`` for any other stream."""
    sock = getattr(stream, "socket", None)
    try:
        peer = sock.getpeername() if sock is not None else None
    except OSError:
        return ""
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


async def _next(conn: h11.Connection, stream: trio.SocketStream) -> h11.Event | type[h11.PAUSED]:
    """The next h11 event, reading from ``stream`` as needed (EOF → ``ConnectionClosed``)."""
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        data = await stream.receive_some(RECEIVE_BYTES)
        conn.receive_data(data)


async def _send_response(conn: h11.Connection, stream: trio.SocketStream, response: Response,
                         close: bool = False) -> None:
    headers = [(b"content-type", response.content_type.encode()),
               (b"content-length", str(len(response.body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    data = conn.send(h11.Response(status_code=response.status, headers=headers)) or b""
    if response.body and not response.head_only:
        data += conn.send(h11.Data(data=response.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)
