"""Features of the ``ml`` signal source, computed bar by bar with the engine's own indicators, so that training
(``kraken-tui train``) and the live engine read identical numbers.

Owns: ``FEATURES`` (names, in model column order) and ``FeatureBuilder``. At each closed candle, from that
candle and earlier ones only:

- ``ret_1``, ``ret_5``, ``ret_20``: log return of the close over 1, 5 and 20 bars;
- ``rsi_14``: RSI(14) / 100; ``macd_hist_bps``: MACD(12, 26, 9) histogram / close x 1e4;
- ``bb_pct_b``: (close - lower) / (upper - lower) of BBANDS(20, 2); ``bb_width_bps``: (upper - lower) / middle
  x 1e4; ``atr_bps``: ATR(14) / close x 1e4; ``ema_dist_bps``: (close - EMA(50)) / EMA(50) x 1e4;
- ``volume_ratio``: volume / mean volume of the 20 bars before (0 when that mean is 0);
- ``range_pos_20``: (close - lowest low) / (highest high - lowest low) over the last 20 bars (0.5 when flat);
- funding (Kraken Futures perpetuals pay funding every hour; rates are relative per hour, positive = longs
  pay, spec §8.3), from ``funding_rate_at(hour_start_ms) -> rate or None``, the hourly funding file's rates
  (``backtest.data.FundingSchedule``, the reader the backtest uses). A rate is known once its hour has ended,
  so the bar closing at ``close_ms`` reads the hour ``h = floor(close_ms / 1 h) x 1 h - 1 h`` (the last one
  ended at or before the close): ``funding_rate_bps`` = rate(h) x 1e4, ``funding_change_bps`` = (rate(h) -
  rate(h - 1 h)) x 1e4 (NaN when unknown: no funding source, or outside the file; the gradient-boosting
  models take NaN as "missing"); ``minutes_to_funding``: minutes from the close to the next top of the hour,
  in (0, 60].
``update`` returns None until every indicator is warm (51 bars).
``feature_fingerprint()``: sha256 of the rows ``FeatureBuilder`` computes on a fixed synthetic series (values
written to 9 significant digits): a model stores it at training and ``ml.load_model`` refuses a model whose
fingerprint differs from the one this code computes (the names match but the numbers would not).
Must not import: textual, numpy, risk or execution modules.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable

from kraken_tui.domain import Candle
from kraken_tui.domain.timeunits import HOUR_MS

from ..indicators import ATR, EMA, MACD, RSI, BBands

__all__ = ["FEATURES", "FeatureBuilder", "FundingRateAt", "feature_fingerprint", "funding_features"]

FEATURES: tuple[str, ...] = (
    "ret_1", "ret_5", "ret_20", "rsi_14", "macd_hist_bps", "bb_pct_b", "bb_width_bps", "atr_bps",
    "ema_dist_bps", "volume_ratio", "range_pos_20", "funding_rate_bps", "funding_change_bps", "minutes_to_funding",
)
#: A funding source: the relative rate of the hour starting at ``hour_start_ms`` (UTC ms), or None when unknown.
FundingRateAt = Callable[[int], float | None]


class FeatureBuilder:
    """One symbol's feature row per closed candle (module docstring). ``update(candle, funding_rate_at)`` ->
    list of floats in ``FEATURES`` order, or None during warm-up.

    Args:
        bar_ms: the candles' bar length, ms (the close is ``candle.ts_ms + bar_ms``).
    """

    def __init__(self, bar_ms: int) -> None:
        if bar_ms <= 0:
            raise ValueError(f"bar_ms must be > 0, got {bar_ms}")
        self.bar_ms = bar_ms
        self._rsi, self._macd, self._bb = RSI(14), MACD(12, 26, 9), BBands(20, 2.0, 2.0)
        self._atr, self._ema = ATR(14), EMA(50)
        self._closes: deque[float] = deque(maxlen=21)
        self._bars: deque[Candle] = deque(maxlen=20)
        self._vols: deque[float] = deque(maxlen=20)

    def update(self, candle: Candle, funding_rate_at: FundingRateAt | None = None) -> list[float] | None:
        """Add one closed candle; return its feature row or None while warming up. ``funding_rate_at``: the
        funding source (module docstring), None = funding unknown (NaN features)."""
        c = candle.close
        rsi, macd, bb = self._rsi.update(c), self._macd.update(c), self._bb.update(c)
        atr, ema = self._atr.update(candle), self._ema.update(c)
        vols = self._vols
        mean_vol = sum(vols) / len(vols) if len(vols) == vols.maxlen else None
        vols.append(candle.volume)
        self._closes.append(c)
        self._bars.append(candle)
        closes = self._closes
        if (rsi is None or macd is None or bb is None or atr is None or ema is None or mean_vol is None
                or len(closes) < 21 or c <= 0):
            return None
        hi = max(b.high for b in self._bars)
        lo = min(b.low for b in self._bars)
        width = bb.upper - bb.lower
        return [
            math.log(c / closes[-2]),
            math.log(c / closes[-6]),
            math.log(c / closes[0]),
            rsi / 100.0,
            macd.hist / c * 1e4,
            (c - bb.lower) / width if width > 0 else 0.5,
            width / bb.middle * 1e4 if bb.middle else 0.0,
            atr / c * 1e4,
            (c - ema) / ema * 1e4 if ema else 0.0,
            candle.volume / mean_vol if mean_vol > 0 else 0.0,
            (c - lo) / (hi - lo) if hi > lo else 0.5,
            *funding_features(candle.ts_ms + self.bar_ms, funding_rate_at),
        ]


def funding_features(close_ms: int, funding_rate_at: FundingRateAt | None) -> tuple[float, float, float]:
    """``(funding_rate_bps, funding_change_bps, minutes_to_funding)`` of the bar closing at ``close_ms`` (module
    docstring): only hours that ended at or before ``close_ms`` are read."""
    top = close_ms - close_ms % HOUR_MS
    minutes = (top + HOUR_MS - close_ms) / 60_000
    nan = math.nan
    if funding_rate_at is None:
        return nan, nan, minutes
    last, before = funding_rate_at(top - HOUR_MS), funding_rate_at(top - 2 * HOUR_MS)
    rate = last * 1e4 if last is not None else nan
    change = (last - before) * 1e4 if last is not None and before is not None else nan
    return rate, change, minutes


def _reference_candles(n: int = 160) -> list[Candle]:
    """The fixed series of ``feature_fingerprint``: 5-minute bars from 2024-01-01 UTC, a drifting sine wave
    with a second cycle, volumes that vary with the bar."""
    out = []
    price = 100.0
    for i in range(n):
        nxt = 100.0 + 8.0 * math.sin(i / 9.0) + 3.0 * math.sin(i / 2.3) + i * 0.05
        hi, lo = max(price, nxt) * 1.002, min(price, nxt) * 0.998
        out.append(Candle(1_704_067_200_000 + i * 300_000, price, hi, lo, nxt, 10.0 + (i * 7) % 13))
        price = nxt
    return out


def feature_fingerprint() -> str:
    """sha256 (hex) of ``FEATURES`` and the rows ``FeatureBuilder`` computes on the fixed reference series
    (module docstring). Same code, same fingerprint on any machine."""
    h = hashlib.sha256(",".join(FEATURES).encode())
    fb = FeatureBuilder(300_000)

    def rate(hour_ms: int) -> float | None:  # a rate that changes every hour, unknown for the first two
        k = (hour_ms - 1_704_067_200_000) // HOUR_MS
        return None if k < 2 else 1e-5 * math.sin(k / 3.0)

    for c in _reference_candles():
        row = fb.update(c, rate)
        if row is not None:
            h.update(("|".join(f"{v:.9g}" for v in row) + "\n").encode())
    return h.hexdigest()
