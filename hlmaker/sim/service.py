"""The simulator's protocol layer, sans-IO: ``/info``, ``/exchange`` and the WebSocket sessions.

Drivable with no sockets (the deterministic-simulation harness feeds JSON in and reads JSON out):

* :meth:`SimService.handle_info` / :meth:`SimService.handle_exchange` take the request body
  (``bytes``, ``str`` or an already parsed ``dict``) and ``now_ms`` and return
  ``(http_status, body)``: a JSON-able object for status 200, plain text for 4xx (§1.1: never a
  JSON object without ``code``, which would crash the SDK).
* :meth:`SimService.open_session` returns a :class:`~hlmaker.sim.ws.WsSession`.
* :meth:`SimService.step` advances the synthetic market and the engine's timers to ``now_ms`` and
  queues pushes; ``on_push`` (if set) is called for each session that got new pushes.

``/exchange`` checks, in order (§4, §5): JSON envelope shape (422 text otherwise); signature —
L1 actions via :func:`hlmaker.hyperliquid.signing.recover_l1_signer` with source ``"b"`` unless
``is_mainnet``, user-signed ``approveAgent`` via EIP-712; signer resolution (approved agent →
its master; known user; else auto-funded when ``auto_fund``, else ``User or API Wallet … does not
exist.``); ``expiresAfter`` (⚠ text); nonce (per signer, 100 highest kept, window
``(now-2d, now+1d)``); ``vaultAddress`` (must be led by the master; auto-created when
``auto_fund``). Business errors are HTTP 200 ``{"status":"err","response":…}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from hlmaker.hyperliquid.signing import recover_l1_signer
from hlmaker.hyperliquid.weights import batch_length
from hlmaker.sim import rules
from hlmaker.sim.engine import Effects, Engine, ModifyEntry, OrderEntry
from hlmaker.sim.funding import FundingBook, Payment
from hlmaker.sim.info import InfoDesk
from hlmaker.sim.ledger import UserLedger
from hlmaker.sim.limits import (
    RESERVE_PRICE_USDC,
    AddressBudget,
    Limits,
    SlidingWindow,
    exchange_weight,
    info_weight,
)
from hlmaker.sim.market import SyntheticMarket
from hlmaker.sim.requests import DESERIALIZE_ERROR, Reject, address, integer, parse
from hlmaker.sim.signatures import BadSignature, NonceStore, recover_user_signed
from hlmaker.sim.tape import TradeTape
from hlmaker.sim.triggers import GROUPINGS, Grouping, TriggerSpec
from hlmaker.sim.ws import WsSession

MAX_BATCH = 200
ERR_BUILDER_NOT_APPROVED = "Builder fee has not been approved."
"""⚠ text not recorded: an order naming a builder above the user's approved rate."""

L1_ACTIONS = frozenset(
    {
        "order",
        "cancel",
        "cancelByCloid",
        "batchModify",
        "modify",
        "scheduleCancel",
        "updateLeverage",
        "updateIsolatedMargin",
        "noop",
        "twapOrder",
        "twapCancel",
        "reserveRequestWeight",
        "createSubAccount",
        "subAccountTransfer",
        "vaultTransfer",
        "setReferrer",
    }
)
USER_SIGNED_ACTIONS = frozenset(
    {
        "approveAgent",
        "usdSend",
        "withdraw3",
        "approveBuilderFee",
        "spotSend",
        "usdClassTransfer",
        "sendAsset",
        "tokenDelegate",
        "convertToMultiSigUser",
        "userDexAbstraction",
        "userSetAbstraction",
    }
)


@dataclass(frozen=True)
class ServiceConfig:
    """Protocol-level settings."""

    is_mainnet: bool = False
    """Loopback SDKs sign as testnet (phantom-agent source ``"b"``, §3.1)."""
    auto_fund: bool = True
    """Fund any new signer with ``auto_fund_usdc`` (off = behave like the exchange)."""
    auto_fund_usdc: Decimal = Decimal(100_000)
    verify_signatures: bool = True
    l2_push_interval_ms: int = 500
    mids_push_interval_ms: int = 500
    limits: Limits = field(default_factory=Limits)
    """The exchange's limits the simulator enforces (address budget, IP weight, WS)."""


