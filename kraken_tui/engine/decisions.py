"""The engine's decisions: closed candles -> strategy -> signal -> ``decide`` -> order flows.

Owns: ``Decisions``: ``on_candles`` (the strategy runs on every closed candle of its series and timeframes;
the ATR of the signal timeframe is kept for the volatility sizing), ``on_signal`` (the signal is published
and its decision queued on the engine's job worker, so it is made on the state at the time the job runs),
the decision itself (``decide`` with the risk gate's account snapshot; closes first, and a reversal's entry
only once its close left the position flat and the operator state still allows entries: a flatten or a pause
that began while the close was awaited skips it) and the
``SignalRecord`` journaled for every signal with the action taken.
Units: prices USD, sizes contracts, times UTC ms (the engine clock).
Must not import: textual, the client.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from kraken_tui.config import Config
from kraken_tui.domain import Instrument, to_decimal
from kraken_tui.engine.account import AccountTracker
from kraken_tui.engine.context import EngineIO
from kraken_tui.engine.decide import Close, Enter, Ignore, Reject, decide
from kraken_tui.engine.execution import Executor, make_signal_id, not_sent_reason
from kraken_tui.engine.facade import EventKind, Severity, SignalView
from kraken_tui.engine.indicators import ATR
from kraken_tui.engine.market import MarketState, SeriesCandle
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine
from kraken_tui.engine.order_flow import OrderFlow
from kraken_tui.engine.risk import AccountSnapshot
from kraken_tui.engine.signals import Signal, Strategy
from kraken_tui.journal.records import SignalRecord

__all__ = ["Decisions"]


class Decisions:
    """Signals and decisions of one engine (module docstring).

    Args:
        io: events, clock, journal, job worker.
        cfg: the whole configuration (``[strategy] timeframe``, ``[risk]``, ``[exits]``).
        strategy: the strategy.
        symbols: the traded perpetuals (an ATR each).
        run_id: this run's id (signal ids).
        market, account, instruments, executor, flow, sm: what a decision reads and the order flows it drives.
        risk_account: the risk gate's account snapshot now for an entry in a symbol (``views.risk_account``
            with the loss streak and drawdown: a PI_ symbol is sized from its coin's inverse margin account).
        on_bar: called for every closed candle of the signal timeframe (the engine's equity snapshot: the
            equity chart's point and its journal record; no decision reads it), after the strategy saw the candle
            and behind the decision jobs it queued (``_after_jobs``).

    Attributes:
        candles_seen: closed candles of the signal timeframe seen. signals: the latest signals (front end).
    """

    def __init__(self, io: EngineIO, *, cfg: Config, strategy: Strategy, symbols: Sequence[str], run_id: str,
                 market: MarketState, account: AccountTracker, instruments: Mapping[str, Instrument],
                 executor: Executor, flow: OrderFlow, sm: OperatorStateMachine,
                 risk_account: Callable[[str], AccountSnapshot], on_bar: Callable[[], None]) -> None:
        self.io, self.cfg, self.strategy, self.run_id = io, cfg, strategy, run_id
        self.market, self.account, self.instruments = market, account, instruments
        self.executor, self.flow, self.sm = executor, flow, sm
        self._risk_account, self._on_bar = risk_account, on_bar
        self._atr: dict[str, ATR] = {s: ATR(14) for s in symbols}
        self.atr_pct: dict[str, float] = {}
        """Latest ATR(14) of the signal timeframe as % of the close, per symbol."""
        self.candles_seen = 0
        self.signals: deque[SignalView] = deque(maxlen=50)

    def on_candles(self, closed: list[SeriesCandle]) -> None:
        """Run the strategy on every closed candle it reads; queue a job per signal; then ``on_bar`` once per
        closed candle of the signal timeframe, scheduled behind the decision jobs just queued (``_after_jobs``)."""
        strat = self.strategy
        bars = 0
        for sc in closed:
            if sc.series != strat.series or sc.timeframe not in strat.timeframes:
                continue
            if sc.timeframe == self.cfg.strategy.timeframe:
                self.candles_seen += 1
                atr = self._atr[sc.symbol].update(sc.candle)
                if atr is not None and sc.candle.close > 0:
                    self.atr_pct[sc.symbol] = atr / sc.candle.close * 100
                bars += 1
            sig = strat.on_candle(sc.symbol, sc.timeframe, sc.candle, self.market)
            if sig is not None:
                self.on_signal(sig)
        for _ in range(bars):
            _after_jobs(self._on_bar)

    def on_signal(self, sig: Signal) -> None:
        """Record a signal and queue the decision (made when the job runs, on the state at that time)."""
        io = self.io
        sid = make_signal_id(self.run_id, sig.symbol, sig.ts_ms if sig.ts_ms is not None else io.now_ms())
        io.emit(EventKind.SIGNAL, f"{sig.symbol} {sig.side.value} signal ({sig.confidence:.2f}): {sig.reason}",
                symbol=sig.symbol, data={"signal_id": sid, "side": sig.side.value, "confidence": sig.confidence})
        io.submit(f"signal {sid}", lambda: self.act(sig, sid))

    async def act(self, sig: Signal, sid: str) -> None:
        """Decide on ``sig`` now and carry the actions out (closes first)."""
        sym = sig.symbol
        inst = self.instruments.get(sym)
        mark = self.market.mark_price(sym)
        state = self.sm.state
        if state in (OperatorState.FLATTENING, OperatorState.HALTED) or inst is None or not mark:
            why = f"engine {state.value}" if inst is not None and mark else f"no instrument or mark for {sym}"
            await self._record(sig, sid, f"ignored: {why}", None)
            return
        index = self.market.index_price(sym)
        block = self.sm.entry_rejection_reason()
        if self.executor.unresolved:
            block = block or f"unresolved order outcome ({len(self.executor.unresolved)})"
        actions = decide(
            sig, instrument=inst, position_size=self.account.signed_size(sym), mark_price=to_decimal(mark),
            index_price=to_decimal(index) if index else None, account=self._risk_account(sym),
            risk_cfg=self.cfg.risk, exits_cfg=self.cfg.exits, entry_block_reason=block,
            atr_pct=self.atr_pct.get(sym), funding_rate=self.market.funding_rate(sym),
            sizing=getattr(self.strategy, "sizing", None),
            protective=getattr(self.strategy, "protective_exits", True),
            confidence_sized=bool(getattr(self.strategy, "confidence_sized", False)))
        done: list[str] = []
        rejection = None
        closed_first = False
        for a in actions:
            if isinstance(a, Close):
                await self.flow.close(a, sym, sid)
                done.append("exit sent")
                closed_first = True
            elif isinstance(a, Enter):
                moved = closed_first and self.sm.state is not OperatorState.RUNNING
                now_blocked = self.sm.entry_rejection_reason() if moved else None
                if now_blocked is not None:
                    # the state moved while the close was awaited (a flatten began, a pause): no entry now
                    done.append(f"entry skipped: {now_blocked}")
                    self.io.emit(EventKind.RISK_REJECTION, f"{sym} {sig.side.value} entry skipped after the close: "
                                 f"{now_blocked}", symbol=sym, severity=Severity.WARNING, data={"signal_id": sid})
                    continue
                left = self.account.signed_size(sym)
                if closed_first and left != 0:
                    # the reversal's close was refused, lost or not filled yet: entering now would net against
                    # the old position and leave a size (and stops) nobody decided on
                    done.append("entry skipped: the close did not fill")
                    self.io.emit(EventKind.RISK_REJECTION, f"{sym} {sig.side.value} entry skipped: the close of "
                                 f"the {left} position did not fill", symbol=sym, severity=Severity.WARNING,
                                 data={"signal_id": sid})
                    continue
                unsent = not_sent_reason(await self.flow.enter(a, sid))
                done.append("entry sent" if unsent is None else f"entry not sent: {unsent}")
            elif isinstance(a, Reject):
                rejection = a.reason
                done.append("rejected")
                self.io.emit(EventKind.RISK_REJECTION, f"{sym} {sig.side.value} entry rejected: {a.reason}",
                             symbol=sym, severity=Severity.WARNING, data={"signal_id": sid})
            elif isinstance(a, Ignore):
                done.append(f"ignored: {a.reason}")
        await self._record(sig, sid, "; ".join(done) or "ignored", rejection)

    async def _record(self, sig: Signal, sid: str, action: str, rejection: str | None) -> None:
        now = self.io.now_ms
        name = sig.strategy or self.strategy.name
        self.signals.append(SignalView(sig.ts_ms or now(), sig.symbol, sig.side.value, sig.confidence, name,
                                       sig.reason, action, rejection))
        features = {k: v for k, v in sig.features.items() if isinstance(v, int | float)}
        await self.io.write(SignalRecord(sig.ts_ms or now(), sid, sig.symbol, sig.side.value, sig.confidence,
                                         name, sig.reason or "-", action, features, rejection))


def _after_jobs(callback: Callable[[], None]) -> None:
    """Call ``callback`` on the event loop's next turn (``call_soon``), behind the job worker's wake-up that a job
    just queued scheduled: an entry decided on this candle then reaches its request's send (in the job's first
    step) without the equity snapshot's work before it, and its intent's priority commit without the snapshot's
    record (written after the intent, in the journal's order). Without a running loop (a synchronous caller)
    ``callback`` is called at once. The order of the two is a matter of speed only: no decision reads the
    snapshot."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        callback()
        return
    loop.call_soon(callback)
