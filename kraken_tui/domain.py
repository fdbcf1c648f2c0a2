"""The shared domain vocabulary: instruments, market data, orders, fills, positions, account.

Owns: plain immutable dataclasses and enums that every layer speaks. Units are fixed here and named:
prices in USD (quote currency), sizes in contracts (for PF_ linear perpetuals one contract is one unit
of the base asset; for PI_ inverse perpetuals one contract is 1 USD), notional in USD, funding rates
as *relative rate per hour* unless the name says ``_abs``, times as UTC epoch milliseconds (``_ms``).
Prices and sizes that go into orders, fills, positions and account figures are ``Decimal`` and compared
exactly; market data for analytics (tickers, trades, books, candles) is ``float``.

Must not import: textual, httpx, websockets, aiosqlite, or any Kraken JSON field name. Translating
Kraken's wire format into these types is the job of ``kraken_tui.kraken``.
Reference: ../shared/spec/kraken-futures-api.md (§4 REST shapes, §7 WS shapes, §8 units).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

__all__ = [
    "Account",
    "AccountLogEntry",
    "BookDelta",
    "BookLevel",
    "BookSnapshot",
    "Candle",
    "DeadManSwitchStatus",
    "Fill",
    "FillType",
    "FundingRate",
    "Instrument",
    "InstrumentType",
    "LeveragePreference",
    "MarginLevel",
    "Order",
    "OrderEvent",
    "OrderEventType",
    "OrderRequest",
    "OrderResult",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionSide",
    "PublicTrade",
    "Side",
    "Ticker",
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


# ----------------------------------------------------------------------------- instruments


@dataclass(frozen=True, slots=True)
class MarginLevel:
    """One margin tier (spec §4.2, §9).

    Attributes:
        threshold: lower bound of the tier: USD notional for PF_ (``numNonContractUnits``),
            contracts for PI_ (``contracts``).
        initial_margin_rate: fraction of notional (0.02 = 2%).
        maintenance_margin_rate: fraction of notional.
    """

    threshold: Decimal
    initial_margin_rate: Decimal
    maintenance_margin_rate: Decimal


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradeable contract (spec §4.2, §8.2).

    Attributes:
        symbol: upper-case Kraken symbol, e.g. ``PF_XBTUSD``.
        type: contract family; ``LINEAR`` settles in USD, ``INVERSE`` in the base asset.
        tick_size: price increment in USD.
        contract_size: units of base per contract for PF_ (1), USD per contract for PI_ (1).
        lot_size: size increment in contracts, ``10 ** -contractValueTradePrecision``.
        max_position_size: contracts.
        margin_levels: tiers ordered by ascending threshold.
        funding_rate_coefficient: Kraken's ``fundingRateCoefficient`` (perpetuals).
        max_relative_funding_rate: cap on |relative funding rate| per hour (perpetuals).
        post_only: the market only accepts post-only orders.
        base: base asset (``XBT``), quote: quote asset (``USD``).
    """

    symbol: str
    type: InstrumentType
    tick_size: Decimal
    contract_size: Decimal
    lot_size: Decimal
    max_position_size: Decimal | None = None
    margin_levels: tuple[MarginLevel, ...] = ()
    funding_rate_coefficient: Decimal | None = None
    max_relative_funding_rate: Decimal | None = None
    post_only: bool = False
    tradeable: bool = True
    base: str = ""
    quote: str = "USD"

    @property
    def is_linear(self) -> bool:
        """True for PF_/FF_ multi-collateral contracts (P&L in USD)."""
        return self.type is InstrumentType.LINEAR

    @property
    def is_perpetual(self) -> bool:
        """True for ``PF_``/``PI_`` symbols."""
        return self.symbol.startswith(("PF_", "PI_"))

    @property
    def min_order_size(self) -> Decimal:
        """Smallest order, in contracts: one lot (spec §8.2)."""
        return self.lot_size

    def round_price(self, price: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Round a USD price to the tick size (``rounding`` is a ``decimal`` rounding mode)."""
        return (price / self.tick_size).to_integral_value(rounding=rounding) * self.tick_size

    def round_size(self, size: Decimal) -> Decimal:
        """Round a size in contracts *down* to the lot, so rounding never grows exposure."""
        return (size / self.lot_size).to_integral_value(rounding=ROUND_DOWN) * self.lot_size

    def margin_level_for(self, notional_usd: Decimal, size_contracts: Decimal | None = None) -> MarginLevel:
        """The tier that applies to a position (bracket lookup on total notional, spec §9 [GAP]).

        PF_ tiers are keyed by USD notional, PI_ tiers by contracts (``size_contracts`` when given).

        Raises:
            ValueError: when the instrument has no margin levels.
        """
        if not self.margin_levels:
            raise ValueError(f"{self.symbol} has no margin levels")
        key = notional_usd if self.is_linear or size_contracts is None else abs(size_contracts)
        chosen = self.margin_levels[0]
        for level in self.margin_levels:
            if key >= level.threshold:
                chosen = level
        return chosen


# ----------------------------------------------------------------------------- market data


@dataclass(frozen=True, slots=True)
class Ticker:
    """Latest market summary for one symbol (REST tickers §4.3, WS ticker §7.3).

    Prices in USD; sizes in contracts; ``funding_rate`` and ``funding_rate_prediction`` are relative
    rates per hour (fractions); the ``_abs`` variants are Kraken's absolute rates (USD per contract
    per hour for PF_). Any field the source lacks is None.
    """

    symbol: str
    ts_ms: int | None = None
    last: float | None = None
    mark_price: float | None = None
    index_price: float | None = None
    bid: float | None = None
    ask: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    funding_rate: float | None = None
    funding_rate_prediction: float | None = None
    funding_rate_abs: float | None = None
    funding_rate_prediction_abs: float | None = None
    next_funding_ts_ms: int | None = None
    open_interest: float | None = None
    volume_24h: float | None = None
    suspended: bool = False
    post_only: bool = False

    @property
    def basis_bps(self) -> float | None:
        """(mark - index) / index in basis points, or None when either is missing."""
        if self.mark_price is None or not self.index_price:
            return None
        return (self.mark_price - self.index_price) / self.index_price * 1e4


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A public trade print (WS trade §7.6). ``side`` is the taker side; size in contracts."""

    symbol: str
    ts_ms: int
    price: float
    size: float
    side: Side
    seq: int | None = None
    trade_id: str | None = None
    kind: str = "fill"  # fill | liquidation | partialLiquidation | termination | block


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One price level: price in USD, size in contracts."""

    price: float
    size: float


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Full book (WS book_snapshot §7.7). ``bids`` descending, ``asks`` ascending; zero sizes dropped."""

    symbol: str
    seq: int
    ts_ms: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]


