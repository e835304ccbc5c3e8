"""Throughput of the simulator's pure matching engine.

Prints orders per second the engine accepts (resting limit orders), matches (IOC orders that
trade), cancels, and the synthetic market's speed-up over real time. Single thread, no I/O.

    .venv/bin/python benchmarks/sim_engine.py [--orders N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from hlmaker.sim.engine import Engine, EngineConfig, OrderEntry
from hlmaker.sim.market import MarketConfig, SyntheticMarket

T0 = 1_700_000_000_000
MAKERS = [f"0x{i:040x}" for i in range(1, 9)]
TAKER = "0x" + "f" * 40


def bench_place_and_match(n: int, rng: random.Random) -> dict[str, float]:
    eng = Engine(config=EngineConfig(max_open_orders=10**6))
    for user in [*MAKERS, TAKER]:
        eng.fund(user, Decimal(10) ** 12)
    # Resting orders on both sides of SOL (asset 2), 100 price levels each side.
    rest = []
    for i in range(n):
        is_buy = i % 2 == 0
        ticks = rng.randint(1, 100)
        px = Decimal(15000 - ticks if is_buy else 15000 + ticks) / 100
        rest.append(
            (
                MAKERS[i % len(MAKERS)],
                OrderEntry(2, is_buy, px, Decimal(rng.randint(1, 20)), tif="Gtc"),
            )
        )
    t = time.perf_counter()
    oids = []
    for k, (user, req) in enumerate(rest):
        st, _ = eng.place(user, [req], T0 + k)
        oids.append((user, st[0]["resting"]["oid"]))
    place_s = time.perf_counter() - t

    takers = []
    for _ in range(n // 4):
        is_buy = rng.random() < 0.5
        px = Decimal("152") if is_buy else Decimal("148")
        takers.append(OrderEntry(2, is_buy, px, Decimal(rng.randint(1, 30)), tif="Ioc"))
    trades_before = eng.trade_count
    t = time.perf_counter()
    for k, req in enumerate(takers):
        eng.place(TAKER, [req], T0 + n + k)
    match_s = time.perf_counter() - t
    trades = eng.trade_count - trades_before

    t = time.perf_counter()
    for k, (user, oid) in enumerate(oids):
        eng.cancel(user, [(2, oid)], T0 + 2 * n + k)
    cancel_s = time.perf_counter() - t
    return {
        "place_per_s": n / place_s,
        "ioc_per_s": len(takers) / match_s,
        "fills_per_s": trades / match_s,
        "cancel_per_s": n / cancel_s,
        "trades": trades,
    }


def bench_market(seconds: int, seed: int) -> dict[str, float]:
    eng = Engine()
    market = SyntheticMarket(eng, random.Random(seed), MarketConfig(taker_rate_per_s=5.0))
    t = time.perf_counter()
    for i in range(seconds * 10):
        market.step(T0 + i * 100)
    wall = time.perf_counter() - t
    return {"speedup": seconds / wall, "trades": eng.trade_count, "takers": market.taker_orders}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--market-seconds", type=int, default=300)
    args = parser.parse_args()
    r = bench_place_and_match(args.orders, random.Random(args.seed))
    print(
        f"engine: {args.orders} resting orders, {args.orders // 4} IOC takers "
        f"({r['trades']:.0f} trades)"
    )
    print(f"  accept (rest)   {r['place_per_s']:>10,.0f} orders/s")
    print(
        f"  match  (IOC)    {r['ioc_per_s']:>10,.0f} orders/s   {r['fills_per_s']:>10,.0f} trades/s"
    )
    print(f"  cancel          {r['cancel_per_s']:>10,.0f} cancels/s")
    m = bench_market(args.market_seconds, args.seed)
    print(
        f"market: {args.market_seconds} s simulated (3 coins, 5 takers/s/coin, 100 ms steps): "
        f"{m['speedup']:.0f}x real time, {m['trades']} trades"
    )


if __name__ == "__main__":
    main()
