"""Shared pieces of the actor tests: a sim wallet, an asset map and a fake ``/exchange`` +
``/info`` behind ``httpx.MockTransport`` that records every request with its trio time."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import httpx
import pytest
import trio

from hlmaker.hyperliquid.keys import Wallet
from hlmaker.hyperliquid.meta import AssetMap
from hlmaker.run import sim_key

EPOCH = 1_700_000_000_000
USER_SEED = 11
META = {"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
                     {"name": "ETH", "szDecimals": 4, "maxLeverage": 50}]}
ASSETS = AssetMap.from_meta(META)
WALLET = Wallet(sim_key(USER_SEED))
USER = WALLET.query_address


def cloid(n: int) -> str:
    """A valid 16-byte cloid."""
    return f"0x{n:032x}"


@attrs.define
class Seen:
    """One request the fake exchange received."""

    path: str
    raw: bytes
    at: float

    @property
    def body(self) -> Any:
        return json.loads(self.raw)

    @property
    def kind(self) -> str:
        body = self.body
        return str(body["action"]["type"] if self.path == "/exchange" else body["type"])


Reply = httpx.Response | Callable[[httpx.Request], Awaitable[httpx.Response]] | Exception


class FakeVenue:
    """``httpx.MockTransport`` handler.

    ``/exchange`` answers from the queue ``exchange`` (an ``httpx.Response``, an exception to
    raise, or an async callable), else from ``exchange_default(body)``. ``/info`` answers
    from ``info[type]`` (a value, or a callable ``body -> value | Response | Exception``).
    """

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.exchange: list[Reply] = []
        self.exchange_default: Callable[[Any], Any] = lambda body: ok_order(
            [{"resting": {"oid": 1}}] * len(body["action"].get("orders", [1])))
        self.info: dict[str, Any] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(Seen(request.url.path, request.content, trio.current_time()))
        await trio.lowlevel.checkpoint()
        if request.url.path == "/exchange":
            reply: Any = self.exchange.pop(0) if self.exchange else httpx.Response(
                200, json=self.exchange_default(json.loads(request.content)))
        else:
            body = json.loads(request.content)
            value = self.info[body["type"]]
            reply = value(body) if callable(value) else value
            if not isinstance(reply, httpx.Response | Exception) and not callable(reply):
                reply = httpx.Response(200, json=reply)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            reply = await reply(request)
        return reply

    def of(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def ok_order(statuses: list[Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}


def ok_cancel(statuses: list[Any]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}


async def never_answer(request: httpx.Request) -> httpx.Response:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


@pytest.fixture
def venue() -> FakeVenue:
    return FakeVenue()
