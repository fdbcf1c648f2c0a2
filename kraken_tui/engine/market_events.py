"""Market-side inputs of the engine: the feed's health, subscriptions, candle warm-up, the hourly funding clock
and the funding payments the exchange booked.

Owns: ``FeedMonitor`` (live / reconnecting / stale / ended, and the wall time of the last market message),
``subscribe`` (public ``ticker`` and ``trade`` of the traded symbols, then the private feeds; Kraken Futures
docs, WebSocket API v1), ``warm_up`` (charts API candles into the market state and through the
strategy, whose signals from history are ignored; charts API v1), ``FundingClock`` (top of each hour on the engine
clock) and ``funding_payments`` (the account log's ``funding rate change`` rows as journal records;
history API "Account log").
Units: times UTC ms (the engine clock) unless named ``_s`` (seconds); prices USD; funding rates relative
per hour.
Must not import: textual.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain import AccountLogEntry
from kraken_tui.engine.context import Emit
from kraken_tui.engine.facade import EventKind, FeedView, Severity
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.ports import KrakenClient, MarketFeed
from kraken_tui.engine.signals import Strategy
from kraken_tui.errors import ExchangeError
from kraken_tui.journal.records import FundingPayment

__all__ = ["PRIVATE_FEEDS", "FeedMonitor", "FundingClock", "FundingRead", "funding_payments", "subscribe", "warm_up"]

_HOUR_MS = 3_600_000
#: The private feeds the engine subscribes (WebSocket API v1 private feeds).
PRIVATE_FEEDS = ("open_orders", "fills", "open_positions", "balances")


class FeedMonitor:
    """The market feed's health for the console (``FeedView``) and the stale-data guard.

    Attributes:
        last_wall: ``time.monotonic()`` of the last market message, None before any.
    """

    def __init__(self) -> None:
        self._view = FeedView()
        self.last_wall: float | None = None

    def touched(self) -> None:
        """A market message arrived now."""
        self.last_wall = time.monotonic()

    def age_s(self) -> float | None:
        """Seconds since the last market message (None before any)."""
        return time.monotonic() - self.last_wall if self.last_wall is not None else None

    @property
    def status(self) -> str:
        """live, reconnecting, stale, ended, ... (``FeedView.status``)."""
        return self._view.status

    @property
    def offline(self) -> bool:
        """True while the WebSocket is down (reconciliation then polls REST)."""
        return self._view.status in ("reconnecting", "down")

    def live(self) -> None:
        """Market data flows (status ``live`` unless it is already)."""
        if self._view.status != "live":
            self._view = FeedView("live", 0.0, "")

    def set(self, status: str, age_s: float | None, detail: str) -> None:
        """Set the status (connected, reconnecting, stale, ended) with its detail."""
        self._view = FeedView(status, age_s, detail)

    def view(self) -> FeedView:
        """The ``FeedView`` with the current age of the last message."""
        return FeedView(self._view.status, self.age_s(), self._view.detail)


async def subscribe(ws: MarketFeed, symbols: Sequence[str], emit: Emit) -> None:
    """Subscribe ``ticker`` and ``trade`` of ``symbols`` and every private feed (one that cannot be had, e.g.
    without credentials, is an ERROR event: public data only), then start the connection."""
    await ws.subscribe("ticker", symbols)
    await ws.subscribe("trade", symbols)
    for feed in PRIVATE_FEEDS:
        try:
            await ws.subscribe(feed)
        except ExchangeError as exc:  # no credentials: public data only
            emit(EventKind.ERROR, f"private feed {feed} unavailable: {exc}", severity=Severity.ERROR)
    await ws.start()


async def warm_up(client: KrakenClient, market: MarketState, strategy: Strategy, symbols: Sequence[str],
                  emit: Emit) -> None:
    """Charts API candles (charts API v1 "OHLC") of every symbol and strategy timeframe into ``market``; the strategy sees
    them without trading (its signals from history are ignored). A failed read is a FEED warning."""
    need = int(getattr(strategy, "warmup_bars", 50)) + 5
    for sym in symbols:
        for tf in strategy.timeframes:
            try:
                candles, _ = await client.candles(sym, tf, tick_type=strategy.series, count=min(need, 2000))
                accepted = market.warm_up(sym, tf, candles, series=strategy.series)
            except Exception as exc:  # history is a convenience; live candles follow
                emit(EventKind.FEED, f"{sym} {tf} warm-up skipped: {exc}", symbol=sym, severity=Severity.WARNING)
                continue
            for c in accepted:
                strategy.on_candle(sym, tf, c, market)  # indicators warm; signals from history ignored


class FundingClock:
    """The top of each hour on the engine clock: when one passed, the account log is read for the funding
    payments booked since the previous one (Kraken Futures funds perpetuals hourly; Kraken Futures docs,
    "Funding rates")."""

    def __init__(self) -> None:
        self.hour_ms: int | None = None

    def due(self, now_ms: int) -> int | None:
        """The start (UTC ms) of the hour to read payments from when ``now_ms`` passed the top of an hour
        since the last call, else None (also at the first call, which only starts the clock)."""
        hour = now_ms - now_ms % _HOUR_MS
        if self.hour_ms is None:
            self.hour_ms = hour
            return None
        if hour > self.hour_ms:
            since, self.hour_ms = self.hour_ms, hour
            return since
        return None


@dataclass(frozen=True, slots=True)
class FundingRead:
    """The payments read (``payments``), or why the read failed (``error``)."""

    payments: tuple[FundingPayment, ...]
    error: str | None = None


async def funding_payments(client: KrakenClient, since_ms: int) -> FundingRead:
    """Funding payments booked since ``since_ms`` (UTC ms) from the account log (history API "Account log"): one
    ``FundingPayment`` per ``funding rate change`` row with a realised amount (USD) and a contract; the
    absolute rate (USD per contract) becomes relative per hour by dividing by the mark
    ("Funding rates"). An exchange
    error gives no payments and its text."""
    try:
        rows = await client.account_log(since_ms=since_ms, sort="asc", count=100)
    except ExchangeError as exc:
        return FundingRead((), str(exc))
    return FundingRead(tuple(p for r in rows if (p := _payment(r)) is not None))


def _payment(r: AccountLogEntry) -> FundingPayment | None:
    if r.info != "funding rate change" or r.realized_funding is None or not r.contract:
        return None
    rate = r.funding_rate or Decimal(0)
    if r.mark_price:
        rate = rate / r.mark_price  # absolute (USD per contract) -> relative per hour
    return FundingPayment(r.contract.upper(), r.ts_ms, r.realized_funding, rate)
