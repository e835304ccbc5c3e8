"""The reference strategy: a symmetric, inventory-skewed ladder around the mid of each coin.

For a coin with mid ``m`` (quote currency) and signed position ``q`` (coin), level ``i``
(``0 … levels-1``) is quoted at::

    offset_i = half_spread_bps + i × spacing_bps
    shift    = clamp(-skew_bps_per_unit × q, -half_spread_bps, +half_spread_bps)
    bid_i    = round_px(m × (1 + (shift - offset_i) / 10⁴), ROUND_FLOOR)
    ask_i    = round_px(m × (1 + (shift + offset_i) / 10⁴), ROUND_CEILING)

so a long position moves the whole ladder down (the asks come closer to the mid, the bids move
away) and a short one moves it up. The shift is clamped to ``half_spread_bps`` so the best bid
never rises above the mid and the best ask never falls below it; bids round down and asks round
up, which keeps them passive (the orders are post-only, ``Alo``).

Each level is ``size`` coin, rounded *down* to the coin's ``szDecimals`` (:func:`round_sz`).
A level whose notional ``px × sz`` is below ``min_notional`` (the exchange's $10 minimum) is
skipped, and so is a level that rounds onto the price of the level before it. A side stops at the
first level that, were every level of that side filled, would take ``|position|`` beyond
``max_position``: at ``+max_position`` no bid is quoted, at ``-max_position`` no ask.

Re-quoting happens only when the mid moved more than ``requote_bps`` (× the quoter's budget
scale, :meth:`LadderQuoter.set_requote_scale`) from the mid the current ladder was built on, or
the position changed. When the book's settled orders no longer match the
last ladder (an order was rejected, cancelled by the exchange or partly filled) the same ladder is
sent again, at most once every ``refill_ms``.

The mid comes from :class:`~hlmaker.messages.Bbo` or :class:`~hlmaker.messages.L2Book` (mid of
the best bid and ask) when one arrived within ``mid_max_age_ms``, else from
:class:`~hlmaker.messages.AllMids`.

Example::

    strategy = LadderQuoter(LadderConfig(coins=("BTC",), levels=3, size=Decimal("0.001"),
                                         max_position=Decimal("0.01")))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_UP, Decimal, InvalidOperation
from typing import Any

import attrs

from hlmaker.errors import ConfigError
from hlmaker.hyperliquid.numbers import round_px, round_sz
from hlmaker.messages import (
    AllMids,
    Bbo,
    BookView,
    CancelAll,
    Intent,
    L2Book,
    Level,
    MarketData,
    TargetLadder,
)
from hlmaker.strategy.base import MarketInfo

log = logging.getLogger("hlmaker.strategy.ladder")

BPS = Decimal(10_000)
ZERO = Decimal(0)
MAX_LEVELS = 100
EXCHANGE_MIN_NOTIONAL = Decimal(10)
"""The exchange refuses orders below $10 notional (``Order must have minimum value of $10``)."""

_SETTLED = frozenset({"resting", "partially_filled"})


def _to_decimal(value: Any) -> Any:
    """Config converter: ints, strings and floats (through their repr) become Decimal; anything
    else is left for validation to reject with a :class:`ConfigError`."""
    if isinstance(value, bool | Decimal):
        return value
    try:
        if isinstance(value, float):
            return Decimal(repr(value))
        if isinstance(value, int | str):
            return Decimal(value)
    except InvalidOperation:
        return value
    return value


def _opt_decimal(value: Any) -> Any:
    return None if value is None else _to_decimal(value)


def _to_coins(value: Any) -> Any:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def _check_decimal(field: str, value: Any, *, minimum: Decimal, strict: bool, hint: str) -> None:
    ok = isinstance(value, Decimal) and value.is_finite() and (
        value > minimum if strict else value >= minimum)
    if not ok:
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ConfigError(field, f"must be a number {bound}, got {value!r}; {hint}")


@attrs.frozen(kw_only=True)
class CoinOverride:
    """Per-coin settings that replace :class:`LadderConfig`'s (``None`` keeps the global one)."""

    size: Decimal | None = attrs.field(default=None, converter=_opt_decimal)
    max_position: Decimal | None = attrs.field(default=None, converter=_opt_decimal)
    skew_bps_per_unit: Decimal | None = attrs.field(default=None, converter=_opt_decimal)


