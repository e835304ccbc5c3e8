"""Keys never leak; wallets sign as agents and for vaults; nonces are unique and increasing."""

from __future__ import annotations

import copy
import logging
import pickle
from pathlib import Path

import pytest
import trio
import trio.testing

from hlmaker.clock import FixedClock, WallClock
from hlmaker.hyperliquid.envelope import ActionSigner, build_envelope
from hlmaker.hyperliquid.errors import KeyLoadError
from hlmaker.hyperliquid.keys import PrivateKey, Wallet, normalize_address, to_checksum_address
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.signing import recover_l1_signer

SECRET = "0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260e4c9a71f18484c9f997b308e59325"
AGENT_SECRET = "0x" + "ab" * 32
MASTER = "0x1d9470d4b963f552e6f671a81619d395877bf409"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"


def secret_forms(secret: str) -> list[str]:
    """The key as hex in every case, and a long-enough chunk of it."""
    return [secret, secret.upper(), secret[:24], secret[-24:]]


def test_key_sources(tmp_path: Path) -> None:
    key = PrivateKey.from_hex("0x" + SECRET)
    assert key.address == ADDRESS
    assert key.checksum_address == "0x14791697260E4c9A71f18484C9f997B308e59325"
    assert PrivateKey.from_hex(f"  {SECRET}\n") == key
    assert PrivateKey.from_env(environ={"HLMAKER_PRIVATE_KEY": "0x" + SECRET}) == key
    assert PrivateKey.from_env("OTHER", environ={"OTHER": SECRET}) == key
    path = tmp_path / "key.txt"
    path.write_text("0x" + SECRET + "\n")
    assert PrivateKey.from_file(path) == key
    assert to_checksum_address(ADDRESS) == key.checksum_address


def test_key_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = PrivateKey.from_hex(SECRET)
    wallet = Wallet(key, vault_address=VAULT)
    texts = [repr(key), str(key), f"{key}", f"{key!r}", repr(wallet), str(wallet),
             repr([key, wallet]), repr({"k": key})]
    logging.getLogger("hlmaker.test").info("key %s wallet %r", key, wallet)
    logging.getLogger("hlmaker.test").info("%s", [key])
    errors: list[BaseException] = []
    bad_inputs = [SECRET[:-1] + "g", SECRET + "00", "0x" + SECRET[:-2], SECRET.replace("1", " ")]
    for bad in bad_inputs:
        with pytest.raises(KeyLoadError) as info:
            PrivateKey.from_hex(bad)
        errors.append(info.value)
    with pytest.raises(KeyLoadError) as env_info:
        PrivateKey.from_env(environ={"HLMAKER_PRIVATE_KEY": SECRET + "zz"})
    errors.append(env_info.value)
    bad_file = tmp_path / "bad.txt"
    bad_file.write_text(SECRET + "x")
    with pytest.raises(KeyLoadError) as file_info:
        PrivateKey.from_file(bad_file)
    errors.append(file_info.value)
    with pytest.raises(KeyLoadError, match="not set"):
        PrivateKey.from_env(environ={})
    with pytest.raises(KeyLoadError, match="cannot read key file"):
        PrivateKey.from_file(tmp_path / "missing")
    with pytest.raises(KeyLoadError, match="secp256k1"):
        PrivateKey.from_hex("00" * 32)
    for operation in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError) as info:
            operation(key)  # type: ignore[operator]
        errors.append(info.value)
    for error in errors:
        chain = []
        node: BaseException | None = error
        while node is not None:  # the message and everything chained to it
            chain.append(f"{node!r} {node}")
            node = node.__cause__ or node.__context__
        texts.append(" ".join(chain))
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    for text in texts:
        for bad in [*secret_forms(SECRET), *[b[:24] for b in bad_inputs]]:
            assert bad.lower() not in text.lower(), text
    assert ADDRESS in repr(key)


