"""Hand-made 1m candle series for the pattern and breakout tests: piecewise-linear closes through given
(bar, price) points, open = close, high/low = close +/- a small wick, a base volume and chosen volume spikes."""

from __future__ import annotations

from kraken_tui.domain import Candle
from kraken_tui.engine.signals import BuilderMarketView, Signal

M = 60_000
VIEW = BuilderMarketView()


def zigzag(points: list[tuple[int, float]], *, wick: float = 0.1, volume: float = 100.0,
           spikes: dict[int, float] | None = None) -> list[Candle]:
    """Candles for bars 0..last point, closes interpolated linearly between ``points`` (bar, USD); volume
    ``volume`` contracts, times ``spikes[bar]`` on the given bars."""
    spikes = spikes or {}
    out: list[Candle] = []
    for (b0, p0), (b1, p1) in zip(points, points[1:], strict=False):
        for b in range(b0 if not out else b0 + 1, b1 + 1):
            c = p0 + (p1 - p0) * (b - b0) / (b1 - b0)
            out.append(Candle(b * M, c, c + wick, c - wick, c, volume * spikes.get(b, 1.0)))
    return out


def mirror(candles: list[Candle], axis: float = 200.0) -> list[Candle]:
    """The series upside down around ``axis`` (a top becomes a bottom), volumes kept."""
    return [Candle(c.ts_ms, axis - c.open, axis - c.low, axis - c.high, axis - c.close, c.volume) for c in candles]


def run(strategy, candles: list[Candle]) -> list[tuple[int, Signal]]:
    """Feed ``candles`` on 1m; return (bar, signal) for every signal."""
    out = []
    for i, c in enumerate(candles):
        sig = strategy.on_candle("PF_XBTUSD", "1m", c, VIEW)
        if sig is not None:
            out.append((i, sig))
    return out


def crossing(candles: list[Candle], level: float, direction: int, after: int = 0) -> int:
    """The first bar after ``after`` whose close crosses ``level`` (direction +1 up, -1 down) from the previous
    close."""
    for i in range(max(1, after + 1), len(candles)):
        a, b = candles[i - 1].close, candles[i].close
        if (direction > 0 and a <= level < b) or (direction < 0 and a >= level > b):
            return i
    raise AssertionError(f"no crossing of {level}")
