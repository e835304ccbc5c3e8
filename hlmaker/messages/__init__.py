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
from hlmaker.messages.common import SIDES, TIFS, Level, Side, Tif, is_cloid, signed, to_decimal
from hlmaker.messages.events import (
    AllMids,
    Bbo,
    FeedConnected,
    FeedDisconnected,
    Fill,
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
    "CancelFailed", "CancelOk",
    "CancelOrder", "CancelOrders", "CancelRequest", "Command", "Counters", "FeedConnected",
    "FeedDisconnected", "Fill", "Fills", "Funding", "Intent", "L2Book", "Level", "Liquidation",
    "MarketData", "ModifyFilled", "ModifyOrder", "ModifyOrders", "ModifyRejected", "ModifyRequest",
    "ModifyResting", "NonUserCancel", "OpenOrder", "OrderEvent", "OrderFilled", "OrderRejected",
    "OrderRequest", "OrderResting", "OrderStatusReport", "OrderUpdate", "OrderUpdates",
    "OrderView", "Outcome", "PlaceOrder", "PlaceOrders", "ReconcileReason", "ReconcileRequest",
    "ReconcileSnapshot", "RequestUnknown", "ScheduleCancel", "ScheduleCancelResult", "Side",
    "TargetLadder", "Tif", "Trade", "Trades", "is_cloid", "signed", "to_decimal",
]
