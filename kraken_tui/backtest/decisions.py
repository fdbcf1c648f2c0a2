"""Decisions at the bar close: the engine's exit policy, strategy signals through ``decide`` and the risk
gate, and the operator's daily loss limit and equity floor.

Owns: the ``Decisions`` mixin of ``Backtest``. Signals go through ``engine.decide.decide`` (basis guard,
``engine.risk.evaluate_entry``) with the close as mark; exits through ``engine.exits.PositionExits.on_mark``;
the operator through ``engine.operator.OperatorStateMachine``. Must not import: textual.
"""

from __future__ import annotations

import math
from decimal import Decimal

from kraken_tui.domain import OrderType, Side
from kraken_tui.engine.decide import Close, Enter, Reject, decide
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.exits import ClosePosition, ExitReason, MoveStop
from kraken_tui.engine.operator import OperatorState, TransitionSource
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure
from kraken_tui.engine.signals import Signal
from kraken_tui.journal.records import SignalRecord, StateChange

from .orders import _Resting
from .settings import _INF, DAY_MS, HOUR_MS, dec_of

__all__ = ["Decisions"]

_BUY, _SELL = Side.BUY, Side.SELL
_MARKET = OrderType.MARKET
_HALTED, _FLATTENING = OperatorState.HALTED, OperatorState.FLATTENING
_REASON_VALUE = {r: r.value for r in ExitReason}




