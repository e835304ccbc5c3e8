"""``POST /info`` of the simulator: one answer per request ``type`` (§2), over the engine and the
service's tape, funding book and user ledger.

:meth:`InfoDesk.answer` takes the parsed request and ``now_ms`` (ms since the epoch) and returns
the JSON-able reply; a malformed request or an unknown ``type`` raises
:class:`~hlmaker.sim.requests.Reject` (422, the exchange's plain-text error).

Served: ``meta``, ``spotMeta``, ``metaAndAssetCtxs``, ``spotMetaAndAssetCtxs``, ``allPerpMetas``,
``allMids``, ``perpDexs``, ``exchangeStatus``, ``l2Book``, ``recentTrades``, ``candleSnapshot``,
``fundingHistory``, ``predictedFundings``; per user ``openOrders``, ``frontendOpenOrders``,
``clearinghouseState``, ``spotClearinghouseState``, ``userFills``, ``userFillsByTime``,
``orderStatus``, ``historicalOrders``, ``userRateLimit``, ``userRole``, ``userFunding``,
``userFees``, ``activeAssetData``, ``maxBuilderFee``, ``userNonFundingLedgerUpdates``,
``portfolio``, ``extraAgents``, ``userAbstraction``, and (always empty: no TWAP, vaults or
staking in the simulator) ``userTwapSliceFills``, ``userVaultEquities``, ``delegatorHistory``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hlmaker.sim import views
from hlmaker.sim.engine import Engine
from hlmaker.sim.funding import FundingBook
from hlmaker.sim.ledger import UserLedger, active_asset_data
from hlmaker.sim.requests import (
    DESERIALIZE_ERROR,
    Reject,
    address,
    integer,
    optional_int,
    string,
)
from hlmaker.sim.tape import INTERVAL_MS, TradeTape

EMPTY_USER_READS = frozenset({"userTwapSliceFills", "userVaultEquities", "delegatorHistory"})


class InfoDesk:
    """The ``/info`` reads. ``rate_limit(user)`` gives the ``userRateLimit`` reply;
    ``agents`` maps agent → master (``userRole``)."""

    def __init__(
        self,
        engine: Engine,
        tape: TradeTape,
        funding: FundingBook,
        ledger: UserLedger,
        agents: Mapping[str, str],
        rate_limit: Callable[[str], dict[str, Any]],
    ) -> None:
        self.engine = engine
        self.tape = tape
        self.funding = funding
        self.ledger = ledger
        self.agents = agents
        self.rate_limit = rate_limit

    def _coin(self, value: Any) -> str:
        coin = string(value)
        if coin not in self.engine.coin_to_asset:
            raise Reject(422, DESERIALIZE_ERROR)
        return coin

    def asset_ctxs(self, now_ms: int) -> list[dict[str, Any]]:
        """Every asset's context with its funding rate, 24 h volume and open interest."""
        eng = self.engine
        out = []
        for spec in eng.universe:
            oi = sum(
                (max(Decimal(0), a.positions[spec.name].szi) for a in eng.accounts.values()
                 if spec.name in a.positions),
                Decimal(0),
            )
            out.append(views.asset_ctx(
                eng, spec.name, self.funding.current_rate(eng, spec.name),
                self.tape.day_volume(spec.name, now_ms), oi,
            ))
        return out

    def clearinghouse_state(self, user: str, now_ms: int) -> dict[str, Any]:
        """``clearinghouseState`` with the user's cumulative funding."""
        return views.clearinghouse_state(
            self.engine, user, now_ms, self.funding.cum_funding(self.engine, user)
        )

    def answer(self, req: dict[str, Any], now_ms: int) -> Any:
        """The reply to one parsed ``/info`` request.

        Raises:
            Reject: 422 for an unknown ``type`` or a malformed field.
        """
        kind = req.get("type")
        eng = self.engine
        if kind == "meta":
            return views.meta(eng)
        if kind == "allPerpMetas":
            return [views.meta(eng)]
        if kind == "spotMeta":
            return views.spot_meta()
        if kind == "metaAndAssetCtxs":
            return [views.meta(eng), self.asset_ctxs(now_ms)]
        if kind == "spotMetaAndAssetCtxs":
            return [views.spot_meta(), []]
        if kind == "allMids":
            return views.all_mids(eng)
        if kind == "perpDexs":
            return [None]
        if kind == "exchangeStatus":
            return {"time": now_ms, "specialStatuses": None}
        if kind == "l2Book":
            coin = string(req.get("coin"))
            return eng.book(coin).l2(now_ms) if coin in eng.coin_to_asset else None
        if kind == "recentTrades":
            return self.tape.recent_trades(self._coin(req.get("coin")))
        if kind == "candleSnapshot":
            spec = req.get("req")
            if not isinstance(spec, dict) or spec.get("interval") not in INTERVAL_MS:
                raise Reject(422, DESERIALIZE_ERROR)
            return self.tape.candles(
                self._coin(spec.get("coin")), spec["interval"],
                integer(spec.get("startTime")), optional_int(spec.get("endTime")),
            )
        if kind == "fundingHistory":
            return self.funding.history(
                self._coin(req.get("coin")), integer(req.get("startTime")),
                optional_int(req.get("endTime")),
            )
        if kind == "predictedFundings":
            return self.funding.predicted(eng, now_ms)
        return self._user_read(kind, req, now_ms)

    def _user_read(self, kind: Any, req: dict[str, Any], now_ms: int) -> Any:
        eng = self.engine
        user = address(req.get("user"))
        if kind == "openOrders":
            return views.open_orders(eng, user)
        if kind == "frontendOpenOrders":
            return views.open_orders(eng, user, frontend=True)
        if kind == "clearinghouseState":
            return self.clearinghouse_state(user, now_ms)
        if kind == "spotClearinghouseState":
            return {"balances": []}
        if kind == "userFills":
            return views.user_fills(eng, user)
        if kind == "userFillsByTime":
            start = integer(req.get("startTime"))
            return views.user_fills_by_time(eng, user, start, optional_int(req.get("endTime")),
                                            now_ms)
        if kind == "orderStatus":
            oid = req.get("oid")
            if isinstance(oid, str):
                return views.order_status(eng, user, oid)
            return views.order_status(eng, user, integer(oid))
        if kind == "historicalOrders":
            return views.historical_orders(eng, user)
        if kind == "userRateLimit":
            return self.rate_limit(user)
        if kind == "userRole":
            if user in self.agents:
                return {"role": "agent", "data": {"user": self.agents[user]}}
            return {"role": "user" if eng.account(user) else "missing"}
        if kind == "userFunding":
            return self.funding.user_funding(user, integer(req.get("startTime")),
                                             optional_int(req.get("endTime")))
        if kind == "userNonFundingLedgerUpdates":
            return self.ledger.ledger_updates(user, integer(req.get("startTime")),
                                              optional_int(req.get("endTime")))
        if kind == "userFees":
            return self.ledger.user_fees(user, eng, now_ms)
        if kind == "maxBuilderFee":
            return self.ledger.max_builder_fee(user, address(req.get("builder")))
        if kind == "portfolio":
            return self.ledger.portfolio(user, eng, now_ms, self.account_value(user, now_ms))
        if kind == "activeAssetData":
            coin = self._coin(req.get("coin"))
            state = self.clearinghouse_state(user, now_ms)
            return active_asset_data(eng, user, coin, Decimal(state["withdrawable"]))
        if kind == "extraAgents":
            return self.ledger.extra_agents(user)
        if kind == "userAbstraction":
            return "default"
        if kind in EMPTY_USER_READS:
            return []
        raise Reject(422, DESERIALIZE_ERROR)

    def account_value(self, user: str, now_ms: int) -> Decimal:
        """The user's account value (USDC) under the margin model."""
        return Decimal(self.clearinghouse_state(user, now_ms)["marginSummary"]["accountValue"])
