"""The evidence behind the default strategy: walk-forward studies of every built-in strategy over the shared candle
files, next to each strategy's default parameters on the same out-of-sample span (docs/research.md).

Owns: ``Case`` (one strategy on one file), ``run_case`` (one ``kraken-tui optimize --json`` study plus one
``kraken-tui backtest --json`` of the default parameters over the study's stitched out-of-sample span, from the
first test window's start to the file's end), ``table`` (the markdown table of docs/research.md) and ``main``.
Each case's result is one JSON file in ``--out`` (``<strategy>__<file>.json``); a case whose file exists is not
run again, so an interrupted run resumes.

Reproduce (one command, ~20 min of CPU with the defaults below; OMP_NUM_THREADS=1 recommended):

    python -m kraken_tui.research.evidence --data DIR --out research-out [--trials 10] [--folds 3] [--jobs 2]

``--jobs`` runs that many cases at once (each study itself runs with ``--jobs 1``, so results do not depend on
it). Churn figures per run: trades per day, fees against gross P&L (USD), and the share of trades closed by an
opposite signal within an hour of their entry (trades whose ``exit_reason`` is ``signal`` or ``reverse``).
Must not import: textual, optuna at module level.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FILES", "STRATEGIES", "Case", "main", "run_case", "symbol_of", "table"]

#: The shared candle files studied (file name -> perpetual whose contract specification they are run with).
FILES: dict[str, str] = {
    "kraken_spot_xbtusd_5m_2023Q1.ohlcvt.csv": "PF_XBTUSD",
    "kraken_spot_ethusd_5m_2024H2.ohlcvt.csv": "PF_ETHUSD",
    "kraken_spot_xbtusd_1h_2013-10_2023-01.ohlcvt.csv": "PF_XBTUSD",
}
#: The built-in strategies that need no outside input (ml needs a model, external a signal feed).
STRATEGIES = ("ensemble", "sma_cross", "ema_cross", "mean_reversion", "smc", "breakout", "patterns")


@dataclass(frozen=True)
class Case:
    """One study: ``strategy`` on ``path`` (a candle file) traded as ``symbol``."""

    strategy: str
    path: Path
    symbol: str

    @property
    def key(self) -> str:
        """File name of the case's result: ``<strategy>__<candle file stem>.json``."""
        return f"{self.strategy}__{self.path.name.split('.')[0]}.json"


