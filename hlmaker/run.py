"""``hlmaker run``: the bot, against the built-in simulator (default) or a real network.

This module is the program's edge: it reads the system clock once (the wall-clock anchor),
seeds the randomness, turns SIGINT/SIGTERM into a cancel of the root scope, and writes the
summary. With no arguments it starts the simulator on a free loopback port, in the same trio
run, and trades against it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
import click
import trio

from hlmaker.clock import WallClock
from hlmaker.config import MakerConfig, config_from_mapping, load_config
from hlmaker.errors import ConfigError, EndpointUnreachable, HlmakerError
from hlmaker.hyperliquid.errors import KeyLoadError
from hlmaker.hyperliquid.keys import PrivateKey, Wallet
from hlmaker.journal import Journal, JournalError
from hlmaker.journal.paths import default_journal_path
from hlmaker.maker import Maker, open_maker
from hlmaker.observer import NO_OBSERVER, Observer
from hlmaker.strategy.factory import ladder_config
from hlmaker.summary import decimal_str

if TYPE_CHECKING:
    from hlmaker.metrics import Metrics

log = logging.getLogger("hlmaker.run")

EXIT_CONFIG = 2
"""Exit code: a bad configuration or key (one line names the field)."""
EXIT_UNREACHABLE = 3
"""Exit code: the exchange could not be reached at start-up (one line names the URL)."""

DEFAULT_STRATEGY: dict[str, Any] = {
    "coins": ["BTC", "ETH"],
    "levels": 3,
    "size": "0.002",
    "max_position": "0.02",
    "half_spread_bps": 1,
    "spacing_bps": 2,
    "skew_bps_per_unit": 100,
    "requote_bps": 2,
    "by_coin": {"ETH": {"size": "0.04", "max_position": "0.4", "skew_bps_per_unit": 5}},
}
"""The reference ladder used when the configuration has no ``[strategy]`` table."""


def sim_key(seed: int) -> PrivateKey:
    """A deterministic throw-away key for the simulator (never used on a real network)."""
    digest = hashlib.sha256(f"hlmaker-sim-key-{seed}".encode()).hexdigest()
    return PrivateKey.from_hex("0x" + digest, source="simulator seed")


def load_wallet(config: MakerConfig) -> Wallet:
    """The wallet for ``config``: a simulator key on ``sim``, else ``key_file`` or
    ``HLMAKER_PRIVATE_KEY``.

    Raises:
        ConfigError: no key configured for a real network, or it cannot be loaded.
    """
    ep = config.endpoint
    if ep.network == "sim":
        key = sim_key(config.sim.seed)
    else:
        try:
            if ep.key_file:
                key = PrivateKey.from_file(ep.key_file)
            elif os.environ.get("HLMAKER_PRIVATE_KEY"):
                key = PrivateKey.from_env("HLMAKER_PRIVATE_KEY")
            else:
                raise ConfigError("endpoint.key_file",
                                  "set it, or export HLMAKER_PRIVATE_KEY, to trade on "
                                  f"{ep.network}")
        except KeyLoadError as exc:
            field = "endpoint.key_file" if ep.key_file else "HLMAKER_PRIVATE_KEY"
            raise ConfigError(field, str(exc)) from None
    return Wallet(key, ep.account_address or None, ep.vault_address or None)


def build_config(config_path: str | None, network: str | None) -> MakerConfig:
    """Read the TOML (if any), apply ``--network`` and the default strategy.

    Raises:
        ConfigError: see :func:`hlmaker.config.load_config`.
    """
    cfg = load_config(config_path) if config_path else config_from_mapping({})
    if network:
        cfg = attrs.evolve(cfg, endpoint=attrs.evolve(cfg.endpoint, network=network))
    if not cfg.strategy:
        cfg = attrs.evolve(cfg, strategy=dict(DEFAULT_STRATEGY))
    ladder_config(cfg.strategy)  # validate now: a bad strategy is a config error, exit 2
    return cfg


async def run_bot(cfg: MakerConfig, *, duration_s: float | None, summary_path: str | None,
                  tty: bool, journal: Journal | None = None) -> dict[str, Any]:
    """Run until ``duration_s`` passes or SIGINT/SIGTERM arrives, shut down in order, write the
    summary to ``summary_path`` (when given) and return it. A second signal stops at once:
    then there is no summary (``{}``) and no file is written. ``journal``: the open flight
    recorder (the maker records this run in it and closes it)."""
    epoch_ms = int(time.time() * 1000)
    clock = WallClock(epoch_ms)
    rng = random.Random(cfg.sim.seed if cfg.endpoint.network == "sim" else None)
    wallet = load_wallet(cfg)
    if cfg.metrics.port:
        _check_port_free(cfg.metrics.port)
    summary: dict[str, Any] = {}
    # SIGINT/SIGTERM end the trading wait only: the maker then shuts down in order (cancel
    # every order, confirm) and the summary is still computed and written.
    stop = trio.CancelScope()
    aborts: list[Callable[[], None]] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_signals, stop, nursery.cancel_scope, aborts)
        if cfg.endpoint.network == "sim" and not cfg.endpoint.base_url:
            from hlmaker.sim.server import open_simulator
            from hlmaker.sim.service import ServiceConfig

            funding = ServiceConfig(auto_fund_usdc=Decimal(cfg.sim.balance))
            async with open_simulator(port=0, seed=cfg.sim.seed, faults=cfg.sim.faults,
                                      clock=clock, service_config=funding) as sim:
                log.info("simulator at %s faults=%s seed=%d", sim.base_url, cfg.sim.faults,
                         cfg.sim.seed)
                summary = await _trade(cfg, wallet, clock, rng, sim.base_url, duration_s, tty,
                                       stop, aborts, sim=sim, journal=journal)
        else:
            summary = await _trade(cfg, wallet, clock, rng, cfg.endpoint.url, duration_s, tty,
                                   stop, aborts, journal=journal)
        nursery.cancel_scope.cancel()
    if summary_path and summary:
        await trio.Path(summary_path).write_text(
            json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def _check_port_free(port: int) -> None:
    """Fail before trading when the metrics port cannot be bound.

    Raises:
        ConfigError: ``metrics.port`` is in use (or not ours to bind).
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ConfigError("metrics.port", f"cannot listen on 127.0.0.1:{port} "
                              f"({exc.strerror}); choose a free port, or 0 for no metrics"
                              ) from None


