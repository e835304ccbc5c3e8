"""The exception tree of hlmaker.

::

    HlmakerError                      root of every error hlmaker raises on purpose
    ├── ConfigError                   bad configuration: names the field and the fix
    ├── EndpointUnreachable           start-up could not reach the exchange in time (URL, cause)
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


class EndpointUnreachable(HlmakerError):
    """Start-up could not read the exchange's ``meta`` at ``url`` within the configured time
    (``maker.startup_timeout_s``); ``cause`` says why (the last error). ``hlmaker run`` prints
    it as one line and exits with code 3."""

    def __init__(self, url: str, cause: str, waited_s: float) -> None:
        super().__init__(f"cannot reach the exchange at {url} after {waited_s:.0f} s: {cause}")
        self.url = url
        self.cause = cause
        self.waited_s = waited_s
