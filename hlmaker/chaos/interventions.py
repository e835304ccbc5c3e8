"""What the simulated exchange does to the engine and the pushes for some catalogue faults.

Pure functions over the simulator's :class:`~hlmaker.sim.engine.Engine` and
:class:`~hlmaker.sim.service.SimService` (no clock, no randomness, no I/O), used by
:class:`~.exchange.SimExchange`:

* :func:`fill_through` — a synthetic taker sweeps through one of our resting orders;
* :func:`race_fill` (F11) — that, for every order a cancel or modify is about to hit;
* :func:`split_late_cancels` (F12) — the ``canceled`` rows of replaced oids held back;
* :func:`exchange_cancel` (F10) — the exchange cancels our orders (margin, reduce-only,
  scheduled, or a plain ``canceled`` announced on ``userEvents`` as ``nonUserCancel``);
* :func:`liquidation_fill` (F10) — a trade on our account by an order we never placed;
* :func:`foreign_activity` (F18) — another client on our account places, modifies and cancels
  orders without our cloid prefix, and trades.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from decimal import ROUND_UP, Decimal
from typing import Any, TypeVar

from hlmaker.sim.effects import Effects, ModifyEntry, OrderEntry
from hlmaker.sim.engine import Engine
from hlmaker.sim.market import TAKER_ADDRESS
from hlmaker.sim.rules import round_price
from hlmaker.sim.service import SimService
from hlmaker.sim.triggers import Tpsl, TriggerSpec
from hlmaker.sim.ws import Push, dumps

RATE_LIMIT_TEXT = ("Too many cumulative requests sent (10001 > 10000) for cumulative volume "
                   "traded $0.00. Place taker orders to free up 1 request per USDC traded.")
"""The exchange's address-rate-limit refusal (§4.3), for F8."""
PREVALIDATION_TEXT = "Order price cannot be more than 80% away from the reference price"
"""A pre-validation error the exchange returns once for a whole batch (§4.3), for F15."""

C = TypeVar("C")


def fill_through(engine: Engine, service: SimService, coin: str, side: str, px: Decimal,
                 oid: int, now_ms: int) -> Effects:
    """Send a synthetic taker IOC big enough to fill every order ahead of ``oid`` and ``oid``
    itself (resting on ``side`` at ``px``); publish and return the effects."""
    book = engine.book(coin).side(side)  # type: ignore[arg-type]
    ahead = Decimal(0)
    for level_px, orders in book.levels_best_first():
        for o in orders.values():
            ahead += o.sz
            if o.oid == oid:
                break
        else:
            if level_px == px:
                break
            continue
        break
    if ahead <= 0:
        return Effects()
    req = OrderEntry(engine.coin_to_asset[coin], side != "B", px, ahead, False, "Ioc")
    _, fx = engine.place(TAKER_ADDRESS, [req], now_ms)
    service.publish(fx, now_ms)
    return fx


def race_fill(engine: Engine, service: SimService, user: str, action: dict[str, Any],
              now_ms: int) -> None:
    """F11: a taker sweeps through each order about to be cancelled (or modified, which is
    cancel-replace), just before the action lands: the cancel then answers "never placed,
    already canceled, or filled", the modify that the order cannot be modified."""
    acct = engine.account(user)
    if acct is None:
        return
    items = list(action.get("cancels") or [])
    items += [{"o": m.get("oid")} for m in action.get("modifies") or [] if isinstance(m, dict)]
    for item in items:
        if not isinstance(item, dict):
            continue
        order = None
        if "o" in item:
            order = acct.open_orders.get(item["o"])
        elif isinstance(item.get("cloid"), str):
            oid = acct.cloids.get(item["cloid"].lower())
            order = acct.open_orders.get(oid) if oid is not None else None
        if order is None:
            continue
        fill_through(engine, service, order.coin, order.side, order.limit_px, order.oid, now_ms)


def split_late_cancels(captured: list[tuple[C, Push]], oids: set[int]
                       ) -> tuple[list[tuple[C, Push]], list[tuple[C, Push]]]:
    """F12: split ``(connection, push)`` pairs into those to deliver now and the ``canceled``
    rows of the replaced ``oids``, to deliver later (each in its own ``orderUpdates`` push)."""
    keep: list[tuple[C, Push]] = []
    late: list[tuple[C, Push]] = []
    for conn, push in captured:
        if push.channel != "orderUpdates":
            keep.append((conn, push))
            continue
        rows = json.loads(push.text)["data"]
        old = [r for r in rows if r.get("order", {}).get("oid") in oids
               and r.get("status") == "canceled"]
        if not old:
            keep.append((conn, push))
            continue
        rest = [r for r in rows if r not in old]
        if rest:
            keep.append((conn, Push("orderUpdates", dumps({"channel": "orderUpdates",
                                                           "data": rest}))))
        late.append((conn, Push("orderUpdates", dumps({"channel": "orderUpdates",
                                                       "data": old}))))
    return keep, late


def exchange_cancel(engine: Engine, service: SimService, user: str, status: str,
                    non_user_cancel: bool, now_ms: int) -> int:
    """F10: the exchange cancels every open order of ``user`` with ``status`` (and, when
    ``non_user_cancel``, says so on ``userEvents``). Returns how many."""
    fx = engine.cancel_all(user, now_ms, status)
    if non_user_cancel:
        fx.non_user_cancels.extend(
            (ev.user, ev.coin, ev.oid) for ev in fx.order_events if ev.user == user)
    n = sum(1 for ev in fx.order_events if ev.user == user)
    service.publish(fx, now_ms)
    return n


