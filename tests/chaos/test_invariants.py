"""The invariant checker catches what it must (each check shown failing on a broken book)."""

from __future__ import annotations

from decimal import Decimal

from hlmaker.chaos.invariants import Bounds, InvariantChecker
from hlmaker.messages import Fill
from hlmaker.orders import OrderBookCore
from hlmaker.orders.states import OrderState
from hlmaker.orders.tracked import TrackedOrder
from hlmaker.sim.effects import OrderEntry
from hlmaker.sim.engine import Engine
from hlmaker.sim.triggers import TriggerSpec

USER = "0x" + "ab" * 20
TAKER = "0x" + "cd" * 20
T0 = 1_700_000_000_000
D = Decimal


class Rig:
    def __init__(self) -> None:
        self.engine = Engine()
        self.engine.fund(USER, D(100_000))
        self.engine.fund(TAKER, D(100_000))
        self.core = OrderBookCore()
        self.t = 0.0
        self.checker = InvariantChecker(
            self.engine, USER, bounds=Bounds(orphan_s=10, unknown_s=10, pending_s=10),
            now_s=lambda: self.t, exchange_ms=lambda: T0 + int(self.t * 1000))
        self.checker.get_core = lambda: self.core

    def rest(self, px: str = "100000", sz: str = "0.001", cloid: str | None = None) -> int:
        statuses, _ = self.engine.place(USER, [OrderEntry(0, True, px, sz, False, "Gtc",
                                                            cloid)], T0)
        return int(statuses[0]["resting"]["oid"])

    def hit(self, px: str = "100000", sz: str = "0.001") -> None:
        self.engine.place(TAKER, [OrderEntry(0, False, px, sz, False, "Ioc")], T0)

    def feed_fills(self) -> None:
        for f in self.engine.fills_for(USER):
            self.core.apply_fill(Fill(
                coin=f.coin, px=f.px, sz=f.sz, side=f.side, time_ms=f.time,
                start_position=f.start_position, dir=f.dir, closed_pnl=f.closed_pnl,
                hash=f.hash, oid=f.oid, crossed=f.crossed, fee=f.fee, tid=f.tid,
                cloid=f.cloid), T0)

    def invariants(self) -> list[str]:
        return [v.invariant for v in self.checker.violations]


def test_fills_applied_once_pass_and_a_double_count_is_an_s2_violation() -> None:
    rig = Rig()
    rig.rest()
    rig.hit()
    rig.checker.check_book()  # the fill is in flight: allowed
    assert rig.invariants() == []
    rig.feed_fills()
    rig.feed_fills()  # a duplicate delivery is de-duplicated by the core
    rig.checker.check_book()
    assert rig.invariants() == []
    rig.core.positions["BTC"] += D("0.001")  # a fill counted twice
    rig.checker.check_book()
    assert rig.invariants() == ["S2"]


def test_an_unexpected_fill_key_is_an_s1_violation() -> None:
    rig = Rig()
    rig.core.dedup.add((999, 999))
    rig.checker.check_book()
    assert "S1" in rig.invariants()


def test_an_order_resting_unknown_to_the_book_is_an_orphan_until_bounded() -> None:
    rig = Rig()
    rig.rest()
    rig.checker.check_exchange()
    rig.t = 5.0
    rig.checker.check_exchange()
    assert rig.invariants() == [] and rig.checker.stats.orphans == 1
    rig.t = 11.0
    rig.checker.check_exchange()
    assert rig.invariants() == ["S4"]


