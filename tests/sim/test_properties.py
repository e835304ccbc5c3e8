"""Hypothesis properties of the engine: conservation, no crossed book, unique tids."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from hlmaker.sim.engine import Engine, ModifyEntry, OrderEntry

USERS = ("0x01", "0x02", "0x03")
T = 1_700_000_000_000

order_st = st.builds(
    lambda u, asset, buy, ticks, lots, tif, ro: (
        u,
        OrderEntry(
            asset,
            buy,
            str(100 + ticks) if asset == 2 else str(3400 + ticks),
            str(lots if asset == 2 else D(lots) / 10),
            ro,
            tif,
        ),
    ),
    st.sampled_from(USERS),
    st.sampled_from([1, 2]),
    st.booleans(),
    st.integers(-5, 5),
    st.integers(1, 4),
    st.sampled_from(["Gtc", "Ioc", "Alo"]),
    st.booleans(),
)
op_st = st.one_of(
    st.tuples(st.just("place"), order_st),
    st.tuples(st.just("cancel"), st.sampled_from(USERS), st.integers(0, 30)),
    st.tuples(st.just("modify"), order_st, st.integers(0, 30)),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(op_st, min_size=1, max_size=40))
def test_engine_invariants(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    eng = Engine()
    for u in USERS:
        eng.fund(u, D(1_000_000))
    first = eng.config.first_oid
    tids: dict[str, set[int]] = {u: set() for u in USERS}
    for k, op in enumerate(ops):
        now = T + k
        if op[0] == "place":
            _, (user, req) = op
            _, fx = eng.place(user, [req], now)
        elif op[0] == "cancel":
            _, user, n = op
            _, fx = eng.cancel(user, [(2, first + n), (1, first + n)], now)
        else:
            _, (user, req), n = op
            _, fx = eng.batch_modify(user, [ModifyEntry(first + n, req)], now)
        for f in fx.fills:
            assert f.tid not in tids[f.user]
            tids[f.user].add(f.tid)
            assert f.sz > 0
        for book in eng.books:
            bid, ask = book.bids.best(), book.asks.best()
            assert bid is None or ask is None or bid < ask
        for coin in ("ETH", "SOL"):
            assert sum(eng.position(u, coin) for u in USERS) == 0
        for u in USERS:
            acct = eng.account(u)
            assert acct is not None
            held: dict[str, D] = {}
            for o in acct.open_orders.values():
                if not o.reduce_only:
                    held[o.coin] = held.get(o.coin, D(0)) + o.limit_px * o.sz
            assert {c: v for c, v in acct.order_notional.items() if v} == held
            for o in acct.open_orders.values():
                assert o.sz > 0 and o.status == "open"
                if o.reduce_only:
                    pos = eng.position(u, o.coin)
                    assert pos != 0 and (pos > 0) != (o.side == "B") and o.sz <= abs(pos)
    # Ground truth: position = Σ signed fills.
    for u in USERS:
        for coin in ("ETH", "SOL"):
            total = sum(
                (f.sz if f.side == "B" else -f.sz) for f in eng.fills_for(u) if f.coin == coin
            )
            assert total == eng.position(u, coin)
