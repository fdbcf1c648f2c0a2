"""Decisions at the bar close: the engine's exit policy, strategy signals through ``decide`` and the risk
gate, and the operator's daily loss limit and equity floor.

Owns: ``Decisions``, the backtest's collaborator for what happens at a bar close. Signals go through ``engine.decide.decide`` (basis guard,
``engine.risk.evaluate_entry``) with the close as mark; exits through ``engine.exits.PositionExits.on_mark``;
the operator through ``engine.operator.OperatorStateMachine``. Must not import: textual.
"""

from __future__ import annotations

import math
from decimal import Decimal

from kraken_tui.config import RiskConfig
from kraken_tui.domain import OrderType, Side
from kraken_tui.domain.money import to_usd, unrealized_pnl
from kraken_tui.domain.timeunits import DAY_MS, HOUR_MS
from kraken_tui.engine.decide import Close, Enter, Reject, decide
from kraken_tui.engine.exits import ClosePosition, ExitReason, MoveStop
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, Transition, TransitionSource
from kraken_tui.engine.order_ids import make_signal_id
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure
from kraken_tui.engine.signals import Signal
from kraken_tui.journal.records import EventSource, SignalRecord, StateChange

from .fills import Fills, Sink
from .settings import _INF, BacktestResult, BacktestSettings, dec_of
from .state import BacktestState, Resting

__all__ = ["Decisions"]

_BUY, _SELL = Side.BUY, Side.SELL
_MARKET = OrderType.MARKET
_HALTED, _FLATTENING = OperatorState.HALTED, OperatorState.FLATTENING
_REASON_VALUE = {r: r.value for r in ExitReason}




