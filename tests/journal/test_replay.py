"""``hlmaker replay``: a journaled campaign run re-derives to the same digest and state."""

from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from hlmaker.chaos.harness import RunResult
from hlmaker.cli import main
from hlmaker.journal import codec
from hlmaker.journal.analysis import load_session, summary
from hlmaker.journal.replay import replay


def test_campaign_run_replays_to_its_digest(journaled_run: tuple[Path, RunResult]) -> None:
    path, run = journaled_run
    r = replay(path)
    assert r.matched, (r.mismatches, r.gap)
    # three digests agree: the chaos harness's, the journal's (live) and the replay's
    assert r.digest == r.journal_digest == run.core_digest
    assert r.steps == r.journal_steps == run.core_steps
    assert r.snapshots_checked >= 2  # the minute snapshot and the final one: state compared
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM cores").fetchone()[0] == 2  # the book crashed
        signed, total = db.execute("SELECT count(nonces), count(*) FROM actions").fetchone()
        assert total > 0 and signed >= total * 0.9  # a nonce per action sent (not expired)


def test_replay_command_until_prints_the_book(journaled_run: tuple[Path, RunResult]) -> None:
    path, _ = journaled_run
    with sqlite3.connect(path) as db:
        start = db.execute("SELECT started_ms FROM runs").fetchone()[0]
    res = CliRunner().invoke(main, ["replay", str(path), "--until", str(start + 20_000)])
    assert res.exit_code == 0, res.output
    assert "book at" in res.output and "positions:" in res.output
    full = CliRunner().invoke(main, ["replay", str(path)])
    assert full.exit_code == 0 and "MATCH" in full.output, full.output


def test_a_tampered_input_does_not_match(journaled_run: tuple[Path, RunResult],
                                         tmp_path: Path) -> None:
    path, _ = journaled_run
    copy = tmp_path / "tampered.sqlite"
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as db:
        seq, body = db.execute("SELECT seq, body FROM inputs WHERE type='TargetLadder' "
                               "ORDER BY seq LIMIT 1 OFFSET 5").fetchone()
        ladder = codec.loads(body)
        moved = type(ladder)(coin=ladder.coin, bids=tuple(
            type(lv)(px=lv.px - 1, sz=lv.sz, n=lv.n) for lv in ladder.bids), asks=ladder.asks,
            tif=ladder.tif)
        db.execute("UPDATE inputs SET body=? WHERE seq=?", (codec.dumps(moved), seq))
    r = replay(copy)
    assert not r.matched and r.mismatches
    res = CliRunner().invoke(main, ["replay", str(copy)])
    assert res.exit_code == 1 and "NO MATCH" in res.output


def test_report_figures_match_the_run(journaled_run: tuple[Path, RunResult]) -> None:
    path, run = journaled_run
    s = summary(load_session(path))
    realized = Decimal(run.counters["closed_pnl"]) - Decimal(run.counters["fees"])
    assert s["fills"] == run.counters["fills_applied"] > 0
    assert Decimal(s["realized_pnl_to_date"]) == realized
    assert s["gaps"] == s["dropped"] == s["write_errors"] == 0
    assert s["acks"] > 0 and s["ack_latency_ms"]["n"] > 0
    assert s["markout_bps_mean"]["1s"] is not None and s["markout_bps_mean"]["5s"] is not None
    res = CliRunner().invoke(main, ["report", str(path)])
    assert res.exit_code == 0 and f"realized_pnl_to_date: {realized}" in res.output


def test_report_since_and_missing_file(journaled_run: tuple[Path, RunResult],
                                       tmp_path: Path) -> None:
    path, _ = journaled_run
    with sqlite3.connect(path) as db:
        (end,) = db.execute("SELECT ended_ms FROM runs").fetchone()
    res = CliRunner().invoke(main, ["report", str(path), "--since", str(end + 1), "--json"])
    assert res.exit_code == 0 and '"fills": 0' in res.output, res.output
    missing = tmp_path / "nope.sqlite"
    for cmd in ("report", "replay"):
        res = CliRunner().invoke(main, [cmd, str(missing)])
        assert res.exit_code == 2 and str(missing) in res.output and "no such file" in res.output
    assert not missing.exists()  # reading never creates a journal
