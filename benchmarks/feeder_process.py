"""The feeder (``benchmarks/feeder.py``) as a child process, and its ceiling.

:class:`FeederProcess` starts it and drives it line by line (JSON commands on stdin, answers on
stdout; see feeder.py's docstring). :func:`feeder_ceiling` measures what it pushes into a client
that only walks WebSocket frame headers and counts them — the figure every client benchmark must
stay far below, so that none of them measures the feeder. ``ws_connect`` / ``ws_send_text`` are
that raw-socket client's handshake and (masked, short) text frame.
"""

from __future__ import annotations

import base64
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).parent))

FEEDER = str(Path(__file__).with_name("feeder.py"))
COIN = "BTC"
N_ORDERS = 20
USER = "0x" + "11" * 20
USER_SDK = "0x" + "33" * 20
USER_COUNT = "0x" + "44" * 20


class FeederProcess:
    """``benchmarks/feeder.py`` as a child process, driven line by line (see its docstring)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, FEEDER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.proc.stdout is not None
        self.port = json.loads(self.proc.stdout.readline())["port"]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()

    def call(self, **cmd: Any) -> dict[str, Any]:
        """Send one command, wait for its answer (blocking: call from a thread in trio code)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"feeder: {answer['error']}")
        return answer

    async def acall(self, **cmd: Any) -> dict[str, Any]:
        return await trio.to_thread.run_sync(partial(self.call, **cmd))

    def cpu_s(self) -> float:
        """The feeder process's CPU time so far (user + system, from /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return math.nan

    def close(self) -> None:
        with suppress(OSError, ValueError, RuntimeError):
            self.call(op="quit")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---- stamps and figures -------------------------------------------------------------------------


def ws_connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    return sock


def ws_send_text(sock: socket.socket, text: str) -> None:
    payload, mask = text.encode(), os.urandom(4)
    assert len(payload) < 126
    sock.sendall(bytes((0x81, 0x80 | len(payload))) + mask
                 + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def feeder_ceiling(feeder: FeederProcess, n: int, orders: list[list[Any]]) -> dict[str, Any]:
    sock = ws_connect(feeder.port)
    ws_send_text(sock, json.dumps({"method": "subscribe", "subscription": {
        "type": "userFills", "user": USER_COUNT}}))
    answer: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: answer.update(feeder.call(
        op="push", user=USER_COUNT, kind="account", n=n, rate=None, orders=orders,
        stamps=False)))
    count, want = 0, n + 2  # + the ack and the userFills snapshot
    buf = bytearray(sock.recv(1 << 20))  # the ack: the subscription is in place
    pos = 0
    cpu0 = time.process_time()
    sock.settimeout(30)
    thread.start()
    while True:
        size = len(buf)
        while pos + 2 <= size:
            length = buf[pos + 1] & 0x7F
            if length < 126:
                end = pos + 2 + length
            elif length == 126:
                if pos + 4 > size:
                    break
                end = pos + 4 + int.from_bytes(buf[pos + 2:pos + 4], "big")
            else:
                if pos + 10 > size:
                    break
                end = pos + 10 + int.from_bytes(buf[pos + 2:pos + 10], "big")
            if end > size:
                break
            pos = end
            count += 1
        if count >= want:
            break
        data = sock.recv(1 << 20)
        if not data:
            break
        del buf[:pos]
        pos = 0
        buf += data
    t_end = time.perf_counter()
    cpu = time.process_time() - cpu0
    thread.join()
    sock.close()
    return {"frames": count - 2, "frames_per_s": round((count - 2) / (t_end - answer["t0"])),
            "counter_cpu_us_per_frame": round(cpu / max(1, count) * 1e6, 2)}


# ---- hlmaker: feed + book (+ quoter) wired as in hlmaker.maker ----------------------------------
