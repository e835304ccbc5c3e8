"""Private keys and wallets that never show their secret.

* :class:`PrivateKey` — a secp256k1 key loaded from hex, an environment variable or a key file.
  Its ``repr``/``str`` show only the address; loading errors name the *source* (variable name,
  file path), never the text that was read; it refuses to be pickled or copied.
* :class:`Wallet` — who signs and for whom: a key (the account's own key or an agent / API
  wallet approved by the account, protocol ref §5.3) acting for ``account_address``, optionally
  trading a vault or sub-account (``vault_address``, sent as the envelope's ``vaultAddress``).

Addresses: :attr:`PrivateKey.address` and everything in :class:`Wallet` are **lower-case**
``"0x"`` + 40 hex digits (what :func:`hlmaker.hyperliquid.signing.recover_l1_signer` returns and
what the docs recommend inside signed actions, §1); :attr:`PrivateKey.checksum_address` gives the
EIP-55 mixed-case form the SDK shows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import coincurve

from hlmaker.hyperliquid.errors import KeyLoadError
from hlmaker.hyperliquid.signing import address_from_public_key, keccak256

DEFAULT_KEY_ENV = "HLMAKER_PRIVATE_KEY"

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def normalize_address(address: str, what: str = "address") -> str:
    """``address`` as lower-case ``"0x"`` + 40 hex digits.

    Raises:
        ValueError: not a 20-byte hex address.
    """
    if not isinstance(address, str) or _ADDRESS.match(address) is None:
        # Never echo the value: a private key pasted in the wrong place would be shown.
        shape = (f"{len(address)} characters" if isinstance(address, str)
                 else type(address).__name__)
        raise ValueError(f"{what} must be 0x + 40 hex digits (got {shape})")
    return address.lower()


def to_checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a 20-byte hex address."""
    lower = normalize_address(address)[2:]
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        ch.upper() if ch.isalpha() and int(digest[i], 16) >= 8 else ch for i, ch in enumerate(lower)
    )


class PrivateKey:
    """A secp256k1 private key whose secret never appears in a repr, str, log or exception.

    Construct with :meth:`from_hex`, :meth:`from_env` or :meth:`from_file`.
    """

    __slots__ = ("_address", "_secret")

    def __init__(self, secret: bytes) -> None:
        """Wrap 32 raw key bytes. Raises :class:`KeyLoadError` if they are not a valid key."""
        if not isinstance(secret, bytes) or len(secret) != 32:
            raise KeyLoadError("a private key must be 32 bytes")
        try:
            key = coincurve.PrivateKey(secret)
        except Exception:
            raise KeyLoadError("not a valid secp256k1 key (zero or ≥ curve order)") from None
        self._secret = key
        self._address = address_from_public_key(key.public_key)

    @classmethod
    def from_hex(cls, text: str, *, source: str = "hex string") -> PrivateKey:
        """Parse ``0x`` + 64 hex digits (the ``0x`` is optional; surrounding space is ignored).

        Raises:
            KeyLoadError: naming ``source``, never the text.
        """
        if not isinstance(text, str):
            raise KeyLoadError(f"private key from {source} must be text")
        stripped = text.strip()
        if _HEX_KEY.match(stripped) is None:
            raise KeyLoadError(f"private key from {source} is not 0x + 64 hex digits")
        try:
            return cls(bytes.fromhex(stripped[2:] if stripped.startswith("0x") else stripped))
        except KeyLoadError as exc:
            raise KeyLoadError(f"private key from {source}: {exc}") from None

    @classmethod
    def from_env(
        cls, var: str = DEFAULT_KEY_ENV, *, environ: Mapping[str, str] | None = None
    ) -> PrivateKey:
        """Read the key from environment variable ``var`` (``environ`` defaults to ``os.environ``).

        Raises:
            KeyLoadError: the variable is unset/empty or does not hold a key.
        """
        env = os.environ if environ is None else environ
        text = env.get(var)
        if not text:
            raise KeyLoadError(f"environment variable {var} is not set")
        return cls.from_hex(text, source=f"environment variable {var}")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PrivateKey:
        """Read the key from a text file holding ``0x`` + 64 hex digits (one line).

        Raises:
            KeyLoadError: the file is missing/unreadable or does not hold a key.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = type(exc).__name__
            raise KeyLoadError(f"cannot read key file {os.fspath(path)}: {reason}") from None
        return cls.from_hex(text, source=f"key file {os.fspath(path)}")

    @property
    def address(self) -> str:
        """The key's address, lower-case ``"0x"`` + 40 hex digits."""
        return self._address

    @property
    def checksum_address(self) -> str:
        """The key's address in EIP-55 mixed case (as ``eth_account`` shows it)."""
        return to_checksum_address(self._address)

    def sign_digest_recoverable(self, digest: bytes) -> bytes:
        """Sign a 32-byte digest: 65 bytes ``r ‖ s ‖ recid`` (RFC 6979, low-s; libsecp256k1)."""
        return self._secret.sign_recoverable(digest, hasher=None)

    def __repr__(self) -> str:
        return f"PrivateKey(address={self._address})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("PrivateKey cannot be pickled or copied")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrivateKey) and other._address == self._address

    def __hash__(self) -> int:
        return hash(self._address)


class Wallet:
    """A signing key acting for an account, optionally trading a vault / sub-account.

    * ``key`` signs. It is either the account's own key or an agent (API wallet) the account
      approved (``approveAgent``); nonces are tracked per **signer** (§5.3), so use
      :attr:`signer_address` with :class:`~hlmaker.hyperliquid.nonces.NonceManager`.
    * ``account_address`` is the master account the key acts for (defaults to the key's own
      address). Info queries (open orders, fills, positions) use :attr:`query_address`.
    * ``vault_address`` — a vault or sub-account traded on behalf of; it goes into the action hash
      and the envelope's ``vaultAddress`` (``[SDK] exchange.py``).

    Implements ``sign_digest_recoverable`` so it can be passed wherever a key can.
    """

    __slots__ = ("_key", "account_address", "vault_address")

    def __init__(
        self, key: PrivateKey, account_address: str | None = None, vault_address: str | None = None
    ) -> None:
        self._key = key
        self.account_address = (
            key.address if account_address is None else normalize_address(account_address)
        )
        self.vault_address = (
            None if vault_address is None else normalize_address(vault_address, "vault address")
        )

    @property
    def signer_address(self) -> str:
        """Address of the signing key (the agent, when the key is an API wallet)."""
        return self._key.address

    @property
    def is_agent(self) -> bool:
        """True when the key signs on behalf of a different account."""
        return self._key.address != self.account_address

    @property
    def query_address(self) -> str:
        """The ``user`` for info queries: the vault if trading one, else the account."""
        return self.vault_address or self.account_address

    def sign_digest_recoverable(self, digest: bytes) -> bytes:
        """Sign with the wallet's key (see :meth:`PrivateKey.sign_digest_recoverable`)."""
        return self._key.sign_digest_recoverable(digest)

    def __repr__(self) -> str:
        return (
            f"Wallet(signer={self._key.address}, account={self.account_address}, "
            f"vault={self.vault_address})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("Wallet cannot be pickled or copied")
