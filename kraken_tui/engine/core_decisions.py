"""The engine's decisions: closed candles -> strategy -> signal -> ``decide`` -> order flows.

Owns: ``DecisionsMixin`` (mixed into ``core.Engine``): ``on_candles`` (the strategy runs on every closed
candle of its series and timeframes), ``on_signal`` (the signal is published and its decision queued on the
engine's job worker, so it is made on the state at the time the job runs), the decision itself (``decide``
with the risk gate's account snapshot ``risk_account``; closes first) and the ``SignalRecord`` journaled
for every signal with the action taken.
Units: prices USD, sizes contracts, times UTC ms (the engine clock).
Must not import: textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kraken_tui.domain import ZERO, to_decimal
from kraken_tui.engine import core_snapshot as views
from kraken_tui.engine.decide import Close, Enter, Ignore, Reject, decide
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.facade import EventKind, Severity, SignalView
from kraken_tui.engine.market import SeriesCandle
from kraken_tui.engine.operator import OperatorState
from kraken_tui.engine.signals import Signal
from kraken_tui.journal.records import SignalRecord

if TYPE_CHECKING:
    from kraken_tui.engine.core import Engine

__all__ = ["DecisionsMixin"]


class DecisionsMixin:
    """Signals and decisions of the Engine (module docstring). Uses the Engine's attributes."""

    def on_candles(self: Engine, closed: list[SeriesCandle]) -> None:
        """Run the strategy on every closed candle it reads; queue a job per signal."""
        strat = self.strategy
        for sc in closed:
            if sc.series != strat.series or sc.timeframe not in strat.timeframes:
                continue
            if sc.timeframe == self.cfg.strategy.timeframe:
                self.candles_seen += 1
                atr = self._atr[sc.symbol].update(sc.candle)
                if atr is not None and sc.candle.close > 0:
                    self._atr_pct[sc.symbol] = atr / sc.candle.close * 100
                self._equity_snapshot()
            sig = strat.on_candle(sc.symbol, sc.timeframe, sc.candle, self.market)
            if sig is not None:
                self.on_signal(sig)

    def on_signal(self: Engine, sig: Signal) -> None:
        """Record a signal and queue the decision (made when the job runs, on the state at that time)."""
        sid = make_signal_id(self.run_id, sig.symbol, sig.ts_ms if sig.ts_ms is not None else self.now_ms())
        self.emit(EventKind.SIGNAL, f"{sig.symbol} {sig.side.value} signal ({sig.confidence:.2f}): {sig.reason}",
                  symbol=sig.symbol, data={"signal_id": sid, "side": sig.side.value, "confidence": sig.confidence})
        self.submit(f"signal {sid}", lambda: self._act(sig, sid))

    async def _act(self: Engine, sig: Signal, sid: str) -> None:
        """Decide on ``sig`` now and carry the actions out (closes first)."""
        sym = sig.symbol
        inst = self.instruments.get(sym)
        mark = self.market.mark_price(sym)
        state = self.sm.state
        if state in (OperatorState.FLATTENING, OperatorState.HALTED) or inst is None or not mark:
            why = f"engine {state.value}" if inst is not None and mark else f"no instrument or mark for {sym}"
            await self._record_signal(sig, sid, f"ignored: {why}", None)
            return
        index = self.market.index_price(sym)
        block = self.sm.entry_rejection_reason()
        if self.executor.unresolved:
            block = block or f"unresolved order outcome ({len(self.executor.unresolved)})"
        actions = decide(
            sig, instrument=inst, position_size=self.account.signed_size(sym), mark_price=to_decimal(mark),
            index_price=to_decimal(index) if index else None, account=self.risk_account(),
            risk_cfg=self.cfg.risk, exits_cfg=self.cfg.exits, entry_block_reason=block,
            atr_pct=self._atr_pct.get(sym), funding_rate=self.market.funding_rate(sym),
            sizing=getattr(self.strategy, "sizing", None),
            protective=getattr(self.strategy, "protective_exits", True))
        done: list[str] = []
        rejection = None
        for a in actions:
            if isinstance(a, Close):
                await self.flow.close(a, sym, sid)
                done.append("exit sent")
            elif isinstance(a, Enter):
                await self.flow.enter(a, sid)
                done.append("entry sent")
            elif isinstance(a, Reject):
                rejection = a.reason
                done.append("rejected")
                self.emit(EventKind.RISK_REJECTION, f"{sym} {sig.side.value} entry rejected: {a.reason}",
                          symbol=sym, severity=Severity.WARNING, data={"signal_id": sid})
            elif isinstance(a, Ignore):
                done.append(f"ignored: {a.reason}")
        await self._record_signal(sig, sid, "; ".join(done) or "ignored", rejection)

    async def _record_signal(self: Engine, sig: Signal, sid: str, action: str, rejection: str | None) -> None:
        self._signals.append(SignalView(sig.ts_ms or self.now_ms(), sig.symbol, sig.side.value, sig.confidence,
                                        sig.strategy or self.strategy.name, sig.reason, action, rejection))
        features = {k: v for k, v in sig.features.items() if isinstance(v, int | float)}
        await self._write(SignalRecord(sig.ts_ms or self.now_ms(), sid, sig.symbol, sig.side.value, sig.confidence,
                                       sig.strategy or self.strategy.name, sig.reason or "-", action, features,
                                       rejection))

    def risk_account(self: Engine):  # noqa: ANN201 - AccountSnapshot
        """The risk gate's account snapshot (equity, collateral, positions at mark, streak, drawdown)."""
        eq = self.account.equity_usd or ZERO
        dd = float((self.peak_equity - eq) / self.peak_equity * 100) if self.peak_equity > 0 and eq < self.peak_equity \
            else 0.0
        return views.risk_account(self.account, self.market, self.instruments, consecutive_losses=self._losses,
                                  drawdown_pct=dd)