class Decisions:
    """Decisions at the bar closes of one backtest: exit policy, strategy signals, operator limits.

    Args:
        state: the backtest's state.
        settings: instrument, run id, risk/exits/operator config, funding schedule.
        strategy_name: labels signals without a strategy of their own; ``risk_cfg``: the risk config ``decide`` gets (sizing
            mode resolved); ``sizing``/``protective``: the strategy's sizing mode and protective-exits flag.
        fills: registers order intents (``Fills.intent``).
        op: the operator state machine (its transitions are journaled here, ``on_transition``).
        result: signal/rejection counters and notes.
        sink: journal records (None = not kept).
    """

    __slots__ = ("st", "inst", "symbol", "run_id", "strategy_name", "risk_cfg", "sizing", "protective", "exits_cfg",
                 "operator_cfg", "fills", "op", "result", "sink", "_rate_for", "_sig_prefix", "confidence_sized",
                 "index_closes", "bar_ms", "basis_blown", "_eq_unit", "_eq_digits")

    def __init__(self, state: BacktestState, settings: BacktestSettings, strategy_name: str, risk_cfg: RiskConfig,
                 sizing: str | None, protective: bool, fills: Fills, op: OperatorStateMachine,
                 result: BacktestResult, sink: Sink | None) -> None:
        self.st = state
        inst = settings.instrument
        self._eq_unit = "USD" if inst.is_linear else inst.base.upper()  # the account's currency
        self._eq_digits = 2 if inst.is_linear else 8
        self.inst = settings.instrument
        self.symbol = self.inst.symbol
        self.run_id = settings.run_id
        self.strategy_name = strategy_name
        self.risk_cfg = risk_cfg
        self.sizing = sizing
        self.protective = protective
        self.confidence_sized = False
        """The strategy's size grows with its confidence (``StrategyBase.confidence_sized``); set by the runner."""
        self.index_closes = settings.index_closes
        self.bar_ms = settings.bar_ms
        self.basis_blown = False
        self.exits_cfg = settings.exits
        self.operator_cfg = settings.operator
        self.fills = fills
        self.op = op
        self.result = result
        self.sink = sink
        self._rate_for = settings.funding.rate_for
        # make_signal_id(run_id, symbol, ts) = prefix + str(ts) when its text ends with the time (checked here;
        # else None and on_signal calls it)
        prefix = make_signal_id(settings.run_id, self.symbol, 0)[:-1]
        self._sig_prefix = (prefix if make_signal_id(settings.run_id, self.symbol, 1_234_567) == prefix + "1234567"
                            else None)

    # ================================================================== decisions at the close

    def on_mark(self, c: float, close_ms: int) -> None:
        """Run the exit policy with the close ``c`` (USD) as the mark at ``close_ms``: move the trailing stop,
        or queue a market close for the next open."""
        st = self.st
        ex = st.exits
        assert ex is not None
        for act in ex.on_mark(dec_of(c), close_ms):
            if isinstance(act, MoveStop):
                old = next((r for r in st.resting if r.kind is OrderType.STOP), None)
                if old is not None:
                    st.resting.remove(old)
                so = ex.stop_order()
                if so is not None:
                    cli = self.fills.intent(close_ms, so.side, so.size, OrderType.STOP, ExitReason.TRAILING.value,
                                            st.open_signal, price=so.price, reduce_only=True)
                    st.resting.append(Resting(ExitReason.TRAILING, so.side, OrderType.STOP, so.size, so.price, cli))
            elif isinstance(act, ClosePosition):
                self.queue_close(act.reason, close_ms, st.open_signal)
        st.best_f = float(ex.best_price)
        if ex.time_exit_done:
            st.time_due_ms = 1 << 62
        st.set_thresholds()

    def queue_close(self, reason: ExitReason, ts: int, signal_id: str | None) -> None:
        """Queue a reduce-only market close of the whole position for the next open (``reason`` its purpose)."""
        st = self.st
        pos = st.position.size
        if pos == 0:
            return
        side = _SELL if pos > 0 else _BUY
        size = abs(pos)
        value = _REASON_VALUE.get(reason) or reason.value
        cli = self.fills.intent(ts, side, size, _MARKET, value, signal_id, reduce_only=True)
        st.pending.append(("close", side, size, value, cli, signal_id, None))

    def account(self, mark: Decimal) -> AccountSnapshot:
        """The account the risk gate sees at ``mark`` (USD): equity = balance + unrealised P&L
        (``domain.money.unrealized_pnl``), the position with its tier's margin rates, drawdown from the peak
        (%). A PI_ account is in the coin: its equity and balance are valued in USD at ``mark``
        (``domain.money.to_usd``) and the position is an inverse exposure (USD contracts)."""
        st = self.st
        position = st.position
        pos = position.size
        balance = equity = st.balance
        inst = self.inst
        linear = inst.is_linear
        if pos:
            entry = position.entry_price
            im, mm = st.pos_rates  # margin_rates(inst, pos, entry), kept by Fills.refresh_liq for this position
            positions: tuple[OpenExposure, ...] = (
                (OpenExposure(self.symbol, pos, entry, mark, im, mm),) if linear
                else (OpenExposure(self.symbol, pos * inst.contract_size, entry, mark, im, mm, inverse=True),))
            equity = balance + unrealized_pnl(inst, pos, entry, mark)
        else:
            positions = ()
        peak = st.peak_f
        dd = (peak - float(equity)) / peak * 100.0 if peak > 0 else 0.0
        if not linear:
            equity, balance = to_usd(inst, equity, mark), to_usd(inst, balance, mark)
        return AccountSnapshot(equity, balance, positions, st.consecutive_losses, 0.0 if dd < 0.0 else dd,
                               st.closed_trades, st.winning_trades)

    def on_signal(self, sig: Signal, c: float, close_ms: int, eq: float) -> None:
        """A strategy signal at the close ``c`` (USD) of the bar ending ``close_ms``: ``engine.decide.decide``
        with the close as mark; entries and closes are queued for the next open, the signal is journaled."""
        st = self.st
        res = self.result
        res.signals += 1
        st.now_ms = close_ms
        prefix = self._sig_prefix
        signal_id = prefix + str(close_ms) if prefix is not None else make_signal_id(self.run_id, self.symbol,
                                                                                       close_ms)
        op = self.op
        state = op.state
        if state is _HALTED or state is _FLATTENING:
            self._signal_record(sig, signal_id, close_ms, "ignored", f"engine {state.value}")
            return
        mark = dec_of(c)
        atr = st.atr_now
        idx_map = self.index_closes  # index_at(close_ms), inline: this runs on every signal
        idx = None if idx_map is None else idx_map.get(close_ms - self.bar_ms)
        actions = decide(
            sig, instrument=self.inst, position_size=st.position.size, mark_price=mark,
            index_price=mark if idx is None else dec_of(idx),
            account=self.account(mark), risk_cfg=self.risk_cfg, exits_cfg=self.exits_cfg,
            entry_block_reason=op.entry_rejection_reason(),
            atr_pct=atr / c * 100.0 if atr is not None and c > 0 else None,
            funding_rate=self._rate_for(close_ms - close_ms % HOUR_MS),
            sizing=self.sizing, protective=self.protective, confidence_sized=self.confidence_sized,
        )
        action, why = "ignored", None
        for a in actions:
            if isinstance(a, Close):
                self.queue_close(a.reason, close_ms, signal_id)
                action = "intent"
            elif isinstance(a, Enter):
                side, size = a.order_side, a.size
                cli = self.fills.intent(close_ms, side, size, _MARKET, "entry", signal_id)
                name = st.cur_strategies[signal_id] = sig.strategy or self.strategy_name
                st.pending.append(("enter", side, size, name, cli, signal_id, a))
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
                               sig.strategy or self.strategy_name, sig.reason or "-", action, feats, why))

    def index_at(self, close_ms: int) -> float | None:
        """The index close (USD) of the bar ending ``close_ms``, or None without an index series or bar."""
        idx = self.index_closes
        return None if idx is None else idx.get(close_ms - self.bar_ms)

    def basis_check(self, c: float, close_ms: int) -> None:
        """The basis guard after entry at a bar close (``engine.guards.BasisGuard``'s rule): with a position
        and the basis |close - index| / index beyond ``[risk] max_basis_bps``, close it at the next open
        ("close"), block entries until the basis is back ("pause"), or only note it ("alert")."""
        idx = self.index_at(close_ms)
        if idx is None or idx <= 0:
            return
        bps = (c - idx) / idx * 10_000.0
        cfg = self.risk_cfg
        if abs(bps) <= cfg.max_basis_bps or self.st.position.size == 0:
            if self.basis_blown:
                self.basis_blown = False
                self.op.clear_blocker("basis blown out")
            return
        if self.basis_blown:
            return
        self.basis_blown = True
        from kraken_tui.journal.export import iso_ms

        self.result.notes.append(f"{iso_ms(close_ms)} basis {bps:.1f} bps beyond {cfg.max_basis_bps:g}: "
                                 f"{cfg.basis_action}")
        if cfg.basis_action == "close":
            self.queue_close(ExitReason.BASIS_GUARD, close_ms, self.st.open_signal)
        elif cfg.basis_action == "pause":
            self.op.block_entries("basis blown out", f"basis {bps:.1f} bps")

    # ================================================================== operator

    def operator_checks(self, close_ms: int, eq: float) -> None:
        """Daily loss limit (pause entries until the next UTC day) and equity floor (flatten, then HALTED),
        evaluated at bar closes with the mark-to-market equity ``eq`` (in the account's currency: USD for PF_,
        the coin for PI_, whose floor and daily limit are then in the coin)."""
        st = self.st
        st.now_ms = close_ms
        cfg = self.operator_cfg
        if close_ms >= st.day_end_ms:
            st.day_end_ms = close_ms - close_ms % DAY_MS + DAY_MS
            # 0 = no daily loss limit ([operator] daily_loss_limit_pct)
            st.day_limit_f = eq * (1.0 - cfg.daily_loss_limit_pct / 100.0) if cfg.daily_loss_limit_pct > 0 else -_INF
            self.op.clear_blocker("daily loss limit")
        if eq < st.day_limit_f and "daily loss limit" not in self.op.entry_blockers:
            self.op.block_entries("daily loss limit", f"equity {eq:.{self._eq_digits}f} below "
                                  f"{st.day_limit_f:.{self._eq_digits}f} {self._eq_unit}")
            st.day_limit_f = -_INF
        if eq < st.floor_f and self.op.state not in (OperatorState.FLATTENING, OperatorState.HALTED):
            self.op.flatten(f"equity {eq:.{self._eq_digits}f} {self._eq_unit} below the floor "
                            f"{st.floor_f:.{self._eq_digits}f} {self._eq_unit} "
                            f"({cfg.equity_floor_pct:g}% of starting equity)", TransitionSource.AUTOMATIC)
            st.pending = [p for p in st.pending if p[0] == "close"]
            if st.position.size == 0:
                self.op.flatten_done("already flat")
            elif not st.pending:
                self.queue_close(ExitReason.EQUITY_FLOOR, close_ms, st.open_signal)
            st.floor_f = -_INF

    def on_transition(self, tr: Transition) -> None:
        """Journal an operator transition (``StateChange``); a flatten adds a note to the result."""
        if tr.to_state is OperatorState.FLATTENING:
            from kraken_tui.journal.export import iso_ms

            self.result.notes.append(f"{iso_ms(tr.ts_ms)} flattened and HALTED: {tr.reason}; no entries after "
                                     "that ([operator] equity_floor_pct)")
        if self.sink is not None:
            self.sink(StateChange(tr.ts_ms, tr.to_state.value, tr.reason, EventSource.AUTOMATIC, tr.from_state.value))
