"""The portfolio backtest: one strategy on several linear perpetuals (one candle file each) sharing ONE account:
one balance, one equity, one margin, one set of risk limits.

Owns: ``PortfolioMarket`` (one symbol's bars and funding), ``PortfolioSettings``, ``PortfolioResult`` and
``PortfolioBacktest``. Rules (USD; PF_ instruments only; money by ``domain.money``'s formulas):

- Bars of all files are merged by open time. At each time, for each symbol with a bar: funding first when a
  UTC hour ended since the previous bar (on every open position, at its last mark, the rate of the hour that
  ended: ``money.funding_payment``, as the single-symbol backtest), then that symbol's queued market order fills
  at the bar's open moved by the slippage (``settings.quote_at``; buy at the ask, sell at the bid), taker fee
  (``money.fee_amount``), realised P&L by ``money.linear_fill``; then the close becomes the symbol's mark and
  the strategy sees the closed candle (one strategy instance, per-symbol state, its other timeframes built by
  ``engine.candles.CandleBuilder``). After every symbol of the time: the equity (balance + unrealised P&L of
  every position at its mark), the daily-loss and equity-floor guards, and one equity-curve point.
- Signals (decided at the bar close, filled at that symbol's next open): flat closes the position; long/short
  closes an opposite position and opens the new side; a signal on the side already held does nothing (no
  pyramiding). Exits are the strategy's own signals and the guards below; the single-symbol backtest's
  stops, take-profits and trailing exits are not simulated here.
- Entry size (``[risk]``): notional = equity x ``fixed_fraction_pct`` / 100, at most
  ``max_position_notional_usd``, then reduced so that the notional of all positions at their marks stays
  <= ``leverage_cap`` x equity and their initial margin (``money.position_margins``) <= ``max_capital_deployed_pct``
  % of equity; contracts rounded down to the lot size; an entry that rounds to 0, or would exceed
  ``max_open_positions`` open positions (the order's own reversal excepted), is refused and counted.
- Guards (``[operator]``): when equity falls ``daily_loss_limit_pct`` % below the UTC day's starting equity,
  every position is closed at the next opens and entries stop until the next UTC day; when equity falls to
  ``equity_floor_pct`` % of the starting balance, every position is closed and entries stop for good (0 turns
  a guard off).

Trades are ``journal.trades.Trade`` round trips (entry to flat), so the research statistics read them as they
read the single-symbol backtest's. Reference: the rules of the single-symbol backtest (``backtest`` package
docstring) and Kraken Support "Margining & Liquidations: Multi-Collateral" (one collateral pool for all
positions of a multi-collateral account).
Must not import: textual, the paper exchange's server, the journal writer.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from kraken_tui.config import OperatorConfig, RiskConfig
from kraken_tui.domain import ZERO, Candle, Instrument, money
from kraken_tui.domain.timeunits import DAY_MS, HOUR_MS
from kraken_tui.domain.values import PositionSide
from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.signals import BuilderMarketView, Signal, SignalSide
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.errors import ConfigError
from kraken_tui.journal.trades import Trade

from .columns import CandleRow
from .data import FundingSchedule
from .settings import quote_at

__all__ = ["PortfolioBacktest", "PortfolioMarket", "PortfolioResult", "PortfolioSettings"]


@dataclass
class PortfolioMarket:
    """One symbol of the portfolio: its linear ``instrument``, bars ``rows`` (``(open_ms, open, high, low, close,
    volume)``, USD, oldest first) and hourly ``funding``."""

    instrument: Instrument
    rows: Sequence[CandleRow]
    funding: FundingSchedule


@dataclass
class PortfolioSettings:
    """What a portfolio backtest runs: ``markets`` (at least one; distinct PF_ symbols, same ``timeframe``,
    bars of ``bar_ms``), the ``strategy`` and its ``strategy_params``, fees and slippage (bps), the starting
    balance (USD) and the ``risk`` and ``operator`` config whose limits the account shares."""

    markets: list[PortfolioMarket]
    strategy: str
    strategy_params: dict[str, object]
    timeframe: str
    bar_ms: int
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    slippage_bps: float = 1.0
    starting_balance_usd: float = 10_000.0
    risk: RiskConfig = field(default_factory=RiskConfig)
    operator: OperatorConfig = field(default_factory=OperatorConfig)


@dataclass
class PortfolioResult:
    """What a portfolio backtest produced: the shared account's ``curve`` (``(time ms, equity USD)`` after each
    time), ``balance_usd``, closed ``trades``, ``fees_usd`` and ``funding_usd`` (signed: + received), the
    largest total notional (``max_notional_usd``) and initial margin (``max_margin_usd``) held at once,
    ``refused`` entries (limit or size), ``halted`` (equity floor) and ``notes``."""

    starting_equity_usd: Decimal
    balance_usd: Decimal
    curve: list[tuple[int, float]] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    fees_usd: Decimal = ZERO
    funding_usd: Decimal = ZERO
    max_notional_usd: Decimal = ZERO
    max_margin_usd: Decimal = ZERO
    refused: int = 0
    halted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def final_equity_usd(self) -> float:
        """The last curve point, or the starting equity before any bar."""
        return self.curve[-1][1] if self.curve else float(self.starting_equity_usd)


@dataclass
class _Pos:
    size: Decimal = ZERO
    entry: Decimal = ZERO
    entry_ms: int = 0
    gross: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO


class PortfolioBacktest:
    """One strategy over several symbols sharing one account (module docstring for the rules).

    Use: ``bt = PortfolioBacktest(settings); bt.run_until(end_ms)`` (repeatable, for pruning checkpoints);
    ``bt.result``.

    Raises:
        ConfigError: no market, a repeated symbol, a PF_ instrument missing (inverse), or a bad strategy
            name or parameter (from ``build_strategy``).
    """

    def __init__(self, settings: PortfolioSettings) -> None:
        s = self.s = settings
        if not s.markets:
            raise ConfigError("--candles", None, "at least one candle file")
        syms = [m.instrument.symbol for m in s.markets]
        if len(set(syms)) != len(syms):
            raise ConfigError("--candles", ",".join(syms), "one candle file per symbol in a portfolio")
        for m in s.markets:
            if not m.instrument.is_linear:
                raise ConfigError("--symbol", m.instrument.symbol, "PF_ (linear) perpetuals in a portfolio")
        self.strategy = build_strategy(s.strategy, dict(s.strategy_params), timeframe=s.timeframe)
        self.inst = {m.instrument.symbol: m.instrument for m in s.markets}
        self.funding = {m.instrument.symbol: m.funding for m in s.markets}
        start = Decimal(repr(s.starting_balance_usd))
        self.result = PortfolioResult(starting_equity_usd=start, balance_usd=start)
        self.pos = {sym: _Pos() for sym in syms}
        self.mark: dict[str, Decimal] = {}
        self.pending: dict[str, tuple[str, Signal | None]] = {}  # symbol -> ("open"/"close", signal)
        self.view = BuilderMarketView()
        tfs = tuple(self.strategy.timeframes)
        self.builders: dict[str, CandleBuilder] = {}
        if tfs != (s.timeframe,):
            for sym in syms:
                b = self.builders[sym] = CandleBuilder(sym, tfs, history=2000, fill_gaps=False)
                self.view.add_builder(b, self.strategy.series)
        self._events = heapq.merge(*([(r[0], k, r) for r in m.rows] for k, m in enumerate(s.markets)))
        self._peek: tuple[int, int, CandleRow] | None = next(self._events, None)
        self._next_hour: int | None = None
        self._day = -1
        self._day_start = float(start)
        self._day_blocked = False
        self._taker = Decimal(repr(s.taker_fee_bps))
        self._n = 0

    # ------------------------------------------------------------------ account

    def equity(self) -> Decimal:
        """Balance + unrealised P&L of every open position at its mark (USD)."""
        eq = self.result.balance_usd
        for sym, p in self.pos.items():
            if p.size:
                eq += money.unrealized_pnl(self.inst[sym], p.size, p.entry, self.mark[sym])
        return eq

    def _notional_margin(self) -> tuple[Decimal, Decimal]:
        n = im = ZERO
        for sym, p in self.pos.items():
            if p.size:
                n += money.notional_usd(self.inst[sym], p.size, self.mark[sym])
                im += money.position_margins(self.inst[sym], p.size, p.entry)[0]
        return n, im

    def _fill(self, sym: str, qty: Decimal, open_px: float, ts: int, reason: str) -> None:
        inst, p, res = self.inst[sym], self.pos[sym], self.result
        bid, ask = quote_at(inst, open_px, self.s.slippage_bps)
        price = ask if qty > 0 else bid
        fee = money.fee_amount(inst, qty, price, self._taker)
        old, old_entry = p.size, p.entry
        size, entry, realized = money.linear_fill(old, old_entry, qty, price, inst.contract_size)
        res.balance_usd += realized - fee
        res.fees_usd += fee
        if p.size == 0:
            p.entry_ms, p.gross, p.fees, p.funding = ts, ZERO, ZERO, ZERO
        p.gross += realized
        p.fees += fee
        p.size, p.entry = size, entry
        if size == 0:
            res.trades.append(Trade(
                symbol=sym, side=PositionSide.LONG if old > 0 else PositionSide.SHORT, size=abs(old),
                entry_ts_ms=p.entry_ms, exit_ts_ms=ts, entry_price=old_entry, exit_price=price,
                gross_pnl_usd=p.gross, fees_usd=p.fees, funding_usd=p.funding, exit_reason=reason,
                strategy=self.strategy.name))
        n, im = self._notional_margin()
        res.max_notional_usd = max(res.max_notional_usd, n)
        res.max_margin_usd = max(res.max_margin_usd, im)

    def _funding(self, hour_ms: int) -> None:
        for sym, p in self.pos.items():
            if not p.size:
                continue
            rate = Decimal(repr(self.funding[sym].rate_for(hour_ms)))
            _, pay = money.funding_payment(self.inst[sym], p.size, rate, self.mark[sym])
            self.result.balance_usd += pay
            self.result.funding_usd += pay
            p.funding += pay

    def _entry_size(self, sym: str, side: int, price: Decimal) -> Decimal:
        inst, r = self.inst[sym], self.s.risk
        eq = self.equity()
        if eq <= 0:
            return ZERO
        notional = min(eq * Decimal(repr(r.fixed_fraction_pct)) / 100, Decimal(repr(r.max_position_notional_usd)))
        others = [(s, p) for s, p in self.pos.items() if p.size and s != sym]
        held_n = sum((money.notional_usd(self.inst[s], p.size, self.mark[s]) for s, p in others), ZERO)
        held_im = sum((money.position_margins(self.inst[s], p.size, p.entry)[0] for s, p in others), ZERO)
        notional = min(notional, Decimal(repr(r.leverage_cap)) * eq - held_n)
        im_rate = money.margin_rates(inst, Decimal(side), price)[0]
        room_im = Decimal(repr(r.max_capital_deployed_pct)) / 100 * eq - held_im
        notional = min(notional, room_im / im_rate if im_rate > 0 else notional)
        if notional <= 0:
            return ZERO
        qty = money.contracts_for_notional(inst, notional, price)
        return qty.quantize(inst.lot_size, rounding=ROUND_DOWN) if inst.lot_size > 0 else qty

    # ------------------------------------------------------------------ loop

    def run_until(self, end_ms: int | None = None) -> PortfolioResult:
        """Process every bar opening before ``end_ms`` (None = all); returns (and keeps) the result."""
        while self._peek is not None and (end_ms is None or self._peek[0] < end_ms):
            ts = self._peek[0]
            batch: list[tuple[int, int, CandleRow]] = []
            while self._peek is not None and self._peek[0] == ts:
                batch.append(self._peek)
                self._peek = next(self._events, None)
            self._time(ts, batch)
        return self.result

    def _time(self, ts: int, batch: list[tuple[int, int, CandleRow]]) -> None:
        res = self.result
        if self._next_hour is None:
            self._next_hour = ts - ts % HOUR_MS + HOUR_MS
        while ts >= self._next_hour:  # funding of each hour that ended, on the positions held then
            self._funding(self._next_hour - HOUR_MS)
            self._next_hour += HOUR_MS
        day = ts // DAY_MS
        if day != self._day:
            self._day, self._day_start, self._day_blocked = day, float(self.equity()), False
        bars = [(self.s.markets[k].instrument.symbol, row) for _ts, k, row in batch]
        for sym, row in bars:  # the opens first: every fill of this time sees the other symbols at their open
            self.mark[sym] = Decimal(repr(row[1]))
        for sym, row in bars:
            order = self.pending.pop(sym, None)
            if order is not None:
                self._execute(sym, order, row[1], ts)
        for sym, row in bars:
            self._bar(sym, row)
        eq = float(self.equity())
        res.curve.append((ts + self.s.bar_ms, eq))
        op = self.s.operator
        start = float(res.starting_equity_usd)
        if not res.halted and op.equity_floor_pct > 0 and eq <= start * op.equity_floor_pct / 100:
            res.halted = True
            res.notes.append(f"equity floor: equity {eq:.2f} USD <= {op.equity_floor_pct:g} % of {start:.2f} USD at "
                             f"{ts + self.s.bar_ms}; positions closed, no entries after")
            self._close_all()
        elif (not self._day_blocked and op.daily_loss_limit_pct > 0
              and eq <= self._day_start * (1 - op.daily_loss_limit_pct / 100)):
            self._day_blocked = True
            res.notes.append(f"daily loss limit: equity {eq:.2f} USD, day start {self._day_start:.2f} USD at "
                             f"{ts + self.s.bar_ms}; positions closed, no entries until the next UTC day")
            self._close_all()

    def _close_all(self) -> None:
        for sym, p in self.pos.items():
            if p.size:
                self.pending[sym] = ("close", None)

    def _bar(self, sym: str, row: CandleRow) -> None:
        ts, o, h, lo, c, v = row
        self.mark[sym] = Decimal(repr(c))
        candle = Candle(int(ts), o, h, lo, c, v)
        b = self.builders.get(sym)
        closed = [(cc.timeframe, cc.candle) for cc in b.add_candle(candle, self.s.timeframe)] if b else [
            (self.s.timeframe, candle)]
        for tf, cd in closed:
            sig = self.strategy.on_candle(sym, tf, cd, self.view)
            if sig is not None and tf == self.s.timeframe:
                self._signal(sym, sig)

    def _signal(self, sym: str, sig: Signal) -> None:
        p = self.pos[sym]
        held = (p.size > 0) - (p.size < 0)
        if sig.side is SignalSide.FLAT:
            if held:
                self.pending[sym] = ("close", sig)
            return
        want = sig.side.sign
        if held == want:
            return
        self.pending[sym] = ("open", sig)

    def _execute(self, sym: str, order: tuple[str, Signal | None], open_px: float, ts: int) -> None:
        kind, sig = order
        p = self.pos[sym]
        held = (p.size > 0) - (p.size < 0)
        if held and (kind == "close" or (sig is not None and sig.side.sign != held)):
            self._fill(sym, -p.size, open_px, ts, "signal" if sig is not None else "guard")
        if kind != "open" or sig is None or self.result.halted or self._day_blocked:
            return
        others = sum(1 for s, q in self.pos.items() if q.size and s != sym)
        if others >= self.s.risk.max_open_positions:
            self.result.refused += 1
            return
        side = sig.side.sign
        qty = self._entry_size(sym, side, Decimal(repr(open_px)))
        if qty <= 0:
            self.result.refused += 1
            return
        self._fill(sym, Decimal(side) * qty, open_px, ts, "entry")
