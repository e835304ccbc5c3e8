"""A journal written by an older hlmaker is migrated on open, its rows kept, and written on."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

import trio

from hlmaker.clock import FixedClock
from hlmaker.journal import Journal, Mark, RunContext
from hlmaker.journal.schema import MIGRATIONS, SCHEMA_VERSION
from hlmaker.messages import Fill, FillLiquidation, Fills
from hlmaker.orders import BookConfig, OrderBookCore


def _v1_fill(tid: int, liquidation: int) -> tuple[object, ...]:
    """A fill row as schema 1 stored it (19 columns, ``liquidation`` a 0/1 flag)."""
    return ("hl", 7, tid, 1, 5, "BTC", "100", "0.1", "B", 5, "0", "Open Long", "0", "0xab", 0,
            "0.01", None, "USDC", liquidation)


def _schema_1(path: Path) -> None:
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[1]:
            db.execute(statement)
        db.execute("PRAGMA user_version=1")
        db.execute("INSERT INTO runs (run_id, started_ms, network, venue, account, book_config,"
                   " version, nonce_floor) VALUES (1, 1, 'sim', 'hl', '0x1', '{}', 'x', 0)")
        for row in (_v1_fill(1, 0), _v1_fill(2, 1)):
            db.execute(f"INSERT INTO fills VALUES ({', '.join('?' * len(row))})", row)


def _liquidated_fill(tid: int) -> Fill:
    return Fill(coin="BTC", px=D("100"), sz=D("0.1"), side="B", time_ms=9, start_position=D(0),
                dir="Open Long", closed_pnl=D(0), hash="0x" + "cd" * 32, oid=8, crossed=True,
                fee=D("0.02"), tid=tid, builder_fee=D("0.001"), twap_id=4,
                liquidation=FillLiquidation(liquidated_user="0x" + "11" * 20,
                                            mark_px=D("99.5"), method="market"))


async def test_a_schema_1_journal_is_migrated_keeps_its_fills_and_takes_new_ones(
        tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _schema_1(path)
    journal = Journal.open(path)
    assert journal.prior_fills == 2
    clock = FixedClock()
    core = OrderBookCore(BookConfig())
    journal.begin_run(RunContext(
        network="sim", venue="hl", account="0x1", book_config=BookConfig(), clock=clock,
        view_at=core.view, mids={},
        mark=lambda: Mark(closed_pnl=D(0), fees=D(0), unrealized=None, positions={},
                          counters={})))
    journal.core_created(1, clock.now_ms())
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            journal.observer.core_step(Fills(fills=(_liquidated_fill(3),)), clock.now_ms(), [])
            await journal.close()
    assert journal.write_errors == 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = db.execute("SELECT tid, liquidation, builder_fee, twap_id FROM fills "
                          "ORDER BY tid").fetchall()
    assert rows[0] == (1, None, None, None)  # not liquidated
    assert rows[1] == (2, "{}", None, None)  # liquidated, details not recorded by schema 1
    assert rows[2][0] == 3 and "99.5" in rows[2][1] and rows[2][2:] == ("0.001", 4)
