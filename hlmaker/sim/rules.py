"""Exchange rules of the simulator: the perp universe, tick/lot validation, number formatting and
the exact error strings Hyperliquid returns.

Units: prices (``px``) are :class:`~decimal.Decimal` in quote currency (USDC), sizes (``sz``) are
:class:`~decimal.Decimal` in coin, times are integer ms since the Unix epoch.

Sources: ``../shared/hyperliquid-protocol.md`` (cited as §n). Strings marked ⚠ in the docstrings
below are not confirmed by a primary source; they are plausible stand-ins chosen by the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# --------------------------------------------------------------------------------------------
# Universe
# --------------------------------------------------------------------------------------------

MAX_DECIMALS_PERP = 6
"""Price decimals allowed for a perp = ``MAX_DECIMALS_PERP - szDecimals`` (§5.5)."""

MAX_SIG_FIGS = 5
"""Non-integer prices carry at most 5 significant figures (§5.5)."""

MIN_NOTIONAL = Decimal(10)
"""Minimum order value in USDC for orders that are not reduce-only (§5.5, ``MinTradeNtl``)."""

USDC_QUANTUM = Decimal("0.000001")
"""Balances, fees and PnL are kept to 6 decimals (USDC has 6 decimals on Hyperliquid)."""


@dataclass(frozen=True)
class AssetSpec:
    """One perp of the universe. ``asset`` id = index in the universe (§7)."""

    name: str
    sz_decimals: int
    max_leverage: int
    initial_px: Decimal
    """Reference price the synthetic market starts from (quote currency)."""


DEFAULT_UNIVERSE: tuple[AssetSpec, ...] = (
    # szDecimals and maxLeverage as on mainnet (meta, §2.1); prices are round illustrative values.
    AssetSpec("BTC", 5, 40, Decimal("100000")),
    AssetSpec("ETH", 4, 25, Decimal("3500")),
    AssetSpec("SOL", 2, 20, Decimal("150")),
)


# --------------------------------------------------------------------------------------------
# Error strings (§4.3 table; live strings end with " asset=<id>")
# --------------------------------------------------------------------------------------------

ERR_TICK = "Price must be divisible by tick size."
ERR_MIN_NOTIONAL = "Order must have minimum value of $10."
ERR_MARGIN = "Insufficient margin to place order."
ERR_REDUCE_ONLY = "Reduce only order would increase position."
ERR_IOC = "Order could not immediately match against any resting orders."
ERR_CANCEL_MISSING = "Order was never placed, already canceled, or filled."
ERR_INVALID_SIZE = "Order has invalid size."  # [CODEIDX]
ERR_ZERO_SIZE = "Order has zero size."  # [CODEIDX]
ERR_INVALID_PRICE = "Order has invalid price."  # [CODEIDX]
ERR_TOO_MANY_OPEN = "Too many open orders."  # ⚠ text unknown; status tooManyOpenOrdersRejected
ERR_DUPLICATE_CLOID = "Duplicate cloid."  # ⚠ unknown whether the exchange rejects a live cloid
ERR_UNKNOWN_ASSET = "Invalid asset."  # ⚠ text unknown
ERR_BAD_TRIGGER_PX = "Invalid TP/SL price."  # [DOCS:error-responses] badTriggerPxRejected
ERR_MODIFY_MISSING = "Cannot modify canceled or filled order"
"""Live text: a bot's logs of the exchange's answers to modifies of a filled order quote it
(``recomma/recomma``, ``bugs/bug_2025-11-19_repeated_base_modify.md``)."""


def alo_error(bid: Decimal | None, ask: Decimal | None) -> str:
    """``Post only order would have immediately matched, bbo was <bid>@<ask>.`` (§4.3).

    Live form shows plain prices (``66621@66642``); an empty side prints as ``None`` ⚠.
    """
    b = "None" if bid is None else plain(bid)
    a = "None" if ask is None else plain(ask)
    return f"Post only order would have immediately matched, bbo was {b}@{a}."


def with_asset(message: str, asset: int) -> str:
    """Append the live ``" asset=<id>"`` suffix (§4.3)."""
    return f"{message} asset={asset}"


# Whole-action errors (§4.3 "Whole-action failure"), HTTP 200 {"status":"err","response":…}
def err_unknown_signer(address: str) -> str:
    """Signature recovered to an address that is neither a user nor an approved agent."""
    return f"User or API Wallet {address} does not exist."


def err_must_deposit(address: str) -> str:
    """User-signed action from an address without a balance."""
    return f"Must deposit before performing actions. User: {address}"


def err_duplicate_nonce(nonce: int) -> str:
    """Nonce already used by this signer (§5.3)."""
    return f"Invalid nonce: duplicate nonce {nonce}"


def err_nonce_too_low(nonce: int, lowest: int) -> str:
    """Nonce not above the smallest of the signer's 100 highest nonces (§5.3). The text is
    the live one as client code quotes it "verbatim from a production gateway log":
    ``Invalid nonce: nonce too low 1776584283874 < 1776584799101`` (a public TypeScript
    client's error tests, found by code search; a second client's table of Hyperliquid
    refusals has the same ``Invalid nonce: nonce too low {nonce} < {least}``). Not in the
    recordings."""
    return f"Invalid nonce: nonce too low {nonce} < {lowest}"


def err_nonce_window(nonce: int, now_ms: int) -> str:
    """⚠ Nonce outside ``(now - 2 days, now + 1 day)`` (§5.3; text unconfirmed, §12.6)."""
    return f"Invalid nonce: nonce {nonce} is outside the allowed time window around {now_ms}"


def err_expired(expires_after: int, now_ms: int) -> str:
    """⚠ ``expiresAfter`` already passed (§4.1; text unconfirmed, §12.6)."""
    return f"Action expired: expiresAfter {expires_after} is before {now_ms}"


ERR_SCHEDULE_TOO_EARLY = "Scheduled cancel time must be at least 5 seconds in the future."  # ⚠
ERR_SCHEDULE_VOLUME = "Cannot set scheduled cancel time until enough volume traded"  # [NK]
ERR_SCHEDULE_DAILY = "Too many scheduled cancel triggers today."  # ⚠
ERR_BATCH_WEIGHT = "Signed action over weight limit of 200."  # [PROBE] P4
ERR_EMPTY_BATCH = "Empty batch."  # ⚠
ERR_INVALID_SIGNATURE = "Invalid signature."  # ⚠ malformed r/s/v that cannot be recovered
ERR_VAULT = "Vault or sub-account {vault} is not controlled by {user}."  # ⚠


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def parse_decimal(value: object) -> Decimal | None:
    """Parse a wire number (a string, an int or a Decimal) into a finite Decimal; ``None`` if
    invalid."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    return d


