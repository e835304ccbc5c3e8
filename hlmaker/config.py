"""Configuration of a maker: endpoint, strategy, risk, book, executor, reconcile, supervision.

Read from TOML with :func:`load_config`; every section and key is optional. A bad value raises
:class:`~hlmaker.errors.ConfigError` naming the field (``section.key``) and the fix, which the CLI
prints as one line with exit code 2.

Example::

    [maker]
    name = "hlmaker"             # names this maker; its cloid prefix is derived from it
    foreign_orders = "ignore"    # ignore | cancel: orders without our prefix
    on_start = "cancel"          # cancel | adopt: our orders found at start-up

    [endpoint]
    network = "sim"              # sim (built-in simulator) | testnet | mainnet
    base_url = ""                # default: the network's URL, or the built-in simulator
    key_file = ""                # else the HLMAKER_PRIVATE_KEY environment variable
    account_address = ""         # when the key is an agent (API wallet) of this account
    vault_address = ""

    [strategy]                   # hlmaker.strategy.ladder.LadderConfig
    coins = ["BTC", "ETH"]
    levels = 3

    [book]                       # hlmaker.orders.BookConfig (times in ms)
    orphan_grace_ms = 5000

    [executor]
    request_timeout_s = 5.0
    use_ws_post = true
    ip_weight_per_minute = 1200
    reserve_request_weight = 0
    reserve_below_headroom = 1000

    [reconcile]
    interval_s = 5.0

    [supervisor]
    max_restarts = 5
    window_s = 60.0
    shutdown_timeout_s = 15.0

    [dead_man]
    enabled = true
    lease_s = 30.0

    [sim]
    seed = 1
    faults = "default"

    [metrics]
    port = 0                     # 0: off; else Prometheus on 127.0.0.1:port
"""

from __future__ import annotations

import math
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs

from hlmaker.errors import ConfigError
from hlmaker.orders.book_config import BookConfig
from hlmaker.orders.ownership import DEFAULT_NAME, Ownership, check_prefix, prefix_for

Network = Literal["sim", "testnet", "mainnet"]
NETWORK_URLS = {
    "mainnet": "https://api.hyperliquid.xyz",
    "testnet": "https://api.hyperliquid-testnet.xyz",
}


@attrs.frozen(kw_only=True)
class EndpointConfig:
    """``[endpoint]``: where to trade and as whom. ``network`` is ``sim`` (the built-in
    simulator when ``base_url`` is empty), ``testnet`` or ``mainnet``; ``key_file`` holds the
    private key (else ``HLMAKER_PRIVATE_KEY``); ``account_address`` when the key is an agent
    (API wallet); ``vault_address`` to trade a vault or sub-account. Addresses are 0x + 40 hex."""

    network: Network = "sim"
    base_url: str = ""
    key_file: str = ""
    account_address: str = ""
    vault_address: str = ""

    @property
    def is_mainnet(self) -> bool:
        """Signing flavour: mainnet only for the mainnet URL, as the SDK decides (§3.1)."""
        return self.url == NETWORK_URLS["mainnet"]

    @property
    def url(self) -> str:
        """The base URL to use ("" = start the built-in simulator)."""
        return self.base_url or NETWORK_URLS.get(self.network, "")


@attrs.frozen(kw_only=True)
class MakerSection:
    """``[maker]``: who this maker is on the account (:mod:`hlmaker.orders.ownership`).

    ``name`` derives the cloid prefix (the first 8 hex digits of its SHA-256) unless
    ``cloid_prefix`` sets it (1–8 hex digits); give each maker sharing an account its own name.
    ``foreign_orders``: ``ignore`` (default) or ``cancel`` orders without our prefix;
    ``on_start``: ``cancel`` (default) or ``adopt`` the orders of ours a new process finds;
    ``startup_timeout_s``: how long start-up retries an unreachable endpoint (backoff) before
    giving up with one line naming the URL (exit code 3).
    ``gc_freeze``: once started, move every object alive then out of the cyclic garbage
    collector's reach (:func:`gc.freeze`, undone on exit), so a full collection walks only
    what was made since: in ``benchmarks/ingest.py``'s tick-to-trade it took the p99 under
    background traffic from 3.2–4.8 ms to 2.5–2.6 ms and the worst tick from 6–12 ms to 3.5
    ms. Process-wide: an app embedding hlmaker that manages its own GC sets it false.
    """

    name: str = DEFAULT_NAME
    cloid_prefix: str = ""
    foreign_orders: str = "ignore"
    on_start: str = "cancel"
    startup_timeout_s: float = 30.0
    gc_freeze: bool = True

    @property
    def prefix(self) -> str:
        """The hex prefix of our cloids (no ``0x``)."""
        return check_prefix(self.cloid_prefix) if self.cloid_prefix else prefix_for(self.name)

    def ownership(self) -> Ownership:
        """The :class:`~hlmaker.orders.ownership.Ownership` this section describes."""
        return Ownership(prefix=self.prefix, foreign_orders=self.foreign_orders,  # type: ignore
                         on_start=self.on_start)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class ExecutorConfig:
    """``[executor]``: how actions are sent (seconds; weights as the exchange counts them)."""

    request_timeout_s: float = 5.0
    """Per-request timeout; must be shorter than the book's action TTL so answers can come."""
    use_ws_post: bool = True
    """Send actions as WebSocket ``post`` requests (REST stays the fallback)."""
    ip_weight_per_minute: int = 1200
    """The exchange's per-IP REST weight per minute (§8): every REST request of hlmaker draws
    from one ledger of it (:mod:`hlmaker.actors.ratelimit`)."""
    max_in_flight: int = 16
    """Commands in flight at once (1–100)."""
    reserve_request_weight: int = 0
    """Requests to buy with ``reserveRequestWeight`` (0.0005 USDC each, §8) whenever the address
    budget's headroom is below ``reserve_below_headroom`` after a sweep; 0 (the default): never
    buy."""
    reserve_below_headroom: int = 1000
    """The address-budget headroom (requests) under which ``reserve_request_weight`` buys."""


