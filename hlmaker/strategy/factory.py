"""The ``[strategy]`` table of the configuration: which strategy runs, and on which coins.

:func:`ladder_config` validates the table into the reference ladder's
:class:`~hlmaker.strategy.ladder.LadderConfig`; :func:`default_strategy` builds the ladder from a
:class:`~hlmaker.config.MakerConfig`; :func:`strategy_coins` tells which coins to subscribe to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from hlmaker.errors import ConfigError
from hlmaker.strategy.base import Strategy
from hlmaker.strategy.ladder import LadderConfig, LadderQuoter

if TYPE_CHECKING:
    from hlmaker.config import MakerConfig


def ladder_config(table: Mapping[str, Any]) -> LadderConfig:
    """Build the reference strategy's :class:`~hlmaker.strategy.ladder.LadderConfig` from the
    ``[strategy]`` table (sizes in coin, distances in bps; see the README's reference).

    Raises:
        ConfigError: an unknown key or an invalid value (naming ``strategy.<key>``).
    """
    known = {f.name for f in attrs.fields(LadderConfig)}
    for key in table:
        if key not in known:
            raise ConfigError(f"strategy.{key}", f"unknown key; known keys: {', '.join(known)}")
    try:
        return LadderConfig(**table)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ConfigError("strategy", str(exc)) from None


def default_strategy(config: MakerConfig) -> Strategy:
    """The reference ladder (:class:`~hlmaker.strategy.ladder.LadderQuoter`) built from
    ``config.strategy``.

    Raises:
        ConfigError: see :func:`ladder_config`.
    """
    return LadderQuoter(ladder_config(config.strategy))


def strategy_coins(config: MakerConfig, strategy: Strategy) -> tuple[str, ...]:
    """The coins to subscribe to: the strategy's ``config.coins`` if it has them, else the
    ``[strategy]`` table's ``coins`` (default ``("BTC",)``)."""
    coins = getattr(getattr(strategy, "config", None), "coins", None)
    if coins:
        return tuple(coins)
    return tuple(config.strategy.get("coins", ("BTC",)))
