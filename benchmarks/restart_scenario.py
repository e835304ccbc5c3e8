"""The two-terminal restart scenario of issue 11, run for real on loopback.

``hlmaker sim --port P --seed 5`` in one process; ``hlmaker run --config c.toml`` (``[endpoint]
network = "sim"``, ``base_url = "http://127.0.0.1:P"``) in another; ``kill -9`` of the bot at
``--kill-at`` seconds and an immediate restart that runs ``--second`` seconds and stops in order.
Meanwhile the exchange's open orders of the account are sampled every 0.5 s through the REST info
endpoint ``frontendOpenOrders``, split into ours (the cloid prefix) and foreign. Prints the
samples around the restart, the rejects the exchange answered (from both bots' logs), the
second run's summary counters, and last ``RESULT {json}``.

    .venv/bin/python benchmarks/restart_scenario.py [--kill-at 15] [--second 20]

Numbers depend on the machine's load (shared, 2 cores): timings are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from hlmaker.config import config_from_mapping
from hlmaker.hyperliquid.keys import Wallet
from hlmaker.run import sim_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"simulator did not listen on {port}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kill-at", type=float, default=15.0)
    ap.add_argument("--second", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="hlmaker-restart-"))
    cfg_text = f'[endpoint]\nnetwork = "sim"\nbase_url = "http://127.0.0.1:{port}"\n'
    (work / "c.toml").write_text(cfg_text)
    cfg = config_from_mapping({"endpoint": {"network": "sim",
                                            "base_url": f"http://127.0.0.1:{port}"}})
    prefix = "0x" + cfg.maker.prefix
    user = Wallet(sim_key(cfg.sim.seed)).query_address
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    exe = [sys.executable, "-m", "hlmaker"]
    sim = subprocess.Popen([*exe, "sim", "--port", str(port), "--seed", str(args.seed)],
                           cwd=work, env=env, stdout=subprocess.DEVNULL,
                           stderr=open(work / "sim.log", "w"))  # noqa: SIM115
    samples: list[tuple[float, int, int]] = []
    bots: list[subprocess.Popen[bytes]] = []
    try:
        wait_port(port)
        # The sampler reads from loopback addresses of its own, in turn: the simulator keeps the
        # exchange's per-IP weight (1,200/min, 20 per frontendOpenOrders), and two reads a
        # second must neither spend the bots' weight nor be refused themselves.
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0,
                                transport=httpx.HTTPTransport(local_address=f"127.0.0.{n}"))
                   for n in (2, 3, 4)]

        def sample(t0: float) -> None:
            client = clients[len(samples) % len(clients)]
            rows = client.post("/info", json={"type": "frontendOpenOrders", "user": user}).json()
            ours = sum(1 for r in rows if str(r.get("cloid") or "").startswith(prefix))
            samples.append((round(time.monotonic() - t0, 2), ours, len(rows) - ours))

        # Both processes share one journal in the work dir (the second takes it over after the
        # kill -9, as on a real restart), not the user's default one.
        run = [*exe, "run", "--config", "c.toml", "--plain", "--journal", "bot.journal"]
        t0 = time.monotonic()
        first = subprocess.Popen(run, cwd=work, env=env, stdout=subprocess.DEVNULL,
                                 stderr=open(work / "first.log", "w"))  # noqa: SIM115
        bots.append(first)
        while time.monotonic() - t0 < args.kill_at:
            sample(t0)
            time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = round(time.monotonic() - t0, 2)
        second = subprocess.Popen([*run, "--duration", str(args.second), "--summary-json",
                                   "summary.json"], cwd=work, env=env,
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(work / "second.log", "w"))  # noqa: SIM115
        bots.append(second)
        while second.poll() is None:
            sample(t0)
            time.sleep(0.5)
        sample(t0)
        summary = json.loads((work / "summary.json").read_text())
    finally:
        for bot in bots:  # never leave a bot running (it would hold the journal)
            if bot.poll() is None:
                bot.kill()
                bot.wait()
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
    logs = (work / "first.log").read_text() + (work / "second.log").read_text()
    dup = len(re.findall(r"Duplicate cloid", logs))
    rejected = len(re.findall(r"rejected|Rejected", logs))
    illegal = len(re.findall(r"illegal_transition", logs))
    after = [s for s in samples if s[0] >= killed_at]
    before = [s for s in samples if s[0] < killed_at]
    steady = max((s[1] for s in before[len(before) // 2:]), default=0)
    print(f"work dir {work}; user {user}; our cloid prefix {prefix}")
    print(f"killed -9 at {killed_at} s; samples (t_s, ours, foreign) around it:")
    for s in samples:
        if killed_at - 3 <= s[0] <= killed_at + 12:
            print("  ", s)
    result = {
        "killed_at_s": killed_at,
        "ours_steady_before_kill": steady,
        "ours_max_after_restart": max((s[1] for s in after), default=0),
        "ours_at_end": samples[-1][1],
        "duplicate_cloid_rejects_in_logs": dup,
        "reject_lines_in_logs": rejected,
        "illegal_transition_notes_in_logs": illegal,
        "summary": {k: summary.get(k) for k in (
            "fills", "rejects", "leftovers_cancelled", "leftovers_adopted", "orphans_detected",
            "orphans_cancelled", "duplicate_fills_dropped", "fills_reread", "fills_echoed",
            "fills_preexisting", "fills_untracked", "fills_foreign", "illegal_transitions",
            "gaps_detected", "position_drifts", "unknown_outcomes", "foreign_open_orders",
            "open_orders_exchange", "is_synced")},
        "shutdown": summary.get("shutdown"),
    }
    print("RESULT " + json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
