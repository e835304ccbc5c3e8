"""A seeded synthetic market around the engine, so a bot has something to trade against.

Pure: no clock and no I/O. :meth:`SyntheticMarket.step` is driven with ``now_ms`` (ms since the
epoch) and draws every random number from the injected :class:`random.Random`, so a seed replays
exactly. Two synthetic engine users take part (exempt from margin, see
:mod:`hlmaker.sim.accounts`), which keeps every trade between engine users — positions summed over
all users stay 0:

* the **background maker** rests a ladder of ``levels`` orders per side around the mid (first
  level ``half_spread_bps`` away, then every ``level_spacing_bps``, each worth about
  ``level_notional_usd``) and re-quotes when the mid moves or a level is eaten. Its orders are
  ``Gtc``, so a bot quote left behind by a move is picked off, as on a real venue;
* the **taker flow** sends IOC orders with Poisson arrivals (``taker_rate_per_s`` per coin),
  exponentially distributed notional (mean ``taker_notional_usd``), buy or sell with equal
  probability, priced ``taker_slippage_bps`` through the mid. It trades against the best resting
  orders, the bot's included, in price-time priority.

The mid follows a driftless geometric random walk with ``volatility_bps`` per √second. A replay
of ``time,px,sz,side`` trades (:class:`TradeReplay`) can drive the mid instead: each row moves the
mid to ``px`` and sends an IOC of ``sz`` limited at ``px`` on the aggressor ``side``, which fills
resting orders priced at least as well as the trade.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from hlmaker.sim import rules
from hlmaker.sim.engine import Effects, Engine, OrderEntry
from hlmaker.sim.matching import Side

MAKER_ADDRESS = "0x000000000000000000000000000000000000a11c"
TAKER_ADDRESS = "0x000000000000000000000000000000000000b0b0"
REPLAY_ADDRESS = "0x000000000000000000000000000000000000c0de"
SYNTHETIC_BALANCE = Decimal(10) ** 12


@dataclass(frozen=True)
class MarketConfig:
    """Knobs of the synthetic market (all per coin). Set ``taker_rate_per_s=0`` for a still
    market, ``levels=0`` for no background book."""

    coins: tuple[str, ...] | None = None
    """Coins to animate; ``None`` = every coin of the universe."""
    volatility_bps: float = 1.0
    levels: int = 10
    half_spread_bps: float = 2.0
    level_spacing_bps: float = 1.0
    level_notional_usd: float = 20_000.0
    requote_bps: float = 0.5
    """Re-quote the ladder when the mid moved by more than this since the last quote."""
    taker_rate_per_s: float = 1.0
    taker_notional_usd: float = 2_000.0
    taker_slippage_bps: float = 10.0


@dataclass(frozen=True)
class ReplayTrade:
    """One trade of a replay: ``time`` ms, ``px`` quote currency, ``sz`` coin, aggressor side."""

    time: int
    px: Decimal
    sz: Decimal
    side: Side
    coin: str | None = None


class TradeReplay:
    """Trades to replay, in time order; times are re-based so the first row plays at the first
    :meth:`SyntheticMarket.step` call."""

    def __init__(self, trades: Iterable[ReplayTrade], coin: str) -> None:
        self.trades = sorted(trades, key=lambda t: t.time)
        self.coin = coin
        self.pos = 0

    @classmethod
    def from_csv(cls, source: str | Path, coin: str) -> TradeReplay:
        """Parse CSV text or a file with a header ``time,px,sz,side`` (optional ``coin``).

        ``side`` is ``B``/``buy`` (buyer aggressed) or ``A``/``S``/``sell``.

        Raises:
            ValueError: on a malformed row (the message names the line).
        """
        text = Path(source).read_text() if isinstance(source, Path) else source
        rows: list[ReplayTrade] = []
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            try:
                side_raw = row["side"].strip().lower()
                side: Side = "B" if side_raw in ("b", "buy", "bid") else "A"
                if side_raw not in ("b", "buy", "bid", "a", "s", "sell", "ask"):
                    raise ValueError(f"unknown side {row['side']!r}")
                rows.append(
                    ReplayTrade(
                        int(row["time"]),
                        Decimal(row["px"]),
                        Decimal(row["sz"]),
                        side,
                        row.get("coin") or None,
                    )
                )
            except (KeyError, ValueError, ArithmeticError) as exc:
                raise ValueError(f"replay CSV line {n}: {exc}") from None
        return cls(rows, coin)


@dataclass
class _CoinState:
    coin: str
    asset: int
    sz_decimals: int
    mid: float
    quoted_mid: float = 0.0
    next_arrival_ms: float = 0.0
    ladder: dict[tuple[Side, Decimal], int] = field(default_factory=dict)  # -> oid


class SyntheticMarket:
    """Drives background liquidity and taker flow into an :class:`Engine`."""

    def __init__(
        self,
        engine: Engine,
        rng: random.Random,
        config: MarketConfig | None = None,
        replay: TradeReplay | None = None,
    ) -> None:
        self.engine = engine
        self.rng = rng
        self.config = config or MarketConfig()
        self.replay = replay
        coins = self.config.coins or tuple(s.name for s in engine.universe)
        self.coins: dict[str, _CoinState] = {}
        for coin in coins:
            asset = engine.coin_to_asset[coin]
            spec = engine.universe[asset]
            self.coins[coin] = _CoinState(coin, asset, spec.sz_decimals, float(spec.initial_px))
        for addr in (MAKER_ADDRESS, TAKER_ADDRESS, REPLAY_ADDRESS):
            if engine.account(addr) is None:
                engine.fund(addr, SYNTHETIC_BALANCE, synthetic=True)
        self._last_ms: int | None = None
        self._replay_t0: tuple[int, int] | None = None
        self.taker_orders = 0

    def mid(self, coin: str) -> Decimal:
        """The process mid of ``coin``, rounded to a valid price."""
        st = self.coins[coin]
        return rules.round_price(_dec(st.mid), st.sz_decimals)

    def step(self, now_ms: int) -> Effects:
        """Advance the market to ``now_ms``: move mids, play replay rows and taker arrivals due,
        re-quote the background ladder. Returns the engine effects of everything done."""
        fx = Effects()
        if self._last_ms is None:
            self._last_ms = now_ms
            for st in self.coins.values():
                st.next_arrival_ms = now_ms + self._interarrival_ms()
        dt_ms = max(0, now_ms - self._last_ms)
        self._last_ms = now_ms
        sigma = self.config.volatility_bps / 1e4
        replay_coin = self.replay.coin if self.replay is not None else None
        for st in self.coins.values():
            if dt_ms and sigma and st.coin != replay_coin:
                st.mid *= math.exp(sigma * math.sqrt(dt_ms / 1000.0) * self.rng.gauss(0.0, 1.0))
        if self.replay is not None:
            self._play_replay(now_ms, fx)
        for st in self.coins.values():
            self._requote(st, now_ms, fx)
            if self.config.taker_rate_per_s > 0:
                while st.next_arrival_ms <= now_ms:
                    st.next_arrival_ms += self._interarrival_ms()
                    self._taker(st, now_ms, fx)
        return fx

    # ---- internals ------------------------------------------------------------------------

    def _interarrival_ms(self) -> float:
        rate = self.config.taker_rate_per_s
        if rate <= 0:
            return math.inf
        return self.rng.expovariate(rate) * 1000.0

    def _taker(self, st: _CoinState, now_ms: int, fx: Effects) -> None:
        cfg = self.config
        is_buy = self.rng.random() < 0.5
        notional = max(self.rng.expovariate(1.0 / cfg.taker_notional_usd), 11.0)
        mid = self.mid(st.coin)
        sz = rules.round_size(_dec(notional) / mid, st.sz_decimals)
        if sz * mid < rules.MIN_NOTIONAL:
            sz += Decimal(1).scaleb(-st.sz_decimals)
        slip = 1 + (cfg.taker_slippage_bps / 1e4) * (1 if is_buy else -1)
        px = rules.round_price(_dec(st.mid * slip), st.sz_decimals)
        req = OrderEntry(st.asset, is_buy, px, sz, tif="Ioc")
        _, sub = self.engine.place(TAKER_ADDRESS, [req], now_ms)
        self.taker_orders += 1
        fx.extend(sub)

    def _play_replay(self, now_ms: int, fx: Effects) -> None:
        assert self.replay is not None
        rp = self.replay
        if not rp.trades:
            return
        if self._replay_t0 is None:
            self._replay_t0 = (rp.trades[0].time, now_ms)
        csv_t0, sim_t0 = self._replay_t0
        while rp.pos < len(rp.trades) and rp.trades[rp.pos].time - csv_t0 <= now_ms - sim_t0:
            tr = rp.trades[rp.pos]
            rp.pos += 1
            st = self.coins.get(tr.coin or rp.coin)
            if st is None:
                continue
            st.mid = float(tr.px)
            px = rules.round_price(tr.px, st.sz_decimals)
            sz = rules.round_size(tr.sz, st.sz_decimals)
            if sz <= 0:
                continue
            req = OrderEntry(st.asset, tr.side == "B", px, sz, tif="Ioc")
            _, sub = self.engine.place(REPLAY_ADDRESS, [req], now_ms)
            fx.extend(sub)

    def _requote(self, st: _CoinState, now_ms: int, fx: Effects) -> None:
        cfg = self.config
        if cfg.levels <= 0:
            return
        acct = self.engine.account(MAKER_ADDRESS)
        assert acct is not None
        moved = abs(st.mid - st.quoted_mid) / st.mid * 1e4 if st.quoted_mid else math.inf
        live = {key: oid for key, oid in st.ladder.items() if oid in acct.open_orders}
        if moved <= cfg.requote_bps and len(live) == len(st.ladder):
            return
        target: dict[tuple[Side, Decimal], Decimal] = {}
        lot = Decimal(1).scaleb(-st.sz_decimals)
        for i in range(cfg.levels):
            off = (cfg.half_spread_bps + i * cfg.level_spacing_bps) / 1e4
            for side, factor in (("B", 1 - off), ("A", 1 + off)):
                px = rules.round_price(_dec(st.mid * factor), st.sz_decimals)
                sz = max(rules.round_size(_dec(cfg.level_notional_usd) / px, st.sz_decimals), lot)
                while px * sz < rules.MIN_NOTIONAL:
                    sz += lot
                target.setdefault((side, px), sz)  # type: ignore[arg-type]
        stale = [
            (st.asset, oid)
            for key, oid in live.items()
            if key not in target or acct.open_orders[oid].sz < target[key] / 2
        ]
        if stale:
            _, sub = self.engine.cancel(MAKER_ADDRESS, stale, now_ms)
            fx.extend(sub)
        keep = {key: oid for key, oid in live.items() if oid in acct.open_orders}
        new_keys = [key for key in target if key not in keep]
        if new_keys:
            reqs = [OrderEntry(st.asset, k[0] == "B", k[1], target[k]) for k in new_keys]
            statuses, sub = self.engine.place(MAKER_ADDRESS, reqs, now_ms)
            fx.extend(sub)
            for key, status in zip(new_keys, statuses):
                resting = status.get("resting") if isinstance(status, dict) else None
                if resting is not None:
                    keep[key] = resting["oid"]
        st.ladder = keep
        st.quoted_mid = st.mid


def _dec(x: float) -> Decimal:
    """Float → Decimal via its shortest repr (deterministic, exact enough for prices)."""
    return Decimal(repr(x))
