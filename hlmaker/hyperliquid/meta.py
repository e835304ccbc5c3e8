"""Coin ↔ asset id maps built from ``meta``, ``spotMeta`` and builder-dex metas.

Exchange rules (protocol ref §2.1–§2.2, §3.2, §7, ``[DOCS:asset-ids]``, ``[SDK] info.py``):

* perp asset id = index in ``meta.universe`` of the first perp dex (delisted entries keep their
  index);
* spot asset id = ``10000 + spotMeta.universe[i].index``; the pair's coin is its ``name``
  (``"PURR/USDC"``, ``"@1"``); ``"BASE/QUOTE"`` built from token names is an alias of the same
  asset; szDecimals are the **base token's**;
* builder (HIP-3) dex ``k`` (position ``k ≥ 1`` in ``perpDexs``): asset id
  ``100000 + k × 10000 + index``; coins are named ``"<dex>:<coin>"``.

``szDecimals`` decide the tick and lot rules (:mod:`hlmaker.hyperliquid.numbers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from hlmaker.hyperliquid.errors import CodecError

SPOT_OFFSET = 10_000
BUILDER_DEX_OFFSET = 100_000
BUILDER_DEX_STRIDE = 10_000


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"{what} must be an int, got {value!r}")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise CodecError(f"{what} must be a string, got {value!r}")
    return value


def _universe(meta: Any, what: str) -> list[Any]:
    if not isinstance(meta, dict) or not isinstance(meta.get("universe"), list):
        raise CodecError(f"{what} lacks a 'universe' list")
    return meta["universe"]


class AssetMap:
    """Immutable lookup tables: coin → asset id, asset id → coin and szDecimals.

    Build with :meth:`from_meta`. ``coin`` below means the exchange's coin name as it appears in
    fills, books and orders (``"BTC"``, ``"PURR/USDC"``, ``"@107"``, ``"xyz:XYZ100"``).
    """

    __slots__ = ("_asset_to_coin", "_asset_to_szd", "_name_to_asset")

    def __init__(
        self,
        name_to_asset: Mapping[str, int],
        asset_to_coin: Mapping[int, str],
        asset_to_sz_decimals: Mapping[int, int],
    ) -> None:
        self._name_to_asset = MappingProxyType(dict(name_to_asset))
        self._asset_to_coin = MappingProxyType(dict(asset_to_coin))
        self._asset_to_szd = MappingProxyType(dict(asset_to_sz_decimals))

    @classmethod
    def from_meta(
        cls,
        meta: Mapping[str, Any],
        spot_meta: Mapping[str, Any] | None = None,
        builder_dexes: Sequence[tuple[int, str, Mapping[str, Any]]] = (),
    ) -> AssetMap:
        """Build from the ``/info`` replies ``meta`` (``dex: ""``), ``spotMeta`` and, for each
        builder dex wanted, ``(its index k ≥ 1 in the perpDexs reply, dex name, meta of that
        dex)``.

        Raises:
            CodecError: a reply lacks the fields above (``universe``, ``name``, ``szDecimals``,
                spot ``tokens``/``index``).
        """
        names: dict[str, int] = {}
        coins: dict[int, str] = {}
        szd: dict[int, int] = {}

        def add(coin: str, asset: int, sz_decimals: int) -> None:
            names[coin] = asset
            coins[asset] = coin
            szd[asset] = sz_decimals

        for index, entry in enumerate(_universe(meta, "meta")):
            if not isinstance(entry, dict):
                raise CodecError("meta.universe entries must be objects")
            add(_str(entry.get("name"), "meta name"), index,
                _int(entry.get("szDecimals"), "szDecimals"))

        for position, dex, dex_meta in builder_dexes:
            if isinstance(position, bool) or not isinstance(position, int) or position < 1:
                raise ValueError(f"builder dex index must be an int >= 1, got {position!r}")
            offset = BUILDER_DEX_OFFSET + position * BUILDER_DEX_STRIDE
            for index, entry in enumerate(_universe(dex_meta, f"meta of dex {dex}")):
                if not isinstance(entry, dict):
                    raise CodecError("meta.universe entries must be objects")
                name = _str(entry.get("name"), "meta name")
                if not name.startswith(f"{dex}:"):
                    name = f"{dex}:{name}"
                add(name, offset + index, _int(entry.get("szDecimals"), "szDecimals"))

        if spot_meta is not None:
            tokens = spot_meta.get("tokens")
            if not isinstance(tokens, list):
                raise CodecError("spotMeta lacks a 'tokens' list")
            by_index: dict[int, tuple[str, int]] = {}
            for token in tokens:
                if not isinstance(token, dict):
                    raise CodecError("spotMeta tokens must be objects")
                by_index[_int(token.get("index"), "token index")] = (
                    _str(token.get("name"), "token name"),
                    _int(token.get("szDecimals"), "token szDecimals"),
                )
            for pair in _universe(spot_meta, "spotMeta"):
                if not isinstance(pair, dict):
                    raise CodecError("spotMeta.universe entries must be objects")
                pair_tokens = pair.get("tokens")
                if not (isinstance(pair_tokens, list) and len(pair_tokens) == 2):
                    raise CodecError("spot pair 'tokens' must be [base, quote]")
                base, quote = (by_index.get(_int(t, "token index")) for t in pair_tokens)
                if base is None or quote is None:
                    raise CodecError("spot pair refers to an unknown token")
                asset = SPOT_OFFSET + _int(pair.get("index"), "spot index")
                add(_str(pair.get("name"), "spot name"), asset, base[1])
                names.setdefault(f"{base[0]}/{quote[0]}", asset)
        return cls(names, coins, szd)

    def asset(self, coin: str) -> int:
        """The asset id of ``coin`` (or of a ``"BASE/QUOTE"`` spot alias).

        Raises:
            KeyError: unknown coin.
        """
        try:
            return self._name_to_asset[coin]
        except KeyError:
            raise KeyError(f"unknown coin {coin!r}") from None

    def coin(self, asset: int) -> str:
        """The exchange's coin name of ``asset``. Raises ``KeyError`` if unknown."""
        try:
            return self._asset_to_coin[asset]
        except KeyError:
            raise KeyError(f"unknown asset {asset!r}") from None

    def canonical_coin(self, name: str) -> str:
        """The coin name the exchange uses for ``name`` (maps ``"HYPE/USDC"`` to ``"@107"``)."""
        return self.coin(self.asset(name))

    def sz_decimals(self, asset_or_coin: int | str) -> int:
        """szDecimals of an asset id or coin. Raises ``KeyError`` if unknown."""
        asset = self.asset(asset_or_coin) if isinstance(asset_or_coin, str) else asset_or_coin
        try:
            return self._asset_to_szd[asset]
        except KeyError:
            raise KeyError(f"unknown asset {asset!r}") from None

    @staticmethod
    def is_spot(asset: int) -> bool:
        """True for spot asset ids (``10000 ≤ asset < 100000``)."""
        return SPOT_OFFSET <= asset < BUILDER_DEX_OFFSET

    @property
    def coin_to_asset(self) -> Mapping[str, int]:
        """Read-only coin (and alias) → asset id (compare: SDK ``Info.coin_to_asset``)."""
        return self._name_to_asset

    @property
    def asset_to_sz_decimals(self) -> Mapping[int, int]:
        """Read-only asset id → szDecimals (compare: SDK ``Info.asset_to_sz_decimals``)."""
        return self._asset_to_szd

    def __contains__(self, coin: object) -> bool:
        return coin in self._name_to_asset

    def __repr__(self) -> str:
        return f"AssetMap({len(self._asset_to_coin)} assets)"
