"""End to end: ``hlmaker run`` against the built-in simulator over real loopback sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path


def _run(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("HLMAKER_PRIVATE_KEY", None)
    return subprocess.run([sys.executable, "-m", "hlmaker", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    """``hlmaker run ARGS`` in the background, returning once it reported a status line with
    orders resting (the bot is up and quoting)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("HLMAKER_PRIVATE_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "hlmaker", "run", *args], cwd=tmp_path,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "sync exchange_open=" in line and "exchange_open=0 " not in line:
            return proc
    proc.kill()
    raise AssertionError("the bot never reported a status line")


def test_run_on_simulator_with_default_faults(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    proc = _run(["run", "--duration", "20", "--faults", "default", "--summary-json", str(out)],
                tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    s = json.loads(out.read_text())
    assert s["fills"] > 0, s
    assert s["fills"] == s["sim_fills_for_user"], s
    assert s["is_synced"] is True, {k: s[k] for k in (
        "is_synced", "position_local", "position_exchange", "open_orders_local",
        "open_orders_exchange", "unresolved_requests", "shutdown", "position_drifts")}
    assert s["position_local"] == s["position_exchange"] == s["sim_position"], s
    assert all(isinstance(v, str) and Decimal(v) for v in s["position_local"].values())
    assert s["open_orders_exchange"] == 0 and s["sim_open_orders_for_user"] == 0, s
    assert s["open_orders_local"] == 0 and s["unresolved_requests"] == 0, s
    assert s["shutdown"]["confirmed_no_open_orders"] is True
    for key in ("volume", "duplicate_fills_dropped", "orphans_cancelled", "stale_removed",
                "position_drifts", "gaps_detected", "restarts"):
        assert key in s
    assert "summary fills=" in proc.stdout
    # the journal is on by default, per network and account, in the user data directory
    journal = next((tmp_path / "data" / "hlmaker" / "journals").glob("sim-0x*.sqlite"))
    assert f"journal: {journal}" in proc.stdout
    assert s["realized_pnl_to_date"] == s["realized_pnl"], s  # the journal's first run
    assert s["journal"]["dropped"] == 0 and s["journal"]["write_errors"] == 0, s


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[strategy]\ncoins = ['BTC']\nlevels = 0\nsize = 0.001\nmax_position = 1\n")
    proc = _run(["run", "--config", str(cfg), "--duration", "1"], tmp_path, timeout=60)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "strategy.levels" in lines[0], proc.stderr


def test_missing_key_for_testnet_names_the_fix(tmp_path: Path) -> None:
    proc = _run(["run", "--network", "testnet", "--duration", "1"], tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "HLMAKER_PRIVATE_KEY" in proc.stderr and "endpoint.key_file" in proc.stderr


def test_key_file_contents_never_printed(tmp_path: Path) -> None:
    key = "0x" + "ab" * 31 + "cd"
    kf = tmp_path / "key"
    kf.write_text("not-a-key\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[endpoint]\nnetwork = 'testnet'\nkey_file = '{kf}'\n")
    proc = _run(["run", "--config", str(cfg), "--duration", "1"], tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "not-a-key" not in proc.stderr + proc.stdout
    assert key not in proc.stderr + proc.stdout


def test_sigint_shuts_down_in_order_and_still_writes_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    proc = _start(["--summary-json", str(out)], tmp_path)
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-4000:]
    s = json.loads(out.read_text())
    assert s["shutdown"]["confirmed_no_open_orders"] is True, s
    assert s["open_orders_exchange"] == 0 and s["sim_open_orders_for_user"] == 0, s
    assert s["position_local"] == s["sim_position"], s


def test_a_busy_metrics_port_is_a_config_error_before_trading(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cfg = tmp_path / "m.toml"
        cfg.write_text(f"[metrics]\nport = {port}\n")
        proc = _run(["run", "--config", str(cfg), "--duration", "5"], tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "metrics.port" in lines[0] and str(port) in lines[0], lines


def test_a_second_sigint_stops_at_once_without_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    # A long shutdown timeout: only the abort can make this quick.
    cfg = tmp_path / "slow.toml"
    cfg.write_text("[supervisor]\nshutdown_timeout_s = 60\n")
    proc = _start(["--config", str(cfg), "--summary-json", str(out)], tmp_path)
    try:
        assert proc.stderr is not None
        proc.send_signal(signal.SIGINT)
        for line in proc.stderr:
            if "shutting down" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err[-2000:]
    assert "stopped at once" in err and not out.exists()


ANOMALY_COUNTERS = (
    "duplicate_fills_dropped", "orphans_detected", "stale_removed", "position_drifts",
    "gaps_detected", "illegal_transitions", "unknown_outcomes", "unresolved_requests",
    "fills_untracked", "early_events_expired", "bad_inputs", "acks_unknown_cloid",
    "foreign_unreadable",
)
"""The counters the README's summary section calls anomalies: 0 unless something went wrong."""


def test_no_faults_shows_zero_on_every_anomaly_counter(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    proc = _run(["run", "--duration", "20", "--faults", "none", "--summary-json", str(out)],
                tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    s = json.loads(out.read_text())
    assert s["fills"] > 0, s  # the rule is only shown if something happened
    assert {k: s[k] for k in ANOMALY_COUNTERS} == dict.fromkeys(ANOMALY_COUNTERS, 0), s
    assert s["fills_echoed"] == s["fills"]  # each fill came on userFills and on user
    # within the exchange's limits: no 429 from the simulator's per-IP weight, and the address
    # budget read, with room left
    assert s["sim_ip_weight_refusals"] == 0 and s["ip_weight"]["rate_limited"] == 0, s
    assert s["ip_weight"]["peak_per_min"] <= s["ip_weight"]["limit"], s
    assert s["address_budget"]["known"] and s["address_budget"]["headroom"] > 0, s


def test_an_unreachable_endpoint_is_one_line_and_exit_3(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[maker]\nstartup_timeout_s = 1.5\n[endpoint]\nnetwork = 'sim'\n"
                   f"base_url = 'http://127.0.0.1:{port}'\n")
    proc = _run(["run", "--config", str(cfg), "--plain"], tmp_path, timeout=60)
    assert proc.returncode == 3, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("hlmaker: cannot reach the exchange at") and str(port) in last
    assert "Traceback" not in proc.stderr


def test_strategy_with_only_coins_quotes_with_defaults(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    cfg = tmp_path / "c.toml"
    cfg.write_text("[strategy]\ncoins = ['ETH']\n")
    proc = _run(["run", "--config", str(cfg), "--duration", "8", "--faults", "none",
                 "--summary-json", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "minimum value" not in proc.stderr  # the notional default respects the $10 minimum
    s = json.loads(out.read_text())
    assert s["actions_sent"] > 0 and s["shutdown"]["confirmed_no_open_orders"] is True, s
    assert "sync exchange_open=" in proc.stderr and any(
        "sync exchange_open=" in ln and "exchange_open=0 " not in ln
        for ln in proc.stderr.splitlines()), "no order of the ETH ladder ever rested"


def test_kill_9_and_restart_never_doubles_the_ladder_nor_reuses_cloids(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sim = subprocess.Popen([sys.executable, "-m", "hlmaker", "sim", "--port", str(port),
                            "--seed", "5"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f"[endpoint]\nnetwork = 'sim'\nbase_url = 'http://127.0.0.1:{port}'\n")
        first = _start(["--config", str(cfg), "--plain"], tmp_path)
        first.kill()  # SIGKILL: no shutdown, the ladder stays on the exchange
        first.wait()
        out = tmp_path / "summary.json"
        proc = _run(["run", "--config", str(cfg), "--duration", "6", "--plain",
                     "--summary-json", str(out)], tmp_path)
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Duplicate cloid" not in proc.stderr
    s = json.loads(out.read_text())
    assert s["leftovers_cancelled"] > 0, s  # the dead process's ladder, cancelled at start-up
    assert s["orphans_detected"] == 0 and s["illegal_transitions"] == 0, s
    assert s["fills_untracked"] == 0 and s["duplicate_fills_dropped"] == 0, s
    assert s["shutdown"]["confirmed_no_open_orders"] is True, s
    # the start-up cancels went out before the first placement of the new process
    lines = proc.stderr.splitlines()
    cancel_at = next(i for i, ln in enumerate(lines) if "start-up: cancelling" in ln)
    ready_at = next(i for i, ln in enumerate(lines) if "synced=True" in ln)
    assert cancel_at < ready_at
