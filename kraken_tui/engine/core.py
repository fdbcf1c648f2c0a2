"""The trading engine: market data in, decisions, orders out, account tracked, operator state kept.

Owns: ``Engine`` (implements ``facade.EngineControl`` plus ``start``/``stop``/``finished``/``exit_code``). It
owns the state (market, account, instruments, operator state machine, journal, events) and the lifecycle
(start, stop, the WebSocket consumer, the one-second timer, fatal errors, the equity-floor kill), and wires
the collaborators, each given the few things it uses (``context.EngineIO`` for events, clock, journal and
job queue) and never the engine:
- ``jobs.JobQueue``: the single job worker all order work runs on.
- ``market_events.MarketEvents``: public market data and connection signals (candles, marks, feed health).
- ``account_events.AccountEvents``: the private feeds (fills booked and driving the exits, order updates,
  positions, balances).
- ``decisions.Decisions``: closed candles -> strategy -> ``decide`` -> ``order_flow.OrderFlow``.
- ``order_flow.OrderFlow``: entries, closes, protective orders, trailing moves, clean-ups (``execution.Executor``).
- ``reconciler.Reconciler``: the journal's view against the exchange's; ``fill_origin.FillOrigin``,
  ``orphans.OrphanSweep`` and ``takeover.Takeover`` for fills and positions of earlier runs.
- ``account_watch.AccountWatch``: equity floor, daily loss limit, liquidation alerts, equity history, the risk
  gate's account; ``guards.GuardApplier`` carries out the guards' actions.
- ``funding_clock.FundingBook``: the hourly funding estimate and the exchange's funding payments.
- ``controls.OperatorControls``: pause, resume, reset and their journal records.
- ``flatten.EngineFlatten``: everything a flatten does (the only place).
- ``manual_desk.ManualDesk``: the operator's manual orders, closes, stop moves, edits and cancels
  (``preview_manual`` / ``manual``; the rules in ``manual``).
- ``views.SnapshotBuilder``: the front end's snapshot.
It talks to the exchange only through the ``ports`` protocols (``KrakenClient``, ``MarketFeed``,
``JournalSink``; paper and live alike).

Flow: WS ticker/trade -> ``MarketState`` (candles) -> on each closed candle of the strategy's timeframe and
series: strategy -> a job on the job worker -> ``decide`` -> ``OrderFlow`` -> ``Executor`` (intent journaled,
then sent). Private WS feeds (fills, open_orders, open_positions, balances) -> ``AccountTracker``; fills are
journaled and drive the exits (``PositionExits``); marks drive trailing stops, time exits and liquidation
alerts. Operator (``OperatorStateMachine``): every transition is journaled (``StateChange``) and published;
the state restored from the journal is the initial state. The WS consumer never awaits an order. A bad
message becomes an ERROR event and the engine keeps running.
Engine clock (``context.EngineClock``): the data clock (latest market timestamp) when ``data_clock`` is set
(replay), else UTC wall time, in ms.
Must not import: textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kraken_tui.config import Config
from kraken_tui.domain import Candle, Fill, Instrument, Position
from kraken_tui.domain.money import is_inverse_symbol, symbol_settlement_currency
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.account_events import AccountEvents, ExternalFlattenWatch
from kraken_tui.engine.account_watch import AccountWatch
from kraken_tui.engine.context import EngineClock, EngineIO, EventHub, Job, JournalOutlet
from kraken_tui.engine.controls import OperatorControls, flatten_intent
from kraken_tui.engine.deadman import DeadMansSwitch, operator_switch
from kraken_tui.engine.decisions import Decisions
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.exits import ClosePosition, ExitReason
from kraken_tui.engine.facade import (
    CHART_TIMEFRAMES,
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
from kraken_tui.engine.funding_clock import FundingBook
from kraken_tui.engine.guards import BasisGuard, GuardApplier
from kraken_tui.engine.jobs import JobQueue
from kraken_tui.engine.manual import ManualAction, ManualPreview, ManualResult
from kraken_tui.engine.manual_desk import ManualDesk
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.market_events import FeedMonitor, MarketEvents, is_connected, subscribe, warm_up
from kraken_tui.engine.operator import (
    OperatorState,
    OperatorStateMachine,
    TransitionRefused,
    TransitionSource,
)
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.engine.orphans import OrphanSweep
from kraken_tui.engine.ports import JournalHealth, JournalSink, KrakenClient, MarketFeed
from kraken_tui.engine.reconciler import Reconciler, journal_view
from kraken_tui.engine.signals import Strategy
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.engine.takeover import Takeover
from kraken_tui.engine.views import RunInfo, SnapshotBuilder, WarmupSpec
from kraken_tui.errors import ConfigError
from kraken_tui.kraken.ws_turns import TurnBudget

__all__ = ["Engine"]

log = logging.getLogger(__name__)
#: WS events handled per event-loop turn at most: a queued burst is handled over several turns, so a flatten's
#: next step, a key or the control socket waits for one turn's share, not the whole burst.
EVENTS_PER_TURN = 64
#: While a flatten starts (FLATTENING made durable, then its first request), the consumer holds the events (none
#: is dropped) for at most this long (once per flatten), so the flatten's steps do not share the loop with market
#: data.
FLATTEN_HOLD_S = 0.1


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
        self.strategy: Strategy = strategy or build_strategy(cfg.strategy.name, cfg.strategy.params,
                                                             timeframe=cfg.strategy.timeframe)
        self.symbols = tuple(s.upper() for s in (cfg.strategy.symbols if symbols is None else symbols))
        tfs = tuple(dict.fromkeys((*self.strategy.timeframes, cfg.strategy.timeframe)))
        self.market = MarketState(self.symbols, tfs, series=("trade", "spot"), trade_timeframes=CHART_TIMEFRAMES)
        self.account = AccountTracker()
        self.account.margin_coins = frozenset(symbol_settlement_currency(s) for s in self.symbols
                                              if is_inverse_symbol(s))
        self.instruments: dict[str, Instrument] = {}
        self.finished = asyncio.Event()
        self.exit_code = 0
        self.stopped = False
        self.progress = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self.dead_man: DeadMansSwitch | None = None
        self.feed = FeedMonitor()
        op = cfg.operator

        self.clock = EngineClock(data_clock)
        self.events = EventHub(self.clock.now_ms)
        self.jobs = JobQueue(self._job_failed, self._job_done)
        out = self.journal_out = JournalOutlet(journal, self.events.emit)
        self.io = EngineIO(self.events.emit, self.clock.now_ms, out.write, out.write_soon, self.jobs.submit)
        self.executor = Executor(client, journal, self.now_ms, durable=durable_intents)
        self.flow = OrderFlow(self.executor, self.account, self.instruments, cfg.exits, self.emit, self.now_ms)
        state, reason = restored or (OperatorState.RUNNING, "start")
        self.resume_flatten = state is OperatorState.FLATTENING
        """The journal ends in FLATTENING (a flatten cut by a crash): ``start`` runs it again, ending HALTED."""
        self.sm = OperatorStateMachine(self.now_ms, state, reason)
        guards = GuardApplier(self.io, self.sm, self.feed, self._kill_soon)
        self.watch = AccountWatch(self.io, op, sm=self.sm, account=self.account, market=self.market,
                                  instruments=self.instruments, guards=guards)
        self.watch.basis = BasisGuard(cfg.risk.max_basis_bps, cfg.risk.basis_action)
        guards.close_position = self._guard_close
        self.rec = Reconciler(
            self.io, client=client, account=self.account, executor=self.executor, flow=self.flow, sm=self.sm,
            interval_s=op.reconcile_interval_s, book_fill=lambda f: self.account_events.on_fill(f),
            protective_gone=lambda cid, why: self.account_events.protective_gone(cid, why),
            earlier_run_fill=lambda f, before, after: self.takeover.note(f, before, after),
            after_pass=self._after_reconcile, stopped=lambda: self.stopped, feed_offline=lambda: self.feed.offline)
        """Reconciliation with the exchange (engine.reconciler)."""
        self.controls = OperatorControls(self.io, self.sm, equity=self.watch.equity, acknowledge=self.rec.acknowledge,
                                         unacknowledged=lambda: not all(self.rec.external.values()))
        self.sm.add_listener(self.controls.on_transition)
        if isinstance(journal, JournalHealth):  # a journal that cannot write blocks entries (engine.controls)
            journal.add_health_listener(self.controls.journal_health)
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
                                   risk_account=self.watch.risk_account, on_bar=self.watch.snapshot_equity)
        self.flattener = EngineFlatten(client=client, sm=self.sm, jobs=self.jobs, account=self.account,
                                       emit=self.emit, now_ms=self.now_ms, record_action=self.controls.record,
                                       known_positions=lambda: self.account_events.known_positions(),
                                       count_exit=self.flow.count_exit, orders=self.executor,
                                       journal=self.io.write, settle=out.settle,
                                       journal_intent=lambda req: self.io.write(flatten_intent(self.now_ms(), req)),
                                       journal_intent_now=lambda req: self.io.write_soon(
                                           flatten_intent(self.now_ms(), req)), exposure=self.executor)
        self.executor.may_add_exposure = self.flattener.exposure_refusal  # no entry leaves once a flatten began
        self.executor.exposure_answered = self.flattener.entry_answered  # closes from the entry's answer
        self.manual_desk = ManualDesk(self.io, cfg=cfg, run_id=run_id, sm=self.sm, account=self.account,
                                      market=self.market, instruments=self.instruments, executor=self.executor,
                                      flow=self.flow, risk_account=self.watch.risk_account, record=self.controls.record)
        """The operator's manual orders, closes, stop moves, edits and cancels (engine.manual_desk)."""
        self.events.add_listener(self.manual_desk.on_event)
        self.external_flatten = ExternalFlattenWatch(guards, self.flattener.owns_exits)
        """Notices a flatten done behind the engine's back: HALTED (engine.account_events)."""
        self.account_events = AccountEvents(
            self.io, account=self.account, executor=self.executor, flow=self.flow, origin=self.rec.origin,
            booked=self.rec.on_booked_fill, is_ours=self.rec.is_ours, flatten=self.flattener, watch=self.watch,
            feed_live=functools.partial(is_connected, ws), external_flatten=self.external_flatten)
        self.funding = FundingBook(self.io, client=client, account=self.account, market=self.market)
        self.market_events = MarketEvents(
            self.io, clock=self.clock, market=self.market, account=self.account, sm=self.sm, flow=self.flow,
            feed=self.feed, stale_data_s=op.stale_data_s, guards=guards, watch=self.watch, funding=self.funding,
            on_candles=self.decisions.on_candles, reconcile=self.rec.schedule,
            disconnected=self.account_events.disconnected)
        self.snapshots = SnapshotBuilder(
            RunInfo(mode, synthetic, self.strategy.name, journal_path), now_ms=self.now_ms, sm=self.sm,
            account=self.account, market=self.market, instruments=self.instruments, equity=self.watch.equity,
            equity_history=self.watch.equity_history, funding=self.funding.accrual,
            is_external=self.rec.is_external, purposes=self.flow.order_purposes, signals=self.decisions.signals,
            events=self.events.recent, feed=self.feed.view, client=client)
        self.snapshots.warmup = WarmupSpec(self.strategy.series, self.strategy.timeframe, self.strategy.warmup_bars)

    def _job_done(self) -> None:
        """After every job: the entries it sent are the exchange's to report (``Executor.settle_exposure``)."""
        self.executor.settle_exposure()
        self.progress.set()

    # ------------------------------------------------------------------ clock and read-outs
    def now_ms(self) -> int:
        """Engine clock, UTC ms (module docstring)."""
        return self.clock.now_ms()

    @property
    def data_ms(self) -> int | None:
        """Latest market data timestamp seen (UTC ms), None before any."""
        return self.clock.data_ms

    @property
    def busy(self) -> bool:
        """True while order work is queued or running."""
        return self.jobs.busy

    @property
    def current_job(self) -> str | None:
        """The name of the job running (or last run), None before the first."""
        return self.jobs.current

    @property
    def starting_equity(self) -> Decimal:
        """Margin equity at start, USD."""
        return self.watch.equity.starting_usd

    @property
    def ws_positions(self) -> tuple[Position, ...] | None:
        """Positions as the exchange last pushed them on the private ``open_positions`` feed (spec §7.10); None
        until its snapshot arrived and again after a disconnect (``flatten`` then reads them)."""
        return self.account_events.ws_positions

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load instruments, the journal's view and the account, reconcile them (fills the journal misses
        are booked; unexplained positions adopted; protective orders of earlier runs taken over or
        cancelled, engine.orphans; positions of ours without a resting stop taken over, engine.takeover),
        warm up candles, subscribe the feeds, start the workers.

        Raises:
            ExchangeError: instruments or the account cannot be read (nothing is started).
            ConfigError: a traded symbol is not listed by the exchange (exit 2; the message lists those it lists).
        """
        for inst in await self.client.instruments():
            self.instruments[inst.symbol] = inst
        missing = [s for s in self.symbols if s not in self.instruments]
        if missing:  # refused before anything is read or sent (CLI exit 2)
            known = sorted(s for s in self.instruments if s.startswith("PF_")) or sorted(self.instruments)
            raise ConfigError("[strategy] symbols", ", ".join(missing),
                              f"perpetuals the exchange lists: {', '.join(known) or 'none'}")
        self.rec.load(await asyncio.to_thread(journal_view, self.journal_path),
                      await asyncio.to_thread(our_orders, self.journal_path))
        await self.sync_from_rest()
        await self.rec.run("start", first=True)
        if self.rec.last_error is None:
            await self.orphans.sweep()
            await self.takeover.sweep()  # positions of ours with no resting stop (engine.takeover)
        self.watch.start()
        await self.warm_up_candles()
        await subscribe(self.ws, self.symbols, self.emit)
        self._tasks = [asyncio.create_task(self._consume(), name="engine-ws"),
                       asyncio.create_task(self.jobs.run(), name="engine-jobs"),
                       asyncio.create_task(self._periodic(), name="engine-timer")]
        self.dead_man = operator_switch(self.client, self.cfg.operator.cancel_after_s, self._dead_man_failed,
                                        self.now_ms if self.clock.data_clock else None)
        if self.dead_man is not None:
            await self.dead_man.start()
        self.emit(EventKind.INFO, f"engine started: {self.mode.value}, strategy {self.strategy.name} on "
                  f"{', '.join(self.symbols)} {self.cfg.strategy.timeframe}; state {self.sm.state.value}")
        if self.resume_flatten:  # a flatten cut by a crash is finished before anything else (engine.flatten)
            self.resume_flatten = False
            await self.flattener.flatten("resumed after a restart during a flatten", TransitionSource.RESTORE)

    async def warm_up_candles(self) -> None:
        """Charts API candles into the market state and through the strategy (``market_events.warm_up``);
        ``start`` calls it between the start-up reconciliation and the feed subscriptions."""
        await warm_up(self.client, self.market, self.strategy, self.symbols, self.emit)

    async def sync_from_rest(self) -> None:
        """Read account, positions and open orders over REST (start, reconnect, fallback polls), then the
        equity checks.

        Raises:
            ExchangeError: the exchange cannot be read (at start this aborts the start).
        """
        (acct, coins), positions, orders = await asyncio.gather(self.client.wallets(), self.client.open_positions(),
                                                                self.client.open_orders())
        self.account.set_account(acct)
        self.account.set_coin_accounts(coins)
        self.account.set_positions(positions)
        self.account.set_orders(orders)
        self.watch.check_equity()

    def _dead_man_failed(self, message: str) -> None:
        self.emit(EventKind.ALERT, message, severity=Severity.WARNING, data={"level": "HIGH"})

    async def stop(self, reason: str = "stop") -> None:
        """Stop in order: no new jobs, let the current job finish (bounded), stop the tasks. Positions and
        protective orders stay open on the exchange. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        self.external_flatten.close()
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

    def _guard_close(self, symbol: str, reason: str, exit_reason: str) -> None:
        """A guard closes ``symbol``'s position (``guards.ClosePosition``, e.g. the basis guard): a reduce-only
        market close on the job worker, journaled with the guard's own exit reason (``basis_guard``) and the
        guard's reason in an event."""
        self.emit(EventKind.INFO, f"{symbol}: closing the position ({reason})", symbol=symbol,
                  data={"exit_reason": exit_reason})
        self.submit(f"guard close {symbol}",
                    lambda: self.flow.close(ClosePosition(ExitReason(exit_reason)), symbol, None))

    def _kill_soon(self, reason: str) -> None:
        """The equity floor was crossed (``guards.Kill``): exit code 5, then flatten -> HALTED and finish
        (``flatten.EngineFlatten.kill``) in the background; nothing once the engine stopped."""
        if self.stopped:
            return
        self.exit_code = 5
        task = asyncio.get_running_loop().create_task(self._kill(reason))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _kill(self, reason: str) -> None:
        await self.flattener.kill(reason)
        self.exit_code = 5
        self.finished.set()

    def _after_reconcile(self) -> None:
        """After every successful reconciliation pass: take-over retries, the equity checks, then the account as
        REST reported it to the external-flatten guard (``AccountEvents.observe_account``)."""
        self.takeover.after_pass()
        self.watch.check_equity()
        self.account_events.observe_account()

    async def _consume(self) -> None:
        """The WebSocket consumer: each event to ``on_ws_event``, in order; a failing event is an ERROR event,
        never the end of the engine. ``asyncio.Queue.get`` returns at once while events wait, so the consumer
        gives the loop a turn after ``EVENTS_PER_TURN`` events handled in one turn (``ws_turns.TurnBudget``).
        While a flatten starts (``EngineFlatten.starting``) the next event waits until the flatten's first request
        is on its way, at most ``FLATTEN_HOLD_S`` once per flatten (the priority lane)."""
        budget = TurnBudget(EVENTS_PER_TURN)
        flattener = self.flattener
        held = False  # this flatten start was waited for already (one hold per flatten, however long it starts)
        async for ev in self.ws:
            if flattener.starting:
                if not held:
                    held = True
                    await flattener.launched(FLATTEN_HOLD_S)
            elif held:
                held = False
            try:
                await self.on_ws_event(ev)
                self.progress.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one message end the engine
                log.exception("engine failed on %s", type(ev).__name__)
                self.emit(EventKind.ERROR, f"error handling {type(ev).__name__}: {type(exc).__name__}: {exc}",
                          severity=Severity.ERROR)
            if budget.spend():
                await asyncio.sleep(0)

    async def _periodic(self) -> None:
        """Every second (wall clock): reconciliation timer (``Reconciler.tick``); stale market data blocks
        entries (``MarketEvents.check_stale``)."""
        while True:
            await asyncio.sleep(1.0)
            self.rec.tick()
            self.market_events.check_stale()

    # ------------------------------------------------------------------ events in
    async def on_ws_event(self, ev: Any) -> None:
        """Dispatch one WS event: public market data and connection signals (``MarketEvents``), else the
        private account feeds (``AccountEvents``); anything else is ignored."""
        if not self.market_events.handle(ev):
            await self.account_events.handle(ev)

    async def on_fill(self, f: Fill) -> None:
        """Book, journal and publish one fill and drive the exits (``AccountEvents.on_fill``)."""
        await self.account_events.on_fill(f)

    def emit(self, kind: EventKind, message: str, *, symbol: str | None = None,
             severity: Severity = Severity.INFO, data: Mapping[str, Any] | None = None) -> None:
        """Publish one event to the recent-events ring and every listener (``context.EventHub.emit``)."""
        self.events.emit(kind, message, symbol=symbol, severity=severity, data=data)

    # ------------------------------------------------------------------ facade (front ends)
    def snapshot(self) -> EngineSnapshot:
        """The current state, from memory only (no I/O; ``views.SnapshotBuilder``)."""
        return self.snapshots.build(dead_man=self.dead_man.view() if self.dead_man is not None else DeadManView(),
                                    flatten=self.flattener.progress, finished=self.finished.is_set())

    def add_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        """Receive every later event (called on the engine's loop; must not block)."""
        self.events.add_listener(listener)

    def remove_listener(self, listener: Callable[[EngineEvent], None]) -> None:
        """Stop receiving events (unknown listeners are ignored)."""
        self.events.remove_listener(listener)

    def pause(self, reason: str, source: TransitionSource) -> None:
        """RUNNING -> PAUSED (``controls.OperatorControls.pause``). Raises TransitionRefused from
        FLATTENING/HALTED."""
        self.controls.pause(reason, source)

    def resume(self, reason: str, source: TransitionSource) -> None:
        """PAUSED -> RUNNING, and the operator's acknowledgement of adopted positions
        (``controls.OperatorControls.resume``). Raises TransitionRefused as it documents."""
        self.controls.resume(reason, source)

    def reset(self, reason: str, source: TransitionSource) -> None:
        """HALTED -> PAUSED with a non-empty reason; an equity-floor exit code 5 is cleared. Raises
        TransitionRefused otherwise."""
        self.controls.reset(reason, source)
        if self.exit_code == 5:
            self.exit_code = 0

    async def flatten(self, reason: str, source: TransitionSource) -> FlattenReport:
        """Cancel every order, close every position the exchange reports, verify, then HALTED (never raises
        for exchange errors; the report says what failed). Everything it does: ``flatten.EngineFlatten``."""
        return await self.flattener.flatten(reason, source)

    def begin_flatten(self, reason: str, source: TransitionSource) -> asyncio.Future[FlattenReport]:
        """``flatten`` started in this call (FLATTENING set and its commit under way before it returns); the
        future carries the report (``flatten.EngineFlatten.begin``). Call on the engine's loop."""
        return self.flattener.begin(reason, source)

    async def flatten_launched(self, within_s: float) -> None:
        """Return once the running flatten's first request is on its way, or after ``within_s`` s at most
        (``flatten.EngineFlatten.launched``)."""
        await self.flattener.launched(within_s)

    def chart_candles(self, symbol: str, timeframe: str, *, bars: int = 500) -> tuple[Candle, ...]:
        """The last ``bars`` candles of ``symbol``'s trade price in ``timeframe`` (closed ones, then the forming one),
        oldest first, from the engine's candle store (``market.MarketState``); read only.

        Raises:
            ValueError: a symbol the engine does not trade, or a timeframe it does not build (the message lists
                what it has).
        """
        sym = symbol.upper()
        if sym not in self.market.symbols:
            raise ValueError(f"no candles for {sym}: the engine trades {', '.join(self.market.symbols)}")
        b = self.market.builder(sym, "trade")
        if timeframe not in b.timeframes:
            raise ValueError(f"no {timeframe} candles: the engine builds {', '.join(b.timeframes)}")
        closed = list(b.candles(timeframe))[-max(1, bars):]
        forming = b.forming(timeframe)
        if forming is not None and (not closed or forming.ts_ms > closed[-1].ts_ms):
            closed = [*closed[1:], forming] if len(closed) >= bars else [*closed, forming]
        return tuple(closed)

    def preview_manual(self, action: ManualAction) -> ManualPreview:
        """What a manual action would send, or why it is refused, with no side effect
        (``manual_desk.ManualDesk.preview``)."""
        return self.manual_desk.preview(action)

    async def manual(self, action: ManualAction, source: TransitionSource, *,
                     override: bool = False) -> ManualResult:
        """Carry out a manual action (``manual_desk.ManualDesk.run``); never raises for bad input or exchange
        errors."""
        return await self.manual_desk.run(action, source, override=override)
