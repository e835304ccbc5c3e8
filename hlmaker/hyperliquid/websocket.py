"""A lean RFC 6455 WebSocket client on trio streams — the transport under ``WsClient``.

Why not trio-websocket: profiling the account feed at 10,000+ frames/s showed its reader task
yields to the scheduler once per message (a channel ``send`` per message into a queue read by
another task) and reads 4 KiB at a time: one full pass of trio's event loop per frame, about a
third of the client's CPU. This client reads up to ``receive_buffer_size`` bytes at once (when
there is a backlog; :data:`QUIET_READ_SIZE` when quiet) and hands every complete message in them
over as one batch (:meth:`WebSocket.get_messages`), so the feed pays one pass per read, not per
frame.

Two parts:

* :class:`FrameParser` — sans-IO: bytes in, complete messages and control frames out. It
  reassembles fragmented messages (control frames may come in between, §5.4), and refuses with
  :class:`~hlmaker.hyperliquid.errors.WsProtocolError` (close code in ``.code``): reserved bits
  (no extension is negotiated), a masked server frame (§5.1), an unknown opcode, a fragmented or
  over-125-byte control frame (§5.5), a continuation without a start or a new message inside a
  fragmented one (§5.4), a frame or message over ``max_message_size`` (1009, refused from its
  header, before its payload is buffered), a close frame with a 1-byte body (§5.5.1).
* :class:`WebSocket` and :func:`open_websocket` — the connection: the opening handshake over
  h11 (``Sec-WebSocket-Accept`` checked), masked client frames (§5.3, key from ``os.urandom``),
  pings answered with pongs at once, the close handshake both ways (a server close is echoed;
  :meth:`WebSocket.aclose` sends close 1000 and waits at most ``close_timeout_s`` for the
  echo), text messages as ``str`` (invalid UTF-8 → 1007), binary as ``bytes``.

Errors: every failure is a :class:`~hlmaker.hyperliquid.errors.TransportError` —
``WsProtocolError`` for a protocol violation (the client sends the matching close frame, best
effort, then drops the socket), a plain ``TransportError`` for a closed connection or a failed
connect — so ``WsClient`` counts it and the feed reconnects; nothing else escapes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

import h11
import trio

from hlmaker.hyperliquid.errors import TransportError, WsProtocolError

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
_DATA_OPS = (OP_CONTINUATION, OP_TEXT, OP_BINARY)
_CONTROL_OPS = (OP_CLOSE, OP_PING, OP_PONG)
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)
QUIET_READ_SIZE = 64 * 1024
"""Bytes asked of the socket per read while the feed is quiet; ``receive_buffer_size`` only
after a read came back full (a backlog). CPython's ``recv(n)`` allocates ``n`` bytes first —
256 KiB cost ~15 µs per read here (above malloc's mmap threshold), 64 KiB ~2 µs — and a tick
costs two reads (the frame, then the one that finds the socket empty)."""


class FrameParser:
    """Sans-IO frame reader of the client side: :meth:`feed` bytes, get ``(opcode, payload)``.

    Returned items are whole data messages (``OP_TEXT`` / ``OP_BINARY``, fragments joined) and
    control frames (``OP_CLOSE``, ``OP_PING``, ``OP_PONG``) in arrival order. After a close
    frame the parser is :attr:`closed` and ignores further bytes.
    """

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size
        self._buf = bytearray()
        self._frag_op: int | None = None
        self._frags: list[bytes] = []
        self._frag_len = 0
        self.closed = False
        self.error: WsProtocolError | None = None
        """The violation that closed the parser; frames complete before it were returned."""

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Parse ``data`` (any split of the stream).

        Raises:
            WsProtocolError: the stream broke RFC 6455 (see the module docstring); the parser
                is then closed. Frames complete before the violation are returned first (the
                error is then in :attr:`error` and raised by the next call).
        """
        if self.error is not None:
            raise self.error
        if self.closed:
            return []
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos, size = 0, len(buf)
        try:
            while size - pos >= 2:
                b0, b1 = buf[pos], buf[pos + 1]
                op, n, head = b0 & 0x0F, b1 & 0x7F, 2
                if n == 126:
                    if size - pos < 4:
                        break
                    n, head = (buf[pos + 2] << 8) | buf[pos + 3], 4
                elif n == 127:
                    if size - pos < 10:
                        break
                    n, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
                total = self._check_header(b0, b1, op, n)
                end = pos + head + n
                if end > size:
                    break
                payload = bytes(buf[pos + head:end])
                pos = end
                if op >= OP_CLOSE:
                    if op == OP_CLOSE:
                        if n == 1:
                            raise WsProtocolError("close frame with a 1-byte body")
                        self.closed = True
                        out.append((op, payload))
                        break
                    out.append((op, payload))
                elif b0 & 0x80:  # FIN
                    if op == OP_CONTINUATION:
                        self._frags.append(payload)
                        out.append((self._frag_op, b"".join(self._frags)))  # type: ignore[arg-type]
                        self._frag_op, self._frags, self._frag_len = None, [], 0
                    else:
                        out.append((op, payload))
                elif op == OP_CONTINUATION:
                    self._frags.append(payload)
                    self._frag_len = total
                else:
                    self._frag_op, self._frags, self._frag_len = op, [payload], total
        except WsProtocolError as exc:
            self.closed, self.error = True, exc
            buf.clear()
            if not out:
                raise
            return out
        del buf[:pos]
        return out

    def _check_header(self, b0: int, b1: int, op: int, n: int) -> int:
        """Refuse a bad header; returns the message's length so far with this frame."""
        if b0 & 0x70:
            raise WsProtocolError("reserved bits set (no extension was negotiated)")
        if b1 & 0x80:
            raise WsProtocolError("masked frame from the server")
        if op >= OP_CLOSE:
            if op not in _CONTROL_OPS:
                raise WsProtocolError(f"unknown control opcode {op:#x}")
            if not b0 & 0x80:
                raise WsProtocolError("fragmented control frame")
            if n > 125:
                raise WsProtocolError("control frame over 125 bytes")
            return n
        if op not in _DATA_OPS:
            raise WsProtocolError(f"unknown data opcode {op:#x}")
        if op == OP_CONTINUATION:
            if self._frag_op is None:
                raise WsProtocolError("continuation frame without a message to continue")
            total = self._frag_len + n
        else:
            if self._frag_op is not None:
                raise WsProtocolError("new data frame inside a fragmented message")
            total = n
        if total > self.max_message_size:
            raise WsProtocolError(
                f"message over {self.max_message_size} bytes", code=1009)
        return total


def client_frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 §5.2, §5.3); ``mask`` is 4 random bytes."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    if n:
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        payload = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")
    return head + mask + payload


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()[:120]


