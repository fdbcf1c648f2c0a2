"""The portfolio backtest: one strategy on several linear perpetuals (one candle file each) sharing ONE account:
one balance, one equity, one margin, one set of risk limits.

Owns: ``PortfolioMarket`` (one symbol's bars and funding), ``PortfolioSettings``, ``PortfolioResult`` and
``PortfolioBacktest``. Rules (USD; PF_ instruments only):

- Each symbol is run by the single-symbol backtest's own collaborators (a ``_Leg``: ``state.BacktestState``,
  ``fills.Fills``, ``orders.Orders``, ``trades.Trades``, ``decisions.Decisions``), so fills, fees, funding,
  protective exits (stop, take-profit ladder, trailing stop, time exit: ``engine.exits.PositionExits``), the
  walk inside a bar and liquidation follow the ``backtest`` package's rules with ``domain.money``'s formulas;
  there is no second implementation of any of them here.
- ONE balance: before a symbol's collaborators act, its state's balance is set to the account's balance plus
  the other positions' unrealised P&L minus their maintenance margin (at their marks), and what the action
  changed flows back to the account. So a symbol's liquidation test ``balance + upnl < maintenance margin`` is
  the account's ``balance + all upnl < all maintenance margin`` (cross margin, Kraken Support "Margining &
  Liquidations: Multi-Collateral": one collateral pool for all positions), and the partial size brings the
  account back to its maintenance margin. The liquidated position is the one whose bar is being walked.
- Bars of all files are merged by open time. At each time, for each symbol with a bar: funding of each UTC hour
  that ended (``Fills.clock``: the rate of the hour that ended, at the symbol's last close), then the marks of
  every symbol of the time move to their opens, then each symbol's orders decided at the previous close fill
  at its open (``Orders.open_fills``: exit and signal closes first, then the signal's entry, sized below), then
  the bar's walk fills resting stops and take-profits and checks liquidation (``Orders.intrabar``), then the
  close becomes the mark, the exit policy runs at the close (``Decisions.on_mark``: trailing stop, time exit)
  and the strategy sees the closed candle (one strategy instance, per-symbol state, its other timeframes built
  by ``engine.candles.CandleBuilder``). After every symbol of the time: the equity (balance + unrealised P&L
  of every position at its mark), the daily-loss and equity-floor guards, and one equity-curve point.
- Signals (decided at the bar close, filled at that symbol's next open): flat closes the position; long/short
  closes an opposite position and opens the new side; a signal on the side already held does nothing (no
  pyramiding). Protective exits are placed after each entry with ``exits`` (``[exits]``) unless the strategy
  has ``protective_exits = False``.
- Entry size (``[risk]``): notional = equity x ``fixed_fraction_pct`` / 100, at most
  ``max_position_notional_usd``, then reduced so that the notional of all positions at their marks stays
  <= ``leverage_cap`` x equity and their initial margin (``money.position_margins``) <= ``max_capital_deployed_pct``
  % of equity; contracts rounded down to the lot size; an entry that rounds to 0, or would exceed
  ``max_open_positions`` open positions (the order's own reversal excepted), is refused and counted.
- Guards (``[operator]``): when equity falls ``daily_loss_limit_pct`` % below the UTC day's starting equity,
  every position is closed at the next opens and entries stop until the next UTC day; when equity falls to
  ``equity_floor_pct`` % of the starting balance, every position is closed and entries stop for good (0 turns
  a guard off).

Trades are ``journal.trades.Trade`` round trips (entry to flat, ``trades.Trades``), so the research statistics
read them as they read the single-symbol backtest's. Reference: the rules of the single-symbol backtest
(``backtest`` package docstring).
Must not import: textual, the paper exchange's server, the journal writer.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig
from kraken_tui.domain import ZERO, Candle, Instrument, OrderType, Side, money
from kraken_tui.domain.timeunits import DAY_MS
from kraken_tui.domain.values import PositionSide
from kraken_tui.engine.candles import CandleBuilder
from kraken_tui.engine.decide import Enter
from kraken_tui.engine.exits import ExitReason
from kraken_tui.engine.operator import OperatorStateMachine
from kraken_tui.engine.order_ids import make_signal_id
from kraken_tui.engine.signals import BuilderMarketView, Signal, SignalSide
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.errors import ConfigError
from kraken_tui.journal.trades import Trade
from kraken_tui.paper.account import PaperPosition

from .columns import CandleRow
from .data import FundingSchedule
from .decisions import Decisions
from .fills import Fills
from .orders import Orders
from .settings import _INF, BacktestResult, BacktestSettings
from .state import BacktestState
from .trades import Trades

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
    balance (USD), the ``risk`` and ``operator`` config whose limits the account shares, the ``exits`` placed
    after each entry (``[exits]``), the liquidation fee (percent of notional, ``[paper] liquidation_fee_pct``)
    and the ``run_id`` the order ids are made from."""

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
    exits: ExitsConfig = field(default_factory=ExitsConfig)
    liquidation_fee_pct: float = 0.25
    run_id: str = "portfolio"


