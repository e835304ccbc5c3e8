"""Restart continuity over real sockets: a run killed with SIGKILL, then a new process on the
same journal — the realized PnL and fills continue, nonces start above the journaled ones."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path


def test_kill_9_then_restart_continues_pnl_fills_and_nonces(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("HLMAKER_PRIVATE_KEY", None)
    first = subprocess.Popen([sys.executable, "-m", "hlmaker", "run", "--plain", "--journal",
                              str(journal)], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        for line in first.stderr:
            m = re.search(r" fills=(\d+)", line)
            if m and int(m.group(1)) >= 3:
                break
        else:
            raise AssertionError("the first run never filled")
    finally:
        first.kill()  # SIGKILL: no shutdown, no final snapshot
        first.wait()
    with sqlite3.connect(journal) as db:
        (clean,) = db.execute("SELECT clean_end FROM runs WHERE run_id=1").fetchone()
        rows = db.execute("SELECT closed_pnl, fee FROM fills WHERE run_id=1").fetchall()
        (last_nonce,) = db.execute("SELECT max(last_nonce) FROM nonces").fetchone()
    assert clean == 0 and len(rows) >= 1 and last_nonce is not None
    earlier = sum((Decimal(c) - Decimal(f) for c, f in rows), Decimal(0))

    out = tmp_path / "summary.json"
    second = subprocess.run([sys.executable, "-m", "hlmaker", "run", "--plain", "--journal",
                             str(journal), "--duration", "6", "--summary-json", str(out)],
                            env=env, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert second.returncode == 0, second.stderr[-3000:]
    s = json.loads(out.read_text())
    assert Decimal(s["realized_pnl_to_date"]) == earlier + Decimal(s["realized_pnl"]), s
    with sqlite3.connect(journal) as db:
        (floor,) = db.execute("SELECT nonce_floor FROM runs WHERE run_id=2").fetchone()
        (after,) = db.execute("SELECT max(last_nonce) FROM nonces").fetchone()
        n1, n2 = (db.execute("SELECT count(*) FROM fills WHERE run_id=?", (r,)).fetchone()[0]
                  for r in (1, 2))
    assert floor > last_nonce and after >= floor  # S7 across the restart
    assert n1 == len(rows) and n2 == s["fills"]  # run 1's fills kept, run 2's added
