"""``kraken-tui backtest --candles A@SYM --candles B@SYM --portfolio``: several candle files (one per PF_ symbol, one
timeframe) run as ONE account by ``backtest.portfolio.PortfolioBacktest`` (docs/cli-contract.md).

Owns: ``run_portfolio`` (flags -> ``PortfolioSettings``, run, report) and ``portfolio_json``.
Flags and defaults as the single-symbol ``backtest`` (``backtest.cli``): ``--strategy``/``--param``, ``--fees``
(default ``[paper]``), ``--slippage-bps`` (default 1), ``--funding PATH`` / ``--funding-rate R`` (default the
constant ``DEFAULT_FUNDING_RATE``), ``--from``/``--to``, ``--trades-csv``, ``--json``; config ``[risk]``,
``[exits]``, ``[operator]``, ``[paper]`` starting balance and liquidation fee. A file names its symbol with
``PATH@SYMBOL`` (else ``--symbol``, else the first ``[strategy] symbols``).
Not with ``--portfolio``: ``--journal``, ``--index``, ``--lookahead-check`` (exit 2, naming the flag).
``--json`` keys: ``portfolio`` (true), ``files`` (``label@SYMBOL``), ``strategy``, ``params``, ``timeframe``,
``maker_fee_bps``, ``taker_fee_bps``, ``slippage_bps``, the ``journal summary`` statistics of all trades
(``trades``, ``wins``, ``losses``, ``win_rate``, ``net_pnl_usd``, ``gross_pnl_usd``, ``fees_usd``,
``funding_usd``, ``max_drawdown_usd``, ``profit_factor``, ``sharpe`` ...), ``per_symbol`` (the same per
symbol), ``starting_equity_usd``, ``final_equity_usd``, ``balance_usd``, ``fees_total_usd`` and
``funding_total_usd`` (open positions included), ``max_notional_usd``, ``max_margin_usd``, ``refused_entries``,
``liquidations``, ``halted``, ``open_positions`` ({symbol: contracts}), ``notes``.
Exit codes: 0 done; 2 bad flag, config or data file (``ConfigError``/``DataFileError``).
Must not import: textual.
"""

from __future__ import annotations

import argparse
import csv
from decimal import Decimal
from typing import Any, TextIO

from kraken_tui.backtest.flags import DEFAULT_SLIPPAGE_BPS, fees_of, parse_param
from kraken_tui.backtest.portfolio import (
    PortfolioBacktest,
    PortfolioMarket,
    PortfolioResult,
    PortfolioSettings,
)
from kraken_tui.config import Config
from kraken_tui.errors import ConfigError
from kraken_tui.journal.stats import summarize

from .cli import read_markets

__all__ = ["portfolio_json", "run_portfolio"]


