"""Backtest output: statistics (the journal's definitions), the text report with an equity/drawdown chart,
the ``--json`` document and the ``--trades-csv`` writer.

Owns: ``summary_of`` (``journal.stats.summarize_rows_with_breakdowns`` over the run's trade rows and
starting equity: the same numbers ``kraken-tui journal summary --journal PATH`` prints for the run's
journal), ``json_report`` (cli-contract.md keys plus ``candles``, ``elapsed_s``, ``candles_per_s`` and a few
extras), ``text_report`` and ``equity_chart`` (plotext, a dependency; the drawdown is mark-to-market from
the peak of the plotted equity).
Must not import: textual, the engine's async parts, the journal writer.
"""

from __future__ import annotations

import itertools
import operator
import re
from datetime import UTC, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from kraken_tui.journal.stats import Summary, summarize_rows_with_breakdowns

from .runner import BacktestResult

__all__ = ["equity_chart", "json_report", "summary_of", "text_report"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


_exit_entry = itemgetter(0, 1)  # (exit ts, entry ts) of a statistics row
_exit = itemgetter(0)


def summary_of(res: BacktestResult) -> tuple[Summary, dict[str, dict[str, Summary]]]:
    """(overall, breakdowns) of the run's closed trades with the journal's definitions (journal.stats), rows
    sorted by (exit, entry) time; they are reported in exit order, so the sort is skipped when the exit times
    strictly increase (the sorted list would be the same list)."""
    rows = res.rows
    exits = list(map(_exit, rows))
    if not all(map(operator.lt, exits, itertools.islice(exits, 1, None))):
        rows = sorted(rows, key=_exit_entry)
    return summarize_rows_with_breakdowns(rows, res.starting_equity_usd)


def _speed(res: BacktestResult) -> float:
    return res.candles / res.elapsed_s if res.elapsed_s > 0 else 0.0


def json_report(res: BacktestResult, context: dict[str, Any]) -> dict[str, Any]:
    """The ``backtest --json`` document: every ``Summary.to_json`` key (cli-contract.md: trades, wins, losses,
    win_rate, net_pnl_usd, gross_pnl_usd, fees_usd, funding_usd, max_drawdown_usd, profit_factor, sharpe)
    plus ``candles``, ``elapsed_s``, ``candles_per_s`` and run details (``context``: symbol, strategy...)."""
    # (journal.export loads the journal's queries: imported here, not at start-up)
    from kraken_tui.journal.export import iso_ms

    overall, _ = summary_of(res)
    doc: dict[str, Any] = overall.to_json()
    doc.update(
        candles=res.candles,
        elapsed_s=round(res.elapsed_s, 6),
        candles_per_s=round(_speed(res), 1),
        first_candle=iso_ms(res.first_ms) if res.first_ms is not None else None,
        last_candle=iso_ms(res.last_ms) if res.last_ms is not None else None,
        starting_equity_usd=float(res.starting_equity_usd),
        final_equity_usd=round(res.final_equity_usd, 8),
        max_drawdown_mtm_usd=round(res.max_drawdown_mtm_usd, 8),
        funding_payments=res.funding_payments,
        funding_paid_total_usd=float(res.funding_usd),
        liquidations=res.liquidations,
        signals=res.signals,
        rejected_entries=res.rejected,
        open_position=None if res.open_position is None else {
            "side": res.open_position[0], "size": float(res.open_position[1]),
            "entry_price": float(res.open_position[2])},
        state=res.final_state,
        fingerprint=res.fingerprint,
        currency=res.currency,
        **({} if res.currency == "usd" else {
            "starting_balance_coin": float(res.starting_balance_coin or 0),
            "final_equity_coin": float(res.final_equity_coin or 0),
            "funding_coin": float(res.funding_coin or 0),
            "max_drawdown_mtm_coin": res.max_drawdown_mtm_coin,
            "usd_rate": float(res.usd_rate) if res.usd_rate is not None else None}),
        notes=res.notes,
    )
    doc.update(context)
    return doc


def _day(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def equity_chart(res: BacktestResult, width: int = 100, height: int = 24, color: bool = False) -> str:
    """Equity (USD, mark-to-market at bar closes) and its drawdown from the running peak (USD) as a
    two-panel terminal chart (plotext). Empty string with fewer than two points."""
    pts = res.curve
    if len(pts) < 2:
        return ""
    import plotext as plt

    t0 = pts[0][0]
    span_ms = pts[-1][0] - t0
    unit, unit_ms = ("days", 86_400_000) if span_ms >= 2 * 86_400_000 else ("hours", 3_600_000)
    xs = [(t - t0) / unit_ms for t, _ in pts]
    xlabel = f"{unit} since {_day(t0)} UTC"
    eq = [e for _, e in pts]
    dd, peak = [], eq[0]
    for e in eq:
        peak = max(peak, e)
        dd.append(e - peak)
    plt.clear_figure()
    plt.theme("clear" if not color else "pro")
    plt.plotsize(width, height)
    plt.subplots(2, 1)
    plt.subplot(1, 1)
    plt.plotsize(width, max(6, height * 2 // 3))
    plt.plot(xs, eq, marker="braille")
    plt.title(f"equity {res.currency.upper()} (mark-to-market at bar closes)")
    plt.subplot(2, 1)
    plt.plotsize(width, max(4, height - height * 2 // 3))
    plt.plot(xs, dd, marker="braille")
    plt.xlabel(xlabel)
    plt.title(f"drawdown from peak {res.currency.upper()}")
    out = plt.build()
    plt.clear_figure()
    return out if color else _ANSI.sub("", out)


def _money(d: Decimal | float | None) -> str:
    return "-" if d is None else f"{float(d):,.2f}"


def _ratio(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _account_lines(res: BacktestResult) -> list[str]:
    """The account line: USD for PF_; for PI_ the coin account and its USD value at the last close."""
    if res.currency == "usd":
        return [f"account   start {_money(res.starting_equity_usd)} USD, end {_money(res.final_equity_usd)} USD "
                f"(mark-to-market at the last close)"]
    coin = res.currency.upper()
    return [
        f"account   {coin} (inverse margin account): start {float(res.starting_balance_coin or 0):.8f} {coin}, end "
        f"{float(res.final_equity_coin or 0):.8f} {coin} (mark-to-market at the last close); funding "
        f"{float(res.funding_coin or 0):.8f} {coin}; max drawdown {res.max_drawdown_mtm_coin or 0.0:.8f} {coin} "
        "mark-to-market",
        f"in USD    at the last close {_money(res.usd_rate or 0)} USD/{coin}: start {_money(res.starting_equity_usd)} "
        f"USD, end {_money(res.final_equity_usd)} USD; trades below are in USD at their exit prices",
    ]


def text_report(res: BacktestResult, context: dict[str, Any], *, chart: bool = True, width: int = 100,
                color: bool = False) -> str:
    """The human report: run, costs, statistics, equity/drawdown chart, last trades, speed."""
    from kraken_tui.journal.export import trade_csv_row

    overall, groups = summary_of(res)
    s = overall
    lines = [
        f"kraken-tui backtest: {context['strategy']} on {context['symbol']}, {context['timeframe']} bars "
        f"(decisions on bar close, market fills at the next open)",
        f"data      {context['candles_file']} ({context['format']}): {res.candles:,} candles, "
        f"{_day(res.first_ms)} .. {_day(res.last_ms)} UTC",
        f"params    {context['params_text']}",
        f"costs     fees maker {context['maker_fee_bps']:g} / taker {context['taker_fee_bps']:g} bps, "
        f"slippage {context['slippage_bps']:g} bps on market and stop fills",
        f"funding   {context['funding']}: {res.funding_payments:,} hourly payments, "
        f"{_money(res.funding_usd)} USD (+ received, - paid)",
        *_account_lines(res),
        "",
        f"trades {s.trades:,}   wins {s.wins:,}   losses {s.losses:,}   win rate "
        f"{_ratio(None if s.win_rate is None else s.win_rate * 100, '{:.1f}%')}",
        f"net P&L {_money(s.net_pnl_usd)} USD = gross {_money(s.gross_pnl_usd)} - fees {_money(s.fees_usd)} "
        f"+ funding {_money(s.funding_usd)}",
        f"max drawdown {_money(s.max_drawdown_usd)} USD"
        f"{'' if s.max_drawdown_pct is None else f' ({s.max_drawdown_pct * 100:.1f}%)'} on closed trades; "
        f"{_money(res.max_drawdown_mtm_usd)} USD mark-to-market",
        f"profit factor {_ratio(s.profit_factor)}   sharpe {_ratio(s.sharpe)}   sortino {_ratio(s.sortino)}   "
        f"expectancy {_money(s.expectancy_usd)} USD/trade",
    ]
    sides = groups.get("side", {})
    if sides:
        lines.append("by side   " + "   ".join(
            f"{k} {g.trades:,} trades, net {_money(g.net_pnl_usd)}" for k, g in sides.items()))
    lines.append(f"signals   {res.signals:,} ({res.rejected:,} entries rejected by the risk gate); "
                 f"liquidation fills {res.liquidations}; state at end {res.final_state}"
                 + (f" ({res.state_reason})" if res.final_state != "RUNNING" else ""))
    if res.open_position is not None:
        side, size, entry = res.open_position
        lines.append(f"open      {side} {size} @ {entry} left open at the end (not in the statistics)")
    for note in res.notes:
        lines.append(f"note      {note}")
    if chart:
        ch = equity_chart(res, width=width, color=color)
        if ch:
            lines += ["", ch.rstrip("\n")]
    if res.last_trades:
        lines += ["", f"last {len(res.last_trades)} trades (all: --trades-csv PATH):",
                  "  entry_time               exit_time                side    size        entry      exit"
                  "        pnl_usd  reason"]
        for t in res.last_trades:
            r = trade_csv_row(t)
            lines.append(f"  {r[0]:24} {r[1]:24} {r[3]:5} {float(t.size):>9.4f} {float(t.entry_price):>10.2f} "
                         f"{float(t.exit_price):>10.2f} {float(t.net_pnl_usd):>12.2f}  {t.exit_reason}")
    lines += ["", f"fingerprint sha256 {res.fingerprint}",
              f"speed     {res.candles:,} candles in {res.elapsed_s:.3f} s ({_speed(res):,.0f} candles/s)"]
    return "\n".join(lines) + "\n"
