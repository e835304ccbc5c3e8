"""The signed ``/exchange`` envelope, shared by the REST client and WebSocket ``post`` actions.

Exchange rule (protocol ref §4.1, ``[SDK] exchange.py _post_action``): five keys in this order —
``action``, ``nonce``, ``signature``, ``vaultAddress``, ``expiresAfter`` — the last two JSON
``null`` when unused. The same dict is the REST body and the WS ``post`` ``action`` payload
(§6.5).

:class:`ActionSigner` bundles what an executor needs per action: a wallet, per-signer nonces from
the injected clock, the network, and an ``expiresAfter`` horizon (reliability S6: once it has
passed, an action that did not land never will).
"""

from __future__ import annotations

from typing import Any

import attrs

from hlmaker.clock import Clock
from hlmaker.hyperliquid.keys import Wallet
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.signing import sign_l1_action


def build_envelope(
    action: dict[str, Any],
    wallet: Any,
    nonce: int,
    vault_address: str | None,
    expires_after: int | None,
    is_mainnet: bool,
) -> dict[str, Any]:
    """Sign ``action`` and wrap it: ``{"action", "nonce", "signature", "vaultAddress",
    "expiresAfter"}``.

    Args:
        action: wire action (:mod:`hlmaker.hyperliquid.actions`).
        wallet: anything :func:`~hlmaker.hyperliquid.signing.sign_l1_action` accepts.
        nonce: ms since the epoch, unique per signer (:class:`NonceManager`).
        vault_address: the vault / sub-account traded for, or ``None``.
        expires_after: ms since the epoch, or ``None``.
        is_mainnet: phantom-agent source ``"a"`` (mainnet) or ``"b"``.

    Raises:
        TypeError / ValueError: see :func:`~hlmaker.hyperliquid.signing.sign_l1_action`.
    """
    signature = sign_l1_action(wallet, action, vault_address, nonce, expires_after, is_mainnet)
    return {
        "action": action,
        "nonce": nonce,
        "signature": signature,
        "vaultAddress": vault_address,
        "expiresAfter": expires_after,
    }


@attrs.frozen(kw_only=True)
class SignedAction:
    """An envelope ready to post, with the facts the executor books: ``nonce`` and
    ``expires_after_ms`` (ms since the epoch)."""

    envelope: dict[str, Any] = attrs.field(eq=False, hash=False)
    nonce: int
    expires_after_ms: int | None


class ActionSigner:
    """Signs actions for one :class:`~hlmaker.hyperliquid.keys.Wallet`.

    ``nonce = nonces.next(wallet.signer_address)`` and, when ``expires_after_ms`` is set,
    ``expiresAfter = clock.now_ms() + expires_after_ms`` (pick it larger than the request
    timeout, so an answer can still arrive before the action expires).
    """

    __slots__ = ("_clock", "_expires_ms", "_mainnet", "_nonces", "_wallet")

    def __init__(
        self,
        wallet: Wallet,
        nonces: NonceManager,
        clock: Clock,
        *,
        is_mainnet: bool,
        expires_after_ms: int | None = 30_000,
    ) -> None:
        self._wallet = wallet
        self._nonces = nonces
        self._clock = clock
        self._mainnet = bool(is_mainnet)
        self._expires_ms = expires_after_ms

    @property
    def wallet(self) -> Wallet:
        """The wallet signing (its ``query_address`` is whose orders/fills to read)."""
        return self._wallet

    def sign(self, action: dict[str, Any]) -> SignedAction:
        """Take the next nonce, sign ``action`` and return the envelope (never awaits)."""
        nonce = self._nonces.next(self._wallet.signer_address)
        expires = None if self._expires_ms is None else self._clock.now_ms() + self._expires_ms
        envelope = build_envelope(
            action, self._wallet, nonce, self._wallet.vault_address, expires, self._mainnet
        )
        return SignedAction(envelope=envelope, nonce=nonce, expires_after_ms=expires)

    def __repr__(self) -> str:
        return f"ActionSigner({self._wallet!r}, mainnet={self._mainnet})"
