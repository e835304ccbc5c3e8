"""REST client for ``POST /info`` and ``POST /exchange`` on ``httpx.AsyncClient`` (trio).

Every request is ``POST <base_url>/info`` or ``/exchange`` with a JSON body (protocol ref §1);
bodies are the exact ones the SDK sends (§2). Replies are decoded with exact decimals and parsed
into :mod:`hlmaker.messages` types by :mod:`hlmaker.hyperliquid.codec`.

Errors (tree in :mod:`hlmaker.hyperliquid.errors`):

* connection failures → :class:`TransportError`; no reply within ``timeout_s`` →
  :class:`RequestTimeout` (a trio deadline around the whole request, so it also holds with
  in-process transports and ``MockClock``);
* HTTP 429 → :class:`RateLimited`, 5xx → :class:`ServerError`, other 4xx → :class:`BadRequest`;
* a 2xx body that is not JSON or has the wrong shape → :class:`CodecError`;
* ``/exchange`` ``{"status": "err"}`` → :class:`ExchangeError` (``.text``). Per-order statuses are
  data: parse them with :func:`~hlmaker.hyperliquid.codec.parse_order_statuses`.

Usage::

    async with RestClient("http://127.0.0.1:8080") as rest:
        assets = await rest.asset_map()
        reply = await rest.post_action(signer.sign(action).envelope)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol

import httpx
import trio

from hlmaker.hyperliquid.codec import (
    decode_json,
    parse_all_mids,
    parse_exchange_response,
    parse_fills,
    parse_l2_book,
    parse_open_orders,
    parse_order_status,
    parse_positions,
    parse_twap_slice_fills,
)
from hlmaker.hyperliquid.errors import (
    BadRequest,
    CodecError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
)
from hlmaker.hyperliquid.meta import AssetMap
from hlmaker.messages import AllMids, Fill, L2Book, OpenOrder, OrderStatusReport, TwapSliceFills

MAINNET_URL = "https://api.hyperliquid.xyz"
TESTNET_URL = "https://api.hyperliquid-testnet.xyz"
_HEADERS = {"Content-Type": "application/json"}


class RequestGate(Protocol):
    """Paces a client's requests (hlmaker's per-IP weight ledger,
    :class:`hlmaker.actors.ratelimit.WeightGate`): ``enter`` is awaited before each request
    (it may wait) and returns a token; ``leave`` is called once with it when the request is
    over — ``status`` the HTTP status (``None``: no answer), ``reply`` the decoded body of a 2xx,
    the ``Retry-After`` seconds (or ``None``) of a 429."""

    async def enter(self, path: str, body: Any) -> object: ...

    def leave(self, token: object, status: int | None, reply: Any) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


class RestClient:
    """Async client of one exchange base URL (no trailing slash, e.g. ``http://127.0.0.1:8080``).

    Args:
        base_url: REST root; ``/info`` and ``/exchange`` are appended.
        transport: an ``httpx.AsyncBaseTransport`` (``httpx.MockTransport`` in tests); default
            is httpx's network transport.
        timeout_s: deadline of each request, seconds (trio time).
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout_s, headers=_HEADERS)
        self._gate: RequestGate | None = None

    def gated(self, gate: RequestGate | None) -> RestClient:
        """A view of this client whose every request passes ``gate`` (waits before, is counted
        after); it shares the connection pool — close the original, not the view."""
        view = copy.copy(self)
        view._gate = gate
        return view

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def _post(self, path: str, body: Any) -> Any:
        gate = self._gate
        if gate is None:
            return await self._send(path, body)
        token = await gate.enter(path, body)
        status: int | None = None
        reply: Any = None
        try:
            reply = await self._send(path, body)
            status = 200
            return reply
        except RateLimited as exc:
            status, reply = 429, exc.retry_after_s
            raise
        except (ServerError, BadRequest) as exc:
            status = exc.status_code
            raise
        except CodecError:
            status = 200
            raise
        finally:
            gate.leave(token, status, reply)

    async def _send(self, path: str, body: Any) -> Any:
        content = json.dumps(body, separators=(",", ":")).encode()
        try:
            with trio.fail_after(self.timeout_s):
                response = await self._client.post(self.base_url + path, content=content)
        except (trio.TooSlowError, httpx.TimeoutException):
            raise RequestTimeout(f"POST {path}: no response within {self.timeout_s} s") from None
        except httpx.HTTPError as exc:
            raise TransportError(f"POST {path}: {type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status == 429:
            raise RateLimited(status, response.text, _retry_after(response))
        if status >= 500:
            raise ServerError(status, response.text)
        if status >= 300:
            raise BadRequest(status, response.text)
        try:
            return decode_json(response.content)
        except CodecError as exc:
            raise CodecError(f"POST {path}: {exc}") from None

    # ---- raw -----------------------------------------------------------------------------

    async def info(self, body: dict[str, Any]) -> Any:
        """``POST /info`` with ``body`` (must have ``"type"``); the decoded reply, raw (JSON
        non-integers as ``Decimal``)."""
        return await self._post("/info", body)

    async def post_action(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """``POST /exchange`` with a signed envelope (:func:`~.envelope.build_envelope`).

        Returns:
            the raw reply ``{"status": "ok", "response": {...}}``.

        Raises:
            ExchangeError: ``{"status": "err"}`` — the whole action was refused.
            (and the transport/HTTP errors of the module docstring)
        """
        reply = await self._post("/exchange", envelope)
        parse_exchange_response(reply)
        return reply  # type: ignore[no-any-return]

    # ---- market and metadata -------------------------------------------------------------

    async def meta(self, dex: str = "") -> dict[str, Any]:
        """``{"type": "meta", "dex": dex}`` → the perp universe (§2.1), raw."""
        return await self._info_object({"type": "meta", "dex": dex})

    async def spot_meta(self) -> dict[str, Any]:
        """``{"type": "spotMeta"}`` → tokens and spot universe (§2.2), raw."""
        return await self._info_object({"type": "spotMeta"})

    async def perp_dexs(self) -> list[Any]:
        """``{"type": "perpDexs"}`` → ``[null, {"name", ...}, ...]`` (§2.12), raw."""
        reply = await self.info({"type": "perpDexs"})
        if not isinstance(reply, list):
            raise CodecError("perpDexs: expected an array")
        return reply

    async def asset_map(
        self, *, include_spot: bool = True, builder_dexes: Sequence[str] = ()
    ) -> AssetMap:
        """Fetch ``meta`` (+ ``spotMeta``, + ``perpDexs`` and each named builder dex's ``meta``)
        and build an :class:`~.meta.AssetMap`.

        Raises:
            KeyError: a named builder dex is not in ``perpDexs``.
        """
        meta = await self.meta()
        spot = await self.spot_meta() if include_spot else None
        dexes: list[tuple[int, str, dict[str, Any]]] = []
        if builder_dexes:
            listed = await self.perp_dexs()
            index = {d.get("name"): i for i, d in enumerate(listed) if isinstance(d, dict)}
            for name in builder_dexes:
                if name not in index:
                    raise KeyError(f"builder dex {name!r} not in perpDexs")
                dexes.append((index[name], name, await self.meta(name)))
        return AssetMap.from_meta(meta, spot, dexes)

    async def all_mids(self, dex: str = "") -> AllMids:
        """``{"type": "allMids", "dex": dex}`` → mid per coin (§2.3)."""
        return parse_all_mids(await self.info({"type": "allMids", "dex": dex}))

    async def l2_book(self, coin: str, n_sig_figs: int | None = None) -> L2Book | None:
        """``{"type": "l2Book", "coin": coin[, "nSigFigs"]}`` → book, ≤ 20 levels a side (§2.4);
        ``None`` when the exchange answers ``null`` (unknown coin)."""
        body: dict[str, Any] = {"type": "l2Book", "coin": coin}
        if n_sig_figs is not None:
            body["nSigFigs"] = n_sig_figs
        reply = await self.info(body)
        return None if reply is None else parse_l2_book(reply)

    # ---- account -------------------------------------------------------------------------

    async def open_orders(self, user: str, dex: str = "") -> tuple[OpenOrder, ...]:
        """``{"type": "openOrders", "user", "dex"}`` → open orders, newest first (§2.5)."""
        return parse_open_orders(await self.info({"type": "openOrders", "user": user, "dex": dex}))

    async def frontend_open_orders(self, user: str, dex: str = "") -> tuple[OpenOrder, ...]:
        """``{"type": "frontendOpenOrders", "user", "dex"}`` → open orders with ``cloid`` and
        ``reduceOnly`` always present (§2.6)."""
        return parse_open_orders(
            await self.info({"type": "frontendOpenOrders", "user": user, "dex": dex}))

    async def clearinghouse_state(self, user: str, dex: str = "") -> dict[str, Any]:
        """``{"type": "clearinghouseState", "user", "dex"}`` → the perp account (§2.7), raw."""
        return await self._info_object({"type": "clearinghouseState", "user": user, "dex": dex})

    async def positions(self, user: str, dex: str = "") -> dict[str, Decimal]:
        """Signed ``szi`` per coin (coin units) from ``clearinghouseState``; flat coins absent."""
        return parse_positions(await self.clearinghouse_state(user, dex))

    async def user_fills(self, user: str, aggregate_by_time: bool = False) -> tuple[Fill, ...]:
        """``{"type": "userFills", "user"[, "aggregateByTime"]}`` → ≤ 2000 most recent fills,
        newest first (§2.8)."""
        body: dict[str, Any] = {"type": "userFills", "user": user}
        if aggregate_by_time:
            body["aggregateByTime"] = True
        return parse_fills(await self.info(body))

    async def user_fills_by_time(
        self, user: str, start_ms: int, end_ms: int | None = None, aggregate_by_time: bool = False
    ) -> tuple[Fill, ...]:
        """``{"type": "userFillsByTime", "user", "startTime", "endTime", "aggregateByTime"}`` →
        fills with ``start_ms ≤ time ≤ end_ms`` (ms; ``None`` = now), at most one page of
        500–2000 rows (§2.9): page by re-asking from the last row's time."""
        return parse_fills(await self.info({
            "type": "userFillsByTime", "user": user, "startTime": start_ms, "endTime": end_ms,
            "aggregateByTime": aggregate_by_time,
        }))

    async def user_twap_slice_fills(self, user: str) -> TwapSliceFills:
        """``{"type": "userTwapSliceFills", "user"}`` → the account's TWAP slice fills, each
        with its ``twapId`` (§2.12, §8; recorded reply: the SDK cassette, an empty list)."""
        return parse_twap_slice_fills(
            await self.info({"type": "userTwapSliceFills", "user": user}), user=user)

    async def order_status(
        self, user: str, oid_or_cloid: int | str, queried_at_ms: int
    ) -> OrderStatusReport:
        """``{"type": "orderStatus", "user", "oid": <int oid | cloid string>}`` (§2.10).

        ``queried_at_ms`` (ms since the epoch, from the caller's clock) is recorded in the
        report: an ``unknownOid`` is final only once it is later than the action's
        ``expiresAfter`` (reliability S6).
        """
        reply = await self.info({"type": "orderStatus", "user": user, "oid": oid_or_cloid})
        cloid = oid_or_cloid.lower() if isinstance(oid_or_cloid, str) else None
        return parse_order_status(reply, cloid, queried_at_ms)

    async def _info_object(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.info(body)
        if not isinstance(reply, dict):
            raise CodecError(f"{body['type']}: expected an object")
        return reply