def test_cancelling_a_wanted_order_is_an_s5_violation() -> None:
    rig = Rig()
    cloid = "0x" + "11" * 16
    oid = rig.rest(cloid=cloid)
    order = TrackedOrder(cloid=cloid, coin="BTC", side="B", px=D(100000), sz=D("0.001"),
                         tif="Gtc", reduce_only=False, created_ms=T0, state=OrderState.RESTING,
                         oid=oid)
    rig.core.orders[cloid] = order
    rig.core.oid_to_cloid[oid] = cloid
    rig.checker.before_action({"type": "cancel", "cancels": [{"a": 0, "o": oid}]}, T0)
    assert rig.invariants() == ["S5"]
    order.cancel_wanted = True
    order.state = OrderState.PENDING_CANCEL
    rig.checker.before_action({"type": "cancel", "cancels": [{"a": 0, "o": oid}]}, T0)
    assert rig.invariants() == ["S5"]


def test_nonces_reused_or_too_low_are_s7_violations() -> None:
    rig = Rig()
    for n in range(200):
        rig.checker.on_envelope({"nonce": T0 + n, "signature": {"r": f"r{n}"}}, True)
    rig.checker.on_envelope({"nonce": T0 + 5, "signature": {"r": "r5"}}, True)  # a re-send
    assert rig.invariants() == []
    rig.checker.on_envelope({"nonce": T0 + 7, "signature": {"r": "other"}}, True)
    rig.checker.on_envelope({"nonce": T0 - 1, "signature": {"r": "x"}}, True)
    assert rig.invariants() == ["S7", "S7"]


def test_issued_nonces_must_strictly_increase_per_signer() -> None:
    rig = Rig()
    rig.checker.on_nonce_issued("0xa", 10)
    rig.checker.on_nonce_issued("0xb", 5)
    rig.checker.on_nonce_issued("0xa", 11)
    assert rig.invariants() == []
    rig.checker.on_nonce_issued("0xa", 11)  # e.g. a restarted executor with a new manager
    assert rig.invariants() == ["S7"]


def test_unknown_outcomes_must_resolve_within_the_bound() -> None:
    rig = Rig()
    order = TrackedOrder(cloid="0x" + "22" * 16, coin="BTC", side="B", px=D(1), sz=D(1),
                         tif="Alo", reduce_only=False, created_ms=T0, state=OrderState.UNKNOWN)
    rig.core.orders[order.cloid] = order
    rig.checker.check_book()
    rig.t = 10.5
    rig.checker.check_book()
    assert rig.invariants() == ["S6"]


def test_memory_caps_and_terminal_retention() -> None:
    rig = Rig()
    order = TrackedOrder(cloid="0x" + "33" * 16, coin="BTC", side="B", px=D(1), sz=D(1),
                         tif="Alo", reduce_only=False, created_ms=T0, state=OrderState.CANCELED,
                         finalized_ms=T0)
    rig.core.orders[order.cloid] = order
    rig.checker.check_book()  # first seen terminal at t = 0
    rig.t = 60.0
    rig.checker.check_memory(T0 + 60_000)
    assert rig.invariants() == []
    rig.t = 3600.0
    rig.checker.check_memory(T0 + 50_000)  # the bot's clock jumped back: not overdue yet
    assert rig.invariants() == []
    rig.checker.check_memory(T0 + 3_600_000)
    assert rig.invariants() == ["MEM"]


def test_a_trigger_order_waiting_off_the_book_is_live_for_convergence() -> None:
    """L1: an order of ours waiting for its trigger is on the account's open orders; the book
    holding it WAITING (with its oid) equals the exchange."""
    rig = Rig()
    cloid = "0x" + "22" * 16
    statuses, _ = rig.engine.place(USER, [OrderEntry(
        0, False, "90000", "0.001", False, "Trigger", cloid,
        TriggerSpec(trigger_px="90000", is_market=True, tpsl="sl"))], T0)
    oid = int(statuses[0]["resting"]["oid"])
    assert oid in rig.engine.account(USER).open_orders
    rig.core.orders[cloid] = TrackedOrder(
        cloid=cloid, coin="BTC", side="A", px=D(90000), sz=D("0.001"), tif="Gtc",
        reduce_only=False, created_ms=T0, state=OrderState.WAITING, oid=oid)
    rig.core.oid_to_cloid[oid] = cloid
    assert rig.checker.converged() == (True, "")
