"""Tunables of the order-state core. All times in ms; all caps in entries."""

from __future__ import annotations

import attrs

from hlmaker.errors import ConfigError


@attrs.frozen(kw_only=True)
class BookConfig:
    """Settings of :class:`hlmaker.orders.core.OrderBookCore`.

    Defaults suit Hyperliquid: actions expire after 10 s (``expiresAfter``), an orphan gets 5 s
    of grace (longer than a normal ack round trip), and the de-dup window holds 20,000 fills,
    more than the 10,000 the exchange can replay (protocol ref §2.9).
    """

    coins: tuple[str, ...] | None = None
    """Coins the strategy may trade; ``None`` allows any. Intents for other coins are refused."""
    action_ttl_ms: int = 10_000
    """``expiresAfter`` = issue time + this, for every command."""
    watchdog_grace_ms: int = 5_000
    """A request with no outcome this long after its ``expiresAfter`` is treated as unknown."""
    orphan_grace_ms: int = 5_000
    """An order on the exchange unknown locally is cancelled only once seen this long."""
    protect_ms: int = 3_000
    """Orders acknowledged or finalized this close to a snapshot's request time are protected."""
    fills_margin_ms: int = 10_000
    """Reconcile asks for fills from the last applied fill time minus this margin."""
    early_events_ttl_ms: int = 60_000
    early_events_capacity: int = 10_000
    dedup_capacity: int = 20_000
    terminal_retention_ms: int = 60_000
    """Terminal orders stay queryable this long, then their oids move to the retired map."""
    retired_capacity: int = 50_000
    max_tracked_orders: int = 20_000
    max_open_orders_per_coin: int = 1000
    missing_fill_wait_ms: int = 5_000
    """An ack said ``filled`` but the fills have not all arrived after this long: sweep."""
    unknown_requery_ms: int = 2_000
    """How often an unresolved unknown order asks for another ``orderStatus``."""
    recent_fill_window_ms: int = 300_000

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if isinstance(value, int) and value < 0:
                raise ConfigError(f"book.{field.name}", "must be zero or positive")
        for name in ("action_ttl_ms", "early_events_capacity", "retired_capacity",
                     "max_tracked_orders", "max_open_orders_per_coin"):
            if getattr(self, name) < 1:
                raise ConfigError(f"book.{name}", "must be at least 1")
        if self.dedup_capacity < 10_000:
            raise ConfigError(
                "book.dedup_capacity", "must be at least 10000 (the exchange replays up to 10000)"
            )
