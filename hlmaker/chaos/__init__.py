"""``hlmaker chaos``: deterministic simulation of hlmaker: the real actors and supervisor against
the simulator's exchange, in one trio process, with one seed fixing every decision (reliability
issue 6).

Module map::

    determinism  stream(seed, purpose) -> random.Random; seed_scheduler(seed) (trio's private
                 scheduler Random, with a canary: check_trio_internals()); TraceRecorder (a trio
                 Instrument hashing task steps and simulation events into a SHA-256 digest)
    plan         FaultPlan(profile, interventions, rules, events, quiet_after_s); Rule; Event;
                 SimFaults (the simulator's FaultInjector + scripted rules + interventions);
                 CATALOGUE kind -> F1..F18
    exchange     SimExchange: the simulator's one faulted exchange (hlmaker.sim.exchange:
                 SimService + SyntheticMarket + latency, lost responses, 429/5xx, push
                 dup/reorder/drop, disconnects, stalls — the code the socket server runs)
                 plus the catalogue's interventions (partitions, fill-history horizon,
                 exchange cancels, liquidation fills, F8 rate limit, F11-F15)
    transport    the in-memory transport, a thin adapter like the socket server:
                 SimHttpTransport(exchange) (httpx); sim_connector(exchange) (WS Connector);
                 memory_websocket() -> (exchange end, client end) of one WebSocket
    invariants   InvariantChecker: S1-S9 after every event, L1-L2 at the end, memory bounds
    crash        CrashInjector: an actor crashed at its next task step via Supervisor.crash (F9)
    harness      simulate(RunSpec(seed, sim_seconds, plan)) -> RunResult (open_maker under
                 MockClock(autojump_threshold=0), seeded scheduler; RunObserver, the maker's
                 observer: book checks, S7 per nonce, the order-core digest core_digest)
    scenarios    SCENARIOS["F1".."F18"], run_scenario(fault) -> (result, problems)
    swarm        swarm_plan(seed, sim_seconds, quiet_s, faults) -> FaultPlan (random mix)
    runner       run_seed(seed, sim_minutes, faults) -> SeedResult (digest, core_digest, …)
    campaign     run_campaign(seeds, sim_minutes, faults, workers=…) -> CampaignReport
                 (.render(): the reliability.md report; .to_json())
    command      chaos_command: ``hlmaker chaos --seeds N --sim-minutes M [--faults …]``

Example::

    from hlmaker.chaos.runner import run_seed
    r = run_seed(7, sim_minutes=2)          # swarm faults drawn from seed 7
    assert not r.violations, r.violations   # reproduce: hlmaker chaos --seed 7 --sim-minutes 2
"""