@attrs.frozen(kw_only=True)
class ReconcileConfig:
    """``[reconcile]``: sweep cadence, seconds."""

    interval_s: float = 5.0
    """A timer sweep at least this often (events trigger earlier ones)."""
    min_gap_s: float = 0.5
    """Never two sweeps closer than this (requests arriving meanwhile are merged)."""


@attrs.frozen(kw_only=True)
class SupervisorConfig:
    """``[supervisor]``: an actor may restart ``max_restarts`` times within ``window_s``
    seconds, then the supervisor gives up (after cancelling every order); the orderly shutdown
    waits at most ``shutdown_timeout_s`` seconds for the exchange to confirm no order rests."""

    max_restarts: int = 5
    window_s: float = 60.0
    shutdown_timeout_s: float = 15.0


@attrs.frozen(kw_only=True)
class DeadManConfig:
    """``[dead_man]``: the exchange-side ``scheduleCancel`` lease (seconds)."""

    enabled: bool = True
    lease_s: float = 30.0
    """``scheduleCancel`` is armed at now + lease and renewed every lease / 3 (≥ 5 s, §4.2)."""


@attrs.frozen(kw_only=True)
class SimConfig:
    """``[sim]``: the built-in simulator. ``seed`` fixes its market and fault decisions;
    ``faults`` is a profile (``none``, ``default``, ``harsh``); ``balance`` the USDC a new
    account is funded with (a decimal string)."""

    seed: int = 1
    faults: str = "default"
    balance: str = "1000000"


@attrs.frozen(kw_only=True)
class MetricsConfig:
    """``[metrics]``: Prometheus ``/metrics`` on 127.0.0.1:``port`` (0: off)."""

    port: int = 0


@attrs.frozen(kw_only=True)
class MakerConfig:
    """Everything a maker needs. ``strategy`` is the raw ``[strategy]`` table; the strategy's
    own config class validates it (see :func:`hlmaker.strategy.factory.ladder_config`)."""

    maker: MakerSection = attrs.field(factory=MakerSection)
    endpoint: EndpointConfig = attrs.field(factory=EndpointConfig)
    strategy: dict[str, Any] = attrs.field(factory=dict, hash=False)
    book: BookConfig = attrs.field(factory=BookConfig)
    executor: ExecutorConfig = attrs.field(factory=ExecutorConfig)
    reconcile: ReconcileConfig = attrs.field(factory=ReconcileConfig)
    supervisor: SupervisorConfig = attrs.field(factory=SupervisorConfig)
    dead_man: DeadManConfig = attrs.field(factory=DeadManConfig)
    sim: SimConfig = attrs.field(factory=SimConfig)
    metrics: MetricsConfig = attrs.field(factory=MetricsConfig)

    def __attrs_post_init__(self) -> None:
        _validate(self)


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

_SECTIONS: dict[str, type] = {
    "maker": MakerSection,
    "endpoint": EndpointConfig,
    "book": BookConfig,
    "executor": ExecutorConfig,
    "reconcile": ReconcileConfig,
    "supervisor": SupervisorConfig,
    "dead_man": DeadManConfig,
    "sim": SimConfig,
    "metrics": MetricsConfig,
}


