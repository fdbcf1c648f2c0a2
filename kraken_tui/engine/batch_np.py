"""Optional numpy kernels of the batch indicator and strategy paths, each giving exactly the floats of the
one-bar-at-a-time Python path (``==``, not approximately).

Owns: ``numpy_or_none`` (numpy imported lazily, None when it is missing or switched off), ``sma_steady``
and ``sma_steady_py`` (the SMA running total, with and without numpy), ``true_ranges`` (ATR's true range) and ``cross_bars`` (the crossover test).
Why the results are identical:
- ``np.add.accumulate`` on float64 is a strictly left-to-right loop (``out[i] = out[i-1] + in[i]``; numpy's
  pairwise summation is used by ``reduce``/``sum`` only), so a running total gives the same floats as
  ``itertools.accumulate(.., operator.add)``; ``a - b`` equals ``a + (-b)`` exactly in IEEE arithmetic.
- Element-wise ``+ - * /``, ``abs``, ``<``, ``>`` on float64 are the IEEE operations Python floats use.
- ``np.maximum`` agrees with Python's ``max`` for every non-NaN input (equal floats are the same value;
  the true-range terms are never -0.0 for the prices this sees); NaN is sent back to the Python path.
Callers use these only when ``numpy_or_none()`` is not None and keep their pure-Python path, which tests
hold equal to this one (tests/engine/test_indicators_batch.py).
Must not import: textual, anything outside the stdlib and numpy (itself optional: imported on first use, so
importing the engine does not load it).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import add, neg, truediv
from typing import Any

__all__ = ["MIN_BATCH", "cross_bars", "numpy_or_none", "set_enabled", "sma_steady", "sma_steady_py", "true_ranges"]

MIN_BATCH = 1024
"""Fewer bars than this go through the Python path: numpy's fixed cost per call exceeds its gain below a few
dozen bars, and a small run (a file of a few hundred bars) then never pays numpy's import (about 0.1 s of
start-up). The candle reader's chunks of a large file hold more (about 1,400 bars per 64 KB)."""

_state: dict[str, Any] = {"np": None, "tried": False, "enabled": True}


def numpy_or_none() -> Any:
    """The numpy module, or None when it is not installed or ``set_enabled(False)`` was called."""
    if not _state["enabled"]:
        return None
    if not _state["tried"]:
        _state["tried"] = True
        found: Any
        try:
            import numpy as found
        except ImportError:  # numpy is optional: the Python paths give the same floats
            found = None
        _state["np"] = found
    return _state["np"]


def set_enabled(on: bool) -> bool:
    """Allow (True) or forbid (False) the numpy kernels; returns the previous setting. For tests/benchmarks."""
    old = bool(_state["enabled"])
    _state["enabled"] = bool(on)
    return old


def sma_steady(total: float, window: Sequence[float], xs: Any, period: int) -> tuple[Any, float, list[float]]:
    """The steady state of ``SMA.update`` over ``xs`` (float64 array, USD), ``window`` holding the last
    ``period - 1`` inputs and ``total`` their running sum (TA-Lib ta_SMA.c: ``total += x; out = total / n;
    total -= oldest``).

    Returns ``(values, total, window)``: the SMA after each element of ``xs`` (float64 array, len(xs)), the
    running total afterwards and the last ``period - 1`` inputs as Python floats.
    """
    np = _state["np"]
    k = len(xs)
    olds = np.concatenate((np.asarray(window, dtype=np.float64), xs)) if len(window) else xs
    seq = np.empty(2 * k + 1)
    seq[0] = total
    seq[1::2] = xs
    np.negative(olds[:k], out=seq[2::2])
    acc = np.add.accumulate(seq)
    return acc[1::2] / float(period), float(acc[-1]), olds[k:].tolist()


def sma_steady_py(total: float, window: Sequence[float], xs: Sequence[float], period: int
                  ) -> tuple[list[float], float, list[float]]:
    """``sma_steady`` without numpy (lists in and out): ``itertools.accumulate`` with ``add`` over
    ``total, x0, -old0, x1, -old1, ...``, the same floats in the same order."""
    k = len(xs)
    olds = list(window)
    olds.extend(xs)
    seq = [0.0] * (2 * k)
    seq[0::2] = xs
    seq[1::2] = map(neg, olds[:k])
    sums = list(accumulate(seq, add, initial=total))
    return list(map(truediv, sums[1::2], repeat(float(period)))), sums[-1], olds[k:]


def true_ranges(highs: Sequence[float], lows: Sequence[float], prevs: Sequence[float]) -> list[float] | None:
    """``[max(h - l, abs(p - h), abs(p - l)) ...]`` over equal-length columns (USD, ``prevs`` = previous
    closes; lists or float64 arrays, an array used without a copy), or None when the result holds a NaN (the
    caller then runs its Python path, whose ``max`` treats NaN differently)."""
    np = _state["np"]
    h = np.asarray(highs, dtype=np.float64)
    lo = np.asarray(lows, dtype=np.float64)
    p = np.asarray(prevs, dtype=np.float64)
    tr = np.maximum(np.maximum(h - lo, np.abs(p - h)), np.abs(p - lo))
    if np.isnan(tr).any():
        return None
    return tr.tolist()  # type: ignore[no-any-return]


def cross_bars(d: Any) -> tuple[list[int], list[bool]]:
    """Bars where the sign of the differences ``d = a - b`` (float64 array) flips strictly:
    ``d[i] < 0 < d[i+1]`` (a crossed above b) or ``d[i] > 0 > d[i+1]`` (below), as the test
    ``a[-2] < b[-2] and a[-1] > b[-1]`` (for IEEE floats ``a < b`` iff ``a - b < 0``).

    Returns ``(positions, above)``: ``i + 1`` for each such ``i``, ascending, and True where it crossed above.
    """
    np = _state["np"]
    below = d < 0.0
    above = d > 0.0
    up = below[:-1] & above[1:]
    idx = np.flatnonzero(up | (above[:-1] & below[1:]))
    return (idx + 1).tolist(), up[idx].tolist()