@dataclass
class PortfolioResult:
    """What a portfolio backtest produced: the shared account's ``curve`` (``(time ms, equity USD)`` after each
    time), ``balance_usd``, closed ``trades``, ``fees_usd`` and ``funding_usd`` (signed: + received), the
    largest total notional (``max_notional_usd``) and initial margin (``max_margin_usd``) held at once,
    ``refused`` entries (limit or size), ``liquidations`` (partial and full), ``halted`` (equity floor) and
    ``notes``."""

    starting_equity_usd: Decimal
    balance_usd: Decimal
    curve: list[tuple[int, float]] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    fees_usd: Decimal = ZERO
    funding_usd: Decimal = ZERO
    max_notional_usd: Decimal = ZERO
    max_margin_usd: Decimal = ZERO
    refused: int = 0
    liquidations: int = 0
    halted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def final_equity_usd(self) -> float:
        """The last curve point, or the starting equity before any bar."""
        return self.curve[-1][1] if self.curve else float(self.starting_equity_usd)




class _Leg:
    """One symbol of the portfolio, run by the single-symbol backtest's collaborators (module docstring).

    Args:
        market: the symbol's instrument, bars and funding.
        bs: the single-symbol settings of this symbol (fees, slippage, exits, liquidation fee, run id).
        strategy_name: labels its signals and trades; ``protective``: place protective exits after entries.
        balance: the account's balance at the start (USD).
        on_trade: called with each closed ``Trade``.
    """

    def __init__(self, market: PortfolioMarket, bs: BacktestSettings, strategy_name: str, protective: bool,
                 balance: Decimal, on_trade: Callable[[Trade], None]) -> None:
        inst = self.inst = market.instrument
        self.symbol = inst.symbol
        self.protective = protective
        self.run_id = bs.run_id
        start = float(balance)
        st = self.st = BacktestState(balance=balance, position=PaperPosition(self.symbol), bal_f=start,
                                     floor_f=-_INF, peak_f=start)
        self.result = BacktestResult(starting_equity_usd=balance)
        op = OperatorStateMachine(lambda: st.now_ms)
        self.trades = Trades(st, self.symbol, bs.run_id[:8], self.result, hashlib.sha256().update, on_trade, op)
        self.fills = Fills(st, bs, self.result, self.trades, None)
        self.orders = Orders(st, bs, self.fills, self.result)
        self.decisions = Decisions(st, bs, strategy_name, bs.risk, None, protective, self.fills, op, self.result,
                                   None)

    @property
    def size(self) -> Decimal:
        """The position, contracts (signed)."""
        return self.st.position.size

    def fees_open_usd(self) -> Decimal:
        """Fees of the round trip still open (USD)."""
        return sum((row[6] for row in self.st.cur_fills), ZERO)

    def fund(self, ts: int) -> None:
        """Funding of each hour ended by ``ts`` (``Fills.clock``), then the liquidation check at the last close
        when funding was paid (as the single-symbol backtest)."""
        if self.fills.clock(ts):
            self.orders.liquidation(self.st.last_close, ts)

    def enter(self, side: int, qty: Decimal, open_px: float, ts: int, sig: Signal, strategy: str) -> None:
        """Queue a market entry of ``qty`` contracts (``side`` +1 buy, -1 sell) for ``sig`` and fill it at the open
        ``open_px`` (``Orders.open_fills``: the ask or bid with slippage, taker fee, then the protective exits)."""
        order_side = Side.BUY if side > 0 else Side.SELL
        signal_id = make_signal_id(self.run_id, self.symbol, sig.ts_ms if sig.ts_ms is not None else ts)
        enter = Enter(self.symbol, PositionSide.LONG if side > 0 else PositionSide.SHORT, qty, Decimal(repr(open_px)),
                      None, self.protective, Decimal(1), ())
        cli = self.fills.intent(ts, order_side, qty, OrderType.MARKET, "entry", signal_id)
        self.st.pending.append(("enter", order_side, qty, strategy, cli, signal_id, enter))
        self.orders.open_fills(ts, open_px)


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
        start = Decimal(repr(s.starting_balance_usd))
        self.result = PortfolioResult(starting_equity_usd=start, balance_usd=start)
        protective = bool(getattr(self.strategy, "protective_exits", True))
        self._closed_fees = ZERO
        self.legs: dict[str, _Leg] = {}
        for m in s.markets:
            bs = BacktestSettings(
                instrument=m.instrument, strategy=s.strategy, strategy_params=dict(s.strategy_params),
                timeframe=s.timeframe, bar_ms=s.bar_ms, funding=m.funding, maker_fee_bps=s.maker_fee_bps,
                taker_fee_bps=s.taker_fee_bps, slippage_bps=s.slippage_bps, starting_balance_usd=s.starting_balance_usd,
                liquidation_fee_pct=s.liquidation_fee_pct, risk=s.risk, exits=s.exits, operator=s.operator,
                run_id=s.run_id)
            self.legs[m.instrument.symbol] = _Leg(m, bs, self.strategy.name, protective, start, self._on_trade)
        self.mark: dict[str, Decimal] = {}
        self.pending: dict[str, Signal] = {}  # symbol -> the signal whose entry fills at the next open
        self.view = BuilderMarketView()
        tfs = tuple(self.strategy.timeframes)
        self.builders: dict[str, CandleBuilder] = {}
        if tfs != (s.timeframe,):
            for sym in syms:
                b = self.builders[sym] = CandleBuilder(sym, tfs, history=2000, fill_gaps=False)
                self.view.add_builder(b, self.strategy.series)
        self._events = heapq.merge(*([(r[0], k, r) for r in m.rows] for k, m in enumerate(s.markets)))
        self._peek: tuple[int, int, CandleRow] | None = next(self._events, None)
        self._day = -1
        self._day_start = float(start)
        self._day_blocked = False

    @property
    def pos(self) -> dict[str, PaperPosition]:
        """Each symbol's position (``size`` contracts signed, ``entry_price`` USD)."""
        return {sym: leg.st.position for sym, leg in self.legs.items()}

    def _on_trade(self, t: Trade) -> None:
        self.result.trades.append(t)
        self._closed_fees += t.fees_usd

    # ------------------------------------------------------------------ account

    def equity(self) -> Decimal:
        """Balance + unrealised P&L of every open position at its mark (USD)."""
        eq = self.result.balance_usd
        for sym, leg in self.legs.items():
            p = leg.st.position
            if p.size:
                eq += money.unrealized_pnl(leg.inst, p.size, p.entry_price, self.mark[sym])
        return eq

    def _notional_margin(self) -> tuple[Decimal, Decimal]:
        n = im = ZERO
        for sym, leg in self.legs.items():
            p = leg.st.position
            if p.size:
                n += money.notional_usd(leg.inst, p.size, self.mark[sym])
                im += money.position_margins(leg.inst, p.size, p.entry_price)[0]
        return n, im

    def _act(self, leg: _Leg, action: Callable[..., object], *args: Any) -> None:
        """Run ``action(*args)`` (the leg's collaborators) on the account's one balance (module docstring): the leg's
        balance is the account's balance plus the other positions' unrealised P&L minus their maintenance
        margin; what the action changed goes back to the account."""
        res = self.result
        others = ZERO
        for sym, o in self.legs.items():
            p = o.st.position
            if o is not leg and p.size:
                others += (money.unrealized_pnl(o.inst, p.size, p.entry_price, self.mark[sym])
                           - money.position_margins(o.inst, p.size, p.entry_price)[1])
        st = leg.st
        before = st.balance = res.balance_usd + others
        st.bal_f = float(before)
        leg.fills.refresh_liq()
        n_fills, liq, funding = st.seq, leg.result.liquidations, leg.result.funding_usd
        action(*args)
        res.balance_usd += st.balance - before
        res.funding_usd += leg.result.funding_usd - funding
        res.liquidations += leg.result.liquidations - liq
        if st.seq != n_fills:
            res.fees_usd = self._closed_fees + sum((o.fees_open_usd() for o in self.legs.values()), ZERO)
            n, im = self._notional_margin()
            res.max_notional_usd = max(res.max_notional_usd, n)
            res.max_margin_usd = max(res.max_margin_usd, im)

    def _entry_size(self, sym: str, side: int, price: Decimal) -> Decimal:
        inst, r = self.legs[sym].inst, self.s.risk
        eq = self.equity()
        if eq <= 0:
            return ZERO
        notional = min(eq * Decimal(repr(r.fixed_fraction_pct)) / 100, Decimal(repr(r.max_position_notional_usd)))
        others = [(s, leg.inst, leg.st.position) for s, leg in self.legs.items() if leg.size and s != sym]
        held_n = sum((money.notional_usd(i, p.size, self.mark[s]) for s, i, p in others), ZERO)
        held_im = sum((money.position_margins(i, p.size, p.entry_price)[0] for s, i, p in others), ZERO)
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
        bars = [(self.legs[self.s.markets[k].instrument.symbol], row) for _ts, k, row in batch]
        for leg, _row in bars:  # funding of each hour that ended, at the last close (Fills.clock)
            if ts >= leg.st.next_hour:
                self._act(leg, leg.fund, ts)
        day = ts // DAY_MS
        if day != self._day:
            self._day, self._day_start, self._day_blocked = day, float(self.equity()), False
        for leg, row in bars:  # the opens first: every fill of this time sees the other symbols at their open
            self.mark[leg.symbol] = Decimal(repr(row[1]))
        for leg, row in bars:
            if leg.st.pending:  # exit, signal and guard closes decided at the previous close
                self._act(leg, leg.orders.open_fills, ts, row[1])
            sig = self.pending.pop(leg.symbol, None)
            if sig is not None:
                self._open(leg, sig, row[1], ts)
        for leg, row in bars:
            self._bar(leg, row)
        eq = float(self.equity())
        res.curve.append((ts + self.s.bar_ms, eq))
        op = self.s.operator
        start = float(res.starting_equity_usd)
        if not res.halted and op.equity_floor_pct > 0 and eq <= start * op.equity_floor_pct / 100:
            res.halted = True
            res.notes.append(f"equity floor: equity {eq:.2f} USD <= {op.equity_floor_pct:g} % of {start:.2f} USD at "
                             f"{ts + self.s.bar_ms}; positions closed, no entries after")
            self._close_all(ExitReason.EQUITY_FLOOR, ts + self.s.bar_ms)
        elif (not self._day_blocked and op.daily_loss_limit_pct > 0
              and eq <= self._day_start * (1 - op.daily_loss_limit_pct / 100)):
            self._day_blocked = True
            res.notes.append(f"daily loss limit: equity {eq:.2f} USD, day start {self._day_start:.2f} USD at "
                             f"{ts + self.s.bar_ms}; positions closed, no entries until the next UTC day")
            self._close_all(ExitReason.FLATTEN, ts + self.s.bar_ms)

    def _close_all(self, reason: ExitReason, close_ms: int) -> None:
        self.pending.clear()
        for leg in self.legs.values():
            if leg.size:
                leg.decisions.queue_close(reason, close_ms, leg.st.open_signal)

    def _bar(self, leg: _Leg, row: CandleRow) -> None:
        ts, o, h, lo, c, v = row
        sym, st = leg.symbol, leg.st
        if st.position.size:  # resting stops and take-profits, liquidation (Orders.intrabar)
            self._act(leg, leg.orders.intrabar, ts, o, h, lo, c)
        self.mark[sym] = Decimal(repr(c))
        st.last_close = c
        close_ms = ts + self.s.bar_ms
        if st.exits is not None and st.position.size:  # trailing stop, time exit at the close
            leg.decisions.on_mark(c, close_ms)
        candle = Candle(int(ts), o, h, lo, c, v)
        b = self.builders.get(sym)
        closed = [(cc.timeframe, cc.candle) for cc in b.add_candle(candle, self.s.timeframe)] if b else [
            (self.s.timeframe, candle)]
        for tf, cd in closed:
            sig = self.strategy.on_candle(sym, tf, cd, self.view)
            if sig is not None and tf == self.s.timeframe:
                self._signal(leg, sig, close_ms)

    def _signal(self, leg: _Leg, sig: Signal, close_ms: int) -> None:
        size = leg.size
        held = (size > 0) - (size < 0)
        if sig.side is SignalSide.FLAT:
            self.pending.pop(leg.symbol, None)
            if held:
                leg.decisions.queue_close(ExitReason.SIGNAL, close_ms, leg.st.open_signal)
            return
        want = sig.side.sign
        if held == want:
            self.pending.pop(leg.symbol, None)
            return
        if held:  # a reversal: close first, then the entry at the same open
            leg.decisions.queue_close(ExitReason.SIGNAL, close_ms, leg.st.open_signal)
        self.pending[leg.symbol] = sig

    def _open(self, leg: _Leg, sig: Signal, open_px: float, ts: int) -> None:
        if self.result.halted or self._day_blocked:
            return
        others = sum(1 for o in self.legs.values() if o.size and o is not leg)
        if others >= self.s.risk.max_open_positions:
            self.result.refused += 1
            return
        side = sig.side.sign
        qty = self._entry_size(leg.symbol, side, Decimal(repr(open_px)))
        if qty <= 0:
            self.result.refused += 1
            return
        self._act(leg, leg.enter, side, qty, open_px, ts, sig, self.strategy.name)
