"""L1 action signing, byte-identical to the official SDK, on libsecp256k1 (coincurve).

The exchange rule (``[SDK] utils/signing.py`` ``action_hash`` / ``sign_l1_action``, protocol ref
§5.1):

1. ``data = msgpack(action)`` — the action dict exactly as posted, insertion order preserved;
2. ``+ nonce`` as 8 big-endian bytes;
3. ``+ b"\\x00"`` if there is no vault, else ``b"\\x01" + 20 address bytes``;
4. ``+ b"\\x00" + expiresAfter`` as 8 big-endian bytes, only when ``expiresAfter`` is not None;
5. ``connectionId = keccak256(data)``;
6. EIP-712 ``Agent{source: "a" (mainnet) | "b" (testnet), connectionId}`` in the domain
   ``Exchange`` / version ``1`` / chainId ``1337`` / verifyingContract ``0x0…0``;
7. secp256k1 recoverable signature of the EIP-712 digest (RFC 6979 nonces, low-s), returned as
   ``{"r": hex(r), "s": hex(s), "v": 27 + recid}`` — hex **without zero padding**, like the SDK's
   ``eth_utils.to_hex(int)``.

Everything that does not depend on the action (domain separator, ``Agent`` type hash, the hashed
``source`` of each network) is precomputed at import, so one signature costs one msgpack, three
keccak-256 calls and one libsecp256k1 sign.

Who signs (``wallet``): anything with a ``sign_digest_recoverable(digest: bytes) -> bytes``
method returning the 65-byte ``r ‖ s ‖ recid`` signature (hlmaker's
:class:`hlmaker.hyperliquid.keys.PrivateKey` and :class:`~hlmaker.hyperliquid.keys.Wallet`), or
an ``eth_account`` ``LocalAccount`` (anything with a 32-byte ``.key``).
"""

from __future__ import annotations

import contextlib
import ctypes
import weakref
from typing import Any, Protocol

import coincurve
import msgpack
from Crypto.Hash import keccak as _keccak_mod
from Crypto.Util import _raw_api

from hlmaker.hyperliquid.errors import SignatureError

__all__ = [
    "DOMAIN_SEPARATOR",
    "DigestSigner",
    "Signature",
    "action_hash",
    "address_from_public_key",
    "keccak256",
    "l1_digest",
    "recover_l1_signer",
    "sign_l1_action",
]

Signature = dict[str, Any]
"""``{"r": "0x…", "s": "0x…", "v": 27 | 28}`` — r/s lower-case hex without zero padding."""

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class DigestSigner(Protocol):
    """A key that signs a 32-byte digest, returning ``r ‖ s ‖ recid`` (65 bytes)."""

    def sign_digest_recoverable(self, digest: bytes) -> bytes: ...


def _keccak256_public(data: bytes) -> bytes:
    return _keccak_mod.new(data=data, digest_bits=256).digest()


_RAW = getattr(_keccak_mod, "_raw_keccak_lib", None)
if isinstance(_RAW, ctypes.CDLL):
    # pycryptodome's ctypes backend: calling its C functions directly skips ~3 µs of Python
    # object set-up per hash (4.6 µs → 2 µs). A fresh state per call keeps it re-entrant.
    _k_init, _k_absorb = _RAW.keccak_init, _RAW.keccak_absorb
    _k_digest, _k_destroy = _RAW.keccak_digest, _RAW.keccak_destroy
    _CAPACITY, _ROUNDS = ctypes.c_size_t(64), ctypes.c_ubyte(24)
    _OUT_LEN, _KECCAK_PAD = ctypes.c_size_t(32), ctypes.c_ubyte(0x01)

    def keccak256(data: bytes) -> bytes:
        """Keccak-256 (the Ethereum hash, not SHA3-256) of ``data``: 32 bytes."""
        state = ctypes.c_void_p()
        if _k_init(ctypes.byref(state), _CAPACITY, _ROUNDS):
            return _keccak256_public(data)
        try:
            out = ctypes.create_string_buffer(32)
            _k_absorb(state, data, ctypes.c_size_t(len(data)))
            _k_digest(state, out, _OUT_LEN, _KECCAK_PAD)
        finally:
            _k_destroy(state)
        return out.raw

