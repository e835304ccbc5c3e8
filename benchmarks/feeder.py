"""A loopback exchange stand-in for the ingest benchmarks, run as its own process.

It pushes pre-rendered WebSocket frames of the exchange's real shapes (protocol ref §6.2, and
the recordings in ``../shared/recorded-traffic``: a fill ends ``…, tid, cloid, feeToken,
twapId``; ``l2Book`` is ``{"coin", "time", "levels": [bids, asks]}`` with ``{"px", "sz", "n"}``
rows) as fast as the kernel takes them or at a paced rate, so what a benchmark measures is the
client, not the server. It is *not* an exchange: no matching, no signatures checked, no risk.

Served on one loopback port (HTTP/1.1 via h11, the WebSocket handshake and client frames by
hand — the pushes are pre-built unmasked server frames written straight to the socket):

* ``GET /ws`` (WebSocket): ``subscribe`` / ``unsubscribe`` acked with ``subscriptionResponse``;
  a ``userFills`` subscribe gets its snapshot (``isSnapshot: true``, empty: a new account);
  ``ping`` → ``pong``; ``post`` ``info`` / ``action`` answered like ``POST /info`` /
  ``POST /exchange`` (§6.5).
* ``POST /info``: ``meta`` (the coins below, ``szDecimals`` 5 / 4 / 2), ``spotMeta`` (empty),
  ``frontendOpenOrders`` / ``openOrders`` (the orders placed here and not cancelled),
  ``clearinghouseState`` (flat), ``userFills`` / ``userFillsByTime`` (none), ``orderStatus``
  (``unknownOid``), ``allMids``.
* ``POST /exchange``: ``order`` / ``batchModify`` rest every order with a fresh oid,
  ``cancel`` / ``cancelByCloid`` succeed, ``scheduleCancel`` and anything else answer
  ``default``. Each action's arrival is stamped (``time.perf_counter()``) for tick-to-trade:
  over the WebSocket, when the read that completed its frame returned — before the frame is
  unmasked and parsed here, so the feeder's own decoding is not counted as the client's
  latency; over REST, when its request was parsed.

Control: one JSON object per line on stdin, one answer per line on stdout (the first line
printed is ``{"port": P}``). Times are ``time.perf_counter()`` seconds (CLOCK_MONOTONIC on Linux:
comparable across processes on one machine).

* ``{"op": "push", "user": U | "coin": C, "kind": K, "n": N, "rate": R | null, "seq0": S, ...}``
  pushes N frames to the connection subscribed for ``U`` (account) or ``C`` (market) and
  answers ``{"sent": [[seq_lo, seq_hi, t], ...], "t0", "t1", "position", "fills"}`` once all
  are written (``rate`` null: as fast as possible). ``seq`` numbers the frames: a fill's
  ``tid`` and an update's ``statusTimestamp - EPOCH_MS``, an ``l2Book``'s / ``bbo``'s
  ``time - EPOCH_MS``, a trade's ``tid``. Kinds: ``account`` (cycle ``userFills`` fill,
  ``user`` fill, ``userFills`` fill, ``orderUpdates`` open, on ``orders`` [[oid, cloid, side,
  px], ...] of ``order_sz`` with ``startPosition`` chained from ``position``), ``l2book`` (20
  levels a side, ``coins`` in turn), ``trades``, ``market`` (``l2book`` and ``trades``
  alternating), ``bbo``, ``allmids``. Up to 300,000 frames are rendered before the first write;
  more (a soak) are rendered in blocks of 4,096 while pushing.
* ``{"op": "ticks", "coin": C, "n": N, "interval_ms": I, "mids": [m1, m2], "bg_rate": R,
  "bg_coins": [...]}``: every I ms a ``bbo`` for C alternating between mids m1 and m2, with
  ``market`` frames at R/s in between; answers ``{"ticks": [t...], "actions": [[t, type],
  ...]}`` (the ticks' send times and every ``/exchange`` action's arrival, REST or WS post).
* ``{"op": "quit"}``.

Run alone: ``.venv/bin/python benchmarks/feeder.py`` (then type commands), or let
``benchmarks/ingest.py`` / ``benchmarks/soak.py`` start it.
"""

# ruff: noqa: UP031  (%-formatting: the fixtures render ~1 µs faster per frame than f-strings)
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import struct
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from typing import Any

import h11
import trio

EPOCH_MS = 1_780_000_000_000
COINS = ["BTC", "ETH"] + [f"C{i:02d}" for i in range(48)]
SZ_DECIMALS = {"BTC": 5, "ETH": 4}
BLOCK = 4096  # frames rendered at a time
CHUNK = 128  # frames per write when pushing as fast as possible
PRERENDER = 300_000  # pushes up to this many frames are rendered before the first write
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_HASH = "0x" + "ab" * 32


