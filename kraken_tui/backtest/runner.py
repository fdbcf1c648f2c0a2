"""The backtest bar loop: the engine's own policy over streamed candles, with the paper exchange's money rules.

Owns: ``BacktestSettings`` (what to run), ``Backtest`` (the loop and its simulated single-symbol account),
``quote_at`` (the fill quote used here and by the paper-exchange reference in the tests) and
``BacktestResult``. The semantics are stated in ``kraken_tui.backtest``'s docstring; in short:

- decisions on bar close (``strategy.on_candle`` -> ``engine.decide.decide`` -> risk gate; exit policy
  ``engine.exits.PositionExits.on_mark`` with the close as the mark);
- market orders fill at the next bar's open, moved against us by the slippage (``quote_at``) and put on
  the tick grid the way the paper exchange snaps its quotes (``paper.matching.on_tick_grid``);
- inside a bar the price walks open -> adverse extreme -> favourable extreme -> close (adverse relative
  to the position held after the open's fills). Resting stops trigger when the walk reaches them (mark
  trigger, ``<=``/``>=``) and fill as market orders at the stop price, or at the open when the bar gapped
  through it; take-profit limits fill at their limit price when the walk goes strictly through it (maker);
- funding at the top of each UTC hour on the position held then, priced at the last mark (the previous
  bar's close), rate of the hour that ended (``paper.ledger.settle_funding``'s rule, ``domain.money``'s
  formula);
- liquidation (``domain.money`` rules as ``paper.liquidation`` applies them: partial first, fee, full with a
  capped fee) checked with the
  mark at each vertex of the walk, so the adverse extreme is the worst mark a bar can show.

Hot path: bars arrive as column chunks (``columns.CandleRows.take``; plain rows are chunked); per chunk the
ATR (``ATR.update_many``) and, for a strategy with a batch ``on_candles`` (signals from its own bars only, e.g.
``sma_cross``), the chunk's signals are computed first with the engine's own code; the per-bar loop then
keeps floats only (prices, the position's float mirror, stop/take-profit/liquidation thresholds) and builds
a ``Candle`` only for strategies without a batch path. Exact Decimal money (``domain.money`` formulas) only
at fills, funding and decisions. Per trade: fills are kept as tuples (``domain.Fill`` objects are built only
for the journal sink), intents as ``(purpose, side, signal id)`` tuples, and the round trip is derived once,
when it closes (``trades.Trades``), straight into its fingerprint line and statistics row
(``Trade`` objects only for ``on_trade`` and the last ten trades); tests/backtest/test_fastpaths.py checks
equality against the journal, test_bookkeeping_oracle.py whole runs against recorded digests. The state of a
run is one ``state.BacktestState`` shared by the collaborators ``fills``, ``orders``, ``decisions`` and
``trades``; settings and result in ``settings``.
Must not import: textual, the paper exchange's server, the journal writer (records only).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from kraken_tui.domain import ZERO, Candle
from kraken_tui.domain.money import settlement_currency, to_usd, unrealized_pnl
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.indicators import ATR
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.signals import BuilderMarketView, MarketView, Signal, Strategy
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.journal.trades import Trade
from kraken_tui.paper.account import PaperPosition

from . import prefetch
from .columns import CHUNK_BARS, CandleRow, Columns, chunked
from .decisions import Decisions
from .fills import Fills, Sink
from .orders import Orders
from .settings import _INF, BacktestResult, BacktestSettings, fingerprint_line, quote_at, trade_fingerprint
from .state import BacktestState
from .trades import Trades

__all__ = ["HOUR_MS", "Backtest", "BacktestResult", "BacktestSettings", "fingerprint_line", "quote_at",
           "trade_fingerprint"]

#: The state the bar loop keeps in locals (``Backtest._hot``): next_hour, pending?, pos_f, stop_f, tp_f, liq_f,
#: bal_f, entry_f, exits?, best_f, time_due_ms, mark_always, day_end_ms, day_limit_f, floor_f.
_Hot = tuple[int, bool, float, float, float, float, float, float, bool, float, int, bool, int, float, float]
#: A strategy's batch signal path: ``on_candles(symbol, timeframe, columns, view)`` -> {bar index: Signal}.
BatchSignals = Callable[[str, str, Columns, MarketView], Mapping[int, Signal]]

_CURVE_POINTS = 1024


#: object.__new__ and the slot setters of domain.Candle: the hot loop builds one Candle per bar without the
#: frozen dataclass's __init__ (which sets each slot through object.__setattr__); a test checks equality.
_CANDLE_NEW = (object.__new__, *(Candle.__dict__[f].__set__ for f in ("ts_ms", "open", "high", "low", "close", "volume")))


class Backtest:
    """One backtest of one strategy on one perpetual (see the module docstring for the semantics).

    Its state is one ``state.BacktestState``; the work is split between collaborators that share it:
    ``trades`` (``trades.Trades``: closed round trips), ``fills`` (``fills.Fills``: booking, intents, funding
    clock), ``orders`` (``orders.Orders``: fills at the open, resting exits, the intrabar walk, liquidation)
    and ``decisions`` (``decisions.Decisions``: exit policy, signals, operator at bar closes).

    Args:
        settings: what to run.
        sink: called with every journal record in order (``RunStarted`` excepted: the caller writes it):
            ``SignalRecord``, ``IntentRecord``, ``domain.Fill``, ``FundingPayment``, ``StateChange``.
            None = records are not kept.
        on_trade: called with each closed ``journal.trades.Trade`` as it closes.

    Raises:
        ConfigError: a bad strategy name or parameter (from ``build_strategy``).

    A PI_ (inverse) instrument's account is in the coin (``BacktestSettings.starting_balance_coin``): fills,
    fees, funding and liquidation by ``domain.money``'s inverse formulas; the risk gate sees the equity in USD at
    the close; the equity curve, drawdown and operator guards are in the coin (``BacktestResult``).
    """

    def __init__(self, settings: BacktestSettings, *, sink: Sink | None = None,
                 on_trade: Callable[[Trade], None] | None = None) -> None:
        from kraken_tui.errors import ConfigError

        s = self.s = settings
        inst = self.inst = settings.instrument
        strategy = build_strategy(s.strategy, s.strategy_params, timeframe=s.timeframe)
        if not isinstance(strategy, Strategy):  # every registered strategy is one (engine.signals.Strategy)
            raise ConfigError("--strategy", s.strategy, "a strategy with on_candle")
        self.strategy = strategy
        protective = bool(getattr(self.strategy, "protective_exits", True))
        sizing: str | None = getattr(self.strategy, "sizing", None)
        # decide() copies the risk config when the sizing mode differs; do that once (same semantics)
        mode = "fixed" if not protective else (sizing or s.risk.sizing)
        risk_cfg = s.risk if mode == s.risk.sizing else s.risk.model_copy(update={"sizing": mode})
        self.symbol = inst.symbol
        # the account's currency: USD for PF_, the coin of the inverse margin account for PI_ (paper.margin)
        start = s.starting_balance_usd if inst.is_linear else s.starting_balance_coin
        self.result = BacktestResult(starting_equity_usd=Decimal(repr(s.starting_balance_usd)))
        if not inst.is_linear:
            self.result.currency = settlement_currency(inst)
            self.result.starting_balance_coin = Decimal(repr(start))
        for key, value in (("equity_floor_pct", s.operator.equity_floor_pct),
                           ("daily_loss_limit_pct", s.operator.daily_loss_limit_pct)):
            if value <= 0:
                self.result.notes.append(f"GUARD OFF: [operator] {key} = 0 switches it off")
        self._hash = hashlib.sha256()
        self._prefetch: tuple[object, prefetch.Prefetcher] | None = None
        st = self.state = BacktestState(
            balance=Decimal(repr(start)), position=PaperPosition(inst.symbol),
            bal_f=start, floor_f=(start * s.operator.equity_floor_pct / 100.0
                                  if s.operator.equity_floor_pct > 0 else -_INF),
            peak_f=start)
        self.op = OperatorStateMachine(lambda: st.now_ms)
        self.trades = Trades(st, self.symbol, s.run_id[:8], self.result, self._hash.update, on_trade, self.op)
        self.fills = Fills(st, s, self.result, self.trades, sink)
        self.orders = Orders(st, s, self.fills, self.result)
        self.decisions = Decisions(st, s, strategy.name, risk_cfg, sizing, protective, self.fills, self.op,
                                   self.result, sink)
        self.decisions.confidence_sized = bool(getattr(strategy, "confidence_sized", False))
        self._load_signal_file(strategy)
        self.op.add_listener(self.decisions.on_transition)
        self._stride, self._k = 1, 0
        self.atr = ATR(s.atr_period)
        self.view = BuilderMarketView()
        tfs = tuple(self.strategy.timeframes)
        self.builder: CandleBuilder | None = None
        if tfs != (s.timeframe,):
            self.builder = CandleBuilder(self.symbol, tfs, history=2000, fill_gaps=False)
            self.view.add_builder(self.builder, self.strategy.series)
        # a strategy's batch path (signals from its own bars only), used on the file's own timeframe
        self._batch: BatchSignals | None = (getattr(self.strategy, "on_candles", None) if self.builder is None
                                            else None)

    @property
    def sink(self) -> Sink | None:
        """Where journal records go (None = not kept); set it to journal a run chunk by chunk."""
        return self.fills.sink

    @sink.setter
    def sink(self, sink: Sink | None) -> None:
        self.fills.sink = sink
        self.decisions.sink = sink

    # ================================================================== the loop

    def _load_signal_file(self, strategy: object) -> None:
        """A timestamped external signal file (the external component's ``path`` param) merged by time: each
        signal is delivered at the first bar close at or after its ``ts_ms`` (``ExternalSignals.load_history``);
        the ensemble's slot weights in force go in the report's notes.

        Raises:
            DataFileError: the signal file cannot be read.
        """
        from kraken_tui.engine.strategies.ensemble import Ensemble
        from kraken_tui.engine.strategies.external import ExternalSignals
        from kraken_tui.errors import DataFileError

        comp = strategy if isinstance(strategy, ExternalSignals) else (
            strategy.external if isinstance(strategy, Ensemble) else None)
        if comp is not None and comp.p["path"]:
            path = comp.p["path"]
            try:
                with open(path, encoding="utf-8") as fh:
                    n = comp.load_history(fh, source=path)
            except OSError as exc:
                raise DataFileError(path, f"cannot read the signal file ({exc.strerror})") from None
            self.result.notes.append(f"external signals: {n} from {path} merged by time ({comp.errors} bad lines)")
        if isinstance(strategy, Ensemble):
            self.result.notes.append(strategy.describe())

    def run(self, rows: Iterable[CandleRow], limit: int | None = None) -> BacktestResult:
        """Run over ``rows`` (time-ordered bars; a ``columns.CandleRows`` is read chunk by chunk, any other
        iterable of ``CandleRow`` is chunked here), at most ``limit`` bars (None = all), and return the result
        (also kept in ``self.result``). Calls may follow each other (the run continues).

        A fresh stream from ``data.open_candles`` may be read by a reader process (``prefetch.claim``: file
        size, CPUs, ``KRAKEN_TUI_BACKTEST_PREFETCH``) that also computes the ATRs and batch signals; same
        values. Raises what the reader raises (``DataFileError`` ...), ``prefetch.PrefetchError`` if it died;
        on any exception the reader process is stopped."""
        t0 = time.perf_counter()
        take = getattr(rows, "take", None)
        if take is None:
            src = rows if limit is None else itertools.islice(rows, limit)
            for cols in chunked(src):
                self._chunk(cols)
        else:
            pf = prefetch.claim(self, rows)
            try:
                left = limit
                while left is None or left > 0:
                    n = CHUNK_BARS if left is None else min(left, CHUNK_BARS)
                    if pf is None:
                        cols = take(n)
                        if cols is None:
                            break
                        self._chunk(cols)
                    else:
                        got = pf.take(n)
                        if got is None:
                            break
                        cols = got[0]
                        self._chunk(cols, pre=got[1])
                    if left is not None:
                        left -= len(cols[0])
            except BaseException:
                if pf is not None:
                    pf.close()
                raise
        self.result.elapsed_s += time.perf_counter() - t0
        return self.result

    def _chunk(self, cols: Columns, pre: prefetch.Precomputed | None = None) -> None:
        """The bar loop over one chunk of bars (module docstring). Signals of a strategy with a batch
        ``on_candles`` (its signals depend on its own bars only) are computed for the chunk first; ATR too.
        ``pre`` = ``(signals {index: Signal} or None, atrs)`` computed by ``prefetch``'s reader process with
        the same code: used instead (this Backtest's ``atr`` and strategy then do not see the bars)."""
        ts_l, o_l, h_l, lo_l, c_l, v_l = cols
        n = len(ts_l)
        if not n:
            return
        res = self.result
        symbol, tf, bar_ms = self.symbol, self.s.timeframe, self.s.bar_ms
        on_candle = self.strategy.on_candle
        builder = self.builder
        view = self.view
        batch = self._batch
        if pre is None:
            atrs = self.atr.update_many(h_l, lo_l, c_l)
            sigs: dict[int, Signal] = dict(batch(symbol, tf, cols, view)) if batch is not None else {}
        else:
            atrs, sigs = pre[1], (pre[0] or {}) if batch is not None else {}
        new, set_ts, set_o, set_h, set_l, set_c, set_v = _CANDLE_NEW
        curve = res.curve
        stride, k = self._stride, self._k
        st = self.state
        fills, orders, decisions = self.fills, self.orders, self.decisions
        basis_on = self.s.index_closes is not None  # the basis guard after entry (an --index series)
        peak, maxdd = st.peak_f, 0.0
        last_close = st.last_close
        # PI_: equity in the coin, balance + size x contract size x (1/entry - 1/close) (domain.money)
        linear, cs = self.inst.is_linear, float(self.inst.contract_size)
        (next_hour, pending, pos, stop_f, tp_f, liq_f, bal, entry, ex_on, best, due, always, day_end, day_lim,
         floor) = self._hot()
        sig = None
        # the batch signals by bar index, zipped into the loop (None where a bar has none)
        sig_l: Iterable[Signal | None]
        if batch is not None:
            sig_l = [None] * n
            for j, sg in sigs.items():
                if 0 <= j < n:
                    sig_l[j] = sg
        else:
            sig_l = itertools.repeat(None, n)
        for i, ts, o, h, lo, c, sig in zip(range(n), ts_l, o_l, h_l, lo_l, c_l, sig_l, strict=True):
            if ts >= next_hour or pending:
                st.last_close = last_close
                if ts >= next_hour and fills.clock(ts):
                    orders.liquidation(last_close, ts)
                if st.pending:
                    orders.open_fills(ts, o)
                (next_hour, pending, pos, stop_f, tp_f, liq_f, bal, entry, ex_on, best, due, always, day_end,
                 day_lim, floor) = self._hot()
            if pos:
                if (lo <= stop_f or h > tp_f or lo < liq_f) if pos > 0 else (h >= stop_f or lo < tp_f or h > liq_f):
                    orders.intrabar(ts, o, h, lo, c)
                    (next_hour, pending, pos, stop_f, tp_f, liq_f, bal, entry, ex_on, best, due, always, day_end,
                     day_lim, floor) = self._hot()
            last_close = c
            close_ms = ts + bar_ms
            if batch is None:
                # Candle(ts, o, h, lo, c, v) without the frozen dataclass's __init__ (same object, half the cost)
                candle = new(Candle)
                set_ts(candle, ts)
                set_o(candle, o)
                set_h(candle, h)
                set_l(candle, lo)
                set_c(candle, c)
                set_v(candle, v_l[i])
                if builder is None:
                    sig = on_candle(symbol, tf, candle, view)
                else:
                    sig = None
                    for cc in builder.add_candle(candle, tf):
                        sig = on_candle(symbol, cc.timeframe, cc.candle, view) or sig
            eq = (bal + pos * (c - entry) if linear else bal + pos * cs * (1.0 / entry - 1.0 / c)) if pos else bal
            if eq > peak:
                peak = eq
            elif peak - eq > maxdd:
                maxdd = peak - eq
            k += 1
            if k >= stride:
                k = 0
                curve.append((close_ms, eq))
                if len(curve) >= 2 * _CURVE_POINTS:
                    del curve[1::2]
                    stride *= 2
            if sig is not None or close_ms >= day_end or eq < day_lim or eq < floor or (
                ex_on and ((c > best if pos > 0 else c < best) or close_ms >= due or always)
            ) or (basis_on and (pos or decisions.basis_blown)):
                st.last_close = last_close
                st.peak_f = peak
                st.atr_now = atrs[i]
                if ex_on and ((c > best if pos > 0 else c < best) or close_ms >= due or always):
                    decisions.on_mark(c, close_ms)
                if basis_on:
                    decisions.basis_check(c, close_ms)
                if sig is not None:
                    decisions.on_signal(sig, c, close_ms, eq)
                if close_ms >= day_end or eq < day_lim or eq < floor:
                    decisions.operator_checks(close_ms, eq)
                (next_hour, pending, pos, stop_f, tp_f, liq_f, bal, entry, ex_on, best, due, always, day_end,
                 day_lim, floor) = self._hot()
        st.last_close = last_close
        st.peak_f = peak
        self._stride, self._k = stride, k
        self.trades.flush_last_trades()
        res.candles += n
        res.last_ms = ts_l[-1]
        res.max_drawdown_mtm_usd = max(res.max_drawdown_mtm_usd, maxdd)

    def _hot(self) -> _Hot:
        """The state the loop keeps in locals between slow-path calls (re-read after each)."""
        st = self.state
        return (st.next_hour, bool(st.pending), st.pos_f, st.stop_f, st.tp_f, st.liq_f, st.bal_f, st.entry_f,
                st.exits is not None, st.best_f, st.time_due_ms, st.mark_always, st.day_end_ms, st.day_limit_f,
                st.floor_f)

    def finish(self) -> BacktestResult:
        """Close the books: final equity at the last close, the open position (left open, not a trade),
        the fingerprint and the final operator state. A reader process still running (a run cut short by
        ``limit``) is stopped: the books are closed, no more bars will be read."""
        res = self.result
        pf = getattr(self, "_prefetch", None)
        if pf is not None:
            pf[1].close()
        self.trades.flush_last_trades()  # (each chunk ends with it; this covers a chunk cut short by an exception)
        st = self.state
        pos = st.position.size
        mark = Decimal(repr(st.last_close)) if st.last_close else ZERO
        eq = st.balance + (unrealized_pnl(self.inst, pos, st.position.entry_price, mark) if pos else ZERO)
        res.final_equity_usd = float(eq)
        if not self.inst.is_linear:  # the coin account valued at the last close (BacktestResult)
            res.final_equity_coin = eq
            res.usd_rate = mark
            res.final_equity_usd = float(to_usd(self.inst, eq, mark))
            res.starting_equity_usd = to_usd(self.inst, res.starting_balance_coin or ZERO, mark)
            res.max_drawdown_mtm_coin = res.max_drawdown_mtm_usd
            res.max_drawdown_mtm_usd = res.max_drawdown_mtm_usd * float(mark)
        if pos:
            side = "long" if pos > 0 else "short"
            res.open_position = (side, abs(pos), st.position.entry_price)
        if st.last_close:
            res.curve.append(((res.last_ms or 0) + self.s.bar_ms, float(eq)))
        res.fingerprint = self._hash.hexdigest()
        res.final_state = self.op.state.value
        res.state_reason = self.op.reason
        if st.pending:
            res.notes.append(f"{len(st.pending)} order(s) decided on the last bar were not filled (no next bar)")
        return res

