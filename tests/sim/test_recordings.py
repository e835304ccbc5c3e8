"""Replay check of the recorded exchange traffic (``../shared/recorded-traffic``, read-only; the
test skips where it is absent): every recorded message parses, and for every request type and
channel the recordings cover, the simulator's answer has the same keys, JSON types and — for
current recordings — key order.

Rules (from the recordings' README):
* a recording is *current* when its newest timestamp is on or after 2024-10-01; older ones show
  the obsolete alphabetical key order (listed in the table as such, with their date) and are
  checked for keys and types only; undated ones (no timestamp in the body) likewise;
* ``edited``/``test-mock`` recordings were re-serialized or trimmed: keys and types only;
  ``hand-made`` ones are not judged at all;
* ``ccxt-static`` stores integers as strings: a digit string there matches an integer;
* keys that appear only on some objects of a kind (:data:`CONDITIONAL`) are left out of the
  key comparison; ``null`` matches any type (nullable fields).
The table of results is printed (``pytest -s``); the test fails on any mismatch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from hyperliquid.utils.signing import sign_approve_builder_fee

from hlmaker.sim.engine import Engine
from hlmaker.sim.funding import HOUR_MS
from hlmaker.sim.service import SimService
from tests.sim.helpers import KEY_A, KEY_B, T0, Client, cloid, order_action, order_wire

ROOT = Path(__file__).resolve().parents[2]
CURRENT_FROM_MS = 1_727_740_800_000  # 2024-10-01: recordings from here on show today's order
CONDITIONAL = frozenset({
    "cloid", "builderFee", "liquidation", "rawUsd", "growthMode", "lastGrowthModeChangeTime",
    "isDelisted", "onlyIsolated", "marginMode", "feeTrialEscrow", "spread", "reduceOnly",
    "maxTradeSzs", "nSigFigs", "mantissa", "isSnapshot", "triggerCondition",
})
"""Keys present on some objects of a kind only (a fill's ``cloid`` and ``builderFee``, an
isolated position's ``rawUsd``, a delisted asset's flags, the 2023 position's ``maxTradeSzs``…)."""
UNJUDGED = frozenset({"hand-made"})
TRIMMED = frozenset({"edited", "test-mock"})
"""Provenances whose messages may have lost keys: the simulator may have more, never fewer."""
MAP_PATHS = ("allMids", "allMids.mids")
ADDED_LATER = frozenset({
    "tid", "feeToken", "twapId", "collateralToken", "marginTables", "marginTableId",
    "dayBaseVlm", "origSz", "time", "crossMaintenanceMarginUsed", "users",
    "deployerTradingFeeShare", "cumFunding", "maxLeverage",
})
"""Fields the exchange added after the 2023–early-2024 recordings (the README: 2023 fills had
no ``tid`` or ``feeToken``): absent from an obsolete recording, present in the simulator."""
REMOVED_LATER = frozenset({"liquidationMarkPx"})
"""Fields of the obsolete format since replaced (a liquidation fill's ``liquidationMarkPx`` is
now the ``liquidation`` object, ``nautilus/ws_user_fill_liquidation``)."""
DISAGREEMENTS = {
    "sdk-cassettes/test_user_rate_limit__0": (
        "lacks nRequestsSurplus; the simulator keeps it as the docs and "
        "@nktkas/hyperliquid 0.33.3's UserRateLimitResponse require"),
}
"""Recordings the simulator knowingly differs from, with the reason."""


def _recordings_dir() -> Path | None:
    env = os.environ.get("HLMAKER_RECORDINGS")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "recorded-traffic",
                   ROOT.parent.parent / "shared" / "recorded-traffic"]
    return next((c for c in candidates if c.is_dir()), None)


