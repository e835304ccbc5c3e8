"""The order core's composition contracts: flag-driven moves are table entries, a lookup never
changes an order, the observer sees finalize paths and rebinds, a snapshot has one door, and
the modules of ``hlmaker/orders`` import one way only."""

from __future__ import annotations

import ast
import pathlib
import random
import re
from collections.abc import Sequence

import trio

import hlmaker.orders
from hlmaker.chaos.harness import RunObserver
from hlmaker.messages import (
    CancelOrders,
    ModifyOrder,
    ModifyOrders,
    ModifyResting,
    OrderResting,
    PlaceOrder,
    PlaceOrders,
)
from hlmaker.observer import Observer
from hlmaker.orders import BookConfig, OrderBookCore, reconcile
from hlmaker.orders.registry import Move
from hlmaker.orders.states import Ev, Flag, OrderState, step

from .helpers import EPOCH, D, as_fills, book_rig, fill, open_row, snapshot

S = OrderState
BID = PlaceOrder(coin="BTC", side="B", px=D("100"), sz=D("1"))


# ---------------------------------------------------------------- states: flag-driven tables
def test_a_cancel_in_flight_keeps_an_order_shown_alive_pending_cancel() -> None:
    assert step(S.PENDING_CANCEL, Ev.ACK_RESTING, partly_filled=False) == (S.PENDING_CANCEL,
                                                                          False)
    assert step(S.UNKNOWN, Ev.UPDATE_OPEN, partly_filled=True,
                flags=(Flag.CANCEL_IN_FLIGHT,)) == (S.PENDING_CANCEL, False)
    assert step(S.UNKNOWN, Ev.UPDATE_OPEN, partly_filled=True) == (S.PARTIALLY_FILLED, False)


def test_a_wanted_cancel_with_nothing_in_flight_goes_out_again_on_live_evidence() -> None:
    unsent = (Flag.CANCEL_UNSENT,)
    assert step(S.PENDING_CANCEL, Ev.ACK_RESTING, partly_filled=False,
                flags=unsent) == (S.PENDING_CANCEL, True)
    assert step(S.UNKNOWN, Ev.SNAPSHOT_OPEN, partly_filled=False,
                flags=unsent) == (S.RESTING, True)
    # not live evidence: a fill moves the order, but says nothing about our cancel
    assert step(S.PENDING_CANCEL, Ev.FILL_PARTIAL, partly_filled=True,
                flags=unsent) == (S.PENDING_CANCEL, False)


def test_a_refused_modify_after_the_old_leg_was_cancelled_cancels_the_order() -> None:
    assert step(S.PENDING_MODIFY, Ev.MODIFY_REJECTED, partly_filled=False,
                flags=(Flag.OLD_LEG_CANCELED,)) == (S.CANCELED, False)
    assert step(S.PENDING_MODIFY, Ev.MODIFY_REJECTED, partly_filled=False) == (S.RESTING, False)


def test_an_illegal_edge_stays_illegal_whatever_the_flags() -> None:
    assert step(S.FILLED, Ev.MODIFY_SENT, partly_filled=True,
                flags=tuple(Flag)) == (None, False)


# ---------------------------------------------------------------- registry: lookups are pure
def _placed(core: OrderBookCore) -> tuple[PlaceOrders, str]:
    (cmd,) = core.handle(BID, EPOCH)
    assert isinstance(cmd, PlaceOrders)
    return cmd, cmd.orders[0].cloid


def test_find_says_what_to_do_and_changes_nothing() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    reg = core.registry
    _, cloid = _placed(core)
    order = core.orders[cloid]
    assert reg.find(7, cloid) == (order, True, Move.BIND)
    assert order.oid is None and 7 not in core.oid_to_cloid
    assert reg.find(7, None) == (None, False, None)


def test_find_of_a_modifying_order_leaves_it_modifying() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    reg = core.registry
    cmd, cloid = _placed(core)
    core.handle(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7), EPOCH)
    (mod,) = core.handle(ModifyOrder(cloid=cloid, px=D("101"), sz=D("1")), EPOCH)
    assert isinstance(mod, ModifyOrders)
    order = core.orders[cloid]
    assert reg.find(8, cloid) == (order, True, Move.REBIND)
    assert reg.find(8, cloid, rejected=True) == (order, False, None)
    assert reg.find(7, None) == (order, True, None)
    assert order.state is S.PENDING_MODIFY and order.oid == 7 and order.replaced_oids == []


