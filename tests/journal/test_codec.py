"""The journal's message codec: exact, round-tripping, refusing what it cannot keep exactly."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from hlmaker.journal import codec
from hlmaker.messages import (
    AllMids,
    CancelOrders,
    CancelRequest,
    Fill,
    Fills,
    Level,
    OpenOrder,
    OrderStatusReport,
    OrderUpdate,
    OrderUpdates,
    ReconcileSnapshot,
    RequestUnknown,
    TargetLadder,
)
from hlmaker.orders.book_config import BookConfig

FILL = Fill(coin="BTC", px=D("100000.0"), sz=D("0.00100"), side="B", time_ms=1, start_position=D(
    "-0.0020"), dir="Close Short", closed_pnl=D("-1.5E-7"), hash="0x" + "ab" * 32, oid=7,
    crossed=False, fee=D("-0.000300"), tid=9, cloid="0x" + "1" * 32)

SAMPLES = [
    Fills(fills=(FILL, FILL), is_snapshot=True, source="reconcile"),
    OrderUpdates(updates=(OrderUpdate(coin="ETH", side="A", limit_px=D("3500.10"), sz=D(0),
                                      orig_sz=D("0.04"), oid=3, timestamp_ms=2, status="filled",
                                      status_timestamp_ms=3),)),
    TargetLadder(coin="BTC", bids=(Level(px=D("99990"), sz=D("0.002")),), asks=()),
    CancelOrders(request_id=4, expires_after_ms=5,
                 cancels=(CancelRequest(coin="BTC", cloid=None, oid=8),)),
    RequestUnknown(request_id=1, kind="place", cloids=("0x" + "2" * 32,), expires_after_ms=9,
                   reason="timeout"),
    AllMids(mids={"ETH": D("3500.5"), "BTC": D("1E+5")}),
    ReconcileSnapshot(requested_at_ms=1, taken_at_ms=2, open_orders=(OpenOrder(
        coin="BTC", side="B", limit_px=D("1.0"), sz=D("2"), oid=1, timestamp_ms=0),),
        positions={"BTC": D("0.0010")}, fills=(FILL,), order_statuses=(OrderStatusReport(
            cloid="0x" + "3" * 32, queried_at_ms=5, status=None),), entry_px={"BTC": D("9.90")}),
    BookConfig(coins=("BTC",), orphan_grace_ms=1234),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_is_exact(msg: object) -> None:
    back = codec.loads(codec.dumps(msg))
    assert back == msg
    assert repr(back) == repr(msg)  # the replay digest hashes repr


def test_decimal_text_is_kept() -> None:
    text = codec.dumps(FILL)
    assert '"100000.0"' in text and '"0.00100"' in text and '"-1.5E-7"' in text


def test_floats_and_foreign_classes_are_refused() -> None:
    with pytest.raises(codec.CodecError, match="float"):
        codec.dumps(Level(px=1.5, sz=D(1)))  # type: ignore[arg-type]
    with pytest.raises(codec.CodecError, match="unknown journaled class"):
        codec.loads('{"$c": "os.system"}')
    with pytest.raises(codec.CodecError, match="not JSON"):
        codec.loads("{")
