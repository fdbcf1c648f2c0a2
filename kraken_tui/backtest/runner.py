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
  bar's close), rate of the hour that ended (``paper.ledger.settle_funding``'s rule and formula);
- liquidation (``paper.liquidation`` rules: partial first, fee, full with a capped fee) checked with the
  mark at each vertex of the walk, so the adverse extreme is the worst mark a bar can show.

Hot path: bars arrive as column chunks (``columns.CandleRows.take``; plain rows are chunked); per chunk the
ATR (``ATR.update_many``) and, for a strategy with a batch ``on_candles`` (signals from its own bars only, e.g.
``sma_cross``), the chunk's signals are computed first with the engine's own code; the per-bar loop then
keeps floats only (prices, the position's float mirror, stop/take-profit/liquidation thresholds) and builds
a ``Candle`` only for strategies without a batch path. Exact Decimal money (``paper.account`` formulas) only
at fills, funding and decisions. Per trade: fills are kept as tuples (``domain.Fill`` objects are built only
for the journal sink), intents as ``(purpose, side, signal id)`` tuples, and the round trip is derived once,
when it closes (``trades.Trades._round_trip``), straight into its fingerprint line and statistics row
(``Trade`` objects only for ``on_trade`` and the last ten trades); tests/backtest/test_fastpaths.py checks
equality against the journal, test_bookkeeping_oracle.py whole runs against digests of the former code. The rest of ``Backtest`` lives in
its mixins: ``fills``, ``orders``, ``decisions``, ``trades``; settings and result in ``settings``.
Must not import: textual, the paper exchange's server, the journal writer (records only).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from kraken_tui.domain import ZERO, Candle
from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.execution import make_signal_id
from kraken_tui.engine.exits import PositionExits
from kraken_tui.engine.indicators import ATR
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.signals import BuilderMarketView, Signal
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.journal.records import FundingPayment
from kraken_tui.journal.trades import Trade
from kraken_tui.paper.account import (
    PaperPosition,
    unrealized_pnl,
)

from . import prefetch
from .columns import CHUNK_BARS, CandleRow, Columns, chunked
from .decisions import Decisions
from .fills import Fills
from .orders import Orders, _FeeCtx, _Resting
from .settings import (
    _INF,
    HOUR_MS,
    BacktestResult,
    BacktestSettings,
    _digits,
    fingerprint_line,
    quote_at,
    stats_row,
    trade_fingerprint,
)
from .trades import Trades

_stats_row = stats_row  # the old private name (tests)

__all__ = ["HOUR_MS", "Backtest", "BacktestResult", "BacktestSettings", "fingerprint_line", "quote_at",
           "trade_fingerprint"]

_CURVE_POINTS = 1024


#: object.__new__ and the slot setters of domain.Candle: the hot loop builds one Candle per bar without the
#: frozen dataclass's __init__ (which sets each slot through object.__setattr__); a test checks equality.
_CANDLE_NEW = (object.__new__, *(Candle.__dict__[f].__set__ for f in ("ts_ms", "open", "high", "low", "close", "volume")))


Sink = Callable[[Any], None]


class Backtest(Fills, Orders, Trades, Decisions):
    """One backtest of one strategy on one perpetual (see the module docstring for the semantics).

    Args:
        settings: what to run.
        sink: called with every journal record in order (``RunStarted`` excepted: the caller writes it):
            ``SignalRecord``, ``IntentRecord``, ``domain.Fill``, ``FundingPayment``, ``StateChange``.
            None = records are not kept.
        on_trade: called with each closed ``journal.trades.Trade`` as it closes.

    Raises:
        ConfigError: a bad strategy name or parameter (from ``build_strategy``), or an instrument that is
            not a PF_ linear perpetual (key ``--symbol``).
    """

    def __init__(self, settings: BacktestSettings, *, sink: Sink | None = None,
                 on_trade: Callable[[Trade], None] | None = None) -> None:
        from kraken_tui.errors import ConfigError

        s = self.s = settings
        inst = self.inst = settings.instrument
        if not inst.is_linear:
            raise ConfigError("--symbol", inst.symbol, "a PF_ linear perpetual (the engine trades PF_ only)")
        self.strategy = build_strategy(s.strategy, s.strategy_params, timeframe=s.timeframe)
        self.protective = bool(getattr(self.strategy, "protective_exits", True))
        self.sizing = getattr(self.strategy, "sizing", None)
        # decide() copies the risk config when the sizing mode differs; do that once (same semantics)
        mode = "fixed" if not self.protective else (self.sizing or s.risk.sizing)
        self.risk_cfg = s.risk if mode == s.risk.sizing else s.risk.model_copy(update={"sizing": mode})
        self.symbol = inst.symbol
        self.sink = sink
        self.on_trade = on_trade
        self.result = BacktestResult(starting_equity_usd=Decimal(repr(s.starting_balance_usd)))
        self._hash = hashlib.sha256()
        self._hash_update = self._hash.update
        self._rows_append = self.result.rows.append
        # arguments of reported trades whose Trade objects are not built yet (Trades._report)
        self._last_args: deque[tuple] = deque(maxlen=self.result.last_trades.maxlen)
        # exact money
        self.balance = Decimal(repr(s.starting_balance_usd))
        self.position = PaperPosition(inst.symbol)
        self.maker_bps = Decimal(repr(s.maker_fee_bps))
        self.taker_bps = Decimal(repr(s.taker_fee_bps))
        self.liq_bps = Decimal(repr(s.liquidation_fee_pct)) * 100
        self._fee_ctx = _FeeCtx(inst, self.liq_bps)
        # quote_at's constants, computed once (same float formula, see _quote)
        self._tick_f = float(inst.tick_size)
        self._tick_digits = _digits(inst)
        self._slip_k = s.slippage_bps / 10_000.0
        self._quotes: dict[float, tuple[Decimal, Decimal]] = {}  # Fills._quote's memo
        self._cs = inst.contract_size
        self._run8 = s.run_id[:8]
        # make_signal_id(run_id, symbol, ts) = prefix + str(ts) when its text ends with the time (checked here;
        # else None and Decisions._on_signal calls it)
        prefix = make_signal_id(s.run_id, self.symbol, 0)[:-1]
        self._sig_prefix = prefix if make_signal_id(s.run_id, self.symbol, 1_234_567) == prefix + "1234567" else None
        self._rate_for = s.funding.rate_for
        self._exits_cfg = s.exits
        # float mirrors for the hot path
        self.bal_f = s.starting_balance_usd
        self.pos_f = 0.0
        self.entry_f = 0.0
        self.stop_f = _INF  # trigger threshold of the resting stop (long: low <= stop_f)
        self.tp_f = _INF  # nearest take-profit (long: high > tp_f)
        self.liq_f = -_INF  # liquidation guard (long: low < liq_f)
        self._pos_rates = (ZERO, ZERO)  # (initial, maintenance) margin rates of the open position's tier
        # orders
        # market orders decided at a close, filled at the next open:
        # (kind "close"|"enter", side, size, reason (close) or strategy name (enter), cliOrdId, signal id, Enter|None)
        self.pending: list[tuple] = []
        self.resting: list[_Resting] = []
        self.exits: PositionExits | None = None
        self.best_f = 0.0
        self.time_due_ms = 1 << 62
        self._mark_always = False
        self._seq = 0
        # the current round trip: its fills as _FillRow tuples (side, size, price, ts, fill type, cliOrdId, fee, n)
        self.cur_fills: list[tuple] = []
        self.cur_funding: list[FundingPayment] = []
        self.cur_intents: dict[str, tuple[str, str, str | None]] = {}  # cliOrdId -> IntentInfo's fields
        self.cur_strategies: dict[str, str] = {}
        self._open_signal: str | None = None
        self.consecutive_losses = 0
        # clock, funding, operator
        self._funded: int | None = None
        self.next_hour = -(1 << 62)
        self.now_ms = 0
        self.last_close = 0.0
        self.op = OperatorStateMachine(lambda: self.now_ms)
        self.op.add_listener(self._on_transition)
        self.start_equity_f = s.starting_balance_usd
        self.floor_f = s.starting_balance_usd * s.operator.equity_floor_pct / 100.0
        self.day_end_ms = -(1 << 62)
        self.day_limit_f = -_INF
        self.peak_f = s.starting_balance_usd
        self._stride, self._k = 1, 0
        self.atr = ATR(s.atr_period)
        self._atr_now: float | None = None  # the ATR at the bar being decided on (set by the loop)
        self.view = BuilderMarketView()
        tfs = tuple(self.strategy.timeframes)
        self.builder: CandleBuilder | None = None
        if tfs != (s.timeframe,):
            self.builder = CandleBuilder(self.symbol, tfs, history=2000, fill_gaps=False)
            self.view.add_builder(self.builder, self.strategy.series)
        # a strategy's batch path (signals from its own bars only), used on the file's own timeframe
        self._batch = getattr(self.strategy, "on_candles", None) if self.builder is None else None

    # ================================================================== the loop

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

    def _chunk(self, cols: Columns, pre: tuple | None = None) -> None:
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
        peak, maxdd = self.peak_f, 0.0
        last_close = self.last_close
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
                self.last_close = last_close
                if ts >= next_hour:
                    self._clock(ts)
                if self.pending:
                    self._open_fills(ts, o)
                (next_hour, pending, pos, stop_f, tp_f, liq_f, bal, entry, ex_on, best, due, always, day_end,
                 day_lim, floor) = self._hot()
            if pos:
                if (lo <= stop_f or h > tp_f or lo < liq_f) if pos > 0 else (h >= stop_f or lo < tp_f or h > liq_f):
                    self._intrabar(ts, o, h, lo, c)
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
            eq = bal + pos * (c - entry) if pos else bal
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
            ):
                self.last_close = last_close
                self.peak_f = peak
                self._atr_now = atrs[i]
                if ex_on and ((c > best if pos > 0 else c < best) or close_ms >= due or always):
                    self._on_mark(c, close_ms)
                if sig is not None:
                    self._on_signal(sig, c, close_ms, eq)
                if close_ms >= day_end or eq < day_lim or eq < floor:
                    self._operator_checks(close_ms, eq)
                (next_hour, pending, pos, stop_f, tp_f, liq_f, bal, entry, ex_on, best, due, always, day_end,
                 day_lim, floor) = self._hot()
        self.last_close = last_close
        self.peak_f = peak
        self._stride, self._k = stride, k
        self._flush_last_trades()
        res.candles += n
        res.last_ms = ts_l[-1]
        res.max_drawdown_mtm_usd = max(res.max_drawdown_mtm_usd, maxdd)

    def _hot(self) -> tuple:
        """The state the loop keeps in locals between slow-path calls (re-read after each)."""
        return (self.next_hour, bool(self.pending), self.pos_f, self.stop_f, self.tp_f, self.liq_f, self.bal_f,
                self.entry_f, self.exits is not None, self.best_f, self.time_due_ms, self._mark_always,
                self.day_end_ms, self.day_limit_f, self.floor_f)

    def finish(self) -> BacktestResult:
        """Close the books: final equity at the last close, the open position (left open, not a trade),
        the fingerprint and the final operator state. A reader process still running (a run cut short by
        ``limit``) is stopped: the books are closed, no more bars will be read."""
        res = self.result
        pf = getattr(self, "_prefetch", None)
        if pf is not None:
            pf[1].close()
        self._flush_last_trades()  # (each chunk ends with it; this covers a chunk cut short by an exception)
        pos = self.position.size
        mark = Decimal(repr(self.last_close)) if self.last_close else ZERO
        eq = self.balance + (unrealized_pnl(self.inst, pos, self.position.entry_price, mark) if pos else ZERO)
        res.final_equity_usd = float(eq)
        if pos:
            side = "long" if pos > 0 else "short"
            res.open_position = (side, abs(pos), self.position.entry_price)
        if self.last_close:
            res.curve.append(((res.last_ms or 0) + self.s.bar_ms, float(eq)))
        res.fingerprint = self._hash.hexdigest()
        res.final_state = self.op.state.value
        res.state_reason = self.op.reason
        if self.pending:
            res.notes.append(f"{len(self.pending)} order(s) decided on the last bar were not filled (no next bar)")
        return res

