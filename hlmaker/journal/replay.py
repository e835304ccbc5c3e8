"""``hlmaker replay``: re-derive the book of a journaled run from its inputs.

The book is a pure function of its inbox: the same :class:`~hlmaker.orders.OrderBookCore`
(same :class:`~hlmaker.orders.BookConfig`, cloids drawn from ``random.Random(seed)`` with the
journaled seed of each book incarnation) fed the same messages at the same ``now_ms`` returns
the same actions and reaches the same state. :func:`replay` does that and checks

* the digest — SHA-256 over ``f"{kind}|{now_ms}|{msg!r}|{actions!r}\\n"`` per step, the chaos
  harness's core digest — against the one the journal computed live, at every view snapshot
  and at the end;
* the book (orders, positions, counters) against every journaled view snapshot (once a minute
  and the final one).

A journal with a hole (steps dropped or a failed write) can be re-derived only up to it: the
result says so and does not match.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import attrs

from hlmaker.journal import codec
from hlmaker.journal.schema import JournalError, open_db
from hlmaker.messages import BookView
from hlmaker.orders import OrderBookCore
from hlmaker.orders.ownership import CloidSource


@attrs.define
class ReplayResult:
    """What :func:`replay` found. ``matched``: every check passed and the run was covered to
    its last journaled step (or to ``until``)."""

    run_id: int
    steps: int = 0
    digest: str = ""
    journal_digest: str | None = None
    journal_steps: int = 0
    snapshots_checked: int = 0
    mismatches: list[str] = attrs.Factory(list)
    gap: str | None = None
    view: BookView | None = None
    """The book after the last step replayed."""
    last_inputs: list[tuple[int, int, str, str]] = attrs.Factory(list)
    """(seq, now_ms, type, actions) of the last steps replayed (for ``--until``)."""

    @property
    def matched(self) -> bool:
        return not self.mismatches and self.gap is None


def replay(path: str | os.PathLike[str], *, run_id: int | None = None,
           until_ms: int | None = None, keep_last: int = 10) -> ReplayResult:
    """Replay run ``run_id`` (default: the last) of the journal at ``path``; stop before the
    first input later than ``until_ms`` when given.

    Raises:
        JournalError: no such file or run, newer schema, corrupt.
    """
    db = open_db(path, create=False)
    try:
        row = db.execute(
            "SELECT run_id, book_config, core_digest, core_steps FROM runs "
            + ("WHERE run_id=?" if run_id is not None else "ORDER BY run_id DESC LIMIT 1"),
            (run_id,) if run_id is not None else ()).fetchone()
        if row is None:
            raise JournalError(path, f"has no run {run_id if run_id is not None else ''}".strip(),
                               "list the runs with `hlmaker report`")
        rid, config_text, journal_digest, journal_steps = row
        result = ReplayResult(run_id=rid, journal_digest=journal_digest,
                              journal_steps=journal_steps)
        config = codec.loads(config_text)
        seeds = dict(db.execute("SELECT incarnation, seed FROM cores WHERE run_id=?", (rid,)))
        snaps: dict[int, list[tuple[Any, ...]]] = {}
        for seq, inc, at, kind, view, digest in db.execute(
                "SELECT seq, incarnation, at_ms, kind, view, digest FROM snapshots "
                "WHERE run_id=? ORDER BY seq", (rid,)):
            snaps.setdefault(seq, []).append((inc, at, kind, view, digest))
        gap = db.execute("SELECT from_seq, to_seq, reason FROM gaps WHERE run_id=? "
                         "ORDER BY from_seq LIMIT 1", (rid,)).fetchone()
        _run(result, _inputs(db, rid), config, seeds, snaps, gap, until_ms, keep_last)
        if (until_ms is None and result.gap is None and journal_digest is not None
                and result.steps == journal_steps and result.digest != journal_digest):
            result.mismatches.append(f"digest {result.digest} != journaled {journal_digest}")
        if until_ms is None and result.gap is None and result.steps < journal_steps:
            result.mismatches.append(f"only {result.steps} of {journal_steps} steps journaled")
        return result
    finally:
        db.close()


def _inputs(db: Any, rid: int) -> Iterator[tuple[int, int, int, str, str | None]]:
    yield from db.execute("SELECT seq, incarnation, now_ms, type, body FROM inputs "
                          "WHERE run_id=? ORDER BY seq", (rid,))


def _run(result: ReplayResult, inputs: Iterator[tuple[int, int, int, str, str | None]],
         config: Any, seeds: dict[int, str], snaps: dict[int, list[tuple[Any, ...]]],
         gap: tuple[int, int, str] | None, until_ms: int | None, keep_last: int) -> None:
    h = hashlib.sha256()
    core: OrderBookCore | None = None
    inc_now = 0
    now = 0
    expected = 1
    for seq, inc, now_ms, kind, body in inputs:
        if until_ms is not None and now_ms > until_ms:
            break
        if seq != expected or (gap is not None and seq >= gap[0]):
            g = gap or (expected, seq - 1, "missing rows")
            result.gap = f"steps {g[0]}–{g[1]} are missing ({g[2]}): re-derived up to {g[0]-1}"
            break
        expected += 1
        if inc != inc_now:
            if str(inc) not in map(str, seeds):
                result.mismatches.append(f"no core seed journaled for incarnation {inc}")
                break
            core = _core(config, seeds[inc])
            inc_now = inc
        assert core is not None
        now = now_ms
        if kind == "tick":
            msg = None
            actions = list(core.tick(now_ms))
        else:
            msg = codec.loads(body or "null")
            actions = list(core.handle(msg, now_ms))  # the one door, snapshots included
        h.update(f"{'tick' if msg is None else 'in'}|{now_ms}|{msg!r}|{actions!r}\n".encode())
        result.steps += 1
        if keep_last:
            result.last_inputs.append((seq, now_ms, kind, repr(actions)))
            del result.last_inputs[:-keep_last]
        for s_inc, at, what, view_text, digest in snaps.get(seq, ()):
            if s_inc != inc:
                continue
            result.snapshots_checked += 1
            if h.hexdigest() != digest:
                result.mismatches.append(f"digest differs at step {seq} ({what} snapshot)")
            result.mismatches += _compare(core.view(at), codec.loads(view_text), seq, what)
    result.digest = h.hexdigest()
    if core is not None:
        result.view = core.view(now)


def _compare(got: BookView, want: BookView, seq: int, what: str) -> list[str]:
    out = []
    if got.orders != want.orders:
        out.append(f"orders differ at step {seq} ({what}): replayed {len(got.orders)}, "
                   f"journaled {len(want.orders)}")
    if dict(got.positions) != dict(want.positions):
        out.append(f"positions differ at step {seq} ({what}): replayed {dict(got.positions)}"
                   f", journaled {dict(want.positions)}")
    if got.counters != want.counters:
        out.append(f"counters differ at step {seq} ({what})")
    return out


def _core(config: Any, spec_text: str) -> OrderBookCore:
    """The order core a book incarnation started with, from its journaled ``cores.seed``:
    ``{"seed", "ownership", "cloids": [prefix, session, drawn]}``."""
    spec = json.loads(spec_text)
    ownership = None if spec.get("ownership") is None else codec.decode(spec["ownership"])
    cloids = None if spec.get("cloids") is None else CloidSource.resume(*spec["cloids"])
    return OrderBookCore(config, random.Random(int(spec["seed"])), ownership=ownership,
                         cloids=cloids)
