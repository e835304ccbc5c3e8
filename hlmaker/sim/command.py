"""``hlmaker sim`` — serve the built-in exchange simulator until Ctrl-C.

This is the program's edge: the only place the simulator reads the system clock (the wall-clock
anchor handed to :class:`~hlmaker.clock.WallClock`).
"""

from __future__ import annotations

import signal
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
import trio

from hlmaker.sim.faults import PROFILES
from hlmaker.sim.limits import Limits
from hlmaker.sim.market import MarketConfig, TradeReplay
from hlmaker.sim.server import open_simulator
from hlmaker.sim.service import ServiceConfig


def _decimal(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    try:
        out = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number") from None
    if not out.is_finite() or out < 0:
        raise click.BadParameter("must be a non-negative number")
    return out


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0 = pick a free one).",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the market and fault decisions."
)
@click.option(
    "--faults",
    "faults",
    default="none",
    show_default=True,
    type=click.Choice(sorted(PROFILES)),
    help="Fault profile.",
)
@click.option(
    "--auto-fund/--no-auto-fund",
    default=True,
    show_default=True,
    help="Fund every new signer automatically (off behaves like the exchange).",
)
@click.option(
    "--balance",
    default="100000",
    show_default=True,
    callback=_decimal,
    help="USDC given to each auto-funded signer.",
)
@click.option(
    "--taker-rate",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Taker orders per second per coin (Poisson).",
)
@click.option(
    "--taker-notional",
    default=2000.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Mean taker order value in USDC.",
)
@click.option(
    "--volatility-bps",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Mid volatility in bps per square-root second.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of trades time,px,sz,side to replay.",
)
@click.option(
    "--replay-coin",
    default="BTC",
    show_default=True,
    help="Coin the replay CSV trades (unless it has a coin column).",
)
@click.option(
    "--step-ms",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Market step period in ms.",
)
@click.option(
    "--address-budget",
    default=10_000,
    show_default=True,
    type=click.IntRange(0),
    help="Initial per-address request budget (+1 per USDC traded; the exchange's 10,000).",
)
@click.option(
    "--ip-weight-per-min",
    default=1200,
    show_default=True,
    type=click.IntRange(1),
    help="REST weight per IP per minute before HTTP 429.",
)
@click.option(
    "--ws-max-subscriptions",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="WebSocket subscriptions per IP.",
)
@click.option(
    "--ws-max-users",
    default=10,
    show_default=True,
    type=click.IntRange(0),
    help="Distinct users across user-specific WebSocket feeds per IP.",
)
@click.option(
    "--ws-messages-per-min",
    default=2000,
    show_default=True,
    type=click.IntRange(1),
    help="WebSocket messages per IP per minute.",
)
@click.option(
    "--ws-max-inflight-posts",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="WebSocket post requests in flight per connection; past it a post is answered with "
    "an error.",
)
@click.option(
    "--ws-new-connections-per-min",
    default=30,
    show_default=True,
    type=click.IntRange(1),
    help="New WebSocket connections per IP per minute; past it the socket gets an error "
    "frame and is closed.",
)
@click.option(
    "--ws-max-connections",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Concurrent WebSocket connections per IP.",
)
@click.option(
    "--no-limits",
    is_flag=True,
    help="Enforce none of the limits above.",
)
def sim_command(
    host: str,
    port: int,
    seed: int,
    faults: str,
    auto_fund: bool,
    balance: Decimal,
    taker_rate: float,
    taker_notional: float,
    volatility_bps: float,
    replay: Path | None,
    replay_coin: str,
    step_ms: int,
    address_budget: int,
    ip_weight_per_min: int,
    ws_max_subscriptions: int,
    ws_max_users: int,
    ws_messages_per_min: int,
    ws_max_connections: int,
    ws_max_inflight_posts: int,
    ws_new_connections_per_min: int,
    no_limits: bool,
) -> None:
    """Serve the built-in Hyperliquid exchange simulator (REST and WebSocket on one port)."""
    try:
        trade_replay = TradeReplay.from_csv(replay, replay_coin) if replay else None
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    market = MarketConfig(
        taker_rate_per_s=taker_rate,
        taker_notional_usd=taker_notional,
        volatility_bps=volatility_bps,
    )
    limits = Limits.off() if no_limits else Limits(
        address_budget=address_budget,
        ip_weight_per_min=ip_weight_per_min,
        ws_max_subscriptions=ws_max_subscriptions,
        ws_max_users=ws_max_users,
        ws_messages_per_min=ws_messages_per_min,
        ws_max_connections=ws_max_connections,
        ws_max_inflight_posts=ws_max_inflight_posts,
        ws_new_connections_per_min=ws_new_connections_per_min,
    )
    service = ServiceConfig(auto_fund=auto_fund, auto_fund_usdc=balance, limits=limits)
    epoch_ms = int(time.time() * 1000)  # the wall-clock anchor, read at the edge

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def on_signal() -> None:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(on_signal)
                async with open_simulator(
                    host=host,
                    port=port,
                    seed=seed,
                    faults=faults,
                    epoch_ms=epoch_ms,
                    market=market,
                    service_config=service,
                    replay=trade_replay,
                    step_ms=step_ms,
                ) as sim:
                    click.echo(sim.base_url, nl=True)
                    click.echo(
                        f"hlmaker sim: seed={seed} faults={faults} auto_fund={auto_fund} "
                        f"(Ctrl-C to stop)",
                        err=True,
                    )
                    await trio.sleep_forever()

    try:
        trio.run(main)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None