# ---------------------------------------------------------------- observer
class _Recorder(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def core_step(self, msg: object | None, now_ms: int, actions: Sequence[object]) -> None:
        self.calls.append(("step", type(msg).__name__ if msg is not None else None,
                           len(actions)))

    def order_finalized(self, how: str) -> None:
        self.calls.append(("finalized", how))

    def order_rebound(self) -> None:
        self.calls.append(("rebound",))

    def book_batch(self, messages: int, seconds: float) -> None:
        self.calls.append(("batch", messages))

    def view_published(self) -> None:
        self.calls.append(("view",))


def test_the_core_tells_its_observer_how_acks_met_orders_and_of_rebinds() -> None:
    seen = _Recorder()
    core = OrderBookCore(BookConfig(coins=("BTC",)), random.Random(1), observer=seen)
    cmd, cloid = _placed(core)
    core.handle(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7), EPOCH)
    cmd2, cloid2 = _placed(core)
    core.handle(as_fills(fill(8, 1, "0.5", cloid=cloid2)), EPOCH)  # the push outran the ack
    core.handle(OrderResting(request_id=cmd2.request_id, cloid=cloid2, oid=8), EPOCH)
    (mod,) = core.handle(ModifyOrder(cloid=cloid, px=D("101"), sz=D("1")), EPOCH)
    core.handle(ModifyResting(request_id=mod.request_id, cloid=cloid, old_oid=7, new_oid=9),
                EPOCH)
    assert seen.calls == [("finalized", "from_pending"), ("finalized", "already_tracked"),
                          ("rebound",)]
    assert core.orders[cloid].oid == 9


def test_core_probe_counts_in_the_harness_keys() -> None:
    probe = RunObserver(checker=None)  # type: ignore[arg-type]  # the checker is not used here
    probe.order_finalized("already_tracked")
    probe.order_rebound()
    probe.order_rebound()
    assert probe.probes == {"finalize:already_tracked": 1, "rebind": 2}


async def test_the_book_reports_every_core_step_batch_and_view(autojump_clock) -> None:
    seen = _Recorder()
    with trio.fail_after(30):
        async with book_rig(observer=seen) as rig:
            await rig.send(BID)
            cmd = await rig.command()
            assert isinstance(cmd, PlaceOrders)
            await trio.sleep(1)  # the timer runs
    steps = [c for c in seen.calls if c[0] == "step"]
    assert steps[0] == ("step", "PlaceOrder", 1)
    assert ("step", None, 0) in steps
    assert ("batch", 1) in seen.calls
    assert seen.calls[0] == ("view",)  # the first view, published before anything else
    assert seen.calls.count(("view",)) >= 2


# ---------------------------------------------------------------- one door for a snapshot
def test_a_snapshot_through_handle_is_the_reconcile() -> None:
    results = []
    for door in ("handle", "function"):
        core = OrderBookCore(BookConfig(coins=("BTC",)), random.Random(3))
        cmd, cloid = _placed(core)
        core.handle(OrderResting(request_id=cmd.request_id, cloid=cloid, oid=7), EPOCH)
        snap = snapshot(EPOCH + 10_000, (open_row(7, cloid=cloid), open_row(99)))
        if door == "handle":
            actions = core.handle(snap, EPOCH + 10_000)
        else:
            actions = list(reconcile(core.registry, snap, EPOCH + 10_000).actions)
        results.append((actions, core.view(EPOCH + 10_000)))
    assert results[0] == results[1]
    view = results[0][1]
    assert view.ready and view.is_synced  # oid 99 has no cloid of ours: foreign, left alone
    assert [o.oid for o in view.foreign_orders] == [99]
    assert not [a for a in results[0][0] if isinstance(a, CancelOrders)]


# ---------------------------------------------------------------- module structure
def _orders_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in pathlib.Path(hlmaker.orders.__file__).parent.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module is not None and (
                    node.module.startswith("hlmaker.orders.")):
                deps.add(node.module.split(".")[2])
            elif isinstance(node, ast.ImportFrom) and node.module == "hlmaker.orders":
                deps |= {a.name for a in node.names}
        graph[path.stem] = deps - {path.stem}
    return graph


def test_no_import_cycle_inside_orders() -> None:
    graph = _orders_imports()
    graph.pop("__init__")
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle {' -> '.join((*path, module))}"
        if module in done:
            return
        for dep in graph.get(module, ()):
            visit(dep, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert all("core" not in deps for deps in graph.values())


def test_no_module_calls_another_modules_private_names() -> None:
    for path in pathlib.Path(hlmaker.orders.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\b(reg|core|registry)\._[a-z]", text), path.name
        if path.stem != "registry":
            assert not re.search(r"\.state = ", text), f"{path.name} assigns an order's state"


def test_no_module_writes_the_registry_fields() -> None:
    # Only its counters are bumped from outside; everything else changes through its methods.
    write = re.compile(r"reg\.[a-z_]+(\[[^]]*\])? *(=|\+=|-=)[^=]|del reg\.|"
                       r"reg\.[a-z_]+\.(pop|append|add|clear|popleft|update|setdefault)\(")
    for path in pathlib.Path(hlmaker.orders.__file__).parent.glob("*.py"):
        assert not write.search(path.read_text()), path.name