def _timestamps(value: Any) -> Iterator[int]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _timestamps(v)
    elif isinstance(value, list):
        for v in value:
            yield from _timestamps(v)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int) and 1_500_000_000_000 < value < 2_100_000_000_000:
        yield value
    elif isinstance(value, str) and value.isdigit() and len(value) == 13:
        yield int(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


Problem = tuple[str, str, frozenset[str]]
"""(path, what, keys): what is ``recorded-only``, ``sim-only``, ``order`` or ``type``."""


def _variant(value: Any) -> Any:
    """An order/cancel status's variant: the string itself or the dict's single key."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value))
    return None


def compare(rec: Any, sim: Any, path: str, order: bool, loose_ints: bool) -> list[Problem]:
    """Differences between a recorded message and the simulator's (keys, types, key order).
    ``statuses`` arrays are unions: each recorded status is compared with the simulator's
    status of the same variant (``resting``, ``filled``, ``error``, ``"success"``); objects
    keyed by coin (``allMids``) are compared by value type only."""
    if rec is None or sim is None:
        return []
    if isinstance(rec, dict) and isinstance(sim, dict):
        if path.endswith(MAP_PATHS):
            kinds = {_kind(v) for v in rec.values()} | {_kind(v) for v in sim.values()}
            return [] if len(kinds) <= 1 else [(path, "type", frozenset(kinds))]
        rk = [k for k in rec if k not in CONDITIONAL]
        sk = [k for k in sim if k not in CONDITIONAL]
        out: list[Problem] = []
        if set(rk) - set(sk):
            out.append((path, "recorded-only", frozenset(set(rk) - set(sk))))
        if set(sk) - set(rk):
            out.append((path, "sim-only", frozenset(set(sk) - set(rk))))
        common_r = [k for k in rk if k in sk]
        common_s = [k for k in sk if k in rk]
        if order and common_r != common_s:
            out.append((path, "order", frozenset(common_r)))
        for k in common_r:
            out += compare(rec[k], sim[k], f"{path}.{k}", order, loose_ints)
        return out
    if isinstance(rec, list) and isinstance(sim, list):
        out = []
        if path.endswith("statuses"):
            for i, r in enumerate(rec[:3]):
                same = [x for x in sim if _variant(x) == _variant(r)]
                if not same:
                    out.append((f"{path}[{i}]", "type", frozenset({str(_variant(r))})))
                else:
                    out += compare(r, same[0], f"{path}[{i}]", order, loose_ints)
            return out
        for i, (r, x) in enumerate(zip(rec[:3], sim[:3])):
            out += compare(r, x, f"{path}[{i}]", order, loose_ints)
        return out
    if loose_ints and isinstance(rec, str) and rec.isdigit() and isinstance(sim, int):
        return []
    if _kind(rec) != _kind(sim):
        return [(path, "type", frozenset({f"recorded {_kind(rec)}", f"sim {_kind(sim)}"}))]
    return []


def _scenario() -> dict[str, Any]:
    """The simulator's answer for every request type and channel the recordings cover."""
    svc = SimService(Engine())
    a, b, c = Client(svc, KEY_A), Client(svc, KEY_B), Client(svc, "0x" + "44" * 32)
    ws = svc.open_session()
    feeds = [{"type": "l2Book", "coin": "SOL"}, {"type": "trades", "coin": "SOL"},
             {"type": "allMids"}, {"type": "userEvents", "user": a.address},
             {"type": "orderUpdates", "user": a.address}, {"type": "allDexsAssetCtxs"},
             {"type": "userTwapHistory", "user": a.address},
             {"type": "userTwapSliceFills", "user": a.address}]
    first: dict[str, Any] = {}

    def collect(texts: list[str]) -> None:
        for text in texts:
            msg = json.loads(text)
            first.setdefault(msg["channel"], msg)

    for feed in feeds:
        collect(ws.on_text(json.dumps({"method": "subscribe", "subscription": feed}), T0))
    c.exchange(order_action(order_wire(2, True, "149", "5"), order_wire(2, False, "151", "5")))
    approve = {"type": "approveBuilderFee", "maxFeeRate": "0.01%", "builder": "0x" + "b1" * 20,
               "nonce": T0 + 99}
    sig = sign_approve_builder_fee(Account.from_key(KEY_A), dict(approve), False)
    approve.update(signatureChainId="0x66eee", hyperliquidChain="Testnet")
    svc.handle_exchange({"action": approve, "nonce": T0 + 99, "signature": sig,
                         "vaultAddress": None, "expiresAfter": None}, T0)
    answers: dict[str, Any] = {}
    rest = order_action(order_wire(2, True, "150", "3", cloid=cloid(7)))
    answers["exchange:order:1"] = a.exchange(rest, T0 + 10)
    cancel = a.exchange({"type": "cancel", "cancels": [{"a": 2, "o": 999}]}, T0 + 11)
    answers["exchange:cancel:1"] = cancel
    answers["exchange:default"] = a.exchange({"type": "noop"}, T0 + 12)
    builder_order = order_action(order_wire(2, True, "150", "1"))
    builder_order["builder"] = {"b": "0x" + "b1" * 20, "f": 10}
    a.exchange(builder_order, T0 + 13)
    filled = b.exchange(order_action(order_wire(2, False, "150", "3", tif="Ioc")), T0 + 20)
    placed = a.exchange(order_action(order_wire(2, True, "140", "1", cloid=cloid(8)),
                                     order_wire(2, True, "140", "0.001")), T0 + 21)
    canceled = a.exchange({"type": "cancelByCloid", "cancels": [{"asset": 2, "cloid": cloid(8)}]},
                          T0 + 22)
    a.exchange(order_action(order_wire(2, True, "140", "1", cloid=cloid(8))), T0 + 23)
    # An order with its take-profit and stop-loss (grouping normalTpsl, as ccxt's recording):
    # the parent fills against the 151 ask, the children wait for their triggers.
    tpsl = order_action(order_wire(2, True, "152", "1", tif="Ioc"), *(
        {"a": 2, "b": False, "p": px, "s": "1", "r": True,
         "t": {"trigger": {"isMarket": True, "triggerPx": px, "tpsl": kind}}}
        for px, kind in (("170", "tp"), ("130", "sl"))))
    tpsl["grouping"] = "normalTpsl"
    waiting = a.exchange(tpsl, T0 + 24)
    # Status arrays are unions: gather one status of each variant the simulator produces.
    answers["exchange:order:1"]["response"]["data"]["statuses"] += (
        filled["response"]["data"]["statuses"] + placed["response"]["data"]["statuses"]
        + waiting["response"]["data"]["statuses"])
    cancel["response"]["data"]["statuses"] += canceled["response"]["data"]["statuses"]
    hour = T0 - T0 % HOUR_MS + HOUR_MS
    svc.step(hour)
    for push in ws.take_pushes():
        msg = json.loads(push.text)
        first.setdefault(msg["channel"], msg)
    now = hour + 1
    user = {"user": a.address}
    for kind in ("meta", "allPerpMetas", "spotMeta", "metaAndAssetCtxs", "allMids"):
        answers[kind] = a.info({"type": kind}, now)
    answers["l2Book"] = a.info({"type": "l2Book", "coin": "SOL"}, now)
    answers["recentTrades"] = a.info({"type": "recentTrades", "coin": "SOL"}, now)
    answers["fundingHistory"] = a.info({"type": "fundingHistory", "coin": "SOL", "startTime": 0},
                                       now)
    answers["candleSnapshot"] = a.info({"type": "candleSnapshot", "req": {
        "coin": "SOL", "interval": "1m", "startTime": 0}}, now)
    for kind in ("clearinghouseState", "spotClearinghouseState", "openOrders",
                 "frontendOpenOrders", "historicalOrders", "userFills", "userRateLimit",
                 "userRole", "portfolio", "extraAgents", "userVaultEquities",
                 "delegatorHistory", "userTwapSliceFills"):
        answers[kind] = a.info({"type": kind, **user}, now)
    for kind in ("userFillsByTime", "userFunding", "userNonFundingLedgerUpdates"):
        answers[kind] = a.info({"type": kind, "startTime": 0, **user}, now)
    answers["orderStatus"] = a.info({"type": "orderStatus", "oid": cloid(8), **user}, now)
    for channel, msg in first.items():
        answers[f"ws:{channel}"] = msg
    return answers


def _dates(folder: Path) -> dict[str, int]:
    """Newest timestamp per recording; an undated one takes its sibling's (same test, same
    cassette: ``test_get_info__0`` is dated by no sibling, ``test_get_l2_snapshot__0`` by
    ``…__1``)."""
    own: dict[str, int | None] = {}
    for path in folder.glob("*/*.json"):
        stamps = list(_timestamps(json.loads(json.loads(path.read_text())["body"])))
        own[f"{path.parent.name}/{path.stem}"] = max(stamps) if stamps else None
    out: dict[str, int] = {}
    for name, date in own.items():
        prefix = name.rsplit("__", 1)[0]
        sib = [d for n, d in own.items() if n.rsplit("__", 1)[0] == prefix and d is not None]
        if date is not None or sib:
            out[name] = date if date is not None else max(sib)
    return out


def _key_lists(value: Any) -> Iterator[list[str]]:
    if isinstance(value, dict):
        yield list(value)
        for v in value.values():
            yield from _key_lists(v)
    elif isinstance(value, list):
        for v in value:
            yield from _key_lists(v)


def _alphabetical(value: Any) -> bool:
    """Whether the message has objects of several keys and all list them alphabetically (the
    2023 format)."""
    multi = [keys for keys in _key_lists(value) if len(keys) >= 3]
    return bool(multi) and all(keys == sorted(keys) for keys in multi)


def _judge(
    name: str, prov: str, date: int | None, body: Any, problems: list[Problem]
) -> tuple[str, bool]:
    """(verdict, ok) of one recording's comparison."""
    if name in DISAGREEMENTS:
        return f"known difference: {DISAGREEMENTS[name]}", True
    sorted_undated = date is None and prov == "recorded" and _alphabetical(body)
    dated_old = date is not None and date < CURRENT_FROM_MS and prov != "edited"
    obsolete = dated_old or sorted_undated
    notes: list[str] = []
    bad: list[Problem] = []
    for path, what, keys in problems:
        if what == "sim-only" and prov in TRIMMED:
            continue
        if obsolete and what == "sim-only" and keys <= ADDED_LATER:
            notes.append(f"lacks {sorted(keys)}")
            continue
        if obsolete and what == "recorded-only" and keys <= REMOVED_LATER:
            notes.append(f"has {sorted(keys)}")
            continue
        bad.append((path, what, keys))
    if bad:
        return "MISMATCH " + "; ".join(f"{p} {w} {sorted(k)}" for p, w, k in bad), False
    when = "undated" if date is None else f"newest {date}"
    if obsolete:
        extra = f"; {', '.join(sorted(set(notes)))}" if notes else ""
        keys = "alphabetical keys" if _alphabetical(body) else "keys not compared in order"
        return f"obsolete format, before 2024-10 ({when}; {keys}{extra})", True
    if date is not None and prov in ("recorded", "ccxt-static"):
        verdict = "same keys, types and order"
    else:
        verdict = f"same keys and types ({prov}, {when})"
    return verdict + (f" — {'; '.join(notes)}" if notes else ""), True


def test_recordings_replay_against_the_simulator() -> None:
    folder = _recordings_dir()
    if folder is None:
        pytest.skip("../shared/recorded-traffic is absent (set HLMAKER_RECORDINGS to point at it)")
    answers = _scenario()
    dates = _dates(folder)
    table: list[tuple[str, str, str]] = []
    failures: list[str] = []
    for path in sorted(folder.glob("*/*.json")):
        rec = json.loads(path.read_text())
        name = f"{path.parent.name}/{path.stem}"
        body = json.loads(rec["body"])  # every recorded message parses
        kind = rec.get("info_type") or rec.get("channel")
        key = kind if rec["kind"] in ("info", "exchange") else f"ws:{kind}"
        if key.startswith("exchange:order"):
            key = "exchange:order:1"
        prov = rec["provenance"]
        if prov in UNJUDGED or rec["kind"] == "ws-data":
            table.append((name, key, f"not judged ({prov})"))
            continue
        if key not in answers:
            table.append((name, key, "no simulator counterpart"))
            continue
        sim = answers[key]
        if rec["kind"] == "ws":
            body, sim = body.get("data"), sim.get("data")
        date = dates.get(name)
        order = date is not None and date >= CURRENT_FROM_MS and prov in ("recorded",
                                                                          "ccxt-static")
        problems = compare(body, sim, key, order, prov == "ccxt-static")
        verdict, ok = _judge(name, prov, date, body, problems)
        if not ok:
            failures.append(f"{name}: {verdict}")
        table.append((name, key, verdict))
    width = max(len(n) for n, _, _ in table)
    print("\n".join(f"{n.ljust(width)}  {k:28}  {v}" for n, k, v in table))
    assert failures == [], "\n".join(failures)
