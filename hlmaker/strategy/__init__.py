"""Strategies: what to quote. See :mod:`hlmaker.strategy.base` for the interface."""
