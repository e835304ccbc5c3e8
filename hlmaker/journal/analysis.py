"""What a journal says about the trading: the figures behind ``hlmaker report``.

:func:`load_session` reads a journal (from ``since_ms`` on) into plain rows; the functions below
derive the market maker's daily questions from them, exactly where money is concerned
(``Decimal``), as floats only for plotting:

* PnL over time: realized (Σ closedPnl − Σ fee, per fill, cumulative over every run), fees,
  and the unrealized marks the maker journaled;
* fill markouts: the mid ``h`` seconds after a fill against its price, in bps, signed so that
  positive means the fill earned (a bid filled below the later mid), at 1, 5, 30 and 60 s;
  per side and ladder level — adverse selection shows as negative markouts;
* spread captured: the mid at the fill against its price, bps, signed the same way;
* ladder level of an order: its rank (0 = nearest the mid) in the last ``TargetLadder`` of its
  coin and side at or before its placement; fill rate per level = fills / placements;
* ack latency: from the command (book step) to its first outcome (book step), ms; a fill
  "beat its ack" when the order's first fill reached the book before its ack.

Mids are journaled once per second, so a markout is read from the first mid at or after
``fill time + h`` (within 5 s, else the fill has no markout at that horizon).
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

from hlmaker.journal import codec
from hlmaker.journal.schema import open_db

HORIZONS_S = (1, 5, 30, 60)
MID_TOLERANCE_MS = 5_000


@attrs.frozen
class FillRow:
    """One journaled fill (exact decimals); ``level`` is its order's ladder level or None."""

    run_id: int
    time_ms: int
    coin: str
    side: str
    px: Decimal
    sz: Decimal
    closed_pnl: Decimal
    fee: Decimal
    cloid: str | None
    level: int | None = None


@attrs.define
class Session:
    """A journal's rows from ``since_ms`` on (see :func:`load_session`)."""

    path: str
    runs: list[dict[str, Any]]
    fills: list[FillRow]
    marks: list[dict[str, Any]]
    mids: dict[str, tuple[list[int], list[Decimal]]]
    """coin → (times, mids), time ordered."""
    quotes: list[tuple[int, str, str, Decimal, int | None]]
    """(time, coin, side, px, level) of every order placed or modified."""
    latencies: dict[str, list[int]]
    """action type → ack latencies (ms)."""
    acks: int
    fills_before_ack: int
    gaps: list[dict[str, Any]]


def load_session(path: str | os.PathLike[str], since_ms: int | None = None) -> Session:
    """Read the journal at ``path`` (all runs, or rows from ``since_ms`` on).

    Raises:
        JournalError: no such file, newer schema, corrupt.
    """
    db = open_db(path, create=False)
    try:
        return _load(db, os.fspath(path), since_ms or 0)
    finally:
        db.close()


