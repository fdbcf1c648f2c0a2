"""One trial of a study, evaluated: parameters -> backtests over a window of each candle file -> score.

Owns: ``Market`` (one candle file's bars and funding), ``Workload`` (what every trial shares: strategy, base
configs, costs, markets, objective and constraints; pickled once per worker process or put once in Ray's
object store), ``TrialTask`` (one trial's values, window and pruning thresholds), ``TrialOutcome`` and
``evaluate`` (a pure function of the workload and the task: the same outcome in any process, which is what
makes ``--jobs`` and Ray give the serial run's results).

A window ``[start_ms, end_ms)`` of a file is run by the backtest runner (``backtest.runner.Backtest``, one
account per file: several files are scored side by side), or, with ``Workload.portfolio``, all files as ONE
account by the portfolio backtest (``backtest.portfolio``: shared equity, margin and risk limits; its curve
and trades are the window's) over the window's bars preceded by up to ``warmup_bars`` earlier bars, on which
the strategy warms up (it cannot signal before ``warmup_bars`` bars, so no trade starts there; a trade that
would is not counted). The window is run in ``steps`` equal parts; after each part the net P&L so far (USD,
all files) is the trial's intermediate value. Pruning (optuna's ``MedianPruner`` rule, decided against a
snapshot taken before the batch so that it does not depend on which worker finishes first): a trial whose
intermediate value at step ``k`` (not the last) is below ``prune_below[k]`` (the median of the completed
trials at that step) stops there.
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Literal

from kraken_tui.backtest.columns import CandleRow
from kraken_tui.backtest.data import FundingSchedule
from kraken_tui.backtest.portfolio import PortfolioBacktest, PortfolioMarket, PortfolioSettings
from kraken_tui.backtest.runner import Backtest, BacktestSettings
from kraken_tui.config import ExitsConfig, OperatorConfig, RiskConfig
from kraken_tui.domain import Instrument
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.errors import ConfigError, DataFileError
from kraken_tui.journal.trades import Trade

from .objectives import WindowStats, constraint_values, metrics, objective_value, window_stats
from .space import apply

__all__ = ["Market", "TrialOutcome", "TrialTask", "Workload", "evaluate"]


@dataclass
class Market:
    """One candle file: the perpetual ``symbol`` and ``instrument``, the file ``label``, its bars ``rows``
    (``(open_ms, open, high, low, close, volume)``, USD, UTC ms), ``timeframe`` and ``bar_ms``, and its
    hourly ``funding``."""

    symbol: str
    instrument: Instrument
    label: str
    rows: list[CandleRow]
    timeframe: str
    bar_ms: int
    funding: FundingSchedule
    opens: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.opens:
            self.opens = [r[0] for r in self.rows]

    def span(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Row indices ``[lo, hi)`` of the bars opening in ``[start_ms, end_ms)``."""
        return bisect.bisect_left(self.opens, start_ms), bisect.bisect_left(self.opens, end_ms)


@dataclass
class Workload:
    """What every trial of a study shares. Fees and slippage in basis points, balances USD (PF_ accounts),
    ``objective`` a ``space.OBJECTIVES`` name, ``min_trades`` and ``max_drawdown_pct`` the constraints,
    ``steps`` the pruning checkpoints per window, ``portfolio`` one shared account for all files."""

    strategy: str
    base_params: dict[str, Any]
    risk: RiskConfig
    exits: ExitsConfig
    operator: OperatorConfig
    markets: list[Market]
    objective: str
    min_trades: int = 1
    max_drawdown_pct: float = 100.0
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 5.0
    slippage_bps: float = 1.0
    starting_balance_usd: float = 10_000.0
    liquidation_fee_pct: float = 0.25
    steps: int = 4
    portfolio: bool = False
    """Run the files as ONE account (``backtest.portfolio``) instead of one account per file."""


@dataclass
class TrialTask:
    """One trial to evaluate: its optuna ``number``, ``values`` (``group.name`` -> value), the window
    ``[start_ms, end_ms)`` and ``prune_below`` (per step, the intermediate value under which it stops; None =
    never pruned)."""

    number: int
    values: dict[str, Any]
    start_ms: int
    end_ms: int
    prune_below: list[float | None] | None = None


@dataclass
class TrialOutcome:
    """What a trial produced: ``state`` (``complete``, ``pruned`` or ``failed``), the objective ``value`` (None
    when undefined or not reached), optuna ``constraints`` (feasible when all <= 0), the window ``metrics``,
    the per-file ``windows`` (stitched later), ``intermediate`` values (net P&L so far, USD) and ``reason``
    (why it failed or was pruned)."""

    number: int
    state: Literal["complete", "pruned", "failed"]
    value: float | None = None
    constraints: list[float] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    windows: list[WindowStats] = field(default_factory=list)
    intermediate: list[float] = field(default_factory=list)
    reason: str | None = None

    @property
    def feasible(self) -> bool:
        """Completed, scored and within the constraints."""
        return self.state == "complete" and self.value is not None and all(c <= 0 for c in self.constraints)


def _settings(w: Workload, m: Market, params: dict[str, Any], risk: RiskConfig, exits: ExitsConfig,
              number: int) -> BacktestSettings:
    return BacktestSettings(
        instrument=m.instrument, strategy=w.strategy, strategy_params=params, timeframe=m.timeframe,
        bar_ms=m.bar_ms, funding=m.funding, maker_fee_bps=w.maker_fee_bps, taker_fee_bps=w.taker_fee_bps,
        slippage_bps=w.slippage_bps, starting_balance_usd=w.starting_balance_usd,
        liquidation_fee_pct=w.liquidation_fee_pct, risk=risk, exits=exits, operator=w.operator,
        run_id=f"trial{number:06d}")


