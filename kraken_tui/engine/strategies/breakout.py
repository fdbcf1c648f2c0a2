"""``breakout``: range and support/resistance breakouts with volume confirmation.

Owns: ``Breakout``. On each close of the signal timeframe (nothing read ahead):

- Range breakout (``mode`` "range" or "both"): the range is the highest high and lowest low of the
  ``range_bars`` candles before this one; it counts as a consolidation when its height is at most
  ``max_range_atr`` ATR (``atr_period``). A close above its high is long, below its low short. After a range
  breakout the same direction is not signalled again for ``range_bars`` bars.
- Support/resistance breakout (``mode`` "levels" or "both"): levels are clusters of confirmed swing points
  (``swings.PivotTracker``, ``pivot_bars``; the last ``lookback_bars`` bars) within ``level_tolerance_atr``
  ATR of each other; a level with at least ``min_touches`` swing points is support or resistance. A close
  crossing above a resistance cluster (its highest price; the previous close at or below it) is long,
  crossing below a support cluster (its lowest price) short. Each level fires once.
- Volume confirmation (``swings.VolumeConfirm``): the breakout candle's volume >= ``volume_factor`` x the mean
  of the ``volume_bars`` candles before it; without it nothing is signalled (``require_volume`` true, the
  default) or the confidence drops by 0.2.
- Confidence: 0.6 (range) or 0.6 + 0.1 x min(2, touches - min_touches) (level), + 0.2 x min(1, volume ratio /
  volume_factor - 1), - 0.2 when the volume does not confirm; clipped to 0..1. When both kinds break on one
  close the more confident one is signalled.
No flat signals: exits are the engine's (``[exits]``).
Reference: Edwards & Magee, *Technical Analysis of Stock Trends*, on breakouts from rectangles and through
support/resistance, which a rise in volume confirms.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kraken_tui.domain import Candle

from ..indicators import ATR
from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import SERIES, Param
from .swings import Pivot, PivotTracker, VolumeConfirm

__all__ = ["Breakout"]


class _State:
    __slots__ = ("atr", "pivots", "volume", "range", "prev_close", "last_range", "fired")

    def __init__(self, p: dict[str, Any]) -> None:
        self.atr = ATR(p["atr_period"])
        self.pivots = PivotTracker(p["pivot_bars"], keep=64)
        self.volume = VolumeConfirm(p["volume_bars"], p["volume_factor"])
        self.range: deque[Candle] = deque(maxlen=p["range_bars"])
        self.prev_close: float | None = None
        self.last_range: dict[int, int] = {}  # direction -> bar of its last range breakout
        self.fired: deque[tuple[int, ...]] = deque(maxlen=256)


class Breakout(StrategyBase):
    """Range and support/resistance breakouts with volume confirmation (module docstring).

    Parameters (defaults): ``mode`` "both" ("range", "levels"), ``range_bars`` 20, ``max_range_atr`` 4.0 (ATR),
    ``pivot_bars`` 3, ``lookback_bars`` 200, ``level_tolerance_atr`` 0.3 (ATR), ``min_touches`` 2,
    ``atr_period`` 14 bars, ``volume_bars`` 20, ``volume_factor`` 1.5, ``require_volume`` true,
    ``series`` "trade".

    Raises:
        ConfigError: a bad parameter.
    """

    name = "breakout"
    PARAMS = (
        Param("mode", "both", "which breakouts: range, levels or both", str, choices=("range", "levels", "both")),
        Param("range_bars", 20, "bars of the range before the breakout candle", int, 2, 5_000),
        Param("max_range_atr", 4.0, "a range counts when its height is at most this many ATR", float, 0.1, 1_000),
        Param("pivot_bars", 3, "bars on each side of a swing point", int, 1, 50),
        Param("lookback_bars", 200, "oldest swing point of a level, bars back", int, 10, 10_000),
        Param("level_tolerance_atr", 0.3, "swing points within this many ATR form one level", float, 0.01, 10),
        Param("min_touches", 2, "swing points a level needs", int, 2, 20),
        Param("atr_period", 14, "ATR length, bars", int, 2, 1_000),
        Param("volume_bars", 20, "bars of the mean volume a breakout is compared with", int, 1, 1_000),
        Param("volume_factor", 1.5, "breakout volume / mean volume that confirms", float, 0.01, 100),
        Param("require_volume", True, "signal only volume-confirmed breakouts", bool),
        SERIES,
    )

    def configure(self) -> None:
        """Set derived attributes (called by StrategyBase.__init__)."""
        p = self.p
        self.warmup_bars = max(p["atr_period"] + 1, p["range_bars"] + 1, p["volume_bars"] + 1)

    def new_state(self) -> _State:
        """Fresh indicators, range and levels for one symbol."""
        return _State(self.p)

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Update ATR, swings, volume and range with ``candle``; return a breakout signal or None."""
        if timeframe != self.timeframe:
            return None
        p = self.p
        st: _State = self.state(symbol)
        atr = st.atr.update(candle)
        st.pivots.update(candle)
        volume_ok, ratio = st.volume.update(candle)
        bar = st.pivots.bar
        prev, st.prev_close = st.prev_close, candle.close
        window = list(st.range)
        st.range.append(candle)
        if atr is None or not atr > 0 or prev is None or len(window) < p["range_bars"]:
            return None
        if not volume_ok and p["require_volume"]:
            return None
        bonus = (0.2 * min(1.0, max(0.0, ratio / p["volume_factor"] - 1.0)) if volume_ok else -0.2)
        best: tuple[float, int, str, dict[str, float]] | None = None
        if p["mode"] in ("range", "both"):
            hi, lo = max(c.high for c in window), min(c.low for c in window)
            if hi - lo <= p["max_range_atr"] * atr:
                d = 1 if candle.close > hi else -1 if candle.close < lo else 0
                if d and bar - st.last_range.get(d, -10**9) > p["range_bars"]:
                    st.last_range[d] = bar
                    level = hi if d > 0 else lo
                    why = f"range breakout {'above' if d > 0 else 'below'} {level:g} ({p['range_bars']} bars, " \
                          f"height {(hi - lo) / atr:.1f} ATR)"
                    best = (0.6 + bonus, d, why, {"level": level, "range_high": hi, "range_low": lo})
        if p["mode"] in ("levels", "both"):
            lvl = self._level_break(st, bar, prev, candle.close, atr)
            if lvl is not None:
                d, level, touches = lvl
                conf = 0.6 + 0.1 * min(2, touches - p["min_touches"]) + bonus
                if best is None or conf > best[0]:
                    kind = "resistance" if d > 0 else "support"
                    why = f"{kind} breakout {'above' if d > 0 else 'below'} {level:g} ({touches} touches)"
                    best = (conf, d, why, {"level": level, "touches": float(touches)})
        if best is None:
            return None
        conf, d, why, features = best
        features.update({"close": candle.close, "atr": atr, "volume_ratio": ratio})
        why += f", volume {ratio:.1f}x mean" + ("" if volume_ok else " (not confirmed)")
        side = SignalSide.LONG if d > 0 else SignalSide.SHORT
        return self.signal(symbol, side, conf, why, features, candle)

    def _level_break(self, st: _State, bar: int, prev: float, close: float, atr: float
                     ) -> tuple[int, float, int] | None:
        """The first support/resistance cluster crossed by this close: (direction, level USD, touches)."""
        p = self.p
        tol = p["level_tolerance_atr"] * atr
        pts: list[Pivot] = [q for q in (*st.pivots.highs, *st.pivots.lows) if bar - q.bar <= p["lookback_bars"]]
        for anchor in pts:
            cluster = [q for q in pts if abs(q.price - anchor.price) <= tol]
            if len(cluster) < p["min_touches"]:
                continue
            key = tuple(sorted(q.bar for q in cluster))
            top, bottom = max(q.price for q in cluster), min(q.price for q in cluster)
            if prev <= top < close:
                d, level = 1, top
            elif prev >= bottom > close:
                d, level = -1, bottom
            else:
                continue
            if key in st.fired:
                continue
            st.fired.append(key)
            return d, level, len(cluster)
        return None
