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

Hot path: floats only (prices, the position's float mirror, stop/take-profit/liquidation thresholds, the
ATR inlined); exact Decimal money (``paper.account`` formulas) only at fills, funding and decisions. Per
trade: fills are kept as tuples (``domain.Fill`` objects are built only for the journal sink) and the
round trip is derived once, when it closes, with ``journal.trades.derive_trades``' operations
(``_round_trip``; tests/backtest/test_fastpaths.py checks equality against the journal).
Must not import: textual, the paper exchange's server, the journal writer (records only).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig
from kraken_tui.domain import ZERO, Candle, Fill, FillType, Instrument, OrderType, PositionSide, Side
from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.decide import Close, Enter, Reject, decide
from kraken_tui.engine.execution import intent_purpose, make_signal_id
from kraken_tui.engine.exits import ClosePosition, ExitReason, MoveStop, PositionExits
from kraken_tui.engine.indicators import ATR
from kraken_tui.engine.operator import OperatorState, OperatorStateMachine, TransitionSource
from kraken_tui.engine.risk import AccountSnapshot, OpenExposure
from kraken_tui.engine.signals import BuilderMarketView, Signal
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.journal.records import FundingPayment, IntentRecord, SignalRecord, StateChange
from kraken_tui.journal.stats import TradeRow
from kraken_tui.journal.trades import IntentInfo, Trade, derive_trades
from kraken_tui.paper.account import (
    BPS,
    PaperPosition,
    fee_amount,
    funding_payment,
    margin_rates,
    notional_usd,
    position_margins,
    unrealized_pnl,
)
from kraken_tui.paper.liquidation import MAX_STEPS, capped_fee_bps, partial_size
from kraken_tui.paper.matching import on_tick_grid
from kraken_tui.paper.sources.base import MarketTick

from .data import CandleRow, FundingSchedule

__all__ = ["HOUR_MS", "Backtest", "BacktestResult", "BacktestSettings", "fingerprint_line", "quote_at",
           "trade_fingerprint"]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MAX_FUNDING_HOURS_PER_STEP = 24 * 31  # paper.exchange: at most 31 days of funding settled in one clock step
_CURVE_POINTS = 1024
_INF = math.inf
_FILL_TYPES = {t.value: t for t in FillType}


#: object.__new__ and the slot setters of domain.Candle: the hot loop builds one Candle per bar without the
#: frozen dataclass's __init__ (which sets each slot through object.__setattr__); a test checks equality.
_CANDLE_NEW = (object.__new__, *(Candle.__dict__[f].__set__ for f in ("ts_ms", "open", "high", "low", "close", "volume")))


def _ts_of(p: FundingPayment) -> int:
    return p.ts_ms


def _stats_row(t: Trade) -> TradeRow:
    """``journal.tradecache.rows_of([t])[0]``: the statistics row of one trade (money as floats)."""
    return (t.exit_ts_ms, t.entry_ts_ms, t.side.value, t.symbol, t.strategy or "unknown", float(t.net_pnl_usd),
            float(t.gross_pnl_usd), float(t.fees_usd), float(t.funding_usd), float(t.funding_paid_usd),
            float(t.funding_received_usd))


def quote_at(inst: Instrument, price: float, slippage_bps: float) -> tuple[Decimal, Decimal]:
    """(bid, ask) a market order meets at ``price`` (USD): ``price x (1 -/+ slippage_bps / 1e4)``, bid rounded
    down and ask up to the tick with ``paper.matching.on_tick_grid``'s float formula (the paper exchange's own
    snapping; a test checks they agree). A sell fills at the bid, a buy at the ask."""
    k = slippage_bps / 10_000.0
    step = float(inst.tick_size)
    digits = _digits(inst)
    bid = round(math.floor(price * (1.0 - k) / step + 1e-9) * step, digits)
    ask = round(math.ceil(price * (1.0 + k) / step - 1e-9) * step, digits)
    return Decimal(repr(bid)), Decimal(repr(ask))


