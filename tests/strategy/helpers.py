"""Builders shared by the strategy and quoter tests."""

from __future__ import annotations

from decimal import Decimal

from hlmaker.messages import Bbo, BookView, Counters, Level, OrderView

D = Decimal
EPOCH = 1_700_000_000_000


def view(*, ready: bool = True, positions: dict[str, str] | None = None,
         orders: tuple[OrderView, ...] = (), at_ms: int = EPOCH) -> BookView:
    return BookView(at_ms=at_ms, orders=orders,
                    positions={k: D(v) for k, v in (positions or {}).items()},
                    counters=Counters(), is_synced=True, last_fill_ms=None, unresolved=0,
                    ready=ready)


def bbo(bid: str, ask: str, coin: str = "BTC", time_ms: int = EPOCH) -> Bbo:
    return Bbo(coin=coin, time_ms=time_ms, bid=Level(px=D(bid), sz=D(1)),
               ask=Level(px=D(ask), sz=D(1)))


def order(side: str, px: str, sz: str, *, coin: str = "BTC", state: str = "resting",
          filled: str = "0", cloid: str = "0x" + "0" * 32) -> OrderView:
    return OrderView(cloid=cloid, oid=1, coin=coin, side=side, px=D(px),  # type: ignore[arg-type]
                     sz=D(sz), filled_sz=D(filled), tif="Alo", reduce_only=False, state=state,
                     created_ms=EPOCH)