elif _RAW is not None and getattr(_raw_api, "backend", None) == "cffi":
    # pycryptodome's cffi backend (what it picks when cffi is installed, as here): the same
    # direct calls (~10 µs of Python set-up per hash through ``keccak.new`` otherwise, three
    # hashes per signature).
    _ffi = _raw_api.ffi
    _c_init, _c_absorb = _RAW.keccak_init, _RAW.keccak_absorb
    _c_digest, _c_destroy = _RAW.keccak_digest, _RAW.keccak_destroy

    def keccak256(data: bytes) -> bytes:
        """Keccak-256 (the Ethereum hash, not SHA3-256) of ``data``: 32 bytes."""
        holder = _ffi.new("void **")
        if _c_init(holder, 64, 24):
            return _keccak256_public(data)
        state = holder[0]
        try:
            out = _ffi.new("uint8_t[32]")
            _c_absorb(state, data, len(data))
            _c_digest(state, out, 32, 0x01)
        finally:
            _c_destroy(state)
        return _ffi.buffer(out)[:]

else:  # pragma: no cover - an unknown backend of pycryptodome
    keccak256 = _keccak256_public


def _u256(value: int) -> bytes:
    return value.to_bytes(32, "big")


_DOMAIN_TYPEHASH = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_SEPARATOR: bytes = keccak256(
    _DOMAIN_TYPEHASH
    + keccak256(b"Exchange")
    + keccak256(b"1")
    + _u256(1337)
    + bytes(32)  # verifyingContract 0x000…0, left-padded to 32 bytes
)
"""EIP-712 domain separator of L1 actions (protocol ref §5.1:
``0xd79297fcdf2ffcd4ae223d01edaa2ba214ff8f401d7c9300d995d17c82aa4040``)."""

_AGENT_TYPEHASH = keccak256(b"Agent(string source,bytes32 connectionId)")
_STRUCT_PREFIX = {
    True: _AGENT_TYPEHASH + keccak256(b"a"),  # mainnet
    False: _AGENT_TYPEHASH + keccak256(b"b"),  # testnet (and any non-mainnet URL, §3.1)
}
_DIGEST_PREFIX = b"\x19\x01" + DOMAIN_SEPARATOR
_NO_VAULT = b"\x00"


def _pack(action: Any) -> bytes:
    # msgpack-python defaults, as the SDK's ``msgpack.packb(action)``.
    return msgpack.packb(action)


def _vault_bytes(vault_address: str | None) -> bytes:
    if vault_address is None:
        return _NO_VAULT
    hex_part = vault_address[2:] if vault_address.startswith("0x") else vault_address
    try:
        raw = bytes.fromhex(hex_part)
    except ValueError:
        raise ValueError(f"vault address is not hex: {vault_address!r}") from None
    if len(raw) != 20:
        raise ValueError(f"vault address must be 20 bytes, got {len(raw)}")
    return b"\x01" + raw


def action_hash(
    action: Any, vault_address: str | None, nonce: int, expires_after: int | None
) -> bytes:
    """The ``connectionId`` of an L1 action: 32 bytes (``[SDK] signing.py action_hash``).

    Args:
        action: the wire action dict, keys in the exchange's order (see
            :mod:`hlmaker.hyperliquid.actions`); only msgpack-able values (no floats in practice).
        vault_address: ``"0x"`` + 40 hex digits (any case) or ``None``.
        nonce: the envelope nonce, ms since the epoch (unsigned 64-bit).
        expires_after: ms since the epoch, or ``None`` (then nothing is appended).

    Raises:
        ValueError: malformed vault address; ``OverflowError`` for out-of-range integers.
    """
    data = _pack(action) + nonce.to_bytes(8, "big") + _vault_bytes(vault_address)
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return keccak256(data)


def l1_digest(connection_id: bytes, is_mainnet: bool) -> bytes:
    """The 32-byte EIP-712 digest signed for ``connection_id`` (phantom agent, §5.1 steps 6–7)."""
    struct_hash = keccak256(_STRUCT_PREFIX[bool(is_mainnet)] + connection_id)
    return keccak256(_DIGEST_PREFIX + struct_hash)


# coincurve keys of the eth_account LocalAccounts seen, so a LocalAccount costs one key set-up
# (public-key derivation, ~40 µs) per account instead of per signature. Entries die with the
# account object.
_LOCAL_ACCOUNT_KEYS: weakref.WeakKeyDictionary[Any, coincurve.PrivateKey] = (
    weakref.WeakKeyDictionary())


def _digest_signer(wallet: Any) -> Any:
    sign = getattr(wallet, "sign_digest_recoverable", None)
    if sign is not None:
        return sign
    key = getattr(wallet, "key", None)  # eth_account LocalAccount
    if key is not None:
        try:
            secret = _LOCAL_ACCOUNT_KEYS.get(wallet)
        except TypeError:  # not hashable / not weak-referenceable
            secret = None
        if secret is None or secret.secret != bytes(key):
            secret = coincurve.PrivateKey(bytes(key))
            with contextlib.suppress(TypeError):
                _LOCAL_ACCOUNT_KEYS[wallet] = secret
        return lambda digest: secret.sign_recoverable(digest, hasher=None)
    raise TypeError(
        f"cannot sign with a {type(wallet).__name__}: expected an hlmaker key/wallet "
        "or an eth_account LocalAccount"
    )