def _digits(inst: Instrument) -> int:
    return max(0, -inst.tick_size.normalize().as_tuple().exponent)


def fingerprint_line(t: Trade) -> bytes:
    """One trade's line of the run fingerprint: entry and exit time (UTC ms), side, size, entry and exit
    price, net P&L, fees, funding (exact Decimal text) and exit reason, ``,``-joined, newline-terminated."""
    return (f"{t.entry_ts_ms},{t.exit_ts_ms},{t.side.value},{t.size},{t.entry_price},{t.exit_price},"
            f"{t.net_pnl_usd},{t.fees_usd},{t.funding_usd},{t.exit_reason}\n").encode()


def trade_fingerprint(trades: Iterable[Trade]) -> str:
    """sha256 hex over ``fingerprint_line`` of each trade, in order (what ``BacktestResult.fingerprint`` holds)."""
    h = hashlib.sha256()
    for t in trades:
        h.update(fingerprint_line(t))
    return h.hexdigest()


@dataclass
class BacktestSettings:
    """Everything a run needs. Money USD, fees and slippage in basis points, rates relative per hour.

    ``strategy_params`` are the strategy's ``[strategy.params]`` (flags already applied);
    ``starting_balance_usd`` the USD collateral at the start; ``liquidation_fee_pct`` as ``[paper]``.
    """

    instrument: Instrument
    strategy: str
    strategy_params: dict[str, Any]
    timeframe: str
    bar_ms: int
    funding: FundingSchedule
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    slippage_bps: float = 0.0
    starting_balance_usd: float = 10_000.0
    liquidation_fee_pct: float = 0.25
    risk: RiskConfig = field(default_factory=RiskConfig)
    exits: ExitsConfig = field(default_factory=ExitsConfig)
    operator: OperatorConfig = field(default_factory=OperatorConfig)
    run_id: str = "backtest"
    atr_period: int = 14


@dataclass
class BacktestResult:
    """What a run produced (money USD, times UTC ms).

    ``rows`` are the statistics rows of the closed trades (``journal.stats.TradeRow``), ``last_trades`` the
    most recent closed trades (bounded), ``fingerprint`` sha256 over every trades-CSV row, ``curve`` the
    mark-to-market equity at bar closes (decimated to at most ~2k points), ``open_position`` the position
    left at the end (side, size, entry) or None.
    """

    candles: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    rows: list[TradeRow] = field(default_factory=list)
    last_trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=10))
    fingerprint: str = ""
    curve: list[tuple[int, float]] = field(default_factory=list)
    max_drawdown_mtm_usd: float = 0.0
    final_equity_usd: float = 0.0
    starting_equity_usd: Decimal = ZERO
    signals: int = 0
    rejected: int = 0
    funding_payments: int = 0
    funding_usd: Decimal = ZERO
    liquidations: int = 0
    open_position: tuple[str, Decimal, Decimal] | None = None
    final_state: str = "RUNNING"
    state_reason: str = ""
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)


class _Resting:
    """A protective order resting at the exchange (stop: trigger on mark; take profit: limit)."""

    __slots__ = ("purpose", "side", "kind", "size", "price", "price_f", "cli")

    def __init__(self, purpose: ExitReason, side: Side, kind: OrderType, size: Decimal, price: Decimal, cli: str):
        self.purpose, self.side, self.kind, self.size, self.price, self.cli = purpose, side, kind, size, price, cli
        self.price_f = float(price)


class _FeeCtx:
    """The two attributes ``paper.liquidation.capped_fee_bps`` reads from an exchange."""

    def __init__(self, inst: Instrument, liquidation_fee_bps: Decimal) -> None:
        self.instruments = {inst.symbol: inst}
        self.liquidation_fee_bps = liquidation_fee_bps


Sink = Callable[[Any], None]


