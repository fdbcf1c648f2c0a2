"""``patterns``: chart patterns, each with a reliability score; signals the ones at or above
``min_pattern_reliability``.

Owns: ``ChartPatterns`` and ``BASE_RELIABILITY``. On each close of the signal timeframe: update the ATR
(``atr_period``), the confirmed swing points (``swings.PivotTracker``, ``pivot_bars``) and the volume window
(``swings.VolumeConfirm``: ``volume_bars``, ``volume_factor``), then run ``chart_patterns.detect``. Each
completed pattern gets

    reliability = BASE_RELIABILITY[name] * (0.9 + 0.1 * quality) * (1.0 if volume confirms else 0.9)

where ``quality`` (0..1) is its geometric fit (chart_patterns). The base scores are priors ordered after the
breakout success rates in Bulkowski, *Encyclopedia of Chart Patterns* (2nd ed., 2005), reverse patterns
(inverse head and shoulders, double bottom, cup and handle) above their mirror images; they are not measured
on this repository's data. A breakout without volume confirmation loses 10 %, so at the default threshold
0.75 a double top, a descending triangle or a flag needs the volume, and a symmetric triangle (0.72) never
fires alone. The signal is the most reliable pattern completing on the bar (long or short), with confidence
= its reliability; patterns below the threshold are ignored. No flat signals: exits are the engine's
(``[exits]``).
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
from .chart_patterns import PATTERN_NAMES, PatternBars, PatternHit, detect
from .swings import PivotTracker, VolumeConfirm

__all__ = ["BASE_RELIABILITY", "ChartPatterns"]

BASE_RELIABILITY: dict[str, float] = {
    "head_and_shoulders": 0.83,
    "inverse_head_and_shoulders": 0.85,
    "double_top": 0.80,
    "double_bottom": 0.82,
    "ascending_triangle": 0.80,
    "descending_triangle": 0.78,
    "symmetric_triangle": 0.72,
    "bull_flag": 0.80,
    "bear_flag": 0.78,
    "cup_and_handle": 0.84,
}
assert set(BASE_RELIABILITY) == set(PATTERN_NAMES)


class _State:
    __slots__ = ("atr", "pivots", "volume", "candles", "prev_close", "fired")

    def __init__(self, p: dict[str, Any]) -> None:
        self.atr = ATR(p["atr_period"])
        self.pivots = PivotTracker(p["pivot_bars"])
        self.volume = VolumeConfirm(p["volume_bars"], p["volume_factor"])
        self.candles: deque[tuple[int, Candle]] = deque(maxlen=p["lookback_bars"] + 1)
        self.prev_close: float | None = None
        self.fired: deque[tuple[object, ...]] = deque(maxlen=64)


class ChartPatterns(StrategyBase):
    """Chart patterns with reliability scores (module docstring; geometry in ``chart_patterns``).

    Parameters (defaults): ``min_pattern_reliability`` 0.75 (0..1), ``pivot_bars`` 3 bars each side of a swing,
    ``lookback_bars`` 120 (oldest swing a pattern may use), ``atr_period`` 14 bars, ``tolerance_atr`` 0.5
    (ATR; equal tops, shoulders, rims, flat lines), ``min_depth_atr`` 2.0 (ATR; neckline depth, head above
    shoulders, cup depth), ``pole_bars`` 8, ``flag_bars`` 6, ``pole_atr`` 4.0 (ATR; the flag's pole),
    ``volume_bars`` 20, ``volume_factor`` 1.5 (breakout volume / mean of the bars before), ``series`` "trade".

    Raises:
        ConfigError: a bad parameter.
    """

    name = "patterns"
    PARAMS = (
        Param("min_pattern_reliability", 0.75, "lowest reliability signalled, 0..1", float, 0, 1),
        Param("pivot_bars", 3, "bars on each side of a swing point", int, 1, 50),
        Param("lookback_bars", 120, "oldest swing point a pattern may use, bars back", int, 10, 5_000),
        Param("atr_period", 14, "ATR length, bars", int, 2, 1_000),
        Param("tolerance_atr", 0.5, "equal levels and flat lines: within this many ATR", float, 0.01, 10),
        Param("min_depth_atr", 2.0, "neckline depth, head height, cup depth: at least this many ATR", float, 0, 100),
        Param("pole_bars", 8, "bars of a flag's pole", int, 1, 500),
        Param("flag_bars", 6, "bars of a flag's consolidation", int, 2, 500),
        Param("pole_atr", 4.0, "a flag's pole moves at least this many ATR", float, 0.1, 100),
        Param("volume_bars", 20, "bars of the mean volume a breakout is compared with", int, 1, 1_000),
        Param("volume_factor", 1.5, "breakout volume / mean volume that confirms", float, 0.01, 100),
        SERIES,
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        p = self.p
        if p["pole_bars"] + p["flag_bars"] + 2 > p["lookback_bars"] + 1:
            raise self.bad_param("lookback_bars", "at least pole_bars + flag_bars + 1")
        self.warmup_bars = max(p["atr_period"] + 1, 2 * p["pivot_bars"] + 1, p["volume_bars"] + 1)

    def new_state(self) -> _State:
        """Fresh indicators, swings and memory for one symbol."""
        return _State(self.p)

    def reliability(self, hit: PatternHit, volume_ok: bool) -> float:
        """``BASE_RELIABILITY[name] * (0.9 + 0.1 * quality) * (1.0 if volume_ok else 0.9)``, 0..1."""
        return BASE_RELIABILITY[hit.name] * (0.9 + 0.1 * hit.quality) * (1.0 if volume_ok else 0.9)

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Update ATR, swings and volume with ``candle``; return the most reliable completed pattern at or above
        ``min_pattern_reliability`` as a long/short signal, else None."""
        if timeframe != self.timeframe:
            return None
        st: _State = self.state(symbol)
        atr = st.atr.update(candle)
        st.pivots.update(candle)
        volume_ok, volume_ratio = st.volume.update(candle)
        bar = st.pivots.bar
        st.candles.append((bar, candle))
        prev, st.prev_close = st.prev_close, candle.close
        if atr is None or not atr > 0 or prev is None:
            return None
        p = self.p
        x = PatternBars(bar, st.candles, st.pivots.highs, st.pivots.lows, prev, candle.close, atr,
                        p["lookback_bars"], p["tolerance_atr"], p["min_depth_atr"], p["pivot_bars"],
                        p["flag_bars"], p["pole_bars"], p["pole_atr"])
        best: tuple[float, PatternHit] | None = None
        for hit in detect(x):
            if hit.key in st.fired:
                continue
            st.fired.append(hit.key)
            r = self.reliability(hit, volume_ok)
            if r >= p["min_pattern_reliability"] and (best is None or r > best[0]):
                best = (r, hit)
        if best is None:
            return None
        r, hit = best
        side = SignalSide.LONG if hit.direction > 0 else SignalSide.SHORT
        vol = f"volume {volume_ratio:.1f}x mean" + ("" if volume_ok else " (not confirmed)")
        reason = (f"{hit.name.replace('_', ' ')}: close {candle.close:g} through {hit.level:.2f}, "
                  f"reliability {r:.2f}, {vol}")
        features = {"reliability": r, "level": hit.level, "quality": hit.quality, "volume_ratio": volume_ratio,
                    "close": candle.close, "atr": atr, "pattern": float(PATTERN_NAMES.index(hit.name))}
        return self.signal(symbol, side, r, reason, features, candle)