def ws_frame(text: str | bytes, opcode: int = 0x1) -> bytes:
    """One unfragmented, unmasked server frame (RFC 6455 §5.2)."""
    payload = text.encode() if isinstance(text, str) else text
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# ---- fixtures -----------------------------------------------------------------------------------

class AccountStream:
    """Consistent account events: unique ``tid`` (= seq), ``startPosition`` chained, on the
    client's resting ``orders`` (sides alternate, so the position stays small)."""

    KINDS = ("userFills", "user", "userFills", "orderUpdates")

    def __init__(self, user: str, orders: list[list[Any]], position: str, coin: str,
                 order_sz: str = "1000.0") -> None:
        self.user = user
        self.order_sz = order_sz
        self.orders = orders
        self.position = Decimal(position)
        self.coin = coin
        self.fills = 0
        self.lots = Decimal("0.01")

    def render(self, seq: int) -> str:
        kind = self.KINDS[seq % 4]
        oid, cloid, side, px = self.orders[seq % len(self.orders)]
        coin = self.coin
        if kind == "orderUpdates":
            return ('{"channel":"orderUpdates","data":[{"order":{"coin":"%s","side":"%s",'
                    '"limitPx":"%s","sz":"%s","oid":%d,"timestamp":%d,"origSz":"%s",'
                    '"cloid":"%s"},"status":"open","statusTimestamp":%d}]}'
                    % (coin, side, px, self.order_sz, oid, EPOCH_MS, self.order_sz, cloid,
                       EPOCH_MS + seq))
        before = self.position
        self.position += self.lots if side == "B" else -self.lots
        self.fills += 1
        if side == "B":
            direction = "Open Long" if before >= 0 else "Close Short"
        else:
            direction = "Close Long" if before > 0 else "Open Short"
        fill = ('{"coin":"%s","px":"%s","sz":"0.01","side":"%s","time":%d,"startPosition":"%s",'
                '"dir":"%s","closedPnl":"0.0","hash":"%s","oid":%d,"crossed":false,'
                '"fee":"0.0108","tid":%d,"cloid":"%s","feeToken":"USDC","twapId":null}'
                % (coin, px, side, EPOCH_MS + seq, before, direction, _HASH, oid, seq, cloid))
        if kind == "userFills":
            return ('{"channel":"userFills","data":{"user":"%s","fills":[%s]}}'
                    % (self.user, fill))
        return '{"channel":"user","data":{"fills":[%s]}}' % fill


def _mid(coin: str) -> int:
    return 100_000 if coin == "BTC" else 3_000 if coin == "ETH" else 10 + 7 * COINS.index(coin)


def _levels(coin: str, seq: int) -> str:
    mid = Decimal(_mid(coin))
    tick = mid / 100_000
    wiggle = (seq % 7) * tick
    rows = []
    for sign in (-1, 1):
        side = []
        for i in range(20):
            px = mid + sign * (i + 1) * tick + wiggle
            side.append('{"px":"%s","sz":"%s","n":%d}' % (px.normalize(), 1 + (seq + i) % 9,
                                                         1 + i % 4))
        rows.append("[" + ",".join(side) + "]")
    return "[" + ",".join(rows) + "]"


class MarketStream:
    """``l2Book`` / ``trades`` / ``bbo`` / ``allMids`` frames over ``coins`` in turn."""

    def __init__(self, kind: str, coins: list[str]) -> None:
        self.kind = kind
        self.coins = coins
        self.fills = 0
        self.position = Decimal(0)
        # 20 levels a side cost ~40 µs to render: pre-render a few books per coin
        self._books: dict[tuple[str, int], str] = {}

    def render(self, seq: int) -> str:
        coin = self.coins[seq % len(self.coins)]
        kind = self.kind
        if kind == "market":
            kind = "l2book" if seq % 2 == 0 else "trades"
        t = EPOCH_MS + seq
        if kind == "l2book":
            key = (coin, seq % 7)
            levels = self._books.get(key)
            if levels is None:
                levels = self._books[key] = _levels(coin, seq)
            return '{"channel":"l2Book","data":{"coin":"%s","time":%d,"levels":%s}}' % (
                coin, t, levels)
        if kind == "trades":
            return ('{"channel":"trades","data":[{"coin":"%s","side":"%s","px":"%d.5",'
                    '"sz":"0.01","time":%d,"hash":"%s","tid":%d,"users":["0x%s","0x%s"]}]}'
                    % (coin, "AB"[seq % 2], _mid(coin), t, _HASH, seq, "12" * 20, "34" * 20))
        if kind == "bbo":
            return bbo_text(coin, Decimal(_mid(coin)), seq)
        if kind == "allmids":
            mids = ",".join('"%s":"%d.5"' % (c, _mid(c) + seq % 3) for c in self.coins)
            return '{"channel":"allMids","data":{"mids":{%s}}}' % mids
        raise ValueError(f"unknown kind {kind!r}")