def _err(text: str) -> dict[str, Any]:
    return {"status": "err", "response": text}


def _ok(kind: str, statuses: list[Any] | None = None) -> dict[str, Any]:
    if statuses is None:
        return {"status": "ok", "response": {"type": kind}}
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


Handler = Callable[[Any, int], tuple[int, Any]]
"""``(body, now_ms) -> (http_status, reply body)``: one endpoint of the service."""


class RequestIntercept(Protocol):
    """A seam around the service's two endpoints, given at construction (the deterministic
    campaign models refusals and races of the exchange with it). Each method gets the request
    ``body`` (JSON text or parsed), ``now_ms`` and the service's own handler ``serve``, and
    returns ``(http_status, reply body)`` — calling ``serve`` or not."""

    def info(self, body: Any, now_ms: int, serve: Handler) -> tuple[int, Any]:
        """Answer an ``/info`` request."""
        ...

    def exchange(self, body: Any, now_ms: int, serve: Handler) -> tuple[int, Any]:
        """Answer an ``/exchange`` request."""
        ...


class SimService:
    """Hyperliquid's API over an :class:`Engine` (and optionally a :class:`SyntheticMarket`)."""

    def __init__(
        self,
        engine: Engine,
        market: SyntheticMarket | None = None,
        config: ServiceConfig | None = None,
        *,
        intercept: RequestIntercept | None = None,
    ) -> None:
        self.engine = engine
        self.intercept = intercept
        self.market = market
        self.config = config or ServiceConfig()
        self.nonces = NonceStore()
        self.agents: dict[str, str] = {}  # agent address -> master
        self.vaults: dict[str, str] = {}  # vault / sub-account -> leader
        limits = self.config.limits
        self.budget = AddressBudget(limits.address_budget)
        self.ip_weights = SlidingWindow(limits.ip_weight_per_min)
        self.ip_refusals = 0
        """REST requests answered 429 for the per-IP weight."""
        self.ip_weight_peak = 0
        """The most weight one IP spent within 60 s."""
        self.ws_messages = SlidingWindow(limits.ws_messages_per_min)
        self.ws_connects = SlidingWindow(limits.ws_new_connections_per_min)
        self.tape = TradeTape()
        self.funding = FundingBook()
        self.ledger = UserLedger()
        self.info_desk = InfoDesk(
            engine, self.tape, self.funding, self.ledger, self.agents, self._rate_limit
        )
        self.sessions: dict[int, WsSession] = {}
        self._next_session = 1
        self.on_push: Callable[[WsSession], None] | None = None

    # ---- sessions and publishing -------------------------------------------------------------

    def open_session(self) -> WsSession:
        """A new WebSocket session registered for pushes."""
        session = WsSession(self, self._next_session)
        self._next_session += 1
        self.sessions[session.session_id] = session
        return session

    def close_session(self, session: WsSession) -> None:
        """Unregister ``session`` (idempotent)."""
        self.sessions.pop(session.session_id, None)

    def publish(self, fx: Effects, now_ms: int) -> None:
        """Record the trades of ``fx`` on the tape, queue its pushes on every session and
        notify ``on_push``."""
        if not fx and not fx.trades:
            return
        self.tape.record(fx.trades)
        for session in list(self.sessions.values()):
            if session.deliver(fx, now_ms) and self.on_push is not None:
                self.on_push(session)

    def step(self, now_ms: int) -> Effects:
        """Advance market and timers (``scheduleCancel``) to ``now_ms``; queue every push."""
        fx = self.market.step(now_ms) if self.market is not None else Effects()
        fx.extend(self.engine.advance(now_ms))
        self.publish(fx, now_ms)
        payments = self.funding.step(self.engine, now_ms)
        if payments:
            self._publish_funding(payments, now_ms)
        for session in list(self.sessions.values()):
            if session.market_data(now_ms) and self.on_push is not None:
                self.on_push(session)
        return fx

    def _publish_funding(self, payments: list[Payment], now_ms: int) -> None:
        for user in {p.user for p in payments}:
            self.ledger.sample(user, now_ms, self.info_desk.account_value(user, now_ms))
        for session in list(self.sessions.values()):
            if session.deliver_funding(payments) and self.on_push is not None:
                self.on_push(session)

    def _deposit(self, user: str, now_ms: int) -> None:
        """Auto-fund ``user`` and record (and push) the deposit in its ledger."""
        self.engine.fund(user, self.config.auto_fund_usdc)
        row = self.ledger.deposit(user, self.config.auto_fund_usdc, now_ms)
        for session in list(self.sessions.values()):
            if session.deliver_ledger(user, row) and self.on_push is not None:
                self.on_push(session)

    def _rate_limit(self, user: str) -> dict[str, Any]:
        acct = self.engine.account(user)
        return self.budget.wire(user, acct.cum_volume if acct else Decimal(0))

    def admit_ip(self, endpoint: str, body: Any, now_ms: int, ip: str = "loopback") -> bool:
        """Spend the REST weight of one request of ``ip`` (``endpoint`` ``"info"`` or
        ``"exchange"``, ``body`` parsed or raw); ``False`` = over the per-minute weight (the
        caller answers 429). Item-weighted reads pay their extra after the fact
        (:meth:`charge_reply`)."""
        req = body if isinstance(body, dict) else None
        weight = exchange_weight(req) if endpoint == "exchange" else info_weight(req)
        if not self.ip_weights.take(ip, weight, now_ms):
            self.ip_refusals += 1
            return False
        self.ip_weight_peak = max(self.ip_weight_peak, self.ip_weights.total(ip, now_ms))
        return True

    def charge_reply(self, body: Any, reply: Any, now_ms: int, ip: str = "loopback") -> None:
        """Add the per-item weight of an ``/info`` reply (1 per 20 rows of the heavy reads)."""
        req = body if isinstance(body, dict) else None
        extra = info_weight(req, reply) - info_weight(req)
        if extra:
            self.ip_weights.take(ip, extra, now_ms, force=True)
            self.ip_weight_peak = max(self.ip_weight_peak, self.ip_weights.total(ip, now_ms))

    # ---- /info -----------------------------------------------------------------------------------

    def handle_info(self, body: Any, now_ms: int) -> tuple[int, Any]:
        """Answer a ``POST /info`` body (§2) — through the :class:`RequestIntercept` given at
        construction, if any, else :meth:`serve_info`."""
        if self.intercept is not None:
            return self.intercept.info(body, now_ms, self.serve_info)
        return self.serve_info(body, now_ms)

    def serve_info(self, body: Any, now_ms: int) -> tuple[int, Any]:
        """Answer a ``POST /info`` body (§2) as the exchange would: ``(http_status, body)``.
        Unknown ``type`` or missing fields → 422 text."""
        try:
            req = parse(body)
            return 200, self._info(req, now_ms)
        except Reject as rej:
            return rej.status, rej.body

    def _info(self, req: dict[str, Any], now_ms: int) -> Any:
        return self.info_desk.answer(req, now_ms)

    # ---- /exchange -----------------------------------------------------------------------------

    def handle_exchange(self, body: Any, now_ms: int) -> tuple[int, Any]:
        """Verify and apply a ``POST /exchange`` envelope (§4) — through the
        :class:`RequestIntercept` given at construction, if any, else :meth:`serve_exchange`."""
        if self.intercept is not None:
            return self.intercept.exchange(body, now_ms, self.serve_exchange)
        return self.serve_exchange(body, now_ms)

    def serve_exchange(self, body: Any, now_ms: int) -> tuple[int, Any]:
        """Verify and apply a ``POST /exchange`` envelope (§4): ``(http_status, body)``; pushes
        are queued on sessions."""
        try:
            env = parse(body)
            reply, fx = self._exchange(env, now_ms)
        except Reject as rej:
            return rej.status, rej.body
        if fx is not None:
            self.publish(fx, now_ms)
        return 200, reply

    def _resolve(self, signer: str, now_ms: int) -> str | None:
        """The master account acting for ``signer`` (funding it when allowed), or ``None``."""
        if signer in self.agents:
            return self.agents[signer]
        if self.engine.account(signer) is not None:
            return signer
        if self.config.auto_fund:
            self._deposit(signer, now_ms)
            return signer
        return None

    def _exchange(self, env: dict[str, Any], now_ms: int) -> tuple[Any, Effects | None]:
        action = env.get("action")
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            raise Reject(422, DESERIALIZE_ERROR)
        kind = action["type"]
        if kind not in L1_ACTIONS and kind not in USER_SIGNED_ACTIONS:
            raise Reject(422, DESERIALIZE_ERROR)
        nonce = integer(env.get("nonce"))
        signature = env.get("signature")
        if not isinstance(signature, dict) or not {"r", "s", "v"} <= signature.keys():
            raise Reject(422, DESERIALIZE_ERROR)
        vault_raw = env.get("vaultAddress")
        vault = None if vault_raw is None else address(vault_raw)
        expires = env.get("expiresAfter")
        expires_after = None if expires is None else integer(expires)
        if kind in USER_SIGNED_ACTIONS:
            return self._user_signed(action, nonce, signature, expires_after, now_ms), None
        plan = self._plan(action)
        try:
            signer = recover_l1_signer(
                action, vault, nonce, expires_after, signature, self.config.is_mainnet
            )
        except ValueError:
            return _err(rules.ERR_INVALID_SIGNATURE), None
        master = self._resolve(signer, now_ms)
        if master is None:
            return _err(rules.err_unknown_signer(signer)), None
        if expires_after is not None and expires_after < now_ms:
            return _err(rules.err_expired(expires_after, now_ms)), None
        nonce_err = self.nonces.check(signer, nonce, now_ms)
        if nonce_err is not None:
            return _err(nonce_err), None
        user = master
        if vault is not None and vault != master:
            leader = self.vaults.get(vault)
            if leader is None and self.config.auto_fund and self.engine.account(vault) is None:
                self.vaults[vault] = master
                self._deposit(vault, now_ms)
                leader = master
            if leader != master:
                return _err(rules.ERR_VAULT.format(vault=vault, user=master)), None
            user = vault
        if kind != "reserveRequestWeight":
            acct = self.engine.account(user)
            volume = acct.cum_volume if acct else Decimal(0)
            is_cancel = kind in ("cancel", "cancelByCloid")
            refusal = self.budget.charge(user, batch_length(action), is_cancel, volume, now_ms)
            if refusal is not None:
                return _err(refusal), None  # costs nothing, the nonce stays unused
        self.nonces.use(signer, nonce)
        return plan(user, now_ms)

    def _user_signed(
        self,
        action: dict[str, Any],
        nonce: int,
        signature: dict[str, Any],
        expires_after: int | None,
        now_ms: int,
    ) -> Any:
        kind = action["type"]
        if kind not in ("approveAgent", "approveBuilderFee"):
            return _err(f"Action {kind} is not supported by the simulator.")
        if expires_after is not None:
            return _err("expiresAfter is not supported for user-signed actions.")  # ⚠ text
        if action.get("nonce") != nonce:
            return _err("Action nonce does not match the request nonce.")  # ⚠ text
        try:
            signer = recover_user_signed(action, signature)
            field = "agentAddress" if kind == "approveAgent" else "builder"
            target = address(action.get(field))
        except (BadSignature, Reject):
            return _err(rules.ERR_INVALID_SIGNATURE)
        expected_chain = "Mainnet" if self.config.is_mainnet else "Testnet"
        if action.get("hyperliquidChain") != expected_chain:
            return _err(rules.err_unknown_signer(signer))
        if signer in self.agents:
            return _err(rules.err_unknown_signer(signer))
        if self.engine.account(signer) is None:
            if not self.config.auto_fund:
                return _err(rules.err_must_deposit(signer))
            self._deposit(signer, now_ms)
        nonce_err = self.nonces.check(signer, nonce, now_ms)
        if nonce_err is not None:
            return _err(nonce_err)
        if kind == "approveBuilderFee":
            error = self.ledger.approve_builder(signer, target, action.get("maxFeeRate"))
            if error is not None:
                return _err(error)
            self.nonces.use(signer, nonce)
            return _ok("default")
        self.nonces.use(signer, nonce)
        self.agents[target] = signer
        name = action.get("agentName")
        names = self.ledger.agent_names.setdefault(signer, {})
        names[target] = name if isinstance(name, str) else ""
        return _ok("default")

    def _plan(self, action: dict[str, Any]) -> Callable[[str, int], tuple[Any, Effects | None]]:
        """Parse an L1 action (shape errors → 422 before any nonce is used) into a closure that
        applies it for ``(user, now_ms)``."""
        kind = action["type"]
        eng = self.engine
        if kind == "order":
            wires = action.get("orders")
            if not isinstance(wires, list):
                raise Reject(422, DESERIALIZE_ERROR)
            builder = _builder(action.get("builder"))
            reqs = [_order_request(w, builder) for w in wires]
            grouping = _grouping(action.get("grouping", "na"))

            def place(user: str, now_ms: int) -> tuple[Any, Effects | None]:
                if not reqs:
                    return _err(rules.ERR_EMPTY_BATCH), None
                if len(reqs) > MAX_BATCH:
                    return _err(rules.ERR_BATCH_WEIGHT), None
                if builder is not None and (
                    self.ledger.max_builder_fee(user, builder[0]) < builder[1]
                ):
                    return _err(ERR_BUILDER_NOT_APPROVED), None
                statuses, fx = eng.place(user, reqs, now_ms, grouping)
                return _ok("order", statuses), fx

            return place
        if kind in ("cancel", "cancelByCloid"):
            wires = action.get("cancels")
            if not isinstance(wires, list) or not all(isinstance(w, dict) for w in wires):
                raise Reject(422, DESERIALIZE_ERROR)
            if kind == "cancel":
                pairs = [(integer(w.get("a")), integer(w.get("o"))) for w in wires]
            else:
                cl = [(integer(w.get("asset")), _cloid(w.get("cloid"))) for w in wires]

            def cancel(user: str, now_ms: int) -> tuple[Any, Effects | None]:
                if len(wires) > MAX_BATCH:
                    return _err(rules.ERR_BATCH_WEIGHT), None
                if kind == "cancel":
                    statuses, fx = eng.cancel(user, pairs, now_ms)
                else:
                    statuses, fx = eng.cancel_by_cloid(user, cl, now_ms)
                return _ok("cancel", statuses), fx

            return cancel
        if kind in ("batchModify", "modify"):
            mwires = action.get("modifies") if kind == "batchModify" else [action]
            if not isinstance(mwires, list) or not all(isinstance(w, dict) for w in mwires):
                raise Reject(422, DESERIALIZE_ERROR)
            mods = [
                ModifyEntry(_oid(w.get("oid")), _order_request(w.get("order"))) for w in mwires
            ]

            def modify(user: str, now_ms: int) -> tuple[Any, Effects | None]:
                if len(mods) > MAX_BATCH:
                    return _err(rules.ERR_BATCH_WEIGHT), None
                statuses, fx = eng.batch_modify(user, mods, now_ms)
                if kind == "modify":
                    first = statuses[0] if statuses else None
                    if isinstance(first, dict) and "error" in first:
                        return _err(first["error"]), fx
                    return _ok("default"), fx
                return _ok("order", statuses), fx

            return modify
        if kind == "scheduleCancel":
            t = action.get("time")
            when = None if t is None else integer(t)

            def schedule(user: str, now_ms: int) -> tuple[Any, Effects | None]:
                error = eng.schedule_cancel(user, when, now_ms)
                return (_err(error) if error else _ok("default")), None

            return schedule
        if kind == "updateLeverage":
            asset, lev = integer(action.get("asset")), integer(action.get("leverage"))
            is_cross = action.get("isCross", True)
            if not isinstance(is_cross, bool):
                raise Reject(422, DESERIALIZE_ERROR)

            def leverage(user: str, now_ms: int) -> tuple[Any, Effects | None]:
                error = eng.update_leverage(user, asset, is_cross, lev)
                return (_err(error) if error else _ok("default")), None

            return leverage
        if kind == "setReferrer":
            code = action.get("code")

            def referrer(user: str, now_ms: int) -> tuple[Any, Effects | None]:
                error = self.ledger.set_referrer(user, code)
                return (_err(error) if error else _ok("default")), None

            return referrer
        if kind == "reserveRequestWeight":
            weight = integer(action.get("weight"))
            if weight < 0:
                raise Reject(422, DESERIALIZE_ERROR)

            def reserve(user: str, now_ms: int) -> tuple[Any, Effects | None]:
                price = RESERVE_PRICE_USDC * weight
                acct = self.engine.account(user)
                if acct is None or acct.balance < price:
                    return _err(rules.ERR_MARGIN), None  # ⚠ text for an unaffordable reserve
                acct.balance -= price
                self.budget.reserve(user, weight)
                return _ok("default"), None

            return reserve
        if kind in ("noop", "updateIsolatedMargin"):
            return lambda user, now_ms: (_ok("default"), None)
        return lambda user, now_ms: (
            _err(f"Action {kind} is not supported by the simulator."),
            None,
        )


