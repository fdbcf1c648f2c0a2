"""``kraken-tui train``'s model: gradient boosting on the ``ml`` source's features (candles and, with ``--funding``,
the hourly funding rates), trained walk-forward with
an embargo, saved with everything needed to check it at load.

Owns: ``TrainSettings``, ``build_dataset``, ``train_model`` and ``save_model``. Rules:

- Rows: one per closed candle once ``engine.strategies.ml_features.FeatureBuilder`` is warm; the label of bar
  ``i`` is the log return of the close from bar ``i`` to bar ``i + horizon_bars`` (in bps); bars without a full
  horizon after them get no label and are not used.
- Models (scikit-learn ``HistGradientBoostingClassifier`` for direction up/down, ``HistGradientBoostingRegressor``
  for the expected move in bps; ``random_state = seed``, no early stopping, so the same data and seed give the
  same model).
- Walk-forward (anchored, ``folds`` test windows of equal length after a first training block of the same
  length): fold k trains on the rows ``[0, test_start - horizon_bars - embargo_bars)``, so no training label
  reaches into the test window (the purge and embargo of López de Prado, *Advances in Financial Machine
  Learning*, 2018, ch. 7), and is scored on ``[test_start, test_end)``. Out-of-sample metrics, stitched over
  the folds: ``accuracy`` (direction), ``hit_rate_long`` / ``hit_rate_short``, ``mean_signed_move_bps`` (mean of
  sign(prediction) x realised move), ``rows``.
- A feature column without data (NaN on every row: funding without ``--funding``) is fitted as a constant,
  so the model never splits on it; the file lists such columns in ``features_without_data``.
- The model saved is fitted on every labelled row; the file (pickle, written by ``save_model``) holds
  ``format``, ``features``, ``features_sha256`` (``ml_features.feature_fingerprint``), ``horizon_bars``, ``timeframe``, ``symbol``, ``data`` (file name, sha256, first and
  last bar; ``funding``: the funding file's name, sha256 and span, or None), ``windows`` (per fold: train and test bar times), ``oos``, ``seed``, ``sklearn_version`` and the two
  fitted estimators. Only load model files you built: unpickling runs code.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kraken_tui.domain import Candle
from kraken_tui.engine.strategies.ml import MODEL_FORMAT
from kraken_tui.engine.strategies.ml_features import (
    FEATURES,
    FeatureBuilder,
    FundingRateAt,
    feature_fingerprint,
)

__all__ = ["MODEL_FORMAT", "TrainSettings", "build_dataset", "empty_columns", "save_model", "train_model"]


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """``kraken-tui train`` settings: ``horizon_bars`` (label horizon, bars, >= 1), ``folds`` (>= 1),
    ``embargo_bars`` (>= 0, bars dropped after the purge), ``seed``, ``max_iter`` (boosting rounds),
    ``learning_rate``, ``max_leaf_nodes``."""

    horizon_bars: int = 12
    folds: int = 3
    embargo_bars: int = 12
    seed: int = 42
    max_iter: int = 100
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15


def build_dataset(candles: Sequence[Candle], horizon_bars: int, bar_ms: int,
                  funding_rate_at: FundingRateAt | None = None) -> tuple[list[int], list[list[float]], list[float]]:
    """Rows ``(bar indexes, features, labels_bps)`` over ``candles`` (oldest first, bars of ``bar_ms``), funding
    features from ``funding_rate_at`` (``ml_features``; None = NaN). Raises ValueError when no row has a label."""
    fb = FeatureBuilder(bar_ms)
    idx: list[int] = []
    xs: list[list[float]] = []
    ys: list[float] = []
    n = len(candles)
    for i, c in enumerate(candles):
        row = fb.update(c, funding_rate_at)
        if row is None or i + horizon_bars >= n:
            continue
        idx.append(i)
        xs.append(row)
        ys.append(math.log(candles[i + horizon_bars].close / c.close) * 1e4)
    if not xs:
        raise ValueError(f"no labelled rows: {n} candles, warm-up 51 bars, horizon {horizon_bars} bars")
    return idx, xs, ys


def empty_columns(xs: list[list[float]]) -> list[int]:
    """Indexes of the feature columns that are NaN on every row (e.g. funding features without a funding file,
    or one that does not cover the candles)."""
    return [j for j in range(len(xs[0])) if all(math.isnan(r[j]) for r in xs)] if xs else []


def _fit(xs: list[list[float]], ys: list[float], s: TrainSettings) -> tuple[Any, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    empty = empty_columns(xs)
    if empty:  # scikit-learn cannot bin an all-NaN column; a constant one is never split on, so never read
        xs = [[0.0 if j in empty else v for j, v in enumerate(r)] for r in xs]

    kw = {"max_iter": s.max_iter, "learning_rate": s.learning_rate, "max_leaf_nodes": s.max_leaf_nodes,
          "early_stopping": False, "random_state": s.seed}
    clf = HistGradientBoostingClassifier(**kw).fit(xs, [int(y > 0) for y in ys])
    reg = HistGradientBoostingRegressor(**kw).fit(xs, ys)
    return clf, reg


def train_model(candles: Sequence[Candle], s: TrainSettings, meta: dict[str, Any], bar_ms: int,
                funding_rate_at: FundingRateAt | None = None) -> dict[str, Any]:
    """Train walk-forward then on all rows (module docstring) of bars of ``bar_ms``, funding features from
    ``funding_rate_at`` (None = NaN); return the model document (``meta`` merged in: symbol, timeframe, data,
    funding). Raises ValueError when the data cannot hold ``folds`` test windows with at
    least one training and one test row each, or the training labels are all one direction."""
    import sklearn

    idx, xs, ys = build_dataset(candles, s.horizon_bars, bar_ms, funding_rate_at)
    n = len(xs)
    block = n // (s.folds + 1)
    gap = s.horizon_bars + s.embargo_bars
    windows: list[dict[str, int]] = []
    hits = signed = 0.0
    longs = shorts = long_hits = short_hits = total = 0
    for k in range(s.folds):
        start = block * (k + 1)
        end = n if k == s.folds - 1 else start + block
        train_end = start - gap
        if train_end < 2 or end <= start:
            raise ValueError(f"fold {k + 1}: {n} rows leave no training rows before the test window "
                             f"(block {block}, purge + embargo {gap} bars): use fewer folds or more data")
        ytr = ys[:train_end]
        if all(y > 0 for y in ytr) or all(y <= 0 for y in ytr):
            raise ValueError(f"fold {k + 1}: training labels all one direction")
        clf, reg = _fit(xs[:train_end], ytr, s)
        pred = clf.predict(xs[start:end])
        for p, y in zip(pred, ys[start:end], strict=True):
            up = int(p) == 1
            hits += up == (y > 0)
            signed += y if up else -y
            total += 1
            if up:
                longs += 1
                long_hits += y > 0
            else:
                shorts += 1
                short_hits += y <= 0
        windows.append({"train_from_ms": candles[idx[0]].ts_ms, "train_to_ms": candles[idx[train_end - 1]].ts_ms,
                        "test_from_ms": candles[idx[start]].ts_ms, "test_to_ms": candles[idx[end - 1]].ts_ms})
    clf, reg = _fit(xs, ys, s)
    oos = {"rows": total, "accuracy": hits / total, "mean_signed_move_bps": signed / total,
           "hit_rate_long": long_hits / longs if longs else None,
           "hit_rate_short": short_hits / shorts if shorts else None}
    return {"format": MODEL_FORMAT, "features": list(FEATURES), "features_sha256": feature_fingerprint(),
            "horizon_bars": s.horizon_bars,
            "features_without_data": [FEATURES[j] for j in empty_columns(xs)], "embargo_bars": s.embargo_bars,
            "folds": s.folds, "seed": s.seed, "rows": n, **meta,
            "windows": windows, "oos": oos, "sklearn_version": sklearn.__version__,
            "classifier": clf, "regressor": reg}


def save_model(doc: dict[str, Any], path: Path) -> None:
    """Write the model document to ``path`` (pickle, highest protocol), replacing it atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(doc, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
