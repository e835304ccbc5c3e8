"""The journal's SQLite schema, its version and migrations, and opening a file safely.

The schema version is SQLite's ``PRAGMA user_version``. :data:`MIGRATIONS` maps each version to
the statements that bring a file from the version before to it; :func:`open_db` applies the
missing ones in one transaction. A file written by a newer hlmaker (a higher version), a file that
is not an SQLite database, or one another process holds (an exclusive ``flock`` on
``PATH.lock``, held while a maker writes) raises :class:`JournalError` naming the file and what
to do — before any trading starts.

Decimals are stored as their exact text (``TEXT`` columns), times as ms since the epoch.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from pathlib import Path

from hlmaker.errors import HlmakerError

SCHEMA_VERSION = 2

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, ended_ms INTEGER,
            network TEXT NOT NULL, venue TEXT NOT NULL, account TEXT NOT NULL,
            book_config TEXT NOT NULL, version TEXT NOT NULL, nonce_floor INTEGER NOT NULL,
            core_digest TEXT, core_steps INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0, write_errors INTEGER NOT NULL DEFAULT 0,
            clean_end INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE cores (
            run_id INTEGER NOT NULL, incarnation INTEGER NOT NULL, seed TEXT NOT NULL,
            created_ms INTEGER NOT NULL, first_seq INTEGER NOT NULL,
            PRIMARY KEY (run_id, incarnation))""",
        """CREATE TABLE inputs (
            run_id INTEGER NOT NULL, seq INTEGER NOT NULL, incarnation INTEGER NOT NULL,
            now_ms INTEGER NOT NULL, type TEXT NOT NULL, body TEXT,
            PRIMARY KEY (run_id, seq))""",
        """CREATE TABLE fills (
            venue TEXT NOT NULL, oid INTEGER NOT NULL, tid INTEGER NOT NULL,
            run_id INTEGER NOT NULL, seen_ms INTEGER NOT NULL, coin TEXT NOT NULL,
            px TEXT NOT NULL, sz TEXT NOT NULL, side TEXT NOT NULL, time_ms INTEGER NOT NULL,
            start_position TEXT NOT NULL, dir TEXT NOT NULL, closed_pnl TEXT NOT NULL,
            hash TEXT NOT NULL, crossed INTEGER NOT NULL, fee TEXT NOT NULL, cloid TEXT,
            fee_token TEXT NOT NULL, liquidation INTEGER NOT NULL,
            PRIMARY KEY (venue, oid, tid))""",
        """CREATE TABLE order_events (
            run_id INTEGER NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,
            cloid TEXT, oid INTEGER, state TEXT NOT NULL, cause TEXT NOT NULL)""",
        "CREATE INDEX order_events_cloid ON order_events (cloid)",
        """CREATE TABLE actions (
            run_id INTEGER NOT NULL, incarnation INTEGER NOT NULL, request_id INTEGER NOT NULL,
            at_ms INTEGER NOT NULL, type TEXT NOT NULL, cloids TEXT NOT NULL,
            oids TEXT NOT NULL, body TEXT NOT NULL, outcome TEXT, outcome_ms INTEGER,
            latency_ms INTEGER, nonces TEXT,
            PRIMARY KEY (run_id, incarnation, request_id))""",
        """CREATE TABLE nonces (
            signer TEXT PRIMARY KEY, last_nonce INTEGER NOT NULL, at_ms INTEGER NOT NULL)""",
        """CREATE TABLE marks (
            run_id INTEGER NOT NULL, at_ms INTEGER NOT NULL, closed_pnl TEXT NOT NULL,
            fees TEXT NOT NULL, unrealized TEXT, positions TEXT NOT NULL,
            counters TEXT NOT NULL, dropped INTEGER NOT NULL, write_errors INTEGER NOT NULL)""",
        """CREATE TABLE mids (
            at_ms INTEGER NOT NULL, coin TEXT NOT NULL, mid TEXT NOT NULL)""",
        "CREATE INDEX mids_coin_time ON mids (coin, at_ms)",
        """CREATE TABLE snapshots (
            run_id INTEGER NOT NULL, seq INTEGER NOT NULL, incarnation INTEGER NOT NULL,
            at_ms INTEGER NOT NULL, kind TEXT NOT NULL, view TEXT NOT NULL,
            digest TEXT NOT NULL)""",
        """CREATE TABLE gaps (
            run_id INTEGER NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,
            at_ms INTEGER NOT NULL, lost INTEGER NOT NULL, reason TEXT NOT NULL)""",
    ),
    # 2: fills keep the liquidation details (JSON text, was a flag), builderFee and twapId.
    # A schema-1 flag of 1 becomes "{}" (liquidated, details not recorded), 0 becomes NULL.
    2: (
        """CREATE TABLE fills_v2 (
            venue TEXT NOT NULL, oid INTEGER NOT NULL, tid INTEGER NOT NULL,
            run_id INTEGER NOT NULL, seen_ms INTEGER NOT NULL, coin TEXT NOT NULL,
            px TEXT NOT NULL, sz TEXT NOT NULL, side TEXT NOT NULL, time_ms INTEGER NOT NULL,
            start_position TEXT NOT NULL, dir TEXT NOT NULL, closed_pnl TEXT NOT NULL,
            hash TEXT NOT NULL, crossed INTEGER NOT NULL, fee TEXT NOT NULL, cloid TEXT,
            fee_token TEXT NOT NULL, liquidation TEXT, builder_fee TEXT, twap_id INTEGER,
            PRIMARY KEY (venue, oid, tid))""",
        """INSERT INTO fills_v2 SELECT venue, oid, tid, run_id, seen_ms, coin, px, sz, side,
            time_ms, start_position, dir, closed_pnl, hash, crossed, fee, cloid, fee_token,
            CASE WHEN liquidation THEN '{}' END, NULL, NULL FROM fills""",
        "DROP TABLE fills",
        "ALTER TABLE fills_v2 RENAME TO fills",
    ),
}


