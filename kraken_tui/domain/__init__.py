"""The shared domain vocabulary: instruments, market data, orders, fills, positions, account.

Owns: plain immutable dataclasses and enums that every layer speaks. Units are fixed here and named:
prices in USD (quote currency), sizes in contracts (for PF_ linear perpetuals one contract is one unit
of the base asset; for PI_ inverse perpetuals one contract is 1 USD), notional in USD, funding rates
as *relative rate per hour* unless the name says ``_abs``, times as UTC epoch milliseconds (``_ms``).
Prices and sizes that go into orders, fills, positions and account figures are ``Decimal`` and compared
exactly; market data for analytics (tickers, trades, books, candles) is ``float``.

Must not import: textual, httpx, websockets, aiosqlite, or any Kraken JSON field name. Translating
Kraken's wire format into these types is the job of ``kraken_tui.kraken``.
Money rules (P&L, fees, funding, margin, liquidation) are the pure functions of ``kraken_tui.domain.money``;
time units (``HOUR_MS`` ...) are in ``kraken_tui.domain.timeunits``. Reference: Kraken Futures docs (REST v3
and WebSocket v1 pages; units as in "Get instruments", "Get open positions", "Historical funding rates").
"""

from kraken_tui.domain.account import (
    Account,
    AccountLogEntry,
    CoinAccount,
    DeadManSwitchStatus,
    LeveragePreference,
    Position,
)
from kraken_tui.domain.instruments import Instrument, MarginLevel
from kraken_tui.domain.market import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    Candle,
    FundingRate,
    PublicTrade,
    Ticker,
)
from kraken_tui.domain.orders import Fill, Order, OrderEvent, OrderRequest, OrderResult
from kraken_tui.domain.timeunits import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS
from kraken_tui.domain.values import (
    ZERO,
    FillType,
    InstrumentType,
    OrderEventType,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    TriggerSignal,
    to_decimal,
)

__all__ = [
    "Account",
    "CoinAccount",
    "AccountLogEntry",
    "BookDelta",
    "BookLevel",
    "BookSnapshot",
    "Candle",
    "DAY_MS",
    "DeadManSwitchStatus",
    "Fill",
    "FillType",
    "FundingRate",
    "HOUR_MS",
    "Instrument",
    "InstrumentType",
    "LeveragePreference",
    "MINUTE_MS",
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
    "SECOND_MS",
    "Side",
    "Ticker",
    "TriggerSignal",
    "ZERO",
    "to_decimal",
]
