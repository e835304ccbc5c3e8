"""The actors: thin trio loops around the cores, each ``run_<name>(channels…, *, task_status)``.

Module map::

    book        run_book (the only mutator of order state), open_book_channels (its inbox and
                its two unbounded outbound edges)
    feed        run_feed: the account WebSocket -> the book's inbox and the quoter's market data
    executor    run_executor: signs and sends the book's commands, reports every outcome;
                cancel_directly (the venue cancel used when the supervisor gives up)
    reconciler  run_reconciler: exchange snapshots for the book; ReconcileStatus
    quoter      run_quoter: runs a Strategy (market data and views in, intents out)
    dead_man    run_dead_man: renews the exchange's scheduleCancel as a lease
    latest      Latest: the newest value and its version (book views, reconcile status)
    posting     RoutePoster, WsPostLink: WebSocket post with REST fallback
    ratelimit   IpWeightBudget: the per-IP REST weight ledger every REST caller draws from (§8)

Wiring (which channel goes where, restart policies) is :mod:`hlmaker.maker`'s; probes reach the
actors only through the :class:`~hlmaker.observer.Observer` they are given.
"""