def liquidation_fill(engine: Engine, service: SimService, user: str, coin: str,
                     now_ms: int) -> bool:
    """F10: the exchange trades on ``user``'s account with an order it never placed (unknown
    oid, no cloid), reducing its position (or opening a small one when flat). Returns whether
    it filled."""
    pos = engine.position(user, coin)
    mid = engine.mark(coin)
    spec = engine.universe[engine.coin_to_asset[coin]]
    lot = Decimal(1).scaleb(-spec.sz_decimals)
    if pos != 0:
        is_buy = pos < 0
        sz = min(abs(pos), max(abs(pos) / 2, lot))
        reduce_only = True
    else:
        is_buy = True
        sz = (Decimal(50) / mid).quantize(lot)
        reduce_only = False
    sz = sz.quantize(lot)
    if sz <= 0:
        return False
    px = round_price(mid * (Decimal("1.02") if is_buy else Decimal("0.98")), spec.sz_decimals)
    req = OrderEntry(engine.coin_to_asset[coin], is_buy, px, sz, reduce_only, "Ioc")
    _, fx = engine.place(user, [req], now_ms)
    service.publish(fx, now_ms)
    return any(f.user == user for f in fx.fills)


FOREIGN_CLOID_PREFIX = "0xf0f0"
"""The other client's cloid namespace in F18 (half of its orders carry no cloid at all)."""


def foreign_activity(engine: Engine, service: SimService, user: str, coin: str,
                     rng: random.Random, is_ours: Callable[[str | None], bool],
                     now_ms: int) -> str | None:
    """F18: one act of another client trading on ``user``'s account without our prefix
    (``is_ours``): place a resting limit order 1–3 % away from the mark (a cloid of its own
    namespace or none), place a trigger order (a ``tp`` or ``sl``, market or limit, its
    trigger 1–3 % away on the side where it waits: :mod:`hlmaker.sim.triggers`), modify one of
    its resting orders (cancel-replace, same cloid), cancel one (trigger orders included), or
    trade (an IOC crossing the book, as a taker). Publishes the effects; returns the kind done
    (``foreign_place``, ``foreign_trigger``, ``foreign_modify``, ``foreign_cancel``,
    ``foreign_trade``) or ``None``.
    """
    acct = engine.account(user)
    if acct is None:
        return None
    asset = engine.coin_to_asset[coin]
    spec = engine.universe[asset]
    mark = engine.mark(coin)
    lot = Decimal(1).scaleb(-spec.sz_decimals)
    theirs = sorted((o for o in acct.open_orders.values() if o.coin == coin
                     and not is_ours(o.cloid)), key=lambda o: o.oid)
    what = rng.choices(("place", "modify", "cancel", "trade", "trigger"), (4, 2, 2, 2, 2))[0]
    resting = [o for o in theirs if o.trigger is None]
    if (what == "modify" and not resting) or (what == "cancel" and not theirs):
        what = "place"
    sz = (Decimal(rng.randint(15, 40)) / mark).quantize(lot, rounding=ROUND_UP)
    if what == "place":
        is_buy = rng.random() < 0.5
        away = Decimal(rng.randint(100, 300)) / 10_000
        px = round_price(mark * (1 - away if is_buy else 1 + away), spec.sz_decimals)
        cloid = (f"{FOREIGN_CLOID_PREFIX}{rng.getrandbits(112):028x}"
                 if rng.random() < 0.5 else None)
        _, fx = engine.place(user, [OrderEntry(asset, is_buy, px, sz, False, "Gtc", cloid)],
                             now_ms)
    elif what == "trigger":
        is_buy = rng.random() < 0.5
        tpsl: Tpsl = rng.choice(("tp", "sl"))
        is_market = rng.random() < 0.5
        away = Decimal(rng.randint(100, 300)) / 10_000
        # It waits on the side it fires from: a sell stop or a buy take-profit fires when the
        # mark falls to its trigger, the others when the mark rises to it.
        below = (not is_buy and tpsl == "sl") or (is_buy and tpsl == "tp")
        trigger_px = round_price(mark * (1 - away if below else 1 + away), spec.sz_decimals)
        # A market trigger's limit price is the worst it accepts (10 % of slippage).
        slip = Decimal("1.1") if is_buy else Decimal("0.9")
        px = round_price(trigger_px * slip, spec.sz_decimals) if is_market else trigger_px
        cloid = (f"{FOREIGN_CLOID_PREFIX}{rng.getrandbits(112):028x}"
                 if rng.random() < 0.5 else None)
        _, fx = engine.place(user, [OrderEntry(asset, is_buy, px, sz, False, "Trigger", cloid,
                                               TriggerSpec(trigger_px, is_market, tpsl))],
                             now_ms)
    elif what == "modify":
        old = rng.choice(resting)
        is_buy = old.side == "B"
        away = Decimal(rng.randint(100, 300)) / 10_000
        px = round_price(mark * (1 - away if is_buy else 1 + away), spec.sz_decimals)
        _, fx = engine.batch_modify(user, [ModifyEntry(old.oid, OrderEntry(
            asset, is_buy, px, old.sz, False, "Gtc", old.cloid))], now_ms)
    elif what == "cancel":
        _, fx = engine.cancel(user, [(asset, rng.choice(theirs).oid)], now_ms)
    else:
        is_buy = rng.random() < 0.5
        px = round_price(mark * (Decimal("1.02") if is_buy else Decimal("0.98")),
                         spec.sz_decimals)
        _, fx = engine.place(user, [OrderEntry(asset, is_buy, px, sz, False, "Ioc")], now_ms)
    service.publish(fx, now_ms)
    return f"foreign_{what}"
