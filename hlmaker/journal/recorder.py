"""The journal actor: records the book's inputs, fills, order lifecycles, actions, marks and mids
in SQLite, off the book's hot path.

How the pieces meet::

    book ── core_step (JournalObserver) ──► bounded queue ────► run() ── batches ──► worker
    executor ── nonce_issued ─────────────► (max per signer,      │       thread: encode,
    run() every mark_interval_s / snapshot_interval_s: marks,     │       digest, INSERT,
    a view snapshot, mids every second ───────────────────────────┘       one transaction

* The observer only appends the (immutable) message and actions to a bounded queue (a deque
  with a capacity and a wake-up event: a trio memory channel's ``send_nowait`` cost the book
  three times as much per step): a full queue drops the step, counts it
  (:attr:`Journal.dropped`) and leaves a hole in the step sequence numbers, recorded in the
  ``gaps`` table. The book never waits for the journal. While messages wait in the book's
  inbox, the journal defers its next batch (:attr:`RunContext.book_busy`), so its encoding
  runs in the book's idle time.
* A failing write (disk full, I/O error) rolls its batch back, is logged and counted
  (:attr:`Journal.write_errors`), recorded as a gap once writes succeed again, and trading
  continues.
* Every recorded step extends the live digest — SHA-256 over
  ``f"{kind}|{now_ms}|{msg!r}|{actions!r}\\n"`` (``kind`` ``in`` or ``tick``), the chaos
  harness's core digest — stored with the run and with every view snapshot, so
  ``hlmaker replay`` can prove its re-derivation.
* Restart continuity (:meth:`Journal.open`): the nonce floor (the highest journaled nonce and
  the last flush time, plus :data:`NONCE_MARGIN_MS`), and the realized PnL to date.

Units: times in ms since the epoch (the maker's clock), money in quote currency (exact text).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from importlib.metadata import version as _pkg_version
from pathlib import Path
from typing import Any

import attrs
import trio

from hlmaker.clock import Clock
from hlmaker.journal import codec
from hlmaker.journal.schema import JournalError, lock_journal, open_db, unlock_journal
from hlmaker.messages import (
    BookView,
    CancelFailed,
    CancelOk,
    CancelOrders,
    Fill,
    Fills,
    ModifyFilled,
    ModifyOrders,
    ModifyRejected,
    ModifyResting,
    NonUserCancel,
    OrderFilled,
    OrderRejected,
    OrderResting,
    OrderUpdates,
    PlaceOrders,
    ReconcileSnapshot,
    RequestUnknown,
    ScheduleCancel,
    ScheduleCancelResult,
)
from hlmaker.observer import Observer
from hlmaker.orders.ownership import CloidSource, Ownership

log = logging.getLogger("hlmaker.journal")

NONCE_MARGIN_MS = 10_000
"""The next process's nonce floor is this far above the journal's last nonce (or last flush
time): nonces issued in the last unwritten batch before a kill -9 (written as soon as the
book is idle, at most :data:`MAX_DEFER_S` later) stay below it."""

CAPACITY = 10_000
"""Items the queue holds before steps are dropped (counted as gaps)."""
BATCH = 512
"""Items written per transaction, at most."""
MAX_DEFER_S = 1.0
"""Longest wait for an idle book before a batch is written anyway."""
IDLE_POLL_S = 0.002


@attrs.frozen
class Mark:
    """The PnL and counters at one instant (``marks`` table)."""

    closed_pnl: Decimal
    fees: Decimal
    unrealized: Decimal | None
    positions: Mapping[str, Decimal]
    counters: Mapping[str, Any]


@attrs.frozen
class RunContext:
    """What the maker tells the journal when trading starts (:meth:`Journal.begin_run`)."""

    network: str
    venue: str
    """Where fill ids are unique: the network, or one simulator instance."""
    account: str
    book_config: object
    clock: Clock
    view_at: Callable[[int], BookView]
    """The book's state as of its last step (``now_ms`` of that step)."""
    mark: Callable[[], Mark]
    mids: Mapping[str, Decimal]
    """Mid per coin as the quoter last saw it (only ``coins`` are journaled)."""
    coins: tuple[str, ...] = ()
    """The traded coins (all of ``mids`` when empty)."""
    book_busy: Callable[[], bool] = lambda: False
    """True while messages wait in the book's inbox: the journal then defers its next batch
    (up to :data:`MAX_DEFER_S`, or until its queue is half full) so that its encoding does
    not take CPU from a busy book."""


