"""The h11 + wsproto server over real loopback sockets (real clock, bounded by fail_after)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
import trio
import trio_websocket

from hlmaker.webserver import Request, Respond, Response, WebServer, WebSocket


async def _http(request: Request, respond: Respond) -> None:
    if request.path == "/boom":
        raise RuntimeError("handler bug")
    if request.path == "/silent":
        return
    await respond(Response(200, f"{request.method} {request.path} {len(request.body)}".encode()))


async def _echo(ws: WebSocket) -> None:
    async for text in ws:
        if text == "bye":
            await ws.close(4000)
            return
        await ws.send(text.upper())


@asynccontextmanager
async def _served(errors: list[BaseException]) -> AsyncIterator[tuple[WebServer, int]]:
    server = WebServer(_http, {"/ws": _echo}, on_error=errors.append, max_body=1000)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, listeners)
        yield server, port
        await server.shutdown(1.0)


async def _raw(port: int, data: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        out = b""
        while chunk := await stream.receive_some(65536):
            out += chunk
    return out


async def test_http_keep_alive_head_limits_and_handler_errors() -> None:
    errors: list[BaseException] = []
    with trio.fail_after(10):
        async with _served(errors) as (_, port):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                for _ in range(3):  # one kept-alive connection
                    r = await http.post("/a", content=b"xyz")
                    assert r.status_code == 200 and r.text == "POST /a 3"
                head = await http.head("/a")
                assert head.status_code == 200 and head.content == b""
                assert head.headers["content-length"] == str(len(b"HEAD /a 0"))
                assert (await http.post("/a", content=b"x" * 1001)).status_code == 413
                assert (await http.get("/boom")).status_code == 500
                assert (await http.get("/silent")).status_code == 500
                assert (await http.get("/a?q=1")).text == "GET /a 0"
            assert (await _raw(port, b"NOT HTTP\r\n\r\n")).startswith(b"HTTP/1.1 400")
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"http://127.0.0.1:{port}/after")).status_code == 200
    assert errors == []  # handler errors and bad requests are answered, not connection errors


async def test_websocket_messages_ping_close_and_bad_upgrades() -> None:
    errors: list[BaseException] = []
    with trio.fail_after(10):
        async with _served(errors) as (_, port):
            async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
                await ws.send_message("hello")
                assert await ws.get_message() == "HELLO"
                await ws.ping(b"p")  # answered by the server while it reads
                await ws.send_message(b"bytes are text")
                assert await ws.get_message() == "BYTES ARE TEXT"
                await ws.send_message("bye")
                try:
                    await ws.get_message()
                    raise AssertionError("expected a close")
                except trio_websocket.ConnectionClosed as closed:
                    assert closed.reason.code == 4000
            upgrade = (b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                       b"Upgrade: websocket\r\nSec-WebSocket-Version: %s\r\n"
                       b"Sec-WebSocket-Key: bKdPyn3u98cTfZJSh4TNeQ==\r\n\r\n")
            assert (await _raw(port, upgrade % (b"/other", b"13"))).startswith(b"HTTP/1.1 404")
            assert (await _raw(port, upgrade % (b"/ws", b"8"))).startswith(b"HTTP/1.1 426")
            # hypercorn#225: trailing bytes after the upgrade request close that socket only.
            out = await _raw(port, upgrade % (b"/ws", b"13") + b"x\r\n")
            assert out.startswith(b"HTTP/1.1 101")
            async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/ws") as ws:
                await ws.send_message("still up")
                assert await ws.get_message() == "STILL UP"


async def test_shutdown_closes_idle_connections_at_once_and_busy_ones_after_grace() -> None:
    errors: list[BaseException] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            async with _served(errors) as (_, port):
                idle = await trio.open_tcp_stream("127.0.0.1", port)
                await idle.send_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
                assert (await idle.receive_some(4096)).startswith(b"HTTP/1.1 200")
                ws = await trio_websocket.connect_websocket_url(
                    nursery, f"ws://127.0.0.1:{port}/ws")
                t0 = trio.current_time()
            assert trio.current_time() - t0 < 2.5
            assert await idle.receive_some(4096) == b""  # closed by the server
            with suppress(trio_websocket.ConnectionClosed):
                await ws.get_message()
            await idle.aclose()
            await ws.aclose()
