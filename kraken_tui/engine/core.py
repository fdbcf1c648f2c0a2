"""The trading engine: market data in, decisions, orders out, account tracked, operator state kept.

Owns: ``Engine`` (implements ``facade.EngineControl`` plus ``start``/``stop``/``finished``/``exit_code``). It
owns the state (market, account, instruments, operator state machine, journal, events) and wires the
collaborators, each given the few things it uses (``context.EngineIO`` for events, clock, journal and job
queue) and never the engine:
- ``jobs.JobQueue``: the single job worker all order work runs on.
- ``decisions.Decisions``: closed candles -> strategy -> ``decide`` -> ``order_flow.OrderFlow``.
- ``order_flow.OrderFlow``: entries, closes, protective orders, trailing moves, clean-ups (``execution.Executor``).
- ``reconciler.Reconciler``: the journal's view against the exchange's; ``fill_origin.FillOrigin``,
  ``orphans.OrphanSweep`` and ``takeover.Takeover`` for fills and positions of earlier runs.
- ``guards``: equity floor, daily loss limit, liquidation alerts, stale data; they return actions, applied
  here (``_apply``).
- ``flatten.EngineFlatten``: everything a flatten does (the only place).
- ``market_events``: feed health, subscriptions, candle warm-up, funding clock and payments.
- ``views``: the front end's snapshot parts.
It talks to the exchange only through the ``ports`` protocols (``KrakenClient``, ``MarketFeed``,
``JournalSink``; paper and live alike).

Flow: WS ticker/trade -> ``MarketState`` (candles) -> on each closed candle of the strategy's timeframe and
series: strategy -> a job on the job worker -> ``decide`` -> ``OrderFlow`` -> ``Executor`` (intent journaled,
then sent). Private WS feeds (fills, open_orders, open_positions, balances) -> ``AccountTracker``; fills are
journaled and drive the exits (``PositionExits``); marks drive trailing stops, time exits and liquidation
alerts. Operator (``OperatorStateMachine``): every transition is journaled (``StateChange``) and published;
the state restored from the journal is the initial state. The WS consumer never awaits an order. A bad
message becomes an ERROR event and the engine keeps running.
Engine clock: the data clock (latest market timestamp) when ``data_clock`` is set (replay), else UTC
wall time, in ms.
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from kraken_tui.config import Config
from kraken_tui.domain import ZERO, Fill, FillType, Instrument, Position, to_decimal
from kraken_tui.engine import views
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.context import EngineIO, Job
from kraken_tui.engine.deadman import DeadMansSwitch
from kraken_tui.engine.decisions import Decisions
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.facade import (
    DeadManView,
    EngineEvent,
    EngineMode,
    EngineSnapshot,
    EventKind,
    FlattenReport,
    Severity,
)
from kraken_tui.engine.fill_origin import our_orders
from kraken_tui.engine.flatten import EngineFlatten
from kraken_tui.engine.funding import FundingAccrual
from kraken_tui.engine.guards import (
    Block,
    EquityGuard,
    FeedStale,
    GuardAction,
    Kill,
    LiquidationGuard,
    Notify,
    Pause,
    Resume,
    StaleDataGuard,
    Unblock,
    equity_at_mark,
)
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.market import MarketState, SeriesCandle
from kraken_tui.engine.market_events import FeedMonitor, FundingClock, funding_payments, subscribe, warm_up
from kraken_tui.engine.operator import (
    OperatorState,
    OperatorStateMachine,
    Transition,
    TransitionRefused,
    TransitionSource,
)
from kraken_tui.engine.order_flow import OrderFlow, exit_reason_for
from kraken_tui.engine.orphans import OrphanSweep
from kraken_tui.engine.ports import JournalSink, KrakenClient, MarketFeed
from kraken_tui.engine.reconcile import BLOCKER_NAME
from kraken_tui.engine.reconciler import Reconciler, journal_view
from kraken_tui.engine.risk import AccountSnapshot
from kraken_tui.engine.signals import Strategy
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.engine.takeover import Takeover
from kraken_tui.journal.encode import JournalRecord
from kraken_tui.journal.records import Alert, EquitySnapshot, EventSource, IntentPurpose, OperatorAction, StateChange
from kraken_tui.kraken import ws_events as W

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    """The engine (module docstring). Build it with ``runtime.build_runtime`` or directly in tests.

    Args:
        cfg: the whole configuration.
        client: the exchange's REST API (``ports.KrakenClient``; instruments must load).
        ws: the WebSocket client (``ports.MarketFeed``; private feeds need credentials).
        journal: a started ``JournalWriter`` (``ports.JournalSink``).
        run_id: this run's id (``RunStarted`` is written by the caller).
        mode: paper / replay / live (shown in the snapshot).
        synthetic: prices are synthetic (shown).
        restored: (state, reason) restored from the journal; None = RUNNING.
        data_clock: use the market data's timestamps as the engine clock (replay).
        durable_intents: flush the journal before each order is sent.
        strategy: a built strategy (default: ``build_strategy`` from ``[strategy]``).
        journal_path: the journal file (start-up reads what it holds); None for none.
        symbols: the perpetuals traded (default ``[strategy] symbols``; a replay passes the replayed ones).

    Attributes:
        finished: set when the engine stopped by itself (kill condition, fatal error) or was stopped.
        exit_code: 0, or 5 after an equity-floor halt, or the fatal error's exit code.
        progress: set whenever a market message or a job was processed (the replay lockstep waits on it).
        ws_positions: positions as the exchange last pushed them on the private ``open_positions`` feed (spec
            §7.10); None until its snapshot arrived and again after a disconnect (``flatten`` then reads them).
    """

    def __init__(self, cfg: Config, *, client: KrakenClient, ws: MarketFeed, journal: JournalSink, run_id: str,
                 mode: EngineMode = EngineMode.PAPER, synthetic: bool = False,
                 restored: tuple[OperatorState, str] | None = None, data_clock: bool = False,
                 durable_intents: bool = True, strategy: Strategy | None = None, journal_path: str | None = None,
                 symbols: tuple[str, ...] | list[str] | None = None) -> None:
        self.cfg = cfg
        self.client, self.ws, self.journal = client, ws, journal
        self.run_id, self.mode, self.synthetic = run_id, mode, synthetic
        self.journal_path = journal_path
        self._data_clock = data_clock
        self._data_ms: int | None = None
        self.strategy: Strategy = strategy or build_strategy(cfg.strategy.name, cfg.strategy.params,
                                                             timeframe=cfg.strategy.timeframe)
        self.symbols = tuple(s.upper() for s in (cfg.strategy.symbols if symbols is None else symbols))
        tfs = tuple(dict.fromkeys((*self.strategy.timeframes, cfg.strategy.timeframe)))
        self.market = MarketState(self.symbols, tfs, series=("trade", "spot"))
        self.account = AccountTracker()
        self.instruments: dict[str, Instrument] = {}
        self.finished = asyncio.Event()
        self.exit_code = 0
        self.stopped = False
        self.progress = asyncio.Event()
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._events: deque[EngineEvent] = deque(maxlen=200)
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._equity_hist: deque[tuple[int, float]] = deque(maxlen=240)
        self._losses = 0
        self.ws_positions: tuple[Position, ...] | None = None
        self.dead_man: DeadMansSwitch | None = None
        self.funding = FundingAccrual()
        """Hourly funding estimate per open position (``PositionView.funding_accrued_usd``); the journal's
        ``FundingPayment`` records are the exchange's real payments (``poll_funding``)."""
        self.feed = FeedMonitor()
        self.funding_clock = FundingClock()
        op = cfg.operator
        self.equity = EquityGuard(op.equity_floor_pct, op.daily_loss_limit_pct)
        self.liquidation = LiquidationGuard()
        self.stale = StaleDataGuard(op.stale_data_s)

        self.jobs = JobQueue(self._job_failed, self.progress.set)
        self.io = EngineIO(self.emit, self.now_ms, self._write, self._write_soon, self.jobs.submit)
        self.executor = Executor(client, journal, self.now_ms, durable=durable_intents)
        self.flow = OrderFlow(self.executor, self.account, self.instruments, cfg.exits, self.emit, self.now_ms)
        state, reason = restored or (OperatorState.RUNNING, "start")
        self.sm = OperatorStateMachine(self.now_ms, state, reason)
        self.sm.add_listener(self._on_transition)
        self.rec = Reconciler(
            self.io, client=client, account=self.account, executor=self.executor, flow=self.flow, sm=self.sm,
            interval_s=op.reconcile_interval_s, book_fill=lambda f: self.on_fill(f),
            protective_gone=self._protective_gone,
            earlier_run_fill=lambda f, before, after: self.takeover.note(f, before, after),
            after_pass=self._after_reconcile, stopped=lambda: self.stopped, feed_offline=lambda: self.feed.offline)
        """Reconciliation with the exchange (engine.reconciler)."""
        protective = bool(getattr(self.strategy, "protective_exits", True))
        self.orphans = OrphanSweep(self.io, self.account, self.instruments, self.executor, self.flow, cfg.exits,
                                   run_id, protective, self.rec.is_external, self.rec.forget_believed)
        self.takeover = Takeover(self.io, account=self.account, sm=self.sm, client=client, flow=self.flow,
                                 orphans=self.orphans, instruments=self.instruments, run_id=run_id,
                                 strategy_name=self.strategy.name, protective=protective,
                                 is_external=self.rec.is_external, booked_size=self.rec.booked_size)
        self.flow.on_unprotected = self.takeover.guard  # an entry whose stop was refused (engine.takeover)
        self.decisions = Decisions(self.io, cfg=cfg, strategy=self.strategy, symbols=self.symbols, run_id=run_id,
                                   market=self.market, account=self.account, instruments=self.instruments,
                                   executor=self.executor, flow=self.flow, sm=self.sm,
                                   risk_account=self.risk_account, on_bar=self._equity_snapshot)
        self.flattener = EngineFlatten(client=client, sm=self.sm, jobs=self.jobs, account=self.account,
                                       emit=self.emit, now_ms=self.now_ms, record_action=self._operator,
                                       known_positions=self._known_positions, count_exit=self.flow.count_exit)

    # ------------------------------------------------------------------ clock and read-outs
    def now_ms(self) -> int:
        """Engine clock, UTC ms (module docstring)."""
        if self._data_clock and self._data_ms is not None:
            return self._data_ms
        return int(time.time() * 1000)

    def _touch(self, ts_ms: int | None) -> None:
        if ts_ms is not None and (self._data_ms is None or ts_ms > self._data_ms):
            self._data_ms = ts_ms
        self.feed.touched()

    @property
    def data_ms(self) -> int | None:
        """Latest market data timestamp seen (UTC ms), None before any."""
        return self._data_ms

    @property
    def busy(self) -> bool:
        """True while order work is queued or running."""
        return self.jobs.busy

    @property
    def current_job(self) -> str | None:
        """The name of the job running (or last run), None before the first."""
        return self.jobs.current

    @property
    def candles_seen(self) -> int:
        """Closed candles of the signal timeframe seen."""
        return self.decisions.candles_seen

    @property
    def starting_equity(self) -> Decimal:
        """Margin equity at start, USD."""
        return self.equity.starting_usd

    @property
    def peak_equity(self) -> Decimal:
        """Highest margin equity seen, USD."""
        return self.equity.peak_usd

    def equity_at_mark(self) -> Decimal | None:
        """Margin equity (USD) re-marked with the latest marks (``guards.equity_at_mark``)."""
        return equity_at_mark(self.account, self.market)

    def risk_account(self) -> AccountSnapshot:
        """The risk gate's account snapshot (equity, collateral, positions at mark, streak, drawdown)."""
        eq = self.account.equity_usd or ZERO
        return views.risk_account(self.account, self.market, self.instruments, consecutive_losses=self._losses,
                                  drawdown_pct=self.equity.drawdown_pct(eq))

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load instruments, the journal's view and the account, reconcile them (fills the journal misses
        are booked; unexplained positions adopted; protective orders of earlier runs taken over or
        cancelled, engine.orphans; positions of ours without a resting stop taken over, engine.takeover),
        warm up candles, subscribe the feeds, start the workers.

        Raises:
            ExchangeError: instruments or the account cannot be read (nothing is started).
        """
        for inst in await self.client.instruments():
            self.instruments[inst.symbol] = inst
        missing = [s for s in self.symbols if s not in self.instruments]
        if missing:
            self.emit(EventKind.ERROR, f"symbols not listed by the exchange: {', '.join(missing)}",
                      severity=Severity.ERROR)
        self.rec.load(await asyncio.to_thread(journal_view, self.journal_path),
                      await asyncio.to_thread(our_orders, self.journal_path))
        await self.sync_from_rest()
        await self.rec.run("start", first=True)
        if self.rec.last_error is None:
            await self.orphans.sweep()
            await self.takeover.sweep()  # positions of ours with no resting stop (engine.takeover)
        self.equity.start(self.account.equity_usd or ZERO)
        await self.warm_up_candles()
        await subscribe(self.ws, self.symbols, self.emit)
        self._tasks = [asyncio.create_task(self._consume(), name="engine-ws"),
                       asyncio.create_task(self.jobs.run(), name="engine-jobs"),
                       asyncio.create_task(self._periodic(), name="engine-timer")]
        await self._start_dead_man()
        self.emit(EventKind.INFO, f"engine started: {self.mode.value}, strategy {self.strategy.name} on "
                  f"{', '.join(self.symbols)} {self.cfg.strategy.timeframe}; state {self.sm.state.value}")

    async def warm_up_candles(self) -> None:
        """Charts API candles into the market state and through the strategy (``market_events.warm_up``);
        ``start`` calls it between the start-up reconciliation and the feed subscriptions."""
        await warm_up(self.client, self.market, self.strategy, self.symbols, self.emit)

    async def sync_from_rest(self) -> None:
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

    async def _start_dead_man(self) -> None:
        timeout = self.cfg.operator.cancel_after_s
        if timeout <= 0:
            return

        def on_error(msg: str) -> None:
            self.emit(EventKind.ALERT, msg, severity=Severity.WARNING, data={"level": "HIGH"})

        self.dead_man = DeadMansSwitch(self.client, timeout, max(1.0, timeout / 3) if timeout > 1 else 0.5,
                                       on_error=on_error)
        await self.dead_man.start()

    async def stop(self, reason: str = "stop") -> None:
        """Stop in order: no new jobs, let the current job finish (bounded), stop the tasks. Positions and
        protective orders stay open on the exchange. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        self.jobs.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_idle(), timeout=10)
        if self.dead_man is not None:
            with contextlib.suppress(Exception):
                await self.dead_man.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self.feed.set("ended", None, reason)
        self.finished.set()

    async def wait_idle(self) -> None:
        """Return when no job is queued or running."""
        await self.jobs.wait_idle()

    def fail(self, exc: BaseException) -> None:
        """A fatal error: halt (entries and exits off), publish it, finish with its exit code."""
        code = getattr(exc, "exit_code", 1)
        self.emit(EventKind.ERROR, f"fatal: {exc}", severity=Severity.CRITICAL)
        with contextlib.suppress(TransitionRefused):
            self.sm.halt(f"fatal error: {exc}")
        self.exit_code = code
        self.finished.set()

    def submit(self, name: str, job: Job) -> None:
        """Queue order work for the job worker (one job at a time, in order; ignored once stopped)."""
        self.jobs.submit(name, job)

    def _job_failed(self, name: str, exc: Exception) -> None:
        self.emit(EventKind.ERROR, f"{name} failed: {type(exc).__name__}: {exc}", severity=Severity.ERROR)

    # ------------------------------------------------------------------ events and journal
    def emit(self, kind: EventKind, message: str, *, symbol: str | None = None,
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

    def _on_transition(self, t: Transition) -> None:
        src = EventSource.AUTOMATIC if t.source is TransitionSource.RESTORE else EventSource(t.source.value)
        self._write_soon(StateChange(t.ts_ms, t.to_state.value, t.reason, src, t.from_state.value))
        sev = Severity.CRITICAL if t.to_state is OperatorState.HALTED else Severity.WARNING \
            if t.to_state is not OperatorState.RUNNING else Severity.INFO
        self.emit(EventKind.STATE_CHANGE, f"{t.from_state.value} -> {t.to_state.value}: {t.reason}", severity=sev,
                  data={"state": t.to_state.value, "previous": t.from_state.value, "source": t.source.value})

    async def _write(self, record: JournalRecord) -> None:
        """Queue a journal record; a failure becomes an ERROR event (never raised into the flow)."""
        try:
            await self.journal.write(record)
        except Exception as exc:
            self.emit(EventKind.ERROR, f"journal write failed: {exc}", severity=Severity.ERROR)

    def _write_soon(self, record: JournalRecord) -> None:
        """Journal from synchronous code: schedule the (non-blocking) queue put."""
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._write(record))

    def _equity_snapshot(self) -> None:
        eq = self.account.equity_usd
        if eq is None:
            return
        marks = {s: m for s in self.account.positions if (m := self.market.mark_price(s))}
        self._equity_hist.append((self.now_ms(), float(eq)))
        self._write_soon(EquitySnapshot(self.now_ms(), eq, marks))

    # ------------------------------------------------------------------ WS consumer
    async def _consume(self) -> None:
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

    async def on_ws_event(self, ev: Any) -> None:
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
            self.feed.set("live", None, "connected")
            if isinstance(ev, W.Reconnected):
                self.emit(EventKind.FEED, f"reconnected after {ev.offline_s:.1f} s; reconciling with the exchange",
                          severity=Severity.WARNING)
                self.rec.schedule("reconnect")
        elif isinstance(ev, W.Disconnected):
            self.ws_positions = None  # not live any more: the next snapshot after the reconnect counts
            self.feed.set("reconnecting", None, ev.reason)
            self.emit(EventKind.FEED, f"market feed lost: {ev.reason}", severity=Severity.WARNING)
        elif isinstance(ev, W.FeedStale):
            self.feed.set("stale", ev.silent_for_s, f"{ev.feed} {ev.product_id or ''} silent")
        elif isinstance(ev, W.MalformedMessage):
            self.emit(EventKind.ERROR, f"malformed message ignored: {ev.error}", severity=Severity.ERROR)
        elif isinstance(ev, W.SubscriptionEvent) and not ev.ok:
            self.emit(EventKind.ERROR, f"subscription {ev.feed} refused: {ev.message}", severity=Severity.ERROR)
        elif isinstance(ev, W.WsAlert):
            self.emit(EventKind.ERROR, f"exchange alert: {ev.message}", severity=Severity.WARNING)

    def _feed_live(self) -> None:
        self.feed.live()
        self._apply(self.stale.fresh(self.sm.entry_blockers))

    def on_candles(self, closed: list[SeriesCandle]) -> None:
        """Closed candles to the strategy (``decisions.Decisions.on_candles``)."""
        self.decisions.on_candles(closed)

    def _protective_gone(self, cli_ord_id: str | None, reason: str | None) -> None:
        """A protective order left the book without filling (exchange cancel, dead man's switch): forget
        it and warn; the position is then unprotected until the operator acts."""
        for mp in self.account.managed.values():
            for key, cid in list(mp.orders.items()):
                if cid == cli_ord_id:
                    mp.orders.pop(key)
                    self.emit(EventKind.ALERT, f"{mp.symbol}: protective {key} order removed by the exchange ({reason})",
                              symbol=mp.symbol, severity=Severity.WARNING)

    # ------------------------------------------------------------------ marks, timers, guards
    def on_mark(self, symbol: str) -> None:
        """Feed the mark to the managed position's exits (trailing, time) and check liquidation risk."""
        mark = self.market.mark_price(symbol)
        mp = self.account.managed.get(symbol)
        if mark is None or mark <= 0:
            return
        if mp is not None and self.sm.exits_allowed:
            actions = mp.exits.on_mark(to_decimal(mark), self.now_ms())
            if actions:
                self.submit(f"exits {symbol}", lambda: self.flow.on_exit_actions(mp, actions))
        pos = self.account.positions.get(symbol)
        if pos is not None:
            self._check_liquidation(pos)

    def _check_liquidation(self, pos: Position) -> None:
        """Alert (event + journal) when a position's liquidation risk enters HIGH or worse."""
        liq, dist, level = views.liquidation(pos, self.account, self.market, self.instruments)
        mp = self.account.managed.get(pos.symbol)
        if mp is not None:
            mp.risk_alerted = level.value
        self._apply(self.liquidation.check(pos.symbol, liq, dist, level))

    def _equity_checks(self) -> None:
        """Peak equity, daily loss limit, equity floor (``guards.EquityGuard``) at the equity re-marked now.
        Run on every balances message and on every mark of a symbol with a position (the exchange pushes
        balances when they change, not at every mark)."""
        self._apply(self.equity.check(self.equity_at_mark(), self.sm.state))

    def _after_reconcile(self) -> None:
        self.takeover.after_pass()
        self._equity_checks()

    def _clock_tick(self) -> None:
        """Engine-clock work on market time: UTC day rollover (daily loss pause ends), hourly funding."""
        now = self.now_ms()
        if self.account.roll_day(now):
            self._apply(self.equity.new_day(self.equity_at_mark(), self.sm.state))
        since = self.funding_clock.due(now)
        if since is not None and (self.account.positions or self.account.managed):
            self.submit("funding payments", lambda: self.poll_funding(since))

    async def poll_funding(self, since_ms: int) -> None:
        """Journal funding payments booked since ``since_ms`` (``market_events.funding_payments``)."""
        read = await funding_payments(self.client, since_ms)
        if read.error is not None:
            self.emit(EventKind.ERROR, f"funding read failed: {read.error}", severity=Severity.WARNING)
            return
        for p in read.payments:
            await self._write(p)
            self.account.funding_today_usd += p.amount_usd
            mp = self.account.managed.get(p.symbol)
            if mp is not None:
                mp.funding_usd += p.amount_usd
            self.emit(EventKind.FUNDING, f"{p.symbol} funding {p.amount_usd:+.4f} USD", symbol=p.symbol,
                      data={"amount_usd": str(p.amount_usd)})

    def _accrue(self, symbol: str) -> None:
        """Funding estimate (engine.funding, spec §8.3): the position held and the latest mark and hourly
        rate of ``symbol``; every top of the hour passed settles one hour per open position."""
        now = self.now_ms()
        try:
            self.funding.set_position(symbol, self.account.signed_size(symbol), now)
            self.funding.observe(symbol, self.market.mark_price(symbol), self.market.funding_rate(symbol), now)
        except ValueError as exc:  # a non-finite price or rate: skip the estimate, say so
            self.emit(EventKind.ERROR, f"{symbol} funding estimate skipped: {exc}", symbol=symbol,
                      severity=Severity.WARNING)

    async def _periodic(self) -> None:
        """Every second (wall clock): reconciliation timer (``Reconciler.tick``); stale market data blocks
        entries (``guards.StaleDataGuard``)."""
        while True:
            await asyncio.sleep(1.0)
            self.rec.tick()
            self._apply(self.stale.check(self.feed.age_s(), self.sm.entry_blockers))

    def _apply(self, actions: Sequence[GuardAction]) -> None:
        """Carry out the guards' actions (``engine.guards``)."""
        for a in actions:
            if isinstance(a, Pause):
                self.sm.pause(a.reason, TransitionSource.AUTOMATIC)
            elif isinstance(a, Resume):
                with contextlib.suppress(TransitionRefused):
                    self.sm.resume(a.reason, TransitionSource.AUTOMATIC)
            elif isinstance(a, Kill):
                if not self.stopped:
                    self.exit_code = 5
                    task = asyncio.get_running_loop().create_task(self._kill(a.reason))
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            elif isinstance(a, Block):
                self.sm.block_entries(a.blocker, a.detail)
            elif isinstance(a, Unblock):
                self.sm.clear_blocker(a.blocker)
            elif isinstance(a, FeedStale):
                self.feed.set("stale", a.age_s, a.detail)
            elif isinstance(a, Notify):
                self.emit(a.kind, a.message, symbol=a.symbol, severity=a.severity, data=a.data)
                if a.alert_level is not None:
                    self._write_soon(Alert(self.now_ms(), a.alert_level, a.message, a.symbol))

    async def _kill(self, reason: str) -> None:
        await self.flattener.kill(reason)
        self.exit_code = 5
        self.finished.set()

    # ------------------------------------------------------------------ fills
    async def on_fill(self, f: Fill) -> None:
        """Book, journal and publish one fill; drive the exits of the managed position it belongs to. A fill
        on the managed position's own side that is no entry of this run grows it (``_grow``), never an exit."""
        out = self.account.apply_fill(f)
        if not out.new:
            return
        await self._write(f)
        await self.rec.on_booked_fill(f)
        purpose = self.executor.purpose_of(f.cli_ord_id)
        ptxt = purpose.value if purpose is not None else "external"
        label = ptxt if purpose is not None else self.rec.origin.purpose_of(f.cli_ord_id) or ptxt  # earlier run's
        self.emit(EventKind.FILL, f"{f.symbol} {f.side.value} {f.size} @ {f.price} filled ({label})", symbol=f.symbol,
                  data={"fill_id": f.fill_id, "cli_ord_id": f.cli_ord_id, "purpose": label, "price": str(f.price),
                        "size": str(f.size), "fee": str(f.fee) if f.fee is not None else None})
        if out.realized_usd != 0:
            self._losses = self._losses + 1 if out.realized_usd < 0 else 0
        mp = self.account.managed.get(f.symbol)
        if purpose in (IntentPurpose.ENTRY, IntentPurpose.ADD) and mp is not None \
                and self.flow.cid_ref.get(f.cli_ord_id or "") == mp.signal_id:
            return
        ref = self.flow.cid_ref.get(f.cli_ord_id or "")
        flattening = self.flattener.owns_exits()
        if mp is not None and ref is None and f.side.sign == mp.exits.side.sign:  # grows it: never an exit
            self._grow(mp, f, flattening)
            return
        if mp is not None and (ref is None or ref == mp.signal_id) and out.before != 0:
            trailing = mp.stop_purpose == "trailing" or mp.exits.trailing_active
            self.flow.on_exit_fill(f.symbol, ptxt, f.size)
            if mp.exits.remaining <= 0 or out.closed:
                reason = "liquidation" if f.fill_type in (FillType.LIQUIDATION, FillType.PARTIAL_LIQUIDATION) \
                    else self.flattener.exit_reason(ours=purpose is not None) or exit_reason_for(purpose, trailing)
                self.account.managed.pop(f.symbol, None)
                self.emit(EventKind.INFO, f"{f.symbol} position closed ({reason})", symbol=f.symbol,
                          data={"exit_reason": reason})
                if not self.flattener.position_closed(mp, reason):
                    self.submit(f"cleanup {f.symbol}", lambda: self.flow.cleanup(mp, reason))
            elif not flattening:
                self.submit(f"resync {f.symbol}", lambda: self.flow.resync(mp))
        elif out.closed and mp is None:
            self.flow.count_exit("external")

    def _grow(self, mp: ManagedPosition, f: Fill, flattening: bool) -> None:
        """A fill on the managed position's own side that is no entry of this run (an earlier run's entry that
        still rested, e.g. after a take-over; or another program's order, which reconciliation adopts)
        grows the position: added to its exits (``PositionExits.add``: size-weighted entry, stop and
        take-profits re-laid), the protective orders resynced (stop size = the new size), journaled (Alert)."""
        mp.exits.add(f.size, f.price)
        whose = f"our earlier {self.rec.origin.purpose_of(f.cli_ord_id) or 'entry'} order" \
            if self.rec.is_ours(f.cli_ord_id) else "an order the engine did not send"
        msg = (f"{f.symbol} {mp.exits.side.value} {mp.exits.remaining - f.size} -> {mp.exits.remaining}: fill "
               f"{f.fill_id} of {whose} {f.cli_ord_id or '-'} added to the managed position"
               + ("" if not mp.exits.protective else f"; stop {mp.exits.stop_price} and take-profits resized"))
        self.emit(EventKind.ALERT, msg, symbol=f.symbol, severity=Severity.INFO, data={"level": "INFO"})
        self._write_soon(Alert(self.now_ms(), "INFO", msg, f.symbol))
        if not flattening:
            self.submit(f"resync {f.symbol}", lambda: self.flow.resync(mp, replace_tps=True))

    # ------------------------------------------------------------------ facade (front ends)
    def snapshot(self) -> EngineSnapshot:
        """The current state, from memory only (no I/O)."""
        positions = tuple(views.position_view(p, self.account, self.market, self.instruments,
                                              funding_usd=self.funding.accrued(p.symbol),
                                              external=self.rec.is_external(p.symbol))
                          for p in self.account.positions.values())
        headroom = None
        rl = getattr(self.client, "rate_limit", None)
        if rl is not None:
            with contextlib.suppress(Exception):
                avail, cap = rl.headroom()
                headroom = max(0.0, min(1.0, avail / cap)) if cap else None
        return EngineSnapshot(
            ts_ms=self.now_ms(), mode=self.mode, synthetic=self.synthetic, state=self.sm.state,
            state_reason=self.sm.reason, entry_blockers=self.sm.entry_blockers,
            account=views.account_view(self.account, positions, self.equity.starting_usd, self.equity.peak_usd,
                                       tuple(self._equity_hist)),
            positions=positions, orders=views.order_views(self.account, self._purposes()),
            markets=self.market.views(), signals=tuple(self.decisions.signals), events=tuple(self._events),
            feed=self.feed.view(), dead_man=self.dead_man.view() if self.dead_man is not None else DeadManView(),
            rate_limit_headroom=headroom, flatten=self.flattener.progress, strategy=self.strategy.name,
            journal_path=self.journal_path, finished=self.finished.is_set())

    def _purposes(self) -> dict[str, str]:
        out = {cid: i.purpose.value for cid, i in self.executor.intents.items()}
        out.update(self.flow.snapshot_orders())
        return out

    def add_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        """Receive every later event (called on the engine's loop; must not block)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        """Stop receiving events (unknown listeners are ignored)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def pause(self, reason: str, source: TransitionSource) -> None:
        """RUNNING -> PAUSED (entries blocked, exits on). Raises TransitionRefused from FLATTENING/HALTED."""
        self._operator("pause", reason, source)
        self.sm.pause(reason, source)

    def resume(self, reason: str, source: TransitionSource) -> None:
        """PAUSED -> RUNNING; also the operator's acknowledgement of positions reconciliation adopted as
        external: they stay tagged external (not managed by the engine: no stop, no take-profits) but the
        ``reconciliation mismatch`` entry blocker is cleared. While RUNNING with that blocker only (the pause
        was not possible or was undone), resume acknowledges without a transition.

        Raises:
            TransitionRefused: from FLATTENING or HALTED, or from RUNNING with nothing to acknowledge.
        """
        pending = BLOCKER_NAME in self.sm.entry_blockers
        if self.sm.state is OperatorState.RUNNING and pending:
            self._operator("resume", reason, source)
            self._acknowledge()
            return
        self._operator("resume", reason, source)
        self.sm.resume(reason, source)
        self.equity.daily_paused = False
        if pending or any(not ok for ok in self.rec.external.values()):
            self._acknowledge()

    def _acknowledge(self) -> None:
        syms = self.rec.acknowledge()
        self.emit(EventKind.INFO, "reconciliation acknowledged by the operator"
                  + (f": {', '.join(syms)} kept as external" if syms else ""), data={"symbols": syms})

    def reset(self, reason: str, source: TransitionSource) -> None:
        """HALTED -> PAUSED with a non-empty reason. Raises TransitionRefused otherwise."""
        self._operator("reset", reason or "-", source)
        self.sm.reset(reason, source)
        if self.exit_code == 5:
            self.exit_code = 0

    def _operator(self, action: str, reason: str, source: TransitionSource) -> None:
        src = EventSource(source.value) if source is not TransitionSource.RESTORE else EventSource.AUTOMATIC
        self._write_soon(OperatorAction(self.now_ms(), action, reason.strip() or "-", src))

    async def flatten(self, reason: str, source: TransitionSource) -> FlattenReport:
        """Cancel every order, close every position the exchange reports, verify, then HALTED (never raises
        for exchange errors; the report says what failed). Everything it does: ``flatten.EngineFlatten``."""
        return await self.flattener.flatten(reason, source)

    def _known_positions(self) -> tuple[Position, ...] | None:
        """The positions the exchange last pushed, when the private feed is live (connected and the
        ``open_positions`` snapshot arrived since), else None."""
        if self.ws_positions is None:
            return None
        connected: object = getattr(self.ws, "connected", None)
        live = connected() if callable(connected) else True if connected is None else connected
        return self.ws_positions if live else None
