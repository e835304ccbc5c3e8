"""hlmaker's built-in Hyperliquid exchange simulator, layered sans-IO like h11.

Pure layers (no clock reads, no randomness of their own, no I/O; ``now_ms`` is passed in):

* :mod:`.rules` — universe (BTC/ETH/SOL with real ``szDecimals``), tick/lot rules, exact error
  strings, number formatting.
* :mod:`.matching` — resting orders and the per-coin price-time-priority matching book.
* :mod:`.triggers` — trigger (TP/SL) orders: when they fire on the mark, how they are shown,
  the ``normalTpsl``/``positionTpsl`` groupings, and :class:`~.triggers.WaitingTriggers`.
* :mod:`.accounts` — users: USDC balance, positions, fills, order history, simple margin model.
* :mod:`.effects` — :class:`~.effects.OrderEntry`, :class:`~.effects.ModifyEntry` and the
  :class:`~.effects.Effects` every mutating engine call returns.
* :mod:`.engine` — :class:`~.engine.Engine`: place (with its grouping) / cancel /
  cancelByCloid / batchModify / scheduleCancel / leverage, firing trigger orders, and the
  ground truth (``fills_for``, ``open_orders_for``,
  ``position``, ``order_status``).
* :mod:`.market` — :class:`~.market.SyntheticMarket`: seeded mid process, background ladder,
  Poisson taker flow, CSV trade replay (``step(now_ms)``).
* :mod:`.views` — wire-shaped JSON views (``clearinghouseState``, fills, orders …).
* :mod:`.signatures` — EIP-712 user-signed verification (``approveAgent``) and nonce rules.
* :mod:`.service` / :mod:`.ws` — the protocol: :class:`~.service.SimService`
  (``handle_info``, ``handle_exchange`` — through a
  :class:`~.service.RequestIntercept` given at construction, if any — ``step``,
  ``open_session``) and
  :class:`~.ws.WsSession` (``on_text`` → replies, ``take_pushes`` → pushes). ``ws`` does not
  import ``service``: a session reaches its service through the :class:`~.ws.SessionHost`
  protocol.
* :mod:`.faults` — :class:`~.faults.FaultProfile` (``none``, ``default``, ``harsh``) and the
  seeded :class:`~.faults.FaultInjector` with counters by reliability-catalogue id; the
  exchange asks it ``request_for`` / ``push_for`` / ``connection_for``.
* :mod:`.pushes` — :class:`~.pushes.PushRouter`: a session's pushes to its connection's
  outbox, held back while an action runs.

The one faulted exchange, transport-agnostic (trio, no sockets):

* :mod:`.exchange` — :class:`~.exchange.FaultedExchange`: engine + market + service + fault
  application (latency, lost responses, 429/5xx, pushes flushed first, duplicated, reordered,
  dropped, disconnects, stalls) + one :class:`~.exchange.Outbox` and writer per WebSocket and
  the market/timer clock. Transports give it request bodies (``http``) and WebSocket text
  (``open_connection`` / ``serve_connection`` over a :class:`~.exchange.WsTransport`).

Its adapters:

* :mod:`.server` — :class:`~.server.Simulator` and :func:`~.server.open_simulator`: the
  exchange on one port (``POST /info``, ``POST /exchange``, WebSocket ``/ws``), served by
  :class:`hlmaker.webserver.WebServer` (h11 + wsproto on trio streams); an ``on_frame`` probe
  sees every frame handed to a WebSocket.
* :mod:`.thread` — :class:`~.thread.SimulatorThread`, the same in a background thread.
* :mod:`.command` — ``hlmaker sim``.
* the deterministic campaign's in-memory exchange lives with the campaign:
  :class:`hlmaker.chaos.exchange.SimExchange` (the same exchange plus the catalogue's
  interventions) over :mod:`hlmaker.chaos.transport`.

Protocol facts come from ``../shared/hyperliquid-protocol.md``; choices where the sources are
silent are marked ⚠ in the docstrings.
"""