_OVERRIDE_KEYS = frozenset({"size", "max_position", "skew_bps_per_unit"})


def _to_overrides(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    out: dict[Any, Any] = {}
    for coin, item in value.items():
        if isinstance(item, Mapping) and set(item) <= _OVERRIDE_KEYS:
            item = CoinOverride(**item)
        out[coin] = item  # anything else: validation names it
    return out


@attrs.frozen(kw_only=True)
class CoinParams:
    """The resolved settings of one coin: ``size`` and ``max_position`` in coin (``None``:
    derived from ``notional`` at the first mid), ``skew_bps_per_unit`` in bps of mid per coin
    of position."""

    size: Decimal | None
    max_position: Decimal | None
    skew_bps_per_unit: Decimal


@attrs.frozen(kw_only=True)
class LadderConfig:
    """Settings of :class:`LadderQuoter`. Units: bps are 1/10⁴ of the mid, sizes in coin,
    notional in quote currency, times in ms.

    Numbers may be given as ``Decimal``, ``int``, ``str`` or ``float`` (converted through its
    repr). ``by_coin`` maps a coin to a :class:`CoinOverride` (or a dict of its fields).

    Raises:
        ConfigError: naming the field (``strategy.<name>``) and how to fix it.
    """

    coins: tuple[str, ...] = attrs.field(default=("BTC", "ETH"), converter=_to_coins)
    """Coins to quote, e.g. ``("BTC", "ETH")``."""
    levels: int = 3
    """Orders per side (1 … 100)."""
    size: Decimal | None = attrs.field(default=None, converter=_opt_decimal)
    """Coin per level (> 0), rounded down to the coin's ``szDecimals``; ``None`` (omitted):
    ``notional`` worth of the coin instead, which suits any coin."""
    max_position: Decimal | None = attrs.field(default=None, converter=_opt_decimal)
    """Absolute position limit in coin (> 0); ``None`` (omitted): ``4 × levels`` level
    sizes."""
    notional: Decimal = attrs.field(default=Decimal(15), converter=_to_decimal)
    """Quote currency per level when ``size`` is omitted: the level size is fixed at the
    first mid as ``notional`` / (the outermost bid's price), rounded *up* to ``szDecimals`` — so
    every level is worth at least ``notional`` ≥ ``min_notional`` (the exchange's $10) — and
    recomputed only if the price falls so far that it no longer is."""
    half_spread_bps: Decimal = attrs.field(default=Decimal(10), converter=_to_decimal)
    """Distance of the first level from the mid."""
    spacing_bps: Decimal = attrs.field(default=Decimal(10), converter=_to_decimal)
    """Distance between consecutive levels."""
    skew_bps_per_unit: Decimal = attrs.field(default=ZERO, converter=_to_decimal)
    """Ladder shift per coin of position, against the position."""
    requote_bps: Decimal = attrs.field(default=Decimal(5), converter=_to_decimal)
    """Re-quote when the mid moved more than this from the ladder's mid."""
    min_notional: Decimal = attrs.field(default=EXCHANGE_MIN_NOTIONAL, converter=_to_decimal)
    """Levels with ``px × sz`` below this (quote currency) are skipped."""
    refill_ms: int = 1_000
    """Minimum time between two re-sends of an unchanged ladder the book does not match."""
    mid_max_age_ms: int = 5_000
    """A Bbo/L2 mid older than this (by receipt) gives way to the AllMids mid."""
    by_coin: Mapping[str, CoinOverride] = attrs.field(
        factory=dict, converter=_to_overrides, hash=False)

    def __attrs_post_init__(self) -> None:
        coins = self.coins
        if (not isinstance(coins, tuple) or not coins
                or not all(isinstance(c, str) and c for c in coins)):
            raise ConfigError("strategy.coins",
                              f'list at least one coin name, e.g. coins = ["BTC"]; got {coins!r}')
        if len(set(coins)) != len(coins):
            raise ConfigError("strategy.coins", f"lists a coin twice: {coins!r}")
        if (not isinstance(self.levels, int) or isinstance(self.levels, bool)
                or not 1 <= self.levels <= MAX_LEVELS):
            raise ConfigError("strategy.levels", f"must be an integer from 1 to {MAX_LEVELS} "
                              f"(orders per side), e.g. levels = 3; got {self.levels!r}")
        if self.size is not None:
            _check_decimal("strategy.size", self.size, minimum=ZERO, strict=True,
                           hint="the coin size per level, e.g. size = 0.001 (or omit it: "
                           "notional sets it)")
        if self.max_position is not None:
            _check_decimal("strategy.max_position", self.max_position, minimum=ZERO,
                           strict=True, hint="the absolute position limit in coin, e.g. "
                           "max_position = 0.01 (or omit it: 4 × levels level sizes)")
        _check_decimal("strategy.notional", self.notional, minimum=ZERO, strict=True,
                       hint="quote currency per level, e.g. notional = 15")
        _check_decimal("strategy.half_spread_bps", self.half_spread_bps, minimum=ZERO,
                       strict=True, hint="the first level must be off the mid, e.g. 10")
        _check_decimal("strategy.spacing_bps", self.spacing_bps, minimum=ZERO, strict=True,
                       hint="levels need distinct prices, e.g. spacing_bps = 10")
        _check_decimal("strategy.skew_bps_per_unit", self.skew_bps_per_unit, minimum=ZERO,
                       strict=False, hint="use 0 to disable the skew")
        _check_decimal("strategy.requote_bps", self.requote_bps, minimum=ZERO, strict=False,
                       hint="use 0 to re-quote on every mid change")
        _check_decimal("strategy.min_notional", self.min_notional, minimum=ZERO, strict=False,
                       hint="the exchange's minimum is 10")
        if self.notional < self.min_notional:
            raise ConfigError("strategy.notional", f"must be at least min_notional "
                              f"({self.min_notional}); got {self.notional}")
        outer = self.half_spread_bps + (self.levels - 1) * self.spacing_bps
        if outer >= BPS:
            raise ConfigError("strategy.spacing_bps",
                              f"the outermost bid would be at or below 0 (half_spread_bps + "
                              f"(levels-1) × spacing_bps = {outer} bps); keep it below 10000")
        for name in ("refill_ms", "mid_max_age_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"strategy.{name}",
                                  f"must be an integer number of ms >= 0; got {value!r}")
        if not isinstance(self.by_coin, Mapping):
            raise ConfigError("strategy.by_coin", "must map a coin to its overrides, e.g. "
                              'by_coin = {"BTC": {"size": 0.001}}')
        for coin, item in self.by_coin.items():
            field = f"strategy.by_coin.{coin}"
            if coin not in coins:
                raise ConfigError(field, f"{coin!r} is not in strategy.coins {coins!r}")
            if not isinstance(item, CoinOverride):
                raise ConfigError(field, "allowed keys are size, max_position and "
                                  f"skew_bps_per_unit; got {item!r}")
            if item.size is not None:
                _check_decimal(f"{field}.size", item.size, minimum=ZERO, strict=True,
                               hint="coin per level")
            if item.max_position is not None:
                _check_decimal(f"{field}.max_position", item.max_position, minimum=ZERO,
                               strict=True, hint="absolute position limit in coin")
            if item.skew_bps_per_unit is not None:
                _check_decimal(f"{field}.skew_bps_per_unit", item.skew_bps_per_unit,
                               minimum=ZERO, strict=False, hint="use 0 to disable the skew")

    def params(self, coin: str) -> CoinParams:
        """The settings of ``coin`` with its :class:`CoinOverride` applied."""
        o = self.by_coin.get(coin) or CoinOverride()
        return CoinParams(
            size=o.size if o.size is not None else self.size,
            max_position=o.max_position if o.max_position is not None else self.max_position,
            skew_bps_per_unit=(o.skew_bps_per_unit if o.skew_bps_per_unit is not None
                               else self.skew_bps_per_unit),
        )


@attrs.define
class _CoinState:
    book_mid: Decimal | None = None
    book_mid_ms: int | None = None
    all_mid: Decimal | None = None
    built_mid: Decimal | None = None
    built_position: Decimal | None = None
    target: TargetLadder | None = None
    emitted_ms: int | None = None
    auto_size: Decimal | None = None


def book_mid(bid: Level | None, ask: Level | None) -> Decimal | None:
    """Mid of a best bid and ask (quote currency), ``None`` if a side is missing or the book is
    crossed or locked."""
    if bid is None or ask is None or bid.px <= 0 or bid.px >= ask.px:
        return None
    return (bid.px + ask.px) / 2


class LadderQuoter:
    """The reference :class:`~hlmaker.strategy.base.Strategy` (see the module docstring)."""

    name = "ladder"

    def __init__(self, config: LadderConfig) -> None:
        self.config = config
        self._markets: dict[str, MarketInfo] = {}
        self._state = {coin: _CoinState() for coin in config.coins}
        self._started = False
        self.requote_scale = Decimal(1)
        """Multiplies ``requote_bps`` while the address request budget runs low."""

    # ------------------------------------------------------------------ protocol
    def start(self, markets: Mapping[str, MarketInfo], now_ms: int) -> Sequence[Intent]:
        """Remember the markets and forget any ladder built before (the book restarted).

        Raises:
            ConfigError: a configured coin has no :class:`MarketInfo`.
        """
        for coin in self.config.coins:
            if coin not in markets:
                raise ConfigError("strategy.coins", f"the exchange lists no market {coin!r}; "
                                  f"known: {', '.join(sorted(markets)) or 'none'}")
        self._markets = {coin: markets[coin] for coin in self.config.coins}
        for st in self._state.values():
            st.built_mid = st.built_position = st.target = st.emitted_ms = None
        for coin in self.config.coins:
            params = self.config.params(coin)
            if params.size is not None and round_sz(
                    params.size, self._markets[coin].sz_decimals, ROUND_DOWN) <= 0:
                log.warning("ladder %s: size %s rounds to 0 at szDecimals=%d: nothing quoted",
                            coin, params.size, self._markets[coin].sz_decimals)
        self._started = True
        return []

    def on_market(self, data: MarketData, view: BookView, now_ms: int) -> Sequence[Intent]:
        """Update the mid of the coins ``data`` concerns and re-quote those that need it."""
        touched: list[str] = []
        if isinstance(data, AllMids):
            for coin, st in self._state.items():
                mid = data.mids.get(coin)
                if mid is not None and mid > 0:
                    st.all_mid = mid
                    touched.append(coin)
        elif isinstance(data, Bbo | L2Book):
            st = self._state.get(data.coin)
            if st is None:
                return []
            if isinstance(data, Bbo):
                mid = book_mid(data.bid, data.ask)
            else:
                mid = book_mid(data.bids[0] if data.bids else None,
                               data.asks[0] if data.asks else None)
            if mid is None:
                return []
            st.book_mid, st.book_mid_ms = mid, now_ms
            touched.append(data.coin)
        out: list[Intent] = []
        for coin in touched:
            out += self._quote(coin, view, now_ms)
        return out

    def on_view(self, view: BookView, now_ms: int) -> Sequence[Intent]:
        """Re-quote coins whose position changed or whose orders no longer match the ladder."""
        out: list[Intent] = []
        for coin in self.config.coins:
            out += self._quote(coin, view, now_ms)
        return out

    def set_requote_scale(self, scale: Decimal) -> None:
        """Widen the re-quote threshold to ``requote_bps × scale`` (the address request budget
        is running low; :class:`~hlmaker.strategy.base.BudgetAware`)."""
        self.requote_scale = max(Decimal(1), scale)

    def stop(self, view: BookView, now_ms: int) -> Sequence[Intent]:
        """Cancel everything."""
        self._started = False
        return [CancelAll()]

    # ------------------------------------------------------------------ logic
    def mid(self, coin: str, now_ms: int) -> Decimal | None:
        """The mid used for ``coin`` now (quote currency), ``None`` before any market data."""
        st = self._state[coin]
        if st.book_mid is not None and st.book_mid_ms is not None and (
                now_ms - st.book_mid_ms <= self.config.mid_max_age_ms or st.all_mid is None):
            return st.book_mid
        return st.all_mid

    def ladder(self, coin: str, mid: Decimal, position: Decimal) -> TargetLadder:
        """The ladder for ``coin`` at ``mid`` (quote currency) and signed ``position`` (coin).

        Raises:
            KeyError: :meth:`start` has not been called with ``coin``'s market.
        """
        cfg = self.config
        info = self._markets[coin]
        p = cfg.params(coin)
        sz = self.level_size(coin, mid)
        max_position = p.max_position if p.max_position is not None else 4 * cfg.levels * sz
        shift = -p.skew_bps_per_unit * position
        shift = max(-cfg.half_spread_bps, min(cfg.half_spread_bps, shift))
        bids: list[Level] = []
        asks: list[Level] = []
        if sz > 0:
            for sign, levels in ((-1, bids), (1, asks)):
                cum = ZERO
                for i in range(cfg.levels):
                    offset = cfg.half_spread_bps + i * cfg.spacing_bps
                    raw = mid * (1 + (shift + sign * offset) / BPS)
                    if raw <= 0:
                        break
                    px = round_px(raw, info.sz_decimals, info.is_spot,
                                  ROUND_FLOOR if sign < 0 else ROUND_CEILING)
                    if levels and (px >= levels[-1].px if sign < 0 else px <= levels[-1].px):
                        continue  # rounded onto the previous level
                    if px * sz < cfg.min_notional:
                        continue
                    worst = position - sign * (cum + sz)  # every level so far filled
                    if (worst > max_position) if sign < 0 else (worst < -max_position):
                        break
                    cum += sz
                    levels.append(Level(px=px, sz=sz))
        return TargetLadder(coin=coin, bids=tuple(bids), asks=tuple(asks), tif="Alo")

    def level_size(self, coin: str, mid: Decimal) -> Decimal:
        """The size of each level of ``coin`` (coin) at ``mid``: the configured ``size``
        rounded down to ``szDecimals``, else the ``notional`` size (see :class:`LadderConfig`),
        fixed until it would fall below ``min_notional`` at the outermost bid."""
        cfg = self.config
        info = self._markets[coin]
        p = cfg.params(coin)
        if p.size is not None:
            return round_sz(p.size, info.sz_decimals, ROUND_DOWN)
        st = self._state[coin]
        outer = mid * (1 - (cfg.half_spread_bps + (cfg.levels - 1) * cfg.spacing_bps) / BPS)
        if outer <= 0:
            return ZERO
        if st.auto_size is None or st.auto_size * outer < cfg.min_notional:
            st.auto_size = round_sz(cfg.notional / outer, info.sz_decimals, ROUND_UP)
        return st.auto_size

    def _quote(self, coin: str, view: BookView, now_ms: int) -> list[Intent]:
        if not self._started or not view.ready:
            return []
        mid = self.mid(coin, now_ms)
        if mid is None:
            return []
        st = self._state[coin]
        position = view.position(coin)
        rebuild = (
            st.target is None or st.built_mid is None or position != st.built_position
            or abs(mid - st.built_mid) * BPS
            > self.config.requote_bps * self.requote_scale * st.built_mid
        )
        if rebuild:
            target = self.ladder(coin, mid, position)
            st.built_mid, st.built_position = mid, position
            if target != st.target:
                st.target, st.emitted_ms = target, now_ms
                return [target]
        assert st.target is not None
        if (st.emitted_ms is None or now_ms - st.emitted_ms >= self.config.refill_ms) and (
                _needs_refill(view, st.target)):
            st.emitted_ms = now_ms
            return [st.target]
        return []


def _needs_refill(view: BookView, target: TargetLadder) -> bool:
    """True when every order of the coin is settled (nothing in flight) and they differ from
    ``target`` (by side, price and remaining size)."""
    orders = view.orders_for(target.coin)
    if any(o.state not in _SETTLED for o in orders):
        return False
    have = sorted((o.side, o.px, o.remaining_sz) for o in orders)
    want = sorted([("B", lv.px, lv.sz) for lv in target.bids]
                  + [("A", lv.px, lv.sz) for lv in target.asks])
    return have != want