async def _trade(cfg: MakerConfig, wallet: Wallet, clock: WallClock, rng: random.Random,
                 base_url: str, duration_s: float | None, tty: bool, stop: trio.CancelScope,
                 aborts: list[Callable[[], None]], sim: Any = None,
                 journal: Journal | None = None) -> dict[str, Any]:
    """Trade until ``duration_s`` passes or ``stop`` is cancelled (a signal), then shut the
    maker down in order and return its summary. The maker's :meth:`Maker.abort_shutdown` is
    added to ``aborts`` (a second signal calls it)."""
    metrics: Metrics | None = None
    observer: Observer = NO_OBSERVER
    if cfg.metrics.port:
        from hlmaker.metrics import Metrics, MetricsObserver

        metrics = Metrics()
        observer = MetricsObserver(metrics)
    async with open_maker(cfg, wallet=wallet, clock=clock, rng=rng, base_url=base_url,
                          observer=observer, journal=journal) as maker, \
            trio.open_nursery() as ui:
        aborts.append(maker.abort_shutdown)
        ui.start_soon(_display, maker, base_url, tty)
        if metrics is not None:
            ui.start_soon(_metrics, maker, metrics, cfg.metrics.port)
        with stop:
            if duration_s is not None:
                await trio.sleep(duration_s)
            else:
                await trio.sleep_forever()
        ui.cancel_scope.cancel()
    summary = maker.summary()
    summary["network"] = cfg.endpoint.network
    if sim is not None:
        user = wallet.query_address
        summary["sim_fills_for_user"] = len(sim.engine.fills_for(user))
        summary["sim_open_orders_for_user"] = len(sim.engine.open_orders_for(user))
        # refused for the per-IP weight itself (F8's injected 429s are not counted here)
        summary["sim_ip_weight_refusals"] = sim.service.ip_refusals
        summary["sim_ip_weight_peak"] = sim.service.ip_weight_peak
        summary["sim_position"] = {
            c: decimal_str(sim.engine.position(user, c)) for c in sorted(maker.markets)
            if sim.engine.position(user, c) != 0}
    return summary


async def _display(maker: Maker, base_url: str, tty: bool) -> None:
    try:
        from hlmaker.ui.bridge import status_of
    except ImportError:
        while True:
            await trio.sleep(5)
            log.info("status %s", maker.summary())
    if tty:
        from rich.console import Console

        from hlmaker.ui.dashboard import run_dashboard

        await run_dashboard(lambda: status_of(maker, base_url), console=Console())
    else:
        from hlmaker.ui.dashboard import run_status_log

        await run_status_log(lambda: status_of(maker, base_url), interval_s=5.0)


async def _metrics(maker: Maker, metrics: Metrics, port: int) -> None:
    """Serve ``metrics`` on ``port`` and feed it what is polled: the book's views and the
    inbox backlog (the rest comes through the maker's :class:`MetricsObserver`)."""
    from hlmaker.metrics import serve_metrics

    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: serve_metrics(
            metrics, port=port, task_status=task_status))
        log.info("metrics on http://127.0.0.1:%d/metrics", port)
        async for view in maker.view_updates():
            metrics.observe_view(view)
            metrics.observe_backlog(maker.inbox_backlog)
            metrics.observe_budget(maker.budget)
            metrics.observe_ip_weight(maker.ip_weight)
            await trio.sleep(0.5)


