"""The exception tree of hlmaker.

::

    HlmakerError                      root of every error hlmaker raises on purpose
    ├── ConfigError                   bad configuration: names the field and the fix
    └── (venue errors)                hlmaker.hyperliquid.errors: transport, timeout, HTTP 429,
                                      exchange error, key loading — all subclass HlmakerError

Exchange *refusals* of orders and cancels are data (outcome messages), not exceptions.
"""

from __future__ import annotations


class HlmakerError(Exception):
    """Root of every exception hlmaker raises on purpose."""


class ConfigError(HlmakerError):
    """A configuration value is invalid. ``field`` names it; the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
