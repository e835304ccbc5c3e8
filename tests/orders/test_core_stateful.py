"""Hypothesis drives the pure core with arbitrary interleavings of a reference exchange's events.

The reference exchange executes every command the core emits at once and queues what it would
say (acks on the REST path, order updates and fills on the WebSocket path) in a network that
delivers them in any order, duplicates them, loses acks (timeouts) and drops pushes. Invariants
are checked after every step; after a final quiescent reconcile the book must equal the exchange.
"""

from __future__ import annotations

import os
import random
from decimal import Decimal

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from hlmaker.messages import (
    CancelFailed,
    CancelOk,
    CancelOrder,
    CancelOrders,
    Fill,
    Fills,
    ModifyFilled,
    ModifyOrder,
    ModifyOrders,
    ModifyRejected,
    ModifyResting,
    OpenOrder,
    OrderFilled,
    OrderRejected,
    OrderResting,
    OrderStatusReport,
    OrderUpdate,
    OrderUpdates,
    PlaceOrder,
    PlaceOrders,
    ReconcileSnapshot,
    RequestUnknown,
)
from hlmaker.orders import BookConfig, OrderBookCore, OrderState
from hlmaker.orders.apply_intents import modifiable

EPOCH = 1_700_000_000_000
ZERO = Decimal(0)
STATS = {"examples": 0, "steps": 0}


@attrs.define
class ExOrder:
    oid: int
    cloid: str
    side: str
    px: Decimal
    sz: Decimal
    filled: Decimal = ZERO
    status: str = "open"


