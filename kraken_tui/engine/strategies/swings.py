"""Causal swing points and volume confirmation, shared by ``patterns`` and ``breakout``.

Owns: ``Pivot``, ``PivotTracker`` and ``VolumeConfirm``. All on closed candles, nothing read ahead:

- Pivot high: a candle whose high is strictly above the highs of the ``pivot_bars`` candles on each side;
  it becomes known (is *confirmed*) ``pivot_bars`` bars after it, when its right side has closed (pivot low:
  lows, strictly below). Same rule as ``smc``'s swing points.
- Volume confirmation: the candle's volume (contracts) is at least ``factor`` times the mean volume of the
  ``bars`` candles before it. A window whose mean volume is 0 (a series without volume, e.g. the index
  candles) never confirms.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kraken_tui.domain import Candle

__all__ = ["Pivot", "PivotTracker", "VolumeConfirm"]


@dataclass(frozen=True, slots=True)
class Pivot:
    """One confirmed swing point.

    Attributes:
        bar: index of the pivot candle (0 = first candle seen for the symbol).
        price: its high (kind +1) or low (kind -1), USD.
        kind: +1 pivot high, -1 pivot low.
    """

    bar: int
    price: float
    kind: int


class PivotTracker:
    """Swing highs and lows confirmed ``pivot_bars`` bars after they form (module docstring).

    Args:
        pivot_bars: bars on each side of a pivot (>= 1).
        keep: how many recent pivots of each kind are kept.

    ``update(candle)`` returns the pivots confirmed by this candle (0, 1 or 2); ``highs`` and ``lows`` hold
    the most recent ones, oldest first; ``bar`` is the index of the last candle fed.
    """

    def __init__(self, pivot_bars: int, keep: int = 12) -> None:
        if pivot_bars < 1:
            raise ValueError(f"pivot_bars must be >= 1, got {pivot_bars}")
        self.k = pivot_bars
        self._window: deque[Candle] = deque(maxlen=2 * pivot_bars + 1)
        self.highs: deque[Pivot] = deque(maxlen=keep)
        self.lows: deque[Pivot] = deque(maxlen=keep)
        self.bar = -1

    def update(self, candle: Candle) -> list[Pivot]:
        """Add one closed candle; return the pivots it confirms."""
        self.bar += 1
        w = self._window
        w.append(candle)
        if len(w) < (w.maxlen or 0):
            return []
        mid = w[self.k]
        others = [c for i, c in enumerate(w) if i != self.k]
        at = self.bar - self.k
        out: list[Pivot] = []
        if all(mid.high > c.high for c in others):
            p = Pivot(at, mid.high, 1)
            self.highs.append(p)
            out.append(p)
        if all(mid.low < c.low for c in others):
            p = Pivot(at, mid.low, -1)
            self.lows.append(p)
            out.append(p)
        return out


class VolumeConfirm:
    """Whether a candle's volume confirms a breakout: ``volume >= factor * mean(previous bars volumes)``.

    Args:
        bars: length of the mean, candles (>= 1). factor: multiple of the mean (> 0).

    ``update(candle)`` -> (confirmed, ratio) where ratio = volume / mean (0.0 while the window fills or when
    its mean is 0); the candle joins the window after it is judged.
    """

    def __init__(self, bars: int, factor: float) -> None:
        if bars < 1 or not factor > 0:
            raise ValueError(f"volume window must be >= 1 bar and factor > 0, got {bars}, {factor}")
        self.factor = factor
        self._vols: deque[float] = deque(maxlen=bars)

    def update(self, candle: Candle) -> tuple[bool, float]:
        """Judge ``candle`` against the bars before it, then add it to the window."""
        vols = self._vols
        ratio = 0.0
        if len(vols) == vols.maxlen:
            mean = sum(vols) / len(vols)
            ratio = candle.volume / mean if mean > 0 else 0.0
        vols.append(candle.volume)
        return (ratio >= self.factor and ratio > 0), ratio