def _cli(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "kraken_tui", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"kraken-tui {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    text = proc.stdout
    return dict(json.loads(text[text.index("{"):text.rindex("}") + 1]))


def default_run(case: Case, from_iso: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The strategy with its default parameters and config.toml's risk, exits and costs (as ``kraken-tui
    backtest`` with no flag but the file, symbol and ``--from``; ``params``: strategy parameters instead of
    the defaults) from ``from_iso`` to the file's end; returns
    trades, trades per day, gross, fees, funding and net P&L (USD), the deepest drawdown (fraction), the final
    operator state and ``opposite_within_1h``: the share of trades closed by a signal (``exit_reason``
    ``signal`` or ``reverse``) within an hour of their entry."""
    from kraken_tui.backtest.data import FundingSchedule, open_candles, parse_time_flag
    from kraken_tui.backtest.flags import DEFAULT_FUNDING_RATE, DEFAULT_SLIPPAGE_BPS
    from kraken_tui.backtest.runner import Backtest, BacktestSettings
    from kraken_tui.config import load_config
    from kraken_tui.journal.trades import Trade
    from kraken_tui.paper.instruments import default_instrument

    cfg = load_config(None)
    stream = open_candles(case.path, symbol=case.symbol, from_ms=parse_time_flag("--from", from_iso))
    trades: list[Trade] = []
    s = BacktestSettings(
        instrument=default_instrument(case.symbol), strategy=case.strategy, strategy_params=dict(params or {}),
        timeframe=stream.timeframe, bar_ms=stream.bar_ms,
        funding=FundingSchedule.constant_rate(DEFAULT_FUNDING_RATE, "default"),
        maker_fee_bps=cfg.paper.maker_fee_bps, taker_fee_bps=cfg.paper.taker_fee_bps,
        slippage_bps=DEFAULT_SLIPPAGE_BPS, starting_balance_usd=cfg.paper.starting_balance_usd,
        liquidation_fee_pct=cfg.paper.liquidation_fee_pct, risk=cfg.risk, exits=cfg.exits, operator=cfg.operator,
        run_id="evidence")
    bt = Backtest(s, on_trade=trades.append)
    bt.run(stream.rows)
    res = bt.finish()
    days = (res.last_ms - res.first_ms) / 86_400_000 if res.first_ms is not None and res.last_ms is not None else None
    gross = sum(float(t.gross_pnl_usd) for t in trades)
    fees = sum(float(t.fees_usd) for t in trades)
    funding = sum(float(t.funding_usd) for t in trades)
    quick = sum(1 for t in trades if t.exit_reason in ("signal", "reverse") and t.exit_ts_ms - t.entry_ts_ms <= 3_600_000)
    final = res.curve[-1][1] if res.curve else float(res.starting_equity_usd)
    return {"trades": len(trades), "trades_per_day": len(trades) / days if days else None,
            "gross_pnl_usd": gross, "fees_usd": fees, "funding_usd": funding,
            "net_pnl_usd": final - float(res.starting_equity_usd),
            "max_drawdown_pct": res.max_drawdown_mtm_usd / float(res.starting_equity_usd) * 100,
            "final_state": res.final_state,
            "opposite_within_1h": quick / len(trades) if trades else None}


def symbol_of(name: str) -> str:
    """The perpetual a candle file is run as: ``FILES``' entry, else PF_ETHUSD for a name with ``eth``, else
    PF_XBTUSD (e.g. the resampled files of ``research.resample``)."""
    return FILES.get(name) or ("PF_ETHUSD" if "eth" in name.lower() else "PF_XBTUSD")


def run_case(case: Case, out: Path, trials: int, folds: int, storage: Path,
             space: Path | None = None) -> dict[str, Any]:
    """Run one case (module docstring) and write ``out / case.key``; returns the document written. ``space``:
    the study's search space file (``optimize --space``; default: the strategy's default space).

    Raises:
        RuntimeError: a ``kraken-tui`` run exited non-zero (its stderr's tail in the message).
    """
    study = case.key.removesuffix(".json")
    opt = _cli(["optimize", "--strategy", case.strategy, "--candles", f"{case.path}@{case.symbol}",
                "--trials", str(trials), "--folds", str(folds), "--jobs", "1", "--study", study,
                "--storage", str(storage), "--json", *(["--space", str(space)] if space is not None else [])])
    tested = [f for f in opt.get("folds", []) if f.get("test")]
    oos_from = tested[0]["test"][0] if tested else None
    doc: dict[str, Any] = {"strategy": case.strategy, "file": case.path.name, "symbol": case.symbol,
                           "trials_per_fold": trials, "folds": folds, "optimize": {
                               k: opt.get(k) for k in ("best", "best_fold", "best_toml", "in_sample",
                                                       "out_of_sample", "overfitting", "notes", "elapsed_s",
                                                       "trial_states")},
                           "oos_from": oos_from, "space": str(space) if space is not None else None}
    if oos_from is not None:
        doc["default_oos"] = default_run(case, oos_from)
    out.mkdir(parents=True, exist_ok=True)
    (out / case.key).write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return doc


def _ms(iso: object) -> float:
    from datetime import datetime

    if not isinstance(iso, str):
        return 0.0
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def _f(v: object, fmt: str = "{:+.0f}") -> str:
    return fmt.format(v) if isinstance(v, int | float) else "-"


def table(out: Path) -> str:
    """The markdown table of every case file in ``out``: per strategy and file, the tuned parameters' in-sample
    and out-of-sample net P&L (USD) and trades, the default parameters' out-of-sample net, gross, fees and
    trades per day, share of trades closed by a signal within an hour and end state, and the deflated Sharpe
    ratio and PBO of the study."""
    rows = ["| strategy | file | tuned IS net | tuned OOS net (trades) | default OOS net | default OOS gross "
            "| default OOS fees | default trades/day | default closed by a signal < 1 h | default end | DSR | PBO |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for p in sorted(out.glob("*.json")):
        d = json.loads(p.read_text(encoding="utf-8"))
        o = d.get("optimize", {})
        ins, oos, ov = o.get("in_sample") or {}, o.get("out_of_sample") or {}, o.get("overfitting") or {}
        de = d.get("default_oos") or {}
        rows.append(
            f"| {d['strategy']} | {d['file'].split('.')[0]} | {_f(ins.get('net_pnl_usd'))} "
            f"| {_f(oos.get('net_pnl_usd'))} ({_f(oos.get('trades'), '{}')}) | {_f(de.get('net_pnl_usd'))} "
            f"| {_f(de.get('gross_pnl_usd'))} | {_f(de.get('fees_usd'), '{:.0f}')} "
            f"| {_f(de.get('trades_per_day'), '{:.2f}')} | {_f(de.get('opposite_within_1h'), '{:.0%}')} "
            f"| {de.get('final_state', '-')} | {_f(ov.get('deflated_sharpe'), '{:.2f}')} "
            f"| {_f(ov.get('pbo'), '{:.2f}')} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m kraken_tui.research.evidence`` (module docstring). Returns 0 when every case ran, 1 when
    some failed (each failure printed to stderr), 2 for a missing data file."""
    ap = argparse.ArgumentParser(prog="python -m kraken_tui.research.evidence")
    ap.add_argument("--data", type=Path, required=True, help="directory holding the shared candle files")
    ap.add_argument("--out", type=Path, required=True, help="directory of the per-case JSON results")
    ap.add_argument("--trials", type=int, default=10, help="trials per walk-forward fold (default 10)")
    ap.add_argument("--folds", type=int, default=3, help="walk-forward folds (default 3)")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    ap.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated strategy names")
    ap.add_argument("--files", default=",".join(FILES), help="comma-separated candle file names")
    ap.add_argument("--space", type=Path, help="search space file of every study (default: each strategy's own)")
    ap.add_argument("--table", action="store_true", help="only print the table of the results in --out")
    a = ap.parse_args(argv)
    if a.table:
        sys.stdout.write(table(a.out))
        return 0
    cases = []
    for name in a.files.split(","):
        path = a.data / name
        if not path.exists():
            sys.stderr.write(f"evidence: missing candle file {path}\n")
            return 2
        cases += [Case(s, path, symbol_of(name)) for s in a.strategies.split(",")]
    todo = [c for c in cases if not (a.out / c.key).exists()]
    a.out.mkdir(parents=True, exist_ok=True)
    failed = 0

    def one(c: Case) -> None:
        nonlocal failed
        try:
            run_case(c, a.out, a.trials, a.folds, a.out / f"{c.key.removesuffix('.json')}.sqlite3", a.space)
            sys.stderr.write(f"evidence: done {c.key}\n")
        except RuntimeError as exc:
            failed += 1
            sys.stderr.write(f"evidence: FAILED {c.key}: {exc}\n")

    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        list(pool.map(one, todo))
    sys.stdout.write(table(a.out))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
