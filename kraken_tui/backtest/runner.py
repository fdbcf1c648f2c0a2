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
import os
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from kraken_tui.domain import ZERO, Candle
from kraken_tui.domain.candle_columns import hlc_arrays
from kraken_tui.domain.money import settlement_currency, to_usd, unrealized_pnl
from kraken_tui.domain.timeunits import HOUR_MS
from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.indicators import ATR
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.signals import BuilderMarketView, MarketView, Signal, Strategy
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.journal.trades import Trade
from kraken_tui.paper.account import PaperPosition

from . import events, prefetch
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

_CURVE_POINTS = events.CURVE_POINTS
#: Environment variable choosing the kernel: ``events`` (default: the event-skipping kernel where it applies)
#: or ``bars`` (the bar loop always).
KERNEL_ENV = "KRAKEN_TUI_BACKTEST_KERNEL"
KERNELS = ("events", "bars")


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
        attach_funding = getattr(strategy, "attach_funding", None)  # the ml source's funding features
        if attach_funding is not None:
            known = s.funding.known_rate
            attach_funding(lambda _symbol, hour_ms: known(hour_ms), s.funding.describe)
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
        self._funding_live = s.funding.constant is None or s.funding.constant != 0.0
        self.kernel = self._choose_kernel(s)

    def _choose_kernel(self, s: BacktestSettings) -> str:
        """``events`` when asked for (``BacktestSettings.kernel``, else ``KERNEL_ENV``, else the default) and it
        applies: the strategy has a batch signal path and no index series (the basis guard runs at every
        close); else ``bars``. (numpy, when installed, speeds up its long quiet stretches; it is not needed.)

        Raises:
            ConfigError: an unknown kernel name (names the setting or the environment variable).
        """
        from kraken_tui.errors import ConfigError

        want = s.kernel if s.kernel is not None else os.environ.get(KERNEL_ENV, "").strip() or "events"
        if want not in KERNELS:
            raise ConfigError(KERNEL_ENV if s.kernel is None else "kernel", want, " or ".join(KERNELS))
        if want == "events" and self._batch is not None and s.index_closes is None:
            return "events"
        return "bars"

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
                self._feed(cols)
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
                        self._feed(cols)
                    else:
                        got = pf.take(n)
                        if got is None:
                            break
                        cols = got[0]
                        self._feed(cols, pre=got[1])
                    if left is not None:
                        left -= len(cols[0])
            except BaseException:
                if pf is not None:
                    pf.close()
                raise
        self.result.elapsed_s += time.perf_counter() - t0
        return self.result

    def _feed(self, cols: Columns, pre: prefetch.Precomputed | None = None) -> None:
        """One chunk through the kernel chosen at construction (``kernel``): the event-skipping kernel
        (``_chunk_events``) or the bar loop (``_chunk``)."""
        if self.kernel == "events":
            self._chunk_events(cols, pre)
        else:
            self._chunk(cols, pre)

    def _chunk_events(self, cols: Columns, pre: prefetch.Precomputed | None = None) -> None:
        """The event-skipping kernel over one chunk (``backtest.events``): the chunk's ATRs and batch signals
        first (as ``_chunk``), then from bar to bar: the next event (``events.next_event``), the quiet bars before
        it in bulk (``events.skip_quiet``) when there are at least ``events.MIN_SKIP`` of them, else through the
        bar loop; the event bar itself always through the bar loop (``_chunk`` on that slice), so every decision,
        risk gate, fill and funding payment runs the same code with the same inputs
        A chunk whose signals are on average fewer than ``events.DENSE_GAP_BARS`` bars apart goes through the bar
        loop whole (``_chunk`` with these ATRs and signals): its quiet stretches are too short to gain anything."""
        ts_l, _o, h_l, lo_l, c_l, _v = cols
        n = len(ts_l)
        if not n:
            return
        batch = self._batch
        assert batch is not None  # the event kernel is chosen only with a batch signal path
        if pre is None:
            atrs: list[float | None] = self.atr.update_many(h_l, lo_l, c_l, hlc_arrays(cols))
            sigs: dict[int, Signal] = dict(batch(self.symbol, self.s.timeframe, cols, self.view))
        else:
            atrs, sigs = pre[1], pre[0] or {}
        sig_at = sorted(j for j in sigs if 0 <= j < n)
        if len(sig_at) * events.DENSE_GAP_BARS > n:
            # signals this close together leave only short quiet stretches: the bar loop is cheaper there than
            # finding each next event (same results: both kernels run the same code on every bar that matters)
            self._chunk(cols, (sigs, atrs))
            return
        sp = events.Span(ts_l, lo_l, h_l, c_l, sig_at)
        st, res, bar_ms = self.state, self.result, self.s.bar_ms
        linear, cs = self.inst.is_linear, float(self.inst.contract_size)
        live = self._funding_live
        sig_get = sigs.get
        bar = self._event_bar
        i = 0
        while i < n:
            e = events.next_event(sp, i, st, bar_ms, live, linear, cs)
            if e > i:
                self._stride, self._k, dd = events.skip_quiet(sp, i, e, st, res.curve, self._stride, self._k,
                                                              bar_ms, linear, cs)
                res.candles += e - i
                res.last_ms = ts_l[e - 1]
                if dd > res.max_drawdown_mtm_usd:
                    res.max_drawdown_mtm_usd = dd
                if e >= n:
                    break
            bar(ts_l[e], cols[1][e], h_l[e], lo_l[e], c_l[e], sig_get(e), atrs[e])
            i = e + 1
        self.trades.flush_last_trades()

    def _event_bar(self, ts: int, o: float, h: float, lo: float, c: float, sig: Signal | None,
                   atr: float | None) -> None:
        """One event bar of the event kernel: the bar loop's body (``_chunk``) for a single bar, in the same
        order with the same calls (funding clock and liquidation, fills at the open, the intrabar walk, equity
        mark, curve point, exit policy, signal, operator checks). ``st.last_close`` is the previous close on
        entry and this bar's close on exit (the bar loop keeps it in a local and stores it before each call
        that reads it)."""
        st = self.state
        res = self.result
        if ts >= st.next_hour or st.pending:
            if ts >= st.next_hour and self.fills.clock(ts):
                self.orders.liquidation(st.last_close, ts)
            if st.pending:
                self.orders.open_fills(ts, o)
        pos = st.pos_f
        if pos and ((lo <= st.stop_f or h > st.tp_f or lo < st.liq_f) if pos > 0
                    else (h >= st.stop_f or lo < st.tp_f or h > st.liq_f)):
            self.orders.intrabar(ts, o, h, lo, c)
            pos = st.pos_f
        st.last_close = c
        close_ms = ts + self.s.bar_ms
        bal, entry = st.bal_f, st.entry_f
        if pos:
            eq = bal + pos * (c - entry) if self.inst.is_linear else (
                bal + pos * float(self.inst.contract_size) * (1.0 / entry - 1.0 / c))
        else:
            eq = bal
        peak = st.peak_f
        if eq > peak:
            st.peak_f = eq
        elif peak - eq > res.max_drawdown_mtm_usd:
            res.max_drawdown_mtm_usd = peak - eq
        self._k += 1
        if self._k >= self._stride:
            self._k = 0
            curve = res.curve
            curve.append((close_ms, eq))
            if len(curve) >= 2 * _CURVE_POINTS:
                del curve[1::2]
                self._stride *= 2
        res.candles += 1
        res.last_ms = ts
        day_end, day_lim, floor = st.day_end_ms, st.day_limit_f, st.floor_f
        ex_on = st.exits is not None
        mark = ex_on and ((c > st.best_f if pos > 0 else c < st.best_f) or close_ms >= st.time_due_ms
                          or st.mark_always)
        guards = close_ms >= day_end or eq < day_lim or eq < floor
        if sig is not None or guards or mark:
            st.atr_now = atr
            if mark:
                self.decisions.on_mark(c, close_ms)
            if sig is not None:
                self.decisions.on_signal(sig, c, close_ms, eq)
            if guards:
                self.decisions.operator_checks(close_ms, eq)

    def _chunk(self, cols: Columns, pre: prefetch.Precomputed | None = None, flush: bool = True) -> None:
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
            atrs = self.atr.update_many(h_l, lo_l, c_l, hlc_arrays(cols))
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
        if flush:
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

