"""Market-side inputs of the engine: public market data, the connection's signals, the feed's health,
subscriptions and candle warm-up.

Owns: ``MarketEvents`` (the dispatch of the public feed and connection events: ticker -> data clock, candles,
funding estimate, day rollover and hourly funding read, then the marks of held symbols to the exits,
liquidation alerts and equity checks; trade -> candles; connected, reconnected (a reconciliation pass),
disconnected, stale, malformed, refused subscriptions, exchange alerts -> feed status and events; and the
stale-data check every second), ``FeedMonitor`` (live / reconnecting / stale / ended, and the wall time of
the last market message), ``subscribe`` (public ``ticker`` and ``trade`` of the traded symbols, then the
private feeds; Kraken Futures docs, WebSocket API v1) and ``warm_up`` (charts API candles into the market state
and through the strategy, whose signals from history are ignored; charts API v1).
Units: times UTC ms (the engine clock) unless named ``_s`` (seconds); prices USD.
Must not import: textual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from kraken_tui.domain import to_decimal
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.account_watch import AccountWatch
from kraken_tui.engine.context import Emit, EngineClock, EngineIO
from kraken_tui.engine.facade import EventKind, FeedView, Severity
from kraken_tui.engine.funding_clock import FundingBook
from kraken_tui.engine.guards import GuardApplier, StaleDataGuard
from kraken_tui.engine.market import MarketState, SeriesCandle
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.engine.ports import KrakenClient, MarketFeed
from kraken_tui.engine.signals import Strategy
from kraken_tui.errors import ExchangeError
from kraken_tui.kraken import ws_events as W

__all__ = ["PRIVATE_FEEDS", "FeedMonitor", "MarketEvents", "subscribe", "warm_up"]
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


class MarketEvents:
    """The public feed and connection events (module docstring).

    Args:
        io: events, clock and job queue (``context.EngineIO``).
        clock: the engine clock, advanced by market data timestamps (``context.EngineClock``).
        market: quotes and candles (``market.MarketState``).
        account: positions and managed positions (their exits see the marks).
        sm: the operator state machine (exits allowed; entry blockers).
        flow: carries out the exits' actions (``order_flow.OrderFlow.on_exit_actions``).
        feed: the feed's health (``FeedMonitor``).
        stale_data_s: ``[operator] stale_data_s``: market data older than this blocks entries.
        guards: carries out the stale-data guard's actions.
        watch: equity checks, liquidation alerts, day rollover (``account_watch.AccountWatch``).
        funding: the funding estimate and the hourly payment read (``funding_clock.FundingBook``).
        on_candles: closed candles to the strategy (``decisions.Decisions.on_candles``).
        reconcile: queues a reconciliation pass with its reason (``reconciler.Reconciler.schedule``).
        disconnected: the connection dropped (``account_events.AccountEvents.disconnected``).
    """

    def __init__(self, io: EngineIO, *, clock: EngineClock, market: MarketState, account: AccountTracker,
                 sm: OperatorStateMachine, flow: OrderFlow, feed: FeedMonitor, stale_data_s: float,
                 guards: GuardApplier, watch: AccountWatch, funding: FundingBook,
                 on_candles: Callable[[list[SeriesCandle]], None], reconcile: Callable[[str], None],
                 disconnected: Callable[[], None]) -> None:
        self.io, self.clock, self.market, self.account, self.sm, self.flow = io, clock, market, account, sm, flow
        self.feed, self.guards, self.watch, self.funding = feed, guards, watch, funding
        self.stale = StaleDataGuard(stale_data_s)
        self._on_candles, self._reconcile, self._disconnected = on_candles, reconcile, disconnected

    def handle(self, ev: Any) -> bool:
        """Handle one public market data or connection event; False when ``ev`` is none of them."""
        if isinstance(ev, W.TickerEvent | W.TickerLiteEvent):
            self.on_ticker(ev)
        elif isinstance(ev, W.TradeEvent):
            self._data(ev.trade.ts_ms)
            self._on_candles(self.market.on_trade(ev.trade, self.io.now_ms()))
        elif isinstance(ev, W.Connected | W.Reconnected):
            self.feed.set("live", None, "connected")
            if isinstance(ev, W.Reconnected):
                self.io.emit(EventKind.FEED, f"reconnected after {ev.offline_s:.1f} s; reconciling with the exchange",
                             severity=Severity.WARNING)
                self._reconcile("reconnect")
        elif isinstance(ev, W.Disconnected):
            self._disconnected()
            self.feed.set("reconnecting", None, ev.reason)
            self.io.emit(EventKind.FEED, f"market feed lost: {ev.reason}", severity=Severity.WARNING)
        elif isinstance(ev, W.FeedStale):
            self.feed.set("stale", ev.silent_for_s, f"{ev.feed} {ev.product_id or ''} silent")
        elif isinstance(ev, W.MalformedMessage):
            self.io.emit(EventKind.ERROR, f"malformed message ignored: {ev.error}", severity=Severity.ERROR)
        elif isinstance(ev, W.SubscriptionEvent):
            if not ev.ok:
                self.io.emit(EventKind.ERROR, f"subscription {ev.feed} refused: {ev.message}", severity=Severity.ERROR)
        elif isinstance(ev, W.WsAlert):
            self.io.emit(EventKind.ERROR, f"exchange alert: {ev.message}", severity=Severity.WARNING)
        else:
            return False
        return True

    def on_ticker(self, ev: W.TickerEvent | W.TickerLiteEvent) -> None:
        """A ticker: data clock, candles, funding estimate, engine-clock work (day rollover, hourly funding
        read); for a symbol with a position or a managed one, the mark (``on_mark``) and the equity checks."""
        t = ev.ticker
        self._data(t.ts_ms)
        self._on_candles(self.market.on_ticker(t, self.io.now_ms()))
        self.funding.accrue(t.symbol)
        now = self.io.now_ms()
        self.watch.roll_day(now)
        self.funding.tick(now)
        if t.symbol in self.account.positions or t.symbol in self.account.managed:
            self.on_mark(t.symbol)
            self.watch.check_equity()
        elif self.watch.basis_blown(t.symbol):  # flat since the blow-out: the guard waits for the basis
            self.watch.check_basis(t.symbol)

    def on_mark(self, symbol: str) -> None:
        """Feed the mark to the managed position's exits (trailing, time; their actions queued on the job
        worker while exits are allowed) and check the position's liquidation risk."""
        mark = self.market.mark_price(symbol)
        mp = self.account.managed.get(symbol)
        if mark is None or mark <= 0:
            return
        if mp is not None and self.sm.exits_allowed:
            actions = mp.exits.on_mark(to_decimal(mark), self.io.now_ms())
            if actions:
                self.io.submit(f"exits {symbol}", lambda: self.flow.on_exit_actions(mp, actions))
        pos = self.account.positions.get(symbol)
        if pos is not None:
            self.watch.check_liquidation(pos)

    def check_stale(self) -> None:
        """Every second (wall clock): market data older than ``stale_data_s`` blocks entries
        (``guards.StaleDataGuard``)."""
        self.guards.apply(self.stale.check(self.feed.age_s(), self.sm.entry_blockers))

    def _data(self, ts_ms: int | None) -> None:
        """Market data stamped ``ts_ms`` arrived: the engine clock, the feed's age and status, the stale-data
        blocker lifted."""
        self.clock.touch(ts_ms)
        self.feed.touched()
        self.feed.live()
        self.guards.apply(self.stale.fresh(self.sm.entry_blockers))


def is_connected(ws: object) -> bool:
    """Whether the WebSocket client says it is connected (its ``connected``, a property or a method); a client
    that does not say counts as connected."""
    connected: object = getattr(ws, "connected", None)
    live = connected() if callable(connected) else True if connected is None else connected
    return bool(live)
