"""``patterns``: hand-made series with known chart patterns fire once, at the close through the trigger, with
the documented reliability; near misses and unconfirmed breakouts below the threshold do not fire; the
ensemble's patterns slot takes their vote."""

from __future__ import annotations

import pytest

from kraken_tui.engine.signals import SignalSide
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.engine.strategies.patterns import BASE_RELIABILITY
from kraken_tui.errors import ConfigError

from ._series import crossing, mirror, run, zigzag

DOUBLE_TOP = [(0, 100), (30, 110), (36, 104), (42, 110), (60, 100)]
HEAD_SHOULDERS = [(0, 100), (25, 108), (31, 104), (39, 112), (47, 104), (53, 108), (70, 98)]
ASCENDING = [(0, 100), (20, 110), (26, 102), (32, 110), (38, 105), (46, 114)]
FLAG = [(0, 100), *((i, 100.3 if i % 2 else 100.0) for i in range(1, 31)), (38, 108), (44, 106.5), (45, 109), (50, 110)]
CUP = [(0, 100), (20, 110), (25, 105), (32, 103), (39, 105), (44, 110), (48, 108), (54, 113)]


def patterns(**params):
    return build_strategy("patterns", params, timeframe="1m")


def series(points, trigger_level, direction, spike=True, after=0):
    """The series with a 3x volume spike on the bar after ``after`` whose close crosses ``trigger_level``; and
    that bar."""
    plain = zigzag(points)
    bar = crossing(plain, trigger_level, direction, after)
    return (zigzag(points, spikes={bar: 3.0}) if spike else plain), bar


@pytest.mark.parametrize(
    "points,level,after,flip,name,side",
    [
        (DOUBLE_TOP, 103.9, 42, False, "double_top", SignalSide.SHORT),
        (DOUBLE_TOP, 103.9, 42, True, "double_bottom", SignalSide.LONG),
        (HEAD_SHOULDERS, 103.9, 53, False, "head_and_shoulders", SignalSide.SHORT),
        (HEAD_SHOULDERS, 103.9, 53, True, "inverse_head_and_shoulders", SignalSide.LONG),
        (ASCENDING, 110.1, 38, False, "ascending_triangle", SignalSide.LONG),
        (ASCENDING, 110.1, 38, True, "descending_triangle", SignalSide.SHORT),
        (FLAG, 107.85, 44, False, "bull_flag", SignalSide.LONG),
        (FLAG, 107.85, 44, True, "bear_flag", SignalSide.SHORT),
        (CUP, 110.1, 48, False, "cup_and_handle", SignalSide.LONG),
    ],
)
def test_known_pattern_fires_at_its_breakout_with_volume(points, level, after, flip, name, side):
    direction = -1 if points is DOUBLE_TOP or points is HEAD_SHOULDERS else 1
    candles, bar = series(points, level, direction, after=after)
    if flip:
        candles = mirror(candles)
    sigs = run(patterns(), candles)
    assert [(b, s.side) for b, s in sigs] == [(bar, side)], [(b, s.reason) for b, s in sigs]
    sig = sigs[0][1]
    assert sig.reason.startswith(name.replace("_", " ") + ":")
    # perfect geometry (equal tops/shoulders/rims, flat lines) with volume: the base reliability
    assert sig.confidence == pytest.approx(BASE_RELIABILITY[name], abs=0.01)
    assert sig.features["volume_ratio"] == pytest.approx(3.0)
    assert sig.ts_ms == candles[bar].ts_ms + 60_000 and sig.strategy == "patterns"


def test_unconfirmed_breakout_stays_below_the_default_threshold():
    candles, bar = series(DOUBLE_TOP, 103.9, -1, spike=False)
    assert run(patterns(), candles) == []  # 0.80 x 0.9 = 0.72 < 0.75
    sigs = run(patterns(min_pattern_reliability=0.7), candles)
    assert [(b, round(s.confidence, 3)) for b, s in sigs] == [(bar, 0.72)]
    assert "(not confirmed)" in sigs[0][1].reason


def test_unequal_tops_are_no_double_top():
    points = [(0, 100), (30, 110), (36, 104), (42, 113), (60, 100)]
    candles, _ = series(points, 103.9, -1)
    assert not any("double top" in s.reason for _, s in run(patterns(min_pattern_reliability=0.0), candles))