def _load(db: sqlite3.Connection, path: str, since: int) -> Session:
    runs = [dict(zip(("run_id", "started_ms", "ended_ms", "network", "venue", "account",
                      "core_steps", "dropped", "write_errors", "clean_end"), r))
            for r in db.execute("SELECT run_id, started_ms, ended_ms, network, venue, account, "
                                "core_steps, dropped, write_errors, clean_end FROM runs "
                                "ORDER BY run_id")]
    ladders: dict[tuple[str, str], list[tuple[int, dict[Decimal, int]]]] = defaultdict(list)
    for now, body in db.execute("SELECT now_ms, body FROM inputs WHERE type='TargetLadder' "
                                "AND now_ms >= ? ORDER BY run_id, seq", (since,)):
        lad = codec.loads(body)
        ladders[(lad.coin, "B")].append((now, {lv.px: i for i, lv in enumerate(lad.bids)}))
        ladders[(lad.coin, "A")].append((now, {lv.px: i for i, lv in enumerate(lad.asks)}))
    quotes: list[tuple[int, str, str, Decimal, int | None]] = []
    level_of: dict[str, int | None] = {}
    latencies: dict[str, list[int]] = defaultdict(list)
    for at, kind, body, latency in db.execute(
            "SELECT at_ms, type, body, latency_ms FROM actions WHERE at_ms >= ? "
            "ORDER BY run_id, at_ms", (since,)):
        if latency is not None:
            latencies[kind].append(latency)
        if kind not in ("order", "batchModify"):
            continue
        cmd = codec.loads(body)
        orders = cmd.orders if kind == "order" else [m.order for m in cmd.modifies]
        for o in orders:
            level = _level(ladders.get((o.coin, o.side), []), at, o.px)
            level_of[o.cloid] = level
            quotes.append((at, o.coin, o.side, o.px, level))
    fills = [FillRow(run_id=r[0], time_ms=r[1], coin=r[2], side=r[3], px=Decimal(r[4]),
                     sz=Decimal(r[5]), closed_pnl=Decimal(r[6]), fee=Decimal(r[7]),
                     cloid=r[8], level=level_of.get(r[8]) if r[8] else None)
             for r in db.execute(
                 "SELECT f.run_id, f.time_ms, f.coin, f.side, f.px, f.sz, f.closed_pnl, f.fee, "
                 "f.cloid FROM fills f JOIN (SELECT venue, MIN(started_ms) AS epoch FROM runs "
                 "GROUP BY venue) v ON f.venue = v.venue WHERE f.time_ms >= v.epoch AND "
                 "f.time_ms >= ? ORDER BY f.time_ms, f.tid", (since,))]
    marks = [{"at_ms": r[0], "closed_pnl": Decimal(r[1]), "fees": Decimal(r[2]),
              "unrealized": None if r[3] is None else Decimal(r[3]),
              "positions": codec.loads(r[4]), "counters": codec.loads(r[5]),
              "dropped": r[6], "write_errors": r[7], "run_id": r[8]}
             for r in db.execute("SELECT at_ms, closed_pnl, fees, unrealized, positions, "
                                 "counters, dropped, write_errors, run_id FROM marks "
                                 "WHERE at_ms >= ? ORDER BY at_ms", (since,))]
    mids: dict[str, tuple[list[int], list[Decimal]]] = {}
    for at, coin, mid in db.execute("SELECT at_ms, coin, mid FROM mids WHERE at_ms >= ? "
                                    "ORDER BY coin, at_ms", (since,)):
        ts, ms = mids.setdefault(coin, ([], []))
        ts.append(at)
        ms.append(Decimal(mid))
    acks, beat = _fills_before_ack(db.execute(
        "SELECT run_id, seq, cloid, state, cause FROM order_events WHERE at_ms >= ? AND "
        "cloid IS NOT NULL ORDER BY run_id, seq", (since,)))
    gaps = [dict(zip(("run_id", "from_seq", "to_seq", "at_ms", "lost", "reason"), r))
            for r in db.execute("SELECT * FROM gaps ORDER BY run_id, from_seq")]
    return Session(path=path, runs=runs, fills=fills, marks=marks, mids=mids, quotes=quotes,
                   latencies=dict(latencies), acks=acks, fills_before_ack=beat, gaps=gaps)


def _level(history: list[tuple[int, dict[Decimal, int]]], at: int, px: Decimal) -> int | None:
    i = bisect.bisect_right([t for t, _ in history], at) - 1
    return history[i][1].get(px) if i >= 0 else None


def _fills_before_ack(rows: Iterable[tuple[int, int, str, str, str]]) -> tuple[int, int]:
    """(orders acked, orders whose first fill reached the book before their ack)."""
    first_fill: dict[tuple[int, str], int] = {}
    acked = beat = 0
    seen_ack: set[tuple[int, str]] = set()
    for run_id, seq, cloid, state, cause in rows:
        key = (run_id, cloid)
        if state == "fill":
            first_fill.setdefault(key, seq)
        elif cause == "ack" and key not in seen_ack:
            seen_ack.add(key)
            acked += 1
            if key in first_fill:
                beat += 1
    return acked, beat


def mid_at(session: Session, coin: str, t_ms: int) -> Decimal | None:
    """The first journaled mid of ``coin`` at or after ``t_ms`` (within 5 s), else None."""
    ts, ms = session.mids.get(coin, ([], []))
    i = bisect.bisect_left(ts, t_ms)
    if i < len(ts) and ts[i] - t_ms <= MID_TOLERANCE_MS:
        return ms[i]
    return None


