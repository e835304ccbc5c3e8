"""Fault decisions: seeded, counted, mapped to the reliability catalogue."""

from __future__ import annotations

import random

import pytest

from hlmaker.sim.faults import (
    PROFILES,
    ConnectionEvent,
    FaultInjector,
    PushFate,
    RequestFault,
    profile,
)


def draw(seed: int, name: str) -> list[object]:
    inj = FaultInjector(name, random.Random(seed))
    out: list[object] = []
    for _ in range(2000):
        out.append(inj.request("exchange"))
        out.append(inj.request("info"))
        out.append(inj.push())
        out.append(inj.connection(250))
    out.append(dict(inj.counts))
    return out


def test_seed_replays_exactly() -> None:
    assert draw(1, "harsh") == draw(1, "harsh")
    assert draw(1, "harsh") != draw(2, "harsh")


def test_none_profile_injects_nothing() -> None:
    inj = FaultInjector("none", random.Random(0))
    assert not inj.enabled
    for _ in range(100):
        d = inj.request("exchange")
        assert d.fault is RequestFault.NONE and d.latency_ms == 0 and d.applies and d.responds
        assert inj.push() is PushFate.DELIVER
        assert inj.connection(60_000) is None
    assert inj.catalogue() == {}


def test_harsh_profile_covers_every_kind() -> None:
    inj = FaultInjector("harsh", random.Random(3))
    for _ in range(20_000):
        inj.request("exchange")
        inj.push()
    for _ in range(2_000):
        inj.connection(1_000)
    cat = inj.catalogue()
    for fid in ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "drop_push"):
        assert cat.get(fid, 0) > 0, fid
    # Side effects are tied to the decision kind.
    d = next(
        d
        for d in (inj.request("exchange") for _ in range(10_000))
        if d.fault is RequestFault.ERROR_WITH_EFFECT
    )
    assert d.applies and d.responds and d.status >= 500
    d = next(
        d
        for d in (inj.request("exchange") for _ in range(10_000))
        if d.fault is RequestFault.LOST_LANDED
    )
    assert d.applies and not d.responds
    d = next(
        d
        for d in (inj.request("exchange") for _ in range(10_000))
        if d.fault is RequestFault.LOST_DROPPED
    )
    assert not d.applies and not d.responds
    assert inj.connection(10**9) in (ConnectionEvent.DISCONNECT, ConnectionEvent.STALL)


def test_latency_distribution() -> None:
    inj = FaultInjector("default", random.Random(0))
    xs = sorted(inj.latency_ms() for _ in range(5_000))
    median, p99 = xs[2_500], xs[4_950]
    assert 15 <= median <= 25
    assert 100 <= p99 <= 220


def test_profiles() -> None:
    assert set(PROFILES) == {"none", "default", "harsh"}
    assert profile("harsh").with_(drop_push=0.0).drop_push == 0.0
    with pytest.raises(ValueError, match="known: none, default, harsh"):
        profile("nope")
