"""What a trial is scored on: the statistics of backtest windows and the objectives and constraints of a study.

Owns: ``WindowStats`` (one backtest window reduced to what scoring needs; picklable, sent back by workers),
``window_stats`` (a ``BacktestResult`` + its trades -> ``WindowStats``), ``metrics`` (several windows
stitched -> the metrics dict), ``objective_value`` and ``constraint_values``.

Definitions (money USD, after fees, slippage and funding; times UTC ms):
- Returns ``r_t = E_t / E_{t-1} - 1`` between consecutive points of the backtest's mark-to-market equity curve
  inside the window (``BacktestResult.curve``: every bar up to 2,048 bars, evenly thinned beyond), so they
  exist on any data length (the journal's daily Sharpe needs two days). Several windows (walk-forward folds,
  or several candle files) are stitched by concatenating their returns in order.
- ``periods_per_year`` = 365 days / the mean spacing of the curve points (time-weighted over the windows).
- ``sharpe`` = mean(r) / stdev(r) x sqrt(periods_per_year) (sample stdev; risk-free rate 0);
  ``sharpe_per_period`` the same without the annualisation (what the deflated Sharpe ratio reads).
- ``sortino`` = mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(periods_per_year) (journal.stats' downside rule).
- ``max_drawdown_pct`` = the largest fall from a peak of the compounded stitched returns, percent.
- ``calmar`` = mean(r) x periods_per_year / (max_drawdown_pct / 100) (simple annualised return over the
  drawdown; Young 1991's ratio on the tested span rather than 36 months).
- ``net_pnl_usd`` = sum over windows of final minus starting equity (an open position marked at the last
  close); ``trades``, ``wins``, ``profit_factor`` (sum of winning nets / |sum of losing nets|), ``fees_usd`` and
  ``gross_pnl_usd`` over the trades entered inside the window.
- Undefined ratios (no variance, no losing trade, no drawdown) are None: such a trial cannot be ranked on that
  objective and is recorded as failed with the reason.
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from kraken_tui.domain.timeunits import DAY_MS
from kraken_tui.journal.trades import Trade

__all__ = ["OBJECTIVE_KEYS", "WindowStats", "constraint_values", "metrics", "objective_value", "window_stats"]

#: objective name -> the metrics key it maximises.
OBJECTIVE_KEYS = {"net_pnl": "net_pnl_usd", "sharpe": "sharpe", "sortino": "sortino", "calmar": "calmar",
                  "profit_factor": "profit_factor"}
_YEAR_MS = 365 * DAY_MS


@dataclass
class WindowStats:
    """One backtest window (one candle file, one train or test window): ``symbol``, ``start_ms``/``end_ms``
    (bar opens, UTC ms), ``start_equity_usd``/``final_equity_usd``, curve ``returns`` and their mean spacing
    ``step_ms``, and the trades entered inside the window: count, wins, losses, ``win_sum_usd``,
    ``loss_sum_usd`` (<= 0), ``fees_usd``, ``gross_pnl_usd``."""

    symbol: str
    start_ms: int
    end_ms: int
    start_equity_usd: float
    final_equity_usd: float
    returns: list[float] = field(default_factory=list)
    step_ms: float = 0.0
    trades: int = 0
    wins: int = 0
    losses: int = 0
    win_sum_usd: float = 0.0
    loss_sum_usd: float = 0.0
    fees_usd: float = 0.0
    gross_pnl_usd: float = 0.0


class EquityRun(Protocol):
    """What ``window_stats`` reads of a finished run: ``curve`` ((time ms, equity USD) points, oldest first) and
    ``starting_equity_usd`` (``backtest.runner.BacktestResult``, ``backtest.portfolio.PortfolioResult``)."""

    @property
    def curve(self) -> Sequence[tuple[int, float]]:
        """Equity curve points."""
        ...

    @property
    def starting_equity_usd(self) -> Decimal:
        """Equity at the start, USD."""
        ...


def window_stats(res: EquityRun, trades: Iterable[Trade], symbol: str, start_ms: int, end_ms: int
                 ) -> WindowStats:
    """Reduce a finished backtest to the window ``[start_ms, end_ms)`` (bars before it only warmed the
    strategy up): its equity curve from the last point at or before ``start_ms`` and the trades entered at or
    after ``start_ms``. Equity in USD (``BacktestResult.curve``; PF_ accounts)."""
    curve: list[tuple[int, float]] = []
    for p in res.curve:  # ``finish`` appends the last close again: one point per time, the latest value
        if curve and curve[-1][0] == p[0]:
            curve[-1] = p
        else:
            curve.append(p)
    pts = [p for p in curve if p[0] > start_ms]
    before = [p for p in curve if p[0] <= start_ms]
    start_eq = before[-1][1] if before else float(res.starting_equity_usd)
    eqs = [start_eq] + [p[1] for p in pts]
    rets = [b / a - 1.0 for a, b in zip(eqs, eqs[1:], strict=False) if a > 0]
    span = (pts[-1][0] - (before[-1][0] if before else start_ms)) if pts else 0
    ws = WindowStats(symbol, start_ms, end_ms, start_eq, eqs[-1], rets, span / len(rets) if rets else 0.0)
    for t in trades:
        if t.entry_ts_ms < start_ms:
            continue
        net = float(t.net_pnl_usd)
        ws.trades += 1
        if net > 0:
            ws.wins += 1
            ws.win_sum_usd += net
        elif net < 0:
            ws.losses += 1
            ws.loss_sum_usd += net
        ws.fees_usd += float(t.fees_usd)
        ws.gross_pnl_usd += float(t.gross_pnl_usd)
    return ws


def _moments(r: Sequence[float]) -> tuple[float, float]:
    """(skewness, kurtosis) of ``r`` (population moments; kurtosis not in excess: 3 for a normal)."""
    n = len(r)
    m = sum(r) / n
    m2 = sum((x - m) ** 2 for x in r) / n
    if m2 <= 0:
        return 0.0, 3.0
    m3 = sum((x - m) ** 3 for x in r) / n
    m4 = sum((x - m) ** 4 for x in r) / n
    return m3 / m2 ** 1.5, m4 / m2 ** 2


def metrics(windows: Sequence[WindowStats]) -> dict[str, Any]:
    """The stitched metrics of ``windows`` (module docstring): ``net_pnl_usd``, ``return_pct``, ``trades``,
    ``wins``, ``win_rate``, ``profit_factor``, ``fees_usd``, ``gross_pnl_usd``, ``max_drawdown_pct``,
    ``sharpe``, ``sortino``, ``calmar``, ``sharpe_per_period``, ``skew``, ``kurtosis``, ``periods``,
    ``periods_per_year``, ``days``, ``pnl_per_day_usd``. Ratios None when undefined."""
    rets = [x for w in windows for x in w.returns]
    span = sum(w.step_ms * len(w.returns) for w in windows)
    ppy = _YEAR_MS / (span / len(rets)) if rets and span > 0 else None
    net = math.fsum(w.final_equity_usd - w.start_equity_usd for w in windows)
    start = math.fsum(w.start_equity_usd for w in windows)
    trades = sum(w.trades for w in windows)
    wins = sum(w.wins for w in windows)
    win_sum = math.fsum(w.win_sum_usd for w in windows)
    loss_sum = math.fsum(w.loss_sum_usd for w in windows)
    sharpe = sortino = calmar = sr = None
    skew, kurt = 0.0, 3.0
    peak, eq, dd = 1.0, 1.0, 0.0
    for x in rets:
        eq *= 1.0 + x
        peak = max(peak, eq)
        dd = max(dd, (peak - eq) / peak)
    if len(rets) >= 2 and ppy is not None:
        mean = statistics.fmean(rets)
        sd = statistics.stdev(rets)
        if sd > 0:
            sr = mean / sd
            sharpe = sr * math.sqrt(ppy)
            skew, kurt = _moments(rets)
        down = math.sqrt(sum(min(x, 0.0) ** 2 for x in rets) / len(rets))
        if down > 0:
            sortino = mean / down * math.sqrt(ppy)
        if dd > 0:
            calmar = mean * ppy / dd
    days = span / DAY_MS
    return {
        "net_pnl_usd": round(net, 8), "return_pct": round(net / start * 100.0, 6) if start > 0 else None,
        "trades": trades, "wins": wins, "win_rate": wins / trades if trades else None,
        "profit_factor": win_sum / -loss_sum if loss_sum < 0 else None,
        "fees_usd": round(math.fsum(w.fees_usd for w in windows), 8),
        "gross_pnl_usd": round(math.fsum(w.gross_pnl_usd for w in windows), 8),
        "max_drawdown_pct": dd * 100.0, "sharpe": sharpe, "sortino": sortino, "calmar": calmar,
        "sharpe_per_period": sr, "skew": skew, "kurtosis": kurt, "periods": len(rets), "periods_per_year": ppy,
        "days": days, "pnl_per_day_usd": net / days if days > 0 else None,
    }


def objective_value(m: dict[str, Any], objective: str) -> float | None:
    """The value a study maximises for ``objective`` (``OBJECTIVE_KEYS``), None when undefined."""
    v = m.get(OBJECTIVE_KEYS[objective])
    return float(v) if v is not None and math.isfinite(v) else None


def constraint_values(m: dict[str, Any], min_trades: int, max_drawdown_pct: float) -> list[float]:
    """optuna's constraint convention (feasible when every value <= 0): ``[min_trades - trades,
    max_drawdown_pct (metric) - max_drawdown_pct (limit)]``."""
    return [float(min_trades - m["trades"]), float(m["max_drawdown_pct"] - max_drawdown_pct)]