def _bps(fill: FillRow, mid: Decimal) -> float:
    sign = 1 if fill.side == "B" else -1
    return float((mid - fill.px) / fill.px * 10_000 * sign)


def markouts(session: Session) -> dict[tuple[str, int | None, int], list[float]]:
    """(side, level, horizon s) → markouts in bps (positive: the fill earned)."""
    out: dict[tuple[str, int | None, int], list[float]] = defaultdict(list)
    for f in session.fills:
        for h in HORIZONS_S:
            mid = mid_at(session, f.coin, f.time_ms + h * 1000)
            if mid is not None:
                out[(f.side, f.level, h)].append(_bps(f, mid))
    return dict(out)


def spread_captured(session: Session) -> dict[str, list[float]]:
    """side → bps between the mid at the fill and its price (positive: inside our favour)."""
    out: dict[str, list[float]] = defaultdict(list)
    for f in session.fills:
        mid = mid_at(session, f.coin, f.time_ms)
        if mid is not None:
            out[f.side].append(_bps(f, mid))
    return dict(out)


def fill_rate(session: Session) -> dict[tuple[str, int | None], tuple[int, int]]:
    """(side, level) → (fills, placements)."""
    placed: dict[tuple[str, int | None], int] = defaultdict(int)
    for _, _, side, _, level in session.quotes:
        placed[(side, level)] += 1
    filled: dict[tuple[str, int | None], int] = defaultdict(int)
    for f in session.fills:
        if f.cloid is not None:
            filled[(f.side, f.level)] += 1
    return {k: (filled.get(k, 0), placed.get(k, 0)) for k in sorted(
        set(placed) | set(filled), key=lambda k: (k[0], -1 if k[1] is None else k[1]))}


def realized_series(session: Session) -> tuple[list[int], list[Decimal], list[Decimal]]:
    """(fill times, cumulative realized PnL net of fees, cumulative fees), exact."""
    times, pnl, fees = [], [], []
    total = fee_total = Decimal(0)
    for f in session.fills:
        total += f.closed_pnl - f.fee
        fee_total += f.fee
        times.append(f.time_ms)
        pnl.append(total)
        fees.append(fee_total)
    return times, pnl, fees


def percentile(values: list[int] | list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1, nearest rank) or None when empty."""
    if not values:
        return None
    s = sorted(values)
    return float(s[min(len(s) - 1, int(q * len(s)))])


def summary(session: Session) -> dict[str, Any]:
    """The terminal summary's figures (JSON-ready; money as exact strings)."""
    _, pnl, fees = realized_series(session)
    mk = markouts(session)
    by_h = {h: [v for (_, _, hh), vs in mk.items() if hh == h for v in vs] for h in HORIZONS_S}
    lat = [v for vs in session.latencies.values() for v in vs]
    return {
        "journal": session.path,
        "runs": len(session.runs),
        "fills": len(session.fills),
        "volume": str(sum((f.px * f.sz for f in session.fills), Decimal(0))),
        "realized_pnl_to_date": str(pnl[-1] if pnl else Decimal(0)),
        "fees": str(fees[-1] if fees else Decimal(0)),
        "markout_bps_mean": {f"{h}s": (round(sum(v) / len(v), 3) if v else None)
                             for h, v in by_h.items()},
        "ack_latency_ms": {"p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99),
                           "n": len(lat)},
        "fills_before_ack": session.fills_before_ack,
        "acks": session.acks,
        "gaps": len(session.gaps),
        "dropped": sum(r["dropped"] for r in session.runs),
        "write_errors": sum(r["write_errors"] for r in session.runs),
        "per_run": [{"run_id": r["run_id"], "network": r["network"],
                     "started_ms": r["started_ms"], "ended_ms": r["ended_ms"],
                     "clean_end": bool(r["clean_end"]),
                     "fills": sum(1 for f in session.fills if f.run_id == r["run_id"]),
                     "realized_pnl": str(sum((f.closed_pnl - f.fee for f in session.fills
                                              if f.run_id == r["run_id"]), Decimal(0)))}
                    for r in session.runs],
    }


def to_json(value: Any) -> str:
    """``json.dumps`` with Decimals as strings."""
    return json.dumps(value, default=str, indent=2)