class WebSocket:
    """An open client connection (see the module docstring); made by :func:`open_websocket`,
    or over any trio stream whose handshake is done (``initial`` = bytes read past it)."""

    def __init__(self, stream: trio.abc.Stream, *, initial: bytes = b"",
                 max_message_size: int = 32 * 1024 * 1024,
                 receive_buffer_size: int = 256 * 1024, close_timeout_s: float = 1.0) -> None:
        self._stream = stream
        self._parser = FrameParser(max_message_size)
        self._initial = initial
        self._bufsize = receive_buffer_size
        self._quiet_size = min(receive_buffer_size, QUIET_READ_SIZE)
        self._read_size = self._quiet_size
        self._close_timeout_s = close_timeout_s
        self._send_lock = trio.Lock()
        self._pending: list[str | bytes] = []
        self._error: TransportError | None = None
        self._close_sent = False
        self._stream_closed = False
        self._reading = False
        self.pings_answered = 0
        self.close_code: int | None = None
        """The code of the server's close frame, once received (1005 when it had none)."""

    async def send_message(self, message: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message.

        Raises:
            TransportError: the connection is closed or broke.
        """
        if self._error is not None or self._close_sent:
            raise self._error or TransportError("connection closed")
        if isinstance(message, str):
            await self._send_frame(OP_TEXT, message.encode())
        else:
            await self._send_frame(OP_BINARY, bytes(message))

    async def _send_frame(self, opcode: int, payload: bytes) -> None:
        data = client_frame(opcode, payload, os.urandom(4))
        try:
            try:  # a free lock is taken without a schedule point (send_all has its own)
                self._send_lock.acquire_nowait()
            except trio.WouldBlock:
                await self._send_lock.acquire()
            try:
                await self._stream.send_all(data)
            finally:
                self._send_lock.release()
        except (*_STREAM_ERRORS, trio.BusyResourceError) as exc:
            raise TransportError(f"connection closed while sending: {type(exc).__name__}"
                                 ) from None

    async def get_messages(self) -> list[str | bytes]:
        """Every message that is complete in the next read (at least one), in order.

        Raises:
            WsProtocolError: the server broke the protocol (counted by ``WsClient``).
            TransportError: the connection closed (a close frame, EOF or a reset); messages
                received before it are returned first.
        """
        while not self._pending:
            if self._error is not None:
                raise self._error
            if self._initial:
                data, self._initial = self._initial, b""
            else:
                self._reading = True
                try:
                    data = await self._stream.receive_some(self._read_size)
                except _STREAM_ERRORS as exc:
                    await self._fail(TransportError(f"connection lost: {type(exc).__name__}"))
                    continue
                finally:
                    self._reading = False
                if not data:
                    await self._fail(TransportError("connection closed without a close frame"))
                    continue
                # A full read means a backlog: read big; else back to small reads (see
                # QUIET_READ_SIZE).
                self._read_size = (self._bufsize if len(data) >= self._read_size
                                   else self._quiet_size)
            try:
                items = self._parser.feed(data)
            except WsProtocolError as exc:
                await self._fail(exc, close_code=exc.code)
                continue
            for op, payload in items:
                if op == OP_TEXT:
                    try:
                        self._pending.append(payload.decode("utf-8"))
                    except UnicodeDecodeError:
                        await self._fail(WsProtocolError("text message is not UTF-8", 1007),
                                         close_code=1007)
                        break
                elif op == OP_BINARY:
                    self._pending.append(payload)
                elif op == OP_PING:
                    with suppress(TransportError):
                        await self._send_frame(OP_PONG, payload)
                        self.pings_answered += 1
                elif op == OP_CLOSE:
                    await self._on_close(payload)
            error = self._parser.error
            if error is not None:  # after the messages that preceded it
                await self._fail(error, close_code=error.code)
        out, self._pending = self._pending, []
        return out

    async def get_message(self) -> str | bytes:
        """The next message (prefer :meth:`get_messages` for throughput)."""
        if not self._pending:
            self._pending = await self.get_messages()
        return self._pending.pop(0)

    async def _on_close(self, payload: bytes) -> None:
        self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
        if not self._close_sent:  # echo it (§5.5.1), then the server closes the TCP socket
            self._close_sent = True
            with suppress(TransportError):
                await self._send_frame(OP_CLOSE, payload[:2])
        await self._fail(TransportError(f"connection closed by the server ({self.close_code})"))

    async def _fail(self, error: TransportError, close_code: int | None = None) -> None:
        if self._error is None:
            self._error = error
        if close_code is not None and not self._close_sent:
            self._close_sent = True
            with trio.move_on_after(self._close_timeout_s), suppress(TransportError):
                await self._send_frame(OP_CLOSE, close_payload(close_code))
        await self._close_stream()

    async def _close_stream(self) -> None:
        if not self._stream_closed:
            self._stream_closed = True
            with trio.CancelScope(shield=True), suppress(*_STREAM_ERRORS):
                await self._stream.aclose()

    async def aclose(self) -> None:
        """Close handshake (close 1000, wait ≤ ``close_timeout_s`` for the echo — unless
        another task is reading: then it sees the socket close), then the socket. Never
        raises; safe to call twice and from any task."""
        if self._stream_closed:
            return
        with trio.CancelScope(shield=True):
            if not self._close_sent and self._error is None:
                self._close_sent = True
                with trio.move_on_after(self._close_timeout_s):
                    try:
                        await self._send_frame(OP_CLOSE, close_payload(1000))
                        while self.close_code is None and not self._reading:
                            await self.get_messages()
                    except TransportError:
                        pass
            await self._close_stream()


def accept_key(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (§4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


async def handshake(stream: trio.abc.Stream, host: str, target: str) -> bytes:
    """The client opening handshake (§4.1); returns the bytes read past the 101 response.

    Raises:
        WsProtocolError: the server refused the upgrade or answered it wrongly.
        TransportError: the connection closed meanwhile.
    """
    key = base64.b64encode(os.urandom(16))
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(method="GET", target=target, headers=[
        ("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")])
    try:
        await stream.send_all(conn.send(request))
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(16384)
                if not data:
                    raise TransportError("connection closed during the handshake")
                conn.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                headers = {k.lower(): v for k, v in event.headers}
                if headers.get(b"upgrade", b"").lower() != b"websocket":
                    raise WsProtocolError("handshake: 101 without Upgrade: websocket")
                if headers.get(b"sec-websocket-accept") != accept_key(key):
                    raise WsProtocolError("handshake: wrong Sec-WebSocket-Accept")
                if headers.get(b"sec-websocket-extensions"):
                    raise WsProtocolError("handshake: an extension we did not ask for")
                return bytes(conn.trailing_data[0])
            if isinstance(event, h11.Response | h11.InformationalResponse):
                raise WsProtocolError(f"handshake refused: HTTP {event.status_code}")
            raise WsProtocolError(f"handshake: unexpected {type(event).__name__}")
    except h11.ProtocolError as exc:
        raise WsProtocolError(f"handshake: bad HTTP response ({exc})") from None
    except _STREAM_ERRORS as exc:
        raise TransportError(f"connection lost during the handshake: {type(exc).__name__}"
                             ) from None


@asynccontextmanager
async def open_websocket(url: str, *, max_message_size: int = 32 * 1024 * 1024,
                         receive_buffer_size: int = 256 * 1024, connect_timeout_s: float = 10.0,
                         close_timeout_s: float = 1.0) -> AsyncIterator[WebSocket]:
    """Connect to ``ws://host[:port]/path`` or ``wss://…`` (TLS, system CAs), yield the
    connection, close it (handshake, bounded) on exit.

    Raises:
        TransportError: ``cannot connect: …`` (refused, DNS, TLS, timeout, bad handshake).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    stream: trio.abc.Stream | None = None
    try:
        with trio.fail_after(connect_timeout_s):
            if secure:
                stream = await trio.open_ssl_over_tcp_stream(
                    parts.hostname, port, ssl_context=ssl.create_default_context(),
                    https_compatible=True)
            else:
                stream = await trio.open_tcp_stream(parts.hostname, port)
            initial = await handshake(stream, host, target)
    except (TransportError, *_STREAM_ERRORS, trio.TooSlowError, ssl.SSLError) as exc:
        if stream is not None:
            with trio.CancelScope(shield=True), suppress(*_STREAM_ERRORS):
                await stream.aclose()
        raise TransportError(f"cannot connect: {type(exc).__name__}: {exc}") from None
    ws = WebSocket(stream, initial=initial, max_message_size=max_message_size,
                   receive_buffer_size=receive_buffer_size, close_timeout_s=close_timeout_s)
    try:
        yield ws
    finally:
        await ws.aclose()