class Backtest:
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
        self._run8 = s.run_id[:8]
        # float mirrors for the hot path
        self.bal_f = s.starting_balance_usd
        self.pos_f = 0.0
        self.entry_f = 0.0
        self.stop_f = _INF  # trigger threshold of the resting stop (long: low <= stop_f)
        self.tp_f = _INF  # nearest take-profit (long: high > tp_f)
        self.liq_f = -_INF  # liquidation guard (long: low < liq_f)
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
        self.cur_intents: dict[str, IntentInfo] = {}
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
        self.view = BuilderMarketView()
        tfs = tuple(self.strategy.timeframes)
        self.builder: CandleBuilder | None = None
        if tfs != (s.timeframe,):
            self.builder = CandleBuilder(self.symbol, tfs, history=2000, fill_gaps=False)
            self.view.add_builder(self.builder, self.strategy.series)

    # ================================================================== the loop

    def run(self, rows: Iterable[CandleRow]) -> BacktestResult:
        """Run over ``rows`` (time-ordered bars) and return the result (also kept in ``self.result``)."""
        t0 = time.perf_counter()
        res = self.result
        symbol, tf, bar_ms = self.symbol, self.s.timeframe, self.s.bar_ms
        on_candle = self.strategy.on_candle
        builder = self.builder
        view = self.view
        atr = self.atr
        atr_n = atr.period
        atr_prev, atr_seed, atr_count, atr_val = atr._prev_close, atr._seed_sum, atr._count, atr.value  # noqa: SLF001
        new, set_ts, set_o, set_h, set_l, set_c, set_v = _CANDLE_NEW
        curve = res.curve
        stride, k = self._stride, self._k
        n = 0
        peak, maxdd = self.peak_f, 0.0
        ts = 0
        last_close = self.last_close
        (next_hour, pending, pos, stop_f, tp_f, liq_f, bal, entry, ex_on, best, due, always, day_end, day_lim,
         floor) = self._hot()
        for row in rows:
            ts, o, h, lo, c, v = row
            n += 1
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
            # Candle(ts, o, h, lo, c, v) without the frozen dataclass's __init__ (same object, half the cost)
            candle = new(Candle)
            set_ts(candle, ts)
            set_o(candle, o)
            set_h(candle, h)
            set_l(candle, lo)
            set_c(candle, c)
            set_v(candle, v)
            # engine.indicators.ATR.update(candle), inlined (same float operations in the same order)
            if atr_prev is not None:
                tr = h - lo
                d = atr_prev - h
                if d < 0:
                    d = -d
                if d > tr:
                    tr = d
                d = atr_prev - lo
                if d < 0:
                    d = -d
                if d > tr:
                    tr = d
                if atr_val is None:
                    atr_seed += tr
                    atr_count += 1
                    if atr_count == atr_n:
                        atr_val = atr_seed / atr_n
                else:
                    atr_val = (atr_val * (atr_n - 1) + tr) / atr_n
            atr_prev = c
            last_close = c
            close_ms = ts + bar_ms
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
                atr.value = atr_val
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
        atr._prev_close, atr._seed_sum, atr._count, atr.value = atr_prev, atr_seed, atr_count, atr_val  # noqa: SLF001
        res.candles += n
        if n:
            res.last_ms = ts
        res.max_drawdown_mtm_usd = max(res.max_drawdown_mtm_usd, maxdd)
        res.elapsed_s += time.perf_counter() - t0
        return res

    def _hot(self) -> tuple:
        """The state the loop keeps in locals between slow-path calls (re-read after each)."""
        return (self.next_hour, bool(self.pending), self.pos_f, self.stop_f, self.tp_f, self.liq_f, self.bal_f,
                self.entry_f, self.exits is not None, self.best_f, self.time_due_ms, self._mark_always,
                self.day_end_ms, self.day_limit_f, self.floor_f)

    def finish(self) -> BacktestResult:
        """Close the books: final equity at the last close, the open position (left open, not a trade),
        the fingerprint and the final operator state."""
        res = self.result
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

    # ================================================================== clock: funding

    def _clock(self, ts: int) -> None:
        """Settle funding for every top of the hour passed (paper.exchange.advance_clock's rule)."""
        self.now_ms = ts
        if self._funded is None:
            self._funded = ts - ts % HOUR_MS
            self.next_hour = self._funded + HOUR_MS
            self.result.first_ms = ts
            return
        hours = 0
        paid = False
        while self._funded + HOUR_MS <= ts and hours < MAX_FUNDING_HOURS_PER_STEP:
            self._funded += HOUR_MS
            hours += 1
            if self.position.size != 0:
                paid = self._settle_funding(self._funded) or paid
        self._funded = max(self._funded, ts - ts % HOUR_MS)
        self.next_hour = self._funded + HOUR_MS
        if paid and self.position.size != 0:
            self._liquidation(self.last_close, ts)

    def _settle_funding(self, hour_end_ms: int) -> bool:
        rel = self.s.funding.rate_for(hour_end_ms - HOUR_MS)
        if rel == 0 or not self.last_close:
            return False
        rel_d = Decimal(repr(rel))
        _, payment = funding_payment(self.inst, self.position.size, rel_d, Decimal(repr(self.last_close)))
        self.balance += payment
        self.bal_f = float(self.balance)
        self._refresh_liq()
        rec = FundingPayment(self.symbol, hour_end_ms, payment, rel_d)
        self.cur_funding.append(rec)
        self.result.funding_payments += 1
        self.result.funding_usd += payment
        if self.sink is not None:
            self.sink(rec)
        return True

    # ================================================================== fills

    def _next_id(self) -> int:
        self._seq += 1
        return self._seq

    def _book(self, side: Side, qty: Decimal, price: Decimal, fill_type: str, cli: str | None, ts: int,
              fee_bps: Decimal | None = None) -> None:
        """Book one execution with the paper exchange's formulas (paper.ledger.book_fill)."""
        inst = self.inst
        position = self.position
        realized = position.apply_fill(inst, qty * side.sign, price, ts)
        if fee_bps is None:
            fee_bps = self.maker_bps if fill_type == "maker" else self.taker_bps
        fee = fee_amount(inst, qty, price, fee_bps)
        self.balance = balance = self.balance + (realized - fee)
        self._seq = n = self._seq + 1
        row = (side, qty, price, ts, _FILL_TYPES[fill_type], cli, fee, n)
        self.cur_fills.append(row)
        if self.sink is not None:
            self.sink(self._fill_of(row))
        pos = position.size
        self.pos_f = float(pos)
        self.entry_f = float(position.entry_price)
        self.bal_f = float(balance)
        if pos == 0:
            self._trade_closed()
            self.liq_f = -_INF
        else:
            self._refresh_liq()

    def _fill_of(self, row: tuple) -> Fill:
        """The ``domain.Fill`` of a booked fill row (ids ``<run8>-f<n>`` / ``<run8>-o<n>``)."""
        side, qty, price, ts, fill_type, cli, fee, n = row
        return Fill(f"{self._run8}-f{n}", f"{self._run8}-o{n}", self.symbol, side, qty, price, ts, fill_type, cli,
                    fee, "USD")

    def _refresh_liq(self) -> None:
        """Float guard of the liquidation test: the mark at which equity = maintenance margin (slightly
        widened so the exact Decimal test decides every case near the edge)."""
        pos = self.position.size
        if pos == 0:
            self.liq_f = -_INF
            return
        mm = float(position_margins(self.inst, pos, self.position.entry_price)[1])
        p_liq = self.entry_f + (mm - self.bal_f) / self.pos_f
        margin = abs(p_liq) * 1e-6 + 1e-9
        self.liq_f = p_liq + margin if pos > 0 else p_liq - margin

    def _trade_closed(self) -> None:
        """The position is back to zero: derive the round trip (``_round_trip``, or the journal's
        ``derive_trades`` when a fill crossed zero) and report it."""
        t1 = self._round_trip()
        if t1 is not None:
            closed = [t1]
        else:
            closed = derive_trades([self._fill_of(r) for r in self.cur_fills], intents=self.cur_intents,
                                   strategies=self.cur_strategies, funding=self.cur_funding).closed
        rows = self.result.rows
        for t in closed:
            self._hash.update(fingerprint_line(t))
            rows.append(_stats_row(t))
            self.result.last_trades.append(t)
            self.consecutive_losses = self.consecutive_losses + 1 if t.net_pnl_usd < 0 else 0
            if self.on_trade is not None:
                self.on_trade(t)
        self.cur_fills = []
        self.cur_funding = []
        self.cur_intents = {}
        self.cur_strategies = {}
        self._cancel_resting()
        self.exits = None
        if self.op.state is OperatorState.FLATTENING:
            self.op.flatten_done("position closed at the open")

    def _round_trip(self) -> Trade | None:
        """The one closed trade of the current round trip, computed exactly as ``journal.trades.derive_trades``
        computes it (same Decimal operations in the same order: size-weighted prices, notional P&L, fees,
        MAE/MFE sampled at fill prices, funding paid/received between entry and exit, exit reason of the
        closing fill). None when the fills are not a plain round trip (a fill crossing zero, fills out of
        time order): the caller then runs ``derive_trades`` itself."""
        fills = self.cur_fills
        side0, size0, price0, ts0, _ft0, cli0, fee0, _ = fills[0]
        sign = side0.sign
        pos = size0
        cost = price0 * size0
        entry_notional = cost
        entry_size = size0
        fees = fee0 if fee0 is not None else ZERO
        exit_notional = ZERO
        exit_ts = prev_ts = ts0
        low = high = 0.0
        last = fills[0]
        for f in itertools.islice(fills, 1, None):
            side, size, price, ts, _ft, _cli, fee, _ = f
            if ts < prev_ts or pos == 0:
                return None
            prev_ts = ts
            fee = fee if fee is not None else ZERO
            u = float(sign * (price * pos - cost))
            if u < low:
                low = u
            elif u > high:
                high = u
            if side.sign == sign:
                pos += size
                cost += price * size
                entry_notional += price * size
                entry_size += size
                fees += fee
                continue
            close_q = min(size, pos)
            if size - close_q != 0:
                return None  # crosses zero: derive_trades splits it
            removed = cost if close_q == pos else cost * close_q / pos
            cost -= removed
            pos -= close_q
            exit_notional += price * close_q
            fees += fee
            exit_ts = ts
            last = f
        if pos != 0:
            return None
        intents = self.cur_intents
        info = intents.get(cli0) if cli0 else None
        signal_id = info.signal_id if info else None
        ft, cli = last[4], last[5]
        if ft.is_liquidation:
            reason = "liquidation"
        elif ft in (FillType.ASSIGNOR, FillType.ASSIGNEE):
            reason = "assignment"
        else:
            einfo = intents.get(cli) if cli else None
            reason = "external" if einfo is None else "reverse" if einfo.purpose in ("entry", "add") else einfo.purpose
        funding = {}
        pays = [p for p in sorted(self.cur_funding, key=_ts_of) if ts0 <= p.ts_ms <= exit_ts]
        if pays:
            amounts = [p.amount_usd for p in pays]
            received = sum((a for a in amounts if a > 0), ZERO)
            paid = -sum((a for a in amounts if a < 0), ZERO)
            funding = {"funding_usd": received - paid, "funding_paid_usd": paid, "funding_received_usd": received}
        return Trade(
            symbol=self.symbol, side=PositionSide.LONG if sign > 0 else PositionSide.SHORT, size=entry_size,
            entry_ts_ms=ts0, exit_ts_ms=exit_ts, entry_price=entry_notional / entry_size,
            exit_price=exit_notional / entry_size, gross_pnl_usd=sign * (exit_notional - entry_notional),
            fees_usd=fees, funding_usd=funding.pop("funding_usd", ZERO), exit_reason=reason, signal_id=signal_id,
            strategy=self.cur_strategies.get(signal_id) if signal_id else None, mae_usd=low, mfe_usd=high, **funding,
        )

    def _intent(self, ts: int, side: Side, size: Decimal, otype: OrderType, reason: str, signal_id: str | None,
                *, price: Decimal | None = None, reduce_only: bool = False) -> str:
        """Register (and journal) an order intent; returns its cliOrdId (``kt-<signal>-<purpose>-<n>``)."""
        n = self._next_id()
        cli = f"kt-{signal_id or self._run8}-{reason}-{n}"
        self.cur_intents[cli] = IntentInfo(reason, side.value, signal_id)
        if self.sink is not None:
            limit = price if otype is OrderType.LIMIT else None
            stop = price if otype is OrderType.STOP else None
            self.sink(IntentRecord(ts, cli, self.symbol, side, size, otype, intent_purpose(reason), limit, stop,
                                   reduce_only, signal_id))
        return cli

    def _quote(self, price: float) -> tuple[Decimal, Decimal]:
        """``quote_at(self.inst, price, slippage_bps)`` with the instrument's constants computed once."""
        k, step, digits = self._slip_k, self._tick_f, self._tick_digits
        bid = round(math.floor(price * (1.0 - k) / step + 1e-9) * step, digits)
        ask = round(math.ceil(price * (1.0 + k) / step - 1e-9) * step, digits)
        return Decimal(repr(bid)), Decimal(repr(ask))

    def _open_fills(self, ts: int, o: float) -> None:
        """Execute the market orders decided at the previous close at this bar's open (+ slippage)."""
        pending, self.pending = self.pending, []
        bid, ask = self._quote(o)
        for kind, side, size, strategy, cli, signal_id, enter in pending:
            if kind == "close":
                pos = self.position.size
                if pos == 0 or (pos > 0) == (side is Side.BUY):
                    continue  # nothing left to reduce (reduce-only)
                self._cancel_resting()
                qty = min(size, abs(pos))
                self._book(side, qty, bid if side is Side.SELL else ask, "taker", cli, ts)
            else:
                price = ask if side is Side.BUY else bid
                # a reversal's close (just booked) ended the previous round trip and cleared its intents:
                # keep this entry's intent and strategy, so the new trade keeps its signal and strategy
                if cli not in self.cur_intents:
                    self.cur_intents[cli] = IntentInfo("entry", side.value, signal_id)
                if signal_id is not None and signal_id not in self.cur_strategies:
                    self.cur_strategies[signal_id] = strategy
                self._book(side, size, price, "taker", cli, ts)
                self._open_signal = signal_id
                if self.position.size != 0:
                    self._start_exits(enter, ts, price, size, signal_id)

    def _start_exits(self, enter: Enter, ts: int, price: Decimal, size: Decimal, signal_id: str | None) -> None:
        if self.exits is None and not enter.protective:
            return  # no exit policy state without protective exits (PositionExits would be dropped at once)
        pos = self.position.size
        side = PositionSide.LONG if pos > 0 else PositionSide.SHORT
        if self.exits is not None:
            self.exits.add(size, price)
        else:
            self.exits = PositionExits(self.s.exits, self.inst, side, self.position.entry_price, abs(pos), ts,
                                       protective=enter.protective)
        ex = self.exits
        if not ex.protective:
            self.exits = None
            return
        self._cancel_resting()
        for po in ex.initial_orders():
            cli = self._intent(ts, po.side, po.size, po.order_type, po.purpose.value, signal_id, price=po.price,
                               reduce_only=True)
            self.resting.append(_Resting(po.purpose, po.side, po.order_type, po.size, po.price, cli))
        self.best_f = float(ex.best_price)
        self._mark_always = ex.cfg.trailing_activate_pct == 0
        self.time_due_ms = ex.opened_ms + int(ex.cfg.time_exit_h * HOUR_MS) if ex.cfg.time_exit_h else 1 << 62
        self._thresholds()

    def _thresholds(self) -> None:
        """Float trigger thresholds of the resting orders for the hot loop's pre-check."""
        long = self.pos_f > 0
        if not self.resting:
            self.stop_f, self.tp_f = (-_INF, _INF) if long else (_INF, -_INF)
            return
        stop = next((r.price_f for r in self.resting if r.kind is OrderType.STOP), None)
        tps = [r.price_f for r in self.resting if r.kind is OrderType.LIMIT]
        if long:
            self.stop_f = stop if stop is not None else -_INF
            self.tp_f = min(tps) if tps else _INF
        else:
            self.stop_f = stop if stop is not None else _INF
            self.tp_f = max(tps) if tps else -_INF

    def _cancel_resting(self) -> None:
        self.resting = []
        self._thresholds()

    # ================================================================== inside a bar

    def _intrabar(self, ts: int, o: float, h: float, lo: float, c: float) -> None:
        """Walk open -> adverse extreme -> favourable extreme -> close; fill resting orders the walk reaches
        and check liquidation with the mark at each vertex (module docstring)."""
        long = self.pos_f > 0
        path = (o, lo, h, c) if long else (o, h, lo, c)
        prev = None
        for p in path:
            if self.position.size == 0:
                break
            self._orders_at(ts, prev, p)
            if self.position.size == 0:
                break
            self._liquidation(p, ts)
            prev = p
        self._thresholds()

    def _orders_at(self, ts: int, prev: float | None, p: float) -> None:
        """Fill the resting orders the move ``prev`` -> ``p`` reaches (``prev`` None: the open gap)."""
        if not self.resting:
            return
        long = self.position.size > 0
        down = prev is None or p < prev
        up = prev is None or p > prev
        stop = next((r for r in self.resting if r.kind is OrderType.STOP), None)
        if stop is not None:
            if long:
                hit = p <= stop.price_f and down
            else:
                hit = p >= stop.price_f and up
            if hit:
                trigger = p if prev is None else stop.price_f  # a gap fills at the open, else at the stop
                bid, ask = self._quote(trigger)
                qty = min(stop.size, abs(self.position.size))
                reason = self.exits.stop_reason if self.exits is not None else stop.purpose
                if self.exits is not None:
                    self.exits.on_exit_fill(reason, qty)
                self.resting.remove(stop)
                self._book(stop.side, qty, bid if stop.side is Side.SELL else ask, "taker", stop.cli, ts)
                return
        if (long and up) or (not long and down):
            # a limit fills on a trade print strictly through it; prints are on the tick grid (on_tick_grid)
            tp_ = on_tick_grid(MarketTick(self.symbol, ts, last=p), self.inst).last
            assert tp_ is not None
            tps = [r for r in self.resting if r.kind is OrderType.LIMIT
                   and (tp_ > r.price_f if long else tp_ < r.price_f)]
            tps.sort(key=lambda r: r.price_f, reverse=not long)
            for tp in tps:
                if self.position.size == 0:
                    break
                qty = min(tp.size, abs(self.position.size))
                self.resting.remove(tp)
                if self.exits is not None:
                    self.exits.on_exit_fill(tp.purpose, qty)
                self._book(tp.side, qty, tp.price, "maker", tp.cli, ts)
            if tps and self.position.size != 0 and self.exits is not None:
                so = self.exits.stop_order()
                for r in self.resting:
                    if r.kind is OrderType.STOP and so is not None:
                        r.size = so.size

    def _liquidation(self, mark_f: float, ts: int) -> None:
        """paper.liquidation.check for the one position, with mark ``mark_f`` (USD)."""
        partial_done = False
        for _ in range(MAX_STEPS):
            pos = self.position.size
            if pos == 0:
                return
            if (pos > 0 and mark_f >= self.liq_f) or (pos < 0 and mark_f <= self.liq_f):
                return
            inst, entry = self.inst, self.position.entry_price
            mark = Decimal(repr(mark_f))
            equity = self.balance + unrealized_pnl(inst, pos, entry, mark)
            mm = position_margins(inst, pos, entry)[1]
            if equity >= mm:
                return
            self._cancel_resting()
            size_abs = abs(pos)
            if partial_done:
                q, full = size_abs, True
            else:
                fee_per_contract = notional_usd(inst, Decimal(1), mark) * self.liq_bps / BPS
                q = partial_size(equity, mm, mm, size_abs, fee_per_contract, inst.lot_size)
                if q <= 0:
                    return
                full = q >= size_abs
                q = size_abs if full else q
            fee_bps = capped_fee_bps(self._fee_ctx, self.symbol, q, mark, equity) if full else self.liq_bps  # type: ignore[arg-type]
            side = Side.SELL if pos > 0 else Side.BUY
            self.result.liquidations += 1
            if self.exits is not None:
                self.exits.on_exit_fill(ExitReason.LIQUIDATION, q)
            self._book(side, q, mark, "liquidation" if full else "partialLiquidation", None, ts, fee_bps)
            partial_done = True

    # ================================================================== decisions at the close

    def _on_mark(self, c: float, close_ms: int) -> None:
        ex = self.exits
        assert ex is not None
        for act in ex.on_mark(Decimal(repr(c)), close_ms):
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
        side = Side.SELL if pos > 0 else Side.BUY
        cli = self._intent(ts, side, abs(pos), OrderType.MARKET, reason.value, signal_id, reduce_only=True)
        self.pending.append(("close", side, abs(pos), reason.value, cli, signal_id, None))

    def _account(self, mark: Decimal) -> AccountSnapshot:
        pos, entry = self.position.size, self.position.entry_price
        positions: tuple[OpenExposure, ...] = ()
        equity = self.balance
        if pos:
            im, mm = margin_rates(self.inst, pos, entry)
            positions = (OpenExposure(self.symbol, pos, entry, mark, im, mm),)
            equity += unrealized_pnl(self.inst, pos, entry, mark)
        dd = (self.peak_f - float(equity)) / self.peak_f * 100.0 if self.peak_f > 0 else 0.0
        return AccountSnapshot(equity, self.balance, positions, self.consecutive_losses, max(dd, 0.0))

    def _on_signal(self, sig: Signal, c: float, close_ms: int, eq: float) -> None:
        res = self.result
        res.signals += 1
        self.now_ms = close_ms
        signal_id = make_signal_id(self.s.run_id, self.symbol, close_ms)
        state = self.op.state
        if state is OperatorState.HALTED or state is OperatorState.FLATTENING:
            self._signal_record(sig, signal_id, close_ms, "ignored", f"engine {state.value}")
            return
        mark = Decimal(repr(c))
        atr = self.atr.value
        actions = decide(
            sig, instrument=self.inst, position_size=self.position.size, mark_price=mark, index_price=mark,
            account=self._account(mark), risk_cfg=self.risk_cfg, exits_cfg=self.s.exits,
            entry_block_reason=self.op.entry_rejection_reason(),
            atr_pct=atr / c * 100.0 if atr is not None and c > 0 else None,
            funding_rate=self.s.funding.rate_for(close_ms - close_ms % HOUR_MS),
            sizing=self.sizing, protective=self.protective,
        )
        action, why = "ignored", None
        for a in actions:
            if isinstance(a, Close):
                self._queue_close(a.reason, close_ms, signal_id)
                action = "intent"
            elif isinstance(a, Enter):
                cli = self._intent(close_ms, a.order_side, a.size, OrderType.MARKET, "entry", signal_id)
                name = self.cur_strategies[signal_id] = sig.strategy or self.strategy.name
                self.pending.append(("enter", a.order_side, a.size, name, cli, signal_id, a))
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
