"""Signature and nonce checks of the simulated ``/exchange`` endpoint.

* L1 actions are verified with :func:`hlmaker.hyperliquid.signing.recover_l1_signer` (the venue
  module's implementation of §5.1).
* User-signed actions (§5.2) are EIP-712 typed data with domain ``HyperliquidSignTransaction``;
  :func:`recover_user_signed` rebuilds the digest for the primary types in :data:`USER_SIGNED_TYPES`
  (coincurve for recovery, pycryptodome for keccak) and returns the signer.
* :class:`NonceStore` keeps, per signer, the 100 highest nonces (§5.3).
"""

from __future__ import annotations

import bisect
from typing import Any

import coincurve
from Crypto.Hash import keccak

from hlmaker.sim import rules

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class BadSignature(ValueError):
    """The signature is malformed or no key can be recovered from it."""


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's hash) of ``data``."""
    return keccak.new(data=data, digest_bits=256).digest()


USER_SIGNED_TYPES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    # action type -> (primary type, fields in signing order) — §5.2
    "approveAgent": (
        "HyperliquidTransaction:ApproveAgent",
        (
            ("hyperliquidChain", "string"),
            ("agentAddress", "address"),
            ("agentName", "string"),
            ("nonce", "uint64"),
        ),
    ),
    "usdSend": (
        "HyperliquidTransaction:UsdSend",
        (
            ("hyperliquidChain", "string"),
            ("destination", "string"),
            ("amount", "string"),
            ("time", "uint64"),
        ),
    ),
    "withdraw3": (
        "HyperliquidTransaction:Withdraw",
        (
            ("hyperliquidChain", "string"),
            ("destination", "string"),
            ("amount", "string"),
            ("time", "uint64"),
        ),
    ),
    "approveBuilderFee": (
        "HyperliquidTransaction:ApproveBuilderFee",
        (
            ("hyperliquidChain", "string"),
            ("maxFeeRate", "string"),
            ("builder", "address"),
            ("nonce", "uint64"),
        ),
    ),
}
"""User-signed action types the simulator can verify."""

_DOMAIN_TYPEHASH = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


def _encode(kind: str, value: Any) -> bytes:
    if kind == "string":
        if not isinstance(value, str):
            raise BadSignature("expected a string field")
        return keccak256(value.encode())
    if kind == "address":
        if not isinstance(value, str) or not value.startswith("0x") or len(value) != 42:
            raise BadSignature("expected an address field")
        try:
            return bytes(12) + bytes.fromhex(value[2:])
        except ValueError:
            raise BadSignature("address is not hex") from None
    if kind in ("uint64", "uint256"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadSignature("expected an unsigned integer field")
        return value.to_bytes(32, "big")
    if kind == "bool":
        if not isinstance(value, bool):
            raise BadSignature("expected a boolean field")
        return int(value).to_bytes(32, "big")
    raise BadSignature(f"unsupported field type {kind}")


def user_signed_digest(action: dict[str, Any]) -> bytes:
    """EIP-712 digest of a user-signed action (§5.2). A missing ``agentName`` counts as ``""``.

    Raises:
        BadSignature: unknown action type or malformed fields.
    """
    spec = USER_SIGNED_TYPES.get(action.get("type"))  # type: ignore[arg-type]
    if spec is None:
        raise BadSignature(f"not a user-signed action: {action.get('type')!r}")
    primary, fields = spec
    chain_id_raw = action.get("signatureChainId")
    try:
        chain_id = int(chain_id_raw, 16)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadSignature("signatureChainId must be a hex string") from None
    type_string = primary + "(" + ",".join(f"{t} {n}" for n, t in fields) + ")"
    struct = keccak256(type_string.encode())
    for name, kind in fields:
        value = action.get(name, "" if name == "agentName" else None)
        struct += _encode(kind, value)
    domain = keccak256(
        _DOMAIN_TYPEHASH
        + keccak256(b"HyperliquidSignTransaction")
        + keccak256(b"1")
        + chain_id.to_bytes(32, "big")
        + bytes(32)
    )
    return keccak256(b"\x19\x01" + domain + keccak256(struct))


def _component(value: Any) -> int:
    if isinstance(value, bool):
        raise BadSignature("bad signature component")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value, 16)
        except ValueError:
            raise BadSignature("signature component is not hex") from None
    else:
        raise BadSignature("bad signature component")
    if not 0 < number < _SECP256K1_N:
        raise BadSignature("signature component out of range")
    return number


def recover_digest_signer(digest: bytes, signature: Any) -> str:
    """Recover the lower-case address that signed ``digest`` with ``{"r","s","v"}``.

    Raises:
        BadSignature: malformed signature or nothing recoverable.
    """
    if not isinstance(signature, dict):
        raise BadSignature("signature must be an object")
    try:
        r, s, v = _component(signature["r"]), _component(signature["s"]), signature["v"]
    except KeyError:
        raise BadSignature("signature lacks r, s or v") from None
    if isinstance(v, bool) or v not in (0, 1, 27, 28):
        raise BadSignature("signature v must be 27 or 28")
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v - 27 if v >= 27 else v,))
    try:
        pub = coincurve.PublicKey.from_signature_and_message(compact, digest, hasher=None)
    except Exception as exc:  # coincurve raises plain Exception
        raise BadSignature("no key recoverable") from exc
    return "0x" + keccak256(pub.format(compressed=False)[1:])[-20:].hex()


def recover_user_signed(action: dict[str, Any], signature: Any) -> str:
    """Signer of a user-signed action (lower-case address). Raises :class:`BadSignature`."""
    return recover_digest_signer(user_signed_digest(action), signature)


class NonceStore:
    """Per-signer nonce rules (§5.3): keep the ``keep`` highest nonces; a new nonce must not be
    among them, must exceed the smallest once ``keep`` are held, and must lie within
    ``(now - past_ms, now + future_ms)``."""

    def __init__(
        self, keep: int = 100, past_ms: int = 2 * 86_400_000, future_ms: int = 86_400_000
    ) -> None:
        self.keep = keep
        self.past_ms = past_ms
        self.future_ms = future_ms
        self._kept: dict[str, list[int]] = {}

    def check(self, signer: str, nonce: int, now_ms: int) -> str | None:
        """The error text for ``nonce``, or ``None`` if it would be accepted (nothing recorded)."""
        if not now_ms - self.past_ms < nonce < now_ms + self.future_ms:
            return rules.err_nonce_window(nonce, now_ms)
        kept = self._kept.get(signer, [])
        i = bisect.bisect_left(kept, nonce)
        if i < len(kept) and kept[i] == nonce:
            return rules.err_duplicate_nonce(nonce)
        if len(kept) >= self.keep and nonce < kept[0]:
            return rules.err_nonce_too_low(nonce, kept[0])
        return None

    def use(self, signer: str, nonce: int) -> None:
        """Record ``nonce`` as used by ``signer`` (call after :meth:`check` passed)."""
        kept = self._kept.setdefault(signer, [])
        bisect.insort(kept, nonce)
        if len(kept) > self.keep:
            del kept[0]

    def highest(self, signer: str) -> int | None:
        """Highest nonce used by ``signer``."""
        kept = self._kept.get(signer)
        return kept[-1] if kept else None
