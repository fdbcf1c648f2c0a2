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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as mypy and editors see them; at run time each loads on first use (__getattr__)
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

_WHERE: dict[str, str] = {
    "Account": "account",
    "AccountLogEntry": "account",
    "CoinAccount": "account",
    "DeadManSwitchStatus": "account",
    "LeveragePreference": "account",
    "Position": "account",
    "Instrument": "instruments",
    "MarginLevel": "instruments",
    "BookDelta": "market",
    "BookLevel": "market",
    "BookSnapshot": "market",
    "Candle": "market",
    "FundingRate": "market",
    "PublicTrade": "market",
    "Ticker": "market",
    "Fill": "orders",
    "Order": "orders",
    "OrderEvent": "orders",
    "OrderRequest": "orders",
    "OrderResult": "orders",
    "DAY_MS": "timeunits",
    "HOUR_MS": "timeunits",
    "MINUTE_MS": "timeunits",
    "SECOND_MS": "timeunits",
    "FillType": "values",
    "InstrumentType": "values",
    "OrderEventType": "values",
    "OrderStatus": "values",
    "OrderType": "values",
    "PositionSide": "values",
    "Side": "values",
    "TriggerSignal": "values",
    "ZERO": "values",
    "to_decimal": "values",
}
"""Exported name -> the ``kraken_tui.domain`` module that defines it."""


def __getattr__(name: str) -> Any:
    """The exported ``name``, its module imported on first use (PEP 562): a command imports only the domain
    modules it uses (``journal summary`` needs orders and values, not market data or the account)."""
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'kraken_tui.domain' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kraken_tui.domain.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