def test_double_top_without_a_neckline_break_does_not_fire():
    points = [(0, 100), (30, 110), (36, 104), (42, 110), (50, 105), (56, 108), (70, 106)]
    candles = zigzag(points, spikes={b: 3.0 for b in range(40, 71)})
    assert run(patterns(min_pattern_reliability=0.0), candles) == []


def test_shallow_double_top_is_too_small():
    points = [(0, 100), (30, 110), (36, 109.7), (42, 110), (110, 100)]  # neckline 0.5 below the tops, ATR ~0.29
    candles, bar = series(points, 109.6, -1, after=42)
    tops = [b for b, s in run(patterns(min_pattern_reliability=0.0, min_depth_atr=1.0), candles)
            if "double top" in s.reason]
    assert tops == [bar]  # deep enough at 1 ATR
    assert not any("double top" in s.reason for _, s in run(patterns(min_pattern_reliability=0.0), candles))


def test_steady_trend_with_volume_fires_nothing():
    candles = zigzag([(0, 100), (150, 160)], spikes={b: 3.0 for b in range(0, 151, 7)})
    assert run(patterns(min_pattern_reliability=0.0), candles) == []


def test_a_pattern_fires_once():
    points = [*DOUBLE_TOP[:-1], (52, 104.5), (53, 103.5), (55, 104.5), (56, 103.5), (70, 100)]
    candles = zigzag(points, spikes={53: 3.0, 56: 3.0})
    sigs = run(patterns(), candles)
    assert [b for b, s in sigs if "double top" in s.reason] == [53]


def test_symbols_are_independent():
    candles, bar = series(DOUBLE_TOP, 103.9, -1)
    s = patterns()
    for c in candles:
        assert s.on_candle("PF_ETHUSD", "1m", c.__class__(c.ts_ms, 50, 50.1, 49.9, 50, 1.0), _view()) is None
    assert [b for b, _ in run(s, candles)] == [bar]


def _view():
    from ._series import VIEW

    return VIEW


def test_other_timeframes_are_ignored_and_bad_params_named():
    candles, _ = series(DOUBLE_TOP, 103.9, -1)
    s = patterns()
    assert all(s.on_candle("PF_XBTUSD", "5m", c, _view()) is None for c in candles)
    with pytest.raises(ConfigError, match="strategy.params.min_pattern_reliability"):
        patterns(min_pattern_reliability=1.5)
    with pytest.raises(ConfigError, match="strategy.params.lookback_bars"):
        patterns(lookback_bars=10, pole_bars=8, flag_bars=6)


def test_ensemble_patterns_slot_takes_the_pattern_vote():
    candles, bar = series(DOUBLE_TOP, 103.9, -1)
    e = build_strategy("ensemble", {"weights": {"ml": 0, "technical": 0, "mtf": 0}, "min_confidence": 0.5,
                                    "memory_bars": 1},
                       timeframe="1m")
    assert e.active_weights() == {"patterns": 1.0} and "patterns 100%" in e.describe()
    sigs = run(e, candles)
    assert [(b, s.side) for b, s in sigs] == [(bar, SignalSide.SHORT)]
    assert sigs[0][1].confidence == pytest.approx(0.80, abs=0.01)
    assert sigs[0][1].features["slot_patterns"] == pytest.approx(-0.80, abs=0.01)


def test_ensemble_patterns_slot_abstains_without_a_pattern():
    e = build_strategy("ensemble", {"weights": {"ml": 0, "mtf": 0}, "min_confidence": 0.3, "memory_bars": 1,
                                    "technical_weights": {"mean_reversion": 0, "smc": 0},
                                    "ema_cross": {"fast": 3, "slow": 6, "min_confidence": 0.4}}, timeframe="1m")
    assert e.active_weights() == pytest.approx({"technical": 0.6, "patterns": 0.4})
    sigs = run(e, zigzag([(0, 100), (40, 90), (60, 110), (80, 95), (100, 105)]))
    # no pattern on this series: the technical vote alone is the score (a standing 0 would scale it by 0.6)
    assert [(b, s.side, round(s.confidence, 6)) for b, s in sigs] == [
        (42, SignalSide.LONG, 0.7), (64, SignalSide.SHORT, 0.4), (84, SignalSide.LONG, 0.4)]
