"""Shared fixtures of the venue-layer tests (the SDK's signing test key)."""

from __future__ import annotations

import pytest

from hlmaker.hyperliquid.keys import PrivateKey

SDK_TEST_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"


@pytest.fixture
def sdk_key() -> PrivateKey:
    """The key of every vector in protocol ref §5.7 (address 0x1479…9325)."""
    return PrivateKey.from_hex(SDK_TEST_KEY)
