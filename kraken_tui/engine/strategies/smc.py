"""``smc``: smart money concepts - swing structure breaks (BOS / CHoCH) with fair value gap confluence.

Owns: ``SmartMoney``. Definitions used (one common reading of SMC; all on closed candles):
- Swing high: a candle whose high is strictly above the highs of the ``swing_length`` candles on each
  side; it is confirmed ``swing_length`` bars later (swing low: lows, strictly below). Only the most
  recent unbroken swing high and swing low are tracked.
- Structure break: a close strictly above the tracked swing high is a bullish break; it is a *change of
  character* (CHoCH) when the structure was bearish, else a *break of structure* (BOS). The structure
  becomes bullish and that swing high is consumed (one signal per level). Bearish mirrors it with closes
  below the tracked swing low.
- Fair value gap (FVG), three candles c1, c2, c3: bullish when ``c3.low > c1.high`` (gap c1.high..c3.low),
  bearish when ``c3.high < c1.low``; ignored when smaller than ``min_fvg_bps`` of c3's close. A gap stays
  open until price trades back through it (bullish: a low <= its bottom) or ``fvg_max_age`` bars pass.
- Signal on a break: long/short with confidence 0.7 for CHoCH, 0.6 for BOS, + 0.2 when an open FVG in the
  same direction exists (confluence), capped at 1.
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

from collections import deque

from kraken_tui.domain import Candle

from ..signals import MarketView, Signal, SignalSide
from ._base import StrategyBase
from ._params import SERIES, Param

__all__ = ["SmartMoney"]


class _State:
    __slots__ = ("window", "swing_high", "swing_low", "trend", "fvgs", "bar")

    def __init__(self, swing_length: int) -> None:
        self.window: deque[Candle] = deque(maxlen=2 * swing_length + 1)
        self.swing_high: float | None = None
        self.swing_low: float | None = None
        self.trend = 0  # +1 bullish, -1 bearish, 0 unknown
        self.fvgs: deque[tuple[int, float, float, int]] = deque(maxlen=50)  # (direction, bottom, top, bar)
        self.bar = 0


class SmartMoney(StrategyBase):
    """Swing structure (BOS / CHoCH) and fair value gaps (see module docstring for the exact rules).

    Parameters (defaults): ``swing_length`` 3 bars each side, ``fvg_max_age`` 30 bars, ``min_fvg_bps``
    0.0 (basis points of price), ``series`` "trade".

    Raises:
        ConfigError: a bad parameter.
    """

    name = "smc"
    PARAMS = (
        Param("swing_length", 3, "bars on each side of a swing point", int, 1, 100),
        Param("fvg_max_age", 30, "bars a fair value gap stays relevant", int, 1, 10_000),
        Param("min_fvg_bps", 0.0, "smallest fair value gap, basis points of price", float, 0, 10_000),
        SERIES,
    )

    def configure(self) -> None:
        """Check cross-parameter rules and set derived attributes (called by StrategyBase.__init__)."""
        self.swing_length: int = self.p["swing_length"]
        self.warmup_bars = 2 * self.swing_length + 2

    def new_state(self) -> _State:
        """Fresh structure state for one symbol."""
        return _State(self.swing_length)

    def on_candle(self, symbol: str, timeframe: str, candle: Candle, view: MarketView) -> Signal | None:
        """Update swings and gaps with ``candle``; return a signal on a structure break, else None."""
        if timeframe != self.timeframe:
            return None
        st: _State = self.state(symbol)
        st.bar += 1
        st.window.append(candle)
        self._update_fvgs(st, candle)
        self._update_swings(st)
        direction = 0
        if st.swing_high is not None and candle.close > st.swing_high:
            direction, level = 1, st.swing_high
            st.swing_high = None
        elif st.swing_low is not None and candle.close < st.swing_low:
            direction, level = -1, st.swing_low
            st.swing_low = None
        if direction == 0:
            return None
        kind = "CHoCH" if st.trend == -direction else "BOS"
        st.trend = direction
        open_fvgs = sum(1 for d, *_ in st.fvgs if d == direction)
        conf = (0.7 if kind == "CHoCH" else 0.6) + (0.2 if open_fvgs else 0.0)
        word = "above swing high" if direction > 0 else "below swing low"
        reason = f"{kind} {'up' if direction > 0 else 'down'}: close {candle.close:g} {word} {level:g}"
        if open_fvgs:
            reason += f" with {open_fvgs} open {'bullish' if direction > 0 else 'bearish'} FVG"
        features = {
            "level": level,
            "close": candle.close,
            "choch": float(kind == "CHoCH"),
            "open_fvgs": float(open_fvgs),
        }
        side = SignalSide.LONG if direction > 0 else SignalSide.SHORT
        return self.signal(symbol, side, conf, reason, features, candle)

    def _update_fvgs(self, st: _State, c3: Candle) -> None:
        # Fill or expire existing gaps first, then look for a new one ending at c3.
        max_age = self.p["fvg_max_age"]
        kept = [
            g
            for g in st.fvgs
            if st.bar - g[3] < max_age
            and not (g[0] > 0 and c3.low <= g[1])
            and not (g[0] < 0 and c3.high >= g[2])
        ]
        st.fvgs.clear()
        st.fvgs.extend(kept)
        if len(st.window) < 3:
            return
        c1 = st.window[-3]
        min_gap = self.p["min_fvg_bps"] / 10_000.0 * c3.close
        if c3.low > c1.high and c3.low - c1.high >= min_gap:
            st.fvgs.append((1, c1.high, c3.low, st.bar))
        elif c3.high < c1.low and c1.low - c3.high >= min_gap:
            st.fvgs.append((-1, c3.high, c1.low, st.bar))

    def _update_swings(self, st: _State) -> None:
        w = st.window
        if len(w) < w.maxlen:  # type: ignore[operator]
            return
        mid = self.swing_length
        pivot = w[mid]
        others = [c for i, c in enumerate(w) if i != mid]
        if all(pivot.high > c.high for c in others):
            st.swing_high = pivot.high
        if all(pivot.low < c.low for c in others):
            st.swing_low = pivot.low