def run_portfolio(args: argparse.Namespace, cfg: Config, out: TextIO) -> int:
    """Run ``backtest --portfolio`` (module docstring); returns the exit code (0).

    Raises:
        ConfigError: a flag not allowed with ``--portfolio``, files of several timeframes, a repeated or inverse
            symbol, a bad strategy or parameter (exit 2). DataFileError: a malformed candle or funding file.
    """
    for flag, value in (("--journal", args.journal), ("--index", getattr(args, "index", None)),
                        ("--lookahead-check", getattr(args, "lookahead_check", False) or None)):
        if value is not None:
            raise ConfigError(flag, str(value), "no " + flag + " with --portfolio (single-symbol backtests only)")
    strategy = args.strategy or cfg.strategy.name
    params: dict[str, Any] = dict(cfg.strategy.params) if strategy == cfg.strategy.name else {}
    for item in args.param:
        k, v = parse_param(item)
        params[k] = v
    maker, taker = fees_of(args.fees, cfg)
    slip = DEFAULT_SLIPPAGE_BPS if args.slippage_bps is None else args.slippage_bps
    if not 0 <= slip <= 1000:
        raise ConfigError("--slippage-bps", slip, "basis points in 0..1000")
    markets, _ = read_markets(args, cfg)
    tfs = {m.timeframe for m in markets}
    if len(tfs) != 1:
        raise ConfigError("--portfolio", ",".join(f"{m.label}:{m.timeframe}" for m in markets),
                          "candle files of one timeframe")
    m0 = markets[0]
    settings = PortfolioSettings(
        markets=[PortfolioMarket(m.instrument, m.rows, m.funding) for m in markets], strategy=strategy,
        strategy_params=params, timeframe=m0.timeframe, bar_ms=m0.bar_ms, maker_fee_bps=maker, taker_fee_bps=taker,
        slippage_bps=slip, starting_balance_usd=cfg.paper.starting_balance_usd, risk=cfg.risk,
        operator=cfg.operator, exits=cfg.exits, liquidation_fee_pct=cfg.paper.liquidation_fee_pct)
    bt = PortfolioBacktest(settings)
    res = bt.run_until(None)
    if args.trades_csv is not None:
        from kraken_tui.journal.export import TRADES_CSV_HEADER, trade_csv_row

        try:
            with open(args.trades_csv, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(TRADES_CSV_HEADER)
                for t in res.trades:
                    w.writerow(trade_csv_row(t))
        except OSError as exc:
            raise ConfigError("--trades-csv", str(args.trades_csv), f"a writable file path ({exc.strerror})") from None
    context: dict[str, Any] = {
        "portfolio": True, "files": [f"{m.label}@{m.symbol}" for m in markets], "strategy": strategy,
        "params": dict(bt.strategy.p), "timeframe": m0.timeframe, "maker_fee_bps": maker, "taker_fee_bps": taker,
        "slippage_bps": slip, "funding": [m.funding.describe for m in markets]}
    open_positions = {sym: float(p.size) for sym, p in bt.pos.items() if p.size}
    doc = portfolio_json(res, context, open_positions)
    try:
        if args.json:
            import json

            out.write(json.dumps(doc, default=str) + "\n")
        else:
            out.write(_text(doc))
    except BrokenPipeError:
        return 0
    return 0


def portfolio_json(res: PortfolioResult, context: dict[str, Any], open_positions: dict[str, float]) -> dict[str, Any]:
    """The ``backtest --portfolio --json`` document (module docstring for the keys)."""
    start = res.starting_equity_usd
    doc: dict[str, Any] = dict(context)
    doc.update(summarize(res.trades, start).to_json())
    per: dict[str, list[Any]] = {}
    for t in res.trades:
        per.setdefault(t.symbol, []).append(t)
    doc["per_symbol"] = {sym: summarize(ts, start).to_json() for sym, ts in sorted(per.items())}
    doc.update(
        starting_equity_usd=float(start), final_equity_usd=round(res.final_equity_usd, 8),
        balance_usd=float(res.balance_usd), fees_total_usd=float(res.fees_usd),
        funding_total_usd=float(res.funding_usd), max_notional_usd=float(res.max_notional_usd),
        max_margin_usd=float(res.max_margin_usd), refused_entries=res.refused, liquidations=res.liquidations,
        halted=res.halted, open_positions=open_positions, notes=list(res.notes))
    return doc


def _text(doc: dict[str, Any]) -> str:
    def usd(x: float | Decimal | None) -> str:
        return "-" if x is None else f"{float(x):,.2f}"

    lines = [f"portfolio backtest  {doc['strategy']} on {', '.join(doc['files'])} ({doc['timeframe']}), one account",
             f"equity     {usd(doc['starting_equity_usd'])} -> {usd(doc['final_equity_usd'])} USD "
             f"(balance {usd(doc['balance_usd'])})",
             f"trades     {doc['trades']}  net {usd(doc['net_pnl_usd'])}  gross {usd(doc['gross_pnl_usd'])}  fees "
             f"{usd(doc['fees_usd'])}  funding {usd(doc['funding_usd'])} USD",
             f"limits     max notional {usd(doc['max_notional_usd'])} USD, max initial margin "
             f"{usd(doc['max_margin_usd'])} USD, {doc['refused_entries']} entries refused, "
             f"{doc['liquidations']} liquidations" + (", HALTED (equity floor)" if doc["halted"] else "")]
    for sym, s in doc["per_symbol"].items():
        lines.append(f"  {sym:<10} {s['trades']:>5} trades  net {usd(s['net_pnl_usd'])} USD")
    if doc["open_positions"]:
        lines.append("open       " + ", ".join(f"{k} {v:g}" for k, v in doc["open_positions"].items()))
    lines += [f"note       {n}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"
