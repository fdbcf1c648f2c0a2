"""The engine's inputs: WebSocket event dispatch, REST fallback reads, timers, operator safety checks.

Owns: ``EventsMixin`` (mixed into ``core.Engine``): publishing engine events, journaling operator
transitions, subscribing and consuming the WS feeds (spec §7: ticker, trade, open_orders, fills,
open_positions, balances; a fills snapshot books what ``engine.fill_origin`` says is not history),
warming candles up from the charts API (spec §6), REST reads as fallback (spec §4.6-§4.9), funding
payments from the account log (spec §4.18, §8.3), the stale-data blocker, the daily loss limit (PAUSED
until 00:00 UTC), the equity floor (flatten -> HALTED, exit code 5) and liquidation alerts (HIGH or
worse, engine.liquidation).
A malformed or unexpected message is an ERROR event; the consumer keeps running.
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kraken_tui.domain import Position, to_decimal
from kraken_tui.engine.facade import EngineEvent, EventKind, FeedView, Severity
from kraken_tui.engine.liquidation import RiskLevel
from kraken_tui.engine.operator import OperatorState, Transition, TransitionRefused, TransitionSource
from kraken_tui.errors import ExchangeError
from kraken_tui.journal.records import Alert, FundingPayment, StateChange
from kraken_tui.kraken import ws_events as W

if TYPE_CHECKING:
    from kraken_tui.engine.core import Engine

__all__ = ["EventsMixin"]

log = logging.getLogger(__name__)

STALE_BLOCKER = "stale market data"
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_ALERT_LEVEL = {RiskLevel.HIGH: "HIGH", RiskLevel.EXTREME: "CRITICAL", RiskLevel.CRITICAL: "CRITICAL"}
_RANK = {lvl: i for i, lvl in enumerate(RiskLevel)}


class EventsMixin:
    """Inputs of the Engine (module docstring). Uses the Engine's attributes; not usable alone."""

    # ------------------------------------------------------------------ publishing
    def emit(self: Engine, kind: EventKind, message: str, *, symbol: str | None = None,
             severity: Severity = Severity.INFO, data: Mapping[str, Any] | None = None) -> None:
        """Publish one event to the recent-events ring and every listener (listener errors are logged)."""
        ev = EngineEvent(self.now_ms(), kind, message, symbol, severity, dict(data or {}))
        self._events.append(ev)
        if severity in (Severity.ERROR, Severity.CRITICAL):
            log.error("%s", message)
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # a broken front end must not stop the engine
                log.exception("engine event listener failed")

    def _on_transition(self: Engine, t: Transition) -> None:
        src = "automatic" if t.source is TransitionSource.RESTORE else t.source.value
        self._write_soon(StateChange(t.ts_ms, t.to_state.value, t.reason, src, t.from_state.value))  # type: ignore[arg-type]
        sev = Severity.CRITICAL if t.to_state is OperatorState.HALTED else Severity.WARNING \
            if t.to_state is not OperatorState.RUNNING else Severity.INFO
        self.emit(EventKind.STATE_CHANGE, f"{t.from_state.value} -> {t.to_state.value}: {t.reason}", severity=sev,
                  data={"state": t.to_state.value, "previous": t.from_state.value, "source": t.source.value})

    # ------------------------------------------------------------------ start-up
    async def _subscribe(self: Engine) -> None:
        ws = self.ws
        await ws.subscribe("ticker", self.symbols)
        await ws.subscribe("trade", self.symbols)
        for feed in ("open_orders", "fills", "open_positions", "balances"):
            try:
                await ws.subscribe(feed)
            except ExchangeError as exc:  # no credentials: public data only
                self.emit(EventKind.ERROR, f"private feed {feed} unavailable: {exc}", severity=Severity.ERROR)
        await ws.start()

    async def _warm_up(self: Engine) -> None:
        """Charts API candles (spec §6) into the market state; the strategy sees them without trading."""
        strat = self.strategy
        need = int(getattr(strat, "warmup_bars", 50)) + 5
        for sym in self.symbols:
            for tf in strat.timeframes:
                try:
                    candles, _ = await self.client.candles(sym, tf, tick_type=strat.series, count=min(need, 2000))
                    accepted = self.market.warm_up(sym, tf, candles, series=strat.series)
                except Exception as exc:  # history is a convenience; live candles follow
                    self.emit(EventKind.FEED, f"{sym} {tf} warm-up skipped: {exc}", symbol=sym,
                              severity=Severity.WARNING)
                    continue
                for c in accepted:
                    strat.on_candle(sym, tf, c, self.market)  # indicators warm; signals from history ignored

    async def sync_from_rest(self: Engine) -> None:
        """Read account, positions and open orders over REST (start, reconnect, fallback polls).

        Raises:
            ExchangeError: the exchange cannot be read (at start this aborts the start).
        """
        acct, positions, orders = await asyncio.gather(self.client.account(), self.client.open_positions(),
                                                       self.client.open_orders())
        self.account.set_account(acct)
        self.account.set_positions(positions)
        self.account.set_orders(orders)
        self._equity_checks()

    async def _start_dead_man(self: Engine) -> None:
        timeout = self.cfg.operator.cancel_after_s
        if timeout <= 0:
            return
        try:
            from kraken_tui.engine.deadman import DeadMansSwitch  # B's module
        except ImportError:
            self.emit(EventKind.ERROR, "dead man's switch configured but not available", severity=Severity.ERROR)
            return
        def on_error(msg: str) -> None:
            self.emit(EventKind.ALERT, msg, severity=Severity.WARNING, data={"level": "HIGH"})

        self.dead_man = DeadMansSwitch(self.client, timeout, max(1.0, timeout / 3) if timeout > 1 else 0.5,
                                       on_error=on_error)
        await self.dead_man.start()

    # ------------------------------------------------------------------ WS consumer
    async def _consume(self: Engine) -> None:
        async for ev in self.ws:
            try:
                await self.on_ws_event(ev)
                self.progress.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one message end the engine
                log.exception("engine failed on %s", type(ev).__name__)
                self.emit(EventKind.ERROR, f"error handling {type(ev).__name__}: {type(exc).__name__}: {exc}",
                          severity=Severity.ERROR)

    async def on_ws_event(self: Engine, ev: Any) -> None:
        """Dispatch one WS event (public market data, private account feeds, connection signals)."""
        if isinstance(ev, W.TickerEvent | W.TickerLiteEvent):
            t = ev.ticker
            self._touch(t.ts_ms)
            self._feed_live()
            self.on_candles(self.market.on_ticker(t, self.now_ms()))
            self._accrue(t.symbol)
            self._clock_tick()
            if t.symbol in self.account.positions or t.symbol in self.account.managed:
                self.on_mark(t.symbol)
                self._equity_checks()
        elif isinstance(ev, W.TradeEvent):
            self._touch(ev.trade.ts_ms)
            self._feed_live()
            self.on_candles(self.market.on_trade(ev.trade, self.now_ms()))
        elif isinstance(ev, W.FillsEvent):
            # A snapshot (at start and after every reconnect) is not all history: fills of our orders and
            # fills after the history boundary that the journal lacks are booked (engine.fill_origin).
            fills = self.rec.origin.snapshot(ev.fills) if ev.snapshot else sorted(ev.fills, key=lambda f: f.ts_ms)
            for f in fills:
                await self.on_fill(f)
        elif isinstance(ev, W.OrderUpdateEvent):
            o = ev.order
            if o is not None and o.cli_ord_id and o.order_id and (o.cli_ord_id in self.executor.intents
                                                                  or o.cli_ord_id in self.rec.origin.ours.purposes):
                self.rec.origin.ours.add(o.cli_ord_id, order_id=o.order_id)  # a snapshot fill has no cliOrdId
            gone = self.account.update_order(ev.order_id, ev.order, ev.is_cancel)
            if gone is not None:
                self.executor.gone(gone.cli_ord_id)
            if ev.order is not None:
                await self._write(ev.order)
            if gone is not None and ev.reason not in (None, "full_fill", "stop_order_triggered", "cancelled_by_user"):
                self._protective_gone(gone.cli_ord_id, ev.reason)
        elif isinstance(ev, W.OpenOrdersSnapshotEvent):
            self.account.set_orders(ev.orders)
        elif isinstance(ev, W.PositionsEvent):
            self.ws_positions = ev.positions  # the exchange's own report (flatten sizes its closes from it)
            self.account.set_positions(ev.positions)
        elif isinstance(ev, W.BalancesEvent):
            if ev.flex is not None:
                self.account.set_account(ev.flex)
                self._equity_checks()
        elif isinstance(ev, W.Connected | W.Reconnected):
            self._feed = FeedView("live", None, "connected")
            if isinstance(ev, W.Reconnected):
                self.emit(EventKind.FEED, f"reconnected after {ev.offline_s:.1f} s; reconciling with the exchange",
                          severity=Severity.WARNING)
                self.rec.schedule("reconnect")
        elif isinstance(ev, W.Disconnected):
            self.ws_positions = None  # not live any more: the next snapshot after the reconnect counts
            self._feed = FeedView("reconnecting", None, ev.reason)
            self.emit(EventKind.FEED, f"market feed lost: {ev.reason}", severity=Severity.WARNING)
        elif isinstance(ev, W.FeedStale):
            self._feed = FeedView("stale", ev.silent_for_s, f"{ev.feed} {ev.product_id or ''} silent")
        elif isinstance(ev, W.MalformedMessage):
            self.emit(EventKind.ERROR, f"malformed message ignored: {ev.error}", severity=Severity.ERROR)
        elif isinstance(ev, W.SubscriptionEvent) and not ev.ok:
            self.emit(EventKind.ERROR, f"subscription {ev.feed} refused: {ev.message}", severity=Severity.ERROR)
        elif isinstance(ev, W.WsAlert):
            self.emit(EventKind.ERROR, f"exchange alert: {ev.message}", severity=Severity.WARNING)

    def _feed_live(self: Engine) -> None:
        if self._feed.status != "live":
            self._feed = FeedView("live", 0.0, "")
        if STALE_BLOCKER in self.sm.entry_blockers:
            self.sm.clear_blocker(STALE_BLOCKER)
            self.emit(EventKind.FEED, "market data fresh again; entries unblocked")

    def _protective_gone(self: Engine, cli_ord_id: str | None, reason: str | None) -> None:
        """A protective order left the book without filling (exchange cancel, dead man's switch): forget
        it and warn; the position is then unprotected until the operator acts."""
        for mp in self.account.managed.values():
            for key, cid in list(mp.orders.items()):
                if cid == cli_ord_id:
                    mp.orders.pop(key)
                    self.emit(EventKind.ALERT, f"{mp.symbol}: protective {key} order removed by the exchange ({reason})",
                              symbol=mp.symbol, severity=Severity.WARNING)

    # ------------------------------------------------------------------ timers and safety
    def _clock_tick(self: Engine) -> None:
        """Engine-clock work on market time: UTC day rollover (daily loss pause ends), hourly funding."""
        now = self.now_ms()
        if self.account.roll_day(now):
            self._day_equity = self.equity_at_mark()
            if self._daily_paused and self.sm.state is OperatorState.PAUSED:
                self._daily_paused = False
                with contextlib.suppress(TransitionRefused):
                    self.sm.resume("new UTC day: daily loss limit reset", TransitionSource.AUTOMATIC)
        hour = now - now % _HOUR_MS
        if self._funding_hour is None:
            self._funding_hour = hour
        elif hour > self._funding_hour:
            since = self._funding_hour
            self._funding_hour = hour
            if self.account.positions or self.account.managed:
                self.submit("funding payments", lambda: self.poll_funding(since))

    async def poll_funding(self: Engine, since_ms: int) -> None:
        """Journal funding payments booked since ``since_ms`` from the account log (spec §4.18)."""
        try:
            rows = await self.client.account_log(since_ms=since_ms, sort="asc", count=100)
        except ExchangeError as exc:
            self.emit(EventKind.ERROR, f"funding read failed: {exc}", severity=Severity.WARNING)
            return
        for r in rows:
            if r.info != "funding rate change" or r.realized_funding is None or not r.contract:
                continue
            sym = r.contract.upper()
            rate = r.funding_rate or Decimal(0)
            if r.mark_price:
                rate = rate / r.mark_price  # absolute (USD per contract) -> relative per hour (§8.3)
            await self._write(FundingPayment(sym, r.ts_ms, r.realized_funding, rate))
            self.account.funding_today_usd += r.realized_funding
            mp = self.account.managed.get(sym)
            if mp is not None:
                mp.funding_usd += r.realized_funding
            self.emit(EventKind.FUNDING, f"{sym} funding {r.realized_funding:+.4f} USD", symbol=sym,
                      data={"amount_usd": str(r.realized_funding)})

    def _accrue(self: Engine, symbol: str) -> None:
        """Funding estimate (engine.funding, spec §8.3): the position held and the latest mark and hourly
        rate of ``symbol``; every top of the hour passed settles one hour per open position."""
        now = self.now_ms()
        try:
            self.funding.set_position(symbol, self.account.signed_size(symbol), now)
            self.funding.observe(symbol, self.market.mark_price(symbol), self.market.funding_rate(symbol), now)
        except ValueError as exc:  # a non-finite price or rate: skip the estimate, say so
            self.emit(EventKind.ERROR, f"{symbol} funding estimate skipped: {exc}", symbol=symbol,
                      severity=Severity.WARNING)

    async def _periodic(self: Engine) -> None:
        """Every second (wall clock): stale market data blocks entries; reconciliation timer
        (engine.core_reconcile ``Reconciler.tick``)."""
        limit = self.cfg.operator.stale_data_s
        while True:
            await asyncio.sleep(1.0)
            self.rec.tick()
            if self._feed_wall is None:
                continue
            age = time.monotonic() - self._feed_wall
            if age > limit and self.sm.block_entries(STALE_BLOCKER, f"no market data for {age:.0f} s"):
                self._feed = FeedView("stale", age, f"no market data for {age:.0f} s")
                self.emit(EventKind.FEED, f"market data stale ({age:.0f} s); entries blocked",
                          severity=Severity.WARNING)

    def _equity_checks(self: Engine) -> None:
        """Peak equity, daily loss limit (PAUSED until 00:00 UTC), equity floor (flatten -> HALTED, exit 5).
        Run on every balances message and on every mark of a symbol with a position (``equity_at_mark``:
        the exchange pushes balances when they change, not at every mark)."""
        eq = self.equity_at_mark()
        if eq is None or eq <= 0:
            return
        if eq > self.peak_equity:
            self.peak_equity = eq
        if self._day_equity is None:
            self._day_equity = eq
        op = self.cfg.operator
        if self.starting_equity > 0 and eq < self.starting_equity * to_decimal(op.equity_floor_pct) / 100:
            if self.sm.state not in (OperatorState.FLATTENING, OperatorState.HALTED) and not self.stopped:
                reason = (f"equity floor: equity {eq:.2f} USD below {op.equity_floor_pct:g}% of starting "
                          f"{self.starting_equity:.2f} USD")
                self.exit_code = 5
                asyncio.get_running_loop().create_task(self._kill(reason))
            return
        day = self._day_equity
        if day and day > 0 and (day - eq) / day * 100 >= to_decimal(op.daily_loss_limit_pct) \
                and self.sm.state is OperatorState.RUNNING:
            self._daily_paused = True
            self.sm.pause(f"daily loss limit: equity {eq:.2f} USD is {op.daily_loss_limit_pct:g}% or more below "
                          f"the day's start {day:.2f} USD; entries paused until 00:00 UTC", TransitionSource.AUTOMATIC)

    def equity_at_mark(self: Engine) -> Decimal | None:
        """Margin equity (USD) re-marked with the latest marks: the last account report's equity minus its
        unrealised P&L plus the positions' unrealised P&L at the current marks (PF_ linear: size x (mark -
        entry)); None before the first account report."""
        a = self.account.account
        if a is None:
            return None
        upnl = Decimal(0)
        for p in self.account.positions.values():
            mark = self.market.mark_price(p.symbol)
            m = to_decimal(mark) if mark else p.mark_price
            if m is None:
                return a.margin_equity_usd
            upnl += p.signed_size * (m - p.entry_price)
        return a.margin_equity_usd - a.unrealized_pnl_usd + upnl

    async def _kill(self: Engine, reason: str) -> None:
        self.emit(EventKind.ALERT, reason, severity=Severity.CRITICAL)
        await self.flatten(reason, TransitionSource.AUTOMATIC)
        self.exit_code = 5
        self.finished.set()

    def _check_liquidation(self: Engine, pos: Position) -> None:
        """Alert (event + journal) when a position's liquidation risk enters HIGH or worse."""
        from kraken_tui.engine.core_snapshot import liquidation

        liq, dist, level = liquidation(pos, self.account, self.market, self.instruments)
        mp = self.account.managed.get(pos.symbol)
        prev = self._risk_seen.get(pos.symbol, RiskLevel.LOW)
        self._risk_seen[pos.symbol] = level
        if mp is not None:
            mp.risk_alerted = level.value
        if level.alerting and _RANK[level] > _RANK[prev]:
            msg = (f"{pos.symbol} liquidation risk {level.value}: mark is {float(dist or 0) * 100:.1f}% from the "
                   f"estimated liquidation price {liq:.2f}")
            self.emit(EventKind.ALERT, msg, symbol=pos.symbol, severity=Severity.CRITICAL
                      if level is not RiskLevel.HIGH else Severity.WARNING,
                      data={"risk_level": level.value, "level": level.value})
            self._write_soon(Alert(self.now_ms(), _ALERT_LEVEL[level], msg, pos.symbol))
