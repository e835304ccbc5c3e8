"""The executor actor against a fake ``/exchange`` (httpx.MockTransport, REST route only)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial

import attrs
import httpx
import trio
import trio.testing

from hlmaker.actors.executor import EXPIRED, ExecutorDeps, run_executor
from hlmaker.actors.posting import RoutePoster
from hlmaker.actors.ratelimit import IpWeightBudget, Priority
from hlmaker.clock import WallClock
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.hyperliquid.signing import recover_l1_signer
from hlmaker.messages import (
    CancelFailed,
    CancelOk,
    CancelOrders,
    CancelRequest,
    Command,
    ModifyOrders,
    ModifyRejected,
    ModifyRequest,
    ModifyResting,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    OrderResting,
    PlaceOrders,
    RequestUnknown,
)

from .conftest import (
    ASSETS,
    EPOCH,
    WALLET,
    FakeVenue,
    cloid,
    never_answer,
    ok_cancel,
    ok_order,
)

D = Decimal


@attrs.define
class ExecRig:
    commands: trio.MemorySendChannel[Command]
    outcomes: trio.MemoryReceiveChannel[object]
    deps: ExecutorDeps
    clock: WallClock

    async def outcome(self) -> object:
        return await self.outcomes.receive()

    async def take(self, n: int) -> list[object]:
        return [await self.outcomes.receive() for _ in range(n)]

    def nothing_more(self) -> None:
        try:
            extra = self.outcomes.receive_nowait()
        except trio.WouldBlock:
            return
        raise AssertionError(f"unexpected outcome {extra!r}")


@asynccontextmanager
async def executor_rig(venue: FakeVenue, *, ip_limit: int = 1200, ip_prefill: int = 0,
                       request_timeout_s: float = 1.0,
                       max_in_flight: int = 16) -> AsyncIterator[ExecRig]:
    clock = WallClock(EPOCH)
    ip_weight = IpWeightBudget(ip_limit)
    if ip_prefill:  # weight another caller spent just now
        ip_weight.settle(await ip_weight.acquire(ip_prefill, Priority.CANCEL))
    rest = RestClient("http://fake", transport=venue.transport(), timeout_s=30.0)
    deps = ExecutorDeps(
        wallet=WALLET, nonces=NonceManager(clock), assets=ASSETS, clock=clock,
        poster=RoutePoster(rest, None), is_mainnet=False,
        ip_weight=ip_weight, request_timeout_s=request_timeout_s, max_in_flight=max_in_flight)
    cmd_s, cmd_r = trio.open_memory_channel[Command](math.inf)
    out_s, out_r = trio.open_memory_channel[object](math.inf)
    async with rest, trio.open_nursery() as nursery:
        await nursery.start(partial(run_executor, cmd_r, out_s, deps=deps))
        yield ExecRig(cmd_s, out_r, deps, clock)
        nursery.cancel_scope.cancel()


def order(n: int, coin: str = "BTC", side: str = "B", px: str = "60000",
          sz: str = "0.001") -> OrderRequest:
    return OrderRequest(cloid=cloid(n), coin=coin, side=side, px=D(px), sz=D(sz))  # type: ignore[arg-type]


def place(rig: ExecRig, *orders: OrderRequest, rid: int = 1, ttl_ms: int = 10_000) -> PlaceOrders:
    return PlaceOrders(request_id=rid, expires_after_ms=rig.clock.now_ms() + ttl_ms,
                       orders=orders)


THREE = (order(1), order(2, side="A", px="61000"), order(3, coin="ETH", px="3000", sz="0.01"))


async def test_one_order_action_per_command_and_statuses_in_order(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange.append(httpx.Response(200, json=ok_order([
        {"resting": {"oid": 11}},
        {"filled": {"totalSz": "0.001", "avgPx": "61000.5", "oid": 12}},
        {"error": "Post only order would have immediately matched, bbo was 1@2. asset=1"},
    ])))
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            cmd = place(rig, *THREE, rid=7)
            await rig.commands.send(cmd)
            got = await rig.take(3)
            await trio.testing.wait_all_tasks_blocked()
            rig.nothing_more()
            stats = rig.deps.stats
    assert got == [
        OrderResting(request_id=7, cloid=cloid(1), oid=11),
        OrderFilled(request_id=7, cloid=cloid(2), oid=12, total_sz=D("0.001"),
                    avg_px=D("61000.5")),
        OrderRejected(request_id=7, cloid=cloid(3), error="Post only order would have "
                      "immediately matched, bbo was 1@2. asset=1"),
    ]
    [sent] = venue.of("/exchange")
    body = sent.body
    assert list(body) == ["action", "nonce", "signature", "vaultAddress", "expiresAfter"]
    assert body["action"]["type"] == "order" and body["action"]["grouping"] == "na"
    assert body["action"]["orders"] == [
        {"a": 0, "b": True, "p": "60000", "s": "0.001", "r": False, "t": {"limit": {"tif": "Alo"}},
         "c": cloid(1)},
        {"a": 0, "b": False, "p": "61000", "s": "0.001", "r": False,
         "t": {"limit": {"tif": "Alo"}}, "c": cloid(2)},
        {"a": 1, "b": True, "p": "3000", "s": "0.01", "r": False, "t": {"limit": {"tif": "Alo"}},
         "c": cloid(3)},
    ]
    assert body["expiresAfter"] == cmd.expires_after_ms
    assert body["vaultAddress"] is None
    signer = recover_l1_signer(body["action"], None, body["nonce"], body["expiresAfter"],
                               body["signature"], False)
    assert signer == WALLET.signer_address
    assert stats.actions_sent == 1 and stats.via_rest == 1 and stats.retries == 0


async def test_at_most_max_in_flight_commands_run_at_once_and_the_rest_wait(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange_default = None  # type: ignore[assignment]
    venue.exchange.extend([never_answer] * 3)  # the first three hang until they time out
    with trio.fail_after(60):
        async with executor_rig(venue, request_timeout_s=30.0, max_in_flight=3) as rig:
            for rid in range(1, 6):
                ttl_ms = 2_000 if rid <= 3 else 10_000
                await rig.commands.send(place(rig, order(rid), rid=rid, ttl_ms=ttl_ms))
            await trio.testing.wait_all_tasks_blocked()
            assert len(venue.of("/exchange")) == 3  # commands 4 and 5 wait for a worker
            rig.nothing_more()
            venue.exchange_default = lambda body: ok_order([{"resting": {"oid": 9}}])
            got = await rig.take(5)
    # the hung three end unknown at their expiry; 4 and 5 then go (together: two workers free)
    assert sorted(o.request_id for o in got[:3]) == [1, 2, 3]
    assert all(isinstance(o, RequestUnknown) for o in got[:3])
    assert sorted((o.request_id, type(o).__name__) for o in got[3:]) == [
        (4, "OrderResting"), (5, "OrderResting")]


async def test_single_error_for_a_batch_rejects_every_order(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange.append(httpx.Response(200, json=ok_order([{"error": "Insufficient margin"}])))
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            await rig.commands.send(place(rig, *THREE, rid=3))
            got = await rig.take(3)
    assert got == [OrderRejected(request_id=3, cloid=o.cloid, error="Insufficient margin")
                   for o in THREE]
    assert len(venue.of("/exchange")) == 1


async def test_status_err_rejects_every_order_with_the_text(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    text = "User or API Wallet 0xabc does not exist."
    venue.exchange.append(httpx.Response(200, json={"status": "err", "response": text}))
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            await rig.commands.send(place(rig, *THREE, rid=4))
            got = await rig.take(3)
            await trio.testing.wait_all_tasks_blocked()
            rig.nothing_more()
    assert got == [OrderRejected(request_id=4, cloid=o.cloid, error=text) for o in THREE]
    assert len(venue.of("/exchange")) == 1  # a refusal is final: never retried
    assert rig.deps.stats.rejected_actions == 1


async def test_timeout_reports_unknown_with_the_commands_expiry(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange_default = None  # type: ignore[assignment]
    venue.exchange.extend([never_answer] * 50)
    with trio.fail_after(60):
        async with executor_rig(venue, request_timeout_s=1.0) as rig:
            cmd = place(rig, *THREE, rid=5, ttl_ms=5_000)
            await rig.commands.send(cmd)
            got = await rig.outcome()
            at_ms = rig.clock.now_ms()
            await trio.testing.wait_all_tasks_blocked()
            rig.nothing_more()
    assert isinstance(got, RequestUnknown)
    assert got.request_id == 5 and got.kind == "place"
    assert got.cloids == tuple(o.cloid for o in THREE)
    assert got.expires_after_ms == cmd.expires_after_ms
    # reported once the action can no longer land (not before; at most one backoff later)
    assert cmd.expires_after_ms <= at_ms <= cmd.expires_after_ms + 2_000
    sent = venue.of("/exchange")
    assert len(sent) >= 2 and len({s.raw for s in sent}) == 1  # the same envelope each time
    assert rig.deps.stats.unknown == 1


async def test_5xx_is_retried_with_the_same_signed_envelope(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange.extend([
        httpx.Response(503, text="upstream unavailable"),
        httpx.Response(502, text="bad gateway"),
        httpx.Response(200, json=ok_order([{"resting": {"oid": 21}}])),
    ])
    with trio.fail_after(30):
        async with executor_rig(venue) as rig:
            cmd = place(rig, order(1), rid=9)
            await rig.commands.send(cmd)
            got = await rig.outcome()
    assert got == OrderResting(request_id=9, cloid=cloid(1), oid=21)
    sent = venue.of("/exchange")
    assert len(sent) == 3
    assert sent[0].raw == sent[1].raw == sent[2].raw  # same nonce, same signature
    assert sent[0].body["expiresAfter"] == cmd.expires_after_ms
    assert sent[1].at > sent[0].at and sent[2].at > sent[1].at  # with backoff
    assert rig.deps.stats.retries == 2 and rig.deps.stats.actions_sent == 1


async def test_an_expired_command_is_never_sent(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            now = rig.clock.now_ms()
            await rig.commands.send(PlaceOrders(request_id=1, expires_after_ms=now - 1,
                                                orders=THREE[:2]))
            await rig.commands.send(PlaceOrders(request_id=2, expires_after_ms=now,
                                                orders=THREE[2:]))
            got = await rig.take(3)
    assert sorted(got, key=lambda o: o.cloid) == [  # type: ignore[attr-defined]
        OrderRejected(request_id=1, cloid=cloid(1), error=EXPIRED),
        OrderRejected(request_id=1, cloid=cloid(2), error=EXPIRED),
        OrderRejected(request_id=2, cloid=cloid(3), error=EXPIRED),
    ]
    assert EXPIRED == "expired before send"
    assert venue.seen == []
    assert rig.deps.stats.expired_before_send == 2


async def test_a_command_that_expires_while_waiting_for_tokens_is_never_sent(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        # the window is full: room comes back in 60 s
        async with executor_rig(venue, ip_limit=10, ip_prefill=10) as rig:
            await rig.commands.send(place(rig, order(1), rid=1, ttl_ms=2_000))
            got = await rig.outcome()
    assert got == OrderRejected(request_id=1, cloid=cloid(1), error=EXPIRED)
    assert venue.seen == []


async def test_cancels_split_into_cancel_by_oid_and_cancel_by_cloid(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    gone = "Order was never placed, already canceled, or filled. asset=0"

    def answer(body: dict) -> dict:  # type: ignore[type-arg]
        if body["action"]["type"] == "cancel":
            return ok_cancel(["success", {"error": gone}])
        return ok_cancel(["success"])

    venue.exchange_default = answer
    cancels = (
        CancelRequest(coin="BTC", cloid=cloid(1), oid=5),
        CancelRequest(coin="ETH", cloid=cloid(2)),  # no oid: by cloid
        CancelRequest(coin="BTC", cloid=None, oid=7),  # an orphan listed without a cloid
    )
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            cmd = CancelOrders(request_id=8, expires_after_ms=rig.clock.now_ms() + 10_000,
                               cancels=cancels)
            await rig.commands.send(cmd)
            got = await rig.take(3)
            await trio.testing.wait_all_tasks_blocked()
            rig.nothing_more()
    by_kind = {s.kind: s.body for s in venue.of("/exchange")}
    assert len(venue.of("/exchange")) == 2
    assert by_kind["cancel"]["action"] == {"type": "cancel",
                                           "cancels": [{"a": 0, "o": 5}, {"a": 0, "o": 7}]}
    assert by_kind["cancelByCloid"]["action"] == {
        "type": "cancelByCloid", "cancels": [{"asset": 1, "cloid": cloid(2)}]}
    assert by_kind["cancel"]["expiresAfter"] == cmd.expires_after_ms
    assert by_kind["cancelByCloid"]["expiresAfter"] == cmd.expires_after_ms
    assert by_kind["cancel"]["nonce"] != by_kind["cancelByCloid"]["nonce"]
    assert set(got) == {
        CancelOk(request_id=8, cloid=cloid(1), oid=5),
        CancelFailed(request_id=8, cloid=None, oid=7, error=gone),
        CancelOk(request_id=8, cloid=cloid(2), oid=None),
    }


async def test_modify_statuses_are_mapped_per_order(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange.append(httpx.Response(200, json=ok_order([
        {"resting": {"oid": 31}}, {"error": "Cannot modify canceled or filled order"}])))
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            cmd = ModifyOrders(request_id=2, expires_after_ms=rig.clock.now_ms() + 10_000,
                               modifies=(ModifyRequest(oid=30, order=order(1, px="60100")),
                                         ModifyRequest(oid=40, order=order(2, px="59900"))))
            await rig.commands.send(cmd)
            got = await rig.take(2)
    [sent] = venue.of("/exchange")
    assert sent.body["action"]["type"] == "batchModify"
    assert [m["oid"] for m in sent.body["action"]["modifies"]] == [30, 40]
    assert sent.body["expiresAfter"] == cmd.expires_after_ms
    assert got == [
        ModifyResting(request_id=2, cloid=cloid(1), old_oid=30, new_oid=31),
        ModifyRejected(request_id=2, cloid=cloid(2), old_oid=40,
                       error="Cannot modify canceled or filled order"),
    ]


async def test_an_unsendable_order_is_rejected_alone(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with executor_rig(venue) as rig:
            await rig.commands.send(place(rig, order(1), order(2, coin="DOGE"), rid=6))
            got = await rig.take(2)
    rejected = [o for o in got if isinstance(o, OrderRejected)]
    assert len(rejected) == 1 and rejected[0].cloid == cloid(2)
    assert rejected[0].error.startswith("not sent")
    assert OrderResting(request_id=6, cloid=cloid(1), oid=1) in got
    [sent] = venue.of("/exchange")
    assert [o["c"] for o in sent.body["action"]["orders"]] == [cloid(1)]


async def test_the_ip_weight_paces_a_burst_over_the_limit(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    # 10 weight per minute, placements up to 90 %: 9 actions at once, the other 6 once the
    # first 9 left the 60 s window
    with trio.fail_after(120):
        async with executor_rig(venue, ip_limit=10) as rig:
            t0 = trio.current_time()
            for i in range(15):
                await rig.commands.send(place(rig, order(i + 1), rid=i + 1, ttl_ms=100_000))
            done: list[float] = []
            for _ in range(15):
                assert isinstance(await rig.outcome(), OrderResting)
                done.append(trio.current_time() - t0)
    sent = venue.of("/exchange")
    assert len(sent) == 15
    assert max(done[:9]) < 0.01
    assert [round(t) for t in done[9:]] == [60] * 6
    assert rig.deps.ip_weight.view().peak == 9
    nonces = [s.body["nonce"] for s in sent]
    assert len(set(nonces)) == 15


async def test_cancels_do_not_queue_behind_paced_placements(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange_default = lambda body: (
        ok_cancel(["success"] * len(body["action"]["cancels"]))
        if body["action"]["type"] == "cancel" else ok_order([{"resting": {"oid": 1}}]))
    with trio.fail_after(200):
        # 20 weight per minute: placements may fill 18 of it, cancels all 20
        async with executor_rig(venue, ip_limit=20) as rig:
            t0 = trio.current_time()
            for i in range(25):
                await rig.commands.send(place(rig, order(i + 1), rid=i + 1, ttl_ms=150_000))
            await rig.take(18)  # placements filled their share; seven wait for room
            # 40 cancels in one action weigh 2
            await rig.commands.send(CancelOrders(
                request_id=99, expires_after_ms=rig.clock.now_ms() + 150_000,
                cancels=tuple(CancelRequest(coin="BTC", cloid=cloid(100 + i), oid=100 + i)
                              for i in range(40))))
            done: list[tuple[float, str]] = []
            for _ in range(47):
                outcome = await rig.outcome()
                done.append((trio.current_time() - t0, type(outcome).__name__))
    placed_at = [t for t, kind in done if kind == "OrderResting"]
    cancelled_at = {t for t, kind in done if kind == "CancelOk"}
    assert len(placed_at) == 7 and len(cancelled_at) == 1
    assert cancelled_at.pop() < 0.01  # the cancel goes out at once, ahead of the placements
    assert min(placed_at) >= 60  # the placements still wait for the window


async def test_batches_over_200_are_sent_as_chunks_of_at_most_200(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    # The exchange refuses a batch over 200 whole ("Signed action over weight limit of 200."):
    # a cancel-all of 450 orders or a 250-order ladder goes out in chunks, every order still
    # getting exactly one outcome under the command's request id.
    def answer(body: dict) -> dict:  # type: ignore[type-arg]
        action = body["action"]
        if action["type"] == "order":
            return ok_order([{"resting": {"oid": 10_000 + int(o["c"][-8:], 16)}}
                             for o in action["orders"]])
        return ok_cancel(["success"] * len(action["cancels"]))

    venue.exchange_default = answer
    cancels = tuple(CancelRequest(coin="BTC", cloid=cloid(n), oid=n) for n in range(1, 451))
    ladder = tuple(order(n, px=str(50_000 + n)) for n in range(1, 251))
    with trio.fail_after(30):
        async with executor_rig(venue, ip_limit=100_000) as rig:
            await rig.commands.send(CancelOrders(
                request_id=9, expires_after_ms=rig.clock.now_ms() + 10_000, cancels=cancels))
            got = await rig.take(450)
            await rig.commands.send(place(rig, *ladder, rid=10))
            got += await rig.take(250)
            await trio.testing.wait_all_tasks_blocked()
            rig.nothing_more()
    sizes = [(s.kind, len(s.body["action"].get("cancels") or s.body["action"]["orders"]))
             for s in venue.of("/exchange")]
    assert sizes == [("cancel", 200), ("cancel", 200), ("cancel", 50),
                     ("order", 200), ("order", 50)]
    assert [o for o in got if isinstance(o, CancelOk)] == [
        CancelOk(request_id=9, cloid=cloid(n), oid=n) for n in range(1, 451)]
    assert [o for o in got if isinstance(o, OrderResting)] == [
        OrderResting(request_id=10, cloid=cloid(n), oid=10_000 + n) for n in range(1, 251)]


async def test_a_4xx_after_a_copy_may_have_landed_is_unknown_not_a_reject(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    # The 503 may have been sent after the exchange acted: the refusal of the retry says
    # nothing about that copy, so the order is not "never placed".
    venue.exchange.extend([httpx.Response(503, text="upstream unavailable"),
                           httpx.Response(400, text="bad request")])
    with trio.fail_after(30):
        async with executor_rig(venue) as rig:
            cmd = place(rig, order(1), rid=3)
            await rig.commands.send(cmd)
            got = await rig.outcome()
    assert isinstance(got, RequestUnknown) and got.cloids == (cloid(1),), got
    assert got.expires_after_ms == cmd.expires_after_ms


async def test_a_first_4xx_is_a_reject(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange.append(httpx.Response(400, text="bad request"))
    with trio.fail_after(30):
        async with executor_rig(venue) as rig:
            await rig.commands.send(place(rig, order(1), rid=4))
            got = await rig.outcome()
    assert isinstance(got, OrderRejected) and got.cloid == cloid(1), got


async def test_an_unreadable_2xx_reply_is_unknown_and_the_executor_lives_on(
        venue: FakeVenue, autojump_clock: trio.testing.MockClock) -> None:
    venue.exchange.append(httpx.Response(200, text="<html>maintenance</html>"))
    venue.exchange.append(httpx.Response(200, json=ok_order([{"resting": {"oid": 31}}])))
    with trio.fail_after(30):
        async with executor_rig(venue) as rig:
            await rig.commands.send(place(rig, order(1), rid=5))
            first = await rig.outcome()
            await rig.commands.send(place(rig, order(2), rid=6))
            second = await rig.outcome()
    assert isinstance(first, RequestUnknown) and first.cloids == (cloid(1),), first
    assert second == OrderResting(request_id=6, cloid=cloid(2), oid=31)
