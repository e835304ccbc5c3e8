"""Test helpers: a signing client that drives :class:`SimService` without sockets."""

from __future__ import annotations

import json
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from hlmaker.hyperliquid.signing import sign_l1_action
from hlmaker.sim.service import SimService

T0 = 1_700_000_000_000
KEY_A = "0x0123456789012345678901234567890123456789012345678901234567890123"
KEY_B = "0x" + "22" * 32
KEY_C = "0x" + "33" * 32


def wallet(key: str) -> LocalAccount:
    """An eth_account wallet for ``key``."""
    return Account.from_key(key)


class Client:
    """Builds signed envelopes like the SDK and posts them to a service (no sockets)."""

    def __init__(self, service: SimService, key: str, vault: str | None = None) -> None:
        self.service = service
        self.wallet = wallet(key)
        self.address = self.wallet.address.lower()
        self.vault = vault
        self.nonce = T0

    def envelope(
        self, action: dict[str, Any], nonce: int | None = None, expires_after: int | None = None
    ) -> dict[str, Any]:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        sig = sign_l1_action(self.wallet, action, self.vault, nonce, expires_after, False)
        return {
            "action": action,
            "nonce": nonce,
            "signature": sig,
            "vaultAddress": self.vault,
            "expiresAfter": expires_after,
        }

    def exchange(self, action: dict[str, Any], now_ms: int = T0, **kw: Any) -> Any:
        status, body = self.service.handle_exchange(json.dumps(self.envelope(action, **kw)), now_ms)
        assert status == 200, body
        return body

    def info(self, body: dict[str, Any], now_ms: int = T0) -> Any:
        status, reply = self.service.handle_info(json.dumps(body), now_ms)
        assert status == 200, reply
        return reply


def order_wire(
    asset: int,
    is_buy: bool,
    px: str,
    sz: str,
    tif: str = "Gtc",
    cloid: str | None = None,
    reduce_only: bool = False,
) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "a": asset,
        "b": is_buy,
        "p": px,
        "s": sz,
        "r": reduce_only,
        "t": {"limit": {"tif": tif}},
    }
    if cloid is not None:
        wire["c"] = cloid
    return wire


def order_action(*wires: dict[str, Any]) -> dict[str, Any]:
    return {"type": "order", "orders": list(wires), "grouping": "na"}


def cloid(n: int) -> str:
    return f"0x{n:032x}"