def bbo_text(coin: str, mid: Decimal, seq: int) -> str:
    half = mid / 200_000
    return ('{"channel":"bbo","data":{"coin":"%s","time":%d,"bbo":[{"px":"%s","sz":"1.5","n":2},'
            '{"px":"%s","sz":"2.5","n":3}]}}' % (coin, EPOCH_MS + seq, mid - half, mid + half))


def blocks(stream: AccountStream | MarketStream, seq0: int, n: int) -> Iterator[
        tuple[int, list[bytes]]]:
    """``(first seq, frames)`` blocks of at most ``BLOCK`` frames, rendered lazily."""
    seq, end = seq0, seq0 + n
    while seq < end:
        hi = min(end, seq + BLOCK)
        yield seq, [ws_frame(stream.render(s)) for s in range(seq, hi)]
        seq = hi


# ---- the exchange stand-in ----------------------------------------------------------------------

class Feeder:
    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.oids = itertools.count(5_000_000)
        self.orders: dict[int, dict[str, Any]] = {}
        self.actions: list[tuple[float, str]] = []

    def find(self, user: str | None, coin: str | None) -> Conn:
        for conn in reversed(self.conns):
            if conn.open and any((user and s.get("user", "").lower() == user.lower())
                                 or (coin and s.get("coin") == coin) for s in conn.subs):
                return conn
        raise LookupError(f"no open connection subscribed for {user or coin}")

    # /info
    def info(self, body: dict[str, Any]) -> Any:
        kind = body.get("type")
        if kind == "meta":
            return {"universe": [{"name": c, "szDecimals": SZ_DECIMALS.get(c, 2),
                                  "maxLeverage": 20} for c in COINS]}
        if kind == "spotMeta":
            return {"universe": [], "tokens": []}
        if kind in ("frontendOpenOrders", "openOrders"):
            return [dict(o) for o in reversed(self.orders.values())]
        if kind == "clearinghouseState":
            zero = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0",
                    "totalMarginUsed": "0.0"}
            return {"marginSummary": zero, "crossMarginSummary": zero,
                    "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0",
                    "assetPositions": [], "time": int(time.time() * 1000)}
        if kind in ("userFills", "userFillsByTime", "historicalOrders"):
            return []
        if kind == "orderStatus":
            return {"status": "unknownOid"}
        if kind == "allMids":
            return {c: f"{_mid(c)}.5" for c in COINS}
        return None

    # /exchange
    def exchange(self, envelope: dict[str, Any], arrived: float | None = None) -> dict[str, Any]:
        action = envelope.get("action") or {}
        kind = action.get("type", "?")
        self.actions.append((time.perf_counter() if arrived is None else arrived, kind))
        if kind == "order":
            return self._rest(action.get("orders", []))
        if kind == "batchModify":
            for m in action.get("modifies", []):
                self._cancel(m.get("oid"))
            return self._rest([m.get("order", {}) for m in action.get("modifies", [])])
        if kind in ("cancel", "cancelByCloid"):
            cancels = action.get("cancels", [])
            for c in cancels:
                self._cancel(c.get("o", c.get("cloid")))
            return {"status": "ok", "response": {"type": "cancel",
                                                 "data": {"statuses": ["success"] * len(cancels)}}}
        return {"status": "ok", "response": {"type": "default"}}

    def _cancel(self, key: Any) -> None:
        for oid, o in list(self.orders.items()):
            if key in (oid, o["cloid"]):
                del self.orders[oid]

    def _rest(self, wires: list[dict[str, Any]]) -> dict[str, Any]:
        statuses = []
        for w in wires:
            oid = next(self.oids)
            cloid = w.get("c")
            coin = COINS[w.get("a", 0)] if w.get("a", 0) < len(COINS) else "?"
            self.orders[oid] = {
                "coin": coin, "side": "B" if w.get("b") else "A", "limitPx": w.get("p"),
                "sz": w.get("s"), "oid": oid, "timestamp": int(time.time() * 1000),
                "origSz": w.get("s"), "cloid": cloid, "reduceOnly": bool(w.get("r")),
                "orderType": "Limit", "tif": "Alo", "isTrigger": False, "triggerPx": "0.0",
                "triggerCondition": "N/A", "isPositionTpsl": False, "children": []}
            resting: dict[str, Any] = {"oid": oid}
            if cloid:
                resting["cloid"] = cloid
            statuses.append({"resting": resting})
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}


