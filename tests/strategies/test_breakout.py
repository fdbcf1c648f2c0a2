"""``breakout``: range and support/resistance breakouts on hand-made series, confirmed by volume; trends
(no consolidation), unconfirmed volume and levels with a single touch do not fire."""

from __future__ import annotations

import pytest

from kraken_tui.engine.signals import SignalSide
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.errors import ConfigError

from ._series import crossing, mirror, run, zigzag

# 40 bars oscillating 99.5..100.5 (a range, ATR about 1.1), then a push to 103
RANGE = [(0, 100.0), *((i, 100.5 if i % 2 else 99.5) for i in range(1, 41)), (41, 101.0), (42, 103.0), (50, 104.0)]
# resistance at 105 touched twice (bars 15 and 27), support at 101 twice (21, 33), then up through 105
LEVELS = [(0, 100), (15, 105), (21, 101), (27, 105), (33, 101), (41, 107)]


def breakout(**params):
    return build_strategy("breakout", params, timeframe="1m")


def test_range_breakout_with_volume_goes_long_and_mirror_short():
    bar = crossing(zigzag(RANGE), 100.6, 1, after=40)
    candles = zigzag(RANGE, spikes={bar: 3.0})
    sigs = run(breakout(mode="range"), candles)
    assert [(b, s.side) for b, s in sigs] == [(bar, SignalSide.LONG)]
    sig = sigs[0][1]
    assert sig.reason.startswith("range breakout above 100.6") and sig.confidence == pytest.approx(0.8)
    assert sig.features["range_high"] == pytest.approx(100.6) and sig.features["volume_ratio"] == pytest.approx(3.0)
    down = run(breakout(mode="range"), mirror(candles))
    assert [(b, s.side) for b, s in down] == [(bar, SignalSide.SHORT)]


def test_range_breakout_without_volume_needs_require_volume_off():
    candles = zigzag(RANGE)
    bar = crossing(candles, 100.6, 1, after=40)
    assert run(breakout(mode="range"), candles) == []
    sigs = run(breakout(mode="range", require_volume=False), candles)
    assert [b for b, _ in sigs] == [bar] and sigs[0][1].confidence == pytest.approx(0.4)
    assert "(not confirmed)" in sigs[0][1].reason


def test_a_trend_is_no_range():
    candles = zigzag([(0, 100), (100, 150)], spikes={b: 3.0 for b in range(0, 100, 5)})  # 20 bars = 10 > 4 ATR
    assert run(breakout(mode="range"), candles) == []


def test_the_same_direction_waits_range_bars_after_a_range_breakout():
    points = [*RANGE[:-1], (43, 103.1), (44, 103.2), (45, 103.3)]
    candles = zigzag(points, spikes={b: 3.0 for b in range(41, 46)})
    assert [b for b, _ in run(breakout(mode="range"), candles)] == [41]


def test_resistance_breakout_with_volume():
    bar = crossing(zigzag(LEVELS), 105.1, 1, after=33)
    candles = zigzag(LEVELS, spikes={bar: 2.0})
    sigs = run(breakout(mode="levels"), candles)
    assert [(b, s.side) for b, s in sigs] == [(bar, SignalSide.LONG)]
    sig = sigs[0][1]
    assert sig.reason.startswith("resistance breakout above 105.1 (2 touches)")
    assert sig.features["touches"] == 2 and sig.confidence == pytest.approx(0.6 + 0.2 * (2.0 / 1.5 - 1))
    short = run(breakout(mode="levels"), mirror(candles))
    assert [(b, s.side) for b, s in short] == [(bar, SignalSide.SHORT)]
    assert short[0][1].reason.startswith("support breakout below")


def test_a_single_touch_is_no_level_and_a_level_fires_once():
    one_touch = [(0, 100), (15, 105), (21, 101), (31, 107)]
    bar = crossing(zigzag(one_touch), 105.1, 1, after=21)
    assert run(breakout(mode="levels"), zigzag(one_touch, spikes={bar: 3.0})) == []
    twice = [*LEVELS[:-1], (38, 106), (40, 104), (44, 107)]
    candles = zigzag(twice, spikes={b: 3.0 for b in range(34, 45)})
    assert [s.side for _, s in run(breakout(mode="levels"), candles)] == [SignalSide.LONG]


def test_bad_params_are_named():
    with pytest.raises(ConfigError, match="strategy.params.mode"):
        breakout(mode="sideways")
    with pytest.raises(ConfigError, match="strategy.params.min_touches"):
        breakout(min_touches=1)