async def _signals(stop: trio.CancelScope, hard: trio.CancelScope,
                   aborts: list[Callable[[], None]]) -> None:
    """The first SIGINT/SIGTERM cancels ``stop`` (an orderly shutdown: every order cancelled,
    the summary written); a second one calls ``aborts`` (the maker's shielded shutdown gives
    up) and cancels ``hard`` (everything, at once — also a start-up that hangs)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not stop.cancel_called:
                log.warning("received %s: shutting down (cancelling every order; send it "
                            "again to stop at once)", name)
                stop.cancel()
            else:
                log.warning("received %s again: stopping now, without waiting for the "
                            "orderly shutdown", name)
                for abort in aborts:
                    abort()
                hard.cancel()
                return


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="TOML file with strategy, risk and endpoint settings.")
@click.option("--network", type=click.Choice(["sim", "testnet", "mainnet"]), default=None,
              help="Where to trade (default: the config's, else the built-in simulator).")
@click.option("--duration", "duration_s", type=click.FloatRange(min=0), default=None,
              help="Stop (and cancel every order) after this many seconds.")
@click.option("--summary-json", "summary_path", type=click.Path(dir_okay=False), default=None,
              help="Write the final figures to this file.")
@click.option("--faults", default=None, help="Simulator fault profile (none, default, harsh).")
@click.option("--seed", type=int, default=None, help="Simulator seed.")
@click.option("--plain", is_flag=True, help="Log lines instead of the live view.")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False), default=None,
              help="The flight-recorder file (default: one per network and account in the "
                   "user data directory).")
@click.option("--no-journal", is_flag=True, help="Trade without a journal.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def run_command(config_path: str | None, network: str | None, duration_s: float | None,
                summary_path: str | None, faults: str | None, seed: int | None, plain: bool,
                journal_path: str | None, no_journal: bool, verbose: bool) -> None:
    """Run the market maker (default: against the built-in simulator)."""
    try:
        cfg = build_config(config_path, network)
        if faults is not None or seed is not None:
            cfg = attrs.evolve(cfg, sim=attrs.evolve(
                cfg.sim, faults=faults if faults is not None else cfg.sim.faults,
                seed=seed if seed is not None else cfg.sim.seed))
        wallet = load_wallet(cfg)
    except ConfigError as exc:
        click.echo(f"hlmaker: config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    if journal_path and no_journal:
        click.echo("hlmaker: --journal and --no-journal exclude each other", err=True)
        sys.exit(EXIT_CONFIG)
    journal: Journal | None = None
    if not no_journal:
        path = journal_path or default_journal_path(cfg.endpoint.network, wallet.query_address)
        try:
            journal = Journal.open(path)
        except JournalError as exc:
            click.echo(f"hlmaker: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        click.echo(f"journal: {journal.path}")
    tty = sys.stdout.isatty() and not plain
    _setup_logging(verbose)
    if tty:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        summary = trio.run(lambda: run_bot(cfg, duration_s=duration_s,
                                           summary_path=summary_path, tty=tty,
                                           journal=journal))
    except BaseException as exc:
        error = own_error(exc)
        if isinstance(error, ConfigError):
            click.echo(f"hlmaker: config error: {error}", err=True)
            sys.exit(EXIT_CONFIG)
        if isinstance(error, EndpointUnreachable):
            click.echo(f"hlmaker: {error}", err=True)
            sys.exit(EXIT_UNREACHABLE)
        if isinstance(error, HlmakerError):
            click.echo(f"hlmaker: {type(error).__name__}: {error}", err=True)
            sys.exit(1)
        raise
    finally:
        if journal is not None and not journal.closed:
            journal.close_unstarted()
    if not summary:  # a second signal: stopped at once
        click.echo("hlmaker: stopped at once on a second signal; no summary, and orders may "
                   "still rest on the exchange (the dead-man lease cancels them if armed)",
                   err=True)
        sys.exit(1)
    click.echo(_summary_line(summary))


def own_error(exc: BaseException) -> BaseException | None:
    """The one :class:`HlmakerError` that ``exc`` is, or that an exception group holds
    beside cancellations only; ``None`` otherwise."""
    if isinstance(exc, HlmakerError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        leaves = [own_error(e) for e in exc.exceptions if not isinstance(e, trio.Cancelled)]
        if len(leaves) == 1:
            return leaves[0]
    return None


def _summary_line(summary: Mapping[str, Any]) -> str:
    keys = ("fills", "volume", "realized_pnl", "realized_pnl_to_date", "position_local",
            "position_exchange", "open_orders_exchange", "is_synced", "restarts")
    return "summary " + " ".join(f"{k}={json.dumps(summary.get(k))}" for k in keys)
