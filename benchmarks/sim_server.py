"""The simulator's own WebSocket server: pushes per second into a client that only counts.

The simulator (``SimulatorThread``: its h11 + wsproto server, ``hlmaker/webserver.py``, and the
faulted exchange's per-session writer, ``hlmaker/sim/exchange.py``) runs in its own thread and
``trio.run``; a raw-socket client in the main thread subscribes ``userFills`` and only walks
WebSocket frame headers (≈ 0.6 µs a frame, the counter of ``benchmarks/ingest.py``). ``--n``
pre-rendered ``userFills`` pushes (one fill each, ~420 bytes) are appended to the session's
outbox and released with ``service.on_push`` — the path the engine's own pushes take — all at
once. Figure: pushes/s = pushes / (last frame counted − release), and the simulator thread's
CPU µs per push (``time.thread_time`` inside it). Target: ≥ 20,000 pushes/s.

Run: ``.venv/bin/python benchmarks/sim_server.py`` (≈ 10 s). Last line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from feeder import EPOCH_MS, AccountStream
from feeder_process import USER_COUNT, ws_connect, ws_send_text

from hlmaker.sim.thread import SimulatorThread
from hlmaker.sim.ws import Push


def count_frames(sock: Any, want: int) -> float:
    """Read until ``want`` frames were seen; returns the time of the last one."""
    count, buf, pos = 0, bytearray(), 0
    while count < want:
        data = sock.recv(1 << 20)
        if not data:
            raise RuntimeError(f"closed after {count} frames")
        del buf[:pos]
        buf += data
        pos, size = 0, len(buf)
        while pos + 2 <= size:
            length = buf[pos + 1] & 0x7F
            head = 2 if length < 126 else 4 if length == 126 else 10
            if pos + head > size:
                break
            if length >= 126:
                length = int.from_bytes(buf[pos + 2:pos + head], "big")
            if pos + head + length > size:
                break
            pos += head + length
            count += 1
    return time.perf_counter()


def run(n: int) -> dict[str, Any]:
    orders = [[1_000_000 + j, f"0x{j:032x}", "B" if j % 2 == 0 else "A", str(100_000 + j)]
              for j in range(20)]
    stream = AccountStream(USER_COUNT, orders, "0", "BTC")
    texts = []
    seq = 1
    while len(texts) < n:
        if seq % 4 != 3:  # userFills frames only
            texts.append(stream.render(seq))
        seq += 1
    with SimulatorThread(epoch_ms=EPOCH_MS, with_market=False, seed=1) as st:
        sock = ws_connect(int(st.base_url.rsplit(":", 1)[1]))
        ws_send_text(sock, json.dumps({"method": "subscribe", "subscription": {
            "type": "userFills", "user": USER_COUNT}}))
        count_frames(sock, 2)  # the ack and the snapshot
        sim = st.sim
        marks: dict[str, float] = {}

        def release() -> None:
            session = next(s for s in sim.service.sessions.values()
                           if any(sub.user == USER_COUNT for sub in s.subs.values()))
            marks["cpu0"] = time.thread_time()
            marks["t0"] = time.perf_counter()
            session.outbox.extend(Push("userFills", t) for t in texts)
            on_push = sim.service.on_push
            assert on_push is not None
            on_push(session)

        def cpu() -> None:
            marks["cpu1"] = time.thread_time()

        st.call(release)
        t_end = count_frames(sock, n)
        st.call(cpu)
        sock.close()
    return {"pushes": n, "pushes_per_s": round(n / (t_end - marks["t0"])),
            "sim_cpu_us_per_push": round((marks["cpu1"] - marks["cpu0"]) / n * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    args = parser.parse_args()
    load0 = os.getloadavg()
    result = run(args.n)
    load1 = os.getloadavg()
    result.update(loadavg=[round(load0[0], 2), round(load1[0], 2)], shared_machine=True)
    print(f"simulator server: {result['pushes']:,} pushes at {result['pushes_per_s']:,}/s, "
          f"{result['sim_cpu_us_per_push']} µs of the simulator thread's CPU each (2 CPUs shared "
          f"with other jobs, loadavg {load0[0]:.2f} → {load1[0]:.2f})")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
