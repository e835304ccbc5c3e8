"""Signing: every vector of protocol ref §5.7, recovery, and a differential test against the SDK."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgpack
import pytest
from eth_account import Account
from hyperliquid.utils import signing as sdk
from hypothesis import given, settings
from hypothesis import strategies as st

from hlmaker.hyperliquid.actions import (
    Trigger,
    batch_modify_action,
    cancel_action,
    cancel_by_cloid_action,
    noop_action,
    order_action,
    order_wire,
    schedule_cancel_action,
)
from hlmaker.hyperliquid.errors import SignatureError
from hlmaker.hyperliquid.keys import PrivateKey
from hlmaker.hyperliquid.signing import (
    DOMAIN_SEPARATOR,
    action_hash,
    l1_digest,
    recover_l1_signer,
    sign_l1_action,
)

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260e4c9a71f18484c9f997b308e59325"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
DUMMY = {"type": "dummy", "num": 100000000000}
ORDER_V2 = {
    "type": "order",
    "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False,
                "t": {"limit": {"tif": "Gtc"}}}],
    "grouping": "na",
}
ORDER_V3 = {
    "type": "order",
    "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False,
                "t": {"limit": {"tif": "Gtc"}}, "c": "0x00000000000000000000000000000001"}],
    "grouping": "na",
}
ORDER_V5 = {
    "type": "order",
    "orders": [{"a": 1, "b": True, "p": "100", "s": "100", "r": False,
                "t": {"trigger": {"isMarket": True, "triggerPx": "103", "tpsl": "sl"}}}],
    "grouping": "na",
}
CANCEL = {"type": "cancel", "cancels": [{"a": 1, "o": 12345}]}

# (name, action, vault, nonce, expires_after, connectionId, mainnet (r, s, v), testnet (r, s, v))
VECTORS: list[tuple[str, dict[str, Any], str | None, int, int | None, str,
                    tuple[str, str, int], tuple[str, str, int]]] = [
    ("V1", DUMMY, None, 0, None,
     "f528daee6a0bd11407b483cfcd9a48c56884180b70ee86f124053e5fc1bf4d57",
     ("0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
      "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8", 27),
     ("0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510",
      "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613", 28)),
    ("V2", ORDER_V2, None, 0, None,
     "884f2c32bb6dbdd65f6033e32fb28c0cb6f5b345db0f6471fd3366d85c9252c1",
     ("0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
      "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e", 28),
     ("0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
      "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5", 27)),
    ("V3", ORDER_V3, None, 0, None,
     "0ba500cedd8f4ba6ded620a0b1cd04f124d9ba745e2e2893fcc763bcc1444af5",
     ("0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
      "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da", 27),
     ("0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
      "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988", 28)),
    ("V4", DUMMY, VAULT, 0, None,
     "de9e09a7a3da45cc694096d4bfdcd89bc1b892d05497c5ecc1f56c335945184c",
     ("0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239",
      "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c", 28),
     ("0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b",
      "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60", 27)),
    ("V5", ORDER_V5, None, 0, None,
     "430a86fb9876e901920d931f5bb20c9d011f6389bd179f39a73c09e6219adcad",
     ("0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
      "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405", 27),
     ("0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4",
      "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac", 28)),
    ("V9", {"type": "createSubAccount", "name": "example"}, None, 0, None,
     "9a7b5272baf65d28b0589bd50863a42ac35897553a6beb274e625b6faf7d6bb1",
     ("0x51096fe3239421d16b671e192f574ae24ae14329099b6db28e479b86cdd6caa7",
      "0xb71f7d293af92d3772572afb8b102d167a7cef7473388286bc01f52a5c5b423", 27),
     ("0xa699e3ed5c2b89628c746d3298b5dc1cca604694c2c855da8bb8250ec8014a5b",
      "0x53f1b8153a301c72ecc655b1c315d64e1dcea3ee58921fd7507e35818fcc1584", 28)),
    ("V10", {"type": "subAccountTransfer",
             "subAccountUser": "0x1d9470d4b963f552e6f671a81619d395877bf409",
             "isDeposit": True, "usd": 10}, None, 0, None,
     "d12f71eba9e3e792812bfdf01a6a92f4d4016bb0541e850b41f770891c0cc447",
     ("0x43592d7c6c7d816ece2e206f174be61249d651944932b13343f4d13f306ae602",
      "0x71a926cb5c9a7c01c3359ec4c4c34c16ff8107d610994d4de0e6430e5cc0f4c9", 28),
     ("0xe26574013395ad55ee2f4e0575310f003c5bb3351b5425482e2969fa51543927",
      "0xefb08999196366871f919fd0e138b3a7f30ee33e678df7cfaf203e25f0a4278", 28)),
    ("V11a", {"type": "scheduleCancel"}, None, 0, None,
     "a2887a3147b6542306b61d311a056fd1753913d63cc904f30cba61712a98f4ae",
     ("0x6cdfb286702f5917e76cd9b3b8bf678fcc49aec194c02a73e6d4f16891195df9",
      "0x6557ac307fa05d25b8d61f21fb8a938e703b3d9bf575f6717ba21ec61261b2a0", 27),
     ("0xc75bb195c3f6a4e06b7d395acc20bbb224f6d23ccff7c6a26d327304e6efaeed",
      "0x342f8ede109a29f2c0723bd5efb9e9100e3bbb493f8fb5164ee3d385908233df", 28)),
    ("V11b", {"type": "scheduleCancel", "time": 123456789}, None, 0, None,
     "4be18e445114437c5d1d9dd35a09f5601a3cc34ed4ac94a0281251b9bd8f6832",
     ("0x609cb20c737945d070716dcc696ba030e9976fcf5edad87afa7d877493109d55",
      "0x16c685d63b5c7a04512d73f183b3d7a00da5406ff1f8aad33f8ae2163bab758b", 28),
     ("0x4e4f2dbd4107c69783e251b7e1057d9f2b9d11cee213441ccfa2be63516dc5bc",
      "0x706c656b23428c8ba356d68db207e11139ede1670481a9e01ae2dfcdb0e1a678", 27)),
    ("cancel", CANCEL, None, 1700000000000, None,
     "b7bacdee8bba1005a79cb9716f65d565613848a72eae72b3bb5932258e190780",
     ("0xe6f52ced690cb9a16590f3261ad5c4ebf5686ed3194ec1393b3959262e153d85",
      "0x4c1def86019fe778deb823a78efd624d98bfeaf56e72dd529bd68d78ca897d75", 28),
     ("0x90315bb1b2ef5541c852eb38dbc9f0ccc5a6bb504d9e23f86e64193868e05e7b",
      "0x41a64209934f85b46a69da4c06faeeb701114ae1a570b22e242bff510782cc0f", 27)),
    ("noop+expires", {"type": "noop"}, None, 1700000000000, 1700000060000,
     "3721cd09a77d8d08520a6cbaeffa1903455229079d6afa097527693095dc8e47",
     ("0xf29ec23c2ba308fd58adde3bd132ea994828bacc25c664bec44a6db5b3ce0bbd",
      "0x31d8a45864e98b31cb82837df28d7fe5833e378aec2c260c6513780a9335bd41", 27),
     ("0x179d79b29fe3a076be51e4fd200c0775ffc55f1210d5e7ba35ca9a02a8d816aa",
      "0x1ff654ce063e66b9db9eaa70f2213a27dc3ddf48a34a21bb8f30f742a823ad91", 27)),
]


def test_domain_separator_matches_reference() -> None:
    assert DOMAIN_SEPARATOR.hex() == (
        "d79297fcdf2ffcd4ae223d01edaa2ba214ff8f401d7c9300d995d17c82aa4040"
    )


def test_v0_phantom_agent_connection_id_matches_production() -> None:
    action = order_action([order_wire(4, True, Decimal("1670.1"), Decimal("0.0147"), False, "Ioc")])
    assert action_hash(action, None, 1677777606040, None).hex() == (
        "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"
    )


def test_v1_eip712_digests() -> None:
    connection_id = action_hash(DUMMY, None, 0, None)
    assert l1_digest(connection_id, True).hex() == (
        "e0aabfac88a47d3e7028b6ba6a94b30c8afcfffac26cbce788cf362b1312eafa"
    )
    assert l1_digest(connection_id, False).hex() == (
        "c05ce2df9d9d18fab3570746cc27e1136a4020a28561171a24f60c2258989224"
    )


@pytest.mark.parametrize("msgpack_hex, action", [
    ("82a474797065a564756d6d79a36e756dcf000000174876e800", DUMMY),
    ("83a474797065a56f72646572a66f72646572739186a16101a162c3a170a3313030a173a3313030a172c2a174"
     "81a56c696d697481a3746966a3477463a867726f7570696e67a26e61", ORDER_V2),
    ("81a474797065ae7363686564756c6543616e63656c", schedule_cancel_action(None)),
    ("82a474797065ae7363686564756c6543616e63656ca474696d65ce075bcd15",
     schedule_cancel_action(123456789)),
    ("82a474797065a663616e63656ca763616e63656c739182a16101a16fcd3039", cancel_action([(1, 12345)])),
    ("81a474797065a46e6f6f70", noop_action()),
])
def test_msgpack_bytes_match_reference(msgpack_hex: str, action: dict[str, Any]) -> None:
    assert msgpack.packb(action).hex() == msgpack_hex


def test_builders_reproduce_vector_actions() -> None:
    wire = order_wire(1, True, Decimal("100"), Decimal("100"), False, "Gtc")
    assert order_action([wire]) == ORDER_V2
    assert list(order_action([wire])["orders"][0]) == ["a", "b", "p", "s", "r", "t"]
    cloid_wire = order_wire(1, True, Decimal("100.0"), Decimal("1E+2"), False, "Gtc",
                            "0x00000000000000000000000000000001")
    assert msgpack.packb(order_action([cloid_wire])) == msgpack.packb(ORDER_V3)
    trigger = Trigger(trigger_px=Decimal("103"), is_market=True, tpsl="sl")
    tp_wire = order_wire(1, True, Decimal(100), Decimal(100), False, trigger)
    assert msgpack.packb(order_action([tp_wire])) == msgpack.packb(ORDER_V5)


@pytest.mark.parametrize("vector", VECTORS, ids=[v[0] for v in VECTORS])
@pytest.mark.parametrize("is_mainnet", [True, False])
def test_signing_vectors(sdk_key: PrivateKey, vector: tuple[Any, ...], is_mainnet: bool) -> None:
    _, action, vault, nonce, expires, connection_id, main, test = vector
    assert action_hash(action, vault, nonce, expires).hex() == connection_id
    r, s, v = main if is_mainnet else test
    expected = {"r": r, "s": s, "v": v}
    assert sign_l1_action(sdk_key, action, vault, nonce, expires, is_mainnet) == expected
    account = Account.from_key(KEY)
    assert sign_l1_action(account, action, vault, nonce, expires, is_mainnet) == expected
    assert recover_l1_signer(action, vault, nonce, expires, expected, is_mainnet) == ADDRESS


def test_recover_accepts_padded_and_int_forms() -> None:
    sig = {"r": "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
           "s": "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8", "v": 27}
    padded = {"r": "0x0" + sig["r"][2:], "s": sig["s"].upper().replace("0X", "0x"), "v": 27}
    as_ints = {"r": int(sig["r"], 16), "s": int(sig["s"], 16), "v": 0}
    for form in (sig, padded, as_ints):
        assert recover_l1_signer(DUMMY, None, 0, None, form, True) == ADDRESS
    # The same signature checked on the other network recovers some other address.
    assert recover_l1_signer(DUMMY, None, 0, None, sig, False) != ADDRESS


@pytest.mark.parametrize("signature", [
    {"r": "0x1", "s": "0x2"},
    {"r": "zz", "s": "0x2", "v": 27},
    {"r": "0x0", "s": "0x2", "v": 27},
    {"r": "0x1", "s": "0x" + "f" * 64, "v": 27},
    {"r": "0x1", "s": "0x2", "v": 29},
    {"r": "0x1", "s": "0x2", "v": True},
    {"r": 1.5, "s": "0x2", "v": 27},
    {"r": "0x" + "1" * 65, "s": "0x2", "v": 27},
    "not a dict",
])
def test_recover_rejects_malformed_signatures(signature: Any) -> None:
    with pytest.raises(SignatureError) as info:
        recover_l1_signer(DUMMY, None, 0, None, signature, True)
    assert isinstance(info.value, ValueError)


def test_recover_rejects_unhashable_action() -> None:
    sig = {"r": "0x1", "s": "0x2", "v": 27}
    with pytest.raises(SignatureError):
        recover_l1_signer({"type": "x", "bad": object()}, None, 0, None, sig, True)


def test_sign_rejects_unknown_wallet_type() -> None:
    with pytest.raises(TypeError):
        sign_l1_action(object(), DUMMY, None, 0, None, True)


# --- differential test against the installed SDK -------------------------------------------

_ACCOUNT = Account.from_key(KEY)
_KEY = PrivateKey.from_hex(KEY)

cloids = st.integers(0, 2**128 - 1).map(lambda n: f"0x{n:032x}")
prices = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**6), places=8,
                     allow_nan=False, allow_infinity=False)
assets = st.one_of(st.integers(0, 300), st.integers(10000, 10400), st.integers(110000, 110050))
oids = st.integers(0, 2**63 - 1)


@st.composite
def order_wires(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        order_type: Any = draw(st.sampled_from(["Alo", "Ioc", "Gtc"]))
    else:
        order_type = Trigger(trigger_px=draw(prices), is_market=draw(st.booleans()),
                             tpsl=draw(st.sampled_from(["tp", "sl"])))
    return order_wire(draw(assets), draw(st.booleans()), draw(prices), draw(prices),
                      draw(st.booleans()), order_type, draw(st.none() | cloids))


actions = st.one_of(
    st.builds(order_action, st.lists(order_wires(), min_size=1, max_size=4),
              st.sampled_from(["na", "normalTpsl", "positionTpsl"])),
    st.builds(cancel_action, st.lists(st.tuples(assets, oids), min_size=1, max_size=5),
              st.booleans()),
    st.builds(cancel_by_cloid_action, st.lists(st.tuples(assets, cloids), min_size=1,
                                               max_size=5)),
    st.builds(batch_modify_action,
              st.lists(st.tuples(st.one_of(oids, cloids), order_wires()), min_size=1, max_size=3),
              st.booleans()),
    st.builds(schedule_cancel_action, st.none() | st.integers(0, 2**53)),
    st.just(noop_action()),
)
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(action=actions, vault=st.none() | addresses, nonce=st.integers(0, 2**64 - 1),
       expires=st.none() | st.integers(0, 2**64 - 1), is_mainnet=st.booleans())
def test_differential_against_sdk(action: dict[str, Any], vault: str | None, nonce: int,
                                  expires: int | None, is_mainnet: bool) -> None:
    expected = sdk.sign_l1_action(_ACCOUNT, action, vault, nonce, expires, is_mainnet)
    assert action_hash(action, vault, nonce, expires) == sdk.action_hash(
        action, vault, nonce, expires)
    assert sign_l1_action(_KEY, action, vault, nonce, expires, is_mainnet) == expected
    assert recover_l1_signer(action, vault, nonce, expires, expected, is_mainnet) == ADDRESS


@settings(max_examples=200, deadline=None, derandomize=True)
@given(value=st.decimals(min_value=0, max_value=10**7, places=8, allow_nan=False,
                         allow_infinity=False))
def test_decimal_to_wire_matches_float_to_wire(value: Decimal) -> None:
    from hlmaker.hyperliquid.numbers import decimal_to_wire

    assert decimal_to_wire(value) == sdk.float_to_wire(float(value))