def evaluate(w: Workload, task: TrialTask) -> TrialOutcome:
    """Run one trial (module docstring). Never raises for a bad parameter combination: the outcome is
    ``failed`` with the ``ConfigError`` text as its reason (e.g. ``fast`` not below ``slow``)."""
    try:
        params, risk, exits = apply(task.values, w.base_params, w.risk, w.exits)
        warm = build_strategy(w.strategy, params, timeframe=w.markets[0].timeframe).warmup_bars
    except ConfigError as exc:
        return TrialOutcome(task.number, "failed", reason=str(exc))
    if w.portfolio:
        return _evaluate_portfolio(w, task, params, risk, exits, warm)
    runs: list[tuple[Market, Backtest, list[Trade], list[list[CandleRow]]]] = []
    for m in w.markets:
        lo, hi = m.span(task.start_ms, task.end_ms)
        if hi <= lo:
            continue
        first = max(0, lo - warm)
        n = hi - lo
        cuts = [lo + n * k // w.steps for k in range(w.steps + 1)]
        cuts[0] = first
        parts = [m.rows[cuts[k]:cuts[k + 1]] for k in range(w.steps)]
        trades: list[Trade] = []
        try:
            bt = Backtest(_settings(w, m, params, risk, exits, task.number), on_trade=trades.append)
        except (ConfigError, DataFileError) as exc:
            return TrialOutcome(task.number, "failed", reason=str(exc))
        runs.append((m, bt, trades, parts))
    if not runs:
        return TrialOutcome(task.number, "failed", reason="no bars in the window")
    inter: list[float] = []
    for k in range(w.steps):
        pnl = 0.0
        for _m, bt, _t, parts in runs:
            bt.run(iter(parts[k]))
            res = bt.result
            pnl += (res.curve[-1][1] if res.curve else float(res.starting_equity_usd)) - float(res.starting_equity_usd)
        inter.append(pnl)
        lim = task.prune_below[k] if task.prune_below is not None and k < w.steps - 1 else None
        if lim is not None and pnl < lim:
            for _m, bt, _t, _p in runs:
                bt.finish()
            return TrialOutcome(task.number, "pruned", intermediate=inter,
                                reason=f"net P&L {pnl:.2f} USD below the median {lim:.2f} at step {k + 1}")
    wins = [window_stats(bt.finish(), t, m.symbol, task.start_ms, task.end_ms) for m, bt, t, _p in runs]
    mets = metrics(wins)
    value = objective_value(mets, w.objective)
    out = TrialOutcome(task.number, "complete", value, constraint_values(mets, w.min_trades, w.max_drawdown_pct),
                       mets, wins, inter)
    if value is None:
        out.state = "failed"
        out.reason = f"{w.objective} undefined (e.g. no trade, no losing trade or no variance)"
    return out


def _evaluate_portfolio(w: Workload, task: TrialTask, params: dict[str, Any], risk: RiskConfig,
                        exits: ExitsConfig, warm: int) -> TrialOutcome:
    """One trial as one shared account over every file (``backtest.portfolio``): the window's bars of each
    file after up to ``warm`` earlier bars, run in ``w.steps`` equal slices of time for the pruning checks."""
    markets = []
    for m in w.markets:
        lo, hi = m.span(task.start_ms, task.end_ms)
        if hi > lo:
            markets.append(PortfolioMarket(m.instrument, m.rows[max(0, lo - warm):hi], m.funding))
    if not markets:
        return TrialOutcome(task.number, "failed", reason="no bars in the window")
    tf = {m.timeframe for m in w.markets}
    if len(tf) != 1:
        return TrialOutcome(task.number, "failed", reason=f"a portfolio needs one timeframe (files have {sorted(tf)})")
    m0 = w.markets[0]
    try:
        bt = PortfolioBacktest(PortfolioSettings(
            markets=markets, strategy=w.strategy, strategy_params=params, timeframe=m0.timeframe, bar_ms=m0.bar_ms,
            maker_fee_bps=w.maker_fee_bps, taker_fee_bps=w.taker_fee_bps, slippage_bps=w.slippage_bps,
            starting_balance_usd=w.starting_balance_usd, risk=risk, operator=w.operator, exits=exits,
            liquidation_fee_pct=w.liquidation_fee_pct, run_id=f"trial{task.number:06d}"))
    except ConfigError as exc:
        return TrialOutcome(task.number, "failed", reason=str(exc))
    inter: list[float] = []
    span = task.end_ms - task.start_ms
    for k in range(w.steps):
        cut = task.end_ms if k == w.steps - 1 else task.start_ms + span * (k + 1) // w.steps
        res = bt.run_until(cut)
        pnl = res.final_equity_usd - float(res.starting_equity_usd)
        inter.append(pnl)
        lim = task.prune_below[k] if task.prune_below is not None and k < w.steps - 1 else None
        if lim is not None and pnl < lim:
            return TrialOutcome(task.number, "pruned", intermediate=inter,
                                reason=f"net P&L {pnl:.2f} USD below the median {lim:.2f} at step {k + 1}")
    res = bt.result
    win = window_stats(res, res.trades, "portfolio", task.start_ms, task.end_ms)
    mets = metrics([win])
    value = objective_value(mets, w.objective)
    out = TrialOutcome(task.number, "complete", value, constraint_values(mets, w.min_trades, w.max_drawdown_pct),
                       mets, [win], inter)
    if value is None:
        out.state = "failed"
        out.reason = f"{w.objective} undefined (e.g. no trade, no losing trade or no variance)"
    return out