@dataclass(frozen=True, slots=True)
class BookDelta:
    """One level update (WS book §7.7): ``size`` is the new absolute size, 0 removes the level."""

    symbol: str
    seq: int
    ts_ms: int
    side: Side  # BUY = bid side, SELL = ask side
    price: float
    size: float


@dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV bar. ``ts_ms`` is the bar's *open* time (UTC ms); prices USD; volume in contracts."""

    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


@dataclass(frozen=True, slots=True)
class FundingRate:
    """One hourly funding rate (spec §4.5, §8.3).

    Attributes:
        ts_ms: start of the hour the rate applies to.
        funding_rate: relative rate per hour (fraction; positive = longs pay shorts).
        funding_rate_abs: Kraken's absolute rate, when known.
    """

    symbol: str
    ts_ms: int
    funding_rate: float
    funding_rate_abs: float | None = None


# ----------------------------------------------------------------------------- orders


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What to send to sendorder (spec §4.10). Prices USD, size in contracts, both exact.

    ``cli_ord_id`` is the client order id (cliOrdId): deterministic per intent, at most 100 chars.
    """

    symbol: str
    side: Side
    order_type: OrderType
    size: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None
    reduce_only: bool = False
    cli_ord_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.size, Decimal) or not self.size.is_finite() or self.size <= 0:
            raise ValueError(f"order size must be a positive finite Decimal, got {self.size!r}")
        for name in ("limit_price", "stop_price"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, Decimal) or not v.is_finite() or v <= 0):
                raise ValueError(f"{name} must be a positive finite Decimal, got {v!r}")
        if self.order_type in (OrderType.LIMIT, OrderType.POST, OrderType.IOC, OrderType.FOK) and (
            self.limit_price is None
        ):
            raise ValueError(f"{self.order_type.value} order needs limit_price")
        if self.order_type in (OrderType.STOP, OrderType.TAKE_PROFIT) and self.stop_price is None:
            raise ValueError(f"{self.order_type.value} order needs stop_price")
        if self.cli_ord_id is not None and not (0 < len(self.cli_ord_id) <= 100):
            raise ValueError("cli_ord_id must be 1..100 characters")


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange reports it (openorders §4.8, WS open_orders §7.8, orderEvents §4.10).

    ``size`` is the *unfilled* remainder in contracts; ``filled`` what has executed.
    """

    order_id: str
    symbol: str
    side: Side
    order_type: str  # lmt, post, ioc, stp, take_profit, trailing_stop, ... as reported
    size: Decimal
    filled: Decimal = ZERO
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trigger_signal: TriggerSignal | None = None
    reduce_only: bool = False
    cli_ord_id: str | None = None
    status: str = "untouched"
    received_ts_ms: int | None = None
    last_update_ts_ms: int | None = None

    @property
    def is_trigger(self) -> bool:
        """True for untriggered stop / take-profit / trailing-stop orders."""
        return self.order_type in ("stp", "stop", "take_profit", "trailing_stop")


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One element of ``orderEvents`` (spec §4.10): what happened to the order in this request.

    For EXECUTION: ``price`` (USD) and ``amount`` (contracts) of the execution. For REJECT: ``reason``
    is Kraken's OrderError (``POST_WOULD_EXECUTE``...). ``order`` is the order after the event (for
    EXECUTION: the order prior to execution; for EDIT: the new order) when the message carries one.
    """

    type: OrderEventType
    order_id: str | None = None
    cli_ord_id: str | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    reason: str | None = None
    execution_id: str | None = None
    order: Order | None = None


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The typed answer to sendorder / editorder / cancelorder / one batch instruction.

    ``status`` is never a crash: a rejection is a status (``postWouldExecute``...), a timeout is
    ``OrderStatus.UNKNOWN`` with ``error`` saying why, to be resolved by the caller.
    ``raw_status`` keeps Kraken's string when it is one we did not know (status ``UNRECOGNISED``).
    """

    status: OrderStatus
    order_id: str | None = None
    cli_ord_id: str | None = None
    received_ts_ms: int | None = None
    events: tuple[OrderEvent, ...] = ()
    order_tag: str | None = None
    raw_status: str | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the exchange did what was asked."""
        return self.status.accepted

    @property
    def filled_size(self) -> Decimal:
        """Contracts executed within this request (sum of EXECUTION amounts)."""
        return sum((e.amount or ZERO for e in self.events if e.type is OrderEventType.EXECUTION), ZERO)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders (fills §4.9, WS fills §7.9).

    ``size`` in contracts (positive), ``price`` in USD. ``fee`` is in ``fee_currency`` (USD for PF_),
    negative for a rebate; None when the source carries no fee (REST fills never do).
    """

    fill_id: str
    order_id: str
    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    ts_ms: int
    fill_type: FillType
    cli_ord_id: str | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None

    @property
    def notional_usd(self) -> Decimal:
        """size x price (USD; meaningful for PF_ linear contracts)."""
        return self.size * self.price


