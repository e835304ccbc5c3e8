"""Immutable messages: everything that crosses a channel between hlmaker's actors.

Modules: :mod:`.common` (sides, levels), :mod:`.intents` (strategy → book), :mod:`.commands`
(book → executor), :mod:`.outcomes` (executor → book), :mod:`.events` (feed → book, quoter),
:mod:`.snapshot` (reconciler ↔ book), :mod:`.views` (book → readers).
"""

from hlmaker.messages.commands import (
    CancelOrders,
    CancelRequest,
    Command,
    ModifyOrders,
    ModifyRequest,
    OrderRequest,
    PlaceOrders,
    ScheduleCancel,
)
from hlmaker.messages.common import (
    SIDES,
    TIFS,
    Level,
    OrderKind,
    Side,
    Tif,
    is_cloid,
    signed,
    to_decimal,
)
from hlmaker.messages.events import (
    AllMids,
    Bbo,
    FeedConnected,
    FeedDisconnected,
    Fill,
    FillLiquidation,
    Fills,
    Funding,
    L2Book,
    Liquidation,
    MarketData,
    NonUserCancel,
    OrderEvent,
    OrderUpdate,
    OrderUpdates,
    Trade,
    Trades,
    TwapSliceFill,
    TwapSliceFills,
)
from hlmaker.messages.intents import (
    ArmScheduleCancel,
    CancelAll,
    CancelOrder,
    Intent,
    ModifyOrder,
    PlaceOrder,
    TargetLadder,
)
from hlmaker.messages.outcomes import (
    CancelFailed,
    CancelOk,
    ModifyFilled,
    ModifyRejected,
    ModifyResting,
    OrderFilled,
    OrderRejected,
    OrderResting,
    Outcome,
    RequestUnknown,
    ScheduleCancelResult,
)
from hlmaker.messages.snapshot import (
    OpenOrder,
    OrderStatusReport,
    ReconcileReason,
    ReconcileRequest,
    ReconcileSnapshot,
)
from hlmaker.messages.views import BookView, Counters, OrderView

__all__ = [
    "SIDES", "TIFS", "AllMids", "ArmScheduleCancel", "Bbo", "BookView", "CancelAll",
    "CancelFailed", "CancelOk", "CancelOrder", "CancelOrders", "CancelRequest", "Command",
    "Counters", "FeedConnected", "FeedDisconnected", "Fill", "FillLiquidation", "Fills", "Funding",
    "Intent", "L2Book", "Level", "Liquidation", "MarketData", "ModifyFilled", "ModifyOrder",
    "ModifyOrders", "ModifyRejected", "ModifyRequest", "ModifyResting", "NonUserCancel",
    "OpenOrder", "OrderEvent", "OrderFilled", "OrderKind", "OrderRejected", "OrderRequest",
    "OrderResting", "OrderStatusReport", "OrderUpdate", "OrderUpdates", "OrderView", "Outcome",
    "PlaceOrder", "PlaceOrders", "ReconcileReason", "ReconcileRequest", "ReconcileSnapshot",
    "RequestUnknown", "ScheduleCancel", "ScheduleCancelResult", "Side", "TargetLadder", "Tif",
    "Trade", "Trades", "TwapSliceFill", "TwapSliceFills", "is_cloid", "signed", "to_decimal",
]