def _validate(cfg: MakerConfig) -> None:
    mk = cfg.maker
    if not mk.name.strip():
        raise ConfigError("maker.name", "must not be empty (it names this maker's orders)")
    cfg.maker.ownership()  # checks cloid_prefix, foreign_orders, on_start (naming the field)
    if not math.isfinite(mk.startup_timeout_s) or mk.startup_timeout_s < 0:
        raise ConfigError("maker.startup_timeout_s", "must be a number of seconds >= 0")
    ep = cfg.endpoint
    if ep.network not in ("sim", "testnet", "mainnet"):
        raise ConfigError("endpoint.network", "must be one of sim, testnet, mainnet")
    if ep.base_url and not ep.base_url.startswith(("http://", "https://")):
        raise ConfigError("endpoint.base_url", "must start with http:// or https://")
    if ep.base_url.endswith("/"):
        raise ConfigError("endpoint.base_url", "must not end with '/' (the API appends /info)")
    for name in ("account_address", "vault_address"):
        value = getattr(ep, name)
        if value and _ADDRESS.fullmatch(value) is None:
            raise ConfigError(f"endpoint.{name}",
                              "must be a 0x-prefixed 20-byte hex address (0x + 40 hex digits)")
    ex = cfg.executor
    if ex.request_timeout_s <= 0:
        raise ConfigError("executor.request_timeout_s", "must be positive")
    if ex.request_timeout_s * 1000 >= cfg.book.action_ttl_ms:
        raise ConfigError("executor.request_timeout_s",
                          "must be shorter than book.action_ttl_ms (the action's expiresAfter)")
    if ex.ip_weight_per_minute < 10:
        raise ConfigError("executor.ip_weight_per_minute", "must be at least 10")
    if not 1 <= ex.max_in_flight <= 100:
        raise ConfigError("executor.max_in_flight", "must be between 1 and 100")
    if ex.reserve_request_weight < 0:
        raise ConfigError("executor.reserve_request_weight", "must be >= 0 (0 = never buy)")
    if ex.reserve_below_headroom < 0:
        raise ConfigError("executor.reserve_below_headroom", "must be >= 0")
    if cfg.reconcile.interval_s <= 0:
        raise ConfigError("reconcile.interval_s", "must be positive")
    if cfg.reconcile.min_gap_s < 0:
        raise ConfigError("reconcile.min_gap_s", "must be >= 0")
    if cfg.supervisor.max_restarts < 0:
        raise ConfigError("supervisor.max_restarts", "must be >= 0")
    if cfg.supervisor.window_s <= 0:
        raise ConfigError("supervisor.window_s", "must be positive")
    if cfg.supervisor.shutdown_timeout_s <= 0:
        raise ConfigError("supervisor.shutdown_timeout_s", "must be positive")
    if cfg.dead_man.enabled and cfg.dead_man.lease_s < 15:
        raise ConfigError("dead_man.lease_s",
                          "must be at least 15 (scheduleCancel needs >= 5 s ahead, renewed at 1/3)")
    from hlmaker.sim.faults import PROFILES

    if cfg.sim.faults not in PROFILES:
        raise ConfigError("sim.faults", f"must be one of {', '.join(PROFILES)}")
    try:
        balance = Decimal(cfg.sim.balance)
    except ArithmeticError:
        balance = Decimal("NaN")
    if not balance.is_finite() or balance <= 0:
        raise ConfigError("sim.balance", "must be a positive USDC amount, e.g. \"1000000\"")
    if not 0 <= cfg.metrics.port <= 65535:
        raise ConfigError("metrics.port", "must be 0 (off) or a TCP port")


def _section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(name, "must be a table ([" + name + "])")
    known = {f.name: f for f in attrs.fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"{name}.{key}", f"unknown key; known keys: {', '.join(known)}")
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        default = known[key].default
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{name}.{key}", "must be true or false")
        if (isinstance(default, int) and not isinstance(default, bool)
                and (isinstance(value, bool) or not isinstance(value, int))):
            raise ConfigError(f"{name}.{key}", "must be an integer")
        if isinstance(default, float) and (isinstance(value, bool)
                                           or not isinstance(value, int | float)):
            raise ConfigError(f"{name}.{key}", "must be a number")
        if isinstance(default, float) and not math.isfinite(value):
            raise ConfigError(f"{name}.{key}", "must be a finite number")
        if isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{name}.{key}", "must be a string")
        kwargs[key] = float(value) if isinstance(default, float) else value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        if not exc.field.startswith(name + "."):
            raise ConfigError(f"{name}.{exc.field.split('.')[-1]}", exc.message) from None
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(name, str(exc)) from None


def config_from_mapping(data: dict[str, Any]) -> MakerConfig:
    """Build a :class:`MakerConfig` from a parsed TOML document.

    Raises:
        ConfigError: an unknown section or key, a wrong type or an invalid value.
    """
    kwargs: dict[str, Any] = {}
    for name, table in data.items():
        if name == "strategy":
            if not isinstance(table, dict):
                raise ConfigError("strategy", "must be a table ([strategy])")
            kwargs["strategy"] = dict(table)
            continue
        cls = _SECTIONS.get(name)
        if cls is None:
            raise ConfigError(name, f"unknown section; known: strategy, {', '.join(_SECTIONS)}")
        kwargs[name] = _section(name, cls, table)
    return MakerConfig(**kwargs)


def load_config(path: str | Path) -> MakerConfig:
    """Read a TOML file.

    Raises:
        ConfigError: the file is missing or not valid TOML (field ``config``), or any value is
            invalid (see :func:`config_from_mapping`).
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{p} is not valid TOML: {exc}") from None
    return config_from_mapping(data)