def realized_to_date(db: sqlite3.Connection) -> Decimal:
    """Σ closedPnl − Σ fee over every fill journaled on this file, exactly (quote currency):
    each fill once (unique per venue, oid and tid), only fills from a venue's first journaled
    run on (older history the first sync read is not ours to count)."""
    total = Decimal(0)
    rows = db.execute(
        "SELECT f.closed_pnl, f.fee FROM fills f JOIN (SELECT venue, MIN(started_ms) AS epoch "
        "FROM runs GROUP BY venue) v ON f.venue = v.venue WHERE f.time_ms >= v.epoch")
    for closed, fee in rows:
        total += Decimal(closed) - Decimal(fee)
    return total


class JournalObserver(Observer):
    """The journal's probes: every core step and nonce, handed over without blocking."""

    def __init__(self, journal: Journal) -> None:
        self._j = journal

    def core_step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        self._j._step(msg, now_ms, actions)

    def action_signed(self, request_id: int, kind: str, nonce: int) -> None:
        self._j._offer(("signed", self._j._incarnation, request_id, nonce))

    def nonce_issued(self, signer: str, nonce: int) -> None:
        nonces = self._j._nonces
        key = signer.lower()
        if nonce > nonces.get(key, 0):
            nonces[key] = nonce


class Journal:
    """One open journal file (locked while open). Build with :meth:`open`."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock_fd: int, *,
                 capacity: int = CAPACITY, inline: bool = False) -> None:
        self.path = path
        self.inline = inline
        """Write on the calling task instead of a worker thread (see :meth:`open`)."""
        self._db = db
        self._lock_fd = lock_fd
        self.observer = JournalObserver(self)
        last = db.execute("SELECT max(last_nonce), max(at_ms) FROM nonces").fetchone()
        ran = db.execute("SELECT max(ended_ms), max(started_ms) FROM runs").fetchone()
        seen = [v for v in (*last, *ran) if v is not None]
        self.nonce_floor = max(seen) + NONCE_MARGIN_MS if seen else 0
        """Every nonce of this process must be ≥ this (S7 across restarts)."""
        self.prior_realized = realized_to_date(db)
        """Realized PnL of the runs before this one (quote currency)."""
        self.prior_fills = db.execute("SELECT count(*) FROM fills").fetchone()[0]
        self.run_id: int | None = None
        self.realized_pnl_to_date: Decimal | None = None
        """Set when the journal closes: every fill journaled on this file (see
        :func:`realized_to_date`)."""
        self.dropped = 0
        """Steps lost because the queue was full."""
        self.write_errors = 0
        """Batches whose write failed (disk full, I/O error): their steps are a hole."""
        self.steps = 0
        self._queue: deque[tuple[Any, ...]] = deque()
        self._capacity = capacity
        self._wakeup: trio.Event | None = None
        self._nonces: dict[str, int] = {}
        self._seq = 0
        self._incarnation = 0
        self._last_now = 0
        self._ctx: RunContext | None = None
        self._digest = hashlib.sha256()
        self._written_seq = 0
        self._pending_gap: tuple[int, int, str] | None = None
        self._cores: list[tuple[Any, ...]] = []
        self._done = trio.Event()
        self._db_lock = threading.Lock()
        """Held by the worker thread's write and by :meth:`_finish`: the connection is never
        closed under a write still in its thread (under a mock clock :meth:`close`'s 30 s bound
        passes while a write runs)."""
        self.closed = False
        self._closing = False

    # ---- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, capacity: int = CAPACITY,
             max_bytes: int | None = None, inline: bool = False) -> Journal:
        """Lock, open (create or migrate) and read the continuity figures of ``path``.
        ``capacity``: items the queue holds; ``max_bytes``: a size cap (writes beyond it fail
        like a full disk: counted, logged, recorded as a hole, trading continues); ``inline``:
        write on the journal's own trio task instead of a worker thread — for the deterministic
        campaign, where a thread would let the mock clock jump while it writes and would not
        replay exactly.

        Raises:
            JournalError: locked by another process, newer schema, corrupt or unreadable (the
                message names the file and what to do).
        """
        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(p, f"its directory cannot be created ({exc.strerror})",
                               "pass --journal with a writable path, or --no-journal") from None
        fd = lock_journal(p)
        try:
            db = open_db(p)
            if max_bytes is not None:
                page = db.execute("PRAGMA page_size").fetchone()[0]
                db.execute(f"PRAGMA max_page_count={max(1, int(max_bytes) // page)}")
            return cls(p, db, fd, capacity=capacity, inline=inline)
        except BaseException:
            unlock_journal(p, fd)
            raise

    @property
    def last_nonces(self) -> Mapping[str, int]:
        """The highest nonce issued per signer by this process so far."""
        return dict(self._nonces)

    def begin_run(self, ctx: RunContext) -> int:
        """Record a new run (its book config, venue, nonce floor); returns its id."""
        self._ctx = ctx
        now = ctx.clock.now_ms()
        cur = self._db.execute(
            "INSERT INTO runs (started_ms, network, venue, account, book_config, version, "
            "nonce_floor) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now, ctx.network, ctx.venue, ctx.account, codec.dumps(ctx.book_config),
             _pkg_version("hlmaker"), self.nonce_floor))
        self.run_id = int(cur.lastrowid or 0)
        return self.run_id

    def core_created(self, seed: int, now_ms: int, ownership: Ownership | None = None,
                     cloids: CloidSource | None = None) -> None:
        """A new order core (a new book incarnation) was built with ``random.Random(seed)``,
        ``ownership`` and the cloid source ``cloids`` in its current state: replay builds the
        same core from here on (stored as JSON in ``cores.seed``)."""
        self._incarnation += 1
        spec = json.dumps({"seed": str(seed),
                           "ownership": None if ownership is None else codec.encode(ownership),
                           "cloids": None if cloids is None else list(cloids.state())})
        self._cores.append((self.run_id, self._incarnation, spec, now_ms, self._seq + 1))
        if self._ctx is not None and self._incarnation > 1:
            self._offer(("flush",))  # a batch carries it even when no step follows

    # ---- the hot path -------------------------------------------------------------------------
    def _step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        # Called by the book for every step: a few attribute reads and a deque append (the
        # book never mutates ``actions`` after handing them over).
        self._seq += 1
        self._last_now = now_ms
        if len(self._queue) >= self._capacity or self._closing:
            self.dropped += 1
            return
        self._queue.append(("in", self._seq, self._incarnation, now_ms, msg, actions or ()))
        if self._wakeup is not None:
            self._wakeup.set()

    # ---- the actor ----------------------------------------------------------------------------
    async def run(self, *, mark_interval_s: float = 10.0, snapshot_interval_s: float = 60.0,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write batches until :meth:`close` (sampling marks, snapshots and mids meanwhile)."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._sample, mark_interval_s, snapshot_interval_s)
                task_status.started()
                queue = self._queue
                while True:
                    if not queue:
                        if self._closing:
                            break
                        self._wakeup = trio.Event()
                        await self._wakeup.wait()
                        self._wakeup = None
                        continue
                    await self._wait_for_idle_book()
                    batch = [queue.popleft() for _ in range(min(BATCH, len(queue)))]
                    await self._flush(batch)
                nursery.cancel_scope.cancel()
        finally:
            self._done.set()

    async def _wait_for_idle_book(self) -> None:
        ctx = self._ctx
        if ctx is None or self._closing:  # closing: write what is left at once
            return
        half = self._capacity / 2
        for _ in range(int(MAX_DEFER_S / IDLE_POLL_S)):  # the inbox has no "empty" event
            if not ctx.book_busy() or len(self._queue) >= half or self._closing:
                return
            await trio.sleep(IDLE_POLL_S)

    async def _flush(self, batch: list[tuple[Any, ...]]) -> None:
        cores, self._cores = self._cores, []
        if not await self._in_thread(self._write, batch, dict(self._nonces), cores):
            self._cores = cores + self._cores  # written with the next batch

    async def _sample(self, mark_s: float, snapshot_s: float) -> None:
        ctx = self._ctx
        if ctx is None:
            return
        n = 0
        every = max(1, round(mark_s))
        snap_every = max(1, round(snapshot_s))
        while True:
            await trio.sleep(1.0)
            n += 1
            now = ctx.clock.now_ms()
            mids = ctx.mids
            self._offer(("mids", now, {c: mids[c] for c in (ctx.coins or tuple(mids))
                                       if c in mids}))
            if n % every == 0:
                self._offer(("mark", now, ctx.mark()))
            if n % snap_every == 0:
                self.snapshot("minute")

    def snapshot(self, kind: str) -> None:
        """Queue the book's state as of its last step (checked by replay at that step)."""
        ctx = self._ctx
        if ctx is not None and self._seq:
            self._offer(("snap", self._seq, self._incarnation, self._last_now, kind,
                         ctx.view_at(self._last_now)))

    def _offer(self, item: tuple[Any, ...]) -> None:
        # samples are best effort (a full queue skips them); steps are what gaps count
        if len(self._queue) < self._capacity:
            self._queue.append(item)
            if self._wakeup is not None:
                self._wakeup.set()

    async def close(self) -> None:
        """Record the final snapshot and mark, drain the queue, end the run, unlock.
        Bounded: call it under a shielded scope."""
        ctx = self._ctx
        if ctx is not None:
            self.snapshot("final")
            self._offer(("mark", ctx.clock.now_ms(), ctx.mark()))
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        # No timer here: under a mock clock a timer would jump while a write runs in its thread.
        await self._done.wait()
        await self._in_thread(self._wait_write)  # a write in its thread lands
        end_ms = ctx.clock.now_ms() if ctx is not None else None
        await self._in_thread(self._finish, end_ms)

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        if self.inline:
            await trio.lowlevel.checkpoint()
            return fn(*args)
        return await trio.to_thread.run_sync(fn, *args)

    def close_unstarted(self) -> None:
        """Close a journal whose actor never ran (start-up failed)."""
        self._finish(None)

    def _wait_write(self) -> None:
        with self._db_lock:
            pass

    def _finish(self, end_ms: int | None) -> None:
        with self._db_lock:
            self._finish_locked(end_ms)

    def _finish_locked(self, end_ms: int | None) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self._cores:
                self._db.executemany("INSERT INTO cores VALUES (?, ?, ?, ?, ?)", self._cores)
                self._cores = []
            if self.run_id is not None and end_ms is not None:
                self._db.execute(
                    "UPDATE runs SET ended_ms=?, clean_end=1, dropped=?, write_errors=? "
                    "WHERE run_id=?", (end_ms, self.dropped,
                                       self.write_errors, self.run_id))
            self.realized_pnl_to_date = realized_to_date(self._db)
        except sqlite3.Error as exc:
            log.error("journal %s: could not end the run: %s", self.path, exc)
        finally:
            self._db.close()
            unlock_journal(self.path, self._lock_fd)

    # ---- the worker thread --------------------------------------------------------------------
    def _write(self, batch: list[tuple[Any, ...]], nonces: Mapping[str, int],
               cores: list[tuple[Any, ...]]) -> bool:
        """One transaction for ``batch``; False when it failed (logged, counted) or the journal
        is already closed."""
        with self._db_lock:
            if self.closed:
                return False
            return self._write_locked(batch, nonces, cores)

    def _write_locked(self, batch: list[tuple[Any, ...]], nonces: Mapping[str, int],
                      cores: list[tuple[Any, ...]]) -> bool:
        db = self._db
        steps = []
        digests: list[str] = []  # the digest as of each item (a snapshot carries its own)
        for item in batch:  # the digest covers every step received, written or not
            if item[0] == "in":
                _, _seq, _inc, now, msg, actions = item
                kind = "tick" if msg is None else "in"
                self._digest.update(f"{kind}|{now}|{msg!r}|{list(actions)!r}\n".encode())
                steps.append(item)
            digests.append(self._digest.hexdigest() if item[0] == "snap" else "")
        self.steps += len(steps)
        digest = self._digest.hexdigest()
        try:
            db.execute("BEGIN")
            db.executemany("INSERT INTO cores VALUES (?, ?, ?, ?, ?)", cores)
            if self._pending_gap is not None:
                a, b, why = self._pending_gap
                db.execute("INSERT INTO gaps VALUES (?, ?, ?, ?, ?, ?)",
                           (self.run_id, a, b, self._last_now, b - a + 1, why))
            written = self._written_seq
            for item, item_digest in zip(batch, digests):
                if item[0] == "in":
                    if item[1] != written + 1:
                        db.execute("INSERT INTO gaps VALUES (?, ?, ?, ?, ?, ?)",
                                   (self.run_id, written + 1, item[1] - 1, item[3],
                                    item[1] - written - 1, "queue full"))
                    written = item[1]
                self._apply(db, item, item_digest)
            for signer, nonce in nonces.items():
                db.execute("INSERT INTO nonces VALUES (?, ?, ?) ON CONFLICT(signer) DO UPDATE "
                           "SET last_nonce=max(last_nonce, excluded.last_nonce), "
                           "at_ms=excluded.at_ms", (signer, nonce, self._last_now))
            db.execute("UPDATE runs SET core_digest=?, core_steps=?, dropped=?, write_errors=?"
                       " WHERE run_id=?", (digest, self.steps, self.dropped, self.write_errors,
                                           self.run_id))
            db.execute("COMMIT")
            self._written_seq = written
            self._pending_gap = None
            return True
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self.write_errors += 1
            log.error("journal %s: write failed (%s): %d steps lost, trading continues",
                      self.path, exc, len(steps))
            if steps:
                first = self._pending_gap[0] if self._pending_gap else self._written_seq + 1
                self._pending_gap = (first, steps[-1][1], f"write failed: {exc}")
                self._written_seq = steps[-1][1]
            return False

    def _apply(self, db: sqlite3.Connection, item: tuple[Any, ...], digest: str) -> None:
        kind = item[0]
        if kind == "in":
            _, seq, inc, now, msg, actions = item
            body = None if msg is None else codec.dumps(msg)
            db.execute("INSERT INTO inputs VALUES (?, ?, ?, ?, ?, ?)",
                       (self.run_id, seq, inc, now,
                        "tick" if msg is None else type(msg).__name__, body))
            if msg is not None:
                self._derive(db, seq, inc, now, msg)
            for action in actions:
                self._action(db, seq, inc, now, action)
        elif kind == "flush":
            pass
        elif kind == "signed":
            _, inc, request_id, nonce = item
            db.execute("UPDATE actions SET nonces = COALESCE(nonces || ',', '') || ? WHERE "
                       "run_id=? AND incarnation=? AND request_id=?",
                       (str(nonce), self.run_id, inc, request_id))
        elif kind == "snap":
            _, seq, inc, at, what, view = item
            db.execute("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (self.run_id, seq, inc, at, what, codec.dumps(view), digest))
        elif kind == "mark":
            _, at, mark = item
            db.execute("INSERT INTO marks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (self.run_id, at, str(mark.closed_pnl), str(mark.fees),
                        None if mark.unrealized is None else str(mark.unrealized),
                        codec.dumps(dict(mark.positions)), codec.dumps(dict(mark.counters)),
                        self.dropped, self.write_errors))
        elif kind == "mids":
            _, at, mids = item
            db.executemany("INSERT INTO mids VALUES (?, ?, ?)",
                           [(at, c, str(m)) for c, m in sorted(mids.items())])

    def _derive(self, db: sqlite3.Connection, seq: int, inc: int, now: int,
                msg: object) -> None:
        """Fills, order lifecycle events and action outcomes carried by one input."""
        events: list[tuple[str | None, int | None, str, str]] = []
        fills: Iterable[Fill] = ()
        if isinstance(msg, Fills):
            fills = msg.fills
            events = [(f.cloid, f.oid, "fill", msg.source) for f in msg.fills]
        elif isinstance(msg, ReconcileSnapshot):
            fills = msg.fills
        elif isinstance(msg, OrderUpdates):
            events = [(u.cloid, u.oid, u.status, "orderUpdates") for u in msg.updates]
        elif isinstance(msg, NonUserCancel):
            events = [(None, oid, "canceled", "nonUserCancel") for _, oid in msg.cancels]
        else:
            outcome = _outcome(msg)
            if outcome is not None:
                request_id, cloid, oid, state, detail = outcome
                events = [(cloid, oid, state, detail or "ack")]
                db.execute(
                    "UPDATE actions SET outcome=?, outcome_ms=?, latency_ms=? - at_ms WHERE "
                    "run_id=? AND incarnation=? AND request_id=? AND outcome IS NULL",
                    (state if not detail else f"{state}: {detail}", now, now, self.run_id,
                     inc, request_id))
        venue = self._ctx.venue if self._ctx else ""
        if fills:
            db.executemany(
                "INSERT OR IGNORE INTO fills VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(venue, f.oid, f.tid, self.run_id, now, f.coin, str(f.px), str(f.sz), f.side,
                  f.time_ms, str(f.start_position), f.dir, str(f.closed_pnl), f.hash,
                  int(f.crossed), str(f.fee), f.cloid, f.fee_token,
                  None if f.liquidation is None else codec.dumps(f.liquidation),
                  str(f.builder_fee), f.twap_id)
                 for f in fills])
        if events:
            db.executemany("INSERT INTO order_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(self.run_id, seq, now, c, o, s, why) for c, o, s, why in events])

    def _action(self, db: sqlite3.Connection, seq: int, inc: int, now: int,
                action: object) -> None:
        if isinstance(action, PlaceOrders):
            kind, state = "order", "pending_new"
            cloids = [o.cloid for o in action.orders]
            oids: list[int | None] = []
        elif isinstance(action, CancelOrders):
            kind, state = "cancel", "pending_cancel"
            cloids = [c.cloid for c in action.cancels]  # type: ignore[misc]
            oids = [c.oid for c in action.cancels]
        elif isinstance(action, ModifyOrders):
            kind, state = "batchModify", "pending_modify"
            cloids = [m.order.cloid for m in action.modifies]
            oids = [m.oid for m in action.modifies]
        elif isinstance(action, ScheduleCancel):
            kind, state, cloids, oids = "scheduleCancel", "", [], []
        else:
            return  # a reconcile request: not an exchange action
        db.execute("INSERT OR REPLACE INTO actions VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL,"
                   " NULL, NULL)", (self.run_id, inc, action.request_id, now, kind,
                              json.dumps(cloids), json.dumps(oids), codec.dumps(action)))
        if state:
            db.executemany("INSERT INTO order_events VALUES (?, ?, ?, ?, ?, ?, ?)",
                           [(self.run_id, seq, now, c, o, state, kind)
                            for c, o in zip(cloids, oids or [None] * len(cloids))])


def _outcome(msg: object) -> tuple[int, str | None, int | None, str, str] | None:
    """(request id, cloid, oid, state, detail) of an executor outcome, else None."""
    if isinstance(msg, OrderResting):
        return msg.request_id, msg.cloid, msg.oid, "resting", ""
    if isinstance(msg, OrderFilled):
        return msg.request_id, msg.cloid, msg.oid, "filled", ""
    if isinstance(msg, OrderRejected):
        return msg.request_id, msg.cloid, None, "rejected", msg.error
    if isinstance(msg, ModifyResting):
        return msg.request_id, msg.cloid, msg.new_oid, "resting", "modified"
    if isinstance(msg, ModifyFilled):
        return msg.request_id, msg.cloid, msg.new_oid, "filled", "modified"
    if isinstance(msg, ModifyRejected):
        return msg.request_id, msg.cloid, msg.old_oid, "modify_rejected", msg.error
    if isinstance(msg, CancelOk):
        return msg.request_id, msg.cloid, msg.oid, "canceled", "cancel ok"
    if isinstance(msg, CancelFailed):
        return msg.request_id, msg.cloid, msg.oid, "cancel_failed", msg.error
    if isinstance(msg, RequestUnknown):
        return msg.request_id, None, None, "unknown", msg.reason
    if isinstance(msg, ScheduleCancelResult):
        return msg.request_id, None, None, "schedule_cancel", msg.error or ""
    return None