class Decisions:
    """Decisions at bar closes (a mixin of ``runner.Backtest``)."""

    # ================================================================== decisions at the close

    def _on_mark(self, c: float, close_ms: int) -> None:
        ex = self.exits
        assert ex is not None
        for act in ex.on_mark(dec_of(c), close_ms):
            if isinstance(act, MoveStop):
                old = next((r for r in self.resting if r.kind is OrderType.STOP), None)
                if old is not None:
                    self.resting.remove(old)
                so = ex.stop_order()
                if so is not None:
                    cli = self._intent(close_ms, so.side, so.size, OrderType.STOP, ExitReason.TRAILING.value,
                                       self._open_signal, price=so.price, reduce_only=True)
                    self.resting.append(_Resting(ExitReason.TRAILING, so.side, OrderType.STOP, so.size, so.price, cli))
            elif isinstance(act, ClosePosition):
                self._queue_close(act.reason, close_ms, self._open_signal)
        self.best_f = float(ex.best_price)
        if ex.time_exit_done:
            self.time_due_ms = 1 << 62
        self._thresholds()

    def _queue_close(self, reason: ExitReason, ts: int, signal_id: str | None) -> None:
        pos = self.position.size
        if pos == 0:
            return
        side = _SELL if pos > 0 else _BUY
        size = abs(pos)
        value = _REASON_VALUE.get(reason) or reason.value
        cli = self._intent(ts, side, size, _MARKET, value, signal_id, reduce_only=True)
        self.pending.append(("close", side, size, value, cli, signal_id, None))

    def _account(self, mark: Decimal) -> AccountSnapshot:
        """The account the risk gate sees at ``mark`` (USD): equity = balance + unrealised P&L (``paper.account
        .unrealized_pnl``, linear), the position with its tier's margin rates, drawdown from the peak (%)."""
        position = self.position
        pos = position.size
        balance = equity = self.balance
        if pos:
            entry = position.entry_price
            im, mm = self._pos_rates  # margin_rates(inst, pos, entry), kept by Fills._refresh_liq for this position
            positions: tuple[OpenExposure, ...] = (OpenExposure(self.symbol, pos, entry, mark, im, mm),)
            equity = balance + (mark - entry) * pos * self._cs  # unrealized_pnl(inst, pos, entry, mark), pos != 0
        else:
            positions = ()
        peak = self.peak_f
        dd = (peak - float(equity)) / peak * 100.0 if peak > 0 else 0.0
        return AccountSnapshot(equity, balance, positions, self.consecutive_losses, 0.0 if dd < 0.0 else dd)

    def _on_signal(self, sig: Signal, c: float, close_ms: int, eq: float) -> None:
        res = self.result
        res.signals += 1
        self.now_ms = close_ms
        prefix = self._sig_prefix
        signal_id = prefix + str(close_ms) if prefix is not None else make_signal_id(self.s.run_id, self.symbol,
                                                                                       close_ms)
        op = self.op
        state = op.state
        if state is _HALTED or state is _FLATTENING:
            self._signal_record(sig, signal_id, close_ms, "ignored", f"engine {state.value}")
            return
        mark = dec_of(c)
        atr = self._atr_now
        actions = decide(
            sig, instrument=self.inst, position_size=self.position.size, mark_price=mark, index_price=mark,
            account=self._account(mark), risk_cfg=self.risk_cfg, exits_cfg=self._exits_cfg,
            entry_block_reason=op.entry_rejection_reason(),
            atr_pct=atr / c * 100.0 if atr is not None and c > 0 else None,
            funding_rate=self._rate_for(close_ms - close_ms % HOUR_MS),
            sizing=self.sizing, protective=self.protective,
        )
        action, why = "ignored", None
        for a in actions:
            if isinstance(a, Close):
                self._queue_close(a.reason, close_ms, signal_id)
                action = "intent"
            elif isinstance(a, Enter):
                side, size = a.order_side, a.size
                cli = self._intent(close_ms, side, size, _MARKET, "entry", signal_id)
                name = self.cur_strategies[signal_id] = sig.strategy or self.strategy.name
                self.pending.append(("enter", side, size, name, cli, signal_id, a))
                action = "intent"
            elif isinstance(a, Reject):
                res.rejected += 1
                why = a.reason
                if action != "intent":
                    action = "rejected"
            else:
                why = why or a.reason
        if self.sink is not None:
            self._signal_record(sig, signal_id, close_ms, action, why)

    def _signal_record(self, sig: Signal, signal_id: str, ts: int, action: str, why: str | None) -> None:
        if self.sink is None:
            return
        feats = {k: v for k, v in sig.features.items() if isinstance(v, int | float) and math.isfinite(v)}
        self.sink(SignalRecord(ts, signal_id, sig.symbol, sig.side.value, float(sig.confidence),
                               sig.strategy or self.strategy.name, sig.reason or "-", action, feats, why))

    # ================================================================== operator

    def _operator_checks(self, close_ms: int, eq: float) -> None:
        """Daily loss limit (pause entries until the next UTC day) and equity floor (flatten, then HALTED),
        evaluated at bar closes with the mark-to-market equity."""
        self.now_ms = close_ms
        cfg = self.s.operator
        if close_ms >= self.day_end_ms:
            self.day_end_ms = close_ms - close_ms % DAY_MS + DAY_MS
            self.day_limit_f = eq * (1.0 - cfg.daily_loss_limit_pct / 100.0)
            self.op.clear_blocker("daily loss limit")
        if eq < self.day_limit_f and "daily loss limit" not in self.op.entry_blockers:
            self.op.block_entries("daily loss limit", f"equity {eq:.2f} below {self.day_limit_f:.2f} USD")
            self.day_limit_f = -_INF
        if eq < self.floor_f and self.op.state not in (OperatorState.FLATTENING, OperatorState.HALTED):
            self.op.flatten(f"equity {eq:.2f} USD below the floor {self.floor_f:.2f} USD "
                            f"({cfg.equity_floor_pct:g}% of starting equity)", TransitionSource.AUTOMATIC)
            self.pending = [p for p in self.pending if p[0] == "close"]
            if self.position.size == 0:
                self.op.flatten_done("already flat")
            elif not self.pending:
                self._queue_close(ExitReason.FLATTEN, close_ms, self._open_signal)
            self.floor_f = -_INF

    def _on_transition(self, tr) -> None:
        if tr.to_state is OperatorState.FLATTENING:
            from kraken_tui.journal.export import iso_ms

            self.result.notes.append(f"{iso_ms(tr.ts_ms)} flattened and HALTED: {tr.reason}; no entries after "
                                     "that ([operator] equity_floor_pct)")
        if self.sink is not None:
            self.sink(StateChange(tr.ts_ms, tr.to_state.value, tr.reason, "automatic", tr.from_state.value))
