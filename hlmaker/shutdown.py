"""The two ways the maker stops trading: cancel everything, then confirm nothing of ours rests.

* :meth:`Shutdown.through_book` — the ordered shutdown (``architecture.md``): stop the quoter
  and the dead-man lease, send ``CancelAll`` to the book, then ask the reconciler for sweeps
  until the book tracks no live order *and* the exchange lists none of ours (orphans included),
  re-sending ``CancelAll`` when orders are left that no cancel covers — all under a shielded
  ``move_on_after(shutdown_timeout_s)``. It needs the book, the executor and the reconciler.
* :meth:`Shutdown.through_venue` — when one of those three is the actor that failed (the
  supervisor is giving up): stop the quoter, the lease and the executor, then cancel by oid
  every order ``frontendOpenOrders`` lists, straight through the venue, until a read taken after
  the last placement's ``expiresAfter`` finds none (before then a placement the executor had
  sent may still land).

Both act on our orders only (``is_ours``: the cloid prefix, :mod:`hlmaker.orders.ownership`):
foreign orders on the account are left resting unless the policy is ``foreign_orders =
"cancel"``. Either writes :attr:`Shutdown.report`: ``confirmed_no_open_orders`` (bool),
``shutdown_s``
(trio seconds), ``direct: true`` for the venue path, ``aborted: true`` when
:meth:`Shutdown.abort` cut it short (a second signal).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from hlmaker.actors.executor import ExecutorDeps, cancel_directly
from hlmaker.actors.latest import Latest
from hlmaker.actors.reconciler import ReconcileStatus
from hlmaker.clock import Clock
from hlmaker.hyperliquid.errors import VenueError
from hlmaker.hyperliquid.rest import RestClient
from hlmaker.messages import BookView, CancelAll, OpenOrder
from hlmaker.supervisor import Supervisor

log = logging.getLogger("hlmaker.shutdown")

RESWEEP_SYNCED_S = 0.2
"""Wait before the next sweep when nothing rests but the book is not yet synced (s)."""
RESWEEP_S = 0.5
"""Wait between sweeps while orders rest (s)."""


class Shutdown:
    """The maker's shutdown: which protocol ran, what it saw, and the switch that aborts it."""

    def __init__(self, is_ours: Callable[[OpenOrder], bool] = lambda _row: True) -> None:
        self.is_ours = is_ours
        """Which listed orders the shutdown must see gone (and, through the venue, cancels)."""
        self.report: dict[str, Any] = {}
        """Empty until a shutdown ran (see the module docstring for the keys)."""
        self.aborted = False
        self._scope: trio.CancelScope | None = None

    def abort(self) -> None:
        """Give up on the orderly shutdown — running or still to come — at once (orders may
        stay on the exchange; a dead-man lease, if armed, still cancels them). The report then
        says ``aborted: true``."""
        self.aborted = True
        if self._scope is not None:
            self._scope.cancel()

    async def through_book(
        self, *, supervisor: Supervisor, inbox: trio.MemorySendChannel[object],
        request_reconcile: Callable[[str], None], reconcile_status: Latest[ReconcileStatus],
        views: Latest[BookView], clock: Clock, timeout_s: float,
    ) -> dict[str, Any]:
        """Stop quoting, cancel every order through the book and confirm none remain, within
        ``timeout_s`` (trio seconds, shielded from cancellation). Returns :attr:`report`; a
        second call returns the first's report.

        Args:
            supervisor: stops the ``quoter`` and ``dead_man`` actors.
            inbox: the book's inbox (``CancelAll`` goes there).
            request_reconcile: asks the reconciler for a sweep (reason ``"shutdown"``).
            reconcile_status: the reconciler's sweeps (``at_ms`` ≥ the request time counts).
            views: the book's views (its live orders, ``is_synced``).
            clock: ms since the epoch, to date the sweep requests.
        """
        if self.report:
            return self.report
        if self.aborted:
            self.report = {"confirmed_no_open_orders": False, "shutdown_s": 0.0,
                           "aborted": True}
            return self.report
        supervisor.stop("quoter")
        supervisor.stop("dead_man")
        started = trio.current_time()
        confirmed = False
        with trio.move_on_after(timeout_s, shield=True) as self._scope:
            await inbox.send(CancelAll())
            while True:
                asked = clock.now_ms()
                request_reconcile("shutdown")
                status = await reconcile_status.wait_for(
                    lambda s, asked=asked: s.at_ms >= asked)
                mine = [o for o in status.exchange_open if self.is_ours(o)]
                live = list(views.value.orders)
                # Each sweep decides afresh: a placement still in flight can land after an
                # empty sweep, and then "no open orders" no longer holds.
                confirmed = not mine and not live
                if confirmed:
                    if views.value.is_synced:
                        break  # and the last sweep found the book equal to the exchange
                    await trio.sleep(RESWEEP_SYNCED_S)
                    continue
                if (live and not any(o.state == "pending_cancel" for o in live)) or (
                        mine and not live):  # orphans found after the first CancelAll
                    await inbox.send(CancelAll())
                await trio.sleep(RESWEEP_S)
        self.report = {
            "confirmed_no_open_orders": confirmed and not self.aborted,
            "shutdown_s": round(trio.current_time() - started, 3),
        }
        if self.aborted:
            self.report["aborted"] = True
        log.info("maker shutdown confirmed=%s in %.2f s", confirmed,
                 trio.current_time() - started)
        return self.report

    async def through_venue(
        self, *, supervisor: Supervisor, rest: RestClient, user: str, deps: ExecutorDeps,
        clock: Clock, action_ttl_ms: int, timeout_s: float, failed: str,
    ) -> dict[str, Any]:
        """Cancel every order of ``user`` the exchange lists (``frontendOpenOrders``), by oid,
        straight through the venue — the book's cancel-all cannot run because ``failed`` (the
        book, the executor or the reconciler) failed. Bounded by ``timeout_s`` (trio seconds;
        the caller shields it). Returns :attr:`report` (with ``direct: true``).

        "Nothing rests" is confirmed only by a read taken ``action_ttl_ms`` after the executor
        was stopped: until every placement it had sent is past its ``expiresAfter``, one may
        still land. A venue error is logged and the read retried; never raises it.
        """
        for name in ("quoter", "dead_man", "executor"):
            supervisor.stop(name)
        started, confirmed = trio.current_time(), False
        quiet_from_ms = clock.now_ms() + action_ttl_ms
        with trio.move_on_after(timeout_s):
            while True:
                try:
                    read_ms = clock.now_ms()
                    left = tuple(o for o in await rest.frontend_open_orders(user)
                                 if self.is_ours(o))
                    if not left:
                        if read_ms >= quiet_from_ms:
                            confirmed = True
                            break
                        await trio.sleep(RESWEEP_S)
                        continue
                    done = await cancel_directly(left, deps)
                except VenueError as exc:
                    log.error("direct cancel-all failed: %s", exc)
                    await trio.sleep(RESWEEP_S)
                    continue
                log.warning("direct cancel-all (the %s failed): %d of %d cancelled",
                            failed, done, len(left))
        self.report = {  # the book cannot do it: this is the shutdown
            "confirmed_no_open_orders": confirmed,
            "shutdown_s": round(trio.current_time() - started, 3),
            "direct": True,
        }
        return self.report
