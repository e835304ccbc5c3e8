"""Control and account-state frames of the WebSocket that are not hlmaker messages.

:func:`hlmaker.hyperliquid.codec.parse_frame` returns either an :mod:`hlmaker.messages` event
(``OrderUpdates``, ``Fills``, ``NonUserCancel``, ``Funding``, ``Liquidation``, ``L2Book``,
``Bbo``, ``AllMids``, ``Trades``) or one of the frames below (protocol ref §6).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs

from hlmaker.messages import (
    AllMids,
    Bbo,
    Fills,
    Funding,
    L2Book,
    Liquidation,
    NonUserCancel,
    OpenOrder,
    OrderUpdates,
    Trades,
    TwapSliceFills,
)

GREETING = "Websocket connection established."


@attrs.frozen(kw_only=True)
class GreetingFrame:
    """The plain-text greeting some servers send on connect (§3.4, §6.1); ignore it."""

    text: str = GREETING


@attrs.frozen(kw_only=True)
class SubscriptionAck:
    """``subscriptionResponse``: the server accepted a ``subscribe``/``unsubscribe``.

    ``subscription`` is the server's echo — possibly *normalised* (fields added such as
    ``aggregateByTime: false``, unknown ones dropped, §6.1), so match it loosely.
    """

    method: str
    subscription: Mapping[str, Any] = attrs.field(hash=False)


@attrs.frozen(kw_only=True)
class Pong:
    """``{"channel": "pong"}``: the answer to ``{"method": "ping"}``."""


@attrs.frozen(kw_only=True)
class WsErrorFrame:
    """``{"channel": "error", "data": text}``. ``request_id`` is the post id when the text ends
    with ``id=<n>`` (e.g. ``too many pending post requests id=7``, §6.1, §6.5)."""

    text: str
    request_id: int | None = None


PostKind = Literal["info", "action", "error"]


@attrs.frozen(kw_only=True)
class PostResponse:
    """``channel: "post"`` answer to the post request ``id`` (§6.5).

    * ``info`` — ``payload`` is ``{"type": <info type>, "data": <the /info reply>}``;
    * ``action`` — ``payload`` is the ``/exchange`` reply (``{"status": "ok"|"err", ...}``);
    * ``error`` — ``payload`` is the error text.
    """

    id: int
    kind: PostKind
    payload: Any = attrs.field(eq=False, hash=False)


@attrs.frozen(kw_only=True)
class OpenOrdersFrame:
    """``openOrders`` subscription push: every open order of ``user`` on ``dex`` (a full
    snapshot each push, ``frontendOpenOrders`` rows, §6.2)."""

    user: str
    dex: str
    orders: tuple[OpenOrder, ...]


@attrs.frozen(kw_only=True)
class ClearinghouseFrame:
    """``clearinghouseState`` subscription push: signed position (``szi``, coin) per coin —
    flat coins absent — and the state's ``time`` in ms (``None`` if absent, §2.7, §6.2)."""

    user: str
    dex: str
    positions: Mapping[str, Decimal] = attrs.field(hash=False)
    time_ms: int | None = None


@attrs.frozen(kw_only=True)
class UnhandledFrame:
    """A well-formed frame on a channel (or ``user`` event kind) hlmaker does not decode, e.g.
    ``notification``, ``candle``, ``webData2``, ``twapHistory``. Count it and move on."""

    channel: str
    data: Any = attrs.field(eq=False, hash=False)


ControlFrame = (
    GreetingFrame | SubscriptionAck | Pong | WsErrorFrame | PostResponse | OpenOrdersFrame
    | ClearinghouseFrame | UnhandledFrame
)
Frame = (
    OrderUpdates | Fills | NonUserCancel | Funding | Liquidation | L2Book | Bbo | AllMids | Trades
    | TwapSliceFills | ControlFrame
)
"""Everything :func:`hlmaker.hyperliquid.codec.parse_frame` can return."""