def sign_l1_action(
    wallet: Any,
    action: Any,
    active_pool: str | None,
    nonce: int,
    expires_after: int | None,
    is_mainnet: bool,
) -> Signature:
    """Sign an L1 action exactly like ``hyperliquid.utils.signing.sign_l1_action``.

    Args:
        wallet: hlmaker ``PrivateKey``/``Wallet`` or an ``eth_account`` ``LocalAccount``.
        action: the wire action dict (key order matters, §5.1).
        active_pool: the vault / sub-account address traded for, or ``None``.
        nonce: ms since the epoch; must be unique per signer (see :mod:`.nonces`).
        expires_after: ms since the epoch after which the exchange rejects the action, or ``None``.
        is_mainnet: phantom-agent source ``"a"`` if true, ``"b"`` otherwise (the SDK uses
            ``"b"`` for every URL but ``https://api.hyperliquid.xyz``, §3.1).

    Returns:
        ``{"r": "0x…", "s": "0x…", "v": 27|28}``; r and s are not zero-padded.

    Raises:
        TypeError: ``wallet`` cannot sign. ValueError: malformed ``active_pool``.
    """
    digest = l1_digest(action_hash(action, active_pool, nonce, expires_after), is_mainnet)
    sig = _digest_signer(wallet)(digest)
    return {
        "r": hex(int.from_bytes(sig[:32], "big")),
        "s": hex(int.from_bytes(sig[32:64], "big")),
        "v": 27 + sig[64],
    }


def _parse_component(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise SignatureError(f"signature {name} must be hex or int")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        if not text or len(text) > 64:
            raise SignatureError(f"signature {name} has a bad length")
        try:
            number = int(text, 16)
        except ValueError:
            raise SignatureError(f"signature {name} is not hex") from None
    else:
        raise SignatureError(f"signature {name} must be hex or int")
    if not 0 < number < _SECP256K1_N:
        raise SignatureError(f"signature {name} is out of range")
    return number


def address_from_public_key(public_key: coincurve.PublicKey) -> str:
    """Lower-case ``0x`` Ethereum address of a secp256k1 public key (keccak of x‖y, last 20)."""
    return "0x" + keccak256(public_key.format(compressed=False)[1:])[-20:].hex()


def recover_l1_signer(
    action: Any,
    vault_address: str | None,
    nonce: int,
    expires_after: int | None,
    signature: dict[str, Any],
    is_mainnet: bool,
) -> str:
    """Recover the address that signed an L1 action (what the exchange does on ``/exchange``).

    Accepts ``r``/``s`` as hex strings with or without ``0x`` and **without zero padding** (the
    SDK emits short ones, §4.1) or as ints, and ``v`` as 27/28 (0/1 also accepted).

    Returns:
        The signer's address, lower-case ``"0x"`` + 40 hex digits. A signature over different
        data recovers a *different* address rather than failing — compare it with the expected
        signer.

    Raises:
        SignatureError (a ``ValueError``): missing/malformed r, s or v, or no key recoverable.
    """
    if not isinstance(signature, dict):
        raise SignatureError("signature must be an object with r, s, v")
    try:
        r_raw, s_raw, v_raw = signature["r"], signature["s"], signature["v"]
    except KeyError as exc:
        raise SignatureError(f"signature lacks {exc.args[0]!r}") from None
    r = _parse_component(r_raw, "r")
    s = _parse_component(s_raw, "s")
    if isinstance(v_raw, bool) or not isinstance(v_raw, int) or v_raw not in (0, 1, 27, 28):
        raise SignatureError("signature v must be 27 or 28")
    recid = v_raw - 27 if v_raw >= 27 else v_raw
    try:
        digest = l1_digest(action_hash(action, vault_address, nonce, expires_after), is_mainnet)
    except (ValueError, TypeError, OverflowError) as exc:
        raise SignatureError(f"cannot hash the action: {exc}") from None
    except Exception as exc:  # msgpack raises its own types for unpackable values
        raise SignatureError(f"cannot hash the action: {type(exc).__name__}") from None
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((recid,))
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(compact, digest, hasher=None)
    except Exception as exc:  # coincurve raises plain Exception on failure
        raise SignatureError("no public key recoverable from this signature") from exc
    return address_from_public_key(public_key)