class Conn:
    """One WebSocket connection: subscriptions, and a lock so frames never interleave."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.lock = trio.Lock()
        self.subs: list[dict[str, Any]] = []
        self.open = True

    async def send(self, data: bytes) -> None:
        async with self.lock:
            await self.stream.send_all(data)


def _read_frames(buf: bytearray) -> Iterator[tuple[int, bytes]]:
    """Complete client frames (masked, RFC 6455 §5.3) consumed from ``buf``."""
    while len(buf) >= 2:
        opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return
            n, pos = struct.unpack_from("!H", buf, 2)[0], 4
        elif n == 127:
            if len(buf) < 10:
                return
            n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
        masked = buf[1] & 0x80
        end = pos + (4 if masked else 0) + n
        if len(buf) < end:
            return
        payload = bytes(buf[pos + (4 if masked else 0):end])
        if masked:
            key = bytes(buf[pos:pos + 4]) * (n // 4 + 1)
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(key[:n], "big")).to_bytes(
                n, "big")
        del buf[:end]
        yield opcode, payload  # (client messages here are small and never fragmented)


async def serve_ws(feeder: Feeder, conn: Conn, pending: bytes) -> None:
    buf = bytearray(pending)
    arrived = time.perf_counter()  # when the bytes in buf came (the stamp of an action)
    try:
        while True:
            for opcode, payload in _read_frames(buf):
                if opcode == 0x8:  # close: echo it and stop
                    await conn.send(ws_frame(payload[:2], 0x8))
                    return
                if opcode == 0x9:
                    await conn.send(ws_frame(payload, 0xA))
                    continue
                if opcode != 0x1:
                    continue
                await on_message(feeder, conn, json.loads(payload), arrived)
            data = await conn.stream.receive_some(65536)
            arrived = time.perf_counter()
            if not data:
                return
            buf += data
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        conn.open = False


async def on_message(feeder: Feeder, conn: Conn, msg: dict[str, Any], arrived: float) -> None:
    method = msg.get("method")
    if method == "ping":
        await conn.send(ws_frame('{"channel":"pong"}'))
    elif method in ("subscribe", "unsubscribe"):
        sub = msg.get("subscription", {})
        if method == "subscribe":
            conn.subs.append(sub)
        else:
            conn.subs = [s for s in conn.subs if s != sub]
        await conn.send(ws_frame(dumps({"channel": "subscriptionResponse",
                                        "data": {"method": method, "subscription": sub}})))
        if method == "subscribe" and sub.get("type") == "userFills":
            await conn.send(ws_frame(dumps({"channel": "userFills", "data": {
                "isSnapshot": True, "user": sub.get("user"), "fills": []}})))
    elif method == "post":
        request = msg.get("request", {})
        if request.get("type") == "action":
            response = {"type": "action",
                        "payload": feeder.exchange(request.get("payload", {}), arrived)}
        else:
            body = request.get("payload", {})
            response = {"type": "info", "payload": {"type": body.get("type"),
                                                    "data": feeder.info(body)}}
        await conn.send(ws_frame(dumps({"channel": "post",
                                        "data": {"id": msg.get("id"), "response": response}})))


async def serve_http(feeder: Feeder, stream: trio.SocketStream) -> None:
    h = h11.Connection(h11.SERVER)
    while True:
        event = h.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            h.receive_data(data)
            if not data:
                return
            continue
        if isinstance(event, h11.Request):
            headers = {k.lower(): v for k, v in event.headers}
            if headers.get(b"upgrade", b"").lower() == b"websocket":
                key = headers.get(b"sec-websocket-key", b"")
                accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
                await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                                      + b"\r\n\r\n")
                conn = Conn(stream)
                feeder.conns.append(conn)
                await serve_ws(feeder, conn, h.trailing_data[0])
                return
            body = b""
            while True:
                ev = h.next_event()
                if ev is h11.NEED_DATA:
                    h.receive_data(await stream.receive_some(65536))
                elif isinstance(ev, h11.Data):
                    body += ev.data
                else:
                    break
            parsed = json.loads(body or b"{}")
            reply = feeder.exchange(parsed) if event.target == b"/exchange" else feeder.info(parsed)
            out = dumps(reply).encode()
            await stream.send_all(h.send(h11.Response(status_code=200, headers=[
                ("content-type", "application/json"), ("content-length", str(len(out)))])))
            await stream.send_all(h.send(h11.Data(data=out)) + h.send(h11.EndOfMessage()))
            h.start_next_cycle()
        elif isinstance(event, h11.ConnectionClosed):
            return


# ---- pushing ------------------------------------------------------------------------------------

async def push(conn: Conn, stream: AccountStream | MarketStream, seq0: int, n: int,
               rate: float | None) -> list[list[float]]:
    """Write frames ``seq0 … seq0+n-1``; returns ``[seq_lo, seq_hi, t]`` per write."""
    sent: list[list[float]] = []
    source: Any = blocks(stream, seq0, n)
    if n <= PRERENDER:
        source = list(source)
    t0 = time.perf_counter()
    done = 0
    for first, frames in source:
        i = 0
        while i < len(frames):
            if rate is None:
                j = min(len(frames), i + CHUNK)
            else:
                due = int((time.perf_counter() - t0) * rate) + 1 - done
                if due <= 0:
                    await trio.sleep(0.0005)
                    continue
                j = min(len(frames), i + due)
            data = b"".join(frames[i:j])
            sent.append([first + i, first + j, time.perf_counter()])
            await conn.send(data)
            done += j - i
            i = j
    return sent


async def ticks(feeder: Feeder, conn: Conn, cmd: dict[str, Any]) -> dict[str, Any]:
    coin, n, interval = cmd["coin"], cmd["n"], cmd["interval_ms"] / 1000
    mids = [Decimal(m) for m in cmd["mids"]]
    bg = MarketStream("market", cmd.get("bg_coins") or COINS[2:])
    bg_rate = cmd.get("bg_rate", 0)
    tick_times: list[float] = []
    feeder.actions.clear()
    t0 = time.perf_counter()
    bg_done = 0
    seq = 10_000_000
    for k in range(n):
        next_tick = t0 + (k + 1) * interval
        while (now := time.perf_counter()) < next_tick:
            due = int((now - t0) * bg_rate) - bg_done
            if due > 0:
                data = b"".join(ws_frame(bg.render(seq + i)) for i in range(due))
                seq += due
                bg_done += due
                await conn.send(data)
            await trio.sleep(min(0.0005, max(0.0, next_tick - now)))
        frame = ws_frame(bbo_text(coin, mids[k % 2], seq))
        seq += 1
        tick_times.append(time.perf_counter())
        await conn.send(frame)
    await trio.sleep(max(0.2, interval))
    return {"ticks": tick_times, "actions": list(feeder.actions), "bg_frames": bg_done}


async def control(feeder: Feeder, port: int) -> None:
    """Read commands from stdin, answer on stdout (see the module docstring)."""
    print(dumps({"port": port}), flush=True)
    stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
    buf = b""
    while True:
        while b"\n" not in buf:
            data = await stdin.receive_some(65536)
            if not data:
                return
            buf += data
        line, buf = buf.split(b"\n", 1)
        cmd = json.loads(line)
        op = cmd.get("op")
        try:
            if op == "quit":
                return
            if op == "push":
                conn = feeder.find(cmd.get("user"), cmd.get("coin"))
                kind = cmd["kind"]
                stream: AccountStream | MarketStream
                if kind == "account":
                    stream = AccountStream(cmd["user"], cmd["orders"], cmd.get("position", "0"),
                                           cmd.get("account_coin", "BTC"),
                                           cmd.get("order_sz", "1000.0"))
                else:
                    stream = MarketStream(kind, cmd.get("coins") or COINS)
                sent = await push(conn, stream, cmd.get("seq0", 1), cmd["n"], cmd.get("rate"))
                t0, t1 = (sent[0][2], time.perf_counter()) if sent else (0.0, 0.0)
                answer: dict[str, Any] = {
                    "sent": sent if cmd.get("stamps", True) else [], "t0": t0, "t1": t1,
                    "position": str(stream.position), "fills": stream.fills}
            elif op == "ticks":
                answer = await ticks(feeder, feeder.find(None, cmd["coin"]), cmd)
            elif op == "conns":
                answer = {"conns": [{"subs": c.subs, "open": c.open} for c in feeder.conns]}
            else:
                answer = {"error": f"unknown op {op!r}"}
        except (LookupError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            answer = {"error": repr(exc)}
        print(dumps(answer), flush=True)


async def main() -> None:
    feeder = Feeder()

    async def handler(stream: trio.SocketStream) -> None:
        try:
            await serve_http(feeder, stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            pass
        finally:
            await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        await control(feeder, port)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main)
