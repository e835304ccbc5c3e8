"""hlmaker's built-in Hyperliquid exchange simulator, layered sans-IO like h11.

Pure layers (no clock reads, no randomness of their own, no I/O; ``now_ms`` is passed in):

* :mod:`.rules` — universe (BTC/ETH/SOL with real ``szDecimals``), tick/lot rules, exact error
  strings, number formatting.
* :mod:`.book` — orders and the per-coin price-time-priority book.
* :mod:`.accounts` — users: USDC balance, positions, fills, order history, simple margin model.
* :mod:`.effects` — :class:`~.effects.OrderRequest`, :class:`~.effects.ModifyRequest` and the
  :class:`~.effects.Effects` every mutating engine call returns.
* :mod:`.engine` — :class:`~.engine.Engine`: place / cancel / cancelByCloid / batchModify /
  scheduleCancel / leverage, and the ground truth (``fills_for``, ``open_orders_for``,
  ``position``, ``order_status``).
* :mod:`.market` — :class:`~.market.SyntheticMarket`: seeded mid process, background ladder,
  Poisson taker flow, CSV trade replay (``step(now_ms)``).
* :mod:`.views` — wire-shaped JSON views (``clearinghouseState``, fills, orders …).
* :mod:`.signatures` — EIP-712 user-signed verification (``approveAgent``) and nonce rules.
* :mod:`.service` / :mod:`.ws` — the protocol: :class:`~.service.SimService`
  (``handle_info``, ``handle_exchange``, ``step``, ``open_session``) and
  :class:`~.ws.WsSession` (``on_text`` → replies, ``take_pushes`` → pushes).
* :mod:`.faults` — :class:`~.faults.FaultProfile` (``none``, ``default``, ``harsh``) and the
  seeded :class:`~.faults.FaultInjector` with counters by reliability-catalogue id.

I/O layers:

* :mod:`.server` — :func:`~.server.open_simulator` (hypercorn trio worker, one port: ``POST
  /info``, ``POST /exchange``, WebSocket ``/ws``; faults applied with ``trio.sleep``).
* :mod:`.thread` — :class:`~.thread.SimulatorThread`, the same in a background thread.
* :mod:`.cli` — ``hlmaker sim``.

Protocol facts come from ``../shared/hyperliquid-protocol.md``; choices where the sources are
silent are marked ⚠ in the docstrings.
"""
