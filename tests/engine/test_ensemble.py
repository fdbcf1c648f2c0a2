"""Ensemble: the slots (ML 40 / technical 30 / patterns 20 / multi-timeframe 10), redistribution of
the weight of slots without a source, the 0.7 threshold, memory, flat votes and the multi-timeframe score."""

from __future__ import annotations

import pytest

from kraken_tui.domain import Candle
from kraken_tui.engine.signals import BuilderMarketView, Signal, SignalSide
from kraken_tui.engine.strategies import build_strategy
from kraken_tui.engine.strategies.ensemble import MultiTimeframe

VIEW = BuilderMarketView()
H = 3_600_000


class Scripted:
    """A fake component returning pre-set signals bar by bar."""

    def __init__(self, script):
        self.script = list(script)

    def on_candle(self, symbol, timeframe, candle, view):
        side_conf = self.script.pop(0) if self.script else None
        if side_conf is None:
            return None
        return Signal(symbol, SignalSide(side_conf[0]), side_conf[1], "scripted")


def ensemble(scripts, mtf=0.0, ml_live=False, **params):
    e = build_strategy("ensemble", params, timeframe="5m")
    if e.external is not None:
        e.external.live = ml_live
    e.components = {name: Scripted(scripts.get(name, [])) for name in e.components}
    e.state("X").mtf.per_tf = {tf: mtf for tf in e.mtf_timeframes}
    return e


def bar(i):
    return Candle(i * 300_000, 100, 100, 100, 100)


def test_seed_slots_and_default_threshold():
    e = build_strategy("ensemble", {}, timeframe="5m")
    assert e.weights == {"ml": 0.4, "technical": 0.3, "patterns": 0.2, "mtf": 0.1}
    assert e.p["min_confidence"] == 0.7
    assert e.timeframes == ("5m", "15m", "1h", "4h")
    # no ML reader: its weight is redistributed, and describe() says so
    assert e.active_weights() == pytest.approx({"technical": 0.5, "patterns": 0.2 / 0.6, "mtf": 0.1 / 0.6})
    assert "no source for ml: weight redistributed" in e.describe()
    e.external.live = True
    assert e.active_weights() == pytest.approx({"ml": 0.4, "technical": 0.3, "patterns": 0.2, "mtf": 0.1})


def test_a_lone_ema_cross_vote_opens_nothing():
    # technical = 0.4 x 1.0 / 1.0 = 0.4; score 0.75 x 0.4 = 0.30 < 0.7 (with mtf neutral)
    e = ensemble({"ema_cross": [("long", 1.0)]})
    assert e.on_candle("X", "5m", bar(0), VIEW) is None


def test_score_arithmetic_with_agreement():
    # ema_cross 1.0 + smc 0.8 -> technical 0.64; mtf +1 -> 0.75 x 0.64 + 0.25 x 1 = 0.73
    e = ensemble({"ema_cross": [("long", 1.0)], "smc": [("long", 0.8)]}, mtf=1.0)
    sig = e.on_candle("X", "5m", bar(0), VIEW)
    assert sig.side is SignalSide.LONG and sig.confidence == pytest.approx(0.73)
    assert sig.features["slot_technical"] == pytest.approx(0.64) and sig.features["slot_mtf"] == 1.0
    # the multi-timeframe score against the entry pulls it below the threshold: 0.48 - 0.25 = 0.23
    e = ensemble({"ema_cross": [("long", 1.0)], "smc": [("long", 0.8)]}, mtf=-1.0)
    assert e.on_candle("X", "5m", bar(0), VIEW) is None


def test_ml_slot_counts_once_its_reader_is_live():
    # ML short 0.9, technical mean_reversion short 1.0 (0.3), mtf -1: 0.5 x 0.9 + 0.375 x 0.3 + 0.125 = 0.6875
    e = ensemble({"external": [("short", 0.9)], "mean_reversion": [("short", 1.0)]}, mtf=-1.0, ml_live=True)
    assert e.on_candle("X", "5m", bar(0), VIEW) is None
    e = ensemble({"external": [("short", 1.0)], "mean_reversion": [("short", 1.0)]}, mtf=-1.0, ml_live=True)
    sig = e.on_candle("X", "5m", bar(0), VIEW)
    # 0.5 + 0.1125 + 0.125 = 0.7375
    assert sig.side is SignalSide.SHORT and sig.confidence == pytest.approx(0.7375)


def test_votes_are_remembered_for_memory_bars_and_cleared_by_flat():
    e = ensemble({"ema_cross": [("long", 1.0), None, None], "smc": [None, ("long", 1.0)]}, mtf=1.0,
                 memory_bars=2, min_confidence=0.5)
    # bar 0: 0.75 x 0.4 + 0.25 = 0.55; bar 1: + smc 0.3 -> 0.775; bar 2: only smc -> 0.475 < 0.5
    out = [e.on_candle("X", "5m", bar(i), VIEW) for i in range(3)]
    assert [None if s is None else round(s.confidence, 9) for s in out] == [0.55, 0.775, None]
    e = ensemble({"ema_cross": [("long", 1.0), ("flat", 1.0)]}, mtf=1.0, min_confidence=0.5)
    out = [e.on_candle("X", "5m", bar(i), VIEW) for i in range(2)]
    assert out[0].side is SignalSide.LONG and out[1] is None  # flat removed the ema_cross vote


def test_weights_override_and_zero_disables():
    e = ensemble({"ema_cross": [("short", 0.5)]}, weights={"mtf": 0, "patterns": 0}, technical_weights={"mean_reversion": 0, "smc": 0},
                 min_confidence=0.3)
    assert set(e.components) == {"external", "ema_cross"} and e.active_weights() == {"technical": 1.0}
    assert e.on_candle("X", "5m", bar(0), VIEW).confidence == pytest.approx(0.5)


def test_multi_timeframe_score_from_trend_and_momentum():
    m = MultiTimeframe(("15m", "1h"), period=2, momentum_bars=1)
    for c in (100, 110):
        m.update("15m", c)
    # 15m: EMA(2) seeded at 105, close 110 above -> trend +1; 110 > 100 -> momentum +1 -> +1
    assert m.per_tf == {"15m": 1.0} and m.score == 0.5  # 1h unknown counts 0
    for c in (100, 90, 100):
        m.update("1h", c)  # EMA(2): 95, then 100 x 2/3 + 95 / 3 = 98.33 < 100 -> +1; 100 > 90 -> +1
    assert m.per_tf["1h"] == 1.0
    m.update("1h", 80)  # EMA 86.1 above 80, and 80 < 100 -> -1
    assert m.per_tf["1h"] == -1.0 and m.score == 0.0