@dataclass(frozen=True, slots=True)
class Position:
    """An open position (openpositions §4.7, WS open_positions §7.10).

    ``size`` is positive contracts; direction is ``side``. ``entry_price`` is the average entry in USD.
    ``unrealized_funding`` and ``unrealized_pnl`` are in the P&L currency (USD for PF_), None when not
    reported. ``liquidation_price`` is the exchange's estimate (WS only), None when unknown.
    """

    symbol: str
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    ts_ms: int | None = None
    unrealized_funding: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    liquidation_price: Decimal | None = None
    mark_price: Decimal | None = None
    max_fixed_leverage: Decimal | None = None

    @property
    def signed_size(self) -> Decimal:
        """Contracts, negative for a short."""
        return self.size if self.side is PositionSide.LONG else -self.size


@dataclass(frozen=True, slots=True)
class Account:
    """The multi-collateral (``flex``) margin account (accounts §4.6). All figures USD.

    ``available_margin_usd = margin_equity_usd - initial_margin_usd`` per Kraken's definition.
    ``currencies`` maps a collateral currency to its quantity (in that currency).
    """

    balance_value_usd: Decimal
    portfolio_value_usd: Decimal
    collateral_value_usd: Decimal
    margin_equity_usd: Decimal
    available_margin_usd: Decimal
    initial_margin_usd: Decimal
    initial_margin_with_orders_usd: Decimal
    maintenance_margin_usd: Decimal
    unrealized_pnl_usd: Decimal
    unrealized_funding_usd: Decimal
    currencies: dict[str, Decimal] = field(default_factory=dict)

    @property
    def margin_ratio(self) -> Decimal | None:
        """maintenance margin / margin equity (0..1+; 1 = at liquidation), None with no equity."""
        if self.margin_equity_usd <= 0:
            return None
        return self.maintenance_margin_usd / self.margin_equity_usd


@dataclass(frozen=True, slots=True)
class AccountLogEntry:
    """One account-log row (history API §4.18). Amounts in ``asset`` units (USD for PF_ cash legs).

    ``info`` is Kraken's category: ``futures trade``, ``funding rate change``, ``futures liquidation``...
    ``funding_rate`` is Kraken's absolute rate; ``realized_funding`` the amount booked (positive =
    received).
    """

    id: int
    ts_ms: int
    asset: str
    info: str
    contract: str | None = None
    old_balance: Decimal | None = None
    new_balance: Decimal | None = None
    realized_pnl: Decimal | None = None
    fee: Decimal | None = None
    funding_rate: Decimal | None = None
    realized_funding: Decimal | None = None
    trade_price: Decimal | None = None
    mark_price: Decimal | None = None
    liquidation_fee: Decimal | None = None
    execution: str | None = None


@dataclass(frozen=True, slots=True)
class LeveragePreference:
    """Isolated-margin max leverage for a symbol (spec §4.17); absence means cross margin."""

    symbol: str
    max_leverage: Decimal


@dataclass(frozen=True, slots=True)
class DeadManSwitchStatus:
    """cancelallordersafter answer (spec §4.14): ``trigger_ts_ms`` None when disarmed."""

    current_ts_ms: int
    trigger_ts_ms: int | None
