"""``kraken-tui optimize``: flags -> workload and study settings, run the walk-forward study, print the report.

Owns: the optimize subcommand's flag handling and defaults (docs/cli-contract.md), the default search space,
the study's fingerprint and the progress bar.
Defaults: ``--strategy`` from the space file's ``[study] strategy``, else ``[strategy] name``; ``--symbol``
(for files without ``@SYMBOL``) the first ``[strategy] symbols``; costs from config.toml (``[paper]`` fees,
starting balance, liquidation fee; ``[risk]``, ``[exits]``, ``[operator]``), slippage and funding as
``kraken-tui backtest`` (``backtest.cli.DEFAULT_SLIPPAGE_BPS``, ``DEFAULT_FUNDING_RATE``); ``--trials`` 100
per fold, ``--folds`` 3 anchored, seed 42, batch 8, objective ``sharpe``, constraints ``min_trades`` 1 and
``max_drawdown_pct`` 100 (off); storage ``<platform data dir>/optimize.sqlite3``; a new study name
``<strategy>-<UTC time>`` unless ``--study NAME`` (which resumes NAME when it exists).
``--portfolio``: the files (one per symbol, one timeframe) are scored as ONE account (``backtest.portfolio``)
instead of one account each.
Without ``--space``, each numeric parameter of the strategy is searched from a quarter to 4x its default
(within its declared bounds); booleans, strings and tables keep their defaults.
The progress bar (rich, with ETA) goes to stderr when it is a terminal, never with ``--json``.
Exit codes: 0 done; 2 bad flag, config, space file or data file, or optuna missing (``pip install
'kraken-tui[research]'``), or Ray missing for ``--ray``.
Must not import at module level: optuna, ray, textual.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from kraken_tui.backtest.data import FundingSchedule, open_candles, parse_time_flag
from kraken_tui.backtest.flags import DEFAULT_FUNDING_RATE, DEFAULT_SLIPPAGE_BPS, candles_arg, parse_param
from kraken_tui.config import Config, default_data_dir, load_config
from kraken_tui.engine.strategies import STRATEGIES, strategy_defaults
from kraken_tui.errors import ConfigError
from kraken_tui.paper.instruments import default_instrument

from .evaluate import Market, Workload
from .executors import MissingExtraError, make_executor
from .space import OBJECTIVES, ParamRange, SearchSpace, load_space

__all__ = ["default_space", "read_markets", "run"]

DEFAULTS: dict[str, Any] = {"objective": "sharpe", "trials": 100, "folds": 3, "walk_forward": "anchored",
                            "train_segments": 1, "seed": 42, "batch": 8}


def default_space(strategy: str) -> SearchSpace:
    """The space searched without ``--space`` (module docstring).

    Raises:
        ConfigError: an unknown strategy, or one without numeric parameters (names ``--space``).
    """
    cls = STRATEGIES.get(strategy)
    if cls is None:
        raise ConfigError("--strategy", strategy, "one of " + ", ".join(STRATEGIES))
    ranges = []
    for p in cls.PARAMS:
        if p.kind not in (int, float) or isinstance(p.default, bool):
            continue
        d = float(p.default)
        lo, hi = (d / 4, d * 4) if d > 0 else (0.0, 1.0)
        lo = max(lo, p.lo) if p.lo is not None else lo
        hi = min(hi, p.hi) if p.hi is not None else hi
        if p.kind is int:
            ilo, ihi = max(1, math.floor(lo)), max(1, math.ceil(hi))
            if ihi > ilo:
                ranges.append(ParamRange("strategy", p.name, "int", ilo, ihi))
        elif hi > lo:
            ranges.append(ParamRange("strategy", p.name, "float", lo, hi))
    if not ranges:
        raise ConfigError("--space", None, f"a space file: {strategy} has no numeric parameter to search")
    return SearchSpace(ranges, source=f"<default for {strategy}>")


def read_markets(args: argparse.Namespace, cfg: Config) -> tuple[list[Market], list[dict[str, Any]]]:
    """The ``--candles PATH[@SYMBOL]...`` files as ``Market``s (PF_ symbols; ``--symbol`` or the first ``[strategy]
    symbols`` for a file without ``@SYMBOL``; funding from ``--funding``/``--funding-rate``/the default; bars
    within ``--from``/``--to``) and their identity for the study's fingerprint (file, symbol, sha256, span).

    Raises:
        ConfigError: a bad symbol (not PF_), both funding flags, a bad rate. DataFileError: a malformed file.
    """
    default_sym = (args.symbol or cfg.strategy.symbols[0]).strip().upper()
    from_ms = parse_time_flag("--from", args.from_) if args.from_ else None
    to_ms = parse_time_flag("--to", args.to) if args.to else None
    if args.funding is not None and args.funding_rate is not None:
        raise ConfigError("--funding-rate", args.funding_rate, "no --funding-rate when --funding PATH is given")
    markets, ident = [], []
    for spec in args.candles:
        path, file_sym = candles_arg(spec)
        sym = file_sym or default_sym
        try:
            inst = default_instrument(sym)
        except ConfigError:
            raise ConfigError("--symbol", sym, "a perpetual symbol PF_<BASE>USD") from None
        if not inst.is_linear:
            raise ConfigError("--symbol", sym, "a PF_ (linear) perpetual: optimize scores USD equity curves")
        if args.funding is not None:
            funding = FundingSchedule.from_csv(args.funding, sym)
        elif args.funding_rate is not None:
            if not math.isfinite(args.funding_rate) or abs(args.funding_rate) >= 1:
                raise ConfigError("--funding-rate", args.funding_rate, "a relative rate per hour, |R| < 1")
            funding = FundingSchedule.constant_rate(args.funding_rate, "--funding-rate")
        else:
            funding = FundingSchedule.constant_rate(DEFAULT_FUNDING_RATE, "default; set --funding or --funding-rate")
        stream = open_candles(path, symbol=sym, ws_timeframe=cfg.strategy.timeframe, from_ms=from_ms, to_ms=to_ms)
        rows = list(stream.rows)
        markets.append(Market(sym, inst, path.name, rows, stream.timeframe, stream.bar_ms, funding))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        ident.append({"file": path.name, "symbol": sym, "sha256": digest, "from": from_ms, "to": to_ms,
                      "funding": funding.describe, "bars": len(rows)})
    return markets, ident


def _setting(args: argparse.Namespace, space: SearchSpace, key: str) -> Any:
    v = getattr(args, key, None)
    if v is not None:
        return v
    return space.study.get(key, DEFAULTS[key])


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Handler of ``kraken-tui optimize`` (``cli.HANDLERS["optimize"]``). Returns the exit code (0).

    Raises:
        MissingExtraError: optuna (or Ray with ``--ray``) not installed (exit 2, with the pip command).
        ConfigError, DataFileError: a bad flag, config, space or data file (exit 2), naming it.
    """
    out = out or sys.stdout
    if importlib.util.find_spec("optuna") is None:
        raise MissingExtraError("optimize needs optuna: pip install 'kraken-tui[research]'")
    from .report import json_report, text_report
    from .study import StudySpec, run_study

    cfg = load_config(getattr(args, "config", None))
    space = load_space(args.space) if args.space is not None else None
    strategy = args.strategy or (space.study.get("strategy") if space else None) or cfg.strategy.name
    if strategy not in STRATEGIES:
        raise ConfigError("--strategy", strategy, "one of " + ", ".join(STRATEGIES))
    space = space or default_space(strategy)
    strategy_defaults(strategy)  # raises for an unknown name
    base: dict[str, Any] = dict(cfg.strategy.params) if strategy == cfg.strategy.name else {}
    for item in args.param:
        k, v = parse_param(item)
        base[k] = v
    objective = _setting(args, space, "objective")
    if objective not in OBJECTIVES:
        raise ConfigError("--objective", objective, "one of " + ", ".join(OBJECTIVES))
    trials, folds, seed, batch = (int(_setting(args, space, k)) for k in ("trials", "folds", "seed", "batch"))
    mode, train_segments = _setting(args, space, "walk_forward"), int(_setting(args, space, "train_segments"))
    for flag, v in (("--trials", trials), ("--folds", folds), ("--batch", batch)):
        if v < 1:
            raise ConfigError(flag, v, "at least 1")
    if mode not in ("anchored", "rolling"):
        raise ConfigError("--walk-forward", mode, "anchored or rolling")
    slip = DEFAULT_SLIPPAGE_BPS if args.slippage_bps is None else args.slippage_bps
    if not math.isfinite(slip) or not 0 <= slip <= 1000:
        raise ConfigError("--slippage-bps", slip, "basis points in 0..1000")
    markets, ident = read_markets(args, cfg)
    w = Workload(strategy, base, cfg.risk, cfg.exits, cfg.operator, markets, objective,
                 int(space.constraints.get("min_trades", 1)), float(space.constraints.get("max_drawdown_pct", 100.0)),
                 cfg.paper.maker_fee_bps, cfg.paper.taker_fee_bps, slip, cfg.paper.starting_balance_usd,
                 cfg.paper.liquidation_fee_pct, portfolio=bool(getattr(args, "portfolio", False)))
    if w.portfolio and len({m.timeframe for m in markets}) != 1:
        raise ConfigError("--portfolio", ",".join(f"{m.label}:{m.timeframe}" for m in markets),
                          "candle files of one timeframe")
    fp_doc = {"strategy": strategy, "base": base, "space": space.to_json(), "objective": objective,
              "constraints": [w.min_trades, w.max_drawdown_pct], "folds": folds, "mode": mode,
              "train_segments": train_segments, "seed": seed, "batch": batch, "markets": ident,
              "fees": [w.maker_fee_bps, w.taker_fee_bps], "slippage": slip, "balance": w.starting_balance_usd,
              "risk": cfg.risk.model_dump(mode="json"), "exits": cfg.exits.model_dump(mode="json"),
              "operator": cfg.operator.model_dump(mode="json"), **({"portfolio": True} if w.portfolio else {})}
    fingerprint = hashlib.sha256(json.dumps(fp_doc, sort_keys=True, default=str).encode()).hexdigest()
    name = args.study or f"{strategy}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    storage = Path(args.storage) if args.storage is not None else default_data_dir() / "optimize.sqlite3"
    spec = StudySpec(name, storage, objective, trials, folds, mode, train_segments, seed, batch, space, fingerprint)
    ex = make_executor(w, 1 if args.jobs is None else args.jobs, args.ray)
    show = not args.json and sys.stderr.isatty()
    try:
        if show:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(TextColumn("optimize {task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("trials"), TimeRemainingColumn(), console=Console(stderr=True),
                          transient=True) as bar:
                task = bar.add_task(name, total=trials * folds)
                res = run_study(spec, w, ex, lambda n: bar.advance(task, n))
        else:
            res = run_study(spec, w, ex)
    finally:
        ex.close()
    context = {"strategy": strategy, "files": [f"{m.label}@{m.symbol}" for m in markets], "portfolio": w.portfolio,
               "space": space.source, "base_params": base}
    try:
        if args.json:
            out.write(json.dumps(json_report(res, context), default=str) + "\n")
        else:
            out.write(text_report(res, context, color=out.isatty() if hasattr(out, "isatty") else False))
    except BrokenPipeError:
        return 0
    return 0
