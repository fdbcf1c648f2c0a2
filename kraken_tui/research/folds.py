"""Walk-forward folds: which bars each fold optimises on (train) and scores on (test).

Owns: ``Fold`` and ``make_folds``.

Layout: the time span ``[first_ms, end_ms)`` of the data (all candle files together) is cut into
``folds + train_segments`` equal segments. Fold ``k`` (0-based) tests on segment ``k + train_segments`` and
trains on the segments before it: all of them from the first (``anchored``: the train window grows, every
fold sees all the history before its test window) or the last ``train_segments`` (``rolling``: a train window
of fixed length slides forward). Test windows follow each other without gap or overlap, so their results
stitch into one out-of-sample record of the last ``folds`` segments; no test bar is ever in the train window
of its own fold (Pardo, "The Evaluation and Optimization of Trading Strategies", 2nd ed. 2008, ch. 11:
walk-forward analysis).
Must not import: textual, the UI, the paper exchange's server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from kraken_tui.errors import ConfigError
from kraken_tui.journal.export import iso_ms

__all__ = ["Fold", "make_folds"]


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: ``index`` (1-based), train and test windows ``[start_ms, end_ms)`` of bar opens
    (UTC ms)."""

    index: int
    train_start_ms: int
    train_end_ms: int
    test_start_ms: int
    test_end_ms: int

    def to_json(self) -> dict[str, Any]:
        """``{"fold", "train": [ISO, ISO], "test": [ISO, ISO]}`` (end exclusive)."""
        return {"fold": self.index, "train": [iso_ms(self.train_start_ms), iso_ms(self.train_end_ms)],
                "test": [iso_ms(self.test_start_ms), iso_ms(self.test_end_ms)]}


def make_folds(first_ms: int, end_ms: int, folds: int, mode: Literal["anchored", "rolling"] = "anchored",
               train_segments: int = 1) -> list[Fold]:
    """The folds over ``[first_ms, end_ms)`` (module docstring).

    Raises:
        ConfigError: ``folds`` or ``train_segments`` below 1 (names ``--folds`` / ``study.train_segments``), an
            unknown mode, or an empty span.
    """
    if folds < 1:
        raise ConfigError("--folds", folds, "at least 1")
    if train_segments < 1:
        raise ConfigError("study.train_segments", train_segments, "at least 1")
    if mode not in ("anchored", "rolling"):
        raise ConfigError("study.walk_forward", mode, "anchored or rolling")
    if end_ms <= first_ms:
        raise ConfigError("--candles", "...", "candles spanning some time")
    n = folds + train_segments
    b = [first_ms + (end_ms - first_ms) * j // n for j in range(n + 1)]
    out = []
    for k in range(folds):
        t = k + train_segments
        out.append(Fold(k + 1, b[0] if mode == "anchored" else b[k], b[t], b[t], b[t + 1]))
    return out
