"""``kraken-tui train``: fit the ``ml`` signal source's model on a candle file, walk-forward
with an embargo (research.ml_train), and write the model file.

Owns: ``run`` (``cli.HANDLERS["train"]``). ``--funding PATH``: the hourly
funding CSV (``backtest.data.FundingSchedule``, the backtest's reader) the funding features read; without it
they are NaN. Output: a short text summary (or ``--json``: the model document
without the estimators: features, horizon, data hashes, windows, out-of-sample metrics). Exit 0 on success,
2 on a bad flag or data file, or when scikit-learn is missing (``pip install 'kraken-tui[ml]'``).
Must not import at module level: sklearn, textual.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import TextIO

from kraken_tui.backtest.data import FundingSchedule, open_candles, parse_time_flag
from kraken_tui.domain import Candle
from kraken_tui.errors import ConfigError

from .executors import MissingExtraError
from .ml_train import TrainSettings, save_model, train_model

__all__ = ["run"]


def _settings(args: argparse.Namespace) -> TrainSettings:
    checks = (("--horizon", args.horizon, 1), ("--folds", args.folds, 1), ("--embargo", args.embargo, 0),
              ("--max-iter", args.max_iter, 1))
    for flag, value, lo in checks:
        if value < lo:
            raise ConfigError(flag, value, f"an integer >= {lo}")
    return TrainSettings(horizon_bars=args.horizon, folds=args.folds, embargo_bars=args.embargo, seed=args.seed,
                         max_iter=args.max_iter)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Handler of ``kraken-tui train``. Returns 0.

    Raises:
        MissingExtraError: scikit-learn not installed (exit 2, with the pip command).
        ConfigError: a bad flag, or data too short for the folds (exit 2). DataFileError: a bad candle file
            (exit 2).
    """
    out = out or sys.stdout
    if importlib.util.find_spec("sklearn") is None:
        raise MissingExtraError("train needs scikit-learn: pip install 'kraken-tui[ml]'")
    s = _settings(args)
    sym = args.symbol.strip().upper()
    from_ms = parse_time_flag("--from", args.from_) if args.from_ else None
    to_ms = parse_time_flag("--to", args.to) if args.to else None
    stream = open_candles(args.candles, symbol=sym, from_ms=from_ms, to_ms=to_ms)
    candles = [Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in stream.rows]
    funding, rate_at = None, None
    if getattr(args, "funding", None) is not None:
        sched = FundingSchedule.from_csv(args.funding, sym)
        span = sched.span
        if span is None:
            raise ConfigError("--funding", str(args.funding), "a funding CSV with at least one rate")
        rate_at = sched.known_rate
        funding = {"file": Path(args.funding).name, "sha256": hashlib.sha256(Path(args.funding).read_bytes()).hexdigest(),
                   "first_ms": span[0], "last_ms": span[1], "describe": sched.describe}
    meta = {"symbol": sym, "timeframe": stream.timeframe,
            "data": {"candles": Path(args.candles).name,
                     "candles_sha256": hashlib.sha256(Path(args.candles).read_bytes()).hexdigest(),
                     "first_ms": candles[0].ts_ms, "last_ms": candles[-1].ts_ms, "bars": len(candles),
                     "funding": funding}}
    try:
        doc = train_model(candles, s, meta, stream.bar_ms, rate_at)
    except ValueError as exc:
        raise ConfigError("--folds", args.folds, str(exc)) from None
    save_model(doc, args.out)
    public = {k: v for k, v in doc.items() if k not in ("classifier", "regressor")}
    public["model"] = str(args.out)
    if args.json:
        out.write(json.dumps(public, sort_keys=True) + "\n")
        return 0
    o = public["oos"]
    out.write(f"model     {args.out} ({sym} {stream.timeframe}, {public['rows']} rows, horizon {s.horizon_bars} bars, "
              f"embargo {s.embargo_bars} bars, {s.folds} folds, seed {s.seed})\n")
    out.write(f"oos       accuracy {o['accuracy']:.3f}, mean signed move {o['mean_signed_move_bps']:+.2f} bps over "
              f"{o['rows']} rows\n")
    out.write("features  " + ", ".join(public["features"]) + "\n")
    return 0