def _cloid(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 34:
        raise Reject(422, DESERIALIZE_ERROR)
    return value.lower()


def _oid(value: Any) -> int | str:
    if isinstance(value, str):
        return _cloid(value)
    return integer(value)


def _builder(value: Any) -> tuple[str, int] | None:
    """The order action's ``builder`` ``{"b": address, "f": tenths of a bp}`` (or ``None``)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Reject(422, DESERIALIZE_ERROR)
    fee = integer(value.get("f"))
    if fee < 0:
        raise Reject(422, DESERIALIZE_ERROR)
    return address(value.get("b")), fee


def _order_request(wire: Any, builder: tuple[str, int] | None = None) -> OrderEntry:
    """Parse an order wire (§4.2). Shape errors → 422; value errors are left to the engine."""
    if not isinstance(wire, dict):
        raise Reject(422, DESERIALIZE_ERROR)
    asset = integer(wire.get("a"))
    is_buy, reduce_only = wire.get("b"), wire.get("r")
    px, sz, t = wire.get("p"), wire.get("s"), wire.get("t")
    if not isinstance(is_buy, bool) or not isinstance(reduce_only, bool):
        raise Reject(422, DESERIALIZE_ERROR)
    if not isinstance(px, str) or not isinstance(sz, str) or not isinstance(t, dict):
        raise Reject(422, DESERIALIZE_ERROR)
    cloid = wire.get("c")
    cloid = None if cloid is None else _cloid(cloid)
    if "limit" in t and isinstance(t["limit"], dict):
        tif = t["limit"].get("tif")
        if tif not in ("Alo", "Ioc", "Gtc", "FrontendMarket"):
            raise Reject(422, DESERIALIZE_ERROR)
        tif = "Ioc" if tif == "FrontendMarket" else tif
    elif "trigger" in t and isinstance(t["trigger"], dict):
        trig = t["trigger"]
        is_market, trigger_px, tpsl = trig.get("isMarket"), trig.get("triggerPx"), trig.get("tpsl")
        if not isinstance(is_market, bool) or not isinstance(trigger_px, str) or tpsl not in (
            "tp", "sl"
        ):
            raise Reject(422, DESERIALIZE_ERROR)
        return OrderEntry(asset, is_buy, px, sz, reduce_only, "Trigger", cloid,
                          TriggerSpec(trigger_px, is_market, tpsl), builder=builder)
    else:
        raise Reject(422, DESERIALIZE_ERROR)
    return OrderEntry(asset, is_buy, px, sz, reduce_only, tif, cloid, builder=builder)


def _grouping(value: Any) -> Grouping:
    """``"na"``, ``"normalTpsl"``, ``"positionTpsl"``; a priority ``{"p": n}`` is taken as
    ``"na"`` (the simulator has no priority fees). Anything else → 422 (§4.2)."""
    if isinstance(value, dict) and list(value) == ["p"] and isinstance(value["p"], int):
        return "na"
    if value in GROUPINGS:
        return value  # type: ignore[no-any-return]
    raise Reject(422, DESERIALIZE_ERROR)