class JournalError(HlmakerError):
    """The journal file cannot be used; the message names the file and what to do."""

    def __init__(self, path: str | os.PathLike[str], problem: str, fix: str) -> None:
        super().__init__(f"journal {os.fspath(path)}: {problem}; {fix}")
        self.path = os.fspath(path)


_ELSEWHERE = "pass --journal with another file, or --no-journal to trade without one"


def lock_journal(path: Path) -> int:
    """Take the exclusive lock of ``path`` (``PATH.lock``, ``flock``) and return its fd; the
    lock lives until :func:`unlock_journal` (or the process dies — kill -9 included, which
    leaves the empty lock file behind, unlocked).

    The lock file is removed at unlock, so a lock taken on a file that was meanwhile unlinked
    (or replaced) is retried on the file now at the path: two processes never both hold it.

    Raises:
        JournalError: another process holds it.
    """
    lock_path = f"{path}.lock"
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalError(path, "locked by another hlmaker process",
                               f"stop that process first, or {_ELSEWHERE}") from None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder before us unlinked it: lock the file at the path now


def unlock_journal(path: Path, fd: int) -> None:
    """Remove ``PATH.lock`` and release the lock taken by :func:`lock_journal` (unlink first,
    while still holding it, so nobody locks a file that is about to disappear)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{path}.lock")
    os.close(fd)


def open_db(path: str | os.PathLike[str], *, create: bool = True,
            check_same_thread: bool = False) -> sqlite3.Connection:
    """Open (and, with ``create``, create or migrate) the journal at ``path``; WAL mode.

    Raises:
        JournalError: a newer schema, not a journal (corrupt), missing (``create=False``), or
            unreadable.
    """
    p = Path(path)
    if not create and not p.exists():
        raise JournalError(p, "no such file", "give the path `hlmaker run` printed at start")
    try:
        if create:
            p.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(p, isolation_level=None, check_same_thread=check_same_thread)
    except (OSError, sqlite3.Error) as exc:
        raise JournalError(p, f"cannot be opened ({exc})", _ELSEWHERE) from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(p, f"written by a newer hlmaker (schema {version}, this one "
                               f"reads up to {SCHEMA_VERSION})",
                               f"upgrade hlmaker, or {_ELSEWHERE}")
        if version == 0 and _has_tables(db):
            raise JournalError(p, "is an SQLite database but not an hlmaker journal",
                               _ELSEWHERE)
        if create:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if version < SCHEMA_VERSION:
                _migrate(db, version)
        elif version == 0:
            raise JournalError(p, "is not an hlmaker journal (empty)", "check the path")
    except JournalError:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:
        db.close()
        raise JournalError(p, f"is corrupt or not an SQLite database ({exc})",
                           f"move it away (keep it for inspection), or {_ELSEWHERE}") from None
    return db


def _has_tables(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def _migrate(db: sqlite3.Connection, version: int) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        for v in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[v]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version={v}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
