"""Bad journals stop `hlmaker run` before trading (one line naming the file and the fix); a
full channel or a failing write while trading is counted, logged and recorded as a hole."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner

from hlmaker.cli import main
from hlmaker.clock import FixedClock
from hlmaker.journal import Journal, JournalError, Mark, RunContext
from hlmaker.journal.replay import replay
from hlmaker.messages import Fill, Fills
from hlmaker.orders import BookConfig, OrderBookCore


def _refused(path: Path, match: str) -> None:
    with pytest.raises(JournalError, match=match) as err:
        Journal.open(path)
    assert str(path) in str(err.value)
    res = CliRunner().invoke(main, ["run", "--journal", str(path), "--duration", "0", "--plain"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and "--no-journal" in lines[0], lines


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path).close_unstarted()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    _refused(path, "newer hlmaker")


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database\n" * 400)
    _refused(path, "corrupt")
    assert path.read_bytes().startswith(b"this is not")  # nothing lost


def test_journal_locked_by_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    code = ("import sys, time; from hlmaker.journal import Journal; "
            f"j = Journal.open({str(path)!r}); print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        _refused(path, "locked by another hlmaker process")
    finally:
        holder.kill()
        holder.wait()
    Journal.open(path).close_unstarted()  # the lock died with its process


def _context(clock: FixedClock) -> RunContext:
    core = OrderBookCore(BookConfig())
    return RunContext(network="sim", venue="sim@test", account="0x" + "0" * 40,
                      book_config=BookConfig(), clock=clock, view_at=core.view,
                      mark=lambda: Mark(closed_pnl=D(0), fees=D(0), unrealized=None,
                                        positions={}, counters={}), mids={})


def _big_fills(n: int) -> Fills:
    return Fills(fills=tuple(Fill(coin="BTC", px=D("100000"), sz=D("0.001"), side="B",
                                  time_ms=1, start_position=D(0), dir="Open Long",
                                  closed_pnl=D(0), hash="0x" + "ab" * 32, oid=i, crossed=False,
                                  fee=D("0.01"), tid=i) for i in range(n)))


async def test_a_full_queue_drops_counts_and_records_a_hole(tmp_path: Path) -> None:
    clock = FixedClock()
    journal = Journal.open(tmp_path / "j.sqlite", capacity=3)
    journal.begin_run(_context(clock))
    journal.core_created(1, clock.now_ms())
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            for _ in range(10):  # the book steps faster than the journal drains: never blocks
                journal.observer.core_step(None, clock.now_ms(), [])
            assert journal.dropped == 7
            await trio.sleep(0.5)
            journal.observer.core_step(None, clock.now_ms(), [])
            await journal.close()
    with sqlite3.connect(tmp_path / "j.sqlite") as db:
        assert db.execute("SELECT from_seq, to_seq, lost, reason FROM gaps").fetchall() == [
            (4, 10, 7, "queue full")]
        assert db.execute("SELECT dropped FROM runs").fetchone()[0] == 7
    r = replay(tmp_path / "j.sqlite")
    assert not r.matched and r.gap is not None and "4–10" in r.gap


async def _until(condition: Callable[[], bool]) -> None:
    """Poll the journal's writer thread (bounded by the caller's fail_after) — not a fixed
    sleep, which a loaded machine outruns; the thread has no event to wait on."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(0.01)


async def test_a_failing_write_is_counted_and_trading_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = FixedClock()
    path = tmp_path / "j.sqlite"
    journal = Journal.open(path, max_bytes=400_000)  # a disk that fills up
    journal.begin_run(_context(clock))
    journal.core_created(1, clock.now_ms())
    with trio.fail_after(20), caplog.at_level(logging.ERROR, "hlmaker.journal"):
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            journal.observer.core_step(None, clock.now_ms(), [])
            await _until(lambda: journal.steps == 1)  # taken by the writer: its own batch
            journal.observer.core_step(_big_fills(3000), clock.now_ms(), [])  # > the cap
            await _until(lambda: journal.write_errors > 0)
            assert journal.write_errors == 1
            journal.observer.core_step(None, clock.now_ms(), [])  # the disk has room again
            await _until(lambda: journal.steps == 3)
            await journal.close()
    assert "write failed" in caplog.text and str(path) in caplog.text
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT from_seq, to_seq, lost FROM gaps").fetchall() == [(2, 2, 1)]
        assert [r[0] for r in db.execute("SELECT seq FROM inputs ORDER BY seq")] == [1, 3]
    assert replay(path).gap is not None


def test_no_journal_trades_despite_a_bad_default_journal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hlmaker.journal.paths import default_journal_path
    from hlmaker.run import build_config, load_wallet

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("HLMAKER_PRIVATE_KEY", raising=False)
    bad = default_journal_path("sim", load_wallet(build_config(None, None)).query_address)
    assert bad.is_relative_to(tmp_path)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage" * 100)
    run = [sys.executable, "-m", "hlmaker", "run", "--plain", "--duration", "0"]
    refused = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and str(bad) in refused.stderr, refused.stderr[-2000:]
    ok = subprocess.run([*run, "--no-journal"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "journal:" not in ok.stdout and "summary fills=" in ok.stdout
    both = CliRunner().invoke(main, ["run", "--journal", str(bad), "--no-journal"])
    assert both.exit_code == 2 and "exclude" in both.output


def test_closing_removes_the_lock_file_and_a_stale_one_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    lock = tmp_path / "j.sqlite.lock"
    first = Journal.open(path)
    assert lock.exists()
    _refused(path, "locked by another hlmaker process")  # held while open
    first.close_unstarted()
    assert not lock.exists()  # a clean close leaves nothing behind
    lock.write_bytes(b"")  # what a kill -9 leaves: the file, unlocked
    second = Journal.open(path)
    assert lock.exists()
    second.close_unstarted()
    assert not lock.exists()