def plain(d: Decimal) -> str:
    """Shortest plain form, no exponent, no trailing zeros: ``66621``, ``0.0147``."""
    if d == 0:
        return "0"
    s = format(d.normalize(), "f")
    return s


def fmt(d: Decimal) -> str:
    """Wire form of a decimal in responses: plain with at least one decimal (``"113377.0"``,
    ``"0.0147"``, ``"0.0"``), as in the exchange's replies (§2.4, §2.8)."""
    s = plain(d)
    if "." not in s:
        s += ".0"
    if s.startswith("-0.0") and d == 0:
        s = "0.0"
    return s


def usd(d: Decimal) -> Decimal:
    """Round a USDC amount to 6 decimals (banker's rounding)."""
    return d.quantize(USDC_QUANTUM, rounding=ROUND_HALF_EVEN)


def decimals_of(d: Decimal) -> int:
    """Number of decimal places of ``d`` after removing trailing zeros."""
    exp = d.normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


def price_is_valid(px: Decimal, sz_decimals: int) -> bool:
    """Tick rule (§5.5): integer prices are always valid; otherwise at most 5 significant figures
    and at most ``6 - szDecimals`` decimals."""
    if px <= 0:
        return False
    if px == px.to_integral_value():
        return True
    if decimals_of(px) > MAX_DECIMALS_PERP - sz_decimals:
        return False
    return len(px.normalize().as_tuple().digits) <= MAX_SIG_FIGS


def size_is_valid(sz: Decimal, sz_decimals: int) -> bool:
    """Lot rule (§5.5): at most ``szDecimals`` decimals."""
    return decimals_of(sz) <= sz_decimals


def round_price(px: Decimal, sz_decimals: int) -> Decimal:
    """Round a positive price to the nearest valid tick (5 significant figures, at most
    ``6 - szDecimals`` decimals; integers kept). Used by the synthetic market."""
    if px <= 0:
        raise ValueError("price must be positive")
    if px >= Decimal(10) ** MAX_SIG_FIGS:
        return px.to_integral_value(rounding=ROUND_HALF_EVEN)
    adjusted = px.adjusted()  # exponent of the most significant digit
    places = min(MAX_SIG_FIGS - 1 - adjusted, MAX_DECIMALS_PERP - sz_decimals)
    q = Decimal(1).scaleb(-places)
    out = px.quantize(q, rounding=ROUND_HALF_EVEN)
    if out <= 0:
        out = q
    return out.normalize() if out != out.to_integral_value() else out.to_integral_value()


def tick_of(px: Decimal, sz_decimals: int) -> Decimal:
    """Smallest price increment valid at price level ``px`` (positive)."""
    if px >= Decimal(10) ** (MAX_SIG_FIGS - 1):
        return Decimal(1)
    adjusted = px.adjusted()
    places = min(MAX_SIG_FIGS - 1 - adjusted, MAX_DECIMALS_PERP - sz_decimals)
    return Decimal(1).scaleb(-places)


def round_size(sz: Decimal, sz_decimals: int) -> Decimal:
    """Round a size down to the lot (``szDecimals`` decimals)."""
    q = Decimal(1).scaleb(-sz_decimals)
    return sz.quantize(q, rounding="ROUND_DOWN")
