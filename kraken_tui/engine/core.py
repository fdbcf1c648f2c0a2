"""The trading engine: market data in, decisions, orders out, account tracked, operator state kept.

Owns: ``Engine`` (implements ``facade.EngineControl`` plus ``start``/``stop``/``finished``/``exit_code``):
construction, the engine clock, start/stop, the job worker, marks -> exits, fills, journal writes. The
rest is mixed in, one module each: ``core_events`` (feeds, timers), ``core_control`` (facade, operator
acts, flatten), ``core_decisions`` (candles -> strategy -> decisions); ``core_orders`` (order flows) and
``core_reconcile`` (reconciliation) are attributes.
It talks to the exchange only through ``KrakenRestClient`` and ``KrakenWsClient`` (paper and live alike).

Flow (../shared/guides/architecture.md "Data flow"): WS ticker/trade -> ``MarketState`` (candles) -> on
each closed candle of the strategy's timeframe and series: strategy -> ``decide`` -> a job on the
engine's single job worker -> ``OrderFlow`` -> ``Executor`` (intent journaled, then sent). Private WS
feeds (fills, open_orders, open_positions, balances) -> ``AccountTracker``; fills are journaled and drive
the exits (``PositionExits``); marks drive trailing stops, time exits and liquidation alerts.
Operator (``OperatorStateMachine``): every transition is journaled (``StateChange``) and published;
the state restored from the journal is the initial state; the daily loss limit pauses until 00:00 UTC
(engine clock); the equity floor flattens, halts and sets ``exit_code`` 5; market data older than
``operator.stale_data_s`` blocks entries. The WS consumer never awaits an order: order work runs on
the job worker, so a slow exchange never stalls market data. A bad message becomes an ERROR event and
the engine keeps running.
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
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from kraken_tui.config import Config
from kraken_tui.domain import ZERO, Fill, FillType, Instrument, to_decimal
from kraken_tui.engine.account import AccountTracker, ManagedPosition
from kraken_tui.engine.core_control import ControlMixin
from kraken_tui.engine.core_decisions import DecisionsMixin
from kraken_tui.engine.core_events import EventsMixin
from kraken_tui.engine.core_orders import OrderFlow, exit_reason_for
from kraken_tui.engine.core_reconcile import Reconciler, journal_view
from kraken_tui.engine.execution import Executor
from kraken_tui.engine.facade import (
    EngineEvent,
    EngineMode,
    EventKind,
    FeedView,
    FlattenProgress,
    FlattenReport,
    Severity,
    SignalView,
)
from kraken_tui.engine.fill_origin import our_orders
from kraken_tui.engine.funding import FundingAccrual
from kraken_tui.engine.indicators import ATR
from kraken_tui.engine.market import MarketState
from kraken_tui.engine.operator import (
    OperatorState,
    OperatorStateMachine,
    TransitionRefused,
)
from kraken_tui.engine.orphans import sweep_orphans
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.journal.records import (
    Alert,
    EquitySnapshot,
    IntentPurpose,
)

__all__ = ["Engine"]

log = logging.getLogger(__name__)



class Engine(EventsMixin, ControlMixin, DecisionsMixin):
    """The engine (module docstring). Build it with ``runtime.build_runtime`` or directly in tests.

    Args:
        cfg: the whole configuration.
        client: a ``KrakenRestClient`` (instruments must load).
        ws: a ``KrakenWsClient`` (private feeds need credentials).
        journal: a started ``JournalWriter`` (or anything with async ``write``/``flush``).
        run_id: this run's id (``RunStarted`` is written by the caller).
        mode: paper / replay / live (shown in the snapshot).
        synthetic: prices are synthetic (shown).
        restored: (state, reason) restored from the journal; None = RUNNING.
        data_clock: use the market data's timestamps as the engine clock (replay).
        durable_intents: flush the journal before each order is sent.
        strategy: a built strategy (default: ``build_strategy`` from ``[strategy]``).
        symbols: the perpetuals traded (default ``[strategy] symbols``; a replay passes the replayed ones,
            see ``runtime.replay_symbols``).

    Attributes:
        finished: set when the engine stopped by itself (kill condition, fatal error) or was stopped.
        exit_code: 0, or 5 after an equity-floor halt, or the fatal error's exit code.
    """

    def __init__(self, cfg: Config, *, client: Any, ws: Any, journal: Any, run_id: str,
                 mode: EngineMode = EngineMode.PAPER, synthetic: bool = False,
                 restored: tuple[OperatorState, str] | None = None, data_clock: bool = False,
                 durable_intents: bool = True, strategy: Any = None, journal_path: str | None = None,
                 symbols: tuple[str, ...] | list[str] | None = None) -> None:
        self.cfg = cfg
        self.client, self.ws, self.journal = client, ws, journal
        self.run_id, self.mode, self.synthetic = run_id, mode, synthetic
        self.journal_path = journal_path
        self._data_clock = data_clock
        self._data_ms: int | None = None
        self.strategy = strategy or build_strategy(cfg.strategy.name, cfg.strategy.params,
                                                   timeframe=cfg.strategy.timeframe)
        self.symbols = tuple(s.upper() for s in (cfg.strategy.symbols if symbols is None else symbols))
        tfs = tuple(dict.fromkeys((*self.strategy.timeframes, cfg.strategy.timeframe)))
        self.market = MarketState(self.symbols, tfs, series=("trade", "spot"))
        self.account = AccountTracker()
        self.instruments: dict[str, Instrument] = {}
        self.executor = Executor(client, journal, self.now_ms, durable=durable_intents)
        self.flow = OrderFlow(self.executor, self.account, self.instruments, cfg.exits, self.emit, self.now_ms)
        state, reason = restored or (OperatorState.RUNNING, "start")
        self.sm = OperatorStateMachine(self.now_ms, state, reason)
        self.sm.add_listener(self._on_transition)
        self.finished = asyncio.Event()
        self.exit_code = 0
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._events: deque[EngineEvent] = deque(maxlen=200)
        self._signals: deque[SignalView] = deque(maxlen=50)
        self._jobs: asyncio.Queue[tuple[str, Callable[[], Awaitable[Any]]]] = asyncio.Queue()
        self._busy = 0
        self._idle = asyncio.Event()
        self.progress = asyncio.Event()
        """Set whenever a market message or a job was processed (the replay lockstep waits on it)."""
        self._idle.set()
        self._tasks: list[asyncio.Task[Any]] = []
        self._atr: dict[str, ATR] = {s: ATR(14) for s in self.symbols}
        self._atr_pct: dict[str, float] = {}
        self._feed = FeedView()
        self._feed_wall: float | None = None
        self.starting_equity: Decimal = ZERO
        self.peak_equity: Decimal = ZERO
        self._day_equity: Decimal | None = None
        self._daily_paused = False
        self._equity_hist: deque[tuple[int, float]] = deque(maxlen=240)
        self._flatten: FlattenProgress | None = None
        self._flattening: asyncio.Task[FlattenReport] | None = None
        self._losses = 0
        self._risk_seen: dict[str, Any] = {}
        self._funding_hour: int | None = None
        self.dead_man: Any = None
        self.rec = Reconciler(self)
        """Reconciliation with the exchange (engine.core_reconcile)."""
        self.flow.on_unprotected = self.rec.takeover.guard  # an entry whose stop was refused (engine.takeover)
        self.funding = FundingAccrual()
        """Hourly funding estimate per open position (``PositionView.funding_accrued_usd``); the journal's
        ``FundingPayment`` records are the exchange's real payments (core_events.poll_funding)."""
        self.candles_seen = 0
        self.ws_positions: tuple[Any, ...] | None = None
        """Positions as the exchange last pushed them on the private ``open_positions`` feed (spec §7.10);
        None until its snapshot arrived and again after a disconnect (``flatten`` then reads them)."""
        self.current_job: str | None = None
        self.stopped = False

    # ------------------------------------------------------------------ clock
    def now_ms(self) -> int:
        """Engine clock, UTC ms (module docstring)."""
        if self._data_clock and self._data_ms is not None:
            return self._data_ms
        return int(time.time() * 1000)

    def _touch(self, ts_ms: int | None) -> None:
        if ts_ms is not None and (self._data_ms is None or ts_ms > self._data_ms):
            self._data_ms = ts_ms
        self._feed_wall = time.monotonic()

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
            await sweep_orphans(self)
            await self.rec.takeover.sweep()  # positions of ours with no resting stop (engine.takeover)
        eq = self.account.equity_usd or ZERO
        self.starting_equity = self.peak_equity = eq
        await self._warm_up()
        await self._subscribe()
        self._tasks = [asyncio.create_task(self._consume(), name="engine-ws"),
                       asyncio.create_task(self._worker(), name="engine-jobs"),
                       asyncio.create_task(self._periodic(), name="engine-timer")]
        await self._start_dead_man()
        self.emit(EventKind.INFO, f"engine started: {self.mode.value}, strategy {self.strategy.name} on "
                  f"{', '.join(self.symbols)} {self.cfg.strategy.timeframe}; state {self.sm.state.value}")

    async def stop(self, reason: str = "stop") -> None:
        """Stop in order: no new jobs, let the current job finish (bounded), stop the tasks. Positions and
        protective orders stay open on the exchange. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
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
        self._feed = FeedView("ended", None, reason)
        self.finished.set()

    async def wait_idle(self) -> None:
        """Return when no job is queued or running."""
        while not (self._jobs.empty() and self._busy == 0):
            self._idle.clear()
            await self._idle.wait()

    @property
    def busy(self) -> bool:
        """True while order work is queued or running."""
        return self._busy > 0 or not self._jobs.empty()

    @property
    def data_ms(self) -> int | None:
        """Latest market data timestamp seen (UTC ms), None before any."""
        return self._data_ms

    def fail(self, exc: BaseException) -> None:
        """A fatal error: halt (entries and exits off), publish it, finish with its exit code."""
        code = getattr(exc, "exit_code", 1)
        self.emit(EventKind.ERROR, f"fatal: {exc}", severity=Severity.CRITICAL)
        with contextlib.suppress(TransitionRefused):
            self.sm.halt(f"fatal error: {exc}")
        self.exit_code = code
        self.finished.set()

    # ------------------------------------------------------------------ jobs
    def submit(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        """Queue order work for the job worker (one job at a time, in order)."""
        if not self.stopped:
            self._jobs.put_nowait((name, job))
            self._idle.clear()

    async def _worker(self) -> None:
        while True:
            name, job = await self._jobs.get()
            self.current_job = name
            self._busy += 1
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed job is reported; the engine keeps running
                log.exception("engine job %s failed", name)
                self.emit(EventKind.ERROR, f"{name} failed: {type(exc).__name__}: {exc}", severity=Severity.ERROR)
            finally:
                self._busy -= 1
                if self._busy == 0 and self._jobs.empty():
                    self._idle.set()
                self.progress.set()

    # ------------------------------------------------------------------ market data
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
        flattening = self.sm.state in (OperatorState.FLATTENING, OperatorState.HALTED)
        if mp is not None and ref is None and f.side.sign == mp.exits.side.sign:  # grows it: never an exit
            self._grow(mp, f, flattening)
            return
        if mp is not None and (ref is None or ref == mp.signal_id) and out.before != 0:
            trailing = mp.stop_purpose == "trailing" or mp.exits.trailing_active
            self.flow.on_exit_fill(f.symbol, ptxt, f.size)
            if mp.exits.remaining <= 0 or out.closed:
                reason = "liquidation" if f.fill_type in (FillType.LIQUIDATION, FillType.PARTIAL_LIQUIDATION) \
                    else "flatten" if flattening and purpose is None else exit_reason_for(purpose, trailing)
                self.account.managed.pop(f.symbol, None)
                self.emit(EventKind.INFO, f"{f.symbol} position closed ({reason})", symbol=f.symbol,
                          data={"exit_reason": reason})
                if flattening:  # the flatten's cancel-all took the protective orders: no cancel calls
                    self.flow.exit_reasons[reason] = self.flow.exit_reasons.get(reason, 0) + 1
                    mp.orders.clear()
                else:
                    self.submit(f"cleanup {f.symbol}", lambda: self.flow.cleanup(mp, reason))
            elif not flattening:
                self.submit(f"resync {f.symbol}", lambda: self.flow.resync(mp))
        elif out.closed and mp is None:
            self.flow.exit_reasons["external"] = self.flow.exit_reasons.get("external", 0) + 1

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

    # ------------------------------------------------------------------ journal
    async def _write(self, record: Any) -> None:
        """Queue a journal record; a failure becomes an ERROR event (never raised into the flow)."""
        try:
            await self.journal.write(record)
        except Exception as exc:
            self.emit(EventKind.ERROR, f"journal write failed: {exc}", severity=Severity.ERROR)

    def _write_soon(self, record: Any) -> None:
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
