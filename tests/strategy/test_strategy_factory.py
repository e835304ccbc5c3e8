"""The [strategy] table: validated into the ladder's config; which coins are subscribed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hlmaker.config import config_from_mapping
from hlmaker.errors import ConfigError
from hlmaker.strategy.factory import default_strategy, ladder_config, strategy_coins
from hlmaker.strategy.ladder import LadderQuoter


def test_ladder_config_names_the_bad_key() -> None:
    with pytest.raises(ConfigError) as info:
        ladder_config({"coins": ["BTC"], "levls": 2})
    assert info.value.field == "strategy.levls"
    with pytest.raises(ConfigError) as info:
        ladder_config({"coins": ["BTC"], "size": "-1"})
    assert info.value.field == "strategy.size"  # LadderConfig names it itself


def test_default_strategy_and_its_coins() -> None:
    cfg = config_from_mapping({"strategy": {"coins": ["ETH"], "size": "0.01",
                                            "max_position": "0.1"}})
    strategy = default_strategy(cfg)
    assert isinstance(strategy, LadderQuoter) and strategy.config.size == Decimal("0.01")
    assert strategy_coins(cfg, strategy) == ("ETH",)
    assert strategy_coins(config_from_mapping({}), object()) == ("BTC",)  # type: ignore[arg-type]