class Exchange:
    """A tiny, consistent exchange: every order rests unless told otherwise."""

    def __init__(self) -> None:
        self.next_oid = 100
        self.next_tid = 1
        self.orders: dict[int, ExOrder] = {}
        self.by_cloid: dict[str, int] = {}
        self.fills: list[Fill] = []
        self.position = ZERO

    def open_orders(self) -> list[ExOrder]:
        return [o for o in self.orders.values() if o.status == "open"]

    def rest(self, cloid: str, side: str, px: Decimal, sz: Decimal) -> ExOrder:
        o = ExOrder(self.next_oid, cloid, side, px, sz)
        self.next_oid += 1
        self.orders[o.oid] = o
        self.by_cloid[cloid] = o.oid
        return o

    def fill(self, o: ExOrder, sz: Decimal, now: int) -> Fill:
        start = self.position
        self.position += sz if o.side == "B" else -sz
        o.filled += sz
        f = Fill(coin="BTC", px=o.px, sz=sz, side=o.side, time_ms=now,  # type: ignore[arg-type]
                 start_position=start, dir="x", closed_pnl=ZERO, hash="0x", oid=o.oid,
                 crossed=False, fee=ZERO, tid=self.next_tid, cloid=o.cloid)
        self.next_tid += 1
        self.fills.append(f)
        if o.filled >= o.sz:
            o.status = "filled"
        return f

    def update(self, o: ExOrder, now: int) -> OrderUpdates:
        return OrderUpdates(updates=(OrderUpdate(
            coin="BTC", side=o.side, limit_px=o.px, sz=o.sz - o.filled,  # type: ignore[arg-type]
            orig_sz=o.sz, oid=o.oid, timestamp_ms=now, status=o.status, status_timestamp_ms=now,
            cloid=o.cloid),))


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        STATS["examples"] += 1
        self.now = EPOCH
        self.core = OrderBookCore(BookConfig(coins=("BTC",), orphan_grace_ms=0),
                                  random.Random(7))
        self.ex = Exchange()
        self.net: list[object] = []  # messages in flight to the book
        self.delivered_fill_keys: set[tuple[int, int]] = set()
        self.delivered_sum = ZERO
        self.terminal_seen: set[str] = set()
        self.total_filled: dict[str, Decimal] = {}
        self.rng = random.Random(0)
        self.core.handle(self._snapshot(), self.now)  # start synced (empty account)

    # ------------------------------------------------------------ plumbing
    def _run(self, actions: list) -> None:  # type: ignore[type-arg]
        for a in actions:
            if isinstance(a, PlaceOrders):
                self._exec_place(a)
            elif isinstance(a, CancelOrders):
                self._exec_cancel(a)
            elif isinstance(a, ModifyOrders):
                self._exec_modify(a)

    def _deliver(self, msg: object) -> None:
        if isinstance(msg, Fills):
            for f in msg.fills:
                if (f.oid, f.tid) not in self.delivered_fill_keys:
                    self.delivered_fill_keys.add((f.oid, f.tid))
                    self.delivered_sum += f.sz if f.side == "B" else -f.sz
        if isinstance(msg, ReconcileSnapshot):
            for f in msg.fills:
                if (f.oid, f.tid) not in self.delivered_fill_keys:
                    self.delivered_fill_keys.add((f.oid, f.tid))
                    self.delivered_sum += f.sz if f.side == "B" else -f.sz
        self._run(self.core.handle(msg, self.now))

    def _exec_place(self, cmd: PlaceOrders) -> None:
        for req in cmd.orders:
            mode = self.rng.choice(["rest", "rest", "rest", "fill", "reject", "lost"])
            if mode == "lost":  # the request timed out and the action never landed (F7)
                self.net.append(RequestUnknown(request_id=cmd.request_id, kind="place",
                                               cloids=(req.cloid,),
                                               expires_after_ms=cmd.expires_after_ms,
                                               reason="timeout"))
                continue
            if mode == "reject":
                self.net.append(OrderRejected(request_id=cmd.request_id, cloid=req.cloid,
                                              error="Insufficient margin to place order."))
                continue
            o = self.ex.rest(req.cloid, req.side, req.px, req.sz)
            if mode == "fill":
                f = self.ex.fill(o, o.sz, self.now)
                self.net += [OrderFilled(request_id=cmd.request_id, cloid=req.cloid, oid=o.oid,
                                         total_sz=o.sz, avg_px=o.px),
                             Fills(fills=(f,)), self.ex.update(o, self.now)]
            else:
                self.net += [OrderResting(request_id=cmd.request_id, cloid=req.cloid, oid=o.oid),
                             self.ex.update(o, self.now)]

    def _exec_cancel(self, cmd: CancelOrders) -> None:
        for c in cmd.cancels:
            oid = c.oid if c.oid is not None else self.ex.by_cloid.get(c.cloid or "")
            o = self.ex.orders.get(oid) if oid is not None else None
            if o is None or o.status != "open":
                self.net.append(CancelFailed(
                    request_id=cmd.request_id, cloid=c.cloid, oid=c.oid,
                    error="Order was never placed, already canceled, or filled. asset=0"))
                continue
            o.status = "canceled"
            self.net += [CancelOk(request_id=cmd.request_id, cloid=c.cloid, oid=c.oid),
                         self.ex.update(o, self.now)]

    def _exec_modify(self, cmd: ModifyOrders) -> None:
        for m in cmd.modifies:
            old = self.ex.orders.get(m.oid)
            if old is None or old.status != "open":
                self.net.append(ModifyRejected(
                    request_id=cmd.request_id, cloid=m.order.cloid, old_oid=m.oid,
                    error="Cannot modify canceled or filled order"))
                continue
            old.status = "canceled"
            self.net.append(self.ex.update(old, self.now))
            new = self.ex.rest(m.order.cloid, m.order.side, m.order.px, m.order.sz)
            self.net += [ModifyResting(request_id=cmd.request_id, cloid=m.order.cloid,
                                       old_oid=m.oid, new_oid=new.oid),
                         self.ex.update(new, self.now)]
        _ = ModifyFilled  # (not produced by this model: new orders always rest)

    def _snapshot(self, statuses: tuple[OrderStatusReport, ...] = ()) -> ReconcileSnapshot:
        return ReconcileSnapshot(
            requested_at_ms=self.now, taken_at_ms=self.now,
            open_orders=tuple(OpenOrder(coin="BTC", side=o.side, limit_px=o.px,  # type: ignore
                                        sz=o.sz - o.filled, oid=o.oid, timestamp_ms=self.now,
                                        orig_sz=o.sz, cloid=o.cloid)
                              for o in self.ex.open_orders()),
            positions={"BTC": self.ex.position} if self.ex.position else {},
            positions_time_ms=self.now, fills=tuple(self.ex.fills), order_statuses=statuses)

    # ------------------------------------------------------------ rules
    @rule(side=st.sampled_from(["B", "A"]), sz=st.integers(1, 4), px=st.integers(90, 110))
    def place(self, side: str, sz: int, px: int) -> None:
        STATS["steps"] += 1
        self._run(self.core.handle(PlaceOrder(coin="BTC", side=side, px=Decimal(px),  # type: ignore
                                              sz=Decimal(sz)), self.now))

    @precondition(lambda self: bool(self.ex.open_orders()))
    @rule(data=st.data(), part=st.sampled_from(["all", "half"]))
    def taker_fill(self, data: st.DataObject, part: str) -> None:
        STATS["steps"] += 1
        o = data.draw(st.sampled_from(sorted(self.ex.open_orders(), key=lambda o: o.oid)))
        rem = o.sz - o.filled
        sz = rem if part == "all" or rem <= 1 else rem / 2
        f = self.ex.fill(o, sz, self.now)
        self.net.append(Fills(fills=(f,)))
        if o.status == "filled":
            self.net.append(self.ex.update(o, self.now))

    @precondition(lambda self: bool(self.core.orders))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        STATS["steps"] += 1
        cloid = data.draw(st.sampled_from(sorted(self.core.orders)))
        self._run(self.core.handle(CancelOrder(cloid=cloid), self.now))

    @precondition(lambda self: any(modifiable(o) for o in self.core.orders.values()))
    @rule(data=st.data(), px=st.integers(90, 110), sz=st.integers(1, 4))
    def modify(self, data: st.DataObject, px: int, sz: int) -> None:
        STATS["steps"] += 1
        cands = sorted(c for c, o in self.core.orders.items() if modifiable(o))
        cloid = data.draw(st.sampled_from(cands))
        self._run(self.core.handle(ModifyOrder(cloid=cloid, px=Decimal(px), sz=Decimal(sz)),
                                   self.now))

    @precondition(lambda self: bool(self.net))
    @rule(data=st.data(), dup=st.booleans())
    def deliver(self, data: st.DataObject, dup: bool) -> None:
        STATS["steps"] += 1
        i = data.draw(st.integers(0, len(self.net) - 1))
        # Only pushes are ever duplicated (F1); the executor reports each outcome once.
        dup = dup and isinstance(self.net[i], Fills | OrderUpdates)
        msg = self.net[i] if dup else self.net.pop(i)
        self._deliver(msg)

    @precondition(lambda self: bool(self.net))
    @rule(data=st.data())
    def lose(self, data: st.DataObject) -> None:
        """An ack is lost (timeout: unknown outcome) or a push is dropped."""
        STATS["steps"] += 1
        i = data.draw(st.integers(0, len(self.net) - 1))
        msg = self.net.pop(i)
        kind = {OrderResting: "place", OrderFilled: "place", OrderRejected: "place",
                ModifyResting: "modify", ModifyRejected: "modify",
                CancelOk: "cancel", CancelFailed: "cancel"}.get(type(msg))
        if kind is not None:
            cloid = msg.cloid  # type: ignore[attr-defined]
            if cloid is None:
                return
            req = self.core.requests.get(msg.request_id)  # type: ignore[attr-defined]
            exp = req.expires_after_ms if req else self.now
            self.net.append(RequestUnknown(request_id=msg.request_id,  # type: ignore
                                           kind=kind, cloids=(cloid,),  # type: ignore[arg-type]
                                           expires_after_ms=exp, reason="timeout"))

    @rule(ms=st.integers(1, 3000))
    def advance(self, ms: int) -> None:
        STATS["steps"] += 1
        self.now += ms
        self._run(self.core.tick(self.now))

    @rule()
    def snapshot_now(self) -> None:
        """A reconcile snapshot taken now, while messages may still be in flight (F13)."""
        STATS["steps"] += 1
        self._deliver(self._snapshot())

    @rule()
    def snapshot_delayed(self) -> None:
        """A snapshot taken now but delivered later, behind or ahead of other messages."""
        STATS["steps"] += 1
        self.net.append(self._snapshot())

    # ------------------------------------------------------------ invariants
    @invariant()
    def exactly_once_and_position(self) -> None:
        c = self.core.counters
        assert c.fills_applied == len(self.delivered_fill_keys)
        assert c.position_drifts == 0
        assert self.core.positions.get("BTC", ZERO) == self.delivered_sum

    @invariant()
    def legal_lifecycle(self) -> None:
        for cloid, o in self.core.orders.items():
            if cloid in self.terminal_seen:
                assert o.state.is_terminal, f"{cloid} left a terminal state: {o.state}"
            if o.state.is_terminal:
                self.terminal_seen.add(cloid)
            prev = self.total_filled.get(cloid, ZERO)
            assert o.total_filled >= prev
            self.total_filled[cloid] = o.total_filled
            assert o.leg_filled <= o.sz
        assert self.core.counters.illegal_transitions == 0

    def teardown(self) -> None:
        # Quiescence: everything in flight arrives, time passes every expiry, then reconcile.
        while self.net:
            self._deliver(self.net.pop(0))
        self.now += 30_000
        self._run(self.core.tick(self.now))
        while self.net:
            self._deliver(self.net.pop(0))
        for _ in range(2):
            statuses = []
            for cloid, o in sorted(self.core.orders.items()):
                if o.state is OrderState.UNKNOWN:
                    oid = self.ex.by_cloid.get(cloid)
                    ex = self.ex.orders.get(oid) if oid is not None else None
                    row = None if ex is None else OpenOrder(
                        coin="BTC", side=ex.side, limit_px=ex.px,  # type: ignore[arg-type]
                        sz=ex.sz - ex.filled, oid=ex.oid, timestamp_ms=self.now, orig_sz=ex.sz,
                        cloid=ex.cloid)
                    statuses.append(OrderStatusReport(cloid=cloid, queried_at_ms=self.now,
                                                      status=ex.status if ex else None,
                                                      order=row))
            self._deliver(self._snapshot(tuple(statuses)))
            while self.net:
                self._deliver(self.net.pop(0))
            self.now += 1000
        live = {o.oid for o in self.core.orders.values() if o.state.is_live}
        assert live == {o.oid for o in self.ex.open_orders()}, (
            self.core.orders, self.ex.orders, self.core.take_notes())
        assert self.core.positions.get("BTC", ZERO) == self.ex.position
        assert not any(o.state is OrderState.UNKNOWN for o in self.core.orders.values())
        assert self.core.counters.fills_applied == len(self.ex.fills)


BookMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("HLMAKER_STATEFUL_EXAMPLES", "500")),
    stateful_step_count=int(os.environ.get("HLMAKER_STATEFUL_STEPS", "50")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestBookMachine = BookMachine.TestCase


def test_report_counts() -> None:
    """Runs after the machine (same module); prints how much was explored (-s to see)."""
    print(f"stateful examples={STATS['examples']} steps={STATS['steps']}")
