"""Enums and small value helpers of the domain vocabulary: sides, order types, statuses, fill types.

Part of ``kraken_tui.domain`` (import from there). Units as stated in the package docstring.
Must not import: textual, httpx, websockets, aiosqlite, or any Kraken JSON field name.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

__all__ = [
    "FillType",
    "InstrumentType",
    "OrderEventType",
    "OrderStatus",
    "OrderType",
    "PositionSide",
    "Side",
    "TriggerSignal",
    "ZERO",
    "to_decimal",
]


ZERO = Decimal(0)


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Convert a number to ``Decimal`` without binary-float noise (``0.1`` -> ``Decimal('0.1')``).

    Raises:
        ValueError: when the value is not a finite number.
    """
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        try:
            d = Decimal(str(value).strip())
        except Exception as exc:  # decimal.InvalidOperation
            raise ValueError(f"not a number: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


class Side(StrEnum):
    """Order side. ``BUY`` opens or adds to a long, or reduces a short."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The closing side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class PositionSide(StrEnum):
    """Direction of an open position."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for long, -1 for short."""
        return 1 if self is PositionSide.LONG else -1

    @property
    def closing_side(self) -> Side:
        """The order side that reduces this position."""
        return Side.SELL if self is PositionSide.LONG else Side.BUY


class InstrumentType(StrEnum):
    """Kraken contract families (spec §4.2, §8.1)."""

    LINEAR = "flexible_futures"  # PF_ / FF_: multi-collateral, P&L in USD
    INVERSE = "futures_inverse"  # PI_ / FI_: coin-margined, P&L in the base asset
    VANILLA = "futures_vanilla"
    OPTIONS = "options"


class OrderType(StrEnum):
    """Order types accepted by sendorder (spec §4.10)."""

    LIMIT = "lmt"
    POST = "post"  # post-only limit
    MARKET = "mkt"  # IOC with 1% price protection
    IOC = "ioc"
    STOP = "stp"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"
    FOK = "fok"

    @property
    def is_trigger(self) -> bool:
        """True for orders that rest as triggers until ``stop_price`` is reached."""
        return self in (OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.TRAILING_STOP)


class TriggerSignal(StrEnum):
    """Price series a trigger order watches (spec §4.10; Kraken answers ``spot`` for ``index``)."""

    MARK = "mark"
    INDEX = "index"
    LAST = "last"


class FillType(StrEnum):
    """How a fill happened (spec §4.9, §7.9)."""

    MAKER = "maker"
    TAKER = "taker"
    LIQUIDATION = "liquidation"
    PARTIAL_LIQUIDATION = "partialLiquidation"
    ASSIGNOR = "assignor"
    ASSIGNEE = "assignee"
    TAKER_AFTER_EDIT = "takerAfterEdit"
    UNWIND_BANKRUPT = "unwindBankrupt"
    UNWIND_COUNTERPARTY = "unwindCounterparty"
    OTHER = "other"
    """Ours: a type this version does not know. The fill still moves the position, so it is kept, not dropped."""

    @property
    def is_liquidation(self) -> bool:
        """True when the exchange closed (part of) the position."""
        return self in (FillType.LIQUIDATION, FillType.PARTIAL_LIQUIDATION, FillType.UNWIND_BANKRUPT)


class OrderStatus(StrEnum):
    """Every ``status`` of sendorder / editorder / cancelorder / batchorder (spec §4.10-4.15).

    ``UNKNOWN`` is ours: the request left but no answer came back (timeout, connection lost after
    sending, 5xx on an order call). The caller resolves it from orders/status and fills; it is never
    read as "failed".
    """

    PLACED = "placed"
    PARTIALLY_FILLED = "partiallyFilled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EDITED = "edited"
    NO_ORDERS_TO_CANCEL = "noOrdersToCancel"
    INVALID_ORDER_TYPE = "invalidOrderType"
    INVALID_SIDE = "invalidSide"
    INVALID_SIZE = "invalidSize"
    INVALID_PRICE = "invalidPrice"
    INSUFFICIENT_AVAILABLE_FUNDS = "insufficientAvailableFunds"
    SELF_FILL = "selfFill"
    TOO_MANY_SMALL_ORDERS = "tooManySmallOrders"
    MAX_POSITION_VIOLATION = "maxPositionViolation"
    MARKET_SUSPENDED = "marketSuspended"
    MARKET_INACTIVE = "marketInactive"
    MARKET_IS_POST_ONLY = "marketIsPostOnly"
    CLIENT_ORDER_ID_ALREADY_EXIST = "clientOrderIdAlreadyExist"
    CLIENT_ORDER_ID_TOO_LONG = "clientOrderIdTooLong"
    CLIENT_ORDER_ID_TOO_BIG = "clientOrderIdTooBig"
    CLIENT_ORDER_ID_INVALID = "clientOrderIdInvalid"
    OUTSIDE_PRICE_COLLAR = "outsidePriceCollar"
    POST_WOULD_EXECUTE = "postWouldExecute"
    IOC_WOULD_NOT_EXECUTE = "iocWouldNotExecute"
    WOULD_CAUSE_LIQUIDATION = "wouldCauseLiquidation"
    WOULD_NOT_REDUCE_POSITION = "wouldNotReducePosition"
    WOULD_PROCESS_AFTER_SPECIFIED_TIME = "wouldProcessAfterSpecifiedTime"
    WOULD_INCREASE_PRICE_DISLOCATION = "wouldIncreasePriceDislocation"
    NOT_FOUND = "notFound"
    ORDER_FOR_EDIT_NOT_A_STOP = "orderForEditNotAStop"
    ORDER_FOR_EDIT_NOT_FOUND = "orderForEditNotFound"
    TOO_MANY_ORDERS = "tooManyOrders"
    FIXED_LEVERAGE_TOO_HIGH = "fixedLeverageTooHigh"
    CANNOT_EDIT_TRIGGER_PRICE_OF_TRAILING_STOP = "cannotEditTriggerPriceOfTrailingStop"
    CANNOT_EDIT_LIMIT_PRICE_OF_TRAILING_STOP = "cannotEditLimitPriceOfTrailingStop"
    REQUIRED_ARGUMENT_MISSING = "requiredArgumentMissing"
    UNKNOWN = "unknown"
    UNRECOGNISED = "unrecognised"

    @property
    def accepted(self) -> bool:
        """True when the exchange did what was asked (placed, filled, edited or cancelled)."""
        return self in _ACCEPTED

    @property
    def outcome_known(self) -> bool:
        """False only for ``UNKNOWN``: the order may or may not exist on the exchange."""
        return self is not OrderStatus.UNKNOWN


_ACCEPTED = frozenset(
    {
        OrderStatus.PLACED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.EDITED,
        OrderStatus.NO_ORDERS_TO_CANCEL,
    }
)


class OrderEventType(StrEnum):
    """``orderEvents[].type`` (spec §4.10)."""

    PLACE = "PLACE"
    CANCEL = "CANCEL"
    EDIT = "EDIT"
    REJECT = "REJECT"
    EXECUTION = "EXECUTION"