def test_wallet_agent_and_vault_signing() -> None:
    agent = PrivateKey.from_hex(AGENT_SECRET)
    wallet = Wallet(agent, account_address=MASTER.upper().replace("0X", "0x"),
                    vault_address=VAULT)
    assert wallet.is_agent and wallet.account_address == MASTER
    assert wallet.signer_address == agent.address and wallet.query_address == VAULT
    clock = FixedClock(1_700_000_000_000)
    signer = ActionSigner(wallet, NonceManager(clock), clock, is_mainnet=True,
                          expires_after_ms=5_000)
    signed = signer.sign({"type": "noop"})
    envelope = signed.envelope
    assert envelope["vaultAddress"] == VAULT and envelope["expiresAfter"] == 1_700_000_005_000
    assert recover_l1_signer(envelope["action"], VAULT, envelope["nonce"],
                             envelope["expiresAfter"], envelope["signature"], True) == agent.address
    # Signed for the vault: the same signature does not verify without it.
    assert recover_l1_signer(envelope["action"], None, envelope["nonce"],
                             envelope["expiresAfter"], envelope["signature"], True) != agent.address
    plain = Wallet(agent)
    assert not plain.is_agent and plain.query_address == agent.address
    with pytest.raises(ValueError):
        Wallet(agent, vault_address="0x123")


def test_build_envelope_key_order_and_nulls() -> None:
    key = PrivateKey.from_hex(SECRET)
    envelope = build_envelope({"type": "noop"}, key, 7, None, None, False)
    assert list(envelope) == ["action", "nonce", "signature", "vaultAddress", "expiresAfter"]
    assert envelope["vaultAddress"] is None and envelope["expiresAfter"] is None
    assert set(envelope["signature"]) == {"r", "s", "v"}


def test_nonces_strictly_increase_per_signer_and_survive_clock_jumps() -> None:
    clock = FixedClock(1_000)
    nonces = NonceManager(clock)
    assert [nonces.next("0xA"), nonces.next("0xa"), nonces.next("0xb")] == [1_000, 1_001, 1_000]
    clock.advance(10)
    assert nonces.next("0xa") == 1_010
    clock.now = 500  # wall clock jumps backwards
    assert nonces.next("0xa") == 1_011 and nonces.lead_ms("0xa") == 511
    nonces.observe("0xa", 5_000)
    assert nonces.next("0xa") == 5_001 and nonces.last("0xA") == 5_001
    nonces.observe("0xa", 10)  # never lowers
    assert nonces.next("0xa") == 5_002
    floored = NonceManager(FixedClock(1_000), floor=2_000_000)
    assert floored.next("0xa") == 2_000_000 and floored.next("0xa") == 2_000_001


async def test_100k_signed_actions_in_one_simulated_millisecond(
        autojump_clock: trio.testing.MockClock) -> None:
    """100,000 actions signed by concurrent tasks without the clock moving: no nonce repeats."""
    clock = WallClock(1_700_000_000_000)
    signer = ActionSigner(Wallet(PrivateKey.from_hex(SECRET)), NonceManager(clock), clock,
                          is_mainnet=False)
    action = {"type": "noop"}
    seen: list[int] = []
    envelopes: list[dict[str, object]] = []

    async def burst() -> None:
        for i in range(25_000):
            signed = signer.sign(action)
            seen.append(signed.nonce)
            if i % 5_000 == 0:
                envelopes.append(signed.envelope)
                await trio.lowlevel.checkpoint()  # interleave the tasks

    with trio.fail_after(60):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(burst)
        assert trio.current_time() == start  # all inside one simulated millisecond
    assert len(seen) == 100_000 and len(set(seen)) == 100_000
    assert min(seen) == 1_700_000_000_000 and max(seen) == 1_700_000_099_999
    for envelope in envelopes:
        assert recover_l1_signer(action, None, envelope["nonce"], envelope["expiresAfter"],
                                 envelope["signature"], False) == ADDRESS


def test_a_bad_address_is_never_echoed() -> None:
    # A private key pasted where an address belongs must not reach the error (or a log).
    key = "0x" + "7c" * 32
    with pytest.raises(ValueError) as info:
        normalize_address(key, "vault_address")
    assert "7c7c" not in str(info.value) and "66 characters" in str(info.value)
