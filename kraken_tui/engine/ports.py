"""The venue seam: what the engine needs from the exchange client, the market feed and the journal.

Owns: ``KrakenClient`` (exactly the REST calls the engine makes: Kraken Futures docs, REST v3 and the
charts API, each method naming its endpoint), ``MarketFeed`` (the WebSocket client: subscribe,
start, an async stream of ``kraken.ws_events`` events), ``JournalSink`` (async ``write``/``flush`` of
journal records) and ``RateLimitGauge``. ``kraken.rest.KrakenRestClient`` (live Kraken and the paper
exchange alike), ``kraken.ws.KrakenWsClient`` and ``journal.writer.JournalWriter`` satisfy them
structurally; tests pass fakes with the same shape.
Units: times UTC ms unless a parameter says seconds; sizes contracts and prices USD (Decimal).
Must not import: textual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from kraken_tui.domain import (
    Account,
    AccountLogEntry,
    Candle,
    CoinAccount,
    DeadManSwitchStatus,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    OrderResult,
    Position,
)
from kraken_tui.errors import JournalError
from kraken_tui.journal.encode import JournalRecord
from kraken_tui.kraken.rest_orders import BatchInstruction
from kraken_tui.kraken.rest_parse_orders import CancelAllResult, OrderStatusInfo

__all__ = ["FlattenClient", "JournalHealth", "JournalSink", "KrakenClient", "MarketFeed", "OrderClient", "RateLimitGauge"]


class OrderClient(Protocol):
    """The order calls of Kraken Futures REST v3 the engine's ``Executor`` makes ("Send order", "Edit order",
    "Cancel order", and "Get specific orders' status" behind ``resolve_unknown``)."""

    async def send_order(self, req: OrderRequest, *, instrument: Instrument | None = None,
                         priority: bool = False) -> OrderResult:
        """Send one order (Kraken Futures docs, REST v3 "Send order"); UNKNOWN on an ambiguous failure."""
        ...

    async def edit_order(self, *, order_id: str | None = None, cli_ord_id: str | None = None,
                         size: Decimal | None = None, limit_price: Decimal | None = None,
                         stop_price: Decimal | None = None, instrument: Instrument | None = None) -> OrderResult:
        """Amend one order (REST v3 "Edit order"); ``size`` the new open size in contracts."""
        ...

    async def cancel_order(self, *, order_id: str | None = None, cli_ord_id: str | None = None) -> OrderResult:
        """Cancel one order (REST v3 "Cancel order")."""
        ...

    async def resolve_unknown(self, cli_ord_id: str, *, size: Decimal | None = None) -> OrderResult | None:
        """What happened to an order whose answer was lost (orders/status, then fills); None = not known yet."""
        ...


class FlattenClient(Protocol):
    """The calls ``engine.flatten`` makes (REST v3 "Get open positions", "Get open orders", "Cancel all
    orders", "Batch order management")."""

    async def cancel_all_orders(self, symbol: str | None = None) -> CancelAllResult:
        """Cancel every open order, trigger orders included (REST v3 "Cancel all orders")."""
        ...

    async def open_positions(self, *, priority: bool = False) -> list[Position]:
        """Open positions (REST v3 "Get open positions")."""
        ...

    async def open_orders(self, *, priority: bool = False) -> list[Order]:
        """Open orders (REST v3 "Get open orders")."""
        ...

    async def batch_order(self, instructions: Sequence[BatchInstruction], *,
                          priority: bool = False) -> list[OrderResult]:
        """Several sends/cancels in one call (REST v3 "Batch order management")."""
        ...


class KrakenClient(OrderClient, FlattenClient, Protocol):
    """Every REST call the engine makes (Kraken Futures docs, REST v3 and the charts API v1)."""

    async def instruments(self) -> list[Instrument]:
        """Tradeable instruments (REST v3 "Get instruments")."""
        ...

    async def account(self) -> Account:
        """The multi-collateral margin account (REST v3 "Get wallets")."""
        ...

    async def wallets(self) -> tuple[Account, tuple[CoinAccount, ...]]:
        """The multi-collateral margin account and the inverse margin accounts (REST v3 "Get wallets")."""
        ...

    async def fills(self, last_fill_time_ms: int | None = None) -> list[Fill]:
        """The latest 100 fills, or those before ``last_fill_time_ms`` (REST v3 "Get your fills")."""
        ...

    async def fills_since(self, since_ms: int, *, max_pages: int = 20) -> list[Fill]:
        """Every fill at or after ``since_ms``, paged back (REST v3 "Get your fills" with ``lastFillTime``)."""
        ...

    async def orders_status(self, *, order_ids: Sequence[str] = (),
                            cli_ord_ids: Sequence[str] = ()) -> list[OrderStatusInfo]:
        """Status of specific orders, open or recently closed (REST v3 "Get specific orders' status")."""
        ...

    async def candles(self, symbol: str, resolution: str, *, tick_type: str = "trade", from_s: int | None = None,
                      to_s: int | None = None, count: int | None = None) -> tuple[list[Candle], bool]:
        """OHLC candles (charts API v1); (candles oldest first, more candles exist)."""
        ...

    async def account_log(self, *, since_ms: int | None = None, before_ms: int | None = None, sort: str = "desc",
                          count: int | None = None, info: Sequence[str] = ()) -> list[AccountLogEntry]:
        """Account log entries, funding payments among them (history API "Account log")."""
        ...

    async def cancel_all_orders_after(self, timeout_s: int) -> DeadManSwitchStatus:
        """Arm (or with 0 disarm) the dead man's switch (REST v3 "Dead man's switch")."""
        ...


class RateLimitGauge(Protocol):
    """A client's rate-limit budget as the console shows it."""

    def headroom(self) -> tuple[int, int]:
        """(points available now, capacity) of the ``/derivatives`` budget (Kraken Futures docs, "API limits")."""
        ...


class MarketFeed(Protocol):
    """The WebSocket client (Kraken Futures docs, WebSocket API v1): subscriptions and one async
    stream of ``kraken.ws_events`` events (market data, private feeds, connection signals)."""

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        ...

    async def subscribe(self, feed: str, product_ids: Iterable[str] | None = None) -> None:
        """Subscribe ``feed`` (public feeds need ``product_ids``). Raises ``ExchangeError`` without credentials
        for a private feed."""
        ...

    async def start(self) -> None:
        """Connect and keep the connection (reconnecting) until stopped."""
        ...

    def __aiter__(self) -> MarketFeed:
        """The event stream."""
        ...

    async def __anext__(self) -> Any:
        """The next ``kraken.ws_events`` event."""
        ...


class JournalSink(Protocol):
    """The part of ``journal.writer.JournalWriter`` the engine uses."""

    async def write(self, record: JournalRecord) -> None:
        """Queue one record (returns at once unless the queue is full)."""
        ...

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        ...


@runtime_checkable
class JournalHealth(Protocol):
    """A journal that reports whether it can write (``journal.writer.JournalWriter.add_health_listener``)."""

    def add_health_listener(self, listener: Callable[[JournalError | None], None]) -> None:
        """Call ``listener(error)`` when commits start failing and ``listener(None)`` when they recover."""
        ...
