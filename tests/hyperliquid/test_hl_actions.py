"""Number rules (§5.4–5.5), action builders (§4.2) and asset maps (§2.1, §2.2, §7)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmaker.hyperliquid.actions import (
    batch_modify_action,
    cancel_action,
    cancel_by_cloid_action,
    order_action,
    order_wire,
    order_wire_from_request,
    schedule_cancel_action,
)
from hlmaker.hyperliquid.errors import CodecError, NumberFormatError
from hlmaker.hyperliquid.meta import AssetMap
from hlmaker.hyperliquid.numbers import (
    decimal_to_wire,
    round_px,
    round_sz,
    validate_px,
    validate_sz,
)
from hlmaker.messages import OrderRequest

D = Decimal
CLOID = "0x00000000000000000000000000000001"
META = {"universe": [{"name": "BTC", "szDecimals": 5}, {"name": "ETH", "szDecimals": 4},
                     {"name": "LOOM", "szDecimals": 1, "isDelisted": True}]}
SPOT_META = {
    "tokens": [{"name": "USDC", "szDecimals": 8, "index": 0},
               {"name": "PURR", "szDecimals": 0, "index": 1},
               {"name": "HYPE", "szDecimals": 2, "index": 150}],
    "universe": [{"name": "PURR/USDC", "tokens": [1, 0], "index": 0},
                 {"name": "@107", "tokens": [150, 0], "index": 107}],
}


@pytest.mark.parametrize("value, wire", [
    ("1670.1", "1670.1"), ("0.0147", "0.0147"), ("100", "100"), ("100.0", "100"),
    ("123456.0", "123456"), ("1E-8", "0.00000001"), ("1E+2", "100"), ("1.23456789", "1.23456789"),
    ("0.30000000", "0.3"), ("-0", "-0"),
])
def test_decimal_to_wire_sdk_strings(value: str, wire: str) -> None:
    assert decimal_to_wire(D(value)) == wire


@pytest.mark.parametrize("value", ["3E-9", "0.123456789", "NaN", "Infinity"])
def test_decimal_to_wire_refuses_rounding(value: str) -> None:
    with pytest.raises(NumberFormatError):
        decimal_to_wire(D(value))


@pytest.mark.parametrize("px, sz_decimals, is_spot, ok", [
    ("1234.5", 0, False, True), ("1234.56", 0, False, False), ("0.001234", 0, False, True),
    ("0.0012345", 0, False, False), ("0.01234", 1, False, True), ("0.012345", 1, False, False),
    ("123456", 0, False, True), ("12345.6", 0, False, False), ("0.0001234", 1, True, True),
    ("0.0001234", 3, True, False), ("100.00", 5, False, True), ("0", 0, False, False),
    ("-1", 0, False, False),
])
def test_validate_px_examples(px: str, sz_decimals: int, is_spot: bool, ok: bool) -> None:
    if ok:
        assert validate_px(D(px), sz_decimals, is_spot) == D(px)
    else:
        with pytest.raises(NumberFormatError):
            validate_px(D(px), sz_decimals, is_spot)


def test_validate_sz_examples() -> None:
    assert validate_sz(D("1.001"), 3) == D("1.001")
    assert validate_sz(D("1.0010"), 3) == D("1.0010")
    for bad in ("1.0001", "0", "-1"):
        with pytest.raises(NumberFormatError):
            validate_sz(D(bad), 3)


def test_round_px_and_sz() -> None:
    assert round_px(D("123456.7"), 0) == D("123457")
    assert round_px(D("1234.5678"), 2) == D("1234.6")
    assert round_px(D("0.00123456"), 0) == D("0.001235")
    assert round_px(D("3000.25"), 4, rounding=ROUND_FLOOR) == D("3000.2")
    assert round_px(D("3000.21"), 4, rounding=ROUND_CEILING) == D("3000.3")
    assert str(round_px(D("99999.6"), 0)) == "100000"
    assert round_sz(D("1.23456"), 3) == D("1.235") and round_sz(D("0.0004"), 3) == D(0)
    with pytest.raises(NumberFormatError):
        round_px(D(0), 2)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(px=st.decimals(min_value=D("0.000001"), max_value=D(10**7), places=9),
       sz_decimals=st.integers(0, 6), is_spot=st.booleans(),
       mode=st.sampled_from([ROUND_FLOOR, ROUND_CEILING, "ROUND_HALF_EVEN"]))
def test_round_px_is_valid_close_and_wire_clean(px: Decimal, sz_decimals: int, is_spot: bool,
                                                mode: str) -> None:
    rounded = round_px(px, sz_decimals, is_spot, rounding=mode)
    if rounded > 0:
        validate_px(rounded, sz_decimals, is_spot)
        decimal_to_wire(rounded)
        tick = D(10) ** -max(0, (8 if is_spot else 6) - sz_decimals)
        assert abs(rounded - px) <= px * D("0.0002") + tick
    if mode == ROUND_FLOOR:
        assert rounded <= px
    if mode == ROUND_CEILING:
        assert rounded >= px


def test_order_wire_shapes_and_validation() -> None:
    wire = order_wire(3, False, D("0.25"), D("100"), True, "Ioc", CLOID)
    assert wire == {"a": 3, "b": False, "p": "0.25", "s": "100", "r": True,
                    "t": {"limit": {"tif": "Ioc"}}, "c": CLOID}
    assert "c" not in order_wire(3, False, D("0.25"), D("100"), False, "Alo")
    for bad in [dict(order_type="Foo"), dict(cloid="0x1"), dict(cloid=CLOID.upper())]:
        kwargs = {"order_type": "Gtc", "cloid": None, **bad}
        with pytest.raises(ValueError):
            order_wire(1, True, D(1), D(1), False, kwargs["order_type"], kwargs["cloid"])
    with pytest.raises(ValueError):
        order_wire(-1, True, D(1), D(1), False, "Gtc")


def test_action_builders() -> None:
    wire = order_wire(1, True, D("1105"), D("0.1"), False, "Alo")
    assert order_action([wire], {"p": 5})["grouping"] == {"p": 5}
    built = order_action([wire], builder=("0xABCDEF0000000000000000000000000000000000", 10))
    assert list(built) == ["type", "orders", "grouping", "builder"]
    assert built["builder"] == {"b": "0xabcdef0000000000000000000000000000000000", "f": 10}
    assert cancel_action([(1, 12345)]) == {"type": "cancel", "cancels": [{"a": 1, "o": 12345}]}
    assert cancel_action([(1, 5)], fast=True)["cancels"] == [{"a": 1, "o": 5, "f": True}]
    assert cancel_by_cloid_action([(2, CLOID)]) == {
        "type": "cancelByCloid", "cancels": [{"asset": 2, "cloid": CLOID}]}
    assert batch_modify_action([(1, wire)]) == {
        "type": "batchModify", "modifies": [{"oid": 1, "order": wire}]}
    assert batch_modify_action([(CLOID, wire)], always_place=True)["modifies"][0]["a"] is True
    assert schedule_cancel_action(None) == {"type": "scheduleCancel"}
    for empty in (lambda: order_action([]), lambda: cancel_action([]),
                  lambda: cancel_by_cloid_action([]), lambda: batch_modify_action([]),
                  lambda: order_action([wire], "bogus")):
        with pytest.raises(ValueError):
            empty()


def test_asset_map_perps_spot_and_builder_dexes() -> None:
    dex_meta = {"universe": [{"name": "xyz:XYZ100", "szDecimals": 3}, {"name": "ABC",
                                                                      "szDecimals": 1}]}
    assets = AssetMap.from_meta(META, SPOT_META, [(1, "xyz", dex_meta)])
    assert (assets.asset("BTC"), assets.asset("ETH"), assets.asset("LOOM")) == (0, 1, 2)
    assert assets.asset("PURR/USDC") == 10000 and assets.asset("@107") == 10107
    assert assets.asset("HYPE/USDC") == 10107 and assets.canonical_coin("HYPE/USDC") == "@107"
    assert assets.sz_decimals("@107") == 2 and assets.sz_decimals(10000) == 0
    assert assets.asset("xyz:XYZ100") == 110000 and assets.asset("xyz:ABC") == 110001
    assert assets.is_spot(10107) and not assets.is_spot(110000) and not assets.is_spot(0)
    assert assets.coin(1) == "ETH" and "BTC" in assets
    with pytest.raises(KeyError):
        assets.asset("DOGE")
    with pytest.raises(CodecError):
        AssetMap.from_meta({"universe": [{"name": "X"}]})
    sdk_like = AssetMap.from_meta(META, {"universe": [], "tokens": []})
    assert dict(sdk_like.coin_to_asset) == {"BTC": 0, "ETH": 1, "LOOM": 2}


def test_order_wire_from_request_validates_against_sz_decimals() -> None:
    assets = AssetMap.from_meta(META, SPOT_META)
    request = OrderRequest(cloid=CLOID, coin="ETH", side="A", px=D("3000.5"), sz=D("0.1234"))
    assert order_wire_from_request(request, assets) == {
        "a": 1, "b": False, "p": "3000.5", "s": "0.1234", "r": False,
        "t": {"limit": {"tif": "Alo"}}, "c": CLOID}
    with pytest.raises(NumberFormatError, match="ETH"):
        order_wire_from_request(OrderRequest(cloid=CLOID, coin="ETH", side="B", px=D("3000.55"),
                                             sz=D("1")), assets)
    with pytest.raises(NumberFormatError):
        order_wire_from_request(OrderRequest(cloid=CLOID, coin="ETH", side="B", px=D("3000"),
                                             sz=D("0.00001")), assets)


def test_decimal_to_wire_remembered_strings_keep_every_rule() -> None:
    """The wire-string cache answers equal Decimals alike but never a zero's sign, another
    type, or a value it would refuse."""
    assert decimal_to_wire(Decimal("1670.10")) == "1670.1"
    assert decimal_to_wire(Decimal("1670.1")) == "1670.1"
    assert decimal_to_wire(Decimal("0")) == "0"
    assert decimal_to_wire(Decimal("-0")) == "-0"
    assert decimal_to_wire(Decimal("100")) == "100"
    with pytest.raises(NumberFormatError):
        decimal_to_wire(100.0)  # type: ignore[arg-type]  # equal to a remembered Decimal
    for _ in range(2):
        with pytest.raises(NumberFormatError):
            decimal_to_wire(Decimal("1E-9"))
