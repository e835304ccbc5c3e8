"""Every order status of the protocol reference is a state-table event; an unknown one is a
counted bad input (protocol ref §2.10, §4.3, §6.3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hlmaker.messages import OpenOrder, OrderKind, OrderStatusReport, PlaceOrder, PlaceOrders
from hlmaker.orders import BookConfig, OrderBookCore
from hlmaker.orders.ownership import Ownership
from hlmaker.orders.states import (
    STATUS_EVENTS,
    TRANSITIONS,
    Ev,
    OrderState,
    status_event,
)

from .helpers import EPOCH, D, as_fills, fill, open_row, snapshot, update

S = OrderState

# §2.10's docs table, its [NK]/[NT] additions, and §4.3's waiting statuses.
REFERENCE_STATUSES = {
    "open": Ev.UPDATE_OPEN, "filled": Ev.UPDATE_FILLED, "canceled": Ev.UPDATE_CANCELED,
    "triggered": Ev.UPDATE_TRIGGERED, "rejected": Ev.UPDATE_REJECTED,
    "marginCanceled": Ev.UPDATE_CANCELED, "vaultWithdrawalCanceled": Ev.UPDATE_CANCELED,
    "openInterestCapCanceled": Ev.UPDATE_CANCELED, "selfTradeCanceled": Ev.UPDATE_CANCELED,
    "reduceOnlyCanceled": Ev.UPDATE_CANCELED, "siblingFilledCanceled": Ev.UPDATE_CANCELED,
    "delistedCanceled": Ev.UPDATE_CANCELED, "liquidatedCanceled": Ev.UPDATE_CANCELED,
    "scheduledCancel": Ev.UPDATE_CANCELED, "outcomeSettledCanceled": Ev.UPDATE_CANCELED,
    "internalCancel": Ev.UPDATE_CANCELED,
    "tickRejected": Ev.UPDATE_REJECTED, "minTradeNtlRejected": Ev.UPDATE_REJECTED,
    "minTradeSpotNtlRejected": Ev.UPDATE_REJECTED, "perpMarginRejected": Ev.UPDATE_REJECTED,
    "reduceOnlyRejected": Ev.UPDATE_REJECTED, "badAloPxRejected": Ev.UPDATE_REJECTED,
    "iocCancelRejected": Ev.UPDATE_REJECTED, "badTriggerPxRejected": Ev.UPDATE_REJECTED,
    "marketOrderNoLiquidityRejected": Ev.UPDATE_REJECTED,
    "positionIncreaseAtOpenInterestCapRejected": Ev.UPDATE_REJECTED,
    "positionFlipAtOpenInterestCapRejected": Ev.UPDATE_REJECTED,
    "tooAggressiveAtOpenInterestCapRejected": Ev.UPDATE_REJECTED,
    "openInterestIncreaseRejected": Ev.UPDATE_REJECTED,
    "insufficientSpotBalanceRejected": Ev.UPDATE_REJECTED, "oracleRejected": Ev.UPDATE_REJECTED,
    "perpMaxPositionRejected": Ev.UPDATE_REJECTED, "tooManyOpenOrdersRejected": Ev.UPDATE_REJECTED,
    "waitingForTrigger": Ev.UPDATE_WAITING, "waitingForFill": Ev.UPDATE_WAITING,
    "accepted": Ev.UPDATE_OPEN,
}


def reference_statuses() -> set[str] | None:
    """The status words of ``../shared/hyperliquid-protocol.md`` §2.10 (the ``orderStatus``
    table and its additions) and §4.3 (the bare waiting statuses), or ``None`` when the
    reference is not beside the project."""
    for base in Path(__file__).resolve().parents[2].parents:
        ref = base / "shared" / "hyperliquid-protocol.md"
        if ref.is_file():
            text = ref.read_text()
            start = text.index("Status strings (docs table")
            table = text[start:text.index("Retention", start)]
            return set(re.findall(r"`(\w+)`", table)) | {"waitingForFill", "waitingForTrigger"}
    return None


def test_every_reference_status_maps_to_its_event() -> None:
    assert {s: status_event(s) for s in REFERENCE_STATUSES} == REFERENCE_STATUSES
    assert set(STATUS_EVENTS) == set(REFERENCE_STATUSES)


def test_the_protocol_reference_lists_no_status_the_table_lacks() -> None:
    statuses = reference_statuses()
    if statuses is None:
        pytest.skip("../shared/hyperliquid-protocol.md is absent")
    assert len(statuses) >= 30
    assert statuses <= set(STATUS_EVENTS), statuses - set(STATUS_EVENTS)


@pytest.mark.parametrize("status", ["", "Canceled", "fooCanceled", "OPEN", "resting", "x" * 300])
def test_unknown_statuses_map_to_nothing(status: str) -> None:
    assert status_event(status) is None


def test_every_status_event_is_legal_from_every_live_or_pending_state() -> None:
    """Whatever status the exchange reports for an order of ours that is not final, the table
    has an edge for it — except a refusal of an order the exchange already showed on its book,
    which contradicts that evidence and stays illegal (counted)."""
    accepted = (S.RESTING, S.PARTIALLY_FILLED, S.PENDING_MODIFY)
    for state in (S.PENDING_NEW, S.PENDING_CANCEL, S.UNKNOWN, S.WAITING, *accepted):
        for ev in set(STATUS_EVENTS.values()):
            if state in accepted and ev is Ev.UPDATE_REJECTED:
                assert (state, ev) not in TRANSITIONS
                continue
            assert (state, ev) in TRANSITIONS, (state, ev)


def _placed(core: OrderBookCore) -> str:
    (cmd,) = core.handle(PlaceOrder(coin="BTC", side="A", px=D("100"), sz=D("1")), EPOCH)
    assert isinstance(cmd, PlaceOrders)
    return cmd.orders[0].cloid


def test_a_trigger_order_of_ours_waits_then_fires_then_fills() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    cloid = _placed(core)
    core.handle(update(7, "waitingForTrigger", cloid=cloid, side="A"), EPOCH)
    order = core.orders[cloid]
    assert order.state is S.WAITING and order.oid == 7
    assert 7 in core.registry.live_oids()
    core.handle(update(7, "triggered", cloid=cloid, side="A"), EPOCH + 1)
    assert order.state is S.RESTING
    core.handle(as_fills(fill(7, 1, "1", side="A", cloid=cloid)), EPOCH + 2)
    core.handle(update(7, "filled", sz="0", cloid=cloid, side="A"), EPOCH + 3)
    assert order.state is S.FILLED
    assert core.counters.illegal_transitions == 0 and core.counters.bad_inputs == 0


def test_a_waiting_child_cancelled_with_its_parent() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    cloid = _placed(core)
    core.handle(update(8, "waitingForFill", cloid=cloid, side="A"), EPOCH)
    core.handle(update(8, "siblingFilledCanceled", cloid=cloid, side="A"), EPOCH + 1)
    assert core.orders[cloid].state is S.CANCELED
    assert core.counters.illegal_transitions == 0


def test_an_unknown_status_is_a_counted_bad_input_and_changes_nothing() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    cloid = _placed(core)
    core.handle(update(9, "open", cloid=cloid, side="A"), EPOCH)
    before = core.counters.bad_inputs
    assert core.handle(update(9, "futureCanceledKind", cloid=cloid, side="A"), EPOCH + 1) == []
    assert core.counters.bad_inputs == before + 1
    assert core.orders[cloid].state is S.RESTING


def test_a_foreign_trigger_order_firing_changes_nothing_of_ours() -> None:
    """`triggered` is a state-table event like any other status (apply_status has no special
    branch for it): for a foreign order (another prefix, or no cloid) it is ignored — neither
    held for an ack nor bad input."""
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    core.handle(snapshot(EPOCH, (open_row(32),)), EPOCH)  # a sweep lists the cloid-less one
    for oid, cloid in ((31, "0x" + "ff" * 16), (32, None)):
        for status in ("waitingForTrigger", "triggered", "filled"):
            assert core.handle(update(oid, status, cloid=cloid), EPOCH + 1) == []
    counters = core.counters
    assert (counters.bad_inputs, counters.early_events_held, counters.illegal_transitions,
            counters.late_events) == (0, 0, 0, 0)
    assert core.orders == {}


STOP = OrderKind(order_type="Stop Market", tif=None, is_trigger=True, trigger_px=D("95"),
                 trigger_condition="Price below 95")
FIRED = OrderKind(order_type="Stop Limit", tif="Gtc")


def _row(oid: int, cloid: str, kind: OrderKind) -> OpenOrder:
    return OpenOrder(coin="BTC", side="A", limit_px=D("100"), sz=D("1"), oid=oid,
                     timestamp_ms=EPOCH, orig_sz=D("1"), cloid=cloid, kind=kind)


def test_a_sweep_lists_a_waiting_trigger_order_as_waiting_not_resting() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    core.handle(snapshot(EPOCH), EPOCH)
    cloid = _placed(core)  # its ack is late; the sweep binds it by cloid
    core.handle(snapshot(EPOCH + 10, (_row(7, cloid, STOP),)), EPOCH + 10)
    order = core.orders[cloid]
    assert (order.state, order.oid) == (S.WAITING, 7)
    # it fired and rests; its `triggered` push was lost: the next frontend row says so
    core.handle(snapshot(EPOCH + 5_000, (_row(7, cloid, FIRED),)), EPOCH + 5_000)
    assert order.state is S.RESTING
    assert core.counters.illegal_transitions == 0 and core.view(EPOCH + 5_000).is_synced


def test_an_order_status_report_of_a_waiting_trigger_order_is_waiting() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)))
    core.handle(snapshot(EPOCH), EPOCH)
    cloid = _placed(core)
    report = OrderStatusReport(cloid=cloid, queried_at_ms=EPOCH + 10, status="open",
                               order=_row(7, cloid, STOP))
    core.handle(snapshot(EPOCH + 10, (_row(7, cloid, STOP),), order_statuses=(report,)),
                EPOCH + 10)
    assert core.orders[cloid].state is S.WAITING


def test_an_adopted_trigger_order_is_waiting() -> None:
    core = OrderBookCore(BookConfig(coins=("BTC",)), ownership=Ownership(on_start="adopt"))
    cloid = "0x" + Ownership().prefix + "ab" * 12
    core.handle(snapshot(EPOCH, (_row(7, cloid, STOP),)), EPOCH)
    assert core.orders[cloid].state is S.WAITING and core.counters.leftovers_adopted == 1
