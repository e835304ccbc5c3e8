"""The strategy harness driving the reference LadderQuoter through the real book and quoter."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio

from hlmaker.messages import Bbo, CancelOrders, Level, ModifyOrders, PlaceOrders
from hlmaker.strategy.base import MarketInfo
from hlmaker.strategy.ladder import LadderConfig, LadderQuoter
from hlmaker.testing import StrategyHarness, strategy_harness

D = Decimal
MARKETS = {"BTC": MarketInfo(coin="BTC", sz_decimals=5)}


def quoter(**kw: object) -> LadderQuoter:
    base: dict[str, object] = dict(coins=("BTC",), levels=2, size=D("0.001"),
                                   max_position=D("0.002"), half_spread_bps=10,
                                   spacing_bps=10, requote_bps=5, skew_bps_per_unit=1000)
    base.update(kw)
    return LadderQuoter(LadderConfig(**base))  # type: ignore[arg-type]


def bbo(h: StrategyHarness, bid: str, ask: str) -> Bbo:
    return Bbo(coin="BTC", time_ms=h.now_ms(), bid=Level(px=D(bid), sz=D(1)),
               ask=Level(px=D(ask), sz=D(1)))


def prices(h: StrategyHarness, side: str) -> list[Decimal]:
    return sorted((o.px for o in h.view.orders if o.side == side), reverse=side == "B")


async def test_ladder_lifecycle(autojump_clock: object) -> None:
    with trio.fail_after(30):
        async with strategy_harness(quoter(), MARKETS) as h:
            assert h.view.ready
            await h.assert_no_command()  # no market data yet
            h.push_market(bbo(h, "99990", "100010"))
            place = await h.next_command()
            assert isinstance(place, PlaceOrders)
            assert [(o.side, o.px) for o in place.orders] == [
                ("B", D(99900)), ("B", D(99800)), ("A", D(100100)), ("A", D(100200))]
            assert all(o.tif == "Alo" and o.sz == D("0.001") for o in place.orders)
            assert await h.ack_all() == [place]
            assert {o.state for o in h.view.orders} == {"resting"}

            # a 2 bps move: below requote_bps, nothing
            h.push_market(bbo(h, "100010", "100030"))
            await h.assert_no_command()
            # a 10 bps move: the same four orders are moved with one batchModify
            h.push_market(bbo(h, "100090", "100110"))
            modify = await h.next_command()
            assert isinstance(modify, ModifyOrders) and len(modify.modifies) == 4
            assert {m.order.cloid for m in modify.modifies} == {o.cloid for o in place.orders}
            await h.ack(modify)
            assert prices(h, "B") == [D(99999), D(99899)]
            assert prices(h, "A") == [D(100201), D(100301)]

            # our best bid fills: long 0.001 → the ladder shifts down 1 bps; one bid left
            # (a second would allow 0.003 > max_position)
            best_bid = next(o for o in h.view.orders if o.side == "B" and o.px == D(99999))
            await h.fill(best_bid.cloid, D("0.001"))
            assert h.view.position("BTC") == D("0.001")
            skew = await h.next_command()
            assert isinstance(skew, ModifyOrders)
            await h.ack_all()
            assert prices(h, "B") == [D(99989)]
            assert prices(h, "A") == [D(100191), D(100291)]

            # the last bid fills: at max_position no bid is quoted any more
            last_bid = next(o for o in h.view.orders if o.side == "B")
            await h.fill(last_bid.cloid, D("0.001"))
            assert h.view.position("BTC") == D("0.002")
            await h.ack_all()
            assert prices(h, "B") == []
            assert prices(h, "A") == [D(100181), D(100281)]

            # the exchange agrees with the book
            await h.snapshot()
            assert h.view.is_synced and h.view.counters.position_drifts == 0
            assert h.view.counters.gaps_detected == 0


async def test_partial_fill_and_cancel_when_limit_shrinks_the_ladder(
        autojump_clock: object) -> None:
    with trio.fail_after(30):
        async with strategy_harness(quoter(skew_bps_per_unit=0), MARKETS) as h:
            h.push_market(bbo(h, "99990", "100010"))
            place = await h.next_command()
            await h.ack(place)
            ask = next(o for o in place.orders if o.side == "A")
            await h.fill(ask.cloid, D("0.0004"))
            assert h.view.position("BTC") == D("-0.0004")
            # short 0.0004: a second ask would allow -0.0024 beyond -0.002 → it is cancelled
            cmds = await h.pending_commands()
            assert any(isinstance(c, CancelOrders) and len(c.cancels) == 1 for c in cmds)
            await h.ack_all()
            assert len([o for o in h.view.orders if o.side == "A"]) == 1
            await h.snapshot()
            assert h.view.is_synced


async def test_not_ready_until_the_first_snapshot(autojump_clock: object) -> None:
    with trio.fail_after(30):
        async with strategy_harness(quoter(), MARKETS, ready=False,
                                    positions={"BTC": D("0.001")}) as h:
            h.push_market(bbo(h, "99990", "100010"))
            await h.assert_no_command()
            assert not h.view.ready
            await h.snapshot()
            place = await h.next_command()
            assert isinstance(place, PlaceOrders)
            assert h.view.position("BTC") == D("0.001")
            assert len([o for o in place.orders if o.side == "B"]) == 1


async def test_harness_errors(autojump_clock: object) -> None:
    with trio.fail_after(30):
        async with strategy_harness(quoter(), MARKETS) as h:
            with pytest.raises(KeyError):
                await h.fill("0x" + "1" * 32, D(1))
            with pytest.raises(trio.TooSlowError):
                await h.next_command(timeout_s=1)


async def test_module_docstring_example(autojump_clock: object) -> None:
    import hlmaker.testing

    doc = hlmaker.testing.__doc__ or ""
    code = doc.split("Example (pytest-trio, ``trio_mode = true``)::\n", 1)[1]
    code = code.split("\nTime: the harness", 1)[0]
    lines = [line[4:] for line in code.splitlines()]
    namespace: dict[str, object] = {}
    exec("\n".join(lines), namespace)
    await namespace["test_my_ladder"](autojump_clock)  # type: ignore[operator]
