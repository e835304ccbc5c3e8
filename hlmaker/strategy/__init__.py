"""Strategies: what to quote. See :mod:`hlmaker.strategy.base` for the interface.

Module map::

    base     Strategy (the Protocol a strategy implements), MarketInfo
    ladder   LadderConfig, LadderQuoter: the reference ladder
    factory  ladder_config(table) -> LadderConfig, default_strategy(config),
             strategy_coins(config, strategy): the ``[strategy]`` table
"""
