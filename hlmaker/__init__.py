"""hlmaker: a trio actor runtime for market-making bots on Hyperliquid.

The order book actor is the sole mutator of order state; the WS feed, executor, reconciler and
quoter talk to it only through trio memory channels, under a supervisor.
"""

__version__ = "0.1.0"
