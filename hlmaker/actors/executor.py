"""The executor actor: the book's commands become signed actions on the exchange.

One command is one action (one ``order`` action for a whole ladder, one ``cancel`` for many,
one ``batchModify``) — or, above :data:`~hlmaker.hyperliquid.actions.MAX_BATCH` orders, one
action per chunk of at most 200, sent in order under the command's request id (the exchange
refuses a larger batch whole). Each action carries the command's ``expires_after_ms`` as
``expiresAfter`` and is signed once, with one nonce; every retry re-sends the *same* envelope,
so a retry can never double-place (a copy that already landed makes the exchange answer
``Invalid nonce: duplicate nonce``, which is reported as an unknown outcome — the book then
asks the exchange).

Every order in every command gets exactly one outcome, sent to the book's inbox:

* the exchange's per-order statuses become ``OrderResting`` / ``OrderFilled`` /
  ``OrderRejected`` (and the ``Modify*`` / ``Cancel*`` equivalents);
* a whole-action ``{"status": "err"}`` rejects every order of the command with that text;
* a request that timed out, or whose connection died after it was sent, is
  :class:`~hlmaker.messages.RequestUnknown`;
* an action not sent before its ``expiresAfter`` is rejected with ``expired before send``.

Transport: WebSocket ``post`` when a post connection is up (:class:`RoutePoster`), REST otherwise;
HTTP 429 and 5xx are retried with backoff until the action expires. Every attempt draws its
weight from the shared per-IP ledger (:class:`~hlmaker.actors.ratelimit.IpWeightBudget`, the one
the reconciler's reads draw from) before it is sent — cancels and ``scheduleCancel`` first, then
placements and modifies, reads last; an attempt that went as a WebSocket ``post`` is refunded
(the REST weight counts REST requests only, §8); a 429 makes the ledger back off. The address
request budget (:class:`~hlmaker.actors.budget.AddressBudget`) counts every action sent; once
it is spent, placements and modifies are rejected unsent (``address request budget spent…``) and
only cancels (and ``scheduleCancel``) go out.

The executor keeps only request bookkeeping; it never decides anything about orders.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import trio

from hlmaker.clock import Clock
from hlmaker.hyperliquid.actions import (
    MAX_BATCH,
    batch_modify_action,
    cancel_action,
    cancel_by_cloid_action,
    order_action,
    order_wire_from_request,
    reserve_request_weight_action,
    schedule_cancel_action,
)
from hlmaker.hyperliquid.envelope import build_envelope
from hlmaker.hyperliquid.errors import (
    CodecError,
    ExchangeError,
    HttpError,
    NumberFormatError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
)
from hlmaker.hyperliquid.keys import Wallet
from hlmaker.hyperliquid.meta import AssetMap
from hlmaker.hyperliquid.nonces import NonceManager
from hlmaker.hyperliquid.responses import (
    Filled,
    Resting,
    StatusError,
    parse_cancel_statuses,
    parse_default_response,
    parse_order_statuses,
)
from hlmaker.messages import (
    CancelFailed,
    CancelOk,
    CancelOrders,
    CancelRequest,
    Command,
    ModifyFilled,
    ModifyOrders,
    ModifyRejected,
    ModifyRequest,
    ModifyResting,
    OpenOrder,
    OrderFilled,
    OrderRejected,
    OrderRequest,
    OrderResting,
    PlaceOrders,
    RequestUnknown,
    ScheduleCancel,
    ScheduleCancelResult,
)
from hlmaker.observer import NO_OBSERVER, Observer

from .budget import EXHAUSTED_TEXT, HELD_TEXT, AddressBudget
from .posting import Poster
from .ratelimit import IpWeightBudget, Priority, Ticket, action_weight

log = logging.getLogger("hlmaker.executor")

EXPIRED = "expired before send"
DUPLICATE_NONCE = "Invalid nonce: duplicate nonce"


@attrs.define
class ExecutorStats:
    """Counters of the executor (for metrics and the summary)."""

    actions_sent: int = 0
    retries: int = 0
    unknown: int = 0
    rejected_actions: int = 0
    expired_before_send: int = 0
    via_ws: int = 0
    via_rest: int = 0
    budget_held: int = 0
    """Placements/modifies not sent because the address budget was spent."""
    latencies_s: list[float] = attrs.Factory(list)

    def record_latency(self, seconds: float) -> None:
        self.latencies_s.append(seconds)
        if len(self.latencies_s) > 10_000:
            del self.latencies_s[:5_000]


@attrs.define
class ExecutorDeps:
    """What the executor needs: who signs, the asset map, the clock, how to post, pacing."""

    wallet: Wallet
    nonces: NonceManager
    assets: AssetMap
    clock: Clock
    poster: Poster
    is_mainnet: bool
    ip_weight: IpWeightBudget
    """The shared per-IP REST weight ledger (the reconciler's reads draw from it too)."""
    request_timeout_s: float = 5.0
    max_in_flight: int = 16
    stats: ExecutorStats = attrs.Factory(ExecutorStats)
    budget: AddressBudget = attrs.Factory(AddressBudget)
    """The address request budget: counted here, learned by the reconciler."""
    book_generation: int = 0
    """Bumped by the maker when the book restarts after a crash: a placement or modify the dead
    book sent is not retried (the fresh book did not ask for it, and a retry landing after the
    fresh book quoted would rest beside its ladder — CI campaign, seed 51)."""
    observer: Observer = NO_OBSERVER
    """Told of every command taken and every request's latency (metrics, benchmarks)."""


Report = Callable[[object], Awaitable[None]]


async def run_executor(
    commands: trio.MemoryReceiveChannel[Command],
    outcomes: trio.MemorySendChannel[object],
    *,
    deps: ExecutorDeps,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Execute commands until ``commands`` is closed (then wait for those in flight) or the
    actor is cancelled. ``outcomes`` is a clone of the book's inbox send side.

    ``deps.max_in_flight`` workers share ``commands``: each takes the next command and runs it
    to its last outcome, so at most that many are in flight. A command goes straight from the
    book to a parked worker (one task step, where a dispatcher spawning a task per command
    took two: it sat on the tick-to-trade path).
    """

    async def report(msg: object) -> None:
        # No schedule point when the inbox has room: a yield per outcome was a trio task step
        # each on the tick-to-trade path (the book's inbox is bounded; a full one still waits).
        try:
            outcomes.send_nowait(msg)
        except trio.WouldBlock:
            await outcomes.send(msg)

    async def worker() -> None:
        async for cmd in commands:
            deps.observer.command_received(cmd)
            await _run_one(cmd, deps, report)

    async with trio.open_nursery() as nursery:
        for _ in range(deps.max_in_flight):
            nursery.start_soon(worker)
        task_status.started()


async def _run_one(cmd: Command, deps: ExecutorDeps, report: Report) -> None:
    if isinstance(cmd, PlaceOrders):
        await _place(cmd, deps, report)
    elif isinstance(cmd, CancelOrders):
        await _cancel(cmd, deps, report)
    elif isinstance(cmd, ModifyOrders):
        await _modify(cmd, deps, report)
    elif isinstance(cmd, ScheduleCancel):
        await _schedule(cmd, deps, report)
    else:
        log.error("executor: unknown command %r", cmd)


@attrs.frozen
class _Unknown:
    reason: str


@attrs.frozen
class _Rejected:
    text: str


async def _send(kind: str, action: dict[str, Any], n: int, expires_after_ms: int,
                deps: ExecutorDeps, *, request_id: int, priority: bool = False) -> Any:
    """Sign once and send until answered; return the reply, ``_Rejected`` or ``_Unknown``."""
    clock = deps.clock
    if clock.now_ms() >= expires_after_ms:
        deps.stats.expired_before_send += 1
        return _Rejected(EXPIRED)
    gated = kind in ("place", "modify")
    if gated and not deps.budget.allows(n, is_cancel=False):
        deps.stats.budget_held += 1
        deps.budget.held += 1
        return _Rejected(HELD_TEXT)
    klass = Priority.CANCEL if priority else Priority.ACTION
    ticket = await _acquire_before(deps, action_weight(n), klass, expires_after_ms)
    if ticket is None:
        deps.stats.expired_before_send += 1
        return _Rejected(EXPIRED)
    wallet = deps.wallet
    nonce = deps.nonces.next(wallet.signer_address)
    deps.observer.action_signed(request_id, kind, nonce)
    envelope = build_envelope(action, wallet, nonce, wallet.vault_address, expires_after_ms,
                              deps.is_mainnet)
    attempt = 0
    maybe_landed = False
    generation = deps.book_generation
    while True:
        if attempt and gated and deps.book_generation != generation:
            log.warning("executor %s nonce=%d not retried: the book that sent it restarted",
                        kind, nonce)
            if maybe_landed:
                deps.stats.unknown += 1
                return _Unknown("not retried: the book that sent it restarted")
            deps.stats.rejected_actions += 1
            return _Rejected("not retried: the book that sent it restarted")
        remaining_s = (expires_after_ms - clock.now_ms()) / 1000
        if remaining_s <= 0:
            if maybe_landed:
                deps.stats.unknown += 1
                return _Unknown("expired while retrying")
            deps.stats.expired_before_send += 1
            return _Rejected(EXPIRED)
        t0 = trio.current_time()
        if attempt == 0:
            deps.budget.spend(n)
        else:
            retry_ticket = await _acquire_before(deps, action_weight(n), klass, expires_after_ms)
            if retry_ticket is None:  # expired waiting for room: the loop's top decides
                continue
            ticket = retry_ticket
            remaining_s = (expires_after_ms - clock.now_ms()) / 1000
        try:
            deps.stats.actions_sent += attempt == 0
            reply, via = await _post_counted(deps, envelope,
                                             min(deps.request_timeout_s, remaining_s), ticket)
        except ExchangeError as exc:
            # Each envelope has its own fresh nonce: "duplicate nonce" means a copy of it may
            # have landed (a retry, or a WS post whose connection died before the answer). And
            # a refusal of a retry says nothing about an earlier copy that may have landed.
            if exc.text.startswith(DUPLICATE_NONCE) or maybe_landed:
                deps.stats.unknown += 1
                return _Unknown(f"refused after a copy may have landed: {exc.text}")
            if exc.text.startswith(EXHAUSTED_TEXT):
                deps.budget.refused(n)
            deps.stats.rejected_actions += 1
            return _Rejected(exc.text)
        except RequestTimeout as exc:
            maybe_landed = maybe_landed or exc.sent
            log.warning("executor %s timeout nonce=%d attempt=%d sent=%s", kind, nonce, attempt,
                        exc.sent)
        except (RateLimited, ServerError) as exc:
            maybe_landed = maybe_landed or isinstance(exc, ServerError)
            log.warning("executor %s %s nonce=%d attempt=%d", kind, exc, nonce, attempt)
        except HttpError as exc:
            if maybe_landed:  # as above: an earlier copy may have landed
                deps.stats.unknown += 1
                log.error("executor %s refused after a copy may have landed: %s", kind, exc)
                return _Unknown(f"refused after a copy may have landed: {exc}")
            deps.stats.rejected_actions += 1
            log.error("executor %s refused: %s", kind, exc)
            return _Rejected(str(exc))
        except CodecError as exc:
            # The exchange answered (2xx) but not in a form we can read: it may have acted.
            deps.stats.unknown += 1
            log.error("executor %s unreadable reply (outcome unknown): %s", kind, exc)
            return _Unknown(f"unreadable reply: {exc}")
        except TransportError as exc:
            maybe_landed = True
            log.warning("executor %s transport error %s nonce=%d attempt=%d", kind, exc, nonce,
                        attempt)
        else:
            elapsed = trio.current_time() - t0
            deps.stats.record_latency(elapsed)
            if via == "ws":
                deps.stats.via_ws += 1
            else:
                deps.stats.via_rest += 1
            deps.observer.request_finished(kind, elapsed)
            return reply
        attempt += 1
        deps.stats.retries += 1
        left_s = (expires_after_ms - clock.now_ms()) / 1000
        await trio.sleep(max(0.0, min(0.25 * 2 ** min(attempt, 4), 2.0, left_s)))


async def _acquire_before(deps: ExecutorDeps, weight: int, klass: Priority,
                          expires_after_ms: int) -> Ticket | None:
    """Charge ``weight`` to the IP-weight ledger, waiting for room at most until the action
    expires (``None`` then, nothing charged)."""
    left_s = (expires_after_ms - deps.clock.now_ms()) / 1000
    if left_s <= 0:
        return None
    ticket = deps.ip_weight.try_acquire(weight, klass)
    if ticket is not None:  # room now: no cancel scope, no schedule point
        return ticket
    with trio.move_on_after(left_s):
        ticket = await deps.ip_weight.acquire(weight, klass)
        if deps.clock.now_ms() < expires_after_ms:
            return ticket
        deps.ip_weight.refund(ticket)
    return None


async def _post_counted(deps: ExecutorDeps, envelope: dict[str, Any], timeout_s: float,
                        ticket: Ticket) -> tuple[Any, str]:
    """Post ``envelope``; settle its IP-weight ``ticket`` (refund it when it went over the
    WebSocket) and tell the ledger of a 429."""
    try:
        reply, via = await deps.poster.post_action(envelope, timeout_s)
    except RateLimited as exc:
        deps.ip_weight.settle(ticket)
        deps.ip_weight.on_rate_limited(exc.retry_after_s)
        raise
    except BaseException:
        deps.ip_weight.settle(ticket)
        raise
    if via == "ws":
        deps.ip_weight.refund(ticket)
    else:
        deps.ip_weight.settle(ticket)
        deps.ip_weight.on_answered()
    return reply, via


def _parsed(parse: Callable[[Any, int], list[Any]], reply: Any, n: int) -> list[Any] | None:
    try:
        out = parse(reply, n)
    except CodecError as exc:
        log.error("executor: unreadable reply (outcome unknown): %s", exc)
        return None
    return out if len(out) == n else None


async def _place(cmd: PlaceOrders, deps: ExecutorDeps, report: Report) -> None:
    wires, sent = [], []
    for req in cmd.orders:
        try:
            wires.append(order_wire_from_request(req, deps.assets))
            sent.append(req)
        except (NumberFormatError, KeyError, ValueError) as exc:
            await report(OrderRejected(request_id=cmd.request_id, cloid=req.cloid,
                                       error=f"not sent: {exc}"))
    for i in range(0, len(sent), MAX_BATCH):
        await _place_chunk(cmd, wires[i:i + MAX_BATCH], sent[i:i + MAX_BATCH], deps, report)


async def _place_chunk(cmd: PlaceOrders, wires: list[Any], sent: list[OrderRequest],
                       deps: ExecutorDeps, report: Report) -> None:
    result = await _send("place", order_action(wires), len(sent), cmd.expires_after_ms, deps,
                         request_id=cmd.request_id)
    cloids = tuple(r.cloid for r in sent)
    if isinstance(result, _Unknown):
        await report(RequestUnknown(request_id=cmd.request_id, kind="place", cloids=cloids,
                                    expires_after_ms=cmd.expires_after_ms, reason=result.reason))
        return
    if isinstance(result, _Rejected):
        for c in cloids:
            await report(OrderRejected(request_id=cmd.request_id, cloid=c, error=result.text))
        return
    statuses = _parsed(parse_order_statuses, result, len(sent))
    if statuses is None:
        await report(RequestUnknown(request_id=cmd.request_id, kind="place", cloids=cloids,
                                    expires_after_ms=cmd.expires_after_ms,
                                    reason="unreadable reply"))
        return
    for req, st in zip(sent, statuses, strict=True):
        if isinstance(st, Resting):
            await report(OrderResting(request_id=cmd.request_id, cloid=req.cloid, oid=st.oid))
        elif isinstance(st, Filled):
            await report(OrderFilled(request_id=cmd.request_id, cloid=req.cloid, oid=st.oid,
                                     total_sz=st.total_sz, avg_px=st.avg_px))
        else:
            text = st.text if isinstance(st, StatusError) else f"unexpected status {st!r}"
            await report(OrderRejected(request_id=cmd.request_id, cloid=req.cloid, error=text))


async def cancel_directly(orders: Sequence[OpenOrder], deps: ExecutorDeps, *,
                          ttl_ms: int = 10_000) -> int:
    """Cancel ``orders`` (rows of ``frontendOpenOrders``) by oid with ``deps``, without the
    book or the executor actor — the last resort when one of them is the actor that failed.
    Chunks of at most 200, cancels' priority in the IP-weight ledger, ``expiresAfter`` now +
    ``ttl_ms``. Returns how many the exchange confirmed cancelled; never raises for an
    exchange answer (a failure leaves the order for the caller's next read)."""
    now = deps.clock.now_ms()
    cmd = CancelOrders(request_id=-1, expires_after_ms=now + ttl_ms, cancels=tuple(
        CancelRequest(coin=o.coin, cloid=o.cloid, oid=o.oid) for o in orders))
    outcomes: list[object] = []

    async def report(outcome: object) -> None:
        outcomes.append(outcome)

    await _cancel(cmd, deps, report)
    return sum(1 for o in outcomes if isinstance(o, CancelOk))


async def _cancel(cmd: CancelOrders, deps: ExecutorDeps, report: Report) -> None:
    by_oid = [c for c in cmd.cancels if c.oid is not None]
    by_cloid = [c for c in cmd.cancels if c.oid is None and c.cloid is not None]
    async with trio.open_nursery() as nursery:
        if by_oid:
            nursery.start_soon(_cancel_batch, cmd, by_oid, True, deps, report)
        if by_cloid:
            nursery.start_soon(_cancel_batch, cmd, by_cloid, False, deps, report)


async def _cancel_batch(cmd: CancelOrders, batch: list[CancelRequest], with_oid: bool,
                        deps: ExecutorDeps, report: Report) -> None:
    for i in range(0, len(batch), MAX_BATCH):
        await _cancel_chunk(cmd, batch[i:i + MAX_BATCH], with_oid, deps, report)


async def _cancel_chunk(cmd: CancelOrders, batch: list[CancelRequest], with_oid: bool,
                        deps: ExecutorDeps, report: Report) -> None:
    try:
        if with_oid:
            action = cancel_action([(deps.assets.asset(c.coin), c.oid) for c in batch])
        else:
            action = cancel_by_cloid_action([(deps.assets.asset(c.coin), c.cloid) for c in batch])
    except (KeyError, ValueError) as exc:
        for c in batch:
            await report(CancelFailed(request_id=cmd.request_id, cloid=c.cloid, oid=c.oid,
                                      error=f"not sent: {exc}"))
        return
    result = await _send("cancel", action, len(batch), cmd.expires_after_ms, deps,
                         request_id=cmd.request_id, priority=True)
    if isinstance(result, _Unknown):
        cloids = tuple(c.cloid for c in batch if c.cloid is not None)
        await report(RequestUnknown(request_id=cmd.request_id, kind="cancel", cloids=cloids,
                                    expires_after_ms=cmd.expires_after_ms, reason=result.reason))
        return
    if isinstance(result, _Rejected):
        for c in batch:
            await report(CancelFailed(request_id=cmd.request_id, cloid=c.cloid, oid=c.oid,
                                      error=result.text))
        return
    statuses = _parsed(parse_cancel_statuses, result, len(batch))
    if statuses is None:
        cloids = tuple(c.cloid for c in batch if c.cloid is not None)
        await report(RequestUnknown(request_id=cmd.request_id, kind="cancel", cloids=cloids,
                                    expires_after_ms=cmd.expires_after_ms,
                                    reason="unreadable reply"))
        return
    for c, st in zip(batch, statuses, strict=True):
        if st == "success":
            await report(CancelOk(request_id=cmd.request_id, cloid=c.cloid, oid=c.oid))
        else:
            text = st.text if isinstance(st, StatusError) else str(st)
            await report(CancelFailed(request_id=cmd.request_id, cloid=c.cloid, oid=c.oid,
                                      error=text))


async def _modify(cmd: ModifyOrders, deps: ExecutorDeps, report: Report) -> None:
    items, sent = [], []
    for m in cmd.modifies:
        try:
            items.append((m.oid, order_wire_from_request(m.order, deps.assets)))
            sent.append(m)
        except (NumberFormatError, KeyError, ValueError) as exc:
            await report(ModifyRejected(request_id=cmd.request_id, cloid=m.order.cloid,
                                        old_oid=m.oid, error=f"not sent: {exc}"))
    for i in range(0, len(sent), MAX_BATCH):
        await _modify_chunk(cmd, items[i:i + MAX_BATCH], sent[i:i + MAX_BATCH], deps, report)


async def _modify_chunk(cmd: ModifyOrders, items: list[tuple[int, Any]],
                        sent: list[ModifyRequest], deps: ExecutorDeps, report: Report) -> None:
    result = await _send("modify", batch_modify_action(items), len(sent), cmd.expires_after_ms,
                         deps, request_id=cmd.request_id)
    if isinstance(result, _Unknown):
        await report(RequestUnknown(request_id=cmd.request_id, kind="modify",
                                    cloids=tuple(m.order.cloid for m in sent),
                                    expires_after_ms=cmd.expires_after_ms, reason=result.reason))
        return
    if isinstance(result, _Rejected):
        for m in sent:
            await report(ModifyRejected(request_id=cmd.request_id, cloid=m.order.cloid,
                                        old_oid=m.oid, error=result.text))
        return
    statuses = _parsed(parse_order_statuses, result, len(sent))
    if statuses is None:
        await report(RequestUnknown(request_id=cmd.request_id, kind="modify",
                                    cloids=tuple(m.order.cloid for m in sent),
                                    expires_after_ms=cmd.expires_after_ms,
                                    reason="unreadable reply"))
        return
    for m, st in zip(sent, statuses, strict=True):
        rid, cloid = cmd.request_id, m.order.cloid
        if isinstance(st, Resting):
            await report(ModifyResting(request_id=rid, cloid=cloid, old_oid=m.oid, new_oid=st.oid))
        elif isinstance(st, Filled):
            await report(ModifyFilled(request_id=rid, cloid=cloid, old_oid=m.oid, new_oid=st.oid,
                                      total_sz=st.total_sz, avg_px=st.avg_px))
        else:
            text = st.text if isinstance(st, StatusError) else f"unexpected status {st!r}"
            await report(ModifyRejected(request_id=rid, cloid=cloid, old_oid=m.oid, error=text))


async def _schedule(cmd: ScheduleCancel, deps: ExecutorDeps, report: Report) -> None:
    result = await _send("schedule_cancel", schedule_cancel_action(cmd.at_ms), 1,
                         cmd.expires_after_ms, deps, request_id=cmd.request_id, priority=True)
    error: str | None = None
    if isinstance(result, _Unknown | _Rejected):
        error = result.reason if isinstance(result, _Unknown) else result.text
    else:
        try:
            parse_default_response(result)
        except Exception as exc:  # the codec's error: report it as data
            error = str(exc)
    if error:
        log.warning("executor scheduleCancel at=%s failed: %s", cmd.at_ms, error)
    await report(ScheduleCancelResult(request_id=cmd.request_id, at_ms=cmd.at_ms, error=error))


async def reserve_weight(deps: ExecutorDeps, weight: int, *, ttl_ms: int = 10_000) -> str | None:
    """Buy ``weight`` address requests with ``reserveRequestWeight`` (0.0005 USDC each, §8),
    sent like a cancel (first in the IP-weight ledger, allowed while the budget is spent);
    on success the budget counts them at once (:meth:`AddressBudget.reserved`). Returns
    ``None``, or why it failed (the exchange's text; never raises for an exchange answer)."""
    result = await _send("reserve", reserve_request_weight_action(weight), 0,
                         deps.clock.now_ms() + ttl_ms, deps, request_id=-1, priority=True)
    if isinstance(result, _Unknown):
        return result.reason
    if isinstance(result, _Rejected):
        return result.text
    try:
        parse_default_response(result)
    except (ExchangeError, CodecError) as exc:
        return str(exc)
    deps.budget.reserved(weight)
    log.info("executor bought %d address requests (reserveRequestWeight)", weight)
    return None
