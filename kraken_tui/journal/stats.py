"""Trading statistics over closed round-trip trades, each defined here with its formula.

Owns: ``Summary`` (the numbers behind ``kraken-tui journal summary`` and ``backtest --json``),
``summarize`` and ``breakdowns`` (long vs short, per symbol, per strategy).

Definitions (``net_k`` is trade k's ``net_pnl_usd``; trades ordered by exit time; N = trade count):
- wins: trades with net > 0; losses: net < 0 (a net of exactly 0 is neither, but counts in N).
- win_rate = wins / N.
- gross_pnl_usd, fees_usd, funding_usd, net_pnl_usd: sums over trades; net = gross - fees + funding.
  funding_usd is signed (+ received); funding_paid_usd and funding_received_usd are both >= 0 and
  funding_usd = received - paid.
- avg_win_usd = sum(net of wins) / wins; avg_loss_usd = sum(net of losses) / losses (<= 0).
- expectancy_usd = net_pnl_usd / N (= win_rate x avg_win + loss_rate x avg_loss).
- profit_factor = sum(net of wins) / |sum(net of losses)|; None when there is no loss.
- Equity curve: E_0 = starting equity (0 when unknown), E_k = E_0 + net_1 + ... + net_k (closed
  trades only; unrealised P&L is not in it). max_drawdown_usd = max_k(max_{j<=k} E_j - E_k) >= 0;
  max_drawdown_pct = max_k((max_{j<=k} E_j - E_k) / max_{j<=k} E_j), a fraction, only with a known
  positive starting equity (else None).
- Daily returns: for each UTC calendar day d from the day of the first entry to the day of the last
  exit (days without exits count, with return 0), pnl_d = sum of net of trades exiting on d and
  r_d = pnl_d / (E_0 + sum of pnl before d). Needs a known starting equity.
- sharpe = mean(r) / stdev(r) x sqrt(365) (sample stdev, n - 1; crypto trades every day, hence 365);
  None with fewer than 2 days or zero stdev. Risk-free rate 0.
- sortino = mean(r) / sqrt(sum(min(r_d, 0)^2) / n) x sqrt(365); None with fewer than 2 days or no
  negative day.
Undefined ratios are None (JSON null), never 0 or infinity.
Must not import: sqlite3, aiosqlite, textual, the engine.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from kraken_tui.domain import ZERO
from kraken_tui.journal.trades import Trade

__all__ = ["DAY_MS", "Summary", "breakdowns", "daily_returns", "summarize"]

DAY_MS = 86_400_000
_ANNUAL = math.sqrt(365)


@dataclass(frozen=True, slots=True)
class Summary:
    """Statistics of a set of closed trades; money in USD (Decimal), ratios as floats or None."""

    trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_pnl_usd: Decimal
    fees_usd: Decimal
    funding_usd: Decimal
    funding_paid_usd: Decimal
    funding_received_usd: Decimal
    net_pnl_usd: Decimal
    avg_win_usd: Decimal | None
    avg_loss_usd: Decimal | None
    expectancy_usd: Decimal | None
    profit_factor: float | None
    max_drawdown_usd: Decimal
    max_drawdown_pct: float | None
    sharpe: float | None
    sortino: float | None

    def to_json(self) -> dict[str, object]:
        """The ``journal summary --json`` / ``backtest --json`` keys (cli-contract.md) plus extras.

        Money becomes JSON numbers (float); undefined ratios become null.
        """
        out: dict[str, object] = {}
        for name in self.__slots__:
            v = getattr(self, name)
            out[name] = float(v) if isinstance(v, Decimal) else v
        return out


def daily_returns(trades: Iterable[Trade], starting_equity_usd: Decimal) -> list[float]:
    """Daily returns r_d as defined in the module docstring (one per UTC day, oldest first)."""
    ts = sorted(trades, key=lambda t: t.exit_ts_ms)
    if not ts:
        return []
    first_day = min(t.entry_ts_ms for t in ts) // DAY_MS
    last_day = ts[-1].exit_ts_ms // DAY_MS
    pnl_by_day: dict[int, Decimal] = {}
    for t in ts:
        d = t.exit_ts_ms // DAY_MS
        pnl_by_day[d] = pnl_by_day.get(d, ZERO) + t.net_pnl_usd
    equity = starting_equity_usd
    out: list[float] = []
    for d in range(first_day, last_day + 1):
        pnl = pnl_by_day.get(d, ZERO)
        out.append(float(pnl / equity) if equity > 0 else math.nan)
        equity += pnl
    return out


def _drawdown(nets: list[Decimal], start: Decimal | None) -> tuple[Decimal, float | None]:
    equity = start if start is not None else ZERO
    peak = equity
    dd_usd = ZERO
    dd_pct: float | None = 0.0 if start is not None and start > 0 else None
    for n in nets:
        equity += n
        if equity > peak:
            peak = equity
        dd = peak - equity
        if dd > dd_usd:
            dd_usd = dd
        if dd_pct is not None and peak > 0 and float(dd / peak) > dd_pct:
            dd_pct = float(dd / peak)
    return dd_usd, dd_pct


def _ratios(returns: list[float]) -> tuple[float | None, float | None]:
    if len(returns) < 2 or any(math.isnan(r) for r in returns):
        return None, None
    mean = statistics.fmean(returns)
    sd = statistics.stdev(returns)
    sharpe = mean / sd * _ANNUAL if sd > 0 else None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    sortino = mean / downside * _ANNUAL if downside > 0 else None
    return sharpe, sortino


def summarize(trades: Iterable[Trade], starting_equity_usd: Decimal | None = None) -> Summary:
    """Compute every statistic of the module docstring over ``trades``.

    Args:
        trades: closed trades (any order).
        starting_equity_usd: E_0, USD; None when unknown (then drawdown % , Sharpe and Sortino are None).
    """
    ts = sorted(trades, key=lambda t: (t.exit_ts_ms, t.entry_ts_ms))
    nets = [t.net_pnl_usd for t in ts]
    win_sum = sum((n for n in nets if n > 0), ZERO)
    loss_sum = sum((n for n in nets if n < 0), ZERO)
    wins = sum(1 for n in nets if n > 0)
    losses = sum(1 for n in nets if n < 0)
    n = len(ts)
    net = sum(nets, ZERO)
    dd_usd, dd_pct = _drawdown(nets, starting_equity_usd)
    if starting_equity_usd is not None and starting_equity_usd > 0:
        sharpe, sortino = _ratios(daily_returns(ts, starting_equity_usd))
    else:
        sharpe, sortino = None, None
    return Summary(
        trades=n,
        wins=wins,
        losses=losses,
        win_rate=wins / n if n else None,
        gross_pnl_usd=sum((t.gross_pnl_usd for t in ts), ZERO),
        fees_usd=sum((t.fees_usd for t in ts), ZERO),
        funding_usd=sum((t.funding_usd for t in ts), ZERO),
        funding_paid_usd=sum((t.funding_paid_usd for t in ts), ZERO),
        funding_received_usd=sum((t.funding_received_usd for t in ts), ZERO),
        net_pnl_usd=net,
        avg_win_usd=win_sum / wins if wins else None,
        avg_loss_usd=loss_sum / losses if losses else None,
        expectancy_usd=net / n if n else None,
        profit_factor=float(win_sum / -loss_sum) if losses else None,
        max_drawdown_usd=dd_usd,
        max_drawdown_pct=dd_pct,
        sharpe=sharpe,
        sortino=sortino,
    )


def _group(trades: list[Trade], key: Callable[[Trade], str], start: Decimal | None) -> dict[str, Summary]:
    groups: dict[str, list[Trade]] = {}
    for t in trades:
        groups.setdefault(key(t), []).append(t)
    return {k: summarize(v, start) for k, v in sorted(groups.items())}


def breakdowns(trades: Iterable[Trade], starting_equity_usd: Decimal | None = None) -> dict[str, dict[str, Summary]]:
    """``{"side": {"long": ..., "short": ...}, "symbol": {...}, "strategy": {...}}`` of ``summarize``
    over each group (trades with no known strategy group under ``"unknown"``). Each group's drawdown
    and ratios use the same starting equity, as if the group had been traded alone."""
    ts = list(trades)
    return {
        "side": _group(ts, lambda t: t.side.value, starting_equity_usd),
        "symbol": _group(ts, lambda t: t.symbol, starting_equity_usd),
        "strategy": _group(ts, lambda t: t.strategy or "unknown", starting_equity_usd),
    }
